from smtp_gateway.main import run

run()
