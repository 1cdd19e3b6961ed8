"""FETCH and UID FETCH (RFC 9051 §6.4.5, RFC 7162 §3.1.4 CHANGEDSINCE, §3.2.6 VANISHED).

Every item comes from the backend's :class:`~imap_gateway.backend.FetchedMessage`;
body sections are streamed as literals. A non-PEEK body item sets \\Seen first
(in a read-write mailbox) and the answer then carries FLAGS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from imap_gateway import backend as bk
from imap_gateway.session import responses
from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer, no
from imap_gateway.session.fetch_binary import binary_label, binary_octets
from imap_gateway.session.state import Session
from imap_gateway.wire import codes, encoder
from imap_gateway.wire import commands as cmd
from imap_gateway.wire import fetch as items_
from imap_gateway.wire import flags as wire_flags
from imap_gateway.wire.fetch import BinarySection, BodySection, FetchAtt, FetchItem, Section
from imap_gateway.wire.sequence import SequenceSet

# The RFC822 forms and the section each stands for (RFC 9051 §6.4.5, IMAP4rev1).
RFC822_SECTIONS = {
    items_.RFC822: Section(),
    items_.RFC822_HEADER: Section(text=items_.HEADER),
    items_.RFC822_TEXT: Section(text=items_.TEXT),
}
SETS_SEEN = frozenset({items_.RFC822, items_.RFC822_TEXT})


def resolve(s: Session, numbers: SequenceSet, *, uid: bool) -> list[int]:
    """The UIDs a command's sequence set names (``$`` is the saved search, RFC 5182)."""
    selected = s.require_selected()
    if numbers.saved:
        saved = set(selected.saved)
        return [u for u in selected.tracker.uids if u in saved]
    if uid:
        return selected.tracker.uids_of_uid_set(numbers)
    return selected.tracker.uids_of_sequence(numbers)


def _sets_seen(item: FetchItem) -> bool:
    if isinstance(item, BodySection):
        return not item.peek
    if isinstance(item, BinarySection):
        return not (item.peek or item.size_only)
    return isinstance(item, FetchAtt) and item.name in SETS_SEEN


def section_label(section: Section, partial: tuple[int, int] | None) -> bytes:
    spec = ".".join(str(n) for n in section.part)
    if section.text is not None:
        spec += ("." if spec else "") + section.text
    label = b"BODY[" + spec.encode("ascii")
    if section.fields:
        label += b" " + encoder.paren_list(encoder.astring(f) for f in section.fields)
    label += b"]"
    return label + (b"<%d>" % partial[0] if partial is not None else b"")


async def fetch(s: Session, c: cmd.Fetch) -> Answer:
    selected = s.require_selected()
    uids = resolve(s, c.sequence_set, uid=c.uid)
    items = list(dict.fromkeys(c.items))
    modseq = c.changed_since is not None or FetchAtt(items_.MODSEQ) in items
    if modseq:
        await s.use_condstore()
    if c.uid and FetchAtt(items_.UID) not in items:
        items.insert(0, FetchAtt(items_.UID))  # RFC 9051 §6.4.9: UID FETCH always has UID
    if modseq and FetchAtt(items_.MODSEQ) not in items:
        items.append(FetchAtt(items_.MODSEQ))  # RFC 7162 §3.1.4.1
    if c.vanished and c.changed_since is not None:
        changes = await selected.folder.changes_since(c.changed_since)
        gone = [u for u in changes.vanished if c.sequence_set.contains(u, 2**32 - 1)]
        if gone:
            s.out.write(responses.vanished(gone, earlier=True))
    stored = not selected.read_only and bool(uids) and any(_sets_seen(i) for i in items)
    if stored:
        await selected.folder.store(uids, cmd.StoreMode.ADD, [wire_flags.SEEN])
        if FetchAtt(items_.FLAGS) not in items:
            items.append(FetchAtt(items_.FLAGS))
    # The \Seen just set has a new MODSEQ, and no feed reports a session's own change:
    # a CONDSTORE client hears of it here (RFC 7162 §3.1), as from Dovecot, on a line
    # of its own after the message's.
    tell_modseq = stored and s.condstore and FetchAtt(items_.MODSEQ) not in items
    found: set[int] = set()
    needs = frozenset(item.name for item in items if isinstance(item, FetchAtt))
    sections = (BodySection, BinarySection)
    if any(isinstance(item, sections) for item in items) or needs & RFC822_SECTIONS.keys():
        needs |= {bk.SECTIONS}  # a store that maps sections to byte ranges loads the map
    fetched = selected.folder.fetch(uids, changed_since=c.changed_since, needs=needs)
    async for message in fetched:
        seq = selected.tracker.seq_of(message.uid)
        if seq is None:
            continue
        found.add(message.uid)
        await _write_message(s, seq, message, items)
        if tell_modseq:
            s.out.write(responses.fetch(seq, [responses.modseq_item(message.modseq)]))
            selected.tracker.shown(bk.MessageFlags(message.uid, message.flags, message.modseq))
    if not c.uid and c.changed_since is None and len(found) < len(set(uids)):
        # RFC 5530: another session expunged some; their numbers stay valid until
        # the EXPUNGE may be sent, but their data is gone.
        raise no("Some of the requested messages no longer exist", codes.EXPUNGEISSUED)
    return ok(f"{'UID ' if c.uid else ''}FETCH completed")


