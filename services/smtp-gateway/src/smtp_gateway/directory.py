"""The mail store's directory, as the gateway asks it: does a recipient reach anyone,
does an account exist, which aliases may it send as, is a login valid. The HTTP
contract is in docs/architecture.md ("mailstore's internal HTTP API").

Every failure to get an answer is :class:`~smtp_gateway.errors.DirectoryUnavailable`,
never "no": RCPT then gets a temporary 451 4.4.3 and the sender retries, where a
guessed 550 would bounce real mail and a guessed 250 would accept mail for nobody.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp
from yarl import URL

from smtp_gateway.errors import DirectoryTimeout, DirectoryUnavailable, LoginThrottled

log = logging.getLogger(__name__)

# Bounds the memory a flood of RCPTs to random addresses can take.
CACHE_MAX_ENTRIES = 10_000
# The mail store's two existence questions (docs/architecture.md), and its answers:
# ``GET /v1/mailboxes/{address}`` (an account) and ``GET /v1/recipients/{address}``
# (anyone reached: an account, a subaddress, an alias, a list, a role address, a
# catch-all). REFUSED: a list whose posting policy refuses the sender asked about.
MAILBOXES = "mailboxes"
RECIPIENTS = "recipients"
EXISTS, MISSING, DISABLED, REFUSED = "exists", "missing", "disabled", "refused"
# A recipient whose every account is at its storage quota (issue 16): 452 4.2.2 at RCPT.
FULL = "full"
# A state and, for a recipient, the most bytes one account behind it may still take
# (None: no limit, or a mail store from before quotas).
Answer = tuple[str, int | None]


@dataclass(frozen=True, slots=True)
class Account:
    """A verified login: the account's canonical address as the mail store has it."""

    address: str
    name: str


