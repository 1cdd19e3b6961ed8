"""SORT and THREAD, and their UID forms (RFC 5256 §3; RFC 5957 DISPLAYFROM/DISPLAYTO).

The search runs as SEARCH's does (in the backend, sequence numbers rewritten
to UIDs); the messages' ENVELOPEs are then fetched (RFC 5256 defines the keys
on them: "addr-mailbox of the first From address"), for THREAD=REFERENCES also
``BODY.PEEK[HEADER.FIELDS (REFERENCES)]`` (never \\Seen), and the pure
:mod:`imap_gateway.sorting` and :mod:`imap_gateway.threads` decide.
"""

from __future__ import annotations

from collections.abc import Sequence

from imap_gateway import backend as bk
from imap_gateway import sorting, threads
from imap_gateway.envelope_values import parse_envelope
from imap_gateway.sections import parse_header
from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer, bad, no
from imap_gateway.session.search import CHARSETS, evaluator, has_modseq, modseq_items, rewrite
from imap_gateway.session.state import Selected, Session
from imap_gateway.wire import codes
from imap_gateway.wire import commands as cmd
from imap_gateway.wire import fetch as items_
from imap_gateway.wire.fetch import HEADER_FIELDS, Section
from imap_gateway.wire.search import SearchKey

_REFERENCES = Section(text=HEADER_FIELDS, fields=("REFERENCES",))


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
    selected: Selected, uids: Sequence[int], *, references: bool
) -> tuple[list[sorting.SortMessage], int]:
    """What sorting needs of each message, and the highest MODSEQ among them:
    the ENVELOPE, and the References field when ``references``."""
    loaded = []
    highest = 0
    needs = frozenset({items_.ENVELOPE, *([bk.SECTIONS] if references else [])})
    async for message in selected.folder.fetch(uids, needs=needs):
        seq = selected.tracker.seq_of(message.uid)
        if seq is None:
            continue
        envelope = parse_envelope(bk.render(message.envelope()))
        field = await _references(message) if references else None
        size, date = message.size, message.internal_date
        loaded.append(sorting.SortMessage(seq, message.uid, date, size, envelope, field))
        highest = max(highest, message.modseq)
    return loaded, highest


async def _references(message: bk.FetchedMessage) -> bytes | None:
    body = await message.section(_REFERENCES, None)
    header = parse_header(b"".join([chunk async for chunk in body.chunks]))
    value = header.get("References")
    return None if value is None else str(value).encode("utf-8", "surrogateescape")


def _modseq(key: SearchKey, found: Sequence[object], highest: int) -> list[bytes]:
    """RFC 7162 §3.1.5: a search with MODSEQ ends SORT's answer with the highest one."""
    return modseq_items(highest if has_modseq(key) and found else None)


async def sort(s: Session, c: cmd.Sort) -> Answer:
    selected = s.require_selected()
    uids = await _found(s, selected, c.charset, c.key)
    loaded, highest = await _load(selected, uids, references=False)
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
    loaded, _ = await _load(selected, uids, references=c.algorithm == "REFERENCES")
    forest = threads.encode(algorithm(loaded), lambda m: m.uid if c.uid else m.seq)
    s.out.untagged(b"THREAD", *([forest] if forest else []))
    return ok(f"{'UID ' if c.uid else ''}THREAD completed")
