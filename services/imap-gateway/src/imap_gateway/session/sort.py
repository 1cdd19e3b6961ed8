"""SORT and THREAD, and their UID forms (RFC 5256 §3; RFC 5957 DISPLAYFROM/DISPLAYTO).

The search runs as SEARCH's does (in the backend, sequence numbers rewritten
to UIDs); the header fields the order needs are then read per message as
``BODY.PEEK[HEADER.FIELDS (...)]`` (never \\Seen), and the pure
:mod:`imap_gateway.sorting` and :mod:`imap_gateway.threads` decide.
SIZE and ARRIVAL alone read no header.
"""

from __future__ import annotations

from collections.abc import Sequence

from imap_gateway import backend as bk
from imap_gateway import sorting, threads
from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer, bad, no
from imap_gateway.session.search import CHARSETS, evaluator, has_modseq, modseq_items, rewrite
from imap_gateway.session.state import Selected, Session
from imap_gateway.wire import codes
from imap_gateway.wire import commands as cmd
from imap_gateway.wire.fetch import HEADER_FIELDS, Section
from imap_gateway.wire.search import SearchKey

_HEADERS = Section(text=HEADER_FIELDS, fields=sorting.HEADER_FIELDS)
_NO_HEADER_NEEDED = frozenset({"SIZE", "ARRIVAL"})


async def _found(s: Session, selected: Selected, charset: str, key: SearchKey) -> list[int]:
    """The UIDs of the view that match ``key``, ascending (as SEARCH finds them)."""
    if charset not in CHARSETS:
        raise no("Unsupported charset", codes.BADCHARSET, b"(UTF-8 US-ASCII)")
    if has_modseq(key):
        s.condstore_used = True
    found = await selected.folder.search(
        rewrite(key, selected), fallback=evaluator(selected.folder)
    )
    return [u for u in found if selected.tracker.seq_of(u) is not None]


async def _load(
    selected: Selected, uids: Sequence[int], *, headers: bool
) -> tuple[list[sorting.SortMessage], int]:
    """What sorting needs of each message, and the highest MODSEQ among them."""
    loaded = []
    highest = 0
    needs = frozenset({bk.SECTIONS}) if headers else frozenset()
    async for message in selected.folder.fetch(uids, needs=needs):
        seq = selected.tracker.seq_of(message.uid)
        if seq is None:
            continue
        header = b""
        if headers:
            body = await message.section(_HEADERS, None)
            header = b"".join([chunk async for chunk in body.chunks])
        loaded.append(
            sorting.SortMessage.of(seq, message.uid, message.internal_date, message.size, header)
        )
        highest = max(highest, message.modseq)
    return loaded, highest


def _modseq(key: SearchKey, found: Sequence[object], highest: int) -> list[bytes]:
    """RFC 7162 §3.1.5: a search with MODSEQ ends SORT's answer with the highest one."""
    return modseq_items(highest if has_modseq(key) and found else None)


async def sort(s: Session, c: cmd.Sort) -> Answer:
    selected = s.require_selected()
    uids = await _found(s, selected, c.charset, c.key)
    headers = any(criterion.key not in _NO_HEADER_NEEDED for criterion in c.criteria)
    loaded, highest = await _load(selected, uids, headers=headers)
    ordered = sorting.sort(loaded, c.criteria)
    numbers = [b"%d" % (m.uid if c.uid else m.seq) for m in ordered]
    s.out.untagged(b"SORT", *numbers, *_modseq(c.key, ordered, highest))
    return ok(f"{'UID ' if c.uid else ''}SORT completed")


async def thread(s: Session, c: cmd.Thread) -> Answer:
    selected = s.require_selected()
    algorithm = threads.ALGORITHMS.get(c.algorithm)
    if algorithm is None:
        raise bad(f"Unknown thread algorithm {c.algorithm[:32]}")
    uids = await _found(s, selected, c.charset, c.key)
    loaded, _ = await _load(selected, uids, headers=True)
    forest = threads.encode(algorithm(loaded), lambda m: m.uid if c.uid else m.seq)
    s.out.untagged(b"THREAD", *([forest] if forest else []))
    return ok(f"{'UID ' if c.uid else ''}THREAD completed")
