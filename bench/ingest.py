"""Durable ingest, end to end: SMTP in, visible through mailstore's API.

Scenario 2 of issue 5. Two targets under the same load (``--senders``
concurrent SMTP connections, each opened once and reused, sending messages of
about ``--size`` octets for ``--duration`` seconds with ``smtplib_common``'s
client), alternating for ``--rounds`` rounds:

- ``localpost``: the whole stack (``tests.integration.stack.LocalStack``, a
  fresh database and queue prefix), a fresh recipient account per run. Messages
  per second run from the first connection until the folder count read through
  ``GET /v1/accounts/{a}/folders`` reaches the number sent. Latency runs from
  each 250 reply to its ``stored`` event on ``<prefix>.events`` (published after
  COMMIT; matched on the gateway id the 250 carries). Two runs per round: as
  fast as the replies come back (the throughput), and paced at ``--rate``
  (the latency at a sustained offered load: as fast as possible, any pipeline
  whose stages run at different speeds builds a queue, and the queueing time is
  the latency).
- ``gateway alone``: Localpost's gateway as the off-the-shelf one runs, to the
  broker only: a second gateway process of the stack, with a queue prefix of its
  own that no mail store consumes (its queue is deleted after). Messages per
  second until the last 250, like for like with ``offshelf``.
- ``offshelf``: ``bench/offshelf_gateway.py`` (aiosmtpd + aio-pika, persistent
  messages with publisher confirms to a durable quorum queue, 250 after the
  confirm). Messages per second until the last 250: it only reaches the broker.

The load generator runs in this process, on the same CPUs. Usage (repository root)::

    .venv/bin/python bench/ingest.py [--duration 20] [--rounds 3] [--rate 1500]
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
    CpuMeter,
    local_stack,
    machine,
    many_connections_from_here,
    percentile,
    run_script,
    send_load,
    summary,
)

from tests.integration.mailapi import MailstoreAPI
from tests.integration.ports import free_port
from tests.integration.stack import LocalStack, ServiceProcess, delete_topology, wait_ready

BENCH_DIR = Path(__file__).resolve().parent
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway account in a throwaway database
READY_TIMEOUT = 15.0


async def inbox_total(api: MailstoreAPI, address: str) -> int:
    status, body = await api.call("GET", f"/v1/accounts/{quote(address)}/folders")
    assert status == 200, (status, body)
    return sum(f["total"] for f in body["folders"] if f["id"] == "inbox")


async def watch_events(
    channel: aio_pika.abc.AbstractChannel, prefix: str, seen: dict[str, float]
) -> tuple[aio_pika.abc.AbstractQueue, str]:
    """Timestamp every entry of each ``stored`` event as it arrives (exclusive,
    auto-deleted queue).

    Returns the queue and the consumer tag that stops the watch.
    """
    exchange = await channel.get_exchange(f"{prefix}.events")
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange)

    async def on_event(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        now = time.perf_counter()
        event = json.loads(message.body)
        if event.get("event") == "stored":
            for entry in event["entries"]:
                if entry["folder"] == "inbox":
                    seen.setdefault(entry["message_id"], now)

    return queue, await queue.consume(on_event, no_ack=True)


async def wait_visible(
    api: MailstoreAPI,
    address: str,
    total: int,
    seen: dict[str, float],
    *,
    timeout: float,
    interval: float = 0.05,
) -> float:
    """perf_counter when the inbox count read through the API first reached ``total``.

    The API is asked only once the ``stored`` events announced them all (or stopped
    coming): counting a growing Inbox 20 times a second would load the system measured.
    """
    deadline = time.monotonic() + timeout
    quiet_since, last_seen = time.monotonic(), len(seen)
    while len(seen) < total and time.monotonic() - quiet_since < 2.0:
        await asyncio.sleep(interval)
        if len(seen) != last_seen:
            quiet_since, last_seen = time.monotonic(), len(seen)
    while True:
        count = await inbox_total(api, address)
        if count >= total:
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} of {total} visible after {timeout}s")
        await asyncio.sleep(interval)


async def transactions(api: MailstoreAPI) -> dict[str, float]:
    """The consumer's transactions so far and messages per transaction (its /metrics)."""
    status, text = await api.call("GET", "/metrics")
    assert status == 200, status
    samples = dict(
        line.rsplit(" ", 1)
        for line in bytes(text).decode().splitlines()
        if line.startswith("mailstore_batch_messages_")
    )
    count = float(samples.get("mailstore_batch_messages_count", 0))
    total = float(samples.get("mailstore_batch_messages_sum", 0))
    return {"count": count, "messages_per_transaction": total / count if count else 0.0}


