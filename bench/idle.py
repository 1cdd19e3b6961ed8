"""Idle connections: what 1,000 open SMTP sessions cost the gateway.

Scenario 4 of issue 5. On a fresh LocalStack with one recipient account:

1. the gateway's RSS (``VmRSS`` in ``/proc/<pid>/status``) and the latency of
   ``--probes`` messages sent one after another on one connection: from the
   start of the transaction to its 250, and to its ``stored`` event;
2. ``--connections`` SMTP sessions opened (greeting + EHLO) and left idle;
3. the RSS and the same probe latencies again, with them held open;
4. every idle session closed (QUIT).

Usage (repository root)::

    .venv/bin/python bench/idle.py [--connections 1000] [--json out.json]
    .venv/bin/python bench/idle.py --smoke
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
from ingest import PASSWORD, watch_events
from stackbench import (
    AMQP_URL,
    SENDER,
    local_stack,
    machine,
    many_connections_from_here,
    message,
    percentile,
    rss_kib,
    run_script,
)

from smtplib_common.client import SMTPClient
from smtplib_common.errors import SMTPError
from tests.integration.mailapi import MailstoreAPI

OPEN_BATCH = 100  # sessions opened at once: stays under the listen backlog
SETTLE = 2.0  # seconds before reading RSS, for the allocator to settle


async def probe(
    smtp: tuple[str, int], recipient: str, seen: dict[str, float], count: int
) -> dict[str, float]:
    """``count`` messages in turn on one connection; latency to 250 and to stored."""
    to_250: list[float] = []
    to_visible: list[float] = []
    async with SMTPClient(*smtp, timeout=30.0) as client:
        for n in range(count):
            started = time.perf_counter()
            result = await client.send_raw(SENDER, [recipient], message(recipient, f"probe {n}"))
            to_250.append((time.perf_counter() - started) * 1000)
            gateway_id = result.data_response.text.rsplit(" ", 1)[-1]
            deadline = time.monotonic() + 10
            # Events arrive in a consumer callback; polling the dict keeps it a plain write.
            while gateway_id not in seen and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            if gateway_id in seen:
                to_visible.append((seen[gateway_id] - started) * 1000)
    return {
        "to_250_p50_ms": percentile(to_250, 50),
        "to_250_max_ms": max(to_250),
        "to_visible_p50_ms": percentile(to_visible, 50),
        "to_visible_max_ms": max(to_visible, default=0.0),
        "visible": len(to_visible),
    }


async def open_idle(smtp: tuple[str, int], count: int) -> list[SMTPClient]:
    clients: list[SMTPClient] = []
    for start in range(0, count, OPEN_BATCH):
        batch = [SMTPClient(*smtp, timeout=30.0) for _ in range(min(OPEN_BATCH, count - start))]
        clients.extend(batch)
        await asyncio.gather(*(c.connect() for c in batch))
    return clients


async def close_all(clients: list[SMTPClient]) -> None:
    async def close(client: SMTPClient) -> None:
        with contextlib.suppress(SMTPError, OSError, TimeoutError):
            await client.quit()
        await client.close()

    await asyncio.gather(*(close(c) for c in clients))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    clients: list[SMTPClient] = []
    async with contextlib.AsyncExitStack() as ctx:
        # 1,000 idle sessions from one address: far past the per-source defaults.
        overrides = many_connections_from_here(args.connections + 1)
        stack = await ctx.enter_async_context(local_stack(**overrides))
        ep = stack.endpoints
        gateway = stack.services["smtp-gateway"].process
        assert ep is not None
        assert gateway is not None
        http = await ctx.enter_async_context(aiohttp.ClientSession())
        api = MailstoreAPI(http, ep.mailstore_url, ep.mailstore_token)
        address = f"idle-{uuid.uuid4().hex[:6]}@{ep.domain}"
        await api.create_account(address, PASSWORD)
        connection = await aio_pika.connect(AMQP_URL)
        ctx.push_async_callback(connection.close)
        seen: dict[str, float] = {}
        await watch_events(await connection.channel(), ep.queue_prefix, seen)

        # One warm-up message, so that both probes see a gateway past its first use.
        await probe(ep.smtp, address, seen, 1)
        await asyncio.sleep(SETTLE)
        before = rss_kib(gateway.pid)
        alone = await probe(ep.smtp, address, seen, args.probes)
        try:
            started = time.perf_counter()
            clients = await open_idle(ep.smtp, args.connections)
            opened_s = time.perf_counter() - started
            await asyncio.sleep(SETTLE)
            held = rss_kib(gateway.pid)
            alongside = await probe(ep.smtp, address, seen, args.probes)
            after_probe = rss_kib(gateway.pid)
        finally:
            await close_all(clients)
    return {
        "scenario": "idle",
        "connections": args.connections,
        "open_s": round(opened_s, 3),
        "rss_kib": {"before": before, "held": held, "held_after_probe": after_probe},
        "rss_growth_mib": (held - before) / 1024,
        "rss_per_connection_kib": (held - before) / args.connections,
        "probe_alone": alone,
        "probe_alongside": alongside,
        "gateway_overrides": overrides,
        "machine": machine(),
    }


def table(result: dict[str, Any]) -> str:
    rss = result["rss_kib"]
    alone, alongside = result["probe_alone"], result["probe_alongside"]
    return "\n".join(
        [
            f"idle connections: {result['connections']} sessions after EHLO "
            f"(opened in {result['open_s']:.1f} s)",
            "",
            f"gateway RSS: {rss['before'] / 1024:.1f} MiB -> {rss['held'] / 1024:.1f} MiB "
            f"(+{result['rss_growth_mib']:.1f} MiB, "
            f"{result['rss_per_connection_kib']:.1f} KiB per connection)",
            "",
            "| probe message     | to 250 p50 | max | to visible p50 | max |",
            "|-------------------|-----------:|----:|---------------:|----:|",
            *(
                f"| {label:<17} | {p['to_250_p50_ms']:.1f} ms | {p['to_250_max_ms']:.1f} ms "
                f"| {p['to_visible_p50_ms']:.1f} ms | {p['to_visible_max_ms']:.1f} ms |"
                for label, p in (("alone", alone), ("alongside idle", alongside))
            ),
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=20, help="probe messages per phase")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.connections, args.probes = 20, 3
    if args.connections < 1 or args.probes < 1:
        parser.error("--connections and --probes must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_script(parse_args(argv), run, table)


if __name__ == "__main__":
    sys.exit(main())
