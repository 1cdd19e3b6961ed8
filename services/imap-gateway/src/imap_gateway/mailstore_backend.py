"""The backend Protocols (:mod:`imap_gateway.backend`) over the mail store's HTTP API.

Every call goes through one shared aiohttp session to ``MAILSTORE_URL`` with the
bearer ``MAILSTORE_TOKEN``; routes are ``/v1/accounts/{address}/imap/...`` and
``POST /v1/auth/verify`` (channel ``imap``). The API's refusals are mapped to the
Protocol's error classes in one place, :func:`_error_for`:

==========================================  =====================================
mail store answer                           backend error
==========================================  =====================================
401 from /auth/verify                       AuthenticationFailed
429 from /auth/verify                       AuthenticationThrottled
404 ``nonexistent`` (or no code)            FolderNotFound
404 without ``nonexistent`` from ``/raw``   MessageExpunged (gone since ``/fetch``)
409 ``alreadyexists`` / ``haschildren``     FolderExists / FolderHasChildren
409 ``inuse`` (the POP3 maildrop lock)      MaildropInUse
409 ``limit`` (too many subscriptions)      LimitReached
409 ``overquota`` (APPEND, COPY)            QuotaExceeded
409 ``cannot``, 422 (an invalid name)       OperationNotAllowed
413 ``toobig``                              MessageTooBig
413 ``limit``                               SearchTooCostly
503, 5xx, time-outs, connection errors      BackendUnavailable
==========================================  =====================================

FETCH streams: ``/fetch`` answers NDJSON, read line by line while the session
writes; ENVELOPE and BODYSTRUCTURE are written by :mod:`imap_gateway.structure`
from the stored description; ``BODY[section]<partial>`` is a byte range of the
raw message (:func:`imap_gateway.structure.section_range`) read from ``/raw`` in
chunks, so a large message passes through, never held whole; a message of at most
32 KiB comes with its ``/fetch`` line instead (``octets``), one request for the whole
FETCH.

Live changes: one AMQP consumer per process (:class:`LiveChannel`) binds an
exclusive auto-delete queue to ``<prefix>.events`` and hands each ``stored`` or
``changed`` event to the feeds of the folder it names (:class:`LiveHub`). A feed
woken so asks ``/changes`` since the MODSEQ it has seen and turns the answer
into EXISTS / EXPUNGE / FLAGS changes. While the channel is down, and after an
event whose asking failed (the mail store restarting), a feed asks ``/changes``
before each command (:meth:`MailstoreFeed.refresh`) and every
:data:`IDLE_POLL_SECONDS` during IDLE.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aio_pika
import aiohttp
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from yarl import URL

from imap_gateway import backend as bk
from imap_gateway import sections, structure
from imap_gateway.backends import ServiceBackend
from imap_gateway.settings import Config
from imap_gateway.wire import flags as wire_flags
from imap_gateway.wire.commands import StoreMode
from imap_gateway.wire.fetch import HEADER, HEADER_FIELDS, HEADER_FIELDS_NOT, Section
from imap_gateway.wire.search import (
    SearchAge,
    SearchAnd,
    SearchDate,
    SearchHeader,
    SearchKey,
    SearchKeyword,
    SearchModSeq,
    SearchNot,
    SearchOr,
    SearchSet,
    SearchSimple,
    SearchSize,
    SearchText,
)
from imap_gateway.wire.sequence import SequenceSet

__all__ = [
    "CHUNK",
    "IDLE_POLL_SECONDS",
    "LiveChannel",
    "LiveHub",
    "MailstoreBackend",
    "MailstoreFeed",
    "create",
    "search_program",
]

log = logging.getLogger(__name__)

# /raw is read in chunks of this size and written on as they come.
CHUNK = 64 * 1024
# The longest NDJSON line /fetch may send (a message's structure description).
MAX_LINE = 16 * 1024 * 1024
# While the live channel is down, an IDLE session asks /changes this often.
IDLE_POLL_SECONDS = 2.0
# One connection attempt to the broker; the robust connection then retries.
BROKER_CONNECT_TIMEOUT = 10.0
# FETCH items that need the message's structure description.
_STRUCTURE_ITEMS = frozenset({"ENVELOPE", "BODYSTRUCTURE", "BODY", bk.SECTIONS})


def _structure_wanted(needs: frozenset[str]) -> bool | str:
    """What /fetch is asked of each message's description: its envelope alone for a
    list of messages (FETCH ENVELOPE, the commonest FETCH of a mail program), which
    is about half of it to read, send and decode; all of it for BODY, BODYSTRUCTURE
    and sections."""
    wanted = needs & _STRUCTURE_ITEMS
    if wanted == {"ENVELOPE"}:
        return "envelope"
    return bool(wanted)


PROBE_ADDRESS = "readiness-probe@localpost.invalid"
SYSTEM_FLAGS = (
    wire_flags.ANSWERED,
    wire_flags.FLAGGED,
    wire_flags.DELETED,
    wire_flags.SEEN,
    wire_flags.DRAFT,
)


# --- HTTP --------------------------------------------------------------------------------


class ModseqForgotten(bk.BackendUnavailable):
    """``/changes`` since a MODSEQ whose expunges the store has forgotten (410)."""


@dataclass(frozen=True, slots=True)
class Found:
    """What ``/changes`` answered."""

    vanished: tuple[int, ...]
    changed: tuple[bk.MessageFlags, ...]
    highestmodseq: int


def _code(body: Any) -> Any:
    return body.get("code") if isinstance(body, dict) else None


def _error_for(status: int, body: Any, what: str) -> bk.BackendError:
    """The backend error for a refusal of the mail store (the table above)."""
    code = _code(body)
    if status == 404:
        return bk.FolderNotFound(what)
    if status == 409:
        if code == "alreadyexists":
            return bk.FolderExists(what)
        if code == "haschildren":
            return bk.FolderHasChildren(what)
        if code == "inuse":
            return bk.MaildropInUse(what)
        if code == "limit":
            return bk.LimitReached(what)
        if code == "overquota":
            return bk.QuotaExceeded(what)
        return bk.OperationNotAllowed(what)
    if status == 413:
        return bk.SearchTooCostly(what) if code == "limit" else bk.MessageTooBig(what)
    if status == 422:
        return bk.OperationNotAllowed(f"{what}: {body}")
    if status == 410:
        return ModseqForgotten(what)
    return bk.BackendUnavailable(f"{what}: the mail store answered {status}")


class Client:
    """The one HTTP session to the mail store, and its timeouts."""

    def __init__(self, session: aiohttp.ClientSession, config: Config) -> None:
        self.session = session
        self.base = URL(config.mailstore_url)
        self.headers = {"Authorization": f"Bearer {config.mailstore_token}"}
        self.auth_timeout = aiohttp.ClientTimeout(total=config.auth_timeout)
        self.timeout = aiohttp.ClientTimeout(total=config.mailstore_timeout)
        # Streams may run long; each read must not wait longer than a call would.
        self.stream_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=config.mailstore_timeout, sock_read=config.mailstore_timeout
        )

    def url(self, address: str, path: str) -> URL:
        return self.base.with_path(f"/v1/accounts/{quote(address, safe='@')}/imap{path}")

    async def call(
        self,
        method: str,
        url: URL,
        *,
        what: str,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        data: Any = None,
    ) -> Any:
        """The JSON answer of a 2xx (None for 204), or the mapped backend error."""
        try:
            async with self.session.request(
                method,
                url,
                json=json_body,
                params=params,
                data=data,
                headers=self.headers,
                timeout=self.timeout,
            ) as response:
                if response.status == 204:
                    return None
                body = await _json_or_none(response)
                if response.status >= 300:
                    raise _error_for(response.status, body, what)
                return body
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise bk.BackendUnavailable(f"{what}: {exc!r}") from None

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: URL, *, what: str, message: bool = False, **kwargs: Any
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A 2xx response to read as it comes; refusals raise as :meth:`call`'s. With
        ``message`` (a request about one message), a 404 that names no folder is
        that message gone: MessageExpunged."""
        try:
            async with self.session.request(
                method, url, headers=self.headers, timeout=self.stream_timeout, **kwargs
            ) as response:
                if response.status >= 300:
                    body = await _json_or_none(response)
                    if message and response.status == 404 and _code(body) != "nonexistent":
                        raise bk.MessageExpunged(what)
                    raise _error_for(response.status, body, what)
                yield response
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise bk.BackendUnavailable(f"{what}: {exc!r}") from None


