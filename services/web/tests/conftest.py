"""Fixtures on real servers: the mail store's app on a fresh PostgreSQL database, and an
SMTP server of our library standing in for the gateway's submission listener.

The stand-in checks what the gateway checks of the web principal (AUTH as
``localpost-web`` with WEB_SUBMISSION_SECRET, MAIL FROM equal to the AUTH= user,
local recipients only) and files accepted mail into the mail store's database as
the consumer would, so that a message sent on one page can be read on another.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailstore import db
from mailstore.main import create_app as create_mailstore
from mailstore.parsing import parse_message
from mailstore.settings import load_config as load_mailstore_config
from mailstore.testing import scratch_database
from smtplib_common import replies
from smtplib_common.server import (
    AuthResult,
    Credentials,
    Envelope,
    ServerConfig,
    Session,
    SMTPServer,
)
from webmail.main import create_app
from webmail.settings import DEV_WEB_SUBMISSION_SECRET, load_config
from webmail.submission import WEB_PRINCIPAL

SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
DOMAINS = "localpost.test,other.test"
PASSWORD = "correct horse battery"

Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated database of this run's own, dropped afterwards."""
    with scratch_database(SERVER_URL, prefix="webmail_test") as url:
        yield url


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Any]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4, init=db.init_connection)
    try:
        # Every request of these tests comes from 127.0.0.1: rate-limit counters from
        # earlier tests must not spill over. Accounts use fresh addresses instead.
        await pool.execute("TRUNCATE throttle_events, login_clients, service_settings")
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def throttle_trusted() -> str:
    """The mail store's LOCALPOST_THROTTLE_TRUSTED. Every test client is on loopback, a
    trusted network: hold it to the per-client limits all the same, as a client elsewhere
    is (a module overrides this fixture to see loopback spared)."""
    return "1"


@pytest.fixture
async def mailstore_url(database_url: str, pool: Any, throttle_trusted: str) -> AsyncIterator[str]:
    environ = {
        "LOCALPOST_DEV": "1",
        "DATABASE_URL": database_url,
        "AMQP_URL": AMQP_URL,
        "LOCALPOST_DOMAIN": DOMAINS,
        "LOCALPOST_THROTTLE_TRUSTED": throttle_trusted,
    }
    config = dataclasses.replace(load_mailstore_config(environ), bcrypt_rounds=4)
    server = TestServer(create_mailstore(config, consume=False, maintenance=False))
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


