"""A realistic session driven by Python's imaplib, a client we did not write."""

from __future__ import annotations

import asyncio
import imaplib
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Server


def journey(port: int, user: str, password: str, new_message: bytes) -> dict[str, object]:
    """Runs in a thread: imaplib is blocking."""
    seen: dict[str, object] = {}
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    try:
        seen["capabilities"] = imap.capabilities
        imap.login(user, password)
        seen["list"] = imap.list()[1]
        typ, data = imap.select("INBOX")
        seen["select"] = (typ, list(data))  # imaplib keeps appending to that list
        seen["fetch"] = imap.fetch("1:2", "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        seen["body"] = imap.fetch("1", "(BODY[])")
        seen["store"] = imap.store("2", "+FLAGS", "(\\Deleted)")
        seen["search"] = imap.search(None, "DELETED")
        seen["uid_search"] = imap.uid("SEARCH", "UNSEEN")
        seen["copy"] = imap.copy("1", "Archive")
        seen["expunge"] = imap.expunge()
        seen["append"] = imap.append("INBOX", "(\\Flagged)", None, new_message)
        seen["noop"] = imap.noop()
        seen["exists"] = imap.response("EXISTS")
        seen["status"] = imap.status("Archive", "(MESSAGES)")
        seen["close"] = imap.close()
    finally:
        seen["logout"] = imap.logout()
    return seen


@pytest.mark.interop
async def test_imaplib_session(server: Server) -> None:
    server.deliver("First", "one\r\n")
    server.deliver("Second", "two\r\n")
    raw = b"Subject: Third\r\n\r\nthree\r\n"
    client_cls = type(await server.connect())

    seen = await asyncio.to_thread(journey, server.port, client_cls.USER, client_cls.PASSWORD, raw)

    assert "IMAP4REV1" in seen["capabilities"]  # type: ignore[operator]
    assert seen["select"] == ("OK", [b"2"])
    fetch_typ, fetch_data = seen["fetch"]  # type: ignore[misc]
    assert fetch_typ == "OK"
    assert fetch_data[0][1] == b"Subject: First\r\n\r\n"
    assert seen["body"][1][0][1].endswith(b"one\r\n")  # type: ignore[index]
    assert b"\\Seen" in seen["body"][1][1]  # type: ignore[index]
    assert seen["search"] == ("OK", [b"2"])
    assert seen["uid_search"] == ("OK", [b"2"])
    assert seen["copy"][0] == "OK"  # type: ignore[index]
    assert seen["expunge"] == ("OK", [b"2"])
    assert seen["append"][0] == "OK"  # type: ignore[index]
    # SELECT's EXISTS, then the appended message's (after the expunge left one).
    assert seen["exists"] == ("EXISTS", [b"2", b"2"])
    assert seen["status"] == ("OK", [b"Archive (MESSAGES 1)"])
    assert seen["logout"][0] == "BYE"  # type: ignore[index]
