"""EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, RFC 4315 §2.1)."""

from __future__ import annotations

from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer
from imap_gateway.session.state import Session
from imap_gateway.wire import commands as cmd


async def expunge(s: Session, c: cmd.Expunge) -> Answer:
    selected = s.require_selected()
    uids = None if c.uids is None else selected.tracker.uids_of_uid_set(c.uids)
    removed = await selected.folder.expunge(uids)
    for line in selected.tracker.remove_now(removed, qresync=s.qresync):
        s.out.write(line)
    return ok(f"{'UID ' if c.uids is not None else ''}EXPUNGE completed")
