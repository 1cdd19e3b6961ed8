"""Backend errors to POP3 replies with their response codes, in one place.

RFC 3206 and RFC 2449 §8 define the codes; the text never says which of user name
or password was wrong.
"""

from __future__ import annotations

from imap_gateway import backend as bk
from imap_gateway.pop3 import replies


def reply_for(error: bk.BackendError, suffix: str = "") -> bytes:
    """The -ERR line for ``error``, its text followed by ``suffix``."""
    text, code = _text_and_code(error)
    return replies.err(text + suffix, code)


def _text_and_code(error: bk.BackendError) -> tuple[str, str]:
    if isinstance(error, bk.AuthenticationFailed):
        return "Authentication failed", replies.AUTH
    if isinstance(error, bk.AuthenticationThrottled):
        # Temporary by nature: a mail program retries later rather than asking again.
        return "Too many failed logins; try again later", replies.SYS_TEMP
    if isinstance(error, bk.AccountDisabled):
        return "This account may not log in", replies.SYS_PERM
    if isinstance(error, bk.SessionLimitReached | bk.MaildropInUse):
        return "The maildrop is in use by another session", replies.IN_USE
    return "The mail store cannot answer now; try again later", replies.SYS_TEMP
