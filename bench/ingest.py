"""Durable ingest, end to end: SMTP in, visible through mailstore's API.

Scenario 2 of issue 5. Two targets under the same load (``--senders``
concurrent SMTP connections, each opened once and reused, ``--messages``
messages of about ``--size`` octets, sent with ``smtplib_common``'s client):

- ``localpost``: the whole stack (``tests.integration.stack.LocalStack``, a
  fresh database and queue prefix) with one recipient account. Messages per
  second run from the first connection until the folder count read through
  ``GET /v1/accounts/{a}/folders`` reaches the total. Latency runs from each
  250 reply to its ``stored`` event on ``<prefix>.events`` (published after
  COMMIT; matched on the gateway id the 250 carries).
- ``offshelf``: ``bench/offshelf_gateway.py`` (aiosmtpd + aio-pika, persistent
  messages with publisher confirms to a durable quorum queue, 250 after the
  confirm). Messages per second until the last 250: it only reaches the broker.

The load generator runs in this process, on the same CPUs. Usage (repository root)::

    .venv/bin/python bench/ingest.py [--messages 6000] [--offshelf-messages 30000]
        [--senders 50] [--json out.json]
    .venv/bin/python bench/ingest.py --smoke
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aio_pika
import aiohttp
from stackbench import (
    AMQP_URL,
    local_stack,
    machine,
    percentile,
    run_script,
    send_load,
)

from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import LocalStack

BENCH_DIR = Path(__file__).resolve().parent
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway account in a throwaway database
READY_TIMEOUT = 15.0


async def inbox_total(api: MailstoreAPI, address: str) -> int:
    status, body = await api.call("GET", f"/v1/accounts/{quote(address)}/folders")
    assert status == 200, (status, body)
    return sum(f["total"] for f in body["folders"] if f["name"] == "inbox")


async def watch_events(
    channel: aio_pika.abc.AbstractChannel, prefix: str, seen: dict[str, float]
) -> aio_pika.abc.AbstractQueue:
    """Timestamp every ``stored`` event as it arrives (exclusive, auto-deleted queue)."""
    exchange = await channel.get_exchange(f"{prefix}.events")
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange)

    async def on_event(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        now = time.perf_counter()
        event = json.loads(message.body)
        if event.get("event") == "stored" and event.get("folder") == "inbox":
            seen.setdefault(event["message_id"], now)

    await queue.consume(on_event, no_ack=True)
    return queue


async def wait_visible(
    api: MailstoreAPI, address: str, total: int, *, timeout: float, interval: float = 0.05
) -> float:
    """perf_counter when the inbox count first reached ``total``."""
    deadline = time.monotonic() + timeout
    while True:
        count = await inbox_total(api, address)
        if count >= total:
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} of {total} visible after {timeout}s")
        await asyncio.sleep(interval)


def profiled(stack: LocalStack, path: Path) -> None:
    """Run the mailstore under cProfile (written when it stops)."""
    service = stack.services["mailstore"]
    service.argv = [service.argv[0], "-m", "cProfile", "-o", str(path), *service.argv[1:]]


async def run_localpost(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack_ctx:
        if args.profile_mailstore:
            # LocalStack.start() builds the argv; wrap build() to add cProfile.
            original = LocalStack.build

            def build(self: LocalStack) -> None:
                original(self)
                profiled(self, args.profile_mailstore)

            stack_ctx.callback(setattr, LocalStack, "build", original)
            LocalStack.build = build  # type: ignore[method-assign]
        stack = await stack_ctx.enter_async_context(local_stack(**overrides))
        ep = stack.endpoints
        assert ep is not None
        http = await stack_ctx.enter_async_context(aiohttp.ClientSession())
        api = MailstoreAPI(http, ep.mailstore_url, ep.mailstore_token)
        address = f"bench-{uuid.uuid4().hex[:6]}@{ep.domain}"
        await api.create_account(address, PASSWORD)
        connection = await aio_pika.connect(AMQP_URL)
        stack_ctx.push_async_callback(connection.close)
        seen: dict[str, float] = {}
        await watch_events(await connection.channel(), ep.queue_prefix, seen)

        sending = asyncio.create_task(
            send_load(ep.smtp, address, total=args.messages, senders=args.senders, size=args.size)
        )
        visible_at = await wait_visible(api, address, args.messages, timeout=args.timeout)
        log = await sending
        # Events may trail the count by a little; give the last ones a moment.
        deadline = time.monotonic() + 5
        while len(seen) < len(log.accepted) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    latencies = [(seen[k] - t) * 1000 for k, t in log.accepted.items() if k in seen]
    elapsed = visible_at - log.first_connect
    return {
        "messages": args.messages,
        "elapsed_s": round(elapsed, 3),
        "msg_per_s": args.messages / elapsed,
        "accept_msg_per_s": args.messages / (log.last_reply - log.first_connect),
        "latency_ms": {
            "samples": len(latencies),
            "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99),
            "max": max(latencies, default=0.0),
        },
    }


async def run_offshelf(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    queue = f"lp-bench-offshelf-{uuid.uuid4().hex[:8]}"
    command = [
        sys.executable,
        str(BENCH_DIR / "offshelf_gateway.py"),
        "--port",
        str(port),
        "--amqp",
        AMQP_URL,
        "--queue",
        queue,
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        await wait_listening(process, port)
        # Its 250 carries no id; the message number names it in the log.
        log = await send_load(
            ("127.0.0.1", port),
            "someone@example.org",
            total=args.offshelf_messages,
            senders=args.senders,
            size=args.size,
            key=lambda text, n: str(n),
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(15):
                output, _ = await process.communicate()
        except TimeoutError:
            process.kill()
            output, _ = await process.communicate()
        await delete_queue(queue)
    if len(log.accepted) != args.offshelf_messages:
        raise RuntimeError(f"offshelf accepted {len(log.accepted)} of {args.offshelf_messages}")
    elapsed = log.last_reply - log.first_connect
    return {
        "messages": args.offshelf_messages,
        "elapsed_s": round(elapsed, 3),
        "msg_per_s": args.offshelf_messages / elapsed,
        "output": output.decode("utf-8", "replace").strip().splitlines()[-1:],
    }


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_listening(process: asyncio.subprocess.Process, port: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError("offshelf gateway exited early")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"offshelf gateway did not listen on {port}")


async def delete_queue(name: str) -> None:
    with contextlib.suppress(OSError, aio_pika.exceptions.AMQPException):
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(name)


def table(result: dict[str, Any]) -> str:
    ours, theirs = result["localpost"], result["offshelf"]
    lat = ours["latency_ms"]
    return "\n".join(
        [
            f"durable ingest: {result['senders']} senders, ~{result['size']} octets each",
            "",
            "| target    | messages | msg/s | 250 msg/s | 250->visible p50 | p99 |",
            "|-----------|---------:|------:|----------:|-----------------:|----:|",
            f"| localpost | {ours['messages']} | {ours['msg_per_s']:.0f} "
            f"| {ours['accept_msg_per_s']:.0f} | {lat['p50']:.0f} ms | {lat['p99']:.0f} ms |",
            f"| offshelf  | {theirs['messages']} | {theirs['msg_per_s']:.0f} "
            f"| {theirs['msg_per_s']:.0f} | (broker only) | |",
            "",
            f"ratio localpost/offshelf: {result['ratio']:.2f}",
        ]
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    ours = await run_localpost(args)
    theirs = await run_offshelf(args)
    return {
        "scenario": "ingest",
        "senders": args.senders,
        "size": args.size,
        "localpost": ours,
        "offshelf": theirs,
        "ratio": ours["msg_per_s"] / theirs["msg_per_s"],
        "machine": machine(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # About 20 s of steady state each on 2 CPUs (docs/performance.md).
    parser.add_argument("--messages", type=int, default=6_000, help="into Localpost")
    parser.add_argument("--offshelf-messages", type=int, default=30_000, help="into offshelf")
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--size", type=int, default=2000, help="octets per message (about)")
    parser.add_argument("--timeout", type=float, default=600.0, help="until all are visible")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check it runs")
    parser.add_argument(
        "--profile-mailstore", type=Path, help="run mailstore under cProfile, stats here"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.messages, args.offshelf_messages, args.senders = 40, 40, 5
        args.timeout = 60.0
    if min(args.messages, args.offshelf_messages) < 1 or args.senders < 1:
        parser.error("--messages and --senders must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_script(parse_args(argv), run, table)


if __name__ == "__main__":
    sys.exit(main())
