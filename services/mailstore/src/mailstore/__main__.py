from mailstore.main import run

run()
