"""The login throttle inside /v1/auth/verify (mailstore/logins.py), on a real database.

Clients are the addresses a caller names in ``client``; 192.0.2.0/24 and 2001:db8::/32
are documentation networks, outside the default trusted networks (loopback)."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailstore import passwords
from mailstore.errors import Overloaded
from mailstore.main import create_app
from mailstore.settings import DEV_MAILSTORE_TOKEN, Config, LoginLimits
from mailstore.testing import check_password_after

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE = "alice@localpost.test"
PASSWORD = "alice's long password"
WRONG = "not alice's password"
# The account ceiling lowered, so that a test fills it with a few tries; the per-client
# limits keep their defaults (10 per account and client, 20 per client).
CEILING = 5
LIMITS = LoginLimits(per_account=(CEILING, 3600))
_fresh = itertools.count()

MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
async def make_client(config: Config, pool: Any) -> AsyncIterator[MakeClient]:
    """``await make_client(**config changes)``: the API with ALICE registered."""
    opened: list[Client] = []

    async def make(**changes: Any) -> Client:
        app = create_app(
            dataclasses.replace(config, **changes),
            consume=False,
            maintenance=False,
        )
        client = TestClient(TestServer(app))
        await client.start_server()
        opened.append(client)
        if not await pool.fetchval("SELECT count(*) FROM accounts WHERE address = $1", ALICE):
            body = {"address": ALICE, "password": PASSWORD}
            response = await client.post("/v1/accounts", json=body, headers=AUTH)
            assert response.status == 201
        return client

    yield make
    for client in opened:
        await client.close()


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    """Default limits: 10 per account and client, 20 per client, 100 per account."""
    return await make_client()


@pytest.fixture
async def low_ceiling(make_client: MakeClient) -> Client:
    """The account's ceiling lowered to CEILING failures an hour."""
    return await make_client(login_limits=LIMITS)


@pytest.fixture
def bcrypt_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    checks: list[str] = []
    monkeypatch.setattr(passwords, "check_password", check_password_after(checks.append))
    return checks


async def login(
    client: Client,
    *,
    client_ip: str,
    password: str = WRONG,
    address: str = ALICE,
    channel: str = "web",
    trusted_device: bool = False,
) -> tuple[int, int | None]:
    """(status, Retry-After) of one verify call."""
    body = {
        "address": address,
        "password": password,
        "client": client_ip,
        "channel": channel,
        "trusted_device": trusted_device,
    }
    async with client.post("/v1/auth/verify", json=body, headers=AUTH) as response:
        retry_after = response.headers.get("Retry-After")
        return response.status, int(retry_after) if retry_after else None


def fresh() -> str:
    return f"nobody{next(_fresh)}@localpost.test"


# (id, failures before: [(client, tries, account: "alice" or "fresh")], the final try:
# (client, right password?), its expected status). Limits: 10 per account and client,
# 20 per client (15 minutes), CEILING per account (an hour), failures only.
LIMIT_CASES = [
    ("account-and-client", [("192.0.2.1", 10, "alice")], ("192.0.2.1", True), 429),
    ("account-and-client-spares-others", [("192.0.2.1", 4, "alice")], ("192.0.2.2", True), 200),
    ("client", [("192.0.2.1", 20, "fresh")], ("192.0.2.1", True), 429),
    ("client-is-an-ipv6-64", [("2001:db8:1:2::1", 20, "fresh")], ("2001:db8:1:2::ff", True), 429),
    ("other-64-unaffected", [("2001:db8:1:2::1", 20, "fresh")], ("2001:db8:1:3::1", True), 200),
    (
        "account-from-many-clients",
        [(f"192.0.2.{n}", 1, "alice") for n in range(1, CEILING + 1)],
        ("192.0.2.99", True),
        429,
    ),
    ("below-every-limit", [("192.0.2.1", 9, "alice")], ("192.0.2.1", True), 200),
]


