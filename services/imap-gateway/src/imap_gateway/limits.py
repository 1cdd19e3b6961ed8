"""Connection limits of one replica: per source address and per account.

- :class:`SourceLimits`: connections open at once per source (an IPv4 address, an
  IPv6 /64), across both listeners; beyond it the listener answers
  ``* BYE [UNAVAILABLE]`` and closes (RFC 9051 §7.1.5, RFC 5530).
- :class:`AccountLimits`: a :class:`~imap_gateway.backend.Backend` around another
  that allows at most so many logged-in sessions per account; beyond it the login
  is refused with :class:`~imap_gateway.backend.SessionLimitReached` (NO [LIMIT]).

Both count on this replica only: the service keeps no shared state, so with N
replicas an account may hold N times the limit (the mail store may hold its own).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable, Sequence

from imap_gateway import backend as bk

SOURCE = "connections_per_source"
ACCOUNT = "connections_per_account"
LIMITS = (SOURCE, ACCOUNT)


def source_key(peer_ip: str) -> str:
    """What counts as one source: an IPv4 address, or the /64 of an IPv6 address.

    An IPv6 host usually holds a whole /64 and can connect from any address in it;
    counting addresses would give it 2**64 fresh starts. An IPv4-mapped IPv6
    address counts as its IPv4 address (smtplib_common's peer_key, same rule).
    """
    try:
        ip = ipaddress.ip_address(peer_ip.split("%", 1)[0])
    except ValueError:
        return peer_ip
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class SourceLimits:
    """Open connections per source; memory is bounded by the connections open."""

    def __init__(self, max_connections: int) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be positive")
        self.max_connections = max_connections
        self._open: Counter[str] = Counter()

    def open_connections(self, peer_ip: str) -> int:
        return self._open.get(source_key(peer_ip), 0)

    def admit(self, peer_ip: str) -> bool:
        """Count a new connection from ``peer_ip``; False (not counted) when it is over."""
        key = source_key(peer_ip)
        if self._open[key] >= self.max_connections:
            return False
        self._open[key] += 1
        return True

    def release(self, peer_ip: str) -> None:
        """A connection :meth:`admit` counted has ended."""
        key = source_key(peer_ip)
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]


class AccountLimits:
    """A Backend that admits at most ``max_sessions`` logged-in sessions per account."""

    def __init__(
        self,
        inner: bk.Backend,
        max_sessions: int,
        *,
        on_limit: Callable[[str], None] | None = None,
    ) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be positive")
        self.inner = inner
        self.max_sessions = max_sessions
        self._on_limit = on_limit
        self._open: Counter[str] = Counter()

    def sessions(self, username: str) -> int:
        return self._open.get(username.lower(), 0)

    async def authenticate(self, credentials: bk.Credentials) -> bk.UserSession:
        # Checked after the password, so that the answer says nothing of an account
        # to a client that does not know its password.
        user = await self.inner.authenticate(credentials)
        key = credentials.username.lower()
        if self._open[key] >= self.max_sessions:
            await user.logout()
            if self._on_limit is not None:
                self._on_limit(ACCOUNT)
            raise bk.SessionLimitReached(credentials.username)
        self._open[key] += 1
        return _CountedUser(user, lambda: self._release(key))

    def _release(self, key: str) -> None:
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]


class _CountedUser:
    """A UserSession whose logout gives its account's place back, once."""

    def __init__(self, inner: bk.UserSession, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    async def logout(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()
        await self._inner.logout()

    # --- delegated as they are -------------------------------------------------------

    async def list_folders(self) -> Sequence[bk.FolderInfo]:
        return await self._inner.list_folders()

    async def create_folder(self, name: str, *, special_use: tuple[str, ...] = ()) -> None:
        await self._inner.create_folder(name, special_use=special_use)

    async def delete_folder(self, name: str) -> None:
        await self._inner.delete_folder(name)

    async def rename_folder(self, name: str, new_name: str) -> None:
        await self._inner.rename_folder(name, new_name)

    async def subscribe(self, name: str) -> None:
        await self._inner.subscribe(name)

    async def unsubscribe(self, name: str) -> None:
        await self._inner.unsubscribe(name)

    async def subscriptions(self) -> Sequence[str]:
        return await self._inner.subscriptions()

    async def status(self, name: str) -> bk.FolderStatus:
        return await self._inner.status(name)

    async def select(self, name: str, *, read_only: bool) -> bk.SelectedFolder:
        return await self._inner.select(name, read_only=read_only)

    async def append(self, name: str, messages: Sequence[bk.NewMessage]) -> bk.AppendResult:
        return await self._inner.append(name, messages)

    async def quota(self) -> bk.Quota:
        if not isinstance(self._inner, bk.QuotaReporting):
            raise bk.BackendUnavailable("this backend knows no quota")
        return await self._inner.quota()

    # --- POP3's maildrop lock (bk.MaildropLocking), when the inner session has it -------

    def _locking(self) -> bk.MaildropLocking:
        if not isinstance(self._inner, bk.MaildropLocking):
            raise bk.BackendUnavailable("this backend cannot lock a maildrop")
        return self._inner

    async def lock_maildrop(self, holder: str, *, seconds: int) -> None:
        await self._locking().lock_maildrop(holder, seconds=seconds)

    async def unlock_maildrop(self, holder: str) -> None:
        await self._locking().unlock_maildrop(holder)
