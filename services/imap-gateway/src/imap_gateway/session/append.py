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
from imap_gateway.wire.sequence import SequenceSet


async def append(s: Session, c: cmd.Append) -> Answer:
    messages = [bk.NewMessage(m.data, m.flags, m.internal_date) for m in c.messages]
    result = await s.require_user().append(c.mailbox, messages)
    # RFC 9051 §6.3.12: EXISTS before the OK; the connection loop catches the
    # selected folder up after an APPEND (session.dispatch.adds).
    args = b"%d %s" % (result.uidvalidity, SequenceSet.of(result.uids).encode())
    return ok("APPEND completed", codes.APPENDUID, args)
