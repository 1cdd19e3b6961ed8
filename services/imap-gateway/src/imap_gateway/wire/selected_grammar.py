"""Grammars of the selected-state commands (RFC 9051 §6.4) and their UID forms.

``UID`` SP (COPY / MOVE / FETCH / SEARCH / STORE / EXPUNGE / SORT / THREAD)
(RFC 9051 §6.4.9, RFC 6851, RFC 5256): the same grammars with ``uid=True``,
except UID EXPUNGE which takes a UID set where EXPUNGE takes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from imap_gateway.wire import commands as cmd
from imap_gateway.wire.cursor import ATOM, Cursor, mailbox, number64
from imap_gateway.wire.fetch import parse_fetch_items, parse_fetch_modifiers
from imap_gateway.wire.flags import parse_flag
from imap_gateway.wire.search import (
    parse_charset,
    parse_return_options,
    parse_search_keys,
    parse_search_program,
    parse_sort_criteria,
)
from imap_gateway.wire.sequence import parse_sequence_set

Grammar = Callable[[Cursor, str], cmd.Command]


def _fetch(uid: bool) -> Grammar:
    def grammar(c: Cursor, tag: str) -> cmd.Fetch:
        c.sp()
        sequence_set = parse_sequence_set(c)
        c.sp()
        items = parse_fetch_items(c)
        changed_since, vanished = None, False
        if not c.at_end():
            c.sp()
            start = c.offset
            changed_since, vanished = parse_fetch_modifiers(c)
            # RFC 7162 §3.2.6: VANISHED only in UID FETCH, and only with CHANGEDSINCE.
            if vanished and (not uid or changed_since is None):
                raise c.error("VANISHED only in UID FETCH with CHANGEDSINCE" + f" (at {start})")
        return cmd.Fetch(tag, sequence_set, items, uid, changed_since, vanished)

    return grammar


def _store(uid: bool) -> Grammar:
    """``STORE sequence-set [SP store-modifiers] SP store-att-flags`` (RFC 7162 §3.1.3)."""

    def grammar(c: Cursor, tag: str) -> cmd.Store:
        c.sp()
        sequence_set = parse_sequence_set(c)
        c.sp()
        unchanged_since = None
        if c.take(b"("):
            c.expect(b"UNCHANGEDSINCE", "UNCHANGEDSINCE")
            c.sp()
            unchanged_since = number64(c)  # mod-sequence-valzer: 0 is allowed
            c.expect(b")")
            c.sp()
        mode = cmd.StoreMode.REPLACE
        if c.take(b"+"):
            mode = cmd.StoreMode.ADD
        elif c.take(b"-"):
            mode = cmd.StoreMode.REMOVE
        c.expect(b"FLAGS", "FLAGS, +FLAGS or -FLAGS")
        silent = c.take_word(b".SILENT")
        if not silent and c.peek() not in (-1, 0x20):
            raise c.error("FLAGS or FLAGS.SILENT")
        c.sp()
        return cmd.Store(tag, sequence_set, mode, _store_flags(c), silent, uid, unchanged_since)

    return grammar


def _store_flags(c: Cursor) -> tuple[str, ...]:
    """``flag-list / (flag *(SP flag))`` (RFC 9051 §9 store-att-flags)."""
    if c.take(b"("):
        c.enter()
        flags = [] if c.peek() == 0x29 else [parse_flag(c)]
        while not c.take(b")"):
            c.sp()
            flags.append(parse_flag(c))
        c.leave()
        return tuple(flags)
    flags = [parse_flag(c)]
    while not c.at_end():
        c.sp()
        flags.append(parse_flag(c))
    return tuple(flags)


def _copy_or_move(kind: type[cmd.Copy] | type[cmd.Move], uid: bool) -> Grammar:
    def grammar(c: Cursor, tag: str) -> cmd.Command:
        c.sp()
        sequence_set = parse_sequence_set(c)
        c.sp()
        return kind(tag, sequence_set, mailbox(c), uid)

    return grammar


def _search(uid: bool) -> Grammar:
    """``SEARCH [SP "RETURN" SP "(" ... ")"] SP search-program`` (RFC 4466 §2.6, RFC 4731)."""

    def grammar(c: Cursor, tag: str) -> cmd.Search:
        c.sp()
        options = None
        if c.take_word(b"RETURN"):
            c.sp()
            options = parse_return_options(c)
            c.sp()
        charset, key = parse_search_program(c)
        return cmd.Search(tag, key, uid, charset, options)

    return grammar


def _sort(uid: bool) -> Grammar:
    """``SORT sort-criteria SP charset SP search-key *(SP search-key)`` (RFC 5256 §3)."""

    def grammar(c: Cursor, tag: str) -> cmd.Sort:
        c.sp()
        criteria = parse_sort_criteria(c)
        c.sp()
        charset = parse_charset(c)
        c.sp()
        return cmd.Sort(tag, criteria, charset, parse_search_keys(c), uid)

    return grammar


def _thread(uid: bool) -> Grammar:
    """``THREAD thread-alg SP charset SP search-key *(SP search-key)`` (RFC 5256 §3)."""

    def grammar(c: Cursor, tag: str) -> cmd.Thread:
        c.sp()
        algorithm = c.chars(ATOM, "thread algorithm").upper().decode("ascii")
        c.sp()
        charset = parse_charset(c)
        c.sp()
        return cmd.Thread(tag, algorithm, charset, parse_search_keys(c), uid)

    return grammar


def _uid_expunge(c: Cursor, tag: str) -> cmd.Expunge:
    c.sp()
    return cmd.Expunge(tag, parse_sequence_set(c))


def no_arguments(kind: Callable[[str], cmd.Command]) -> Grammar:
    return lambda c, tag: kind(tag)


def _both(uid: bool) -> dict[bytes, Grammar]:
    return {
        b"FETCH": _fetch(uid),
        b"STORE": _store(uid),
        b"COPY": _copy_or_move(cmd.Copy, uid),
        b"MOVE": _copy_or_move(cmd.Move, uid),
        b"SEARCH": _search(uid),
        b"SORT": _sort(uid),
        b"THREAD": _thread(uid),
    }


SELECTED_COMMANDS: dict[bytes, Grammar] = {
    **_both(uid=False),
    b"CHECK": no_arguments(cmd.Check),
    b"CLOSE": no_arguments(cmd.Close),
    b"UNSELECT": no_arguments(cmd.Unselect),
    b"EXPUNGE": no_arguments(cmd.Expunge),
}
UID_COMMANDS: dict[bytes, Grammar] = {**_both(uid=True), b"EXPUNGE": _uid_expunge}
