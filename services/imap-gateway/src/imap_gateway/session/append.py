"""APPEND with MULTIAPPEND (RFC 3502) and APPENDUID (RFC 4315 §3).

The size limit (APPENDLIMIT, RFC 7889) is the wire's ``max_literal_size``: the
framer refuses a larger literal before it is sent (NO [TOOBIG]).
"""

from __future__ import annotations

from imap_gateway import backend as bk
from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer
from imap_gateway.session.state import Session
from imap_gateway.wire import codes
from imap_gateway.wire import commands as cmd
from imap_gateway.wire.mailbox_names import INBOX
from imap_gateway.wire.sequence import SequenceSet


async def append(s: Session, c: cmd.Append) -> Answer:
    messages = [bk.NewMessage(m.data, m.flags, m.internal_date) for m in c.messages]
    result = await s.require_user().append(c.mailbox, messages)
    # RFC 9051 §6.3.12: the new messages are announced (EXISTS) before the OK, so
    # that a SEARCH or FETCH right after the APPEND sees them.
    feed = s.selected.feed if s.selected is not None else None
    if isinstance(feed, bk.CatchingUpFeed) and _same(s.require_selected().name, c.mailbox):
        await feed.catch_up()
    args = b"%d %s" % (result.uidvalidity, SequenceSet.of(result.uids).encode())
    return ok("APPEND completed", codes.APPENDUID, args)


def _same(selected: str, mailbox: str) -> bool:
    # INBOX in any case names INBOX (RFC 9051 §5.1).
    return selected == mailbox or selected.upper() == mailbox.upper() == INBOX
