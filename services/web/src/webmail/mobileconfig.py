"""Apple's configuration profile (.mobileconfig) holding one Localpost mail account.

An unsigned property list of type Configuration with one com.apple.mail.managed payload
(Apple's "Mail" payload: IMAP, host, port and SSL for reading and for sending, the address
and the user name). iOS and macOS ask for the password while installing unless the profile
holds it, which happens only when the user asks for it. The PayloadUUIDs are derived from
the host and the address, so downloading again gives the same profile and installing it
replaces the one installed before instead of adding a second account.
"""

from __future__ import annotations

import plistlib
import uuid
from typing import Any

from webmail.servers import IMAP, SMTP, SSL, Server

CONTENT_TYPE = "application/x-apple-aspen-config"
# Fixed forever: changing it changes every PayloadUUID, and reinstalled profiles would
# add accounts instead of replacing them.
_NAMESPACE = uuid.UUID("6d1b0a52-7c44-4b8e-9f7a-3c0e2b1f5d90")


def payload_uuid(hostname: str, address: str, part: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{hostname}\n{address.lower()}\n{part}")).upper()


def reverse_dns(domain: str) -> str:
    return ".".join(reversed(domain.split(".")))


def _server(servers: list[Server], protocol: str) -> Server:
    # Implicit TLS: Apple's payload has a UseSSL switch, and no STARTTLS of its own.
    return next(s for s in servers if s.protocol == protocol and s.security == SSL)


def profile(
    servers: list[Server], *, address: str, name: str, password: str | None = None
) -> bytes:
    """The profile for ``address`` (its display ``name``); ``password`` only when asked."""
    imap, smtp = _server(servers, IMAP), _server(servers, SMTP)
    domain = address.rpartition("@")[2].lower()
    account_uuid = payload_uuid(imap.hostname, address, "mail")
    mail: dict[str, Any] = {
        "PayloadType": "com.apple.mail.managed",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{reverse_dns(domain)}.mail.{account_uuid}",
        "PayloadUUID": account_uuid,
        "PayloadDisplayName": f"Mail: {address}",
        "EmailAccountDescription": f"Localpost ({address})",
        "EmailAccountName": name or address,
        "EmailAccountType": "EmailTypeIMAP",
        "EmailAddress": address,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingMailServerHostName": imap.hostname,
        "IncomingMailServerPortNumber": imap.port,
        "IncomingMailServerUseSSL": True,
        "IncomingMailServerUsername": address,
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerHostName": smtp.hostname,
        "OutgoingMailServerPortNumber": smtp.port,
        "OutgoingMailServerUseSSL": True,
        "OutgoingMailServerUsername": address,
        "OutgoingPasswordSameAsIncomingPassword": True,
    }
    if password is not None:
        mail["IncomingPassword"] = password
        mail["OutgoingPassword"] = password
    profile_uuid = payload_uuid(imap.hostname, address, "profile")
    document = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{reverse_dns(domain)}.profile.{profile_uuid}",
        "PayloadUUID": profile_uuid,
        "PayloadDisplayName": f"Localpost mail ({address})",
        "PayloadDescription": f"Reads and sends the mail of {address} with Localpost.",
        "PayloadOrganization": "Localpost",
        "PayloadRemovalDisallowed": False,
        "PayloadContent": [mail],
    }
    return plistlib.dumps(document, fmt=plistlib.FMT_XML, sort_keys=True)


def filename(address: str) -> str:
    """A download name of safe characters only (it goes into Content-Disposition)."""
    local = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in address)
    return f"localpost-{local}.mobileconfig"
