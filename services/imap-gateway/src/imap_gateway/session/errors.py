"""Every refusal the session sends, mapped in one place (RFC 9051 §7.1, RFC 5530).

Handlers raise :class:`Refusal` for protocol-level NO/BAD, or let a
:class:`~imap_gateway.backend.BackendError` through; :func:`response_for`
turns either into the tagged response.
"""

from __future__ import annotations

from dataclasses import dataclass

from imap_gateway import backend as bk
from imap_gateway.wire import codes


class Refusal(Exception):
    """A tagged NO or BAD that the handler decided on."""

    def __init__(
        self,
        text: str,
        *,
        status: str = codes.NO,
        code: str | None = None,
        args: bytes | None = None,
    ) -> None:
        super().__init__(text)
        self.text = text
        self.status = status
        self.code = code
        self.args_bytes = args


def bad(text: str, code: str | None = None) -> Refusal:
    return Refusal(text, status=codes.BAD, code=code)


def no(text: str, code: str | None = None, args: bytes | None = None) -> Refusal:
    return Refusal(text, code=code, args=args)


@dataclass(frozen=True, slots=True)
class Answer:
    """A tagged response without its tag."""

    status: str
    text: str
    code: str | None = None
    args: bytes | None = None


# Each domain error and the response it gets (RFC 5530 codes).
BACKEND_ERRORS: dict[type[bk.BackendError], Answer] = {
    bk.AuthenticationFailed: Answer(codes.NO, "Authentication failed", codes.AUTHENTICATIONFAILED),
    bk.AuthenticationThrottled: Answer(
        codes.NO, "Too many failed attempts, try again later", codes.UNAVAILABLE
    ),
    bk.SessionLimitReached: Answer(codes.NO, "Too many sessions for this user", codes.LIMIT),
    bk.AccountDisabled: Answer(codes.NO, "This account is disabled", codes.CONTACTADMIN),
    bk.FolderNotFound: Answer(codes.NO, "No such mailbox", codes.NONEXISTENT),
    bk.FolderExists: Answer(codes.NO, "Mailbox already exists", codes.ALREADYEXISTS),
    bk.FolderHasChildren: Answer(codes.NO, "Mailbox has children", codes.HASCHILDREN),
    bk.OperationNotAllowed: Answer(codes.NO, "Not allowed", codes.CANNOT),
    bk.ReadOnly: Answer(codes.NO, "Mailbox is read-only", codes.NOPERM),
    bk.QuotaExceeded: Answer(codes.NO, "Over quota", codes.OVERQUOTA),
    bk.MessageTooBig: Answer(codes.NO, "Message too big", codes.TOOBIG),
    bk.SearchTooCostly: Answer(codes.NO, "Search too costly, narrow it down", codes.LIMIT),
    bk.LimitReached: Answer(codes.NO, "Limit reached", codes.LIMIT),
    # RFC 5530; the text is the one FETCH answers when it finds a message gone.
    bk.MessageExpunged: Answer(
        codes.NO, "Some of the requested messages no longer exist", codes.EXPUNGEISSUED
    ),
    bk.BackendUnavailable: Answer(
        codes.NO, "Mail store unavailable, try again later", codes.UNAVAILABLE
    ),
}

# Commands whose missing target folder is NO [TRYCREATE] (RFC 9051 §6.3.12, §6.4.7).
TRYCREATE_COMMANDS = frozenset({"APPEND", "COPY", "MOVE"})


def response_for(error: bk.BackendError | Refusal, command: str = "") -> Answer:
    """The tagged answer to ``error`` while running ``command`` (its upper-case name)."""
    if isinstance(error, Refusal):
        return Answer(error.status, error.text, error.code, error.args_bytes)
    if isinstance(error, bk.FolderNotFound) and command in TRYCREATE_COMMANDS:
        return Answer(codes.NO, "No such mailbox", codes.TRYCREATE)
    for kind in type(error).__mro__:
        answer = BACKEND_ERRORS.get(kind)
        if answer is not None:
            return answer
    return Answer(codes.NO, "Server error", codes.SERVERBUG)
