"""`docker compose up --build` as a new user meets it, on a real engine (`make test-compose`).

The stack is the repository's docker-compose.yml under a project name of its own, used
only from the host over its published ports: the web's forms, the JSON API and the live
stream on HTTP, swaks on SMTP and submission. The phases run in order, each on what the
previous ones left (accounts, mail, volumes), and print their times; the last one takes
everything down with its volumes.

`make test` collects this module and skips it (it needs a Docker engine and minutes);
`make test-compose` runs it with LOCALPOST_COMPOSE_JOURNEY=1.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import imaplib
import os
import poplib
import ssl
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from smtp_gateway.handler import WEB_PRINCIPAL
from smtp_gateway.settings import DEV_WEB_SUBMISSION_SECRET
from smtplib_common.replies import AUTH_FAILED
from tests.compose.composectl import Compose, engine_problem
from tests.compose.webuser import WebUser, next_event
from tests.integration.harness import (
    Attempts,
    judge,
    new_run_id,
    send_stream,
    token_of,
    wait_for_attempts,
)

if os.environ.get("LOCALPOST_COMPOSE_JOURNEY") != "1":
    pytest.skip(
        "the compose journey runs in `make test-compose` (Docker engine, a few minutes)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.asyncio(loop_scope="module")

DOMAIN = "localpost.test"
# Live events are hints that arrive in well under a second; this bounds a failure.
LIVE_WAIT = 45.0
# Enough that the killed replica holds unacknowledged deliveries when it dies.
STREAM_MESSAGES = 2000
# The files the one-shot `secrets` service makes in the volume the web mounts at /secrets.
SECRET_FILES = (
    "/secrets/mailstore_token",
    "/secrets/web_submission_secret",
    "/secrets/web_secret_key",
)


@dataclass
class Journey:
    compose: Compose
    alice: WebUser
    bob: WebUser
    certificate: bytes = b""
    secrets: dict[str, bytes] = field(default_factory=dict)
    bob_inbox: int = 0
    notes: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def compose() -> Iterator[Compose]:
    problem = engine_problem()
    if problem:
        pytest.fail(f"make test-compose needs a Docker engine: {problem}")
    project = f"lpjourney{uuid.uuid4().hex[:6]}"
    stack = Compose(project=project)
    stack.run("down", "-v", "--remove-orphans", check=False)
    try:
        yield stack
    finally:
        # Whatever happened, nothing of this project is left behind.
        with stack.phase("down -v"):
            stack.run("down", "-v", "--remove-orphans", check=False, timeout=180)
        print(stack.report(), file=sys.stderr, flush=True)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def journey(compose: Compose) -> AsyncIterator[Journey]:
    suffix = uuid.uuid4().hex[:6]
    alice = WebUser(compose.web_url, f"alice{suffix}@{DOMAIN}")
    bob = WebUser(compose.web_url, f"bob{suffix}@{DOMAIN}")
    yield Journey(compose, alice, bob)
    await alice.close()
    await bob.close()


def swaks(*args: str) -> str:
    done = subprocess.run(
        ["swaks", "--hide-informational", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"swaks exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def generated_secrets(compose: Compose) -> dict[str, bytes]:
    return {path: compose.read_file("web", path) for path in SECRET_FILES}


def smtp_deliver(journey: Journey, subject: str) -> None:
    """Mail from outside to bob on the published SMTP port, as another server sends it."""
    swaks(
        "--server", f"127.0.0.1:{journey.compose.smtp_port}",
        "--from", "someone@example.org",
        "--to", journey.bob.address,
        "--header", f"Subject: {subject}",
        "--body", f"{subject}\n",
    )  # fmt: skip


async def subjects(user: WebUser, folder: str = "inbox") -> list[str]:
    return [m["subject"] for m in await user.folder(folder)]


async def wait_for_subject(user: WebUser, subject: str, folder: str = "inbox") -> None:
    for _ in range(120):
        if subject in [m["subject"] for m in await user.folder(folder)]:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{subject!r} never reached {user.address}/{folder}")


async def live_event_arrives(journey: Journey, subject: str) -> dict[str, Any]:
    """Open bob's live stream, deliver mail to him, return the event that shows it.

    The web is ready before its live channel is (pages poll meanwhile), so the channel
    must come up first: /readyz says so, within LIVE_WAIT.
    """
    await journey.compose.wait_live(LIVE_WAIT)
    async with journey.bob.live() as events:
        await next_event(events, "counts", timeout=LIVE_WAIT)
        await asyncio.to_thread(smtp_deliver, journey, subject)
        async with asyncio.timeout(LIVE_WAIT):
            while True:
                data = await next_event(events, "stored", timeout=LIVE_WAIT)
                if data.get("message", {}).get("subject") == subject:
                    return data


# --- the phases, in order ---------------------------------------------------------


async def test_01_up_build_turns_every_service_healthy(journey: Journey) -> None:
    with journey.compose.phase("up --build, every service healthy"):
        await asyncio.to_thread(journey.compose.up)


async def test_02_two_people_register_through_the_web_form(journey: Journey) -> None:
    with journey.compose.phase("register two users through the web form"):
        await journey.alice.register("Alice Journey")
        await journey.bob.register("Bob Journey")


async def test_03_send_from_the_compose_form_with_empty_cc_and_an_attachment(
    journey: Journey,
) -> None:
    attachment = ("notes.bin", bytes(range(256)) * 64)
    with journey.compose.phase("send from the compose form (empty Cc, attachment)"):
        await journey.alice.compose(
            to=journey.bob.address, subject="From the form", body="Hello Bob",
            attachment=attachment,
        )  # fmt: skip
        await wait_for_subject(journey.bob, "From the form")
    received = [m for m in await journey.bob.folder() if m["subject"] == "From the form"]
    message = await journey.bob.api("GET", f"/api/v1/messages/{received[0]['id']}")
    assert [a["filename"] for a in message["attachments"]] == ["notes.bin"]
    assert "From the form" in await subjects(journey.alice, "sent")


async def test_04_another_server_delivers_on_the_published_smtp_port(journey: Journey) -> None:
    with journey.compose.phase("swaks delivers to the SMTP port"):
        await asyncio.to_thread(smtp_deliver, journey, "Delivered by swaks")
        await wait_for_subject(journey.bob, "Delivered by swaks")


async def test_05_submission_with_starttls_verified_and_auth(
    journey: Journey, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with journey.compose.phase("swaks submits with STARTTLS (verified) + AUTH"):
        journey.certificate = journey.compose.read_file("web", "/certs/tls.crt")
        ca = tmp_path_factory.mktemp("certs") / "localpost.crt"
        ca.write_bytes(journey.certificate)
        await submit_as_alice(
            journey, ca, journey.compose.submission_port, "--tls", "PLAIN", "Submitted over TLS"
        )


async def test_05a_a_mail_program_submits_over_implicit_tls_with_auth_login(
    journey: Journey, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # What Outlook does: TLS from the first octet (RFC 8314 §3.3) and AUTH LOGIN only.
    with journey.compose.phase("swaks submits over implicit TLS (verified) + AUTH LOGIN"):
        ca = tmp_path_factory.mktemp("certs-465") / "localpost.crt"
        ca.write_bytes(journey.certificate)
        await submit_as_alice(
            journey,
            ca,
            journey.compose.submissions_port,
            "--tls-on-connect",
            "LOGIN",
            "Submitted over implicit TLS",
        )


async def submit_as_alice(
    journey: Journey, ca: Path, port: int, tls: str, mechanism: str, subject: str
) -> None:
    """swaks submits as alice to bob on ``port`` with the certificate verified; the
    message must reach bob's Inbox and alice's Sent."""
    await asyncio.to_thread(
        swaks,
        "--server", f"127.0.0.1:{port}",
        tls, "--tls-verify", "--tls-ca-path", str(ca),
        "--auth", mechanism,
        "--auth-user", journey.alice.address,
        "--auth-password", journey.alice.password,
        "--from", journey.alice.address,
        "--to", journey.bob.address,
        "--header", f"Subject: {subject}",
    )  # fmt: skip
    await wait_for_subject(journey.bob, subject)
    assert subject in await subjects(journey.alice, "sent")


async def test_05b_the_repositorys_development_secret_opens_nothing(
    journey: Journey, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # With it, the web's submission login would send as any user (MAIL FROM ... AUTH=).
    with journey.compose.phase("the development WEB_SUBMISSION_SECRET is refused (535)"):
        ca = tmp_path_factory.mktemp("certs-dev") / "localpost.crt"
        ca.write_bytes(journey.certificate)
        done = await asyncio.to_thread(
            subprocess.run,
            [
                "swaks", "--server", f"127.0.0.1:{journey.compose.submission_port}",
                "--tls", "--tls-verify", "--tls-ca-path", str(ca),
                "--auth", "PLAIN",
                "--auth-user", WEB_PRINCIPAL, "--auth-password", DEV_WEB_SUBMISSION_SECRET,
                "--from", journey.bob.address, "--to", journey.alice.address,
            ],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode != 0, done.stdout
    assert str(AUTH_FAILED) in done.stdout, done.stdout
    journey.secrets = generated_secrets(journey.compose)
    assert len(set(journey.secrets.values())) == len(SECRET_FILES)


async def test_05c_a_mail_program_reads_the_mail_over_imap_with_tls(
    journey: Journey, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ca = tmp_path_factory.mktemp("imap-certs") / "localpost.crt"
    ca.write_bytes(journey.certificate)
    context = ssl.create_default_context(cafile=str(ca))
    expected = sorted(await subjects(journey.bob))
    with journey.compose.phase("IMAP: STARTTLS (verified) and IMAPS, LOGINDISABLED before"):
        found = await asyncio.to_thread(imap_subjects, journey, context)
    assert found["starttls"] == found["imaps"] == expected


def imap_subjects(journey: Journey, context: ssl.SSLContext) -> dict[str, list[str]]:
    """bob's Inbox subjects over IMAP with STARTTLS on 2143 and over TLS on 2993."""
    found: dict[str, list[str]] = {}
    plain = imaplib.IMAP4("127.0.0.1", journey.compose.imap_port, timeout=30)
    # From the host, the client is not in the trusted networks: no login before TLS.
    assert "LOGINDISABLED" in plain.capabilities, plain.capabilities
    plain.starttls(ssl_context=context)
    found["starttls"] = _inbox_subjects(plain, journey.bob)
    secure = imaplib.IMAP4_SSL("127.0.0.1", journey.compose.imaps_port, ssl_context=context)
    found["imaps"] = _inbox_subjects(secure, journey.bob)
    return found


