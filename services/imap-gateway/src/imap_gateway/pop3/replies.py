"""POP3 status lines, response codes and capability names, shared by code and tests.

A reply is ``+OK`` or ``-ERR``, an optional response code in brackets (RFC 2449 §8),
and text, on one CRLF-ended line (RFC 1939 §3).
"""

from __future__ import annotations

OK = "+OK"
ERR = "-ERR"

# Response codes: RFC 2449 §8.1 (IN-USE, LOGIN-DELAY), RFC 3206 (SYS/TEMP, SYS/PERM, AUTH).
IN_USE = "IN-USE"  # the maildrop is locked by another session (RFC 1939 §8)
AUTH = "AUTH"  # the credentials are wrong, or may not be used here
SYS_TEMP = "SYS/TEMP"  # a temporary problem (the mail store is down); try later
SYS_PERM = "SYS/PERM"  # a permanent problem; do not retry as is

# Capabilities (RFC 2449 §6; RFC 2595 §4 STLS; RFC 5034 §3 SASL).
TOP = "TOP"
UIDL = "UIDL"
USER = "USER"
SASL = "SASL"
STLS = "STLS"
RESP_CODES = "RESP-CODES"
AUTH_RESP_CODE = "AUTH-RESP-CODE"
PIPELINING = "PIPELINING"
IMPLEMENTATION = "IMPLEMENTATION"

TERMINATOR = b".\r\n"
CRLF = b"\r\n"


def status(ok: bool, text: str, code: str | None = None) -> bytes:
    """One status line: ``+OK text`` or ``-ERR [CODE] text``."""
    head = OK if ok else ERR
    coded = f"[{code}] {text}" if code else text
    return f"{head} {coded}\r\n".encode()


def ok(text: str) -> bytes:
    return status(True, text)


def err(text: str, code: str | None = None) -> bytes:
    return status(False, text, code)
