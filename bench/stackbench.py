"""What the stack scenarios share: the running stack, the senders, the figures.

The stack is ``tests.integration.stack.LocalStack``: mailstore, smtp-gateway
and web as local processes with docker-compose's environment, a fresh
database and a fresh queue prefix. PostgreSQL is a private cluster of the
scenario's own, with the server settings docker-compose.yml gives its
``postgres`` service, so that the figures are those of Localpost as shipped
(``DATABASE_URL``, when set, names a server to use instead; without
``initdb`` the machine's default server is used, and the results say so).
RabbitMQ is this machine's (``AMQP_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import pwd
import re
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # tests.integration and deploy live at the repository root
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from deploy.compose_env import load_compose, postgres_settings  # noqa: E402
from smtplib_common.client import SMTPClient  # noqa: E402
from tests.integration import private_postgres  # noqa: E402
from tests.integration.private_postgres import PrivatePostgres  # noqa: E402
from tests.integration.stack import LocalStack  # noqa: E402

MACHINE_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
SENDER = "bench@example.org"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# Distinct messages send_load builds once and cycles through.
PAYLOADS = 2000
BODY_LINE = "The quick brown fox jumps over the lazy dog, and the dog does not mind. 0123456\n"


def message(recipient: str, subject: str, size: int = 2000) -> bytes:
    """An RFC 5322 message of about ``size`` octets (headers + plain-text body)."""
    # The headers a mail program writes; the gateway adds Received.
    head = (
        f"From: Bench <{SENDER}>\nTo: <{recipient}>\nSubject: {subject}\n"
        "Date: Thu, 26 Nov 2026 12:00:00 +0000\n"
        f"Message-ID: <{uuid.uuid4().hex}@bench.example.org>\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n"
        "Content-Transfer-Encoding: 7bit\n\n"
    )
    lines = max(1, (size - len(head)) // len(BODY_LINE))
    return (head + BODY_LINE * lines).encode()


@contextlib.asynccontextmanager
async def database_server() -> AsyncIterator[str]:
    """The PostgreSQL server of one scenario (see the module docstring); removed after."""
    if url := os.environ.get("DATABASE_URL"):
        DATABASE["server"] = "DATABASE_URL"
        yield url
        return
    if (why := private_postgres.available()) is not None:
        DATABASE["server"] = f"{MACHINE_DATABASE_URL} (no private cluster: {why})"
        yield MACHINE_DATABASE_URL
        return
    settings = postgres_settings(load_compose())
    DATABASE["server"] = f"private cluster, docker-compose.yml's settings {settings}"
    server = PrivatePostgres(settings)
    try:
        await server.start()
        # Its postmaster, whose processes the IMAP bench meters (bench/imap.py).
        DATABASE["pid_file"] = str(server.data / "postmaster.pid")
        yield server.url
    finally:
        await server.remove()


# What database_server() used, for machine() to report.
DATABASE: dict[str, str] = {}


def many_connections_from_here(connections: int) -> dict[str, str]:
    """Gateway settings for a load generator that holds ``connections`` SMTP
    connections at once from this one address (127.0.0.1).

    The gateway allows 20 connections at once and 60 new ones a minute per address
    (GATEWAY_MAX_CONNECTIONS_PER_SOURCE, GATEWAY_CONNECTION_RATE_PER_SOURCE): a
    scenario that stands in for many clients from one address must say so. Only these
    two are raised, past the load (so the bookkeeping still runs); every per-session
    limit stays at its default. Each result records them under ``gateway_overrides``.
    """
    return {
        "GATEWAY_MAX_CONNECTIONS_PER_SOURCE": str(connections + 10),
        "GATEWAY_CONNECTION_RATE_PER_SOURCE": str(10 * (connections + 10)),
    }


@contextlib.asynccontextmanager
async def local_stack(**overrides: str) -> AsyncIterator[LocalStack]:
    """A started LocalStack that is always stopped (database and queues dropped)."""
    async with (
        database_server() as database_url,
        LocalStack(database_url, AMQP_URL, overrides=dict(overrides)) as stack,
    ):
        yield stack


async def login(web_url: str, address: str, password: str) -> aiohttp.CookieJar:
    """A real browser login: the form's CSRF token, then POST; returns the cookies."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(web_url + "/login") as resp:
            match = _CSRF.search(await resp.text())
        assert match, "no csrf_token in the login form"
        form = {"csrf_token": match[1], "address": address, "password": password, "next": ""}
        async with http.post(web_url + "/login", data=form, allow_redirects=False) as resp:
            assert resp.status == 303, (resp.status, await resp.text())
    return jar


