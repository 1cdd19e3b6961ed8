"""Two sessions on one mailbox: what each sees of the other's changes, and when
(RFC 9051 §7.5.1, RFC 3501 §7.4.1; CONDSTORE and QRESYNC, RFC 7162; IDLE, RFC 2177)."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import pytest

from imap_gateway.backend import Credentials, StoreResult
from imap_gateway.memory import MemorySelected
from imap_gateway.wire.commands import StoreMode

if TYPE_CHECKING:
    from conftest import Client, Server

WAIT = 5.0  # a bound on waiting for a pushed update, not a timing assertion


@pytest.fixture
def five(server: Server) -> list[int]:
    return [server.deliver(f"Message {n}") for n in range(1, 6)]


async def expunge_elsewhere(other: Client, numbers: str) -> None:
    await other.ok(f"STORE {numbers} +FLAGS.SILENT (\\Deleted)")
    await other.ok("EXPUNGE")


async def test_no_expunge_during_fetch_and_the_expunged_message_is_expungeissued(
    server: Server, five: list[int]
) -> None:
    me, other = await server.logged_in(), await server.logged_in()
    await expunge_elsewhere(other, "2")

    fetch = await me.command("FETCH 1:3 UID")
    store = await me.command("STORE 2 +FLAGS (\\Seen)")
    search = await me.ok("SEARCH ALL")
    noop = await me.ok("NOOP")
    after = await me.ok("FETCH 2 UID")

    # Numbers stay as the client knows them until the EXPUNGE may be sent.
    assert fetch[:-1] == [b"* 1 FETCH (UID 1)", b"* 3 FETCH (UID 3)"]
    assert b"NO [EXPUNGEISSUED]" in fetch[-1]
    assert not me.untagged(fetch + store + search, b"EXPUNGE")
    assert b"OK [EXPUNGEISSUED]" in store[-1]
    assert search[0] == b"* SEARCH 1 3 4 5"
    assert noop[:-1] == [b"* 2 EXPUNGE", b"* 4 RECENT"]  # it was \Recent here
    assert after[0] == b"* 2 FETCH (UID 3)"


async def test_store_naming_an_expunged_message_is_ok_expungeissued(
    server: Server, five: list[int]
) -> None:
    """RFC 5530 EXPUNGEISSUED with OK, not RFC 2180 §4.2.3's NO: imaptest's stress
    mode counts a NO to STORE as an error (Dovecot answers OK)."""
    me, other = await server.logged_in(), await server.logged_in()
    await expunge_elsewhere(other, "2")

    mixed = await me.command("STORE 1:3 +FLAGS (\\Deleted)")
    silent = await me.command("STORE 2 +FLAGS.SILENT (\\Deleted)")
    alone = await me.command("STORE 2 +FLAGS (\\Deleted)")

    recent = [b"* 1 FETCH (FLAGS (\\Deleted \\Recent))", b"* 3 FETCH (FLAGS (\\Deleted \\Recent))"]
    assert mixed[:-1] == recent
    assert b"OK [EXPUNGEISSUED]" in mixed[-1]
    assert b"OK [EXPUNGEISSUED]" in silent[-1]
    assert b"OK [EXPUNGEISSUED]" in alone[-1]


async def test_uid_fetch_may_carry_the_pending_expunge(server: Server, five: list[int]) -> None:
    me, other = await server.logged_in(), await server.logged_in()
    await expunge_elsewhere(other, "4:5")

    lines = await me.ok("UID FETCH 1:* UID")

    assert lines[:3] == [b"* 5 EXPUNGE", b"* 4 EXPUNGE", b"* 3 RECENT"]
    assert lines[3:-1] == [b"* 1 FETCH (UID 1)", b"* 2 FETCH (UID 2)", b"* 3 FETCH (UID 3)"]


async def test_silent_store_is_pushed_to_the_other_session(server: Server, five: list[int]) -> None:
    me, other = await server.logged_in(), await server.logged_in()

    mine = await me.ok("STORE 3 +FLAGS.SILENT (\\Flagged)")
    mine_later = await me.ok("NOOP")
    theirs = await other.ok("NOOP")

    assert len(mine) == 1
    assert len(mine_later) == 1  # its own change is not echoed
    assert theirs[:-1] == [b"* 3 FETCH (UID 3 FLAGS (\\Flagged))"]


async def test_a_silent_store_tells_of_a_change_made_elsewhere_that_it_took_in(
    server: Server, five: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 9051 §6.4.6: whatever .SILENT asks, a change made elsewhere that the STORE
    observes goes out as FETCH FLAGS, "so that the status of the flags is determinate".
    Here the web marks message 1 read after this session's last look at its changes
    (the event still on its way, docs/imap.md "The mailbox-model state machine"):
    the STORE's result holds \\Seen, which the client cannot work out itself."""
    me = await server.logged_in()
    assert (await me.ok("FETCH 1 FLAGS"))[0] == b"* 1 FETCH (FLAGS (\\Recent))"
    web = await server.backend.authenticate(Credentials(me.USER, me.PASSWORD, "192.0.2.1"))
    handle = await web.select("INBOX", read_only=False)
    store = MemorySelected.store
    first = [True]

    async def web_first(self: MemorySelected, *args: Any, **kwargs: Any) -> StoreResult:
        if first[0] and self is not handle:
            first[0] = False
            await handle.store([1], StoreMode.ADD, ["\\Seen"])
        return await store(self, *args, **kwargs)

    monkeypatch.setattr(MemorySelected, "store", web_first)

    silent = await me.ok("STORE 1 +FLAGS.SILENT (\\Answered)")
    later = await me.ok("NOOP")
    again = await me.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
    await handle.close()

    assert silent[:-1] == [b"* 1 FETCH (FLAGS (\\Answered \\Recent \\Seen))"]
    assert later[:-1] == []
    assert again[:-1] == []  # nothing the client cannot work out: silent as asked


