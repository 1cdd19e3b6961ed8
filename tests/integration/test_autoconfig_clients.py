"""Each autoconfiguration document followed by real clients against the real stack (issue 14).

The web service is told where mail programs reach the stack (LOCALPOST_PUBLIC_HOSTNAME
127.0.0.1 and the ports this run's gateways listen on) and the gateways get a TLS pair
from a test CA. Then, as a mail program would: read Thunderbird's clientConfig, Outlook's
Autodiscover answer and the Apple profile, and with nothing but what each names (host,
port, security, user name) plus the password, log in over IMAP with Python's imaplib and
send over SMTP with swaks (AUTH LOGIN, as Outlook does; --tls-on-connect for SSL) or
smtplib, verifying the certificate against the test CA, and find the sent mail in the
Inbox, also with isync (mbsync) for Thunderbird's settings. A missing swaks or mbsync
skips its test with the reason, except under LOCALPOST_REQUIRE_CLIENTS (.ci/run).
"""

from __future__ import annotations

import asyncio
import hashlib
import imaplib
import plistlib
import poplib
import re
import smtplib
import ssl
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from xml.etree import ElementTree

import aiohttp
import pytest
import pytest_asyncio
import trustme

from tests.integration.mailapi import MailstoreAPI
from tests.integration.mailprograms import require
from tests.integration.ports import free_port
from tests.integration.stack import Endpoints, LocalStack
from tests.integration.webform import log_in

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "a long enough autoconfig password"
# Bounds, not timings: a loaded machine may be slow, a hung client must still fail.
DELIVERY_WAIT = 120.0
CLIENT_WAIT = 120.0
OUTLOOK_REQUEST = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
OUTLOOK_RESPONSE = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
O = "{" + OUTLOOK_RESPONSE + "}"  # noqa: E741


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("autoconfig-tls")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(database_url: str, amqp_url: str, tls_dir: Path) -> AsyncIterator[LocalStack]:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tls_dir / "ca.pem"))
    cert = ca.issue_cert("127.0.0.1", "localhost", common_name="127.0.0.1")
    cert_path, key_path = tls_dir / "cert.pem", tls_dir / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    tls = {"LOCALPOST_TLS_CERT": str(cert_path), "LOCALPOST_TLS_KEY": str(key_path)}
    # Chosen here, not by the stack, so that the web can be told them before it starts.
    ports = {
        "SUBMISSION_PORT": free_port(),
        "SUBMISSIONS_PORT": free_port(),
        "IMAP_PORT": free_port(),
        "IMAPS_PORT": free_port(),
        "POP3_PORT": free_port(),
        "POP3S_PORT": free_port(),
    }
    public = {
        "LOCALPOST_PUBLIC_HOSTNAME": "127.0.0.1",
        "PUBLIC_SUBMISSION_PORT": str(ports["SUBMISSION_PORT"]),
        "PUBLIC_SUBMISSIONS_PORT": str(ports["SUBMISSIONS_PORT"]),
        "PUBLIC_IMAP_PORT": str(ports["IMAP_PORT"]),
        "PUBLIC_IMAPS_PORT": str(ports["IMAPS_PORT"]),
        "PUBLIC_POP3_PORT": str(ports["POP3_PORT"]),
        "PUBLIC_POP3S_PORT": str(ports["POP3S_PORT"]),
        "LOCALPOST_POP3": "1",
        "LOCALPOST_TLS_CERT": str(cert_path),
    }
    imap_ports = {k: str(v) for k, v in ports.items() if k.startswith(("IMAP", "POP3"))}
    async with LocalStack(
        admin_database_url=database_url,
        amqp_url=amqp_url,
        imap=True,
        overrides={k: str(v) for k, v in ports.items() if k.startswith("SUBMISSION")},
        service_overrides={
            "imap-gateway": {**tls, **imap_ports},
            "smtp-gateway": tls,
            "web": public,
        },
    ) as s:
        yield s