class _TTLCache:
    """A small LRU of mailbox answers, each with its own expiry."""

    def __init__(self, *, max_entries: int) -> None:
        self._entries: OrderedDict[str, tuple[float, Answer]] = OrderedDict()
        self._max = max_entries

    def get(self, key: str) -> Answer | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: Answer, ttl: float) -> None:
        self._entries[key] = (time.monotonic() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def clear(self) -> int:
        """Drop every entry; how many there were."""
        count = len(self._entries)
        self._entries.clear()
        return count


class Directory:
    """A client of the mail store's directory endpoints, over one shared HTTP session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        *,
        timeout: float,
        auth_timeout: float,
        positive_ttl: float,
        negative_ttl: float,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        # A login check runs a bcrypt (and may queue for one): a budget of its own.
        self._auth_timeout = aiohttp.ClientTimeout(total=auth_timeout)
        self._positive_ttl = positive_ttl
        self._negative_ttl = negative_ttl
        self._cache = _TTLCache(max_entries=CACHE_MAX_ENTRIES)
        # Counts forget() calls: an answer asked for before one is not cached after it.
        self._generation = 0

    def __repr__(self) -> str:
        return f"<Directory {self._base}>"  # not the token

    async def mailbox_exists(self, address: str) -> bool:
        """Whether ``address`` is an account that takes mail (not missing nor disabled)."""
        return await self.mailbox_state(address) == EXISTS

    async def mailbox_state(self, address: str) -> str:
        """``GET /v1/mailboxes/{address}``: EXISTS or DISABLED (200, by its ``disabled``),
        MISSING (404); DirectoryUnavailable for anything else."""
        return (await self._cached(MAILBOXES, address))[0]

    async def recipient_exists(self, address: str) -> bool:
        """Whether mail to ``address`` reaches anyone who takes mail."""
        return await self.recipient_state(address) == EXISTS

    async def recipient_state(self, address: str, sender: str | None = None) -> str:
        """``GET /v1/recipients/{address}?sender=``: does mail to it from ``sender``
        reach anyone (an account, a subaddress, an alias, a list, a role address, a
        catch-all)? The RCPT check: EXISTS, DISABLED (only disabled accounts behind it),
        REFUSED (a list whose posting policy refuses ``sender``), FULL (every account
        behind it at its quota) or MISSING.

        ``sender`` is the one the gateway vouches for (handler.DeliveryHandler.handle_rcpt):
        the authenticated submitter, else MAIL FROM; None or "" for the null sender. The
        answer is cached per recipient and sender, since a list's depends on both."""
        return (await self._cached(RECIPIENTS, address, sender or None))[0]

    async def recipient_room(self, address: str, sender: str | None = None) -> int | None:
        """The most bytes one account behind ``address`` may still take (None: no limit),
        from the same cached answer as recipient_state: the end-of-DATA quota check."""
        return (await self._cached(RECIPIENTS, address, sender or None))[1]

    async def aliases(self, account: str) -> frozenset[str]:
        """``GET /v1/accounts/{account}/aliases``: the aliases it may send as. Not cached:
        asked only when a message names a sender other than the account itself."""
        url = URL(f"{self._base}/v1/accounts/{_segment(account)}/aliases", encoded=True)
        try:
            async with self._session.get(
                url, headers=self._headers, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    raise DirectoryUnavailable(f"aliases answered {response.status}")
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise DirectoryUnavailable(f"aliases lookup failed: {exc!r}") from None
        found = body.get("aliases") if isinstance(body, dict) else None
        if not isinstance(found, list) or not all(isinstance(a, str) for a in found):
            raise DirectoryUnavailable("aliases answered 200 without a list")
        return frozenset(found)

    async def probe(self, address: str) -> None:
        """Ask about ``address`` past the cache, for /readyz; raises DirectoryUnavailable."""
        await self._lookup(RECIPIENTS, address)

    async def _cached(self, kind: str, address: str, sender: str | None = None) -> Answer:
        # No address holds a line break (it came on one SMTP command line): the
        # sender's keys never meet another recipient's.
        key = f"{kind}/{address}" if sender is None else f"{kind}/{address}\n{sender}"
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        generation = self._generation
        state = await self._lookup(kind, address, sender)
        if generation != self._generation:
            # The directory changed while we asked: the answer may predate the change.
            # Used for this RCPT (it was true when asked), but not kept.
            return state
        # A new account should become deliverable soon, so "no" is kept for less long.
        ttl = self._negative_ttl if state[0] == MISSING else self._positive_ttl
        self._cache.put(key, state, ttl)
        return state

    def forget(self) -> int:
        """Drop every cached answer: the mail store said that who some address reaches
        changed (a ``directory`` event, directory_events.py). All of them, because an
        alias, a list or a catch-all can lead to the account that changed. How many
        answers were dropped."""
        self._generation += 1
        return self._cache.clear()

    async def verify(self, address: str, password: str, *, client: str) -> Account | None:
        """``POST /v1/auth/verify``: the account on 200, None on 401. Never cached.

        ``client`` is the SMTP client's address: the mail store limits failed logins per
        client and per account across every channel, and answers 429 (LoginThrottled)
        without checking when a limit is reached. DirectoryTimeout past the login budget,
        DirectoryUnavailable on any other failure (503 included: the mail store's bcrypt
        queue is full, a temporary refusal).
        """
        url = URL(f"{self._base}/v1/auth/verify")
        payload = {"address": address, "password": password, "client": client, "channel": "smtp"}
        try:
            async with self._session.post(
                url, json=payload, headers=self._headers, timeout=self._auth_timeout
            ) as response:
                if response.status == 401:
                    return None
                if response.status == 429:
                    raise LoginThrottled(retry_after=_retry_after(response.headers))
                if response.status != 200:
                    raise DirectoryUnavailable(f"auth/verify answered {response.status}")
                body = await response.json()
        except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
            raise DirectoryTimeout(f"auth/verify failed: {exc!r}") from None
        except (aiohttp.ClientError, ValueError) as exc:
            # ValueError: a 200 whose body is not JSON.
            raise DirectoryUnavailable(f"auth/verify failed: {exc!r}") from None
        if not isinstance(body, dict) or not isinstance(body.get("address"), str):
            raise DirectoryUnavailable("auth/verify answered 200 without an address")
        return Account(address=body["address"], name=str(body.get("name") or ""))

    async def _lookup(self, kind: str, address: str, sender: str | None = None) -> Answer:
        url = URL(f"{self._base}/v1/{kind}/{_segment(address)}", encoded=True)
        if sender is not None:
            url = url.with_query(sender=sender)
        try:
            async with self._session.get(
                url, headers=self._headers, timeout=self._timeout
            ) as response:
                status = response.status
                body = await response.json() if status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            # ValueError: a 200 whose body is not JSON.
            raise DirectoryUnavailable(f"{kind} lookup failed: {exc!r}") from None
        if status == 200:
            # A mail store from before disabled accounts (or lists, or quotas) says
            # nothing: it exists (and has room).
            found = body if isinstance(body, dict) else {}
            room = found.get("room")
            room = room if type(room) is int and room >= 0 else None
            if found.get("disabled") is True:
                return DISABLED, room
            if found.get("sender_refused") is True:
                return REFUSED, room
            return (FULL if found.get("full") is True else EXISTS), room
        if status == 404:
            return MISSING, None
        # 401/403 is our token missing/wrong (a misconfiguration, not "no such mailbox");
        # 5xx is the mail store's own trouble.
        raise DirectoryUnavailable(f"{kind} lookup answered {status}")


def _segment(address: str) -> str:
    # RFC 5321 §4.1.2 lets a local part hold "/", "?" or "%" (and quoted ones
    # anything): encode all of it so the address stays one path segment.
    return quote(address, safe="@")


def _retry_after(headers: Mapping[str, str]) -> int:
    value = headers.get("Retry-After", "")
    return int(value) if value.isascii() and value.isdigit() else 1


async def probe_or_reason(directory: Directory, address: str) -> str | None:
    """None when the directory answers (yes or no) about ``address``, else why not."""
    try:
        await directory.probe(address)
    except DirectoryUnavailable as exc:
        return f"mailstore directory unavailable: {exc}"
    return None
