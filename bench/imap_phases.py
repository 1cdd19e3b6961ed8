"""The measurements of the IMAP benchmark, each the same for every server.

A :class:`Target` is one server as the client sees it: where it listens, the login of
each role, how a message is delivered to it, and which of its processes to meter. Each
phase takes a target and returns plain figures for the JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imap_seed
from imap_client import IMAPConnection
from stackbench import percentile

MB = 1_000_000
OPEN_BATCH = 10  # logins at once: within the mail store's bcrypt queue (8 per worker)
SETTLE = 2.0  # seconds before reading RSS, for the allocator to settle


@dataclass
class Target:
    name: str
    address: tuple[str, int]
    password: str
    # role -> login name: big, large, login, probe, mix-<n>, idle-<n>
    users: dict[str, str]
    # Process groups to meter: name -> pids (read when metered: Dovecot forks).
    processes: Callable[[], dict[str, list[int]]]
    notes: dict[str, str] = field(default_factory=dict)
    # Pids whose reaped children's CPU counts too (proc(5) cutime, cstime): PostgreSQL's
    # postmaster, whose backends and workers may end between two readings.
    reaping: frozenset[int] = frozenset()

    async def session(self, role: str, *, select: bool = True) -> IMAPConnection:
        connection = await IMAPConnection.open(*self.address)
        await connection.login(self.users[role], self.password)
        if select:
            await connection.command("SELECT INBOX")
        return connection


def status_kib(pid: int, field_name: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU time of a process so far (proc(5) stat fields 14 and 15), and
    with ``reaped`` that of its children it has waited for (16 and 17)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_by_group(target: Target) -> dict[str, float]:
    return {
        name: sum(cpu_seconds(pid, reaped=pid in target.reaping) for pid in pids)
        for name, pids in target.processes().items()
    }


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages divided among the processes sharing them."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def memory(target: Target) -> dict[str, dict[str, float]]:
    """RSS and PSS in MiB per process group, with how many processes."""
    out = {}
    for name, pids in target.processes().items():
        out[name] = {
            "rss_mib": round(sum(status_kib(p, "VmRSS") for p in pids) / 1024, 1),
            "pss_mib": round(sum(pss_kib(p) for p in pids) / 1024, 1),
            "processes": len(pids),
        }
    return out


async def logins(target: Target, role: str, *, clients: int, seconds: float) -> dict[str, Any]:
    """LOGIN + LOGOUT on a new connection, ``clients`` at once, for ``seconds``."""
    done = 0
    stop_at = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            connection = await IMAPConnection.open(*target.address)
            await connection.login(target.users[role], target.password)
            await connection.logout()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return {"logins": done, "seconds": round(elapsed, 2), "per_s": round(done / elapsed, 1)}


async def timed(connection: IMAPConnection, command: str, repeats: int) -> dict[str, Any]:
    """``command`` ``repeats`` times: the first (cold) apart, p50 of the rest, octets."""
    times, octets = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        answer = await connection.command(command)
        times.append((time.perf_counter() - started) * 1000)
        octets = answer.octets
    warm = times[1:] or times
    p50 = statistics.median(warm)
    return {
        "cold_ms": round(times[0], 1),
        "p50_ms": round(p50, 1),
        "all_ms": [round(t, 1) for t in times],
        "octets": octets,
        "mb_per_s": round(octets / MB / (p50 / 1000), 1) if p50 else 0.0,
    }


async def big_folder(target: Target, *, repeats: int, bodies: int) -> dict[str, Any]:
    connection = await target.session("big", select=False)
    try:
        select = await timed(connection, "SELECT INBOX", repeats)
        envelopes = await timed(connection, "UID FETCH 1:* (UID FLAGS ENVELOPE)", repeats)
        full = await timed(connection, f"FETCH 1:{bodies} (BODY.PEEK[])", repeats)
    finally:
        await connection.logout()
    return {"select": select, "uid_fetch_envelopes": envelopes, "bodies": full}


def reset_peaks(target: Target) -> None:
    for pids in target.processes().values():
        for pid in pids:
            # Linux 4.0+: writing 5 resets VmHWM to the current RSS (proc(5), clear_refs).
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")


async def large_body(target: Target, *, repeats: int) -> dict[str, Any]:
    """BODY.PEEK[] of the one large message; each process group's peak RSS meanwhile."""
    connection = await target.session("large")
    try:
        await asyncio.sleep(SETTLE)
        before = memory(target)
        reset_peaks(target)
        result = await timed(connection, "FETCH 1 (BODY.PEEK[])", repeats)
        peaks = {
            name: round(max((status_kib(p, "VmHWM") for p in pids), default=0) / 1024, 1)
            for name, pids in target.processes().items()
        }
    finally:
        await connection.logout()
    return {**result, "rss_before": before, "peak_rss_mib": peaks}