@pytest.fixture(scope="module")
def tls_context(tls_dir: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))


@pytest_asyncio.fixture(loop_scope="module")
async def address(mailstore: MailstoreAPI, new_address: str) -> str:
    await mailstore.create_account(new_address, PASSWORD, name="Auto Config")
    return new_address


def swaks(
    server: tuple[str, int, str], *, user: str, subject: str, ca_file: Path
) -> subprocess.CompletedProcess[str]:
    found = require("swaks")
    host, port, security = server
    argv = [found, "--server", host, "--port", str(port), "--auth", "LOGIN",
            "--auth-user", user, "--auth-password", PASSWORD, "--from", user, "--to", user,
            "--header", f"Subject: {subject}", "--body", "sent as the document says",
            "--tls-verify", "--tls-ca-path", str(ca_file)]  # fmt: skip
    argv.append("--tls-on-connect" if security == "SSL" else "--tls")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=CLIENT_WAIT, check=False)
    assert done.returncode == 0, f"swaks exited {done.returncode}:\n{done.stdout}{done.stderr}"
    # Over TLS swaks marks what it read "<~": the login, then the message queued.
    assert re.search(r"^<~ +235 ", done.stdout, re.MULTILINE), done.stdout
    assert re.search(r"^<~ +250 2\.0\.0 Ok: queued as \S+$", done.stdout, re.MULTILINE)
    return done


def mbsync(server: tuple[str, int, str], *, user: str, ca_file: Path, directory: Path) -> Path:
    """Sync the Inbox down with isync, configured from ``server`` alone; the Maildir."""
    program = require("mbsync")
    host, port, security = server
    rc = directory / "mbsyncrc"
    # isync 1.4's names: SSLType IMAPS is implicit TLS, STARTTLS the upgrade.
    rc.write_text(
        f"""IMAPAccount localpost
Host {host}
Port {port}
User {user}
Pass "{PASSWORD}"
SSLType {"IMAPS" if security == "SSL" else "STARTTLS"}
CertificateFile {ca_file}

IMAPStore far
Account localpost

MaildirStore near
Path {directory}/mail/
Inbox {directory}/mail/INBOX

Channel inbox
Far :far:INBOX
Near :near:INBOX
Create Near
Sync Pull
SyncState *
"""
    )
    (directory / "mail").mkdir()
    done = subprocess.run(
        [program, "-c", str(rc), "-a"],
        capture_output=True, text=True, timeout=CLIENT_WAIT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"mbsync exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return directory / "mail" / "INBOX"


def subject_of(path: Path) -> str:
    match = re.search(rb"^Subject: (.*)$", path.read_bytes(), re.MULTILINE)
    assert match is not None, path
    return match.group(1).decode().strip()


def imap_login(
    server: tuple[str, int, str], *, user: str, context: ssl.SSLContext
) -> imaplib.IMAP4:
    host, port, security = server
    if security == "SSL":
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=60)
    else:
        client = imaplib.IMAP4(host, port, timeout=60)
        assert client.starttls(ssl_context=context)[0] == "OK"
    assert client.login(user, PASSWORD)[0] == "OK"
    return client


async def wait_subjects(client: imaplib.IMAP4, subjects: set[str]) -> None:
    """Until every subject is in the Inbox, each once (nothing duplicated)."""
    deadline = time.monotonic() + DELIVERY_WAIT
    while True:
        typ, exists = client.select("INBOX", readonly=True)
        assert typ == "OK"
        found = []
        # 1:* in an empty mailbox is BAD (RFC 9051 §9 seq-number: no message 1 to name).
        if int(exists[0] or 0) > 0:
            typ, data = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            found = [
                item[1].decode().split(":", 1)[1].strip()
                for item in data
                if typ == "OK" and isinstance(item, tuple)
            ]
        if subjects <= set(found):
            assert sorted(s for s in found if s in subjects) == sorted(subjects)
            return
        assert time.monotonic() < deadline, f"{sorted(subjects - set(found))} never arrived"
        await asyncio.sleep(0.5)


