"""Large messages: throughput and each service's peak memory for 20 MiB messages.

Scenario 3 of issue 5. On a fresh LocalStack with one recipient account, ``--bursts``
times in a row:

1. every service's peak RSS is reset (``5`` into ``/proc/<pid>/clear_refs``) and
   its ``VmRSS`` read after a pause: the *before* figure;
2. ``--concurrent`` messages of ``--size-mib`` MiB each (multipart/mixed: a short text
   part and a base64 attachment of random bytes) are sent at once, each on its own
   ``smtplib_common`` connection, and the bench waits until mailstore's API lists
   them all in the Inbox; MiB/s = bytes sent / (first connection → all visible);
3. then every message's raw source is downloaded through the web (a logged-in
   session, ``/messages/{id}/raw``, which reads it from mailstore's API), all at
   once, as a user saving the burst's messages would;
4. each service's ``VmHWM`` (peak RSS since the reset) and ``VmRSS`` after.

Growth is peak minus before, also as a multiple of the bytes in flight
(``--concurrent`` x size). The mailbox grows by one burst each time, so the later
bursts show whether peak growth depends on the mailbox size (it should not).
``VmRSS`` is also polled every 20 ms, as a check on ``VmHWM``. Usage::

    .venv/bin/python bench/large.py [--concurrent 10] [--size-mib 20] [--json out.json]
    .venv/bin/python bench/large.py --smoke
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from ingest import PASSWORD, inbox_total
from stackbench import SENDER, local_stack, login, machine, run_script

from smtplib_common.client import SMTPClient
from tests.integration.mailapi import MailstoreAPI

MiB = 1024 * 1024
SERVICES = ("smtp-gateway", "mailstore", "web")
SETTLE = 1.5  # seconds for the allocator to return memory before "before" and "after"
POLL = 0.02


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def reset_peak(pid: int) -> None:
    # Linux 4.0+: writing 5 resets VmHWM to the current RSS (proc(5), clear_refs).
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def large_message(recipient: str, subject: str, size: int, blob: bytes) -> bytes:
    """A multipart/mixed message of about ``size`` octets: text + base64 attachment."""
    boundary = "=_lp_" + uuid.uuid4().hex
    head = (
        f"From: Bench <{SENDER}>\r\nTo: <{recipient}>\r\nSubject: {subject}\r\n"
        f'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "The quarterly data set is attached.\r\n\r\n"
        f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
        'Content-Disposition: attachment; filename="data.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    # 57 raw bytes per 76-character base64 line (RFC 2045 §6.8) + CRLF = 78 octets.
    lines = max(1, (size - len(head) - len(tail)) // 78)
    raw = blob[: lines * 57]
    encoded = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return head + encoded + tail


class Sampler:
    """Polls every service's VmRSS; the highest value seen per service."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peak = dict.fromkeys(pids, 0)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], status_kib(pid, "VmRSS"))
            await asyncio.sleep(POLL)

    def split(self) -> dict[str, int]:
        """The peaks so far; the next ones count from now."""
        peaks = dict(self.peak)
        self.peak = dict.fromkeys(self.pids, 0)
        return peaks

    def start(self) -> None:
        self.peak = dict.fromkeys(self.pids, 0)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> dict[str, int]:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return dict(self.peak)


async def burst(
    args: argparse.Namespace,
    smtp: tuple[str, int],
    api: MailstoreAPI,
    web: WebSession,
    address: str,
    pids: dict[str, int],
    n: int,
    blob: bytes,
    first: dict[str, int],
) -> dict[str, Any]:
    size = args.size_mib * MiB
    payloads = [
        large_message(address, f"large {n}.{k}", size, blob[k * 57 :])
        for k in range(args.concurrent)
    ]
    already = await inbox_total(api, address)
    await asyncio.sleep(SETTLE)
    before = {name: status_kib(pid, "VmRSS") for name, pid in pids.items()}
    first.update({k: v for k, v in before.items() if k not in first})
    for pid in pids.values():
        reset_peak(pid)
    sampler = Sampler(pids)
    sampler.start()

    async def send(payload: bytes) -> None:
        async with SMTPClient(*smtp, timeout=120.0) as client:
            await client.send_raw(SENDER, [address], payload)

    started = time.perf_counter()
    await asyncio.gather(*(send(p) for p in payloads))
    accepted = time.perf_counter()
    total = already + args.concurrent
    while await inbox_total(api, address) < total:
        if time.perf_counter() - started > args.timeout:
            raise TimeoutError(f"burst {n}: not all visible after {args.timeout} s")
        await asyncio.sleep(0.1)
    visible = time.perf_counter()
    in_flight = sum(len(p) for p in payloads)
    del payloads
    ingest_peak = sampler.split()
    downloaded = await download_all(api, web, address, args.concurrent)
    read_s = time.perf_counter() - visible
    download_peak = await sampler.stop()
    polled = {name: max(ingest_peak[name], download_peak[name]) for name in pids}
    peak = {name: status_kib(pid, "VmHWM") for name, pid in pids.items()}
    await asyncio.sleep(SETTLE)
    after = {name: status_kib(pid, "VmRSS") for name, pid in pids.items()}
    return {
        "burst": n,
        "mailbox_before": already,
        "bytes_in_flight": in_flight,
        "accept_s": round(accepted - started, 2),
        "visible_s": round(visible - started, 2),
        "mib_per_s": round(in_flight / MiB / (visible - started), 2),
        "download_s": round(read_s, 2),
        "downloaded_bytes": downloaded,
        "services": {
            name: {
                "before_mib": round(before[name] / 1024, 1),
                "peak_mib": round(peak[name] / 1024, 1),
                "polled_peak_mib": round(polled[name] / 1024, 1),
                "polled_ingest_peak_mib": round(ingest_peak[name] / 1024, 1),
                "polled_download_peak_mib": round(download_peak[name] / 1024, 1),
                "peak_over_first_before_mib": round((peak[name] - first[name]) / 1024, 1),
                "after_mib": round(after[name] / 1024, 1),
                "growth_mib": round((peak[name] - before[name]) / 1024, 1),
                "growth_x_in_flight": round((peak[name] - before[name]) * 1024 / in_flight, 2),
            }
            for name in pids
        },
    }


