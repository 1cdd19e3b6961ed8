"""SEARCH and UID SEARCH (RFC 9051 §6.4.4), ESEARCH (RFC 4731), SEARCHRES (RFC 5182),
MODSEQ (RFC 7162 §3.1.5).

The program goes to the backend with every sequence-number set and ``$``
replaced by the UID set it names in this session's view, and RECENT, NEW and OLD
by the UIDs that are \\Recent in this session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from imap_gateway import searching
from imap_gateway.backend import KeyEvaluator, SelectedFolder
from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer, no
from imap_gateway.session.state import Selected, Session
from imap_gateway.wire import codes, encoder
from imap_gateway.wire import commands as cmd
from imap_gateway.wire.fetch import Section
from imap_gateway.wire.search import (
    SearchAnd,
    SearchKey,
    SearchModSeq,
    SearchNot,
    SearchOr,
    SearchSet,
    SearchSimple,
)
from imap_gateway.wire.sequence import SequenceSet

CHARSETS = ("UTF-8", "US-ASCII")
NOTHING: SearchKey = SearchNot(SearchSimple("ALL"))


def _uid_key(uids: Sequence[int]) -> SearchKey:
    return SearchSet(SequenceSet.of(uids), uid=True) if uids else NOTHING


def rewrite(key: SearchKey, selected: Selected) -> SearchKey:
    """``key`` with sequence numbers and ``$`` as UID sets of the view."""
    tracker = selected.tracker
    if isinstance(key, SearchSet):
        if key.sequence_set.saved:
            return _uid_key(selected.saved)
        if key.uid:
            return _uid_key(tracker.uids_of_uid_set(key.sequence_set))
        # Numbers past the last message match nothing here (no BAD in a search).
        count = tracker.count
        ranges = key.sequence_set.resolve(count) if count else []
        picked = [tracker.uids[n - 1] for a, b in ranges for n in range(a, min(b, count) + 1)]
        return _uid_key(picked)
    if isinstance(key, SearchSimple) and key.name in ("RECENT", "NEW", "OLD"):
        # \Recent is this session's (RFC 3501 §2.3.2, §6.4.4): NEW is RECENT UNSEEN,
        # OLD is NOT RECENT. The store never sees these keys.
        recent = _uid_key(tracker.recent_uids())
        if key.name == "RECENT":
            return recent
        return (
            SearchAnd((recent, SearchSimple("UNSEEN"))) if key.name == "NEW" else SearchNot(recent)
        )
    if isinstance(key, SearchAnd):
        return SearchAnd(tuple(rewrite(k, selected) for k in key.keys))
    if isinstance(key, SearchOr):
        return SearchOr(rewrite(key.left, selected), rewrite(key.right, selected))
    if isinstance(key, SearchNot):
        return SearchNot(rewrite(key.key, selected))
    return key


def _anywhere(key: SearchKey, test: Callable[[SearchKey], bool]) -> bool:
    """Whether ``test`` holds for ``key`` or for a key inside it."""
    if test(key):
        return True
    if isinstance(key, SearchAnd):
        return any(_anywhere(k, test) for k in key.keys)
    if isinstance(key, SearchOr):
        return _anywhere(key.left, test) or _anywhere(key.right, test)
    return isinstance(key, SearchNot) and _anywhere(key.key, test)


def names_by_number(key: SearchKey) -> bool:
    """Whether ``key`` holds a set of sequence numbers (``$`` is UIDs, RFC 5182)."""
    return _anywhere(
        key, lambda k: isinstance(k, SearchSet) and not k.uid and not k.sequence_set.saved
    )


def has_modseq(key: SearchKey) -> bool:
    return _anywhere(key, lambda k: isinstance(k, SearchModSeq))


def evaluator(folder: SelectedFolder) -> KeyEvaluator:
    """Evaluate a key the backend cannot, from the messages' fetched raw bytes."""

    async def evaluate(key: SearchKey, uids: Sequence[int]) -> list[int]:
        found = []
        async for message in folder.fetch(uids):
            body = await message.section(Section(), None)
            raw = b"".join([chunk async for chunk in body.chunks])
            data = searching.Searchable(
                message.uid, message.flags, message.modseq, message.internal_date, raw
            )
            if searching.matches(key, data):
                found.append(message.uid)
        return found

    return evaluate