def profiled(stack: LocalStack, path: Path) -> None:
    """Run the mailstore under cProfile (written when it stops)."""
    service = stack.services["mailstore"]
    service.argv = [service.argv[0], "-m", "cProfile", "-o", str(path), *service.argv[1:]]


async def localpost_round(
    stack: LocalStack,
    api: MailstoreAPI,
    channel: aio_pika.abc.AbstractChannel,
    args: argparse.Namespace,
    *,
    rate: float | None,
) -> dict[str, Any]:
    """One load into the running stack, to a fresh mailbox, until all of it is visible."""
    ep = stack.endpoints
    assert ep is not None
    address = f"bench-{uuid.uuid4().hex[:6]}@{ep.domain}"
    await api.create_account(address, PASSWORD)
    seen: dict[str, float] = {}
    events, tag = await watch_events(channel, ep.queue_prefix, seen)
    # The services this stack started (the IMAP gateway only runs when asked for).
    meter = CpuMeter(
        {name: service.pid for name, service in stack.services.items() if service.running}
    )
    cpu_before = meter.read()
    try:
        log = await send_load(
            ep.smtp,
            address,
            duration=args.duration,
            rate=rate,
            senders=args.senders,
            size=args.size,
        )
        total = len(log.accepted)
        visible_at = await wait_visible(api, address, total, seen, timeout=args.timeout)
        cpu = CpuMeter.used(cpu_before, meter.read())
    finally:
        await events.cancel(tag)  # auto-delete: the queue goes with its consumer
    latencies = [(seen[k] - t) * 1000 for k, t in log.accepted.items() if k in seen]
    elapsed = visible_at - log.first_connect
    return {
        "offered_msg_per_s": rate,
        "mailstore_transactions": await transactions(api),
        "messages": total,
        "elapsed_s": round(elapsed, 3),
        "msg_per_s": total / elapsed,
        "accept_msg_per_s": total / (log.last_reply - log.first_connect),
        # CPU seconds per part from the first connection until all were visible, and
        # per message: where the two CPUs went.
        "cpu_s": cpu,
        "cpu_ms_per_message": {k: round(v * 1000 / total, 3) for k, v in cpu.items()},
        "latency_ms": {
            "samples": len(latencies),
            "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99),
            "max": max(latencies, default=0.0),
        },
    }