@dataclass
class WebSession:
    url: str
    http: aiohttp.ClientSession


async def download_all(api: MailstoreAPI, web: WebSession, address: str, newest: int) -> int:
    """The raw source of the ``newest`` messages through the web, all at once; total bytes."""
    status, body = await api.call(
        "GET", f"/v1/accounts/{quote(address)}/messages", params={"limit": str(newest)}
    )
    assert status == 200, (status, body)

    async def raw(entry: int) -> int:
        async with web.http.get(f"{web.url}/messages/{entry}/raw") as resp:
            assert resp.status == 200, resp.status
            return len(await resp.read())

    sizes = await asyncio.gather(*(raw(m["id"]) for m in body["messages"]))
    return sum(sizes)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    blob = os.urandom(args.size_mib * MiB + args.concurrent * 57)
    async with contextlib.AsyncExitStack() as ctx:
        stack = await ctx.enter_async_context(local_stack())
        ep = stack.endpoints
        assert ep is not None
        pids = {}
        for name in SERVICES:
            process = stack.services[name].process
            assert process is not None
            pids[name] = process.pid
        timeout = aiohttp.ClientTimeout(total=args.timeout)
        http = await ctx.enter_async_context(aiohttp.ClientSession(timeout=timeout))
        api = MailstoreAPI(http, ep.mailstore_url, ep.mailstore_token)
        address = f"large-{uuid.uuid4().hex[:6]}@{ep.domain}"
        await api.create_account(address, PASSWORD)
        jar = await login(ep.web_url, address, PASSWORD)
        browser = await ctx.enter_async_context(
            aiohttp.ClientSession(cookie_jar=jar, timeout=timeout)
        )
        web = WebSession(ep.web_url, browser)
        first: dict[str, int] = {}  # each service's RSS before the first burst
        bursts = [
            await burst(args, ep.smtp, api, web, address, pids, n, blob, first)
            for n in range(args.bursts)
        ]
    return {
        "scenario": "large",
        "concurrent": args.concurrent,
        "size_mib": args.size_mib,
        "bursts": bursts,
        "worst_growth_x": max(
            s["growth_x_in_flight"] for b in bursts for s in b["services"].values()
        ),
        "machine": machine(),
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"large messages: {result['concurrent']} x {result['size_mib']} MiB at once, per burst",
        "",
        "| burst | mailbox | MiB/s | service | before | peak (ingest/download) | growth "
        "| x in flight | after |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for b in result["bursts"]:
        for name, s in b["services"].items():
            lines.append(
                f"| {b['burst']} | {b['mailbox_before']} | {b['mib_per_s']:.1f} | {name} "
                f"| {s['before_mib']} | {s['peak_mib']} ({s['polled_ingest_peak_mib']}/"
                f"{s['polled_download_peak_mib']}) | +{s['growth_mib']} "
                f"| {s['growth_x_in_flight']:.2f} | {s['after_mib']} |"
            )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrent", type=int, default=10, help="messages per burst")
    parser.add_argument("--size-mib", type=int, default=20, help="MiB per message")
    parser.add_argument("--bursts", type=int, default=2, help="into an ever bigger mailbox")
    parser.add_argument("--timeout", type=float, default=300.0, help="per burst")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.concurrent, args.size_mib, args.timeout = 2, 1, 60.0
    if min(args.concurrent, args.size_mib, args.bursts) < 1:
        parser.error("--concurrent, --size-mib and --bursts must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_script(parse_args(argv), run, table)


if __name__ == "__main__":
    sys.exit(main())
