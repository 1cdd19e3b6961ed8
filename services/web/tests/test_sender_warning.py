"""Who a message is from, shown honestly: the gateway's fail verdict as a warning on the
message page and a mark in the list, and the real address beside a name holding an "@"."""

from __future__ import annotations

import html
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from webmail.views.live import row

Client = TestClient[web.Request, web.Application]

BOB = "bob@localpost.test"
FAIL = (
    "Authentication-Results: localpost.test;\r\n"
    f"\tlocalpost-sender=fail header.from={BOB} (not authenticated)\r\n"
)
PASS = f"Authentication-Results: localpost.test; localpost-sender=pass header.from={BOB}\r\n"
WARNING = f"This message claims to be from {BOB} but was not sent by that account."


def mail(to: str, *, sender: str, results: str = "", subject: str = "Hello") -> bytes:
    return (
        f"{results}Received: from x\r\n\tby localpost.test; Mon, 01 Jan 2024 10:00:00 +0000\r\n"
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nHi\r\n"
    ).encode()


async def _open(client: Client, h: Any, deliver: Any, raw: bytes) -> tuple[str, str]:
    """Deliver ``raw`` to a new account; its Inbox page and its message page."""
    address = await h.register(client)
    await deliver(raw.replace(b"{to}", address.encode()), rcpt_to=[address])
    await h.login(client, address)
    listing = await (await client.get("/api/v1/messages?folder=inbox")).json()
    (entry,) = [m["id"] for m in listing["messages"]]
    inbox = await (await client.get("/mail/inbox")).text()
    page = await (await client.get(f"/messages/{entry}")).text()
    return inbox, page


async def test_a_failed_sender_check_is_a_warning_and_a_mark(
    client: Client, h: Any, deliver: Any
) -> None:
    inbox, page = await _open(client, h, deliver, mail("{to}", sender=f"Bob <{BOB}>", results=FAIL))

    assert WARNING in page
    assert 'role="alert"' in page
    assert 'class="forged"' in inbox


@pytest.mark.parametrize("results", [PASS, ""])
async def test_a_passed_or_absent_check_shows_neither(
    client: Client, h: Any, deliver: Any, results: str
) -> None:
    inbox, page = await _open(
        client, h, deliver, mail("{to}", sender=f"Bob <{BOB}>", results=results)
    )

    assert "claims to be from" not in page
    assert 'class="forged"' not in inbox


# A display name that reads as an address (docs/security.md, "Web").
AT_SIGN_NAMES = [
    f'"{BOB} (IT Security)" <evil@example.org>',
    '"bob\uff20localpost.test" <evil@example.org>',  # fullwidth at sign, NFKC folds it
]


@pytest.mark.parametrize("sender", AT_SIGN_NAMES)
async def test_a_name_holding_an_at_sign_is_shown_with_the_real_address(
    client: Client, h: Any, deliver: Any, sender: str
) -> None:
    inbox, page = await _open(client, h, deliver, mail("{to}", sender=sender))

    real = html.escape("<evil@example.org>")
    assert real in inbox
    assert real in page


async def test_an_ordinary_name_is_shown_alone_in_the_list(
    client: Client, h: Any, deliver: Any
) -> None:
    inbox, _ = await _open(client, h, deliver, mail("{to}", sender="Ann <ann@example.org>"))

    assert ">Ann</a>" in inbox
    assert "ann@example.org" not in inbox


def test_live_rows_carry_the_same_label_and_mark() -> None:
    msg: dict[str, Any] = {
        "id": 7,
        "from": {"name": f"{BOB} (IT Security)", "address": "evil@example.org"},
        "sender_check": "fail",
    }

    drawn = row(msg)

    assert drawn["from"] == f"{BOB} (IT Security) <evil@example.org>"
    assert drawn["forged"] is True
