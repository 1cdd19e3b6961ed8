"""Dovecot's imaptest against the whole stack: its scripted suite and its stress mode
with state tracking (docs/imap.md, "Dovecot's imaptest").

imaptest is not packaged by Debian and is never vendored: a developer fetches and
builds it (imaptest's own README), then points ``IMAPTEST`` at the binary and
``IMAPTEST_TESTS`` at its ``src/tests`` directory. It links Dovecot's libraries
(Debian's ``dovecot-dev``), found in ``/usr/lib/dovecot``.

The scripted suite must fail no group but those listed in :data:`KNOWN_FAILING`,
each with the docs/imap.md heading that explains it; a listed group that passes
fails the test too, so that the list and the docs stay true. The stress runs, with
imaptest's default profile and with sessions that stay logged in (``logout=0``),
must report no error, run to their end, and (``logout=0``) pass checkpoints.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

SKIP_REASON = (
    "set IMAPTEST=... to run Dovecot's imaptest; it is not packaged by Debian and is "
    "never vendored (and IMAPTEST_TESTS=<imaptest>/src/tests)"
)
IMAPTEST = os.environ.get("IMAPTEST", "")
IMAPTEST_TESTS = os.environ.get("IMAPTEST_TESTS", "")
# A file to write imaptest's whole output to, for reading what failed.
OUTPUT = os.environ.get("IMAPTEST_OUTPUT", "")
DOVECOT_LIBS = "/usr/lib/dovecot"
PASSWORD = "a long enough imap password"
# Generous bounds on a whole run, so that a hung imaptest fails rather than hangs.
SCRIPTED_TIMEOUT = 900
STRESS_CLIENTS = 5
CHECKPOINT_SECONDS = 5
# Ends well after the last checkpoint began (at 20 s): this imaptest (924f619) aborts
# on its own assertion (client_update_plan: plan_size == 0) when its end-of-run stop
# finds a checkpoint still open, against Dovecot too (docs/imap.md); ours take well
# under a second.
STRESS_SECONDS = 24

# Groups that fail for a reason docs/imap.md gives under this heading: none now
# (listext passes since subscriptions outlive their mailboxes, migration 0012).
KNOWN_FAILING: dict[str, str] = {}

_GROUPS = re.compile(rb"^(\d+) test groups: (\d+) failed", re.MULTILINE)
_FAILED_GROUP = re.compile(rb"^\*\*\* Test (\S+) command", re.MULTILINE)
# imaptest's findings; "Error: Raw backtrace" belongs to a Panic of its own.
_ERROR = re.compile(rb"^(?:Error: (?!Raw backtrace)|Fatal: ).*$", re.MULTILINE)
_PANIC = re.compile(rb"^Panic: .*$", re.MULTILINE)
_TOTALS = re.compile(rb"^Totals:\n(.*)\n(.*)\n(.*)\n(.*)$", re.MULTILINE)

if not (IMAPTEST and IMAPTEST_TESTS):
    pytest.skip(SKIP_REASON, allow_module_level=True)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(database_url: str, amqp_url: str) -> AsyncIterator[LocalStack]:
    """The stack with the IMAP gateway as imaptest needs it: LITERAL+ (its script
    runner cannot send a synchronizing literal), and no pacing or connection limit
    in the way of ten clients on one account."""
    gateway = {
        "IMAP_LITERAL_PLUS": "1",
        "IMAP_COMMANDS_PER_SECOND": "100000",
        "IMAP_COMMAND_BURST": "100000",
        "IMAP_MAX_CONNECTIONS_PER_SOURCE": "1000",
        "IMAP_MAX_CONNECTIONS_PER_ACCOUNT": "1000",
    }
    async with LocalStack(
        admin_database_url=database_url,
        amqp_url=amqp_url,
        imap=True,
        service_overrides={"imap-gateway": gateway},
    ) as s:
        yield s


def imaptest(endpoints: Endpoints, user: str, *args: str, timeout: float) -> bytes:
    """Run imaptest against the stack's IMAP port; its whole output."""
    assert endpoints.imap is not None
    host, port = endpoints.imap
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(filter(None, [DOVECOT_LIBS, env.get("LD_LIBRARY_PATH")]))
    argv = [IMAPTEST, f"host={host}", f"port={port}", f"user={user}", f"pass={PASSWORD}", *args]
    done = subprocess.run(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout
    )
    if OUTPUT:  # the whole output, which an assertion message shows only the end of
        Path(OUTPUT).write_bytes(done.stdout)
    return done.stdout


