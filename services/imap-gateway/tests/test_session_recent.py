"""\\Recent over real sockets against the memory backend (RFC 3501 §2.3.2): only the
first session told of a message sees it; EXAMINE shows without claiming; an IMAP4rev2
session (RFC 9051) never sees it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Server


@pytest.fixture
def three(server: Server) -> list[int]:
    return [server.deliver(f"Message {n}") for n in range(1, 4)]


async def test_only_the_first_select_sees_recent(server: Server, three: list[int]) -> None:
    first = await server.logged_in(select=None)
    second = await server.logged_in(select=None)

    one = await first.ok("SELECT INBOX")
    two = await second.ok("SELECT INBOX")
    flags_one = await first.ok("FETCH 1:* FLAGS")
    flags_two = await second.ok("FETCH 1:* FLAGS")

    assert b"* 3 RECENT" in one
    assert b"* 0 RECENT" in two
    assert all(b"\\Recent" in line for line in first.untagged(flags_one, b"FETCH"))
    assert not any(b"\\Recent" in line for line in flags_two)


async def test_a_new_message_is_recent_in_one_selected_session(
    server: Server, three: list[int]
) -> None:
    first = await server.logged_in()
    second = await server.logged_in()
    server.deliver("Message 4")

    noop_one = await first.ok("NOOP")
    noop_two = await second.ok("NOOP")

    assert noop_one[:2] == [b"* 4 EXISTS", b"* 4 RECENT"]  # the three at SELECT, and 4
    assert noop_two[:2] == [b"* 4 EXISTS", b"* 0 RECENT"]
    assert (await first.ok("SEARCH RECENT"))[0] == b"* SEARCH 1 2 3 4"
    assert (await second.ok("SEARCH RECENT"))[0] == b"* SEARCH"


async def test_examine_shows_recent_without_claiming(server: Server, three: list[int]) -> None:
    looker = await server.logged_in(select=None)
    owner = await server.logged_in(select=None)

    examined = await looker.ok("EXAMINE INBOX")
    status = await looker.ok("STATUS INBOX (RECENT)")
    selected = await owner.ok("SELECT INBOX")
    after = await looker.ok("STATUS INBOX (RECENT)")

    assert b"* 3 RECENT" in examined
    assert b"* STATUS INBOX (RECENT 3)" in status
    assert b"* 3 RECENT" in selected
    assert b"* STATUS INBOX (RECENT 0)" in after


async def test_recent_lasts_until_the_mailbox_is_closed(server: Server, three: list[int]) -> None:
    client = await server.logged_in()

    again = await client.ok("SELECT INBOX")

    assert b"* 0 RECENT" in again


async def test_new_old_and_flags_keep_recent(server: Server, three: list[int]) -> None:
    client = await server.logged_in()

    await client.ok("STORE 1 +FLAGS (\\Seen)")
    new = await client.ok("SEARCH NEW")
    old = await client.ok("SEARCH OLD")
    stored = await client.ok("STORE 2 FLAGS (\\Flagged)")

    assert new[0] == b"* SEARCH 2 3"
    assert old[0] == b"* SEARCH"
    assert stored[0] == b"* 2 FETCH (FLAGS (\\Flagged \\Recent))"


async def test_imap4rev2_never_sees_recent_nor_claims_it(server: Server, three: list[int]) -> None:
    rev2 = await server.logged_in(select=None)
    await rev2.ok("ENABLE IMAP4rev2")
    rev1 = await server.logged_in(select=None)

    selected = await rev2.ok("SELECT INBOX")
    fetched = await rev2.ok("FETCH 1:* FLAGS")
    later = await rev1.ok("SELECT INBOX")

    assert not any(b"RECENT" in line or b"\\Recent" in line for line in selected + fetched)
    assert b"* 3 RECENT" in later


async def test_an_expunge_of_a_recent_message_reports_the_new_recent_count(
    server: Server, three: list[int]
) -> None:
    """RFC 3501 §7.3.2: RECENT is a count the client keeps, and an expunge changes it;
    imaptest's checkpoint sums the last RECENT of every session ("Total RECENT count
    36 larger than current message count 34"). As Dovecot: RECENT after the EXPUNGEs,
    when the count changed."""
    owner, other = await server.logged_in(), await server.logged_in()
    await owner.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")

    mine = await owner.ok("EXPUNGE")
    theirs = await other.ok("NOOP")
    await other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    await other.ok("EXPUNGE")
    after = await owner.ok("NOOP")

    assert mine[:-1] == [b"* 1 EXPUNGE", b"* 2 RECENT"]
    assert theirs[:-1] == [b"* 1 EXPUNGE"]  # nothing was \Recent there: still 0
    assert after[:-1] == [b"* 1 EXPUNGE", b"* 1 RECENT"]
