"""COPY, MOVE and their UID forms (RFC 9051 §6.4.7, RFC 6851; COPYUID, RFC 4315 §3)."""

from __future__ import annotations

from imap_gateway import backend as bk
from imap_gateway.session import responses
from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer
from imap_gateway.session.fetch import resolve
from imap_gateway.session.state import Session
from imap_gateway.wire import codes
from imap_gateway.wire import commands as cmd
from imap_gateway.wire.sequence import SequenceSet


def copyuid(result: bk.CopyResult) -> bytes:
    return b"%d %s %s" % (
        result.uidvalidity,
        SequenceSet.of(result.source_uids).encode(),
        SequenceSet.of(result.target_uids).encode(),
    )


async def copy(s: Session, c: cmd.Copy) -> Answer:
    result = await _transfer(s, c)
    if not result.source_uids:
        return ok("Nothing to copy")
    return ok("COPY completed", codes.COPYUID, copyuid(result))


async def move(s: Session, c: cmd.Move) -> Answer:
    result = await _transfer(s, c)
    if not result.source_uids:
        return ok("Nothing to move")
    # RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges.
    s.out.write(responses.status_ok(codes.COPYUID, copyuid(result), "Moved"))
    tracker = s.require_selected().tracker
    for line in tracker.remove_now(result.source_uids, qresync=s.qresync):
        s.out.write(line)
    return ok("MOVE completed")


async def _transfer(s: Session, c: cmd.Copy | cmd.Move) -> bk.CopyResult:
    folder = s.require_selected().folder
    uids = resolve(s, c.sequence_set, uid=c.uid)
    if isinstance(c, cmd.Move):
        return await folder.move(uids, c.mailbox)
    return await folder.copy(uids, c.mailbox)