@dataclass
class SendLog:
    """When each message got its 250 (perf_counter), keyed by the gateway's id."""

    accepted: dict[str, float] = field(default_factory=dict)
    first_connect: float = 0.0
    last_reply: float = 0.0


async def send_load(
    smtp: tuple[str, int],
    recipient: str,
    *,
    senders: int,
    size: int,
    duration: float,
    rate: float | None = None,
    key: Callable[[str, int], str] | None = None,
) -> SendLog:
    """Messages over ``senders`` connections, each opened once and reused, for
    ``duration`` seconds from the first connection.

    With ``rate``, message n is not sent before ``n / rate`` seconds (an offered load,
    as opposed to as fast as replies come back). Any refusal or error aborts the run:
    a benchmark that loses messages has no figure. ``key(reply_text, n)`` names a
    message in the log (default: the last word of the 250 reply, the gateway's id).
    """
    log = SendLog()
    numbers = itertools.count()
    # Distinct subjects, built before the clock starts; reused round-robin.
    payloads = [message(recipient, f"bench {n:07d}", size) for n in range(PAYLOADS)]
    name = key or (lambda text, n: text.rsplit(" ", 1)[-1])

    async def sender() -> None:
        async with SMTPClient(*smtp, timeout=60.0) as client:
            for n in numbers:
                if time.perf_counter() - log.first_connect >= duration:
                    return
                if rate is not None:
                    due = log.first_connect + n / rate - time.perf_counter()
                    if due > 0:
                        await asyncio.sleep(due)
                result = await client.send_raw(SENDER, [recipient], payloads[n % PAYLOADS])
                now = time.perf_counter()
                log.accepted[name(result.data_response.text, n)] = now
                log.last_reply = now

    log.first_connect = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    return log


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values) if values else 0.0,
        "min": min(values, default=0.0),
        "max": max(values, default=0.0),
    }


def rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int, *, children: bool = False) -> int:
    """utime + stime of a process (and of its reaped children), in clock ticks."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0  # gone since it was listed
    fields = stat.rpartition(")")[2].split()  # the command may hold spaces
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (proc(5) fields 14, 15)
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks


def _pids_of(user: str) -> list[int]:
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        return []
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds per part of the pipeline between two readings (``/proc/<pid>/stat``).

    The services by pid; PostgreSQL and RabbitMQ as every process of their system user
    (a backend that exited is counted through its parent's cutime/cstime); the load
    generator is this process. Only meaningful when the broker and database are local.
    """

    def __init__(self, services: dict[str, int]) -> None:
        self._services = services

    def read(self) -> dict[str, float]:
        ticks = {name: _cpu_ticks(pid) for name, pid in self._services.items()}
        ticks["postgresql"] = sum(_cpu_ticks(pid, children=True) for pid in _pids_of("postgres"))
        ticks["rabbitmq"] = sum(_cpu_ticks(pid, children=True) for pid in _pids_of("rabbitmq"))
        ticks["load generator"] = _cpu_ticks(os.getpid())
        return {name: t / _TICKS for name, t in ticks.items()}

    @staticmethod
    def used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {name: round(after[name] - before[name], 2) for name in after}


def machine() -> dict[str, str | int | None]:
    model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgresql": DATABASE.get("server"),
    }


def run_script(
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]],
    table: Callable[[dict[str, Any]], str],
) -> int:
    """A scenario script's main: run it on uvloop, print its table, write ``--json``."""
    use_uvloop()
    result = asyncio.run(run(args))
    print(table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


def use_uvloop() -> None:
    """The load generator runs on uvloop when installed, to leave the CPU to the servers."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
