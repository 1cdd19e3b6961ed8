"""Localpost's IMAP service (issue 13).

``imap_gateway.wire`` is the protocol codec: it frames commands off the network,
parses them into typed commands and encodes responses. It knows nothing of
mailboxes; the session layer and the mail store's API sit on top of it.
"""