def pop3_subjects(server: tuple[str, int, str], *, user: str, context: ssl.SSLContext) -> set[str]:
    """The subjects in the Inbox over POP3 (TOP n 0), reached as ``server`` says; QUIT
    without DELE, so nothing is removed."""
    host, port, security = server
    if security == "SSL":
        client: poplib.POP3 = poplib.POP3_SSL(host, port, context=context, timeout=60)
    else:
        client = poplib.POP3(host, port, timeout=60)
        client.stls(context=context)
    try:
        client.user(user)
        client.pass_(PASSWORD)
        subjects = set()
        for n in range(1, client.stat()[0] + 1):
            for line in client.top(n, 0)[1]:
                if line.lower().startswith(b"subject:"):
                    subjects.add(line.split(b":", 1)[1].decode().strip())
        return subjects
    finally:
        client.quit()


async def followed(
    incoming: list[tuple[str, int, str]],
    outgoing: list[tuple[str, int, str]],
    *,
    user: str,
    context: ssl.SSLContext,
    ca_file: Path,
) -> set[str]:
    """Log in to every incoming server, send through every outgoing one, receive it all;
    the subjects sent."""
    sessions = [imap_login(server, user=user, context=context) for server in incoming]
    try:
        subjects = set()
        for server in outgoing:
            subject = f"via {server[2]} {server[1]} {uuid.uuid4().hex[:8]}"
            swaks(server, user=user, subject=subject, ca_file=ca_file)
            subjects.add(subject)
        for session in sessions:
            await wait_subjects(session, subjects)
        return subjects
    finally:
        for session in sessions:
            session.logout()


def servers_of(
    provider: ElementTree.Element, tag: str, user: str, kind: str
) -> list[tuple[str, int, str]]:
    """The (host, port, socketType) of each ``tag`` server of type ``kind``, in order."""
    found = []
    for element in provider.findall(tag):
        if element.get("type") != kind:
            continue
        username = (element.findtext("username") or "").replace("%EMAILADDRESS%", user)
        assert username == user
        assert element.findtext("authentication") == "password-cleartext"
        found.append(
            (
                element.findtext("hostname") or "",
                int(element.findtext("port") or 0),
                element.findtext("socketType") or "",
            )
        )
    return found


async def test_thunderbirds_settings_work_with_real_clients(
    endpoints: Endpoints, address: str, tls_context: ssl.SSLContext, tls_dir: Path, tmp_path: Path
) -> None:
    url = f"{endpoints.web_url}/.well-known/autoconfig/mail/config-v1.1.xml"
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, params={"emailaddress": address}) as response,
    ):
        assert response.status == 200
        root = ElementTree.fromstring(await response.read())
    provider = root.find("emailProvider")
    assert provider is not None
    incoming = servers_of(provider, "incomingServer", address, "imap")
    pop3 = servers_of(provider, "incomingServer", address, "pop3")
    outgoing = servers_of(provider, "outgoingServer", address, "smtp")
    # IMAP first: Thunderbird's wizard takes the first incoming server it can reach.
    assert provider.findall("incomingServer")[0].get("type") == "imap"
    assert [s[2] for s in incoming] == [s[2] for s in outgoing] == ["SSL", "STARTTLS"]
    assert [s[2] for s in pop3] == ["SSL", "STARTTLS"]

    subjects = await followed(
        incoming, outgoing, user=address, context=tls_context, ca_file=tls_dir / "ca.pem"
    )
    for server in pop3:
        assert subjects <= pop3_subjects(server, user=address, context=tls_context)