@pytest.mark.parametrize(
    ("failures", "final", "expected"),
    [row[1:] for row in LIMIT_CASES],
    ids=[row[0] for row in LIMIT_CASES],
)
async def test_each_limit_refuses_with_429_and_retry_after_without_bcrypt(
    make_client: MakeClient,
    bcrypt_checks: list[str],
    failures: list[tuple[str, int, str]],
    final: tuple[str, bool],
    expected: int,
) -> None:
    # The ceiling row needs CEILING clients below their own limits; the others a ceiling
    # they cannot reach.
    ceiling = CEILING if len(failures) > 1 else 1000
    client = await make_client(
        login_limits=dataclasses.replace(LIMITS, per_account=(ceiling, 3600))
    )
    for client_ip, tries, account in failures:
        for _ in range(tries):
            address = ALICE if account == "alice" else fresh()
            assert await login(client, client_ip=client_ip, address=address) == (401, None)
    client_ip, right = final
    bcrypt_checks.clear()

    status, retry_after = await login(
        client, client_ip=client_ip, password=PASSWORD if right else WRONG
    )

    assert status == expected
    if expected == 429:
        assert retry_after is not None
        assert retry_after >= 1
        assert bcrypt_checks == []  # refused before any password work
    else:
        assert len(bcrypt_checks) == 1


async def test_parallel_wrong_passwords_cannot_pass_a_limit(client: Client) -> None:
    # 15 at once against the per-(account, client) limit of 10: each reserves its slot
    # before bcrypt, so exactly 10 are checked (401) and 5 refused (429).
    statuses = await asyncio.gather(*(login(client, client_ip="192.0.2.7") for _ in range(15)))

    codes = sorted(status for status, _ in statuses)
    assert codes == [401] * 10 + [429] * 5


async def test_parallel_wrong_passwords_from_many_clients_cannot_pass_the_ceiling(
    low_ceiling: Client,
) -> None:
    statuses = await asyncio.gather(
        *(login(low_ceiling, client_ip=f"192.0.2.{n}") for n in range(1, 16))
    )

    codes = sorted(status for status, _ in statuses)
    assert codes == [401] * CEILING + [429] * (15 - CEILING)


async def test_successful_logins_never_count(client: Client, pool: Any) -> None:
    # 30 logins from one address (a family behind one NAT, a script): more than any limit.
    for _ in range(30):
        assert await login(client, client_ip="192.0.2.8", password=PASSWORD) == (200, None)
    assert await pool.fetchval("SELECT count(*) FROM throttle_events") == 0
    # Failures still count from the first: ten wrong, then the per-(account, client) limit.
    statuses = [(await login(client, client_ip="192.0.2.8"))[0] for _ in range(11)]
    assert statuses == [401] * 10 + [429]


async def test_a_trusted_device_is_not_held_to_the_account_ceiling(low_ceiling: Client) -> None:
    for n in range(1, CEILING + 1):
        assert await login(low_ceiling, client_ip=f"192.0.2.{n}") == (401, None)
    assert (await login(low_ceiling, client_ip="198.51.100.1", password=PASSWORD))[0] == 429

    status, _ = await login(
        low_ceiling, client_ip="198.51.100.1", password=PASSWORD, trusted_device=True
    )

    assert status == 200


async def test_a_client_that_logged_in_before_is_not_held_to_the_ceiling(
    low_ceiling: Client,
) -> None:
    # The owner's mail program logged in over SMTP from home last week; a botnet then
    # fills the account's ceiling from elsewhere.
    assert await login(low_ceiling, client_ip="203.0.113.5", password=PASSWORD, channel="smtp") == (
        200,
        None,
    )
    for n in range(1, CEILING + 1):
        assert await login(low_ceiling, client_ip=f"192.0.2.{n}", channel="smtp") == (401, None)

    from_home = await login(low_ceiling, client_ip="203.0.113.5", password=PASSWORD, channel="smtp")
    from_elsewhere = await login(low_ceiling, client_ip="198.51.100.1", password=PASSWORD)
    # Known, but still held to its own per-client limits: a guesser sharing the address
    # gets ten tries, as anywhere else.
    guesses = [(await login(low_ceiling, client_ip="203.0.113.5"))[0] for _ in range(11)]

    assert (from_home[0], from_elsewhere[0]) == (200, 429)
    assert guesses == [401] * 10 + [429]