def errors(output: bytes) -> list[bytes]:
    return _ERROR.findall(output)


def stress_mbox(path: Path, count: int = 100) -> Path:
    """Plain and multipart messages, each with its own Message-ID: imaptest tracks
    messages by it and takes two with one ID for one that changed."""
    with path.open("wb") as out:
        for n in range(1, count + 1):
            lines = b"\n".join(b"line %d of message %d, imaptest stress" % (i, n) for i in range(n))
            head = (
                b"From sender%d@example.org  Sat Dec  5 10:00:00 2026\n"
                b"Message-ID: <%d.stress@localpost.test>\n"
                b"Date: Sat, 5 Dec 2026 10:00:00 +0000\n"
                b"From: Sender %d <sender%d@example.org>\n"
                b"To: Receiver <receiver@localpost.test>\n"
                b"Subject: stress message %d\nMIME-Version: 1.0\n" % (n, n, n, n, n)
            )
            if n % 3:
                body = b"Content-Type: text/plain; charset=us-ascii\n\n" + lines + b"\n"
            else:
                body = (
                    b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n'
                    b"Content-Type: text/plain\n\n%s\n--b%d\n"
                    b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
                    b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n--b%d--\n" % (n, n, lines, n, n)
                )
            out.write(head + body + b"\n")
    return path


async def test_scripted_suite_fails_only_the_documented_groups(
    endpoints: Endpoints, mailstore: MailstoreAPI, new_address: str
) -> None:
    await mailstore.create_account(new_address, PASSWORD)

    output = imaptest(endpoints, new_address, f"test={IMAPTEST_TESTS}", timeout=SCRIPTED_TIMEOUT)

    summary = _GROUPS.search(output)
    assert summary is not None, output[-2000:]
    failing = {name.decode() for name in _FAILED_GROUP.findall(output)}
    assert errors(output) == [], output[-4000:]
    assert failing - KNOWN_FAILING.keys() == set(), output[-8000:]
    assert KNOWN_FAILING.keys() - failing == set(), "listed as failing but passed"
    assert int(summary[2]) == len(failing)


# imaptest's profiles: its default (each session logs in, works a little, logs out:
# a checkpoint counts only the sessions that have a mailbox selected, often none
# while bcrypt logins run), and sessions that stay (all at every checkpoint).
PROFILES = {"default": ((), 0), "logout=0": (("logout=0",), 1)}


@pytest.mark.parametrize("profile", PROFILES)
async def test_stress_with_state_tracking_reports_no_error(
    endpoints: Endpoints, mailstore: MailstoreAPI, new_address: str, tmp_path: Path, profile: str
) -> None:
    """Clients on one mailbox (random commands; imaptest checks every answer
    against the state it tracks) with a checkpoint every few seconds, where all
    clients stop and must agree on flags, MODSEQs, keywords, messages and the
    \\Recent count."""
    extra, min_checkpoints = PROFILES[profile]
    await mailstore.create_account(new_address, PASSWORD)
    mbox = stress_mbox(tmp_path / "stress.mbox")

    output = imaptest(
        endpoints,
        new_address,
        f"mbox={mbox}",
        f"clients={STRESS_CLIENTS}",
        f"secs={STRESS_SECONDS}",
        f"checkpoint={CHECKPOINT_SECONDS}",
        *extra,
        timeout=STRESS_SECONDS * 10,
    )

    assert errors(output) == [], output[-4000:]
    assert _PANIC.search(output) is None, output[-2000:]
    totals = _TOTALS.search(output)
    assert totals is not None, output[-2000:]
    names, counts = totals[1].split(), [int(n) for n in totals[4].split()]
    done = dict(zip(names, counts, strict=True))
    assert done[b"ChkP"] >= min_checkpoints, output[-2000:]
    assert done[b"Appe"] > 0
