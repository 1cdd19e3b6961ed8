"""STORE and UID STORE (RFC 9051 §6.4.6; UNCHANGEDSINCE and MODIFIED, RFC 7162 §3.1.3)."""

from __future__ import annotations

from imap_gateway.session import responses
from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer
from imap_gateway.session.fetch import resolve
from imap_gateway.session.state import Session
from imap_gateway.wire import codes, encoder
from imap_gateway.wire import commands as cmd
from imap_gateway.wire.sequence import SequenceSet


async def store(s: Session, c: cmd.Store) -> Answer:
    selected = s.require_selected()
    uids = resolve(s, c.sequence_set, uid=c.uid)
    if c.unchanged_since is not None:
        await s.use_condstore()
    result = await selected.folder.store(uids, c.mode, c.flags, unchanged_since=c.unchanged_since)
    tracker = selected.tracker
    for message in result.updated:
        seq = tracker.seq_of(message.uid)
        if seq is None:
            continue
        # .SILENT holds back only what the client can work out itself (RFC 9051 §6.4.6).
        told = not c.silent or tracker.unforeseen(message, c.mode, c.flags)
        # What this STORE set supersedes any older change still waiting to go out.
        tracker.supersede(message)
        items = [b"UID %d" % message.uid] if c.uid or s.qresync else []
        for line in tracker.define(message.flags):
            s.out.write(line)
        if told:
            flags = tracker.shown_flags(message.uid, message.flags)
            items.append(b"FLAGS " + encoder.flag_list(sorted(flags)))
        if s.condstore:
            # RFC 7162 §3.1.3: the new MODSEQ goes out even with .SILENT.
            items.append(responses.modseq_item(message.modseq))
        if items and (told or s.condstore):
            s.out.write(responses.fetch(seq, items))
    done = {m.uid for m in result.updated} | set(result.modified)
    gone = not c.uid and len(done) < len(set(uids))
    if result.modified:
        failed = result.modified if c.uid else [tracker.seq_of(u) or 0 for u in result.modified]
        return ok("Some messages were modified", codes.MODIFIED, SequenceSet.of(failed).encode())
    if gone:
        # Another session expunged some of them (RFC 5530 EXPUNGEISSUED); the others
        # are stored. OK rather than RFC 2180 §4.2.3's NO, as Dovecot: imaptest's
        # stress mode counts a NO here as an error (docs/imap.md).
        return ok("Some of the messages no longer exist", codes.EXPUNGEISSUED)
    return ok(f"{'UID ' if c.uid else ''}STORE completed")
