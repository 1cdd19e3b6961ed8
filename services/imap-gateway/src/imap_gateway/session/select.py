"""SELECT and EXAMINE (CONDSTORE, QRESYNC), CLOSE, UNSELECT (RFC 9051 §6.3.2, §6.4.1;
RFC 7162 §3.1.8, §3.2.5; RFC 3691)."""

from __future__ import annotations

from imap_gateway import backend as bk
from imap_gateway.session import responses
from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer, bad
from imap_gateway.session.state import Selected, Session, State
from imap_gateway.session.tracker import Tracker
from imap_gateway.wire import codes, encoder
from imap_gateway.wire import commands as cmd


async def select(s: Session, c: cmd.Select) -> Answer:
    if c.qresync is not None and not s.qresync:
        raise bad("QRESYNC must be enabled first (RFC 7162 §3.2.5)")
    if s.selected is not None:
        await s.deselect()
        if s.qresync or s.rev2:
            # RFC 7162 §3.2.11, RFC 9051 §7.1: the old mailbox's responses end here.
            s.out.write(responses.status_ok(codes.CLOSED, None, "Previous mailbox closed"))
    if c.condstore:
        s.condstore_used = True
    folder = await s.require_user().select(c.mailbox, read_only=c.read_only)
    snap = folder.snapshot
    tracker = Tracker(snap.uids, origin=folder, defined=snap.flags, writable=not snap.read_only)
    if not s.rev2:
        # RFC 3501 §2.3.2: SELECT claims what no session has seen; EXAMINE shows the
        # same messages \Recent without claiming them (the backend knows which).
        tracker.recent = []
        try:
            tracker.add_recent(await folder.claim_recent())
        except BaseException:
            await folder.close()
            raise
    s.selected = Selected(c.mailbox, folder, tracker, folder.changes(), snap.read_only)
    s.state = State.SELECTED
    out = s.out
    out.write(responses.flags(snap.flags))
    out.write(responses.exists(len(snap.uids)))
    if not s.rev2:
        for line in tracker.recent_line():
            out.write(line)
        if snap.first_unseen is not None:
            seq = tracker.seq_of(snap.first_unseen) or 1
            out.write(responses.status_ok(codes.UNSEEN, b"%d" % seq, "First unseen"))
    out.write(
        responses.status_ok(
            codes.PERMANENTFLAGS, encoder.flag_list(snap.permanent_flags), "Flags allowed"
        )
    )
    out.write(responses.status_ok(codes.UIDVALIDITY, b"%d" % snap.uidvalidity, "UIDs valid"))
    out.write(responses.status_ok(codes.UIDNEXT, b"%d" % snap.uidnext, "Predicted next UID"))
    # RFC 7162 §3.1.2.1: a server that keeps MOD-SEQUENCEs sends this on every
    # successful SELECT and EXAMINE, whether or not CONDSTORE was enabled.
    out.write(responses.status_ok(codes.HIGHESTMODSEQ, b"%d" % snap.highestmodseq, "Highest"))
    if s.rev2:
        # RFC 9051 §6.3.2: a LIST response with the mailbox name.
        out.write(responses.list_line(b"LIST", [], c.mailbox, utf8=s.utf8))
    if c.qresync is not None and c.qresync.uidvalidity == snap.uidvalidity:
        await _resync(s, c.qresync)
    code = codes.READ_ONLY if snap.read_only else codes.READ_WRITE
    return ok(f"{'EXAMINE' if c.read_only else 'SELECT'} completed", code)


async def _resync(s: Session, q: cmd.QResync) -> None:
    """RFC 7162 §3.2.5.2: VANISHED (EARLIER) and FETCH for what changed after ``q.modseq``."""
    selected = s.require_selected()
    changes = await selected.folder.changes_since(q.modseq)
    vanished = list(changes.vanished)
    if q.known_uids is not None:
        vanished = [uid for uid in vanished if q.known_uids.contains(uid, 2**32 - 1)]
    if vanished:
        s.out.write(responses.vanished(vanished, earlier=True))
    for message in changes.changed:
        seq = selected.tracker.seq_of(message.uid)
        if seq is not None:
            for line in selected.tracker.define(message.flags):
                s.out.write(line)
            shown = selected.tracker.shown_flags(message.uid, message.flags)
            shown_message = bk.MessageFlags(message.uid, shown, message.modseq)
            s.out.write(responses.fetch_flags(seq, shown_message, modseq=True))
            selected.tracker.shown(message)


async def close(s: Session, c: cmd.Close) -> Answer:
    selected = s.require_selected()
    if not selected.read_only:
        # RFC 9051 §6.4.1: removes \Deleted messages, without EXPUNGE responses.
        await selected.folder.expunge()
    await s.deselect()
    return ok("CLOSE completed")


async def unselect(s: Session, c: cmd.Unselect) -> Answer:
    await s.deselect()
    return ok("UNSELECT completed")