async def _json_or_none(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return None


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The NDJSON lines of a streamed body, each at most MAX_LINE octets."""
    buffer = bytearray()
    async for chunk in response.content.iter_any():
        buffer += chunk
        while (end := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            if line.strip():
                yield line
        if len(buffer) > MAX_LINE:
            raise bk.BackendUnavailable("a FETCH line longer than the gateway reads")
    if buffer.strip():
        yield bytes(buffer)


def _uid_set(uids: Iterable[int]) -> str:
    return str(SequenceSet.of(sorted(set(uids))))


def _expand(text: str) -> list[int]:
    """The UIDs of a set the mail store wrote ("1:3,7"); never ``*``."""
    found: list[int] = []
    for item in filter(None, text.split(",")):
        low, _, high = item.partition(":")
        found.extend(range(int(low), int(high or low) + 1))
    return found


def _flags_of(state: dict[str, Any]) -> frozenset[str]:
    return frozenset([*state["flags"], *state["keywords"]])


def _message_flags(state: dict[str, Any]) -> bk.MessageFlags:
    return bk.MessageFlags(int(state["uid"]), _flags_of(state), int(state["modseq"]))


# --- live changes ------------------------------------------------------------------------


class LiveHub:
    """Per (account, folder id), the feeds open in this process; whether the live
    channel that wakes them is up."""

    def __init__(self) -> None:
        self._feeds: dict[tuple[str, str], set[MailstoreFeed]] = defaultdict(set)
        self.up = False
        # Called with the address of each account a ``disabled`` event names (the
        # listeners end its sessions).
        self.on_disabled: list[Callable[[str], None]] = []

    def add(self, feed: MailstoreFeed) -> None:
        self._feeds[feed.key].add(feed)

    def discard(self, feed: MailstoreFeed) -> None:
        feeds = self._feeds.get(feed.key)
        if feeds is not None:
            feeds.discard(feed)
            if not feeds:
                del self._feeds[feed.key]

    def set_up(self, up: bool) -> None:
        if up != self.up:
            self.up = up
            # Events may have been lost while it was down (or feeds polled): catch up.
            for feeds in list(self._feeds.values()):
                for feed in feeds:
                    feed.poke()

    def publish(self, event: Any) -> None:
        """Wake the feeds of each folder an event names; end a disabled account's sessions."""
        if isinstance(event, dict) and event.get("event") == "disabled":
            account = event.get("account")
            if isinstance(account, str):
                for callback in self.on_disabled:
                    callback(account.lower())
            return
        if not isinstance(event, dict) or event.get("event") not in ("stored", "changed"):
            return
        entries = event.get("entries")
        if not isinstance(entries, list):
            return
        woken: set[tuple[str, str]] = set()
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            account, folder = entry.get("account"), entry.get("folder_id", entry.get("folder"))
            if isinstance(account, str) and isinstance(folder, str):
                woken.add((account.lower(), folder))
        for key in woken:
            for feed in self._feeds.get(key, ()):
                feed.poke()

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = json.loads(message.body)
        except ValueError:
            log.warning("ignored an event that is not JSON")
            return
        self.publish(event)


class LiveChannel:
    """One robust broker connection with an exclusive queue bound to ``<prefix>.events``
    (as the web's consumer); :meth:`start` returns at once and connects in the
    background."""

    def __init__(self, hub: LiveHub, *, url: str, prefix: str, reconnect_interval: float) -> None:
        self._hub = hub
        self._url = url
        self._prefix = prefix
        self._interval = reconnect_interval
        self._connection: aio_pika.RobustConnection | None = None
        self._setup: asyncio.Task[None] | None = None
        self._consuming = False

    def __repr__(self) -> str:
        return f"<LiveChannel prefix={self._prefix!r} up={self._hub.up}>"  # the URL has a password

    def start(self) -> None:
        connection = aio_pika.RobustConnection(
            URL(self._url),
            reconnect_interval=self._interval,
            fail_fast=False,
            client_properties={"connection_name": "imap-gateway"},
        )
        connection.close_callbacks.add(self._closed)
        connection.reconnect_callbacks.add(self._reconnected)
        self._connection = connection
        self._setup = asyncio.create_task(self._set_up(connection), name="imap-events-connect")

    async def close(self) -> None:
        if self._setup is not None:
            self._setup.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._setup
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
        self._hub.set_up(False)

    async def _set_up(self, connection: aio_pika.RobustConnection) -> None:
        await connection.connect(timeout=BROKER_CONNECT_TIMEOUT)
        while True:
            try:
                channel = await connection.channel()
                exchange = await channel.declare_exchange(
                    f"{self._prefix}.events", aio_pika.ExchangeType.FANOUT, durable=True
                )
                queue = await channel.declare_queue(exclusive=True, auto_delete=True)
                await queue.bind(exchange)
                await queue.consume(self._hub.on_message, no_ack=True)
            except (*CONNECTION_EXCEPTIONS, TimeoutError) as exc:
                log.warning("binding the IMAP events queue failed, retrying: %r", exc)
                await asyncio.sleep(self._interval)
                continue
            self._consuming = True
            self._hub.set_up(True)
            log.info("live changes: consuming %s.events", self._prefix)
            return

    def _closed(self, _connection: Any, exc: BaseException | None) -> None:
        if self._hub.up:
            log.warning("live changes down (broker connection lost: %r); sessions poll", exc)
        self._hub.set_up(False)

    def _reconnected(self, _connection: Any) -> None:
        if self._consuming:
            self._hub.set_up(True)
            log.info("live changes back (broker reconnected)")


class MailstoreFeed:
    """A selected folder's changes (:class:`~imap_gateway.backend.ChangeFeed`), read
    from ``/changes`` since the last MODSEQ seen whenever the hub pokes it."""

    def __init__(self, selected: MailstoreSelected, key: tuple[str, str]) -> None:
        self._selected = selected
        self.key = key
        self._hub = selected.user.backend.hub
        self._known: set[int] = set(selected.snapshot.uids)
        self._modseq = selected.snapshot.highestmodseq
        self._changes: list[bk.Change] = []
        self._ready = asyncio.Event()
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        # A change an event announced was not read (the mail store did not answer): the
        # event is spent, so ask again before the next command and at IDLE's next poll.
        self._missed = False
        self._hub.add(self)

    def poke(self) -> None:
        """Something changed in the folder: ask the store (once at a time)."""
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="imap-feed-refresh")

    async def _drain(self) -> None:
        while self._dirty and not self._closed:
            self._dirty = False
            try:
                await self._ask()
            except bk.BackendError as exc:
                self._missed = True
                log.warning("changes of a selected folder not read (asked again later): %s", exc)
                return

    async def _ask(self) -> None:
        async with self._lock:
            found = await self._selected.read_changes(self._modseq)
            if self._closed:
                return
            gone = tuple(uid for uid in found.vanished if uid in self._known)
            if gone:
                self._known.difference_update(gone)
                self._push(bk.MessagesExpunged(gone))
            added = [m for m in found.changed if m.uid not in self._known]
            new = tuple(m.uid for m in added)
            if new:
                self._known.update(new)
                self._push(bk.MessagesAdded(new, frozenset().union(*(m.flags for m in added))))
            for message in found.changed:
                if message.uid in new:
                    continue  # its flags come with it (the session FETCHes them)
                origin = self._selected if self._selected.made(message) else None
                self._push(bk.FlagsChanged(message, origin=origin))
            self._modseq = max(self._modseq, found.highestmodseq)
            self._missed = False

    def _push(self, change: bk.Change) -> None:
        self._changes.append(change)
        self._ready.set()

    def pending(self) -> list[bk.Change]:
        changes, self._changes = self._changes, []
        self._ready.clear()
        return changes

    async def refresh(self) -> None:
        """Before a command: ask the store when no live channel does or an event's
        asking failed (or finish the asking an event started, so the command sees
        what woke it)."""
        if not self._hub.up or self._missed:
            self._dirty = False
            await self._ask()
        elif self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def catch_up(self) -> None:
        """Read the store's changes now, not when its event arrives."""
        await self._ask()

    async def wait(self) -> None:
        while not self._ready.is_set():
            if self._hub.up and not self._missed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), IDLE_POLL_SECONDS)
            else:
                with contextlib.suppress(bk.BackendError):
                    await self._ask()
                if not self._ready.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._ready.wait(), IDLE_POLL_SECONDS)

    def close(self) -> None:
        self._closed = True
        self._hub.discard(self)
        if self._task is not None and not self._task.done():
            self._task.cancel()


