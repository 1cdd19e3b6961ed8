"""IMAP beside Dovecot: logins, a 100,000-message folder, bodies, IDLE, a mixed load.

Issue 13's benchmark. Localpost (a LocalStack with the IMAP gateway: mail store, SMTP
gateway, web, IMAP gateway, as shipped) and a private Dovecot (Debian's dovecot-imapd,
``dovecot_server.py``) hold the same messages (``imap_seed.py``) and are measured in the
same run by the same client (``imap_client.py``), phase by phase
(``imap_phases.py``), one server after the other:

1. logins/s: LOGIN + LOGOUT on a new connection, ``--login-clients`` at once. Localpost
   checks bcrypt at cost 12 (its only scheme); Dovecot once with ``BLF-CRYPT`` at cost
   12 (the same work) and once with ``SHA512-CRYPT`` (what its documentation suggests);
2. a ``--big``-message Inbox (100,000): SELECT, ``UID FETCH 1:* (UID FLAGS ENVELOPE)``
   and ``FETCH 1:--bodies (BODY.PEEK[])`` (1,000 messages of mixed sizes), each
   ``--repeats`` times on one session: the first (cold) apart, p50 of the rest;
3. one ``--large-mib`` (20) MiB message, BODY.PEEK[]: MB/s and each process's peak RSS;
4. delivery → untagged EXISTS in an IDLE session, ``--probes`` (200) messages one at a
   time: for Localpost from the SMTP gateway's 250 (and, like for like, from APPEND's
   OK on another session), for Dovecot from APPEND's OK on another session;
5. ``--idle`` (1,000) sessions logged in, Inbox selected, in IDLE: RSS of the IMAP
   gateway, and of all Dovecot's processes (and PSS, which counts shared pages once);
6. a mixed load: ``--clients`` (20) sessions over 4 mailboxes of ``--mix`` messages
   doing SELECT, a page of envelopes, a body, STORE, SEARCH, APPEND, NOOP, IDLE (by
   the weights in ``imap_phases.MIX``) for ``--seconds``; ``--rounds`` alternate turns.

The gateway allows 50 connections per source address and 20 sessions per account:
the load comes from 127.0.0.1, so ``IMAP_MAX_CONNECTIONS_PER_SOURCE`` is raised past
the idle sessions (recorded under ``gateway_overrides``); the idle sessions are spread
over accounts of 20 sessions each, so the per-account limit stays as shipped, as does
every per-session limit (commands per second, timeouts). Usage::

    .venv/bin/python bench/imap.py [--json out.json]
    .venv/bin/python bench/imap.py --smoke
    .venv/bin/python bench/imap.py --only mixed   # one phase (or several), seeding only its data
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import statistics
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import dovecot_server
import imap_phases as phases
import imap_seed
from imap_client import IMAPConnection
from stackbench import AMQP_URL, DATABASE, SENDER, database_server, machine, run_script

from mailstore.passwords import DEFAULT_ROUNDS
from smtplib_common.client import SMTPClient
from smtplib_common.errors import SMTPError
from tests.integration.mailapi import MailstoreAPI
from tests.integration.ports import free_port
from tests.integration.stack import LocalStack

PASSWORD = "bench-password-1"  # noqa: S105 - throwaway accounts on throwaway servers
MIX_ACCOUNTS = 4
SESSIONS_PER_ACCOUNT = 20  # the gateway's IMAP_MAX_CONNECTIONS_PER_ACCOUNT default
DOMAIN = "localpost.test"
# The phases of measure(), in order; --only picks some (the default is all of them).
PHASES = ("logins", "big", "large", "exists", "mixed", "idle")
PHASE_OF_ROLE = {"big": "big", "large": "large"}


def roles(args: argparse.Namespace) -> list[str]:
    idle_accounts = math.ceil(args.idle / SESSIONS_PER_ACCOUNT) if "idle" in args.only else 0
    return [
        "big",
        "large",
        "login",
        "probe",
        *(f"mix-{n}" for n in range(MIX_ACCOUNTS)),
        *(f"idle-{n}" for n in range(idle_accounts)),
    ]


def contents(args: argparse.Namespace, address: str, role: str) -> Iterator[bytes] | None:
    """The messages a role's Inbox starts with; the same bytes for both servers.

    A phase left out by ``--only`` is not seeded: 100,000 messages take minutes.
    """
    if role in PHASE_OF_ROLE and PHASE_OF_ROLE[role] not in args.only:
        return None
    if role == "big":
        return imap_seed.mailbox(address, args.big, seed=1)
    if role.startswith("mix-"):
        return imap_seed.mailbox(address, args.mix, seed=2 + int(role[4:]))
    if role == "large":
        return iter([imap_seed.large_message(address, args.large_mib * 2**20)])
    return None


class Appender:
    """Delivery by APPEND from a session of its own (logged in as the recipient)."""

    def __init__(self, target: phases.Target, role: str) -> None:
        self.target, self.role = target, role
        self.connection: IMAPConnection | None = None

    async def __call__(self, user: str, raw: bytes) -> None:
        if self.connection is None:
            self.connection = await self.target.session(self.role, select=False)
        await self.connection.command("APPEND INBOX", raw)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.logout()


@contextlib.asynccontextmanager
async def localpost(args: argparse.Namespace, overrides: dict[str, str]) -> AsyncIterator[Any]:
    async with (
        database_server() as database_url,
        LocalStack(
            database_url, AMQP_URL, imap=True, service_overrides={"imap-gateway": overrides}
        ) as stack,
        aiohttp.ClientSession() as http,
    ):
        ep = stack.endpoints
        assert ep is not None
        assert ep.imap is not None
        api = MailstoreAPI(http, ep.mailstore_url, ep.mailstore_token)
        users = {role: f"{role}@{ep.domain}" for role in roles(args)}
        for first in range(0, len(users), phases.OPEN_BATCH):
            batch = list(users.values())[first : first + phases.OPEN_BATCH]
            await asyncio.gather(*(api.create_account(a, PASSWORD) for a in batch))
        for role, address in users.items():
            if (messages := contents(args, address, role)) is not None:
                await imap_seed.store(stack.database_url, address, messages)

        smtp = SMTPClient(*ep.smtp, timeout=30.0)

        async def by_smtp(user: str, raw: bytes) -> None:
            # Connected at the first message: a session opened before the seeding
            # would sit idle through it.
            if not smtp.is_connected:
                await smtp.connect()
            await smtp.send_raw(SENDER, [user], raw)

        pids = {n: stack.services[n].process.pid for n in ("imap-gateway", "mailstore")}  # type: ignore[union-attr]
        postmaster = _postmaster()

        def processes() -> dict[str, list[int]]:
            groups = {name: [pid] for name, pid in pids.items()}
            if postmaster is not None:  # the bench's own cluster: no other work in it
                groups["postgresql"] = dovecot_server.process_tree(postmaster)
            return groups

        target = phases.Target(
            "localpost",
            ep.imap,
            PASSWORD,
            users,
            processes,
            notes={"login hash": f"bcrypt cost {DEFAULT_ROUNDS} over base64(sha256(password))"},
            reaping=frozenset({postmaster} if postmaster is not None else ()),
        )
        try:
            yield target, by_smtp
        finally:
            # Idle since the EXISTS phase, the gateway may have closed it (421): no figure
            # depends on this QUIT, so it must not cost the run its results.
            with contextlib.suppress(SMTPError, OSError):
                await smtp.quit()
            await smtp.close()


@contextlib.asynccontextmanager
async def dovecot(args: argparse.Namespace) -> AsyncIterator[phases.Target]:
    server = dovecot_server.PrivateDovecot(
        port=free_port(), connections=args.idle + args.clients + 20
    )
    try:
        cheap = dovecot_server.password_hash("SHA512-CRYPT", PASSWORD)
        users = {role: f"{role}@{DOMAIN}" for role in roles(args)}
        users["login-sha512"] = f"login-sha512@{DOMAIN}"
        for role, address in users.items():
            hashed = cheap
            if role == "login":  # the same work as Localpost's bcrypt
                hashed = dovecot_server.password_hash("BLF-CRYPT", PASSWORD, DEFAULT_ROUNDS)
            server.add_user(address, hashed)
            if (messages := contents(args, address, role)) is not None:
                server.maildir(address, messages)
        await asyncio.to_thread(server.start)

        def processes() -> dict[str, list[int]]:
            pids = server.pids()
            imap = [p for p in pids if _comm(p) == "imap"]
            return {"dovecot (all processes)": pids, "dovecot imap": imap}

        yield phases.Target(
            "dovecot",
            ("127.0.0.1", server.port),
            PASSWORD,
            users,
            processes,
            notes={
                "login hash": f"login: BLF-CRYPT (bcrypt) cost {DEFAULT_ROUNDS}; "
                "login-sha512: SHA512-CRYPT (5,000 rounds); others SHA512-CRYPT",
                "version": "Debian dovecot-imapd 2.3, Maildir, index on disk",
            },
        )
    finally:
        server.stop()


def _postmaster() -> int | None:
    """The private PostgreSQL cluster's postmaster; None on a shared server, whose CPU
    other work shares."""
    if (pid_file := DATABASE.get("pid_file")) is None:
        return None
    return int(Path(pid_file).read_text().split()[0])


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


async def measure(
    args: argparse.Namespace, ours: phases.Target, theirs: phases.Target, by_smtp: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {t.name: {"notes": t.notes} for t in (ours, theirs)}

    def keep() -> None:
        # What is measured so far, so that a failure later (or at teardown) keeps it.
        if args.json is not None:
            args.json.with_suffix(".partial.json").write_text(json.dumps(out, indent=2))

    only = set(args.only)
    logins = [(ours, "login"), (theirs, "login"), (theirs, "login-sha512")]
    for target, role in logins if "logins" in only else []:
        out[target.name][f"logins {role}"] = await phases.logins(
            target, role, clients=args.login_clients, seconds=args.login_seconds
        )
        keep()
    for target in (ours, theirs) if "big" in only else ():
        out[target.name]["big folder"] = await phases.big_folder(
            target, repeats=args.repeats, bodies=min(args.bodies, args.big)
        )
        keep()
    for target in (ours, theirs) if "large" in only else ():
        out[target.name]["large"] = await phases.large_body(target, repeats=args.repeats)
        keep()
    deliveries = (
        (ours, by_smtp, "SMTP 250"),
        (ours, Appender(ours, "probe"), "APPEND OK"),
        (theirs, Appender(theirs, "probe"), "APPEND OK"),
    )
    for target, deliver, via in deliveries if "exists" in only else ():
        try:
            out[target.name][f"exists after {via}"] = await phases.exists_latency(
                target, deliver, messages=args.probes, via=via
            )
        finally:
            if isinstance(deliver, Appender):
                await deliver.close()
        keep()
    for round_ in range(args.rounds if "mixed" in only else 0):
        order = (ours, theirs) if round_ % 2 == 0 else (theirs, ours)
        for target in order:
            runs = out[target.name].setdefault("mixed", [])
            runs.append(
                await phases.mixed(
                    target, clients=args.clients, accounts=MIX_ACCOUNTS, seconds=args.seconds
                )
            )
            keep()
    accounts = math.ceil(args.idle / SESSIONS_PER_ACCOUNT)
    for target in (ours, theirs) if "idle" in only else ():
        out[target.name]["idle"] = await phases.idle_sessions(
            target, sessions=args.idle, accounts=accounts
        )
        keep()
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    overrides = {"IMAP_MAX_CONNECTIONS_PER_SOURCE": str(max(50, args.idle + args.clients + 20))}
    load_before = os.getloadavg()
    async with localpost(args, overrides) as (ours, by_smtp), dovecot(args) as theirs:
        figures = await measure(args, ours, theirs, by_smtp)
    result = {
        "scenario": "imap",
        "sizes": {k: v for k, v in vars(args).items() if k != "json"},
        **figures,
        "gateway_overrides": overrides,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "machine": machine(),
    }
    # run_all.py's combined table prints these rows as they are.
    result["targets"] = headline(result)
    return result


def headline(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, measured, target) rows; run_all.py's combined table uses them too.

    A phase left out by ``--only`` has no row.
    """
    ours, theirs = result["localpost"], result["dovecot"]
    rows: list[tuple[str, str, str]] = []
    if "mixed" in ours:
        mixed = {
            name: [r["ops_per_s"] for r in result[name]["mixed"]]
            for name in ("localpost", "dovecot")
        }
        ratio = median(mixed["localpost"]) / max(median(mixed["dovecot"]), 1e-9)
        rows.append(
            (
                "IMAP mixed load, Localpost / Dovecot",
                f"{median(mixed['localpost']):.0f} / {median(mixed['dovecot']):.0f} ops/s "
                f"= {ratio:.2f}x",
                verdict(ratio >= 0.5, ">= 0.5x"),
            )
        )
    if "exists after SMTP 250" in ours:
        smtp = ours["exists after SMTP 250"]
        rows.append(
            (
                "IMAP SMTP 250 -> EXISTS in IDLE p50/p99",
                f"{smtp['p50_ms']:.0f}/{smtp['p99_ms']:.0f} ms",
                verdict(smtp["p99_ms"] <= 500 and not smtp["missed"], "p99 <= 500 ms"),
            )
        )
    if "idle" in ours:
        idle = ours["idle"]
        held = idle["held"]["imap-gateway"]["rss_mib"]
        rows.append(
            (
                f"IMAP {idle['sessions']} IDLE sessions: gateway RSS",
                f"{held:.0f} MiB",
                verdict(held < 150, "< 150 MiB"),
            )
        )
    if "big folder" in ours:
        select = ours["big folder"]["select"]["p50_ms"]
        rows.append(
            (
                f"IMAP SELECT of {result['sizes']['big']:,} messages p50",
                f"{select:.0f} ms (Dovecot {theirs['big folder']['select']['p50_ms']:.0f} ms)",
                verdict(select <= 300, "<= 300 ms"),
            )
        )
    return rows


