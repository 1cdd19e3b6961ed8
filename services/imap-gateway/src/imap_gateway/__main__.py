from imap_gateway.main import run

run()
