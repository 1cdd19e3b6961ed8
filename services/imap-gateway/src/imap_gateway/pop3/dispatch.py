"""Each POP3 command's handler and the states it is allowed in (RFC 1939 §4-§7)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from imap_gateway.pop3 import authorization as a
from imap_gateway.pop3 import transaction as t
from imap_gateway.pop3.commands import Command
from imap_gateway.pop3.session import Session, State

Run = Callable[[Session, Command], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Handler:
    states: frozenset[State]
    run: Run


_AUTH = frozenset({State.AUTHORIZATION})
_TRANS = frozenset({State.TRANSACTION})
_BOTH = _AUTH | _TRANS

HANDLERS: dict[str, Handler] = {
    "CAPA": Handler(_BOTH, a.capa),
    "STLS": Handler(_AUTH, a.stls),
    "USER": Handler(_AUTH, a.user),
    "PASS": Handler(_AUTH, a.password),
    "AUTH": Handler(_AUTH, a.auth),
    "STAT": Handler(_TRANS, t.stat),
    "LIST": Handler(_TRANS, t.list_),
    "UIDL": Handler(_TRANS, t.uidl),
    "RETR": Handler(_TRANS, t.retr),
    "TOP": Handler(_TRANS, t.top),
    "DELE": Handler(_TRANS, t.dele),
    "RSET": Handler(_TRANS, t.rset),
    "NOOP": Handler(_TRANS, t.noop),
}
QUIT = {State.AUTHORIZATION: a.quit_authorization, State.TRANSACTION: t.quit_transaction}
