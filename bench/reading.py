"""Reading a large mail store: page, message, list-API and search latency under load.

Scenario 5 of issue 5. On a fresh LocalStack:

1. two accounts through mailstore's API: the *reader*, whose mailbox holds every
   ``--reader-share``-th message (100,000 of 1,000,000), and the *bulk* account,
   which holds the rest (900,000);
2. ``--messages`` messages generated straight into PostgreSQL (``corpus.py``; the
   time each step took is reported);
3. ``EXPLAIN (ANALYZE, BUFFERS)`` of the mail store's own listing and search
   statements (``--explain``; the plans go to the JSON);
4. one web login per account (the login form, its CSRF token, the session cookie),
   then ``--readers`` concurrent readers sharing those sessions for ``--duration``
   seconds, each waiting ``--think`` seconds between requests (0: back to back, which
   measures saturation rather than latency) and cycling through: the Inbox page
   (first page, and a page ``--deep-page`` pages down, reached by its cursor), a
   message page, the JSON list API, and the search page for a common word, a rare
   word, a phrase and a ``from:`` filter, as the reader and as the bulk account;
5. meanwhile a sender delivers ``--rate`` messages per second over SMTP.

Latency is per request, at the client (aiohttp), p50 and p99 per kind. Usage::

    .venv/bin/python bench/reading.py [--messages 1000000] [--json out.json]
    .venv/bin/python bench/reading.py --smoke
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import corpus
from stackbench import SENDER, local_stack, login, machine, message, percentile, run_script

from mailstore import db as mailstore_db
from mailstore.search import parse_search
from mailstore.views.common import encode_cursor
from smtplib_common.client import SMTPClient
from tests.integration.mailapi import MailstoreAPI

PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway account in a throwaway database
PAGE_SIZE = 50  # the web's Inbox page (webmail.views.common.PAGE_SIZE)


async def deep_cursor(con: asyncpg.Connection, account_id: int, page: int) -> str:
    row = await con.fetchrow(
        """
        SELECT created_at, id FROM mailbox_entries WHERE account_id = $1 AND folder_id = 'inbox'
        ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1
        """,
        account_id,
        page * PAGE_SIZE - 1,
    )
    assert row is not None, "the mailbox is smaller than the deep page"
    return encode_cursor(row["created_at"], row["id"])


def requests(
    terms: corpus.Corpus, cursor: str, entry_ids: list[int]
) -> dict[str, tuple[str, str, Any]]:
    """kind -> (who, path, params or a callable giving the path); who is reader or bulk."""
    searches = {
        "common": terms.common_word,
        "rare": terms.rare_word,
        "phrase": f'"{terms.phrase}"',
        "from": f"from:{terms.from_term}",
    }
    kinds: dict[str, tuple[str, str, Any]] = {
        "inbox first page": ("reader", "/mail/inbox", {}),
        "inbox deep page": ("reader", "/mail/inbox", {"cursor": cursor}),
        "message page": ("reader", "", lambda: f"/messages/{random.choice(entry_ids)}"),  # noqa: S311
        "list API": ("reader", "/api/v1/messages", {"folder": "inbox", "limit": "50"}),
        "bulk inbox first page": ("bulk", "/mail/inbox", {}),
    }
    for name, q in searches.items():
        kinds[f"search {name}"] = ("reader", "/search", {"q": q})
        kinds[f"bulk search {name}"] = ("bulk", "/search", {"q": q})
    return kinds


async def read_load(
    web_url: str,
    jars: dict[str, aiohttp.CookieJar],
    kinds: dict[str, tuple[str, str, Any]],
    *,
    readers: int,
    duration: float,
    think: float,
    warmup: float,
) -> dict[str, list[float]]:
    """Latencies per kind of the requests started in the ``duration`` seconds after the
    first ``warmup`` seconds (run, not counted: the first request of each kind compiles
    templates and plans and reads cold pages, and 20 readers starting at once queue
    behind each other, which is no steady state)."""
    latencies: dict[str, list[float]] = {kind: [] for kind in kinds}
    failures: list[str] = []
    record_from = time.monotonic() + warmup
    stop_at = record_from + duration
    connector = aiohttp.TCPConnector(limit=0)
    sessions = {
        who: aiohttp.ClientSession(cookie_jar=jar, connector=connector, connector_owner=False)
        for who, jar in jars.items()
    }

    async def reader(n: int) -> None:
        order = list(kinds)
        chance = random.Random(n)  # noqa: S311 - an order and a delay, not secrets
        chance.shuffle(order)
        # Readers arrive at random within one think time, not all in the same instant.
        await asyncio.sleep(chance.uniform(0, think))
        while time.monotonic() < stop_at:
            for kind in order:
                who, path, params = kinds[kind]
                if callable(params):
                    path, params = params(), {}
                counted = time.monotonic() >= record_from
                started = time.perf_counter()
                async with sessions[who].get(web_url + path, params=params) as resp:
                    await resp.read()
                    if resp.status != 200:
                        failures.append(f"{kind}: {resp.status}")
                if counted:
                    latencies[kind].append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(think)

    try:
        await asyncio.gather(*(reader(n) for n in range(readers)))
    finally:
        for session in sessions.values():
            await session.close()
        await connector.close()
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, e.g. {failures[:5]}")
    return latencies


async def trickle(smtp: tuple[str, int], recipients: list[str], rate: float) -> int:
    """Deliver ``rate`` messages a second, alternating recipients, until cancelled."""
    sent = 0
    async with SMTPClient(*smtp, timeout=30.0) as client:
        while True:
            to = recipients[sent % len(recipients)]
            await client.send_raw(SENDER, [to], message(to, f"arriving {sent}", 3000))
            sent += 1
            await asyncio.sleep(1 / rate)


class ExplainPool:
    """Stands in for the pool (and its connections): runs the mail store's own
    statements under EXPLAIN, with the settings they make (SET LOCAL) in force."""

    def __init__(self, con: asyncpg.Connection) -> None:
        self.con = con
        self.plans: list[str] = []

    async def fetch(self, query: str, *args: object) -> list[Any]:
        # The real rows too: the search chooses its next statement by what the last found.
        plan = await self.con.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *args)
        self.plans.append("\n".join(r[0] for r in plan))
        return list(await self.con.fetch(query, *args))

    async def fetchrow(self, query: str, *args: object) -> Any:
        rows = await self.fetch(query, *args)
        return rows[0] if rows else None

    async def fetchval(self, query: str, *args: object) -> Any:
        return await self.con.fetchval(query, *args)

    async def execute(self, query: str, *args: object) -> str:
        return await self.con.execute(query, *args)

    def transaction(self) -> Any:
        return self.con.transaction()

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[ExplainPool]:
        yield self


async def explain(
    con: asyncpg.Connection, accounts: dict[str, int], terms: corpus.Corpus, cursor: str
) -> dict[str, str]:
    pool = ExplainPool(con)
    plans: dict[str, str] = {}
    position = await con.fetchrow(
        "SELECT created_at, id FROM mailbox_entries WHERE id = $1", int(cursor_id(cursor))
    )
    assert position is not None
    cases: list[tuple[str, str, Any]] = [
        ("folder counts", "reader", lambda a: mailstore_db.folder_counts(pool, account_id=a)),
        (
            "inbox first page",
            "reader",
            lambda a: mailstore_db.list_folder(
                pool, account_id=a, folder="inbox", after=None, limit=51
            ),
        ),
        (
            "inbox deep page",
            "reader",
            lambda a: mailstore_db.list_folder(
                pool, account_id=a, folder="inbox", after=tuple(position), limit=51
            ),
        ),
        # What the web asks for by default (the conversations setting is on).
        (
            "inbox conversations first page",
            "reader",
            lambda a: mailstore_db.list_conversations(
                pool, account_id=a, folder="inbox", after=None, limit=51
            ),
        ),
        (
            "inbox conversations deep page",
            "reader",
            lambda a: mailstore_db.list_conversations(
                pool, account_id=a, folder="inbox", after=tuple(position), limit=51
            ),
        ),
    ]
    for name, q in (
        ("common", terms.common_word),
        ("rare", terms.rare_word),
        ("phrase", f'"{terms.phrase}"'),
        ("from", f"from:{terms.from_term}"),
    ):
        for who in ("reader", "bulk"):
            cases.append(
                (
                    f"{'bulk ' if who == 'bulk' else ''}search {name}",
                    who,
                    lambda a, q=q: mailstore_db.search(
                        pool, account_id=a, query=parse_search(q), after=None, limit=51
                    ),
                )
            )
    for name, who, call in cases:
        start = len(pool.plans)
        await call(accounts[who])
        plans[name] = "\n-- then --\n".join(pool.plans[start:])
    return plans


def cursor_id(cursor: str) -> str:
    import base64

    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().rpartition("|")[2]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = corpus.Sizes(messages=args.messages, reader_share=args.reader_share)
    if args.smoke:
        sizes = corpus.Sizes(
            messages=args.messages, reader_share=args.reader_share, bodies=200,
            subjects=100, people=100, tail_words=3000, chunk=1000,
        )  # fmt: skip
    async with contextlib.AsyncExitStack() as ctx:
        stack = await ctx.enter_async_context(local_stack())
        ep = stack.endpoints
        assert ep is not None
        http = await ctx.enter_async_context(aiohttp.ClientSession())
        api = MailstoreAPI(http, ep.mailstore_url, ep.mailstore_token)
        tag = uuid.uuid4().hex[:6]
        addresses = {"reader": f"reader-{tag}@{ep.domain}", "bulk": f"bulk-{tag}@{ep.domain}"}
        for who, address in addresses.items():
            await api.create_account(address, PASSWORD, name=f"{who.title()} Bench")
        con = await asyncpg.connect(stack.database_url)
        ctx.push_async_callback(con.close)
        rows = {r["address"]: r for r in await con.fetch("SELECT id, address, name FROM accounts")}
        accounts = [
            (rows[a]["id"], a, rows[a]["name"]) for a in (addresses["reader"], addresses["bulk"])
        ]
        terms, timings = await corpus.load(stack.database_url, accounts, sizes)
        print(f"generated {args.messages} messages in {timings['total_s']:.1f} s", flush=True)
        ids = {"reader": accounts[0][0], "bulk": accounts[1][0]}
        pages = min(args.deep_page, args.messages // args.reader_share // PAGE_SIZE)
        cursor = await deep_cursor(con, ids["reader"], pages)
        plans = await explain(con, ids, terms, cursor) if args.explain else {}
        entry_ids = [
            r["id"]
            for r in await con.fetch(
                "SELECT id FROM mailbox_entries WHERE account_id = $1 AND folder_id = 'inbox'"
                " ORDER BY random() LIMIT 500",
                ids["reader"],
            )
        ]
        jars = {
            who: await login(ep.web_url, address, PASSWORD) for who, address in addresses.items()
        }
        sender = asyncio.create_task(trickle(ep.smtp, list(addresses.values()), args.rate))
        try:
            latencies = await read_load(
                ep.web_url,
                jars,
                requests(terms, cursor, entry_ids),
                readers=args.readers,
                duration=args.duration,
                think=args.think,
                warmup=args.warmup,
            )
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
    return {
        "scenario": "reading",
        "messages": args.messages,
        "reader_messages": args.messages // args.reader_share,
        "readers": args.readers,
        "think_s": args.think,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "requests_per_s": round(sum(map(len, latencies.values())) / args.duration, 1),
        "arrival_rate": args.rate,
        "deep_page": pages,
        "generation_s": {k: round(v, 1) for k, v in timings.items()},
        "terms": {
            "common": terms.common_word,
            "rare": terms.rare_word,
            "phrase": terms.phrase,
            "from": terms.from_term,
            "share_of_messages": terms.frequency,
        },
        "latency_ms": {
            kind: {
                "n": len(values),
                "p50": round(percentile(values, 50), 1),
                "p99": round(percentile(values, 99), 1),
            }
            for kind, values in latencies.items()
        },
        "plans": plans,
        "machine": machine(),
    }


def table(result: dict[str, Any]) -> str:
    gen = result["generation_s"]
    lines = [
        f"reading: {result['messages']} messages ({result['reader_messages']} the reader's), "
        f"{result['readers']} readers ({result['think_s']} s between requests, "
        f"{result['requests_per_s']} requests/s in all) for {result['duration_s']:.0f} s, "
        f"{result['arrival_rate']} msg/s arriving; deep page = page {result['deep_page']}",
        f"generated in {gen['total_s']} s (rows {gen['rows_s']} s, indexes {gen['indexes_s']} s,"
        f" vacuum/analyze/checkpoint {gen['vacuum_analyze_s']} s)",
        f"terms: {result['terms']}",
        "",
        "| request | n | p50 | p99 |",
        "|---|---:|---:|---:|",
    ]
    for kind, lat in result["latency_ms"].items():
        lines.append(f"| {kind} | {lat['n']} | {lat['p50']:.1f} ms | {lat['p99']:.1f} ms |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="in the whole store")
    parser.add_argument("--reader-share", type=int, default=10, help="every Nth is the reader's")
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument(
        "--duration", type=float, default=45.0, help="seconds of reading that are counted"
    )
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds of reading before the counted ones"
    )
    parser.add_argument(
        "--think", type=float, default=0.5, help="seconds a reader waits between requests"
    )
    parser.add_argument("--rate", type=float, default=5.0, help="messages/s arriving")
    parser.add_argument("--deep-page", type=int, default=2000, help="at most the last page")
    parser.add_argument("--no-explain", dest="explain", action="store_false")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.messages, args.readers, args.duration, args.warmup = 5_000, 4, 3.0, 1.0
    if args.messages < args.reader_share * PAGE_SIZE * 2:
        parser.error("--messages too small for two pages of the reader's Inbox")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_script(parse_args(argv), run, table)


if __name__ == "__main__":
    sys.exit(main())