async def test_failures_count_across_channels(client: Client) -> None:
    for channel in ("web", "api", "smtp", "imap", "pop3"):
        for _ in range(2):
            assert await login(client, client_ip="192.0.2.9", channel=channel) == (401, None)

    assert (await login(client, client_ip="192.0.2.9", password=PASSWORD))[0] == 429


async def test_trusted_networks_are_spared_the_per_client_limits(client: Client) -> None:
    # 127.0.0.1 (LOCALPOST_TRUSTED_NETWORKS by default): a proxy, a NAT, the web's host.
    statuses = [(await login(client, client_ip="127.0.0.1", address=fresh()))[0] for _ in range(25)]

    assert statuses == [401] * 25
    assert await login(client, client_ip="::ffff:127.0.0.1", password=PASSWORD) == (200, None)


async def test_trusted_networks_still_fill_the_account_ceiling(low_ceiling: Client) -> None:
    # Never "known" either: one address there is many people.
    assert await login(low_ceiling, client_ip="127.0.0.1", password=PASSWORD) == (200, None)
    statuses = [(await login(low_ceiling, client_ip="127.0.0.1"))[0] for _ in range(CEILING + 1)]

    assert statuses == [401] * CEILING + [429]
    assert (await login(low_ceiling, client_ip="127.0.0.1", password=PASSWORD))[0] == 429


async def test_throttle_trusted_puts_trusted_networks_under_the_limits(
    make_client: MakeClient,
) -> None:
    client = await make_client(throttle_trusted=True)
    statuses = [(await login(client, client_ip="127.0.0.1", address=fresh()))[0] for _ in range(21)]

    assert statuses == [401] * 20 + [429]


async def test_a_check_refused_by_the_full_bcrypt_queue_does_not_count(
    make_client: MakeClient, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client()

    async def overloaded(*args: Any) -> bool:
        raise Overloaded(retry_after=2)

    monkeypatch.setattr(passwords.PasswordHasher, "verify", overloaded)
    for _ in range(12):
        assert (await login(client, client_ip="192.0.2.10"))[0] == 503

    assert await pool.fetchval("SELECT count(*) FROM throttle_events") == 0


# (id, body changes, the field named in the 422)
BAD_BODIES = [
    ("no-client", {"client": None}, "client"),
    ("empty-client", {"client": ""}, "client"),
    ("overlong-client", {"client": "1" * 65}, "client"),
    ("control-in-client", {"client": "192.0.2.1\n"}, "client"),
    ("no-channel", {"channel": None}, "channel"),
    ("unknown-channel", {"channel": "telnet"}, "channel"),
    ("trusted-device-not-boolean", {"trusted_device": "yes"}, "trusted_device"),
]


@pytest.mark.parametrize(
    ("changes", "field"), [row[1:] for row in BAD_BODIES], ids=[row[0] for row in BAD_BODIES]
)
async def test_a_malformed_login_is_422_naming_the_field(
    client: Client, changes: dict[str, Any], field: str
) -> None:
    body = {"address": ALICE, "password": PASSWORD, "client": "192.0.2.1", "channel": "web"}
    body = {k: v for k, v in (body | changes).items() if v is not None}

    response = await client.post("/v1/auth/verify", json=body, headers=AUTH)

    assert response.status == 422
    assert field in (await response.json())["fields"]


async def test_sign_up_throttle_spares_trusted_networks_and_counts_per_client(
    client: Client,
) -> None:
    async def hit(client_ip: str) -> bool:
        body = {"key": "register", "limit": 2, "window": 3600, "client": client_ip}
        response = await client.post("/v1/throttle", json=body, headers=AUTH)
        assert response.status == 200
        return bool((await response.json())["allowed"])

    trusted = [await hit("127.0.0.1") for _ in range(5)]
    same_64 = [await hit(f"2001:db8:5:6::{n}") for n in range(1, 4)]
    other = await hit("192.0.2.1")

    assert trusted == [True] * 5
    assert same_64 == [True, True, False]
    assert other is True
