"""The mail store's domain errors. The HTTP edge (``middlewares.py``) maps them to statuses.

::

    MailstoreError
     ├── AccountNotFound      an API call names an address with no account        → 404
     ├── MessageNotFound      a message id that is missing or not that account's   → 404
     ├── SessionNotFound      a session secret that is unknown or expired          → 404
     ├── TokenNotFound        an API token that is unknown or revoked, or a token
     │                        id that is missing or not that account's            → 404
     ├── ResetNotFound        a password-reset link that is unknown, used or expired → 404
     ├── InvitationNotFound   a sign-up invitation that is unknown, used, revoked,
     │                        expired or for another address                     → 404
     ├── LastAdministrator    /admin revoking, disabling or deleting the only
     │                        enabled administrator                              → 409
     ├── AddressTaken         creating an account whose address exists            → 409
     ├── AliasRefused         an alias that would shadow an account, or names an
     │                        address with no account (``python -m mailstore alias``)
     ├── FolderError          the IMAP folder API's refusals; ``code`` names the
     │    │                   case for the gateway (its RFC 5530 response code)
     │    ├── FolderNotFound  no folder of that name in the account ("nonexistent") → 404
     │    ├── FolderExists    CREATE/RENAME onto a taken name ("alreadyexists")   → 409
     │    ├── FolderHasChildren DELETE of a folder with subfolders ("haschildren") → 409
     │    ├── FolderRefused   deleting a standard folder, renaming a folder into
     │    │                   its own subtree ("cannot")                         → 409
     │    ├── FolderNotEmpty  the web's delete of a folder that holds messages
     │    │                   ("inuse"; the web asks to move them first)        → 409
     │    ├── TooManySubscriptions SUBSCRIBE past db.subscriptions'
     │    │                   MAX_SUBSCRIPTIONS ("limit")                        → 409
     │    ├── FolderNotReady  its old entries are still being numbered
     │    │                   (uid_backfill; "unavailable")                       → 503
     │    └── ModseqForgotten changes since a MODSEQ whose expunges are forgotten
     │                        ("forgotten"; RFC 7162 §3.2.5)                     → 410
     ├── MaildropInUse        another POP3 session holds the account's maildrop
     │                        lock (RFC 1939 §8; "inuse")                         → 409
     ├── MessageTooBig        an APPEND larger than the store takes ("toobig")   → 413
 ├── OverQuota            an APPEND, COPY or draft that would take the account
 │                        past its storage quota (mailstore.quotas; "overquota") → 409
     ├── SearchTooCostly      an IMAP SEARCH that would read more messages than one
     │                        request may (db/imap_search.py; "limit")           → 413
     ├── InvalidRequest       a request's fields fail validation                  → 422
     │    └── InvalidSearch   the ``q`` of a search does not parse
     ├── LoginThrottled       too many failed logins for the account or from the
     │                        client (``logins.py``); no bcrypt was run; try again
     │                        after ``retry_after``                              → 429
     ├── Overloaded           too many password checks are already waiting for a
     │                        CPU (``limiter.py``); try again after ``retry_after``  → 503
     └── InvalidEnvelope      a broker message lacks the contract's properties or
                              headers; the consumer dead-letters it at once
"""

from __future__ import annotations


class MailstoreError(Exception):
    """Base of every error the mail store raises on purpose."""


class AccountNotFound(MailstoreError):
    def __init__(self, address: str) -> None:
        super().__init__(f"no account {address!r}")
        self.address = address


class AliasRefused(MailstoreError):
    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"alias {address!r}: {reason}")
        self.address = address
        self.reason = reason


class ListRefused(MailstoreError):
    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"list {address!r}: {reason}")
        self.address = address
        self.reason = reason


class CatchallRefused(MailstoreError):
    def __init__(self, domain: str, reason: str) -> None:
        super().__init__(f"catch-all of {domain!r}: {reason}")
        self.domain = domain
        self.reason = reason


class MessageNotFound(MailstoreError):
    def __init__(self, entry_id: int) -> None:
        super().__init__(f"no message {entry_id}")
        self.entry_id = entry_id


class SessionNotFound(MailstoreError):
    # Carries no secret: the message may end up in a log.
    def __init__(self) -> None:
        super().__init__("no such session")


class TokenNotFound(MailstoreError):
    def __init__(self, token_id: int | None = None) -> None:
        super().__init__("no such token" if token_id is None else f"no token {token_id}")
        self.token_id = token_id


class ResetNotFound(MailstoreError):
    # Carries no secret: the message may end up in a log.
    def __init__(self) -> None:
        super().__init__("no such password reset")


class InvitationNotFound(MailstoreError):
    # Unknown, used, revoked, expired or for another address: one answer for all.
    def __init__(self) -> None:
        super().__init__("no such invitation")


class LastAdministrator(MailstoreError):
    """Revoking, disabling or deleting the only enabled administrator from /admin: nobody
    would be left to undo it there (the CLI still can: it has the server)."""

    def __init__(self, address: str) -> None:
        super().__init__(f"{address!r} is the last administrator")
        self.address = address


class AddressTaken(MailstoreError):
    def __init__(self, address: str) -> None:
        super().__init__(f"{address!r} is taken")
        self.address = address


class FolderError(MailstoreError):
    """``code``: which refusal, for the IMAP gateway's response code."""

    code = ""
    status = 400

    def __init__(self, name: str) -> None:
        super().__init__(f"{self.code}: {name!r}")
        self.name = name


class FolderNotFound(FolderError):
    code, status = "nonexistent", 404


class FolderExists(FolderError):
    code, status = "alreadyexists", 409


class FolderHasChildren(FolderError):
    code, status = "haschildren", 409


class FolderRefused(FolderError):
    code, status = "cannot", 409


class FolderNotEmpty(FolderError):
    code, status = "inuse", 409


class TooManySubscriptions(FolderError):
    code, status = "limit", 409


class FolderNotReady(FolderError):
    code, status = "unavailable", 503


class ModseqForgotten(FolderError):
    code, status = "forgotten", 410


class MaildropInUse(MailstoreError):
    """The POP3 lock (db.pop3_locks) is held by another session and has not expired."""

    def __init__(self, address: str) -> None:
        super().__init__(f"the maildrop of {address!r} is in use")
        self.address = address


class MessageTooBig(MailstoreError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} octets")
        self.limit = limit


class OverQuota(MailstoreError):
    """The change would leave the account holding more than its limit (RFC 9208 §4.3's
    OVERQUOTA for IMAP); nothing of it was stored."""

    def __init__(self, *, used: int, limit: int) -> None:
        super().__init__(f"the mailbox would hold {used} of its {limit} bytes")
        self.used = used
        self.limit = limit


class SearchTooCostly(MailstoreError):
    def __init__(self, messages: int, octets: int) -> None:
        super().__init__(f"the search would read {messages} messages, {octets} octets")
        self.messages = messages
        self.octets = octets


class InvalidRequest(MailstoreError):
    """``fields`` maps each offending field to what is wrong with it."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in fields.items()))
        self.fields = fields


class InvalidSearch(InvalidRequest):
    def __init__(self, problem: str) -> None:
        super().__init__({"q": problem})


class LoginThrottled(MailstoreError):
    """``retry_after``: whole seconds until the attempt would be admitted."""

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after} s")
        self.retry_after = retry_after


class Overloaded(MailstoreError):
    """``retry_after``: whole seconds after which the caller may try again."""

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(f"overloaded; retry after {retry_after} s")
        self.retry_after = retry_after


class InvalidEnvelope(MailstoreError):
    """A broker message that breaks the AMQP contract of docs/architecture.md."""
