"""Small types shared across the web service's modules."""

from __future__ import annotations

from dataclasses import dataclass, field

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