class SharedReads:
    """``/changes`` of one folder from one MODSEQ, asked by several sessions at once,
    asked once: an event wakes every session of the folder (five in the benchmark's
    mixed load), and each would ask the same question.

    Only callers that arrive before the request goes out share it (it goes out on the
    event loop's next turn), so each answer is read after its caller asked: a session
    woken by an event always sees the change that the event announced.
    """

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str, str, int], asyncio.Task[Found]] = {}

    async def read(
        self, key: tuple[str, str, str, int], ask: Callable[[], Awaitable[Found]]
    ) -> Found:
        task = self._waiting.get(key)
        if task is None or task.done():
            task = asyncio.create_task(self._ask(key, ask), name="imap-shared-changes")
            # Retrieved even when every caller has gone (a session closed meanwhile).
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._waiting[key] = task
        # A caller cancelled (its session closing) must not cancel the others' answer.
        return await asyncio.shield(task)

    async def _ask(
        self, key: tuple[str, str, str, int], ask: Callable[[], Awaitable[Found]]
    ) -> Found:
        del self._waiting[key]  # from now on a new caller asks anew
        return await ask()


# --- the states --------------------------------------------------------------------------


class MailstoreBackend:
    """:class:`~imap_gateway.backends.ServiceBackend` over the mail store."""

    def __init__(self, client: Client, hub: LiveHub, *, broker: bool = True) -> None:
        self.client = client
        self.hub = hub
        self.broker = broker
        self.shared_changes = SharedReads()

    async def authenticate(self, credentials: bk.Credentials) -> MailstoreUser:
        client = self.client
        payload = {
            "address": credentials.username,
            "password": credentials.password,
            "client": credentials.client_address or "127.0.0.1",
            "channel": credentials.channel,
        }
        try:
            async with client.session.post(
                client.base.with_path("/v1/auth/verify"),
                json=payload,
                headers=client.headers,
                timeout=client.auth_timeout,
            ) as response:
                if response.status == 401:
                    raise bk.AuthenticationFailed(credentials.username)
                if response.status == 429:
                    raise bk.AuthenticationThrottled(credentials.username)
                if response.status == 422:  # an address the store cannot even take
                    raise bk.AuthenticationFailed(credentials.username)
                if response.status != 200:
                    raise bk.BackendUnavailable(f"auth/verify answered {response.status}")
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise bk.BackendUnavailable(f"auth/verify failed: {exc!r}") from None
        return MailstoreUser(self, str(body["address"]))

    async def unready_reason(self) -> str | None:
        client = self.client
        url = client.base.with_path(f"/v1/accounts/{PROBE_ADDRESS}/mailbox")
        try:
            async with client.session.get(
                url, headers=client.headers, timeout=client.timeout
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"mail store unreachable: {exc!r}"
        if status in (401, 403):
            return "mail store refuses MAILSTORE_TOKEN"
        if status not in (200, 404):
            return f"mail store answered {status}"
        if self.broker and not self.hub.up:
            return "broker not connected (live changes)"
        return None


class MailstoreUser:
    """One authenticated user (:class:`~imap_gateway.backend.UserSession`)."""

    def __init__(self, backend: MailstoreBackend, address: str) -> None:
        self.backend = backend
        self.address = address
        self.client = backend.client

    def url(self, path: str) -> URL:
        return self.client.url(self.address, path)

    async def list_folders(self) -> list[bk.FolderInfo]:
        body = await self.client.call("GET", self.url("/folders"), what="LIST")
        return [
            bk.FolderInfo(
                f["name"], tuple(f.get("special_use", ())), f["subscribed"], f["children"]
            )
            for f in body["folders"]
        ]

    async def create_folder(self, name: str, *, special_use: tuple[str, ...] = ()) -> None:
        body = {"name": name, "special_use": list(special_use)}
        await self.client.call("POST", self.url("/folders"), what=name, json_body=body)

    async def delete_folder(self, name: str) -> None:
        url = self.url("/folders/delete")
        await self.client.call("POST", url, what=name, json_body={"name": name})

    async def rename_folder(self, name: str, new_name: str) -> None:
        body = {"name": name, "new_name": new_name}
        await self.client.call("POST", self.url("/folders/rename"), what=name, json_body=body)

    async def _subscription(self, name: str, subscribed: bool) -> None:
        body = {"name": name, "subscribed": subscribed}
        url = self.url("/folders/subscription")
        await self.client.call("POST", url, what=name, json_body=body)

    async def subscribe(self, name: str) -> None:
        await self._subscription(name, True)

    async def unsubscribe(self, name: str) -> None:
        await self._subscription(name, False)

    async def subscriptions(self) -> list[str]:
        body = await self.client.call("GET", self.url("/subscriptions"), what="LSUB")
        return list(body["names"])

    async def quota(self) -> bk.Quota:
        # The account's route, not an /imap one: the web reads the same answer.
        url = self.client.base.with_path(f"/v1/accounts/{quote(self.address, safe='@')}/quota")
        body = await self.client.call("GET", url, what="GETQUOTA")
        return bk.Quota(used=body["used"], limit=body["limit"])

    async def status(self, name: str) -> bk.FolderStatus:
        f = await self.client.call("GET", self.url("/status"), what=name, params={"folder": name})
        return bk.FolderStatus(
            messages=f["messages"],
            uidnext=f["uidnext"],
            uidvalidity=f["uidvalidity"],
            unseen=f["unseen"],
            deleted=f["deleted"],
            size=f["size"],
            highestmodseq=f["highestmodseq"],
            recent=f.get("recent", 0),
        )

    async def select(self, name: str, *, read_only: bool) -> MailstoreSelected:
        found = await self.client.call(
            "GET", self.url("/select"), what=name, params={"folder": name}
        )
        flags = tuple(dict.fromkeys([*SYSTEM_FLAGS, *found["flags"]]))
        snapshot = bk.Snapshot(
            uidvalidity=found["uidvalidity"],
            uidnext=found["uidnext"],
            highestmodseq=found["highestmodseq"],
            uids=tuple(_expand(found["uids"])),
            flags=flags,
            permanent_flags=() if read_only else (*flags, wire_flags.WILDCARD),
            first_unseen=found.get("first_unseen"),
            read_only=read_only,
        )
        return MailstoreSelected(self, name, str(found["id"]), snapshot)

    async def append(self, name: str, messages: Sequence[bk.NewMessage]) -> bk.AppendResult:
        meta = {
            "folder": name,
            "messages": [
                {
                    "flags": [f for f in m.flags if f != wire_flags.RECENT],
                    "internal_date": None
                    if m.internal_date is None
                    else m.internal_date.isoformat(),
                }
                for m in messages
            ],
        }
        form = aiohttp.FormData()
        form.add_field("meta", json.dumps(meta), content_type="application/json")
        for number, message in enumerate(messages):
            form.add_field(
                "message", message.data, filename=f"{number}.eml", content_type="message/rfc822"
            )
        body = await self.client.call("POST", self.url("/append"), what=name, data=form)
        return bk.AppendResult(body["uidvalidity"], tuple(body["uids"]))

    def _lock_url(self) -> URL:
        return self.client.base.with_path(f"/v1/accounts/{quote(self.address, safe='@')}/pop3/lock")

    async def lock_maildrop(self, holder: str, *, seconds: int) -> None:
        body = {"holder": holder, "seconds": seconds}
        await self.client.call("POST", self._lock_url(), what=self.address, json_body=body)

    async def unlock_maildrop(self, holder: str) -> None:
        params = {"holder": holder}
        await self.client.call("DELETE", self._lock_url(), what=self.address, params=params)

    async def logout(self) -> None:
        return None


class MailstoreMessage:
    """One message of a FETCH (:class:`~imap_gateway.backend.FetchedMessage`)."""

    def __init__(self, selected: MailstoreSelected, line: dict[str, Any]) -> None:
        self._selected = selected
        self.uid: int = int(line["uid"])
        self.flags = _flags_of(line)
        self.modseq: int = int(line["modseq"])
        self.internal_date = dt.datetime.fromisoformat(line["internaldate"])
        self.size: int = int(line["size"])
        self._structure: dict[str, Any] | None = line.get("structure")
        # A small message's octets, sent with its line when the FETCH reads sections:
        # no /raw request for it.
        inline = line.get("octets")
        self._octets: bytes | None = None if inline is None else base64.b64decode(inline)

    def _description(self) -> dict[str, Any]:
        if self._structure is None:
            raise bk.BackendUnavailable("FETCH asked for structure it did not announce")
        return self._structure

    async def _load_structure(self) -> None:
        """The description, when the FETCH that made this message did not ask for it
        (a caller whose ``needs`` left it out): one more round trip, never a failure
        half-way through a FETCH response."""
        if self._structure is not None and "body" in self._structure:
            return
        selected = self._selected
        body = {"folder": selected.name, "uids": str(self.uid), "structure": True}
        url = selected.user.url("/fetch")
        async with selected.user.client.stream("POST", url, what=selected.name, json=body) as r:
            async for line in _lines(r):
                self._structure = json.loads(line).get("structure")
        if self._structure is None:
            raise bk.MessageExpunged(f"message {self.uid} of {selected.name}")

    def envelope(self) -> bk.Rendered:
        return lambda: structure.envelope(self._description()["envelope"])

    def body_structure(self, *, extensible: bool) -> bk.Rendered:
        if extensible:
            return lambda: structure.bodystructure(self._description())
        return lambda: structure.body(self._description())

    async def section(self, section: Section, partial: tuple[int, int] | None) -> bk.BodyData:
        text = section.text
        fields = text in (HEADER_FIELDS, HEADER_FIELDS_NOT)
        if section.part or text is not None:
            await self._load_structure()
        try:
            if not section.part and text is None:
                start, end = 0, self.size
            else:
                description = self._description()
                start, end = structure.section_range(
                    description, section.part, HEADER if fields else text
                )
        except structure.SectionNotFound:
            return bk.BodyData(0, _nothing())
        if fields:
            # The header is read whole (it is small) and its fields picked here.
            header = b"".join([chunk async for chunk in self._raw(start, end - start)])
            picked = sections.header_fields(
                header, section.fields, exclude=text == HEADER_FIELDS_NOT
            )
            data = sections.partial(picked, partial)
            return bk.BodyData(len(data), _once(data))
        if partial is not None:
            offset, count = partial
            start = min(end, start + offset)
            end = min(end, start + count)
        return bk.BodyData(end - start, self._raw(start, end - start))

    async def _raw(self, offset: int, length: int) -> AsyncIterator[bytes]:
        """``length`` octets from ``offset``, chunk by chunk, as stored: NUL too, which
        BINARY sends as it is (RFC 3516 §4.2) and BODY as 0x80 (BodyData.without_nul)."""
        if length <= 0:
            return
        if self._octets is not None:
            yield self._octets[offset : offset + length]
            return
        selected = self._selected
        params = {
            "folder": selected.name,
            "uid": str(self.uid),
            "offset": str(offset),
            "length": str(length),
        }
        sent = 0
        async with selected.user.client.stream(
            "GET", selected.user.url("/raw"), what=selected.name, params=params, message=True
        ) as response:
            async for chunk in response.content.iter_chunked(CHUNK):
                chunk = chunk[: length - sent]
                sent += len(chunk)
                yield chunk
                if sent >= length:
                    break
        if sent < length:
            # The message went away mid-FETCH: the literal's size is promised already.
            raise bk.BackendUnavailable(f"message {self.uid} ended early")


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""


async def _once(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


class MailstoreSelected:
    """A selected folder (:class:`~imap_gateway.backend.SelectedFolder`)."""

    def __init__(
        self, user: MailstoreUser, name: str, folder_id: str, snapshot: bk.Snapshot
    ) -> None:
        self.user = user
        self.name = name
        self.folder_id = folder_id
        self._snapshot = snapshot
        # (uid, modseq) of the flag changes this session made: FlagsChanged from them
        # carries this folder as their origin.
        self._made: set[tuple[int, int]] = set()
        self._feed = MailstoreFeed(self, (user.address.lower(), folder_id))
        if user.backend.hub.up:
            # A change between /select and the feed's subscription woke nobody: ask once.
            # (With the channel down, the next command asks anyway.)
            self._feed.poke()

    @property
    def snapshot(self) -> bk.Snapshot:
        return self._snapshot

    def made(self, message: bk.MessageFlags) -> bool:
        return (message.uid, message.modseq) in self._made

    def _writable(self) -> None:
        if self._snapshot.read_only:
            raise bk.ReadOnly(self.name)

    async def fetch(
        self,
        uids: Sequence[int],
        *,
        changed_since: int | None = None,
        needs: frozenset[str] = frozenset(),
    ) -> AsyncIterator[bk.FetchedMessage]:
        if not uids:
            return
        body: dict[str, Any] = {
            "folder": self.name,
            "uids": _uid_set(uids),
            "structure": _structure_wanted(needs),
            "octets": bk.SECTIONS in needs,
        }
        if changed_since is not None:
            body["changed_since"] = changed_since
        client = self.user.client
        async with client.stream("POST", self.user.url("/fetch"), what=self.name, json=body) as r:
            async for line in _lines(r):
                yield MailstoreMessage(self, json.loads(line))

    async def store(
        self,
        uids: Sequence[int],
        mode: StoreMode,
        flags: Sequence[str],
        *,
        unchanged_since: int | None = None,
    ) -> bk.StoreResult:
        self._writable()
        if not uids:
            return bk.StoreResult(())
        body: dict[str, Any] = {
            "folder": self.name,
            "uids": _uid_set(uids),
            "mode": {StoreMode.ADD: "add", StoreMode.REMOVE: "remove"}.get(mode, "replace"),
            "flags": [f for f in flags if f != wire_flags.RECENT],
        }
        if unchanged_since is not None:
            body["unchanged_since"] = unchanged_since
        found = await self.user.client.call(
            "POST", self.user.url("/store"), what=self.name, json_body=body
        )
        updated = tuple(_message_flags(state) for state in found["updated"])
        self._made.update((m.uid, m.modseq) for m in updated)
        return bk.StoreResult(updated, tuple(_expand(found["modified"])))

    async def _copy(self, uids: Sequence[int], target: str, path: str) -> bk.CopyResult:
        if not uids:
            status = await self.user.status(target)  # TRYCREATE when it does not exist
            return bk.CopyResult(status.uidvalidity, (), ())
        body = {"folder": self.name, "uids": _uid_set(uids), "target": target}
        found = await self.user.client.call(
            "POST", self.user.url(path), what=target, json_body=body
        )
        pairs = [tuple(pair) for pair in found["pairs"]]
        return bk.CopyResult(
            found["uidvalidity"],
            tuple(int(p[0]) for p in pairs),
            tuple(int(p[1]) for p in pairs),
        )

    async def copy(self, uids: Sequence[int], target: str) -> bk.CopyResult:
        return await self._copy(uids, target, "/copy")

    async def move(self, uids: Sequence[int], target: str) -> bk.CopyResult:
        self._writable()
        return await self._copy(uids, target, "/move")

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        self._writable()
        body: dict[str, Any] = {"folder": self.name}
        if uids is not None:
            if not uids:
                return []
            body["uids"] = _uid_set(uids)
        found = await self.user.client.call(
            "POST", self.user.url("/expunge"), what=self.name, json_body=body
        )
        return _expand(found["expunged"])

    async def search(self, key: SearchKey, *, fallback: bk.KeyEvaluator) -> list[int]:
        body = {"folder": self.name, "program": search_program(key)}
        found = await self.user.client.call(
            "POST", self.user.url("/search"), what=self.name, json_body=body
        )
        return _expand(found["uids"])

    async def claim_recent(self) -> range:
        body = {"folder": self.name, "claim": not self._snapshot.read_only}
        found = await self.user.client.call(
            "POST", self.user.url("/recent"), what=self.name, json_body=body
        )
        # One run, "low:high" or "uid", or "" for none (the store's /recent).
        if not found["recent"]:
            return range(0)
        low, _, high = found["recent"].partition(":")
        return range(int(low), int(high or low) + 1)

    async def changes_since(self, modseq: int) -> bk.Changes:
        try:
            found = await self.read_changes(modseq)
        except ModseqForgotten:
            # RFC 7162 §3.2.5.2 lets a server that forgot expunges send less: every
            # message's flags, and no VANISHED (the client sees EXISTS and re-syncs).
            everything = [m async for m in self.fetch([1, 2**32 - 1], changed_since=None)]
            return bk.Changes(
                (), tuple(bk.MessageFlags(m.uid, m.flags, m.modseq) for m in everything)
            )
        return bk.Changes(found.vanished, found.changed)

    async def read_changes(self, modseq: int) -> Found:
        """``/changes`` since ``modseq``: expunged UIDs, changed messages, HIGHESTMODSEQ
        (one request for the sessions of this folder asking at once, SharedReads)."""
        key = (self.user.address.lower(), self.folder_id, self.name, modseq)
        return await self.user.backend.shared_changes.read(key, lambda: self._read_changes(modseq))

    async def _read_changes(self, modseq: int) -> Found:
        params = {"folder": self.name, "modseq": str(modseq)}
        url = self.user.url("/changes")
        found = await self.user.client.call("GET", url, what=self.name, params=params)
        return Found(
            tuple(_expand(found["vanished"])),
            tuple(_message_flags(state) for state in found["changed"]),
            int(found.get("highestmodseq", modseq)),
        )

    def changes(self) -> MailstoreFeed:
        return self._feed

    async def close(self) -> None:
        self._feed.close()


# --- SEARCH as JSON ----------------------------------------------------------------------


# The largest UID: "*" in a UID set of a search key, as imap_gateway.searching reads it.
MAX_UID = 2**32 - 1


def _text(value: bytes) -> str:
    # Both sides compare decoded text (imap_gateway.searching folds bytes the same way).
    return value.decode("utf-8", "replace")


def search_program(key: SearchKey) -> dict[str, Any]:
    """The JSON form of a search key for ``POST .../imap/search`` (openapi/imap.py's
    ``SearchProgram``): ``{"key": NAME, ...arguments}``, NOT/OR/AND nesting programs."""
    if isinstance(key, SearchAnd):
        return {"key": "AND", "keys": [search_program(k) for k in key.keys]}
    if isinstance(key, SearchOr):
        return {"key": "OR", "left": search_program(key.left), "right": search_program(key.right)}
    if isinstance(key, SearchNot):
        return {"key": "NOT", "arg": search_program(key.key)}
    if isinstance(key, SearchSimple):
        return {"key": key.name}
    if isinstance(key, SearchText):
        return {"key": key.name, "value": _text(key.value)}
    if isinstance(key, SearchHeader):
        return {"key": "HEADER", "field": key.field, "value": _text(key.value)}
    if isinstance(key, SearchKeyword):
        return {"key": key.name, "keyword": key.keyword}
    if isinstance(key, SearchDate):
        return {"key": key.name, "date": key.date.isoformat()}
    if isinstance(key, SearchSize):
        return {"key": key.name, "size": key.size}
    if isinstance(key, SearchAge):
        return {"key": key.name, "seconds": key.seconds}
    if isinstance(key, SearchModSeq):
        return {"key": "MODSEQ", "modseq": key.modseq}
    if isinstance(key, SearchSet):
        if not key.uid or key.sequence_set.saved:
            raise ValueError("sequence numbers and $ are resolved by the session")
        ranges = key.sequence_set.resolve(MAX_UID)
        return {"key": "UID", "uids": ",".join(f"{lo}:{hi}" for lo, hi in ranges)}
    raise TypeError(f"unknown search key {key!r}")


# --- the factory -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _open(config: Config) -> AsyncIterator[ServiceBackend]:
    hub = LiveHub()
    channel = LiveChannel(
        hub,
        url=config.amqp_url,
        prefix=config.queue_prefix,
        reconnect_interval=config.broker_reconnect_interval,
    )
    async with aiohttp.ClientSession() as session:
        channel.start()
        try:
            yield MailstoreBackend(Client(session, config), hub)
        finally:
            await channel.close()


def create(config: Config) -> AbstractAsyncContextManager[ServiceBackend]:
    """The production backend: the mail store's API and the broker's live changes."""
    return _open(config)


def _conforms(backend: MailstoreBackend, user: MailstoreUser, selected: MailstoreSelected) -> None:
    """Checked by mypy only: the classes implement the backend Protocols."""
    _backend: ServiceBackend = backend
    _user: bk.UserSession = user
    _locking: bk.MaildropLocking = user
    _quota: bk.QuotaReporting = user
    _selected: bk.SelectedFolder = selected
    _feed: bk.RefreshingFeed = selected.changes()