def _inbox_subjects(client: imaplib.IMAP4, user: WebUser) -> list[str]:
    try:
        client.login(user.address, user.password)
        client.select("INBOX", readonly=True)
        status, data = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert status == "OK", data
        headers = [item[1] for item in data if isinstance(item, tuple)]
        parsed = [email.message_from_bytes(h, policy=email.policy.default) for h in headers]
        return sorted(str(m["Subject"]) for m in parsed)
    finally:
        client.logout()


async def test_05d_a_mail_program_reads_the_mail_over_pop3s(
    journey: Journey, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ca = tmp_path_factory.mktemp("pop3-certs") / "localpost.crt"
    ca.write_bytes(journey.certificate)
    context = ssl.create_default_context(cafile=str(ca))
    expected = sorted(await subjects(journey.bob))
    with journey.compose.phase("POP3: STLS offered, no USER before it; POP3S (verified)"):
        found = await asyncio.to_thread(pop3_subjects, journey, context)
    assert found == expected


def pop3_subjects(journey: Journey, context: ssl.SSLContext) -> list[str]:
    """bob's Inbox subjects over POP3S on 2995 (TOP n 0), after CAPA on 2110."""
    plain = poplib.POP3("127.0.0.1", journey.compose.pop3_port, timeout=30)
    try:
        capabilities = plain.capa()
    finally:
        plain.quit()
    # From the host, the client is not in the trusted networks: no USER before STLS.
    assert "STLS" in capabilities, capabilities
    assert "USER" not in capabilities, capabilities
    secure = poplib.POP3_SSL("127.0.0.1", journey.compose.pop3s_port, timeout=30, context=context)
    try:
        secure.user(journey.bob.address)
        secure.pass_(journey.bob.password)
        count, _ = secure.stat()
        headers = [b"\r\n".join(secure.top(n, 0)[1]) for n in range(1, count + 1)]
    finally:
        secure.quit()
    parsed = [email.message_from_bytes(h, policy=email.policy.default) for h in headers]
    return sorted(str(m["Subject"]) for m in parsed)


async def test_06_a_live_update_arrives(journey: Journey) -> None:
    with journey.compose.phase("a live update arrives"):
        await live_event_arrives(journey, "Live before restart")


async def test_07_after_compose_restart_live_updates_work_again(journey: Journey) -> None:
    with journey.compose.phase("docker compose restart, healthy again"):
        await asyncio.to_thread(journey.compose.run, "restart", timeout=300)
        await asyncio.to_thread(journey.compose.wait_healthy)
    with journey.compose.phase("a live update arrives after the restart"):
        await live_event_arrives(journey, "Live after restart")


async def test_08_down_and_up_keep_accounts_mail_the_tls_pair_and_the_secrets(
    journey: Journey,
) -> None:
    before = await subjects(journey.bob)
    with journey.compose.phase("down, then up again"):
        await asyncio.to_thread(journey.compose.run, "down", timeout=180)
        await asyncio.to_thread(journey.compose.up)
    # New sessions: the old cookies and token must still be valid or the login must work.
    journey.bob.token = None
    journey.alice.token = None
    assert await subjects(journey.bob) == before
    await journey.alice.login()
    assert journey.compose.read_file("web", "/certs/tls.crt") == journey.certificate
    assert generated_secrets(journey.compose) == journey.secrets
    journey.bob_inbox = len(before)


async def test_09_a_killed_mail_store_replica_loses_and_duplicates_nothing(
    journey: Journey,
) -> None:
    compose = journey.compose
    with compose.phase("up --scale mailstore=2"):
        await asyncio.to_thread(compose.up, "--scale", "mailstore=2")
    replicas = compose.containers("mailstore")
    assert len(replicas) == 2, replicas
    run, attempts = new_run_id(), Attempts()
    with compose.phase(f"stream {STREAM_MESSAGES} messages, kill -9 a replica midway"):
        stream = asyncio.create_task(
            send_stream(
                ("127.0.0.1", compose.smtp_port),
                journey.bob.address,
                total=STREAM_MESSAGES,
                senders=4,
                run=run,
                attempts=attempts,
            )
        )
        await wait_for_attempts(attempts, STREAM_MESSAGES // 3, timeout=120)
        await asyncio.to_thread(
            subprocess.run, ["docker", "kill", replicas[0]], check=True, capture_output=True
        )
        await stream
        stored = await settled_tokens(journey, run, expect=len(attempts.acknowledged))
    verdict = judge(attempts, stored)
    print(f"compose journey: kill of a replica: {verdict.as_row()}", file=sys.stderr)
    assert verdict.acknowledged > STREAM_MESSAGES // 2, verdict
    assert (verdict.lost, verdict.duplicated, verdict.unexpected) == (0, 0, 0), verdict


async def settled_tokens(journey: Journey, run: str, *, expect: int) -> list[str]:
    """The run's tokens in bob's Inbox once their count stops growing."""
    last, quiet = -1, 0
    for _ in range(600):
        tokens = [token_of(s) for s in await subjects(journey.bob) if s.startswith(f"token {run}-")]
        quiet = quiet + 1 if len(tokens) == last else 0
        last = len(tokens)
        if last >= expect and quiet >= 6:
            return tokens
        await asyncio.sleep(0.5)
    return tokens