async def gateway_alone(
    stack: LocalStack, api: MailstoreAPI, args: argparse.Namespace
) -> dict[str, Any]:
    """The same load into a second gateway of the stack whose queue nobody consumes."""
    ep = stack.endpoints
    assert ep is not None
    prefix = f"{ep.queue_prefix}-alone"
    smtp_port, submission_port, http_port = free_port(), free_port(), free_port()
    base = stack.services["smtp-gateway"]
    env = {
        **base.env,
        "LOCALPOST_QUEUE_PREFIX": prefix,
        "SMTP_PORT": str(smtp_port),
        "SUBMISSION_PORT": str(submission_port),
        "GATEWAY_HTTP_PORT": str(http_port),
    }
    gateway = ServiceProcess("gateway-alone", base.argv, env, stack.workdir / "gateway-alone.log")
    address = f"alone-{uuid.uuid4().hex[:6]}@{ep.domain}"
    await api.create_account(address, PASSWORD)
    await gateway.start()
    try:
        await wait_ready([(gateway, f"http://127.0.0.1:{http_port}/readyz")])
        log = await send_load(
            ("127.0.0.1", smtp_port), address, duration=args.duration, senders=args.senders,
            size=args.size,
        )  # fmt: skip
    finally:
        await gateway.stop()
        await delete_topology(AMQP_URL, prefix)
    elapsed = log.last_reply - log.first_connect
    return {
        "messages": len(log.accepted),
        "elapsed_s": round(elapsed, 3),
        "msg_per_s": len(log.accepted) / elapsed,
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
            duration=args.duration,
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
    elapsed = log.last_reply - log.first_connect
    return {
        "messages": len(log.accepted),
        "elapsed_s": round(elapsed, 3),
        "msg_per_s": len(log.accepted) / elapsed,
        "output": output.decode("utf-8", "replace").strip().splitlines()[-1:],
    }


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
    def row(name: str, runs: list[dict[str, Any]], broker_only: bool = False) -> str:
        rate = summary([r["msg_per_s"] for r in runs])
        messages = sum(r["messages"] for r in runs)
        if broker_only:
            latency = "(broker only) | |"
        else:
            p50 = summary([r["latency_ms"]["p50"] for r in runs])["median"]
            p99 = summary([r["latency_ms"]["p99"] for r in runs])
            latency = f"{p50:.0f} ms | {p99['median']:.0f} ms ({p99['min']:.0f}-{p99['max']:.0f})"
        return (
            f"| {name} | {messages} | {rate['median']:.0f} "
            f"| {rate['min']:.0f}-{rate['max']:.0f} | {latency} |"
        )

    rounds = result["rounds"]
    lines = [
        f"durable ingest: {result['senders']} senders, ~{result['size']} octets each, "
        f"{len(rounds)} round(s) of {result['duration_s']:.0f} s of sending each",
        "",
        "| target | messages (all rounds) | msg/s (median) | min-max "
        "| 250->visible p50 | p99 (min-max) |",
        "|--------|---------:|------:|------:|------:|------:|",
        row("localpost, as fast as it goes", [r["localpost"] for r in rounds]),
    ]
    if rounds[0].get("paced"):
        offered = rounds[0]["paced"]["offered_msg_per_s"]
        lines.append(row(f"localpost, offered {offered:.0f} msg/s", [r["paced"] for r in rounds]))
    lines += [
        row("localpost gateway alone", [r["gateway_alone"] for r in rounds], broker_only=True),
        row("offshelf (aiosmtpd + aio-pika)", [r["offshelf"] for r in rounds], broker_only=True),
        "",
        f"ratio localpost to visible / offshelf to the broker (median of rounds): "
        f"{result['ratio']['median']:.2f} ({result['ratio']['min']:.2f}-"
        f"{result['ratio']['max']:.2f})",
        f"ratio gateway alone / offshelf, both to the broker: "
        f"{result['gateway_ratio']['median']:.2f} ({result['gateway_ratio']['min']:.2f}-"
        f"{result['gateway_ratio']['max']:.2f})",
    ]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rounds: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as stack_ctx:
        if args.profile_mailstore:
            # LocalStack.start() builds the argv; wrap build() to add cProfile.
            original = LocalStack.build

            def build(self: LocalStack) -> None:
                original(self)
                profiled(self, args.profile_mailstore)

            stack_ctx.callback(setattr, LocalStack, "build", original)
            LocalStack.build = build  # type: ignore[method-assign]
        # --senders connections at once from one address, standing in for many senders.
        overrides = many_connections_from_here(args.senders)
        stack = await stack_ctx.enter_async_context(local_stack(**overrides))
        ep = stack.endpoints
        assert ep is not None
        http = await stack_ctx.enter_async_context(aiohttp.ClientSession())
        api = MailstoreAPI(http, ep.mailstore_url, ep.mailstore_token)
        connection = await aio_pika.connect(AMQP_URL)
        stack_ctx.push_async_callback(connection.close)
        channel = await connection.channel()
        # Rounds alternate between the targets, so a noisy minute hits both alike.
        for _ in range(args.rounds):
            this: dict[str, Any] = {
                "localpost": await localpost_round(stack, api, channel, args, rate=None)
            }
            if args.rate:
                this["paced"] = await localpost_round(stack, api, channel, args, rate=args.rate)
            this["gateway_alone"] = await gateway_alone(stack, api, args)
            this["offshelf"] = await run_offshelf(args)
            rounds.append(this)
    ratios = [r["localpost"]["msg_per_s"] / r["offshelf"]["msg_per_s"] for r in rounds]
    gateway_ratios = [r["gateway_alone"]["msg_per_s"] / r["offshelf"]["msg_per_s"] for r in rounds]
    return {
        "scenario": "ingest",
        "senders": args.senders,
        "size": args.size,
        "duration_s": args.duration,
        "rounds": rounds,
        "localpost_msg_per_s": summary([r["localpost"]["msg_per_s"] for r in rounds]),
        "offshelf_msg_per_s": summary([r["offshelf"]["msg_per_s"] for r in rounds]),
        "paced_p99_ms": summary([r["paced"]["latency_ms"]["p99"] for r in rounds])
        if args.rate
        else None,
        "ratio": summary(ratios),
        "gateway_alone_msg_per_s": summary([r["gateway_alone"]["msg_per_s"] for r in rounds]),
        "gateway_ratio": summary(gateway_ratios),
        "gateway_overrides": many_connections_from_here(args.senders),
        "machine": machine(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of sending per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--rate", type=float, default=1500.0, help="offered msg/s of the paced run (0: none)"
    )
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
        args.duration, args.rounds, args.senders, args.rate = 1.0, 1, 5, 50.0
        args.timeout = 60.0
    if args.duration <= 0 or args.senders < 1 or args.rounds < 1:
        parser.error("--duration, --rounds and --senders must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_script(parse_args(argv), run, table)


if __name__ == "__main__":
    sys.exit(main())
