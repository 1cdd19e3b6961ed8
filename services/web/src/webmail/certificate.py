"""The TLS certificate the mail services present, as mail programs' users check it.

Compose makes a self-signed certificate; a mail program warns about it and asks whether
to trust it. The Mail programs page shows its SHA-256 fingerprint (what Thunderbird, Apple
Mail and Outlook show in that warning) and offers the file to install as trusted.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

# Only certificate blocks leave this module: a path set by mistake to a file that also
# holds the private key must not publish the key.
_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----"
)
# A certificate chain is a few KB; a path to something else must not be read whole.
MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Certificate:
    pem: str
    # SHA-256 of the first certificate's DER, as colon-separated upper-case hex.
    fingerprint: str


def load(path: str) -> Certificate | None:
    """The certificate(s) in the PEM file at ``path``; None when there are none to read."""
    try:
        with Path(path).open("rb") as file:
            text = file.read(MAX_FILE_BYTES).decode("ascii", errors="replace")
    except OSError:
        return None
    blocks = _CERTIFICATE.findall(text)
    if not blocks:
        return None
    try:
        der = ssl.PEM_cert_to_DER_cert(blocks[0])
    except ValueError:  # base64 that does not decode
        return None
    digest = hashlib.sha256(der).hexdigest().upper()
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    return Certificate(
        "\n".join(block.replace("\r\n", "\n") for block in blocks) + "\n", fingerprint
    )
