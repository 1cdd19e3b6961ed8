"""The SMTP-core benchmark: messages per second accepted over loopback.

Postfix's ``smtp-source`` drives each target with the same load::

    smtp-source -d -s SESSIONS -m MESSAGES -l LENGTH 127.0.0.1:PORT

(``-d`` keeps each session open for its next message). The targets, each a
subprocess on its own free port, started once and kept warm:

- ``localpost``: ``python -m smtplib_common.server`` (uvloop when installed);
- ``localpost-asyncio``: the same with ``--no-uvloop`` (only with ``--targets``,
  or in place of ``localpost`` where uvloop is not installed);
- ``aiosmtpd``: aiosmtpd with a counting handler on a plain asyncio loop
  (``bench/aiosmtpd_counting.py``), as its documentation runs it;
- ``smtp-sink``: Postfix's C test server, the ceiling for this load.

Each round runs ``smtp-source`` once against every target, in an order that
rotates from round to round; ``--repeat`` rounds. A run counts only if
``smtp-source`` exits 0 (every reply positive); at the end every server's own
message count must equal what was sent. Timing is wall clock around
``smtp-source`` (``time.perf_counter``). Usage::

    .venv/bin/python bench/smtp_core.py [--repeat 3] [--sessions 20 1 200]
        [--messages 60000 20000 20000] [--length 2000] [--json results.json]

Each ``--sessions`` value is a load of its own (``smtp-source -s N``) with the
``--messages`` value in the same position; the 20-session figures are the
headline, which issue 5's targets are set at.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

BENCH_DIR = Path(__file__).resolve().parent
OURS = "localpost"
OURS_ASYNCIO = "localpost-asyncio"
AIOSMTPD = "aiosmtpd"
SINK = "smtp-sink"
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


@dataclass
class Target:
    """One server under test: how to start it and how to read its own count."""

    name: str
    command: Callable[[int], list[str]]
    # Reads the number of messages the server says it received from its output.
    count: Callable[[str], int | None]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    output: IO[bytes] | None = None
    rates: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.port = free_port()
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        # smtp-sink -c rewrites a counter line per message: a pipe would fill.
        # The argv is built here from our own options; no shell is involved.
        self.process = subprocess.Popen(  # noqa: S603
            self.command(self.port), stdout=self.output, stderr=subprocess.STDOUT
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.text()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def text(self) -> str:
        if self.output is None:
            return ""
        self.output.seek(0)
        return self.output.read().decode("utf-8", "replace")

    def close(self) -> None:
        if self.output is not None:
            self.output.close()
            self.output = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _received(text: str) -> int | None:
    """Our standalone server and the aiosmtpd script print this when stopped."""
    found = re.findall(r"received (\d+) messages", text)
    return int(found[-1]) if found else None


def _sink_messages(text: str) -> int | None:
    """smtp-sink -c prints ``... mesg=N`` as it goes."""
    found = re.findall(r"mesg=(\d+)", text)
    return int(found[-1]) if found else None


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def make_targets(args: argparse.Namespace) -> list[Target]:
    python = args.python
    # smtp-source opens every session from 127.0.0.1 (up to 200 at once, and again
    # each round): the per-source limits are raised past the load, not turned off,
    # so their bookkeeping is still in the figures.
    ours = [
        *(python, "-m", "smtplib_common.server", "--host", "127.0.0.1", "--hostname", "bench"),
        *("--max-connections-per-peer", "100000", "--max-connection-rate-per-peer", "1000000"),
    ]
    targets = []
    if has_module("uvloop"):
        targets.append(Target(OURS, lambda p: [*ours, "--port", str(p)], _received))
    targets.append(
        Target(
            OURS_ASYNCIO if has_module("uvloop") else OURS,
            lambda p: [*ours, "--port", str(p), "--no-uvloop"],
            _received,
        )
    )
    if has_module("aiosmtpd"):
        script = str(BENCH_DIR / "aiosmtpd_counting.py")
        targets.append(
            Target(
                AIOSMTPD,
                lambda p: [python, script, "--host", "127.0.0.1", "--port", str(p)],
                _received,
            )
        )
    sink = shutil.which("smtp-sink", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/bin")
    if sink is not None:
        # As root, smtp-sink refuses to run without dropping privileges.
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        targets.append(
            Target(SINK, lambda p: [sink, *user, "-c", f"127.0.0.1:{p}", "1000"], _sink_messages)
        )
    if args.targets:
        return [t for t in targets if t.name in args.targets]
    # By default the asyncio-loop variant only stands in when uvloop is missing: it
    # adds a quarter to the run time and no target is set on it.
    return [t for t in targets if t.name != OURS_ASYNCIO]


@contextlib.contextmanager
def running(targets: Sequence[Target]) -> Iterator[None]:
    """Start every target; always stop and reap every one of them."""
    try:
        for target in targets:
            target.start()
        for target in targets:
            target.wait_ready()
        yield
    finally:
        for target in targets:
            target.stop()


def run_source(
    source: str, target: Target, args: argparse.Namespace, sessions: int, messages: int
) -> float:
    """One timed smtp-source run; returns messages per second."""
    command = [
        source,
        "-d",
        "-s",
        str(sessions),
        "-m",
        str(messages),
        "-l",
        str(args.length),
        f"127.0.0.1:{target.port}",
    ]
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - argv built above, no shell
        command, capture_output=True, timeout=args.timeout, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"smtp-source against {target.name} failed ({done.returncode}): "
            f"{done.stderr.decode('utf-8', 'replace').strip()}"
        )
    return messages / elapsed


def summary(rates: dict[str, list[float]]) -> dict[str, dict[str, float | list[float]]]:
    return {
        name: {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
            "rates": [round(r, 1) for r in values],
        }
        for name, values in rates.items()
        if values
    }


def ratios(results: dict[str, dict[str, float | list[float]]]) -> dict[str, float]:
    out = {}
    for ours in (OURS, OURS_ASYNCIO):
        for other in (AIOSMTPD, SINK):
            if ours in results and other in results:
                mine, theirs = results[ours]["median"], results[other]["median"]
                assert isinstance(mine, float)
                assert isinstance(theirs, float)
                out[f"{ours}/{other}"] = mine / theirs
    return out


def table(
    results: dict[str, dict[str, float | list[float]]],
    args: argparse.Namespace,
    sessions: int,
    messages: int,
) -> str:
    lines = [
        f"smtp-source -d -s {sessions} -m {messages} -l {args.length}, "
        f"{args.repeat} round(s); {os.cpu_count()} CPU(s), Python {platform.python_version()}",
        "",
        f"| {'target':<18} | {'msg/s (median)':>14} | {'min - max':>17} |",
        f"|{'-' * 20}|{'-' * 15}:|{'-' * 18}:|",
    ]
    for name, r in results.items():
        lo_hi = f"{r['min']:.0f} - {r['max']:.0f}"
        lines.append(f"| {name:<18} | {r['median']:>14.0f} | {lo_hi:>17} |")
    lines.append("")
    for name, value in ratios(results).items():
        lines.append(f"ratio {name}: {value:.2f}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds over all targets")
    parser.add_argument(
        "--sessions", type=int, nargs="+", default=[20, 1, 200], help="smtp-source -s, each"
    )
    # 60,000 at 20 sessions: 3 rounds give every target about 20 s of steady state or
    # more in total (ours about 8 s a round, aiosmtpd about 25 s).
    parser.add_argument(
        "--messages",
        type=int,
        nargs="+",
        default=[60_000, 20_000, 20_000],
        help="smtp-source -m, one per --sessions value (or one for all)",
    )
    parser.add_argument("--length", type=int, default=2000, help="smtp-source -l (body octets)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--targets", nargs="*", help=f"a subset of {OURS} {OURS_ASYNCIO} {AIOSMTPD} {SINK}"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for the servers")
    parser.add_argument("--timeout", type=float, default=600.0, help="per smtp-source run")
    args = parser.parse_args(argv)
    if len(args.messages) == 1:
        args.messages = args.messages * len(args.sessions)
    if len(args.messages) != len(args.sessions):
        parser.error("give one --messages value, or one per --sessions value")
    if args.repeat < 1 or min(args.messages) < 1 or min(args.sessions) < 1:
        parser.error("--repeat, --messages and --sessions must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    source = shutil.which("smtp-source", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/bin")
    if source is None:
        print("smtp-source (Postfix) is not installed", file=sys.stderr)
        return 2
    targets = make_targets(args)
    if not targets:
        print("no target to run", file=sys.stderr)
        return 2
    loads = list(zip(args.sessions, args.messages, strict=True))
    rates = {n: {t.name: list[float]() for t in targets} for n, _ in loads}
    try:
        with running(targets):
            for sessions, messages in loads:
                for round_ in range(args.repeat):
                    # Rotate the order so that no target always runs first or last.
                    shift = round_ % len(targets)
                    for target in targets[shift:] + targets[:shift]:
                        rate = run_source(source, target, args, sessions, messages)
                        rates[sessions][target.name].append(rate)
        expected = sum(messages for _, messages in loads) * args.repeat
        for target in targets:
            counted = target.count(target.text())
            if counted != expected:
                raise RuntimeError(f"{target.name} counted {counted} messages, sent {expected}")
    finally:
        for target in targets:
            target.close()
    by_sessions = {}
    for sessions, messages in loads:
        results = summary(rates[sessions])
        print(table(results, args, sessions, messages) + "\n")
        by_sessions[str(sessions)] = {
            "command": f"smtp-source -d -s {sessions} -m {messages} -l {args.length}",
            "results": results,
            "ratios": ratios(results),
        }
    if args.json is not None:
        headline = by_sessions.get("20") or next(iter(by_sessions.values()))
        args.json.write_text(
            json.dumps(
                {
                    "repeat": args.repeat,
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    # The 20-session figures, which the targets are set at.
                    **headline,
                    "by_sessions": by_sessions,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
