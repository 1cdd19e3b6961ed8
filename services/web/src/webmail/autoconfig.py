"""Thunderbird's and K-9's autoconfiguration: Mozilla's clientConfig 1.1 document.

Served at /.well-known/autoconfig/mail/config-v1.1.xml and /mail/config-v1.1.xml (the
paths Thunderbird's account wizard tries on the address's domain and on
autoconfig.<domain>). The wizard (comm-central mailnews/base/prefs/content/accountcreation,
readFromXML.sys.mjs) reads emailProvider's id, each domain, displayName, then per
incomingServer (type imap or pop3) and outgoingServer (type smtp): hostname, port,
socketType (plain, SSL, STARTTLS), username and authentication; a server it cannot read
is skipped, and it needs one of each.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, SubElement, tostring

from webmail.servers import Server

# Both spellings Thunderbird asks for (the second on the autoconfig.<domain> host).
PATHS = ("/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml")
DISPLAY_NAME = "Localpost"
# Thunderbird replaces the placeholder with the address the user typed: logins are
# full addresses (issue 14's contract).
USERNAME = "%EMAILADDRESS%"
# The password as typed, inside TLS: every server here is TLS or STARTTLS.
AUTHENTICATION = "password-cleartext"


def client_config(servers: list[Server], *, domain: str, domains: tuple[str, ...]) -> bytes:
    """The document for an address at ``domain`` (one of ``domains``, all listed)."""
    root = Element("clientConfig", version="1.1")
    provider = SubElement(root, "emailProvider", id=domain)
    for name in domains:
        SubElement(provider, "domain").text = name
    SubElement(provider, "displayName").text = DISPLAY_NAME
    SubElement(provider, "displayShortName").text = DISPLAY_NAME
    for server in servers:
        tag = "incomingServer" if server.incoming else "outgoingServer"
        element = SubElement(provider, tag, type=server.protocol)
        SubElement(element, "hostname").text = server.hostname
        SubElement(element, "port").text = str(server.port)
        SubElement(element, "socketType").text = server.security
        SubElement(element, "username").text = USERNAME
        SubElement(element, "authentication").text = AUTHENTICATION
    document: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
    return document
