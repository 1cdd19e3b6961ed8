"""QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA, and SETQUOTA refused.

Each account has one quota root, ``""``, over all its folders, with one resource,
STORAGE, in units of 1024 octets (RFC 9208 §5.1): the bytes of every message the
account holds, each counted once however many folders hold it (the mail store's
accounts.quota_used). Limits are set by administrators (``python -m mailstore admin
quota``, the web's admin pages), never by the user: SETQUOTA is NO [NOPERM].
"""

from __future__ import annotations

from imap_gateway import backend as bk
from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer, no
from imap_gateway.session.state import Session
from imap_gateway.wire import codes, encoder
from imap_gateway.wire import commands as cmd

ROOT = ""
STORAGE = b"STORAGE"
KIB = 1024


async def getquotaroot(s: Session, c: cmd.GetQuotaRoot) -> Answer:
    user = s.require_user()
    # RFC 9208 §4.3: the mailbox must exist; status() is NO [NONEXISTENT] otherwise.
    await user.status(c.mailbox)
    s.out.untagged(b"QUOTAROOT", encoder.mailbox(c.mailbox, utf8=s.utf8), encoder.string(ROOT))
    s.out.untagged(b"QUOTA", encoder.string(ROOT), await _resources(user))
    return ok("GETQUOTAROOT completed")


async def getquota(s: Session, c: cmd.GetQuota) -> Answer:
    if c.root != ROOT:
        raise no("No such quota root", codes.NONEXISTENT)
    resources = await _resources(s.require_user())
    s.out.untagged(b"QUOTA", encoder.string(ROOT), resources)
    return ok("GETQUOTA completed")


async def setquota(s: Session, c: cmd.SetQuota) -> Answer:
    raise no("Only an administrator sets quotas (in the webmail)", codes.NOPERM)


async def _resources(user: bk.UserSession) -> bytes:
    """``(STORAGE used limit)`` in KiB, usage rounded up; ``()`` without a limit, which
    RFC 9208 §4.2 says is how a root with no limited resource answers."""
    if not isinstance(user, bk.QuotaReporting):
        raise bk.BackendUnavailable("this backend knows no quota")
    found = await user.quota()
    if found.limit is None:
        return b"()"
    used = -(-found.used // KIB)
    return encoder.paren_list([STORAGE, b"%d" % used, b"%d" % (found.limit // KIB)])
