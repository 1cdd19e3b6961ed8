"""Small types shared across the web service's modules."""

from __future__ import annotations

from dataclasses import dataclass, field

from webmail.drafts import Attachment
from webmail.mailstore_client import Account


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for, and how it proved it."""

    account: Account
    # "session" (browser cookie) or "token" (Authorization: Bearer).
    via: str
    # The session secret for "session": it is what CSRF tokens are bound to.
    session: str | None = field(default=None, repr=False)
    # The session's id in the mail store's sessions list ("this browser").
    session_id: int | None = None

    @property
    def address(self) -> str:
        return self.account.address


@dataclass(slots=True)
class ComposeForm:
    """A compose form: its text fields, the attachments it keeps (``keep``: references
    "<message id>:<attachment index>" to attachments already stored in the account's
    messages) and the files chosen now."""

    values: dict[str, str] = field(default_factory=dict)
    keep: list[str] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)
    too_large: bool = False

    @property
    def csrf_token(self) -> str | None:
        return self.values.get("csrf_token")  # csrf.FIELD, which imports the app's keys
