"""Send mail while something breaks, then count like a Jepsen run.

Every attempt carries a unique token in its Subject and is recorded as
*acknowledged* (250 with a gateway id), *refused* (4xx/5xx) or *unknown*
(timeout, dropped connection). After the fault heals and the queue drains, the
store is read and each token is classified:

- lost: acknowledged but not stored — must be 0 (RFC 5321 §6.1);
- unexpected: stored but never attempted — must be 0;
- duplicated: stored more than once — must be 0;
- recovered: refused or unknown, yet stored (allowed: the client cannot know).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

from smtplib_common.client import SMTPClient
from smtplib_common.errors import SMTPError, SMTPResponseError
from tests.integration.mailapi import MailstoreAPI


@dataclass
class Attempts:
    acknowledged: dict[str, str] = field(default_factory=dict)  # token -> gateway id
    refused: dict[str, int] = field(default_factory=dict)  # token -> reply code
    unknown: set[str] = field(default_factory=set)

    @property
    def attempted(self) -> set[str]:
        return set(self.acknowledged) | set(self.refused) | self.unknown


@dataclass(frozen=True)
class Verdict:
    attempted: int
    acknowledged: int
    refused: int
    unknown: int
    stored: int
    lost: int
    unexpected: int
    duplicated: int
    recovered: int
    # The lost tokens with the gateway ids their 250 named (at most 20): what to look
    # for in the services' logs when a run fails.
    lost_ids: tuple[str, ...] = ()

    def as_row(self) -> dict[str, int]:
        return {name: value for name, value in self.__dict__.items() if name != "lost_ids"}


def judge(attempts: Attempts, stored_tokens: list[str]) -> Verdict:
    counts = Counter(stored_tokens)
    stored = set(counts)
    attempted = attempts.attempted
    lost = sorted(set(attempts.acknowledged) - stored)
    return Verdict(
        attempted=len(attempted),
        acknowledged=len(attempts.acknowledged),
        refused=len(attempts.refused),
        unknown=len(attempts.unknown),
        stored=len(stored),
        lost=len(lost),
        unexpected=len(stored - attempted),
        duplicated=sum(1 for n in counts.values() if n > 1),
        recovered=len((set(attempts.refused) | attempts.unknown) & stored),
        lost_ids=tuple(f"{token}:{attempts.acknowledged[token]}" for token in lost[:20]),
    )


async def send_stream(
    smtp: tuple[str, int],
    recipient: str,
    *,
    total: int,
    senders: int,
    run: str,
    attempts: Attempts,
    timeout: float = 15.0,
    pause_after_refusal: float = 0.5,
    subject: Callable[[str], str] = lambda token: f"token {token}",
    mail_from: str = "harness@example.org",
    login: tuple[str, str] | None = None,
) -> Attempts:
    """Send ``total`` messages over ``senders`` connections; record every outcome.

    A sender whose connection breaks opens a new one and goes on with the next
    token; it never retries a token (a retry would hide what happened to it).
    Outcomes are recorded in ``attempts`` as they happen, so a nemesis can watch.
    ``login`` (address, password) sends through submission as that account, from
    ``mail_from``.
    """
    username, password = login if login is not None else (None, None)
    tokens = iter(range(total))

    async def sender() -> None:
        client: SMTPClient | None = None
        for n in tokens:
            token = f"{run}-{n:06d}"
            try:
                if client is None or not client.is_reusable:
                    if client is not None:
                        await client.close()
                    client = SMTPClient(
                        *smtp,
                        connect_timeout=timeout,
                        timeout=timeout,
                        username=username,
                        password=password,
                    )
                    # With a login, connect() has said EHLO and logged in already.
                    await client.connect()
                    if login is None:
                        await client.ehlo_or_helo()
                result = await client.send_message(
                    mail_from, [recipient], subject(token), f"body of {token}\n"
                )
                queued = result.data_response.text.rsplit(" ", 1)[-1]
                attempts.acknowledged[token] = queued
            except SMTPResponseError as exc:
                attempts.refused[token] = exc.code
                # Like a real client: a 4xx means "later", not "at once".
                await asyncio.sleep(pause_after_refusal)
            except (SMTPError, OSError, TimeoutError):
                attempts.unknown.add(token)
                if client is not None:
                    await client.close()
                client = None
                await asyncio.sleep(0.2)  # do not spin against a dead gateway
        if client is not None:
            with contextlib.suppress(SMTPError, OSError, TimeoutError):
                await client.quit()
            await client.close()

    await asyncio.gather(*(sender() for _ in range(senders)))
    return attempts


async def send_stream_web(
    web_url: str,
    token: str,
    recipient: str,
    *,
    total: int,
    senders: int,
    run: str,
    attempts: Attempts,
    timeout: float = 15.0,
) -> Attempts:
    """``send_stream`` through the web's JSON API (``POST /api/v1/messages``).

    202 with a gateway id is *acknowledged*, any other status *refused*, a broken
    connection or a timeout *unknown*; as with SMTP, a token is never retried.
    """
    tokens = iter(range(total))
    headers = {"Authorization": f"Bearer {token}"}
    client_timeout = aiohttp.ClientTimeout(total=timeout)

    async def sender(http: aiohttp.ClientSession) -> None:
        for n in tokens:
            token_ = f"{run}-{n:06d}"
            body = {"to": [recipient], "subject": f"token {token_}", "text": f"body of {token_}"}
            try:
                async with http.post(
                    web_url + "/api/v1/messages", json=body, headers=headers
                ) as resp:
                    if resp.status == 202:
                        attempts.acknowledged[token_] = (await resp.json())["id"]
                        continue
                    attempts.refused[token_] = resp.status
                await asyncio.sleep(0.5)  # as a client would after a refusal
            except (aiohttp.ClientError, OSError, TimeoutError):
                attempts.unknown.add(token_)
                await asyncio.sleep(0.2)  # do not spin against a stopped web

    async with aiohttp.ClientSession(timeout=client_timeout) as http:
        await asyncio.gather(*(sender(http) for _ in range(senders)))
    return attempts


async def wait_for_attempts(attempts: Attempts, count: int, timeout: float = 60.0) -> None:
    """Wait until ``count`` attempts have an outcome (a nemesis strikes mid-stream)."""
    async with asyncio.timeout(timeout):
        # Polling keeps the senders free of test hooks; outcomes are plain writes.
        while len(attempts.attempted) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def stored_tokens(
    api: MailstoreAPI, address: str, *, expect_at_least: int, settle: float, timeout: float
) -> list[str]:
    """The tokens in ``address``'s inbox once the count stops growing."""
    deadline = time.monotonic() + timeout
    last, stable_since = -1, time.monotonic()
    while True:
        messages = await api.folder(address)
        if len(messages) != last:
            last, stable_since = len(messages), time.monotonic()
        quiet = time.monotonic() - stable_since
        if (len(messages) >= expect_at_least and quiet >= settle) or time.monotonic() > deadline:
            return [token_of(m["subject"]) for m in messages]
        await asyncio.sleep(0.25)


def token_of(subject: str) -> str:
    """The token in a Subject that ``send_stream`` wrote ("token <token>[ suffix]")."""
    return subject.removeprefix("token ").split(" ", 1)[0]


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]


Nemesis = Callable[[Attempts], Awaitable[None]]
