"""Selected state over real sockets: SELECT, FETCH, STORE, SEARCH, COPY/MOVE, EXPUNGE,
APPEND, CLOSE/UNSELECT."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Server


@pytest.fixture
def five(server: Server) -> list[int]:
    """Five messages in INBOX, UIDs 1..5, subjects "Message 1".."Message 5"."""
    return [server.deliver(f"Message {n}", f"Body number {n}\r\n") for n in range(1, 6)]


async def test_select_reports_the_mailbox_imap4rev1(server: Server, five: list[int]) -> None:
    client = await server.logged_in(select=None)

    lines = await client.ok("SELECT INBOX")

    assert b"* 5 EXISTS" in lines
    assert b"* 5 RECENT" in lines  # the first session told of them (RFC 3501 §2.3.2)
    assert lines[0].startswith(b"* FLAGS (\\Answered")
    assert any(line.startswith(b"* OK [UIDVALIDITY ") for line in lines)
    assert any(line.startswith(b"* OK [UIDNEXT 6]") for line in lines)
    assert any(line.startswith(b"* OK [UNSEEN 1]") for line in lines)
    assert any(line.startswith(b"* OK [PERMANENTFLAGS (") and b"\\*" in line for line in lines)
    # RFC 7162 §3.1.2.1: on every SELECT, CONDSTORE enabled or not (as Dovecot does).
    assert any(line.startswith(b"* OK [HIGHESTMODSEQ ") for line in lines)
    assert b"OK [READ-WRITE]" in lines[-1]


async def test_select_in_imap4rev2_has_list_and_no_recent(server: Server, five: list[int]) -> None:
    client = await server.logged_in(select=None)
    await client.ok("ENABLE IMAP4rev2")

    lines = await client.ok("SELECT INBOX")

    assert not client.untagged(lines, b"RECENT")
    assert b'* LIST () "/" INBOX' in lines


async def test_select_of_a_missing_mailbox_leaves_the_selected_state(
    server: Server, five: list[int]
) -> None:
    client = await server.logged_in()

    missing = await client.command("SELECT Nowhere")
    fetch = await client.command("FETCH 1 UID")

    assert b"NO [NONEXISTENT]" in missing[-1]
    assert client.status_of(fetch) == b"BAD"


async def test_fetch_plain_items_and_sections(server: Server, five: list[int]) -> None:
    client = await server.logged_in()

    lines = await client.ok(
        "FETCH 2 (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (Subject)]"
        " BODY.PEEK[TEXT]<0.4>)"
    )

    raw = client.message("Message 2", "Body number 2\r\n")
    line = lines[0]
    assert line.startswith(
        b"* 2 FETCH (UID 2 FLAGS (\\Recent) RFC822.SIZE %d INTERNALDATE " % len(raw)
    )
    assert b"BODY[HEADER.FIELDS (Subject)] {22}\r\nSubject: Message 2\r\n\r\n" in line
    assert line.endswith(b"BODY[TEXT]<0> {4}\r\nBody)")


async def test_fetch_body_sets_seen_and_reports_flags_peek_does_not(
    server: Server, five: list[int]
) -> None:
    client = await server.logged_in()

    peek = await client.ok("FETCH 1 BODY.PEEK[]")
    body = await client.ok("FETCH 1 BODY[]")
    flags = await client.ok("FETCH 1 FLAGS")

    assert b"FLAGS" not in peek[0]
    assert b"FLAGS (\\Recent \\Seen)" in body[0]
    assert flags[0] == b"* 1 FETCH (FLAGS (\\Recent \\Seen))"


async def test_examine_is_read_only_and_store_is_refused(server: Server, five: list[int]) -> None:
    client = await server.logged_in(select=None)

    lines = await client.ok("EXAMINE INBOX")
    await client.ok("FETCH 1 BODY[]")
    flags = await client.ok("FETCH 1 FLAGS")
    store = await client.command("STORE 1 +FLAGS (\\Flagged)")

    assert b"OK [READ-ONLY]" in lines[-1]
    assert flags[0] == b"* 1 FETCH (FLAGS (\\Recent))"  # EXAMINE shows, not claims
    assert b"NO [NOPERM]" in store[-1]


async def test_sequence_number_past_the_end_is_bad(server: Server, five: list[int]) -> None:
    client = await server.logged_in()

    lines = await client.command("FETCH 6 FLAGS")

    assert client.status_of(lines) == b"BAD"


async def test_uid_ranges_in_either_order_and_star(server: Server, five: list[int]) -> None:
    client = await server.logged_in()

    backwards = await client.ok("UID FETCH 4:2 FLAGS")
    star = await client.ok("UID FETCH *:4 FLAGS")
    past = await client.ok("UID FETCH 100:* FLAGS")
    seq_star = await client.ok("FETCH * UID")

    assert [line.split(b" ")[1] for line in backwards[:-1]] == [b"2", b"3", b"4"]
    assert [line.split(b" ")[1] for line in star[:-1]] == [b"4", b"5"]
    # RFC 9051 §6.4.9: 100:* includes the highest UID even below 100.
    assert past[:-1] == [b"* 5 FETCH (UID 5 FLAGS (\\Recent))"]
    assert seq_star[0] == b"* 5 FETCH (UID 5)"


async def test_sequence_numbers_after_expunge(server: Server, five: list[int]) -> None:
    client = await server.logged_in()
    await client.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")

    expunge = await client.ok("EXPUNGE")
    after = await client.ok("FETCH 1:* UID")

    # All five were \Recent here: the count the client keeps changes (RFC 3501 §7.3.2).
    assert expunge[:-1] == [b"* 4 EXPUNGE", b"* 2 EXPUNGE", b"* 3 RECENT"]
    assert after[:-1] == [b"* 1 FETCH (UID 1)", b"* 2 FETCH (UID 3)", b"* 3 FETCH (UID 5)"]


async def test_uid_expunge_removes_only_the_named_deleted_messages(
    server: Server, five: list[int]
) -> None:
    client = await server.logged_in()
    await client.ok("STORE 1:3 +FLAGS.SILENT (\\Deleted)")

    lines = await client.ok("UID EXPUNGE 2:5")

    assert lines[:-1] == [b"* 3 EXPUNGE", b"* 2 EXPUNGE", b"* 3 RECENT"]
    assert (await client.ok("UID SEARCH DELETED"))[0] == b"* SEARCH 1"


async def test_store_answers_flags_and_silent_does_not(server: Server, five: list[int]) -> None:
    client = await server.logged_in()

    loud = await client.ok("STORE 1 +FLAGS (\\Flagged $Work)")
    silent = await client.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
    removed = await client.ok("UID STORE 1 -FLAGS ($Work)")

    # After FLAGS and PERMANENTFLAGS: $Work is a new keyword (RFC 9051 §7.3.5).
    assert loud[2] == b"* 1 FETCH (FLAGS ($Work \\Flagged \\Recent))"
    assert len(silent) == 1
    assert removed[0] == b"* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))"


async def test_a_keyword_made_elsewhere_is_announced_in_flags_before_a_fetch_shows_it(
    server: Server, five: list[int]
) -> None:
    """RFC 9051 §7.3.5: FLAGS lists the mailbox's flags; imaptest reports a keyword
    in a FETCH that no FLAGS response named ("Keyword used without being in FLAGS").
    (The session that makes it: test_a_store_that_makes_a_keyword_sends_flags_again.)"""
    client = await server.logged_in()
    other = await server.logged_in()

    await client.ok("STORE 1 +FLAGS ($Work)")
    seen_elsewhere = await other.ok("NOOP")
    fetched = await other.ok("FETCH 1 FLAGS")

    assert seen_elsewhere[0].startswith(b"* FLAGS (")
    assert seen_elsewhere[0].endswith(b" $Work)")
    assert seen_elsewhere[-2].startswith(b"* 1 FETCH (UID 1 FLAGS ($Work)")
    assert fetched[0] == b"* 1 FETCH (FLAGS ($Work))"


async def test_search_by_flags_text_and_sets(server: Server, five: list[int]) -> None:
    client = await server.logged_in()
    await client.ok("STORE 2,3 +FLAGS.SILENT (\\Flagged)")

    flagged = await client.ok("SEARCH FLAGGED")
    text = await client.ok('SEARCH SUBJECT "message 4"')
    uid = await client.ok("UID SEARCH OR 1 UID 5 NOT DELETED")
    either = await client.ok("SEARCH 4:2 UNFLAGGED")

    assert flagged[0] == b"* SEARCH 2 3"
    assert text[0] == b"* SEARCH 4"
    assert uid[0] == b"* SEARCH 1 5"
    assert either[0] == b"* SEARCH 4"


async def test_search_with_another_charset_is_badcharset(server: Server, five: list[int]) -> None:
    client = await server.logged_in()

    lines = await client.command("SEARCH CHARSET KOI8-R ALL")
    ok = await client.command("SEARCH CHARSET UTF-8 ALL")

    assert lines[-1].endswith(b"NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset")
    assert client.status_of(ok) == b"OK"


async def test_esearch_and_searchres_dollar(server: Server, five: list[int]) -> None:
    client = await server.logged_in()
    await client.ok("STORE 2,4,5 +FLAGS.SILENT (\\Flagged)")

    esearch = await client.command("SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED", tag="e1")
    saved = await client.ok("SEARCH RETURN (SAVE) FLAGGED")
    dollar = await client.ok("FETCH $ UID")
    narrowed = await client.command("UID SEARCH RETURN (ALL) $ 1:4", tag="e2")

    assert esearch[0] == b'* ESEARCH (TAG "e1") MIN 2 MAX 5 ALL 2,4:5 COUNT 3'
    assert len(saved) == 1  # SAVE alone: no ESEARCH (RFC 5182 §2.4)
    assert [line.split(b" ")[1] for line in dollar[:-1]] == [b"2", b"4", b"5"]
    assert narrowed[0] == b'* ESEARCH (TAG "e2") UID ALL 2,4'


async def test_esearch_modseq_is_of_the_messages_returned(server: Server, five: list[int]) -> None:
    """RFC 7162 §3.1.5 (imaptest's esearch-condstore): ``MODSEQ n`` without
    parentheses, the highest of the messages the ESEARCH returns."""
    client = await server.logged_in()
    await client.ok("FETCH 1 (MODSEQ)")
    modseqs = {}
    for n in (1, 3, 2):
        lines = await client.ok(f"STORE {n} +FLAGS (\\Seen)")
        modseqs[n] = int(re.search(rb"MODSEQ \((\d+)\)", lines[-2])[1])  # type: ignore[index]
    search = 'MODSEQ "/flags/\\\\seen" all 1'

    low = await client.command(f"SEARCH RETURN (MIN) 1:3 {search}", tag="m1")
    high = await client.command(f"SEARCH RETURN (MAX) 1:3 {search}", tag="m2")
    every = await client.command(f"SEARCH RETURN (ALL) 1:3 {search}", tag="m3")

    assert low[0] == b'* ESEARCH (TAG "m1") MIN 1 MODSEQ %d' % modseqs[1]
    assert high[0] == b'* ESEARCH (TAG "m2") MAX 3 MODSEQ %d' % modseqs[3]
    assert every[0] == b'* ESEARCH (TAG "m3") ALL 1:3 MODSEQ %d' % modseqs[2]


async def test_imap4rev2_search_answers_esearch(server: Server, five: list[int]) -> None:
    client = await server.logged_in(select=None)
    await client.ok("ENABLE IMAP4rev2")
    await client.ok("SELECT INBOX")

    lines = await client.command("SEARCH ALL", tag="s1")

    assert lines[0] == b'* ESEARCH (TAG "s1") ALL 1:5'


async def test_copy_answers_copyuid_and_missing_target_is_trycreate(
    server: Server, five: list[int]
) -> None:
    client = await server.logged_in()

    copied = await client.ok("COPY 2:3 Archive")
    missing = await client.command("COPY 1 Nowhere")

    assert copied[-1].split(b" ")[2:6] == [b"[COPYUID", copied[-1].split(b" ")[3], b"2:3", b"1:2]"]
    assert b"NO [TRYCREATE]" in missing[-1]


async def test_move_gives_copyuid_then_expunge(server: Server, five: list[int]) -> None:
    client = await server.logged_in()

    lines = await client.ok("MOVE 2,4 Trash")

    assert lines[0].startswith(b"* OK [COPYUID ")
    assert lines[0].split(b" ")[4:6] == [b"2,4", b"1:2]"]
    assert lines[1:3] == [b"* 4 EXPUNGE", b"* 2 EXPUNGE"]
    trash = await client.ok("STATUS Trash (MESSAGES)")
    assert trash[0] == b"* STATUS Trash (MESSAGES 2)"


async def test_append_with_synchronizing_literal_and_appenduid(server: Server) -> None:
    client = await server.logged_in(select=None)
    raw = client.message("Appended")

    await client.send(b'a1 APPEND INBOX (\\Seen) " 7-Dec-2026 10:00:00 +0100" {%d}\r\n' % len(raw))
    continuation = await client.response()
    await client.send(raw + b"\r\n")
    lines = await client.until_tagged("a1")
    fetch = await client.ok("SELECT INBOX") and await client.ok("FETCH 1 (FLAGS INTERNALDATE)")

    assert continuation.startswith(b"+ ")
    assert lines[-1].startswith(b"a1 OK [APPENDUID ")
    assert lines[-1].split(b" ")[4] == b"1]"
    assert (
        fetch[0] == b'* 1 FETCH (FLAGS (\\Recent \\Seen) INTERNALDATE " 7-Dec-2026 10:00:00 +0100")'
    )


async def test_multiappend_is_one_command_with_all_uids(server: Server) -> None:
    client = await server.logged_in(select=None)
    one, two = client.message("One"), client.message("Two")

    lines = await client.command(
        b"APPEND Drafts {%d+}\r\n%s {%d+}\r\n%s" % (len(one), one, len(two), two)
    )

    assert b"[APPENDUID " in lines[-1]
    assert lines[-1].split(b" ")[4] == b"1:2]"


async def test_append_to_a_missing_folder_is_trycreate(server: Server) -> None:
    client = await server.logged_in(select=None)

    lines = await client.command(b"APPEND Nowhere {3+}\r\nabc")

    assert b"NO [TRYCREATE]" in lines[-1]


async def test_append_over_the_limit_is_refused_without_the_literal(server: Server) -> None:
    client = await server.logged_in(select=None)

    lines = await client.command(b"APPEND INBOX {999999999}")
    after = await client.command("NOOP")

    assert b"NO [TOOBIG]" in lines[-1]
    assert client.status_of(after) == b"OK"


async def test_close_expunges_silently_unselect_does_not(server: Server, five: list[int]) -> None:
    client = await server.logged_in()
    await client.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")

    unselect = await client.ok("UNSELECT")
    status = await client.ok("STATUS INBOX (MESSAGES)")
    await client.ok("SELECT INBOX")
    close = await client.ok("CLOSE")
    after = await client.ok("STATUS INBOX (MESSAGES DELETED)")

    assert len(unselect) == 1
    assert status[0] == b"* STATUS INBOX (MESSAGES 5)"
    assert len(close) == 1
    assert after[0] == b"* STATUS INBOX (MESSAGES 4 DELETED 0)"


async def test_a_store_that_makes_a_keyword_sends_flags_again(
    server: Server, five: list[int]
) -> None:
    client = await server.logged_in()

    first = await client.ok("STORE 1 +FLAGS ($Label1)")
    again = await client.ok("STORE 2 +FLAGS ($Label1)")

    # RFC 9051 §7.3.5, as Dovecot does: the new keyword is announced before the FETCH.
    assert first[0].startswith(b"* FLAGS (\\Answered")
    assert first[0].endswith(b" $Label1)")
    assert first[1].startswith(b"* OK [PERMANENTFLAGS (")
    assert b"$Label1 \\*)]" in first[1]
    assert first[2] == b"* 1 FETCH (FLAGS ($Label1 \\Recent))"
    assert not client.untagged(again, b"FLAGS")
