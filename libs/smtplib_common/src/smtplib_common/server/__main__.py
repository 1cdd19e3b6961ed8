from smtplib_common.server.standalone import main

main()