async def search(s: Session, c: cmd.Search) -> Answer:
    selected = s.require_selected()
    if c.charset is not None and c.charset not in CHARSETS:
        raise no("Unsupported charset", codes.BADCHARSET, b"(UTF-8 US-ASCII)")
    modseq_asked = has_modseq(c.key)
    if modseq_asked:
        await s.use_condstore()
    key = rewrite(c.key, selected)
    found = await selected.folder.search(key, fallback=evaluator(selected.folder))
    tracker = selected.tracker
    uids = [u for u in found if tracker.seq_of(u) is not None]
    numbers = uids if c.uid else [tracker.seq_of(u) or 0 for u in uids]
    options = c.return_options
    if options is None and not s.rev2:
        highest = await _highest_modseq(selected.folder, uids) if modseq_asked and uids else None
        s.out.untagged(b"SEARCH", *(b"%d" % n for n in numbers), *modseq_items(highest))
        return ok(f"{'UID ' if c.uid else ''}SEARCH completed")
    wanted = set(options or ()) or {"ALL"}  # RFC 4731 §3.1: RETURN () means ALL
    if "SAVE" in wanted:
        selected.saved = list(uids)
        wanted.discard("SAVE")
        if not wanted and options:
            return ok("SEARCH completed, result saved")  # RFC 5182 §2.4
    parts = _esearch(c.tag, c.uid, numbers, wanted)
    returned = _returned(uids, wanted)
    if modseq_asked and returned:
        # RFC 7162 §3.1.5: ESEARCH's "MODSEQ n" (no parentheses), the highest of the
        # messages returned: with MIN or MAX alone only those, with ALL or COUNT all.
        parts.append(b"MODSEQ %d" % await _highest_modseq(selected.folder, returned))
    s.out.untagged(*parts)
    return ok(f"{'UID ' if c.uid else ''}SEARCH completed")


def _returned(uids: list[int], wanted: set[str]) -> list[int]:
    """The messages an ESEARCH answer speaks of (``uids`` ascending, as numbers are)."""
    if not uids or wanted & {"ALL", "COUNT"}:
        return uids
    ordered = sorted(uids)
    return [ordered[0]] * ("MIN" in wanted) + [ordered[-1]] * ("MAX" in wanted)


def modseq_items(highest: int | None) -> list[bytes]:
    """SEARCH's (and SORT's) ``(MODSEQ n)`` when a MODSEQ key asked (RFC 7162 §3.1.5)."""
    return [] if highest is None else [b"(MODSEQ %d)" % highest]


def _esearch(tag: str, uid: bool, numbers: list[int], wanted: set[str]) -> list[bytes]:
    """``ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [ALL set] [COUNT n]`` (RFC 4731 §3.1)."""
    parts = [b"ESEARCH", b"(TAG " + encoder.string(tag) + b")"]
    if uid:
        parts.append(b"UID")
    if numbers and "MIN" in wanted:
        parts.append(b"MIN %d" % min(numbers))
    if numbers and "MAX" in wanted:
        parts.append(b"MAX %d" % max(numbers))
    if numbers and "ALL" in wanted:
        parts.append(b"ALL " + SequenceSet.of(numbers).encode())
    if "COUNT" in wanted:
        parts.append(b"COUNT %d" % len(numbers))
    return parts


async def _highest_modseq(folder: SelectedFolder, uids: Sequence[int]) -> int:
    highest = 0
    async for message in folder.fetch(uids):
        highest = max(highest, message.modseq)
    return highest