async def test_outlooks_settings_work_with_real_clients(
    endpoints: Endpoints, address: str, tls_context: ssl.SSLContext, tls_dir: Path
) -> None:
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{OUTLOOK_REQUEST}">'
        f"<Request><EMailAddress>{address}</EMailAddress><AcceptableResponseSchema>"
        f"{OUTLOOK_RESPONSE}</AcceptableResponseSchema></Request></Autodiscover>"
    )
    url = f"{endpoints.web_url}/autodiscover/autodiscover.xml"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers={"Content-Type": "text/xml"}) as response,
    ):
        assert response.status == 200, await response.text()
        root = ElementTree.fromstring(await response.read())
    protocols = {
        p.findtext(f"{O}Type"): p for p in root.findall(f"{O}Response/{O}Account/{O}Protocol")
    }
    servers = {}
    for kind, protocol in protocols.items():
        assert protocol.findtext(f"{O}LoginName") == address
        assert protocol.findtext(f"{O}SSL") == "on"
        servers[kind] = (
            protocol.findtext(f"{O}Server") or "",
            int(protocol.findtext(f"{O}Port") or 0),
            "SSL",
        )
    assert set(servers) == {"IMAP", "POP3", "SMTP"}

    subjects = await followed(
        [servers["IMAP"]], [servers["SMTP"]], user=address, context=tls_context,
        ca_file=tls_dir / "ca.pem",
    )  # fmt: skip
    assert subjects <= pop3_subjects(servers["POP3"], user=address, context=tls_context)


async def signed_in(endpoints: Endpoints, address: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(
        base_url=endpoints.web_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    await log_in(http, address, PASSWORD)
    return http


async def test_the_apple_profile_works_with_real_clients(
    endpoints: Endpoints, address: str, tls_context: ssl.SSLContext
) -> None:
    http = await signed_in(endpoints, address)
    try:
        async with http.get("/settings/mail-programs/profile.mobileconfig") as response:
            assert response.status == 200
            assert response.content_type == "application/x-apple-aspen-config"
            [mail] = plistlib.loads(await response.read())["PayloadContent"]
    finally:
        await http.close()
    assert mail["IncomingMailServerUseSSL"] is mail["OutgoingMailServerUseSSL"] is True
    incoming = (mail["IncomingMailServerHostName"], mail["IncomingMailServerPortNumber"], "SSL")
    imap = imap_login(incoming, user=mail["IncomingMailServerUsername"], context=tls_context)
    try:
        msg = EmailMessage()
        msg["From"] = msg["To"] = mail["EmailAddress"]
        msg["Subject"] = subject = f"via the profile {uuid.uuid4().hex[:8]}"
        msg.set_content("sent as the profile says")
        host, port = mail["OutgoingMailServerHostName"], mail["OutgoingMailServerPortNumber"]
        with smtplib.SMTP_SSL(host, port, context=tls_context, timeout=60) as smtp:
            smtp.login(mail["OutgoingMailServerUsername"], PASSWORD)
            smtp.send_message(msg)
        await wait_subjects(imap, {subject})
    finally:
        imap.logout()


async def test_the_pages_fingerprint_is_the_one_the_servers_present(
    endpoints: Endpoints, address: str, stack: LocalStack, tls_context: ssl.SSLContext
) -> None:
    http = await signed_in(endpoints, address)
    try:
        html = await (await http.get("/settings/mail-programs")).text()
        pem = await (await http.get("/settings/mail-programs/localpost.crt")).text()
    finally:
        await http.close()
    port = int(stack.services["imap-gateway"].env["IMAPS_PORT"])
    der = ssl.get_server_certificate(("127.0.0.1", port), ca_certs=None)
    presented = hashlib.sha256(ssl.PEM_cert_to_DER_cert(der)).hexdigest().upper()
    fingerprint = ":".join(presented[i : i + 2] for i in range(0, 64, 2))

    assert fingerprint in html
    assert ssl.PEM_cert_to_DER_cert(pem) == ssl.PEM_cert_to_DER_cert(der)