def _attribute(s: Session, message: bk.FetchedMessage, name: str) -> bytes:
    if name == items_.UID:
        return b"UID %d" % message.uid
    if name == items_.FLAGS:
        flags = s.require_selected().tracker.shown_flags(message.uid, message.flags)
        return b"FLAGS " + encoder.flag_list(sorted(flags))
    if name == items_.INTERNALDATE:
        return b"INTERNALDATE " + encoder.date_time(message.internal_date)
    if name == items_.RFC822_SIZE:
        return b"RFC822.SIZE %d" % message.size
    if name == items_.ENVELOPE:
        return b"ENVELOPE " + bk.render(message.envelope())
    if name == items_.BODYSTRUCTURE:
        return b"BODYSTRUCTURE " + bk.render(message.body_structure(extensible=True))
    if name == items_.BODY:
        return b"BODY " + bk.render(message.body_structure(extensible=False))
    if name == items_.MODSEQ:
        return responses.modseq_item(message.modseq)
    raise AssertionError(f"not a plain attribute: {name}")


async def _write_message(
    s: Session, seq: int, message: bk.FetchedMessage, items: Sequence[FetchItem]
) -> None:
    # Everything that can fail is asked for before the response begins: a failure
    # then gets a tagged NO after the FETCH responses already sent, all intact. Only
    # a source failing mid-literal is left, and the session closes on that.
    parts = [await _part(s, message, item) for item in items]
    if FetchAtt(items_.FLAGS) in items:
        tracker = s.require_selected().tracker
        for line in tracker.define(message.flags):
            s.out.write(line)
        # Without MODSEQ in the answer, a CONDSTORE client still needs the feed's
        # report of this change, which carries it (Tracker._untold).
        told = not s.condstore or FetchAtt(items_.MODSEQ) in items
        tracker.shown(bk.MessageFlags(message.uid, message.flags, message.modseq), told=told)
    s.out.write(b"* %d FETCH (" % seq)
    for i, part in enumerate(parts):
        if i:
            s.out.write(b" ")
        if isinstance(part, bytes):
            s.out.write(part)
            continue
        label, body, literal8 = part
        s.out.write(label + b" ")
        await s.out.stream_literal(body.size, body.chunks, binary=literal8)
    s.out.write(b")\r\n")


async def _part(
    s: Session, message: bk.FetchedMessage, item: FetchItem
) -> bytes | tuple[bytes, bk.BodyData, bool]:
    """A FETCH item's text, or its label, its body (first chunk already read) and
    whether that goes as literal8."""
    if isinstance(item, BinarySection):
        data = await binary_octets(message, item)
        if item.size_only:
            return binary_label(item) + b" %d" % len(data)
        return binary_label(item), bk.BodyData(len(data), _once(data)), b"\0" in data
    if isinstance(item, FetchAtt) and item.name not in RFC822_SECTIONS:
        return _attribute(s, message, item.name)
    if isinstance(item, FetchAtt):
        label, section, partial = item.name.encode("ascii"), RFC822_SECTIONS[item.name], None
    else:
        assert isinstance(item, BodySection)
        section, partial = item.section, item.partial
        label = section_label(section, partial)
    body = await message.section(section, partial)
    return label, await _started(body.without_nul()), False


async def _started(body: bk.BodyData) -> bk.BodyData:
    """``body`` with its first chunk read: a store fails on the request, not mid-literal."""
    chunks = aiter(body.chunks)
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        return bk.BodyData(body.size, chunks)
    return bk.BodyData(body.size, _after(first, chunks))


async def _once(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


async def _after(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk
