"""The web service's domain errors. The HTTP edge (``middlewares.py``) maps them to statuses.

::

    WebmailError
     ├── MailstoreUnavailable  the mail store did not answer in time, or failed (5xx)  → 503
     ├── NotFound              a message, attachment or account that is missing or not
     │                         the signed-in user's (the two look the same)           → 404
     ├── AddressTaken          registering an address that has an account            → 409
     ├── InvalidFields         a form or JSON body fails validation; ``fields`` maps
     │    │                    each field to what is wrong                           → 422
     │    ├── FolderRefused    the mail store refused a folder change; ``code`` says
     │    │                    why (alreadyexists, inuse, haschildren, cannot)       → 422
     │    └── OverQuota        the account's mailbox is full: a draft or the Sent
     │                         copy of a message would not fit (issue 16)            → 422
     ├── MalformedBody         a body that cannot be parsed at all: a broken multipart,
     │                         bytes that are not UTF-8, JSON nested past parsing    → 400
     ├── SendRejected          the submission listener refused the message, with
     │                         reasons per field (unknown recipient, too large)      → 422
     ├── SubmissionUnavailable the submission listener could not be reached / 4xx    → 503
     ├── NotAuthenticated      no valid session or token                             → login / 401
     ├── BadCredentials        a login with a wrong address or password              → form / 401
     ├── CsrfRejected          a state-changing request without a valid CSRF token   → 403
     ├── RegistrationClosed    sign-up under LOCALPOST_REGISTRATION=invite or closed → 403
     └── RateLimited           too many attempts; ``retry_after`` seconds             → 429
"""

from __future__ import annotations


class WebmailError(Exception):
    """Base of every error the web service raises on purpose."""


class MailstoreUnavailable(WebmailError):
    pass


class NotFound(WebmailError):
    pass


class AddressTaken(WebmailError):
    pass


class InvalidFields(WebmailError):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in fields.items()))
        self.fields = fields


class FolderRefused(InvalidFields):
    """The mail store's 409 on a folder change; the message is for the user."""

    MESSAGES = {
        "alreadyexists": "A folder of that name exists already.",
        "inuse": "This folder holds messages: move or delete them first.",
        "haschildren": "This folder has subfolders: delete them first.",
        "cannot": "Standard folders cannot be renamed or deleted.",
    }

    def __init__(self, code: str) -> None:
        super().__init__({"name": self.MESSAGES.get(code, self.MESSAGES["cannot"])})
        self.code = code


class OverQuota(InvalidFields):
    """The mail store's 409 ``overquota``, or Send refused before submitting: the message
    is for the user, shown above the compose form (``form``)."""

    MESSAGE = (
        "Your mailbox is full: nothing was sent or saved. Empty the Trash or delete"
        " messages you no longer need to make room."
    )

    def __init__(self) -> None:
        super().__init__({"form": self.MESSAGE})


class MalformedBody(WebmailError):
    pass


class SendRejected(InvalidFields):
    pass


class SubmissionUnavailable(WebmailError):
    pass


class NotAuthenticated(WebmailError):
    pass


class CsrfRejected(WebmailError):
    pass


class RegistrationClosed(WebmailError):
    """Sign-up is not open; the message says what to do instead."""


class RateLimited(WebmailError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited; retry after {retry_after} s")
        self.retry_after = retry_after


class BadCredentials(WebmailError):
    """Wrong address or password; deliberately silent about which."""
