"""SORT, THREAD and their UID forms over real sockets, on the in-memory backend."""

from __future__ import annotations

import email.utils
from typing import TYPE_CHECKING, Any

import pytest

from imap_gateway import structure
from imap_gateway.memory import MemoryBackend
from imap_gateway.sections import parse_header, split_entity

if TYPE_CHECKING:
    from conftest import Client, Server

USER = "alice@example.org"
PASSWORD = "correct horse"


def render_envelope(raw: bytes) -> bytes:
    """ENVELOPE as the mail store describes it, for the plain messages here."""
    header = parse_header(split_entity(raw).header)

    def addresses(name: str) -> list[list[str | None]] | None:
        value = header.get(name)
        if value is None:
            return None
        pairs = [(n, spec.partition("@")) for n, spec in email.utils.getaddresses([value])]
        return [[n or None, None, box, host or None] for n, (box, _, host) in pairs]

    description: dict[str, Any] = {
        name: header.get(field)
        for name, field in [
            ("date", "Date"),
            ("subject", "Subject"),
            ("in_reply_to", "In-Reply-To"),
            ("message_id", "Message-ID"),
        ]
    }
    for name in ("from", "sender", "reply_to", "to", "cc", "bcc"):
        description[name] = addresses(name.replace("_", "-").title())
    return structure.envelope(description)


@pytest.fixture
def backend() -> MemoryBackend:
    memory = MemoryBackend(render_envelope=render_envelope)
    memory.add_user(USER, PASSWORD)
    return memory


def deliver(server: Server, day: int, subject: str, **headers: str) -> int:
    lines = [f"Date: {day} Jan 2026 12:00:00 +0000", f"Subject: {subject}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n" + "x" * 100 * day + "\r\n").encode()
    return server.backend.deliver(USER, raw)


@pytest.fixture
def thread(server: Server) -> None:
    """UIDs 1-5 (then 1 expunged: numbers 1-4 are UIDs 2-5)."""
    deliver(server, 9, "gone", From="z@x")
    deliver(server, 3, "Topic", From="Carol <carol@x>", Message_ID="<a@x>")
    deliver(server, 1, "Re: topic", From="alan@x", Message_ID="<b@x>", References="<a@x>")
    deliver(server, 2, "Other", From="Bob <bob@x>", Message_ID="<c@x>")
    deliver(server, 4, "Re: Topic", From="dan@x", Message_ID="<d@x>", In_Reply_To="<b@x>")
    server.backend.accounts[USER].folders["INBOX"].messages.pop(1, None)


@pytest.fixture
async def client(server: Server, thread: None) -> Client:
    return await server.logged_in()


async def test_capabilities_name_sort_display_and_both_thread_algorithms(
    server: Server,
) -> None:
    client = await server.logged_in(select=None)

    line = client.untagged(await client.ok("CAPABILITY"), b"CAPABILITY")[0]

    for name in (b"SORT", b"SORT=DISPLAY", b"THREAD=ORDEREDSUBJECT", b"THREAD=REFERENCES"):
        assert name in line.split(b" ")


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("SORT (DATE) UTF-8 ALL", b"* SORT 2 3 1 4"),
        ("SORT (REVERSE DATE) US-ASCII ALL", b"* SORT 4 1 3 2"),
        ("SORT (SUBJECT DATE) UTF-8 ALL", b"* SORT 3 2 1 4"),
        ("SORT (FROM) UTF-8 ALL", b"* SORT 2 3 1 4"),
        ("SORT (DISPLAYFROM) UTF-8 ALL", b"* SORT 2 3 1 4"),
        ("SORT (SIZE) UTF-8 NOT FROM bob", b"* SORT 2 1 4"),
        ("SORT (ARRIVAL) UTF-8 2:3", b"* SORT 2 3"),
        ("UID SORT (DATE) UTF-8 ALL", b"* SORT 3 4 2 5"),
        ("UID SORT (DATE) UTF-8 UID 1:2", b"* SORT 2"),
        ("SORT (DATE) UTF-8 SUBJECT nothing-matches", b"* SORT"),
        ("THREAD REFERENCES UTF-8 ALL", b"* THREAD (3)(1 2 4)"),
        ("UID THREAD REFERENCES UTF-8 ALL", b"* THREAD (4)(2 3 5)"),
        ("THREAD ORDEREDSUBJECT UTF-8 ALL", b"* THREAD (2 (1)(4))(3)"),
        ("THREAD REFERENCES UTF-8 NOT SUBJECT topic", b"* THREAD (3)"),
        ("THREAD ORDEREDSUBJECT UTF-8 SUBJECT nothing-matches", b"* THREAD"),
    ],
)
async def test_sort_and_thread_answers(client: Client, command: str, answer: bytes) -> None:
    lines = await client.ok(command)

    assert lines[:-1] == [answer]


async def test_sort_reads_headers_without_setting_seen(client: Client) -> None:
    await client.ok("SORT (SUBJECT) UTF-8 ALL")

    lines = await client.ok("FETCH 1:* FLAGS")

    assert all(b"\\Seen" not in line for line in lines)


@pytest.mark.parametrize(
    ("command", "status", "text"),
    [
        ("SORT (DATE) ISO-8859-1 ALL", b"NO", b"[BADCHARSET (UTF-8 US-ASCII)]"),
        ("THREAD REFERENCES KOI8-R ALL", b"NO", b"[BADCHARSET (UTF-8 US-ASCII)]"),
        ("THREAD MAGIC UTF-8 ALL", b"BAD", b"Unknown thread algorithm"),
        ("SORT (NOSUCH) UTF-8 ALL", b"BAD", b"sort key"),
        ("SORT DATE UTF-8 ALL", b"BAD", b""),
    ],
)
async def test_sort_and_thread_refusals(
    client: Client, command: str, status: bytes, text: bytes
) -> None:
    lines = await client.command(command)

    assert client.status_of(lines) == status
    assert text in lines[-1]


async def test_sort_needs_a_selected_mailbox(server: Server) -> None:
    client = await server.logged_in(select=None)

    lines = await client.command("SORT (DATE) UTF-8 ALL")

    assert client.status_of(lines) == b"BAD"


async def test_a_modseq_key_adds_the_highest_modseq(client: Client) -> None:
    modseqs = await client.ok("FETCH 1:* MODSEQ")
    # The first command that uses CONDSTORE also sends "* OK [HIGHESTMODSEQ n]" (RFC 7162
    # §3.1.2.1): only the FETCH lines carry a message's MODSEQ.
    highest = max(
        int(line.rsplit(b"(", 1)[1].rstrip(b"))")) for line in modseqs[:-1] if b" FETCH " in line
    )

    lines = await client.ok("SORT (REVERSE DATE) UTF-8 MODSEQ 1")
    none = await client.ok("SORT (DATE) UTF-8 MODSEQ 999999")

    assert lines[0] == b"* SORT 4 1 3 2 (MODSEQ %d)" % highest
    assert none[0] == b"* SORT"
