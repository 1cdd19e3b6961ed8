from webmail.main import run

run()