def median(values: list[float]) -> float:
    # The statistical median: of two rounds (the default), their mean. It used to take
    # the upper of the middle two, which flattered whichever side had the better round.
    return statistics.median(values) if values else 0.0


def verdict(met: bool, target: str) -> str:
    return f"{target}: {'met' if met else 'NOT met'}"


def table(result: dict[str, Any]) -> str:
    ours, theirs = result["localpost"], result["dovecot"]
    big = result["sizes"]["big"]

    def both(label: str, pick: Any) -> str:
        return f"| {label} | {shown(pick, ours)} | {shown(pick, theirs)} |"

    def shown(pick: Any, side: dict[str, Any]) -> str:
        try:
            return str(pick(side))
        except KeyError:  # a phase left out by --only
            return "-"

    def cpu_per_op(side: dict[str, Any]) -> str:
        rounds = (r.get("cpu_ms_per_op", {}) for r in side["mixed"])
        return "; ".join(", ".join(f"{k} {v:.1f}" for k, v in r.items()) for r in rounds)

    def kind_p50(kind: str) -> Any:
        return lambda s: ", ".join(f"{r['by_kind'][kind]['p50_ms']:.0f}" for r in s["mixed"])

    def folder(kind: str, unit: str = "") -> Any:
        def pick(side: dict[str, Any]) -> str:
            f = side["big folder"][kind]
            extra = f", {f['mb_per_s']:.1f} MB/s" if unit else ""
            return f"{f['p50_ms']:.0f} ms (cold {f['cold_ms']:.0f}){extra}"

        return pick

    def exists(side: dict[str, Any], via: str) -> str:
        e = side.get(f"exists after {via}")
        if not e:
            return "-"
        return f"{e['p50_ms']:.1f}/{e['p99_ms']:.1f} ms ({e['seen']}/{e['messages']})"

    def idle(side: dict[str, Any]) -> str:
        parts = []
        for name, held in side["idle"]["held"].items():
            before = side["idle"]["before"][name]
            parts.append(
                f"{name} RSS {before['rss_mib']:.0f} -> {held['rss_mib']:.0f} MiB, "
                f"PSS {held['pss_mib']:.0f} MiB ({held['processes']} proc)"
            )
        return "; ".join(parts)

    lines = [
        f"IMAP: Localpost beside Dovecot (load average before {result['load_average']['before']})",
        "",
        "| figure | Localpost | Dovecot |",
        "|---|---|---|",
        both("logins/s, bcrypt cost 12", lambda s: f"{s['logins login']['per_s']:.1f}"),
        both(
            "logins/s, SHA512-CRYPT",
            lambda s: (
                f"{s['logins login-sha512']['per_s']:.1f}" if "logins login-sha512" in s else "-"
            ),
        ),
        both(f"SELECT {big:,} p50", folder("select")),
        both("UID FETCH 1:* (UID FLAGS ENVELOPE) p50", folder("uid_fetch_envelopes", "MB")),
        both(f"FETCH {result['sizes']['bodies']} BODY.PEEK[] p50", folder("bodies", "MB")),
        both(
            f"{result['sizes']['large_mib']} MiB BODY.PEEK[]",
            lambda s: f"{s['large']['mb_per_s']:.1f} MB/s, peak RSS {s['large']['peak_rss_mib']}",
        ),
        both("SMTP 250 -> EXISTS p50/p99", lambda s: exists(s, "SMTP 250")),
        both("APPEND OK -> EXISTS p50/p99", lambda s: exists(s, "APPEND OK")),
        both(f"{result['sizes']['idle']} IDLE sessions", idle),
        both(
            f"mixed, {result['sizes']['clients']} clients, ops/s per round",
            lambda s: ", ".join(f"{r['ops_per_s']:.0f}" for r in s["mixed"]),
        ),
        both("mixed: CPU ms per op per round", cpu_per_op),
        *(both(f"mixed: {kind} p50 ms per round", kind_p50(kind)) for kind in phases.MIX),
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in headline(result)),
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", type=int, default=100_000, help="messages in the big Inbox")
    parser.add_argument("--bodies", type=int, default=1000, help="bodies fetched at once")
    parser.add_argument("--large-mib", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--login-clients", type=int, default=8)
    parser.add_argument("--login-seconds", type=float, default=10.0)
    parser.add_argument("--probes", type=int, default=200, help="messages for 250 -> EXISTS")
    parser.add_argument("--idle", type=int, default=1000, help="IDLE sessions held at once")
    parser.add_argument("--mix", type=int, default=2000, help="messages per mixed-load mailbox")
    parser.add_argument("--clients", type=int, default=20, help="mixed-load sessions")
    parser.add_argument("--seconds", type=float, default=20.0, help="mixed-load duration")
    parser.add_argument("--rounds", type=int, default=2, help="mixed-load turns per server")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PHASES,
        default=list(PHASES),
        help="run only these phases (default: all); e.g. --only mixed",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.big, args.bodies, args.large_mib, args.repeats = 300, 50, 1, 2
        args.login_clients, args.login_seconds, args.probes = 2, 1.0, 5
        args.idle, args.mix, args.clients, args.seconds, args.rounds = 20, 100, 4, 2.0, 1
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if (why := dovecot_server.available()) is not None:
        # Without the reference there is no comparison to make: say so in the results.
        print(f"imap: skipped, {why}", file=sys.stderr)
        if args.json is not None:
            args.json.write_text(json.dumps({"scenario": "imap", "skipped": why}) + "\n")
        return 0
    return run_script(args, run, table)


if __name__ == "__main__":
    sys.exit(main())