async def test_new_mail_is_announced_with_exists(server: Server, five: list[int]) -> None:
    me = await server.logged_in()
    server.deliver("Late")

    lines = await me.ok("NOOP")
    fetch = await me.ok("FETCH 6 UID")

    assert lines[:-1] == [b"* 6 EXISTS", b"* 6 RECENT"]
    assert fetch[0] == b"* 6 FETCH (UID 6)"


async def test_a_keyword_new_mail_brings_is_named_in_flags(server: Server, five: list[int]) -> None:
    """imaptest's checkpoint, "Missing keyword": another session APPENDs a message with
    a keyword the mailbox never had; FLAGS names it with the EXISTS (RFC 9051 §7.3.5),
    before any FETCH of the message."""
    me, other = await server.logged_in(), await server.logged_in()
    message = b"Subject: fresh\r\n\r\nHi\r\n"

    await other.ok(b"APPEND INBOX ($Fresh) {%d+}\r\n" % len(message) + message)
    lines = await me.ok("NOOP")

    assert lines[0] == b"* 6 EXISTS"
    assert me.untagged(lines, b"FLAGS")[0].endswith(b" $Fresh)")


async def test_condstore_unchangedsince_reports_modified(server: Server, five: list[int]) -> None:
    me, other = await server.logged_in(select=None), await server.logged_in()
    selected = await me.ok("SELECT INBOX (CONDSTORE)")
    found = [re.search(rb"HIGHESTMODSEQ (\d+)", line) for line in selected]
    modseq = int(next(m for m in found if m)[1])
    await other.ok("STORE 2 +FLAGS.SILENT ($Junk)")

    lines = await me.command(f"STORE 1:3 (UNCHANGEDSINCE {modseq}) +FLAGS (\\Seen)")

    assert lines[-1].split(b" ")[1:4] == [b"OK", b"[MODIFIED", b"2]"]
    stored = [line for line in lines if line.startswith((b"* 1 ", b"* 3 "))]
    assert len(stored) == 2
    assert all(b"FLAGS (\\Seen) MODSEQ (" in line for line in stored)


async def test_fetch_changedsince_and_modseq(server: Server, five: list[int]) -> None:
    me = await server.logged_in()
    base = await me.ok("FETCH 5 (MODSEQ)")
    modseq = int(re.search(rb"MODSEQ \((\d+)\)", base[1])[1])  # type: ignore[index]
    await me.ok("STORE 2 +FLAGS.SILENT (\\Answered)")
    again = await me.ok("FETCH 5 (MODSEQ)")

    # RFC 7162 §3.1.2.1: the first CONDSTORE-enabling command reports HIGHESTMODSEQ.
    assert base[0].startswith(b"* OK [HIGHESTMODSEQ ")
    assert not again[0].startswith(b"* OK [HIGHESTMODSEQ ")

    lines = await me.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq})")

    assert len(lines) == 2
    assert lines[0].startswith(b"* 2 FETCH (FLAGS (\\Answered \\Recent) MODSEQ (")


