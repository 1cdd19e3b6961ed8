"""The mail store's internal API, as the web service calls it (docs/architecture.md).

Every call carries the service bearer token. Statuses become domain errors here, so
views never look at a status code of the mail store: 404 → NotFound, 409 →
AddressTaken, 422 → InvalidFields, 429 (a login refused by the throttle) → RateLimited,
anything unexpected or no answer in time → MailstoreUnavailable.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from webmail.errors import (
    AddressTaken,
    FolderRefused,
    InvalidFields,
    MailstoreUnavailable,
    NotFound,
    OverQuota,
    RateLimited,
)

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"

# How long an ordinary call may take is the caller's (WEB_MAILSTORE_TIMEOUT, a page's
# budget): the mail store answers from one PostgreSQL query, so a slow answer means it
# is in trouble, and a page that waits for it longer helps nobody (issue 15 measured
# 10.6 s to "Mail is unavailable" with the old 10 s). Connection refused fails at once.
# Except a password check (login, or hashing at registration): a bcrypt that may wait
# its turn in the mail store's bounded queue and take seconds on a busy machine. A correct
# password must not fail for that, so it gets the budget the gateway gives AUTH
# (GATEWAY_AUTH_TIMEOUT's default); an overloaded store answers 503 long before it. A
# store that hangs is caught first, with the page's budget: a login asks /healthz, a
# sign-up the throttle.
PASSWORD_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=3)
# A stream goes at the browser's pace: no bound on the whole, only on each wait for data.
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=3, sock_read=10)

Json = dict[str, Any]
# The web's page of \\Flagged mail; never a folder id (migration 0007: standard names, f<n>).
STARRED = "starred"
NUL_REFUSED = "may not hold NUL characters"


@dataclass(frozen=True, slots=True)
class Account:
    address: str
    name: str
    # The IANA time zone its pages are dated in (settings); "" is the browser's own.
    time_zone: str = ""
    # Folders listed one row per conversation (settings); off: one row per message.
    conversations: bool = True
    # An administrator (issue 16): from the session look-up, which reads the account at
    # every request; False wherever else an Account is made.
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class Throttle:
    allowed: bool
    count: int
    retry_after: int


def _segment(value: str) -> str:
    # Addresses and secrets are path segments: "/" or "?" inside must not split them.
    return quote(value, safe="@")


class MailstoreClient:
    """One aiohttp session to the mail store, shared by every request of the process.

    ``timeout``: seconds an ordinary call may take, whole. A transfer (an attachment)
    may take longer as long as data keeps coming: it waits at most ``timeout`` for each
    piece, so a store that stopped answering still fails it as fast.
    """

    def __init__(
        self, session: aiohttp.ClientSession, *, base_url: str, token: str, timeout: float
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=timeout)
        self._transfer_timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout, sock_read=timeout
        )

    def __repr__(self) -> str:  # the token stays out of logs
        return f"<MailstoreClient {self._base}>"

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Json | None = None,
        data: aiohttp.FormData | None = None,
        params: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> tuple[int, bytes, str]:
        """(status, body, content type) of one call; other statuses become domain errors."""
        # PostgreSQL's text holds no NUL: a search or a cursor typed with one is the
        # user's mistake, answered here without a round trip.
        if refused := [name for name, value in (params or {}).items() if "\x00" in value]:
            raise InvalidFields(dict.fromkeys(refused, NUL_REFUSED))
        try:
            async with self._session.request(
                method,
                self._base + path,
                json=json,
                data=data,
                params=params,
                headers=self._headers,
                timeout=timeout or self._timeout,
            ) as response:
                body = await response.read()
                status, content_type = response.status, response.content_type
        except (TimeoutError, aiohttp.ClientError) as exc:
            # The path names an address or secret: only its first segments go in the log.
            where = "/".join(path.split("/")[:3])
            raise MailstoreUnavailable(f"{method} {where}: {exc!r}") from exc
        if status in expect:
            return status, body, content_type
        if status == 404:
            raise NotFound(path)
        if status == 409 and _json_or_empty(body).get("code") == "overquota":
            raise OverQuota()
        if status == 409:
            raise AddressTaken(path)
        if status == 422:
            fields = _json_or_empty(body).get("fields")
            raise InvalidFields(fields if isinstance(fields, dict) else {"request": "invalid"})
        # The path names an address or secret: only its first segments go in the log.
        log.warning("mail store %s %s answered %d", method, "/".join(path.split("/")[:3]), status)
        raise MailstoreUnavailable(f"status {status}")

    async def _json(self, method: str, path: str, **kwargs: Any) -> Json:
        _, body, _ = await self._call(method, path, **kwargs)
        return _json_or_empty(body)

    # -- accounts and credentials -------------------------------------------------------

    async def create_account(
        self, *, address: str, name: str, password: str, invitation: str | None = None
    ) -> Account:
        """``invitation``: a sign-up invitation's secret, used up with the account
        (NotFound when it is not live or is for another address)."""
        body = {"address": address, "name": name, "password": password}
        if invitation is not None:
            body["invitation"] = invitation
        data = await self._json(
            "POST", "/v1/accounts", json=body, expect=(201,), timeout=PASSWORD_TIMEOUT
        )
        return Account(data["address"], data["name"])

    async def verify(
        self, *, address: str, password: str, client: str, channel: str, trusted_device: bool
    ) -> Account | None:
        """The account, or None for wrong credentials; RateLimited when the mail store's
        login throttle refuses to check (too many failures for the account or client)."""
        # A store that has stopped answering fails here, within the page's budget; only
        # one that answers gets the password check's longer one (PASSWORD_TIMEOUT).
        await self._call("GET", "/healthz")
        body = {
            "address": address,
            "password": password,
            "client": client,
            "channel": channel,
            "trusted_device": trusted_device,
        }
        status, raw, _ = await self._call(
            "POST", "/v1/auth/verify", json=body, expect=(200, 401, 429), timeout=PASSWORD_TIMEOUT
        )
        if status == 429:
            raise RateLimited(max(1, int(_json_or_empty(raw).get("retry_after") or 1)))
        if status == 401:
            return None
        data = _json_or_empty(raw)
        return Account(data["address"], data["name"])

    async def mailbox(self, address: str) -> Account:
        data = await self._json("GET", f"/v1/mailboxes/{_segment(address)}")
        return Account(data["address"], data["name"])

    async def directory(self, *, prefix: str, limit: int = 10) -> list[Account]:
        params = {"prefix": prefix, "limit": str(limit)}
        data = await self._json("GET", "/v1/directory", params=params)
        return [Account(a["address"], a["name"]) for a in data.get("accounts", [])]

    async def create_session(self, address: str, *, device: str = "") -> str:
        body = {"address": address, "device": device}
        data = await self._json("POST", "/v1/sessions", json=body, expect=(201,))
        return str(data["session"])

    async def get_session(self, secret: str) -> tuple[Account, int] | None:
        """The session's account and the session's id (what the sessions list names)."""
        try:
            data = await self._json("GET", f"/v1/sessions/{_segment(secret)}")
        except NotFound:
            return None
        account = Account(
            data["address"],
            data["name"],
            data.get("time_zone") or "",
            data.get("conversations") is not False,
            data.get("is_admin") is True,
        )
        return account, int(data["id"])

    async def list_sessions(self, address: str) -> list[Json]:
        data = await self._json("GET", f"{self._account(address)}/sessions")
        return list(data.get("sessions", []))

    async def end_session_id(self, address: str, session_id: int) -> None:
        """NotFound when ``session_id`` is not one of ``address``'s sessions."""
        path = f"{self._account(address)}/sessions/{session_id}"
        await self._call("DELETE", path, expect=(204,))

    async def end_other_sessions(self, address: str, *, keep: int) -> None:
        path = f"{self._account(address)}/sessions"
        await self._call("DELETE", path, params={"except": str(keep)}, expect=(204,))

    async def change_password(
        self,
        address: str,
        *,
        current: str,
        new: str,
        client: str,
        keep_session: int | None,
        revoke_tokens: bool,
    ) -> bool:
        """False for a wrong current password; RateLimited under the login throttle."""
        body: Json = {
            "current_password": current,
            "new_password": new,
            "client": client,
            "keep_session": keep_session,
            "revoke_tokens": revoke_tokens,
        }
        status, raw, _ = await self._call(
            "POST",
            f"{self._account(address)}/password",
            json=body,
            expect=(204, 401, 429),
            timeout=PASSWORD_TIMEOUT,
        )
        if status == 429:
            raise RateLimited(max(1, int(_json_or_empty(raw).get("retry_after") or 1)))
        return status == 204

    async def delete_account(self, address: str, *, password: str, client: str) -> bool:
        """False for a wrong password; RateLimited under the login throttle."""
        status, raw, _ = await self._call(
            "POST",
            f"{self._account(address)}/delete",
            json={"password": password, "client": client},
            expect=(204, 401, 429),
            timeout=PASSWORD_TIMEOUT,
        )
        if status == 429:
            raise RateLimited(max(1, int(_json_or_empty(raw).get("retry_after") or 1)))
        return status == 204

    async def get_profile(self, address: str) -> Json:
        """The account's name, signature, time zone ("" for the browser's own) and
        whether its folders list conversations."""
        return await self._json("GET", f"{self._account(address)}/profile")

    async def update_profile(self, address: str, **fields: str | bool) -> Json:
        return await self._json("PATCH", f"{self._account(address)}/profile", json=fields)

    async def list_tokens(self, address: str) -> list[Json]:
        data = await self._json("GET", f"{self._account(address)}/tokens")
        return list(data.get("tokens", []))

    async def delete_session(self, secret: str) -> None:
        # Already gone is fine: the goal is reached.
        with contextlib.suppress(NotFound):
            await self._call("DELETE", f"/v1/sessions/{_segment(secret)}", expect=(204,))

    async def create_token(self, address: str, *, name: str) -> Json:
        path = f"/v1/accounts/{_segment(address)}/tokens"
        return await self._json("POST", path, json={"name": name}, expect=(201,))

    async def revoke_token(self, address: str, token_id: int) -> None:
        """NotFound when ``token_id`` is not one of ``address``'s tokens."""
        path = f"/v1/accounts/{_segment(address)}/tokens/{token_id}"
        await self._call("DELETE", path, expect=(204,))

    async def get_token(self, token: str) -> Account | None:
        try:
            data = await self._json("GET", f"/v1/tokens/{_segment(token)}")
        except NotFound:
            return None
        return Account(data["address"], data["name"], is_admin=data.get("is_admin") is True)

    async def password_reset(self, token: str) -> Account | None:
        """The account a live reset link is for; None when unknown, used or expired."""
        try:
            data = await self._json("GET", f"/v1/password-resets/{_segment(token)}")
        except NotFound:
            return None
        return Account(data["address"], data["name"])

    async def use_password_reset(
        self, token: str, *, new_password: str, revoke_tokens: bool
    ) -> Account | None:
        """Set the password through the link, which is then used up (every session of
        the account ends); None when the link is unknown, used or expired."""
        body = {"new_password": new_password, "revoke_tokens": revoke_tokens}
        path = f"/v1/password-resets/{_segment(token)}"
        try:
            data = await self._json("POST", path, json=body, timeout=PASSWORD_TIMEOUT)
        except NotFound:
            return None
        return Account(data["address"], data["name"])

    async def throttle(
        self, key: str, *, limit: int, window: int, client: str | None = None
    ) -> Throttle:
        """Count one event under ``key`` (per ``client`` when given; the mail store spares
        clients in LOCALPOST_TRUSTED_NETWORKS)."""
        body: Json = {"key": key, "limit": limit, "window": window}
        if client is not None:
            body["client"] = client
        data = await self._json("POST", "/v1/throttle", json=body)
        return Throttle(bool(data["allowed"]), int(data["count"]), int(data["retry_after"]))

    # -- mail ---------------------------------------------------------------------------

    def _account(self, address: str) -> str:
        return f"/v1/accounts/{_segment(address)}"

    async def folders(self, address: str, *, unread_only: bool = False) -> dict[str, Json]:
        """Per folder id, in the mail store's order, its name and counts; ``unread_only``
        leaves out the totals, which take the mail store time in proportion to the folder
        (every page needs only unread)."""
        return (await self.folders_and_quota(address, unread_only=unread_only))[0]

    async def folders_and_quota(
        self, address: str, *, unread_only: bool = False
    ) -> tuple[dict[str, Json], Json]:
        """:meth:`folders`, and the account's storage quota (``used``, ``limit``, ``room``,
        ``full``; ``{}`` from a mail store from before quotas), from the same call."""
        params = {"counts": "unread"} if unread_only else None
        data = await self._json("GET", self._account(address) + "/folders", params=params)
        folders = {f["id"]: f for f in data.get("folders", [])}
        quota = data.get("quota")
        return folders, quota if isinstance(quota, dict) else {}

    async def quota(self, address: str) -> Json:
        """The account's storage: ``used``, ``limit`` (None: no limit), ``room``, ``full``."""
        return await self._json("GET", self._account(address) + "/quota")

    async def require_room(self, address: str, size: int) -> None:
        """OverQuota unless the account has room for ``size`` more bytes: the Sent copy
        of a message about to be submitted (the mail store stores what the gateway
        accepted whatever the quota, so the web refuses before, issue 16)."""
        room = (await self.quota(address)).get("room")
        if isinstance(room, int) and size > room:
            raise OverQuota()

    async def _folder_call(self, method: str, path: str, **kwargs: Any) -> Json:
        """A folder change; a refusal (409) is FolderRefused with the store's code."""
        status, body, _ = await self._call(method, path, expect=(200, 201, 204, 409), **kwargs)
        data = _json_or_empty(body)
        if status == 409:
            raise FolderRefused(str(data.get("code") or "cannot"))
        return data

    async def create_folder(self, address: str, *, name: str) -> Json:
        """The new folder's id and name; FolderRefused("alreadyexists") when taken."""
        path = self._account(address) + "/folders"
        return await self._folder_call("POST", path, json={"name": name})

    async def rename_folder(self, address: str, folder: str, *, name: str) -> None:
        path = f"{self._account(address)}/folders/{_segment(folder)}"
        await self._folder_call("PATCH", path, json={"name": name})

    async def delete_folder(self, address: str, folder: str) -> None:
        """FolderRefused: "inuse" (holds messages), "haschildren", "cannot" (standard)."""
        await self._folder_call("DELETE", f"{self._account(address)}/folders/{_segment(folder)}")

    async def list_messages(
        self,
        address: str,
        *,
        folder: str,
        limit: int,
        cursor: str | None = None,
        conversations: bool = False,
    ) -> Json:
        """A page of a folder (by id), or of the starred messages for ``folder="starred"``
        (no folder id is: they are standard names or ``f<n>``). ``conversations``: a
        folder's rows are conversations (the starred listing is never grouped)."""
        params = {"limit": str(limit)}
        if folder != STARRED:
            params["folder"] = folder
            if conversations:
                params["conversations"] = "true"
        if cursor:
            params["cursor"] = cursor
        path = self._account(address) + ("/starred" if folder == STARRED else "/messages")
        return await self._json("GET", path, params=params)

    async def search(self, address: str, *, q: str, limit: int, cursor: str | None = None) -> Json:
        params = {"q": q, "limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        return await self._json("GET", self._account(address) + "/search", params=params)

    def _message(self, address: str, entry: int) -> str:
        return f"{self._account(address)}/messages/{entry}"

    async def get_message(self, address: str, entry: int) -> Json:
        return await self._json("GET", self._message(address, entry))

    async def conversation(self, address: str, entry: int) -> list[Json]:
        """The summaries of the entry's conversation, oldest first."""
        data = await self._json("GET", self._message(address, entry) + "/conversation")
        return list(data.get("messages", []))

    @contextlib.asynccontextmanager
    async def open_raw(self, address: str, entry: int) -> AsyncIterator[aiohttp.StreamReader]:
        """The raw message as a stream: a 20 MiB message held whole (and decoded) took the
        web 3-4 times its size per download (docs/performance.md, "Large messages")."""
        path = self._message(address, entry) + "/raw"
        try:
            # Connection: close keeps a streamed connection out of the pool: reused by an
            # ordinary call afterwards, its stale sock_read timer fired at once
            # ("Timeout on reading data from socket", bench/large.py's second burst).
            async with self._session.get(
                self._base + path,
                headers={**self._headers, "Connection": "close"},
                timeout=STREAM_TIMEOUT,
            ) as response:
                if response.status == 404:
                    raise NotFound(path)
                if response.status != 200:
                    log.warning("mail store GET raw answered %d", response.status)
                    raise MailstoreUnavailable(f"status {response.status}")
                yield response.content
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise MailstoreUnavailable(f"GET raw: {exc!r}") from exc

    async def get_attachment(self, address: str, entry: int, n: int) -> tuple[bytes, str]:
        _, body, content_type = await self._call(
            "GET",
            f"{self._message(address, entry)}/attachments/{n}",
            timeout=self._transfer_timeout,
        )
        return body, content_type

    async def get_raw(self, address: str, entry: int) -> bytes:
        """The raw message whole: for a draft, which the web reads back into its form."""
        async with self.open_raw(address, entry) as stream:
            return await stream.read()

    async def save_draft(self, address: str, raw: bytes, *, replaces: int | None) -> int:
        """Store ``raw`` in Drafts, replacing the draft ``replaces`` in the same
        transaction (NotFound: no such draft, and nothing stored); the new draft's id."""
        form = aiohttp.FormData()
        form.add_field("meta", json.dumps({"replaces": replaces}), content_type=JSON_TYPE)
        # A stream, not bytes: aiohttp warns that large bytes block the event loop.
        form.add_field(
            "message", io.BytesIO(raw), content_type="message/rfc822", filename="draft.eml"
        )
        _, body, _ = await self._call(
            "POST",
            self._account(address) + "/drafts",
            data=form,
            expect=(201,),
            timeout=self._transfer_timeout,
        )
        return int(_json_or_empty(body)["id"])

    async def delete_draft(self, address: str, entry: int) -> None:
        """Delete a sent draft; NotFound when ``entry`` is no draft of the account."""
        await self._call("DELETE", f"{self._account(address)}/drafts/{entry}", expect=(204,))

    async def set_read(self, address: str, entry: int, *, read: bool) -> None:
        await self.set_flags(address, entry, read=read)

    async def set_flags(self, address: str, entry: int, **flags: bool) -> None:
        """Any of read, flagged, answered, forwarded (IMAP's \\Seen, \\Flagged,
        \\Answered and $Forwarded)."""
        await self._call("PATCH", self._message(address, entry), json=flags)

    async def move(self, address: str, entry: int, *, folder: str) -> None:
        await self._call("POST", self._message(address, entry) + "/move", json={"folder": folder})

    async def trash(self, address: str, entry: int) -> None:
        await self._call("POST", self._message(address, entry) + "/trash")

    async def restore(self, address: str, entry: int) -> None:
        await self._call("POST", self._message(address, entry) + "/restore")

    async def delete_forever(self, address: str, entry: int) -> None:
        await self._call("DELETE", self._message(address, entry), expect=(204,))

    async def bulk(
        self,
        address: str,
        *,
        ids: list[int],
        action: str,
        folder: str | None = None,
        conversations: bool = False,
    ) -> list[int]:
        """The ids of the messages the action changed (those already so are not).
        ``conversations``: the ids are conversation rows, and the action takes every
        message of their conversations in their folders."""
        body: Json = {"ids": ids, "action": action}
        if folder is not None:
            body["folder"] = folder
        if conversations:
            body["conversations"] = True
        data = await self._json("POST", self._account(address) + "/messages/bulk", json=body)
        return [i for i in data.get("ids", []) if isinstance(i, int)]

    async def empty_trash(self, address: str) -> int:
        data = await self._json("POST", self._account(address) + "/trash/empty")
        return int(data.get("deleted", 0))

    # -- administrators (the /admin pages, views/admin.py) ------------------------------
    # Each change names ``actor``, the administrator, for the audit log. 404: no such
    # account / alias / invitation / message; 409 (AddressTaken): the address is taken,
    # or the action would leave no enabled administrator.

    async def admin_get(self, path: str, params: dict[str, str] | None = None) -> Json:
        """GET /v1/admin``path`` (an overview or a listing)."""
        return await self._json("GET", "/v1/admin" + path, params=params)

    async def admin_post(
        self, path: str, actor: str, body: Json | None = None, *, expect: tuple[int, ...] = (200,)
    ) -> Json:
        """POST /v1/admin``path`` for ``actor``; addresses in it go through admin_path."""
        timeout = PASSWORD_TIMEOUT if path == "/accounts" else None
        return await self._json(
            "POST",
            "/v1/admin" + path,
            json={**(body or {}), "actor": actor},
            expect=(*expect, 201, 204),
            timeout=timeout,
        )

    async def admin_raw(self, path: str) -> bytes:
        _, body, _ = await self._call("GET", "/v1/admin" + path)
        return body

    async def set_registration(self, mode: str, actor: str) -> None:
        body = {"mode": mode, "actor": actor}
        await self._call("PUT", "/v1/admin/registration", json=body)

    async def registration(self) -> str | None:
        """The mode an administrator chose, or None: LOCALPOST_REGISTRATION applies."""
        data = await self._json("GET", "/v1/registration")
        mode = data.get("mode")
        return mode if isinstance(mode, str) else None

    async def invitation(self, token: str) -> Json | None:
        """A live invitation ({"address": str | None, ...}); None when not."""
        try:
            return await self._json("GET", f"/v1/invitations/{_segment(token)}")
        except NotFound:
            return None

    async def ready(self) -> bool:
        """Whether the mail store answers a token-protected call (token and database)."""
        try:
            await self._call("GET", "/v1/directory", params={"prefix": "", "limit": "1"})
        except (MailstoreUnavailable, NotFound, InvalidFields):
            return False
        return True


def admin_path(*parts: str) -> str:
    """A /v1/admin path from segments such as an address, each quoted (a "/" or "?" in
    what was typed must not reach another route)."""
    return "".join("/" + _segment(part) for part in parts)


def _json_or_empty(body: bytes) -> Json:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