async def exists_latency(
    target: Target, deliver: Callable[[str, bytes], Awaitable[None]], *, messages: int, via: str
) -> dict[str, Any]:
    """Acknowledged delivery → untagged EXISTS in another session's IDLE, one at a time."""
    watcher = await target.session("probe", select=False)
    count = await _selected_count(watcher)
    tag = await watcher.idle()
    watching = asyncio.create_task(watcher.watch())
    latencies: list[float] = []
    missed = 0
    try:
        for n in range(messages):
            raw = imap_seed.mixed_message(n, target.users["probe"], random.Random(n))  # noqa: S311
            await deliver(target.users["probe"], raw)
            acked = time.perf_counter()
            count += 1
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                seen = [at for at, number in watcher.exists if number >= count]
                if seen:
                    latencies.append((seen[0] - acked) * 1000)
                    break
                await asyncio.sleep(0.0005)
            else:
                missed += 1
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        with contextlib.suppress(Exception):
            await watcher.done(tag)
        await watcher.logout()
    return {
        "via": via,
        "messages": messages,
        "seen": len(latencies),
        "missed": missed,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=0.0), 1),
    }


async def idle_sessions(target: Target, *, sessions: int, accounts: int) -> dict[str, Any]:
    """``sessions`` sessions logged in, Inbox selected, in IDLE; memory before and held."""
    await asyncio.sleep(SETTLE)
    before = memory(target)
    held: list[IMAPConnection] = []
    started = time.perf_counter()
    try:
        for first in range(0, sessions, OPEN_BATCH):
            batch = range(first, min(sessions, first + OPEN_BATCH))
            opened = await asyncio.gather(*(_idle_one(target, n % accounts) for n in batch))
            held.extend(opened)
        open_s = time.perf_counter() - started
        await asyncio.sleep(SETTLE)
        after = memory(target)
    finally:
        await asyncio.gather(*(c.close() for c in held))
    return {
        "sessions": sessions,
        "accounts": accounts,
        "open_s": round(open_s, 1),
        "before": before,
        "held": after,
    }


async def _idle_one(target: Target, account: int) -> IMAPConnection:
    connection = await target.session(f"idle-{account}")
    await connection.idle()
    return connection


# The mix of one client's operations, by weight: reading dominates, as in a mail program.
MIX = {
    "select": 5,
    "fetch envelopes page": 25,
    "fetch body": 20,
    "store flags": 15,
    "search": 10,
    "append": 5,
    "noop": 15,
    "idle": 5,
}


async def mixed(target: Target, *, clients: int, accounts: int, seconds: float) -> dict[str, Any]:
    """``clients`` sessions over ``accounts`` mailboxes doing :data:`MIX` for ``seconds``."""
    counts: Counter[str] = Counter()
    took: dict[str, list[float]] = {kind: [] for kind in MIX}
    sessions = [await target.session(f"mix-{n % accounts}") for n in range(clients)]
    stop_at = time.perf_counter() + seconds

    async def client(n: int, connection: IMAPConnection) -> None:
        chance = random.Random(n)  # noqa: S311
        kinds, weights = list(MIX), list(MIX.values())
        while time.perf_counter() < stop_at:
            kind = chance.choices(kinds, weights)[0]
            began = time.perf_counter()
            await _operation(connection, kind, chance)
            took[kind].append((time.perf_counter() - began) * 1000)
            counts[kind] += 1

    started = time.perf_counter()
    cpu_before = cpu_by_group(target)
    try:
        await asyncio.gather(*(client(n, c) for n, c in enumerate(sessions)))
    except BaseException:
        await asyncio.gather(*(c.close() for c in sessions))
        raise
    elapsed = time.perf_counter() - started
    # Read before LOGOUT: Dovecot's imap processes end with their sessions.
    cpu_after = cpu_by_group(target)
    await asyncio.gather(*(c.logout() for c in sessions))
    total = sum(counts.values())
    return {
        "ops": total,
        "seconds": round(elapsed, 1),
        "ops_per_s": round(total / elapsed, 1),
        # CPU per operation of each metered process group (PostgreSQL's private cluster
        # for Localpost, when the bench runs one): on a shared machine the rate follows
        # the other load, the work per op less so.
        "cpu_ms_per_op": {
            name: round((cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / max(total, 1), 2)
            for name in cpu_after
        },
        # Where the time goes: each kind's count and p50 latency at the client.
        "by_kind": {
            kind: {"count": counts[kind], "p50_ms": round(percentile(took[kind], 50), 1)}
            for kind in MIX
        },
    }


async def _selected_count(connection: IMAPConnection) -> int:
    await connection.command("SELECT INBOX")
    return connection.count


async def _operation(connection: IMAPConnection, kind: str, chance: random.Random) -> None:
    """One operation, on the messages the session has been told of (its EXISTS)."""
    exists = connection.count
    number = chance.randint(1, exists)
    if kind == "select":
        await connection.command("SELECT INBOX")
    elif kind == "fetch envelopes page":
        await connection.command(f"FETCH {max(1, exists - 49)}:{exists} (UID FLAGS ENVELOPE)")
    elif kind == "fetch body":
        await connection.command(f"FETCH {number} (BODY.PEEK[])")
    elif kind == "store flags":
        sign = chance.choice("+-")
        await connection.command(f"STORE {number} {sign}FLAGS (\\Seen)")
    elif kind == "search":
        await connection.command(f"SEARCH UNSEEN SUBJECT {chance.choice(imap_seed.WORDS)}")
    elif kind == "append":
        raw = imap_seed.mixed_message(exists, "mix@example.org", chance)
        await connection.command("APPEND INBOX", raw)
    elif kind == "noop":
        await connection.command("NOOP")
    else:
        tag = await connection.idle()
        await connection.done(tag)