async def test_qresync_select_reports_vanished_earlier_and_changes(
    server: Server, five: list[int]
) -> None:
    me, other = await server.logged_in(select=None), await server.logged_in()
    await me.ok("ENABLE QRESYNC")
    first = await me.ok("SELECT INBOX")
    uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", b" ".join(first))[1])  # type: ignore[index]
    modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", b" ".join(first))[1])  # type: ignore[index]
    await me.ok("UNSELECT")
    await expunge_elsewhere(other, "2:3")
    await other.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")

    lines = await me.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq} 1:5))")

    assert b"* VANISHED (EARLIER) 2:3" in lines
    assert any(line.startswith(b"* 1 FETCH (UID 1 FLAGS (\\Flagged) MODSEQ (") for line in lines)


async def test_qresync_session_gets_vanished_instead_of_expunge(
    server: Server, five: list[int]
) -> None:
    me, other = await server.logged_in(select=None), await server.logged_in()
    await me.ok("ENABLE QRESYNC")
    await me.ok("SELECT INBOX")
    await expunge_elsewhere(other, "1,5")

    lines = await me.ok("NOOP")

    assert lines[:-1] == [b"* VANISHED 1,5"]


async def test_uid_fetch_vanished_reports_expunged_uids(server: Server, five: list[int]) -> None:
    me = await server.logged_in(select=None)
    await me.ok("ENABLE QRESYNC")
    first = await me.ok("SELECT INBOX")
    modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", b" ".join(first))[1])  # type: ignore[index]
    await me.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    await me.ok("EXPUNGE")

    lines = await me.ok(f"UID FETCH 1:5 (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")

    assert lines[0] == b"* VANISHED (EARLIER) 2"


async def test_idle_receives_exists_expunge_and_flags_from_another_session(
    server: Server, five: list[int]
) -> None:
    me, other = await server.logged_in(), await server.logged_in()
    await me.send("i1 IDLE\r\n")
    assert (await me.response()).startswith(b"+ ")

    await other.command(b"APPEND INBOX {3+}\r\nabc")
    exists = await asyncio.wait_for(me.response(), WAIT)
    await expunge_elsewhere(other, "1")
    pushed = [await asyncio.wait_for(me.response(), WAIT)]
    while pushed[-1] != b"* 1 EXPUNGE":
        pushed.append(await asyncio.wait_for(me.response(), WAIT))
    await me.send("DONE\r\n")
    done = await me.until_tagged("i1")

    assert exists == b"* 6 EXISTS"
    # The \Deleted flag may or may not go out before the expunge overtakes it.
    # RECENT goes with EXISTS: 6 is recent here or in `other`, whichever claimed it first.
    deleted = b"* 1 FETCH (UID 1 FLAGS (\\Deleted \\Recent))"
    assert set(pushed[:-1]) <= {deleted, b"* 5 RECENT", b"* 6 RECENT"}
    assert done[-1] == b"i1 OK IDLE terminated"


async def test_idle_ended_by_anything_but_done_is_bad(server: Server) -> None:
    me = await server.logged_in()
    await me.send("i1 IDLE\r\n")
    await me.response()

    await me.send("NOOP\r\n")
    lines = await me.until_tagged("i1")

    assert me.status_of(lines) == b"BAD"
    assert me.status_of(await me.command("NOOP")) == b"OK"


async def test_fetch_that_sets_seen_tells_a_condstore_client_the_new_modseq(
    server: Server, five: list[int]
) -> None:
    """RFC 7162 §3.1: the \\Seen a FETCH BODY[] sets is a change with a MODSEQ of its
    own, which no later update reports to the session that made it; Dovecot answers
    ``* 1 FETCH (MODSEQ (n))`` after the message's FETCH response, and so do we."""
    me = await server.logged_in(select=None)
    await me.ok("SELECT INBOX (CONDSTORE)")

    lines = await me.ok("FETCH 1 (BODY[TEXT])")
    asked = await me.ok("FETCH 1 (MODSEQ)")

    modseq = re.search(rb"MODSEQ \(\d+\)", asked[0])
    assert modseq is not None
    assert lines[-2] == b"* 1 FETCH (" + modseq[0] + b")"