class Submission:
    """A submission listener that records what the web service sent, and files it."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.messages: list[tuple[Envelope, bytes]] = []
        self.unknown = {"nobody@localpost.test"}

    async def authenticate(self, session: Session, credentials: Credentials) -> AuthResult:
        ok = credentials.username == WEB_PRINCIPAL and credentials.password == (
            DEV_WEB_SUBMISSION_SECRET
        )
        return AuthResult(success=ok, identity=WEB_PRINCIPAL if ok else None)

    async def handle_mail(
        self, session: Session, envelope: Envelope, address: str, params: dict[str, str | None]
    ) -> replies.Reply | None:
        if envelope.auth_mailbox is None or envelope.auth_mailbox.lower() != address.lower():
            return replies.Reply(553, "5.7.1", "Sender address not owned by the login")
        return None

    async def handle_rcpt(
        self, session: Session, envelope: Envelope, address: str, params: dict[str, str | None]
    ) -> replies.Reply | None:
        if address.lower() in self.unknown:
            return replies.MAILBOX_UNAVAILABLE
        return None

    async def handle_message(
        self, session: Session, envelope: Envelope, message: bytes
    ) -> replies.Reply | None:
        self.messages.append((envelope, message))
        await db.store_message(
            self.pool,
            gateway_id=envelope.id,
            mail_from=envelope.mail_from,
            rcpt_to=envelope.rcpt_tos,
            submitted_by=envelope.auth_mailbox,
            raw=message,
            parsed=parse_message(message),
        )
        return None


@pytest.fixture
async def submission(pool: Any) -> AsyncIterator[tuple[Submission, int]]:
    handler = Submission(pool)
    config = ServerConfig(
        hostname="gateway.test",
        auth_required=True,
        auth_require_tls=False,
        max_message_size=2 * 1024 * 1024,
    )
    server = SMTPServer(handler, config)
    await server.start("127.0.0.1", 0)
    try:
        yield handler, server.port
    finally:
        await server.stop(grace=1)


@pytest.fixture
def web_environ(mailstore_url: str, submission: tuple[Submission, int]) -> dict[str, str]:
    return {
        "LOCALPOST_DEV": "1",
        "LOCALPOST_DOMAIN": DOMAINS,
        "MAILSTORE_URL": mailstore_url,
        "SUBMISSION_HOST": "127.0.0.1",
        "SUBMISSION_PORT": str(submission[1]),
        "AMQP_URL": AMQP_URL,
    }


@pytest.fixture
async def client(web_environ: dict[str, str]) -> AsyncIterator[Client]:
    app = create_app(load_config(web_environ), live=False)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
def deliver(pool: Any) -> Any:
    """File a message as the consumer would: ``await deliver(raw, rcpt_to=[...])``."""

    async def deliver(raw: bytes, *, rcpt_to: list[str], submitted_by: str | None = None) -> None:
        await db.store_message(
            pool,
            gateway_id=secrets.token_hex(13).upper(),
            mail_from="sender@example.com",
            rcpt_to=rcpt_to,
            submitted_by=submitted_by,
            raw=raw,
            parsed=parse_message(raw),
        )

    return deliver


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_token(client: Client, path: str = "/login") -> str:
    response = await client.get(path)
    match = _CSRF.search(await response.text())
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def fresh_address(domain: str = "localpost.test") -> str:
    return f"u{secrets.token_hex(5)}@{domain}"


async def register(client: Client, name: str = "Test User", address: str | None = None) -> str:
    address = address or fresh_address()
    response = await client.post(
        "/api/v1/accounts", json={"name": name, "address": address, "password": PASSWORD}
    )
    assert response.status == 201, await response.text()
    return address


async def login(client: Client, address: str, password: str = PASSWORD) -> None:
    token = await csrf_token(client)
    response = await client.post(
        "/login",
        data={"address": address, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()


def basic(address: str, password: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(address, password)}


async def api_token(client: Client, address: str) -> str:
    response = await client.post("/api/v1/tokens", headers=basic(address, PASSWORD))
    assert response.status == 201, await response.text()
    return str((await response.json())["token"])


# -- "does anything executable survive?" -----------------------------------------------------

# Attributes a browser fetches or navigates to (HTML, SVG, MathML, legacy IE).
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
     "srcset", "lowsrc", "dynsrc", "codebase", "cite", "ping", "manifest", "longdesc"}
)  # fmt: skip
# Never in a page of ours or in a sanitised body, whatever their attributes.
_FORBIDDEN_TAGS = frozenset(
    {"base", "object", "embed", "applet", "frame", "frameset", "svg", "math", "template",
     "portal", "xmp", "plaintext", "noscript", "noembed", "isindex"}
)  # fmt: skip
_DANGEROUS_SCHEME = re.compile(r"(javascript|vbscript|livescript|data):", re.IGNORECASE)
_DANGEROUS_CSS = re.compile(r"expression|url\s*\(|javascript:|@import|behavior|-moz-binding", re.I)
# Browsers drop ASCII tab and newline anywhere in a URL and C0 controls and spaces at its ends
# (WHATWG URL), so "java\tscript:" is "javascript:".
_URL_NOISE = re.compile(r"[\x00-\x20]")


class _Inspector(HTMLParser):
    def __init__(self, nonce: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.nonce = nonce
        self.problems: list[str] = []
        self.scripts = 0
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        where = f"<{tag} {' '.join(f'{n}={v!r}' for n, v in values.items())}>"
        if tag == "script":
            self.scripts += 1
            ours = self.nonce is not None and values.get("nonce") == self.nonce
            if not ours or not values.get("src", "").startswith("/static/"):
                self.problems.append(f"script without our nonce: {where}")
        if tag in _FORBIDDEN_TAGS:
            self.problems.append(f"forbidden element: {where}")
        if tag == "meta" and "http-equiv" in values:
            self.problems.append(f"meta http-equiv: {where}")
        if tag == "link" and (
            values.get("rel", "").lower() not in ("stylesheet", "icon")
            or not values.get("href", "").startswith("/static/")
        ):
            self.problems.append(f"foreign link: {where}")
        if tag == "iframe" and (
            "sandbox" not in values
            or "allow-scripts" in values["sandbox"]
            or not values.get("src", "").startswith("/messages/")
        ):
            self.problems.append(f"unsandboxed or foreign iframe: {where}")
        if tag == "form" and not values.get("action", "/").startswith("/"):
            self.problems.append(f"form to elsewhere: {where}")
        if tag == "style":
            self._in_style = True
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"event handler {name}: {where}")
            if name in ("srcdoc", "formaction"):
                self.problems.append(f"{name}: {where}")
            if name in _URL_ATTRIBUTES and _DANGEROUS_SCHEME.match(_URL_NOISE.sub("", value)):
                self.problems.append(f"dangerous URL in {name}: {where}")
            if name == "style" and _DANGEROUS_CSS.search(value):
                self.problems.append(f"dangerous CSS: {where}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and _DANGEROUS_CSS.search(data):
            self.problems.append(f"dangerous CSS in <style>: {data[:200]!r}")


def markup_problems(html: str, *, nonce: str | None = None) -> list[str]:
    """Everything in ``html`` that could run script, navigate, or load from elsewhere.

    ``nonce``: the page's CSP nonce; only <script nonce=it src=/static/...> is ours.
    The parser's view is backed by raw checks: Jinja and nh3 escape ``<`` in text and
    attribute values, so these strings can only be markup.
    """
    inspector = _Inspector(nonce)
    inspector.feed(html)
    inspector.close()
    problems = inspector.problems
    if len(re.findall(r"<script", html, re.IGNORECASE)) != inspector.scripts:
        problems.append("a <script the parser did not see as a tag")
    for pattern in (
        r"<base\b",
        r"<meta[^>]*http-equiv",
        r"<svg\b",
        r"<math\b",
        r"<iframe[^>]*srcdoc",
    ):
        if re.search(pattern, html, re.IGNORECASE):
            problems.append(f"raw {pattern}")
    return problems


def csp_nonce(csp: str) -> str | None:
    match = re.search(r"'nonce-([^']+)'", csp)
    return match.group(1) if match else None


class Helpers:
    """The helpers above, as a fixture (tests are imported in importlib mode)."""

    password = PASSWORD
    csrf_token = staticmethod(csrf_token)
    fresh_address = staticmethod(fresh_address)
    register = staticmethod(register)
    login = staticmethod(login)
    api_token = staticmethod(api_token)
    basic = staticmethod(basic)
    markup_problems = staticmethod(markup_problems)
    csp_nonce = staticmethod(csp_nonce)


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers
