"""The dispatch table: each command's handler and the states it is allowed in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from imap_gateway.session import (
    append,
    auth,
    copy,
    expunge,
    fetch,
    idle,
    mailbox,
    misc,
    quota,
    search,
    select,
    sort,
    store,
)
from imap_gateway.session.errors import Answer
from imap_gateway.session.state import (
    ANY,
    AUTHENTICATED,
    NOT_AUTHENTICATED,
    SELECTED,
    Session,
    State,
)
from imap_gateway.wire import commands as cmd

Run = Callable[[Session, Any], Awaitable[Answer]]


@dataclass(frozen=True, slots=True)
class Handler:
    run: Run
    states: frozenset[State]


HANDLERS: dict[type[cmd.Command], Handler] = {
    cmd.Capability: Handler(misc.capability, ANY),
    cmd.Noop: Handler(misc.noop, ANY),
    cmd.Logout: Handler(misc.logout, ANY),
    cmd.Id: Handler(misc.id_, ANY),
    cmd.StartTLS: Handler(auth.starttls, NOT_AUTHENTICATED),
    cmd.Login: Handler(auth.login, NOT_AUTHENTICATED),
    cmd.Authenticate: Handler(auth.authenticate, NOT_AUTHENTICATED),
    # RFC 5161 §3.1: ENABLE only before a mailbox is selected.
    cmd.Enable: Handler(misc.enable, frozenset({State.AUTHENTICATED})),
    cmd.Select: Handler(select.select, AUTHENTICATED),
    cmd.Create: Handler(mailbox.create, AUTHENTICATED),
    cmd.Delete: Handler(mailbox.delete, AUTHENTICATED),
    cmd.Rename: Handler(mailbox.rename, AUTHENTICATED),
    cmd.Subscribe: Handler(mailbox.subscribe, AUTHENTICATED),
    cmd.Unsubscribe: Handler(mailbox.unsubscribe, AUTHENTICATED),
    cmd.List: Handler(mailbox.list_, AUTHENTICATED),
    cmd.Lsub: Handler(mailbox.lsub, AUTHENTICATED),
    cmd.Namespace: Handler(mailbox.namespace, AUTHENTICATED),
    cmd.Status: Handler(mailbox.status, AUTHENTICATED),
    cmd.Append: Handler(append.append, AUTHENTICATED),
    cmd.GetQuota: Handler(quota.getquota, AUTHENTICATED),
    cmd.GetQuotaRoot: Handler(quota.getquotaroot, AUTHENTICATED),
    cmd.SetQuota: Handler(quota.setquota, AUTHENTICATED),
    cmd.Idle: Handler(idle.idle, AUTHENTICATED),
    cmd.Check: Handler(misc.noop, SELECTED),
    cmd.Close: Handler(select.close, SELECTED),
    cmd.Unselect: Handler(select.unselect, SELECTED),
    cmd.Expunge: Handler(expunge.expunge, SELECTED),
    cmd.Search: Handler(search.search, SELECTED),
    cmd.Sort: Handler(sort.sort, SELECTED),
    cmd.Thread: Handler(sort.thread, SELECTED),
    cmd.Fetch: Handler(fetch.fetch, SELECTED),
    cmd.Store: Handler(store.store, SELECTED),
    cmd.Copy: Handler(copy.copy, SELECTED),
    cmd.Move: Handler(copy.move, SELECTED),
}

# RFC 9051 §7.5.1: no EXPUNGE while answering these (their UID forms allow it).
_NUMBERED = (cmd.Fetch, cmd.Store, cmd.Search, cmd.Sort, cmd.Thread)
# COPY and MOVE name messages by number too; they may announce expunges, but only
# once their numbers are resolved.
_USES_NUMBERS = (*_NUMBERED, cmd.Copy, cmd.Move)


# Whose answer shows every change made before it, not only those a live channel has
# reported yet: the polls (RFC 9051 §6.1.2 NOOP, §6.3.13 IDLE, RFC 3501 §6.4.1 CHECK)
# before they run, and the session's own changes after them (RFC 9051 §6.3.12:
# APPEND to the selected mailbox SHOULD be followed by EXISTS at once; so COPY, MOVE;
# and §6.4.3: EXPUNGE reports every removed message before its OK, also one that
# another session removed first, which the store no longer names to this one).
_POLLS = (cmd.Noop, cmd.Check, cmd.Idle)
_CATCH_UP_AFTER = (cmd.Append, cmd.Copy, cmd.Move, cmd.Expunge)


def polls(command: cmd.Command) -> bool:
    return isinstance(command, _POLLS)


def catches_up_after(command: cmd.Command) -> bool:
    return isinstance(command, _CATCH_UP_AFTER)


def expunges_allowed(command: cmd.Command) -> bool:
    """May pending EXPUNGEs go out with this command's answer?"""
    return not (isinstance(command, _NUMBERED) and not command.uid)


def expunges_allowed_before(command: cmd.Command) -> bool:
    """May pending EXPUNGEs go out before this command runs? Not when it names
    messages by sequence number: the client numbered them in the view it had when
    it sent the command, and an EXPUNGE first would shift them onto other messages
    (a numbered MOVE would move the wrong one). A UID SEARCH may still have sequence
    numbers in its key (RFC 9051 §6.4.4)."""
    if isinstance(command, cmd.Search) and search.names_by_number(command.key):
        return False
    return not (isinstance(command, _USES_NUMBERS) and not command.uid)


def command_name(command: cmd.Command) -> str:
    return type(command).__name__.upper()
