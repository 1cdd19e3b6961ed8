"""Hostile input against accounts, one table per area (docs/security.md, "Web"): login
brute force from many client addresses, user enumeration, long passwords, reserved and
look-alike addresses, and the life of a session cookie.

Clients at other addresses are real sockets bound to 127.0.0.N (all of 127/8 is the
loopback), so the web service sees each as its own client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore import logins, passwords
from mailstore.settings import LoginLimits
from mailstore.testing import check_password_after

Client = TestClient[web.Request, web.Application]
WRONG = "not the password at all"

# -- login brute force ------------------------------------------------------------------------


class Browser:
    """A browser at 127.0.0.``n``, with its own cookies."""

    def __init__(self, base_url: str, n: int) -> None:
        self.session = aiohttp.ClientSession(
            base_url=base_url,
            connector=aiohttp.TCPConnector(local_addr=(f"127.0.0.{n}", 0)),
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies for an IP address
        )

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.session.get(path, **kwargs)

    async def login(self, h: Any, address: str, password: str) -> int:
        token = await h.csrf_token(self, "/login")
        data = {"address": address, "password": password, "csrf_token": token}
        async with self.session.post("/login", data=data, allow_redirects=False) as response:
            return response.status


@pytest.fixture
async def browsers(client: Client) -> AsyncIterator[Callable[[int], Browser]]:
    """``browsers(n)``: the browser at 127.0.0.``n``; n >= 100 is another browser (a
    cookie jar of its own) at 127.0.0.``n - 100``."""
    opened: dict[int, Browser] = {}

    def browser(n: int) -> Browser:
        if n not in opened:
            opened[n] = Browser(str(client.make_url("/")), n % 100)
        return opened[n]

    yield browser
    for each in opened.values():
        await each.session.close()


CEILING, _ = LoginLimits().per_account

# (id, tries before: [(first client, clients, tries each, account)], the final try:
# (client, account, right password?), expected status of the final try). "victim" is
# one registered account, tried with a wrong password ("victim-right": with its own);
# "fresh" is a new unknown address at every try; client 50 has logged in to the
# victim's account once, before the guessing, and so holds its device cookie and is a
# known address of the account; client 150 is a new browser at client 50's address;
# "ceiling" fills the victim's account-wide ceiling directly (the row
# "ceiling-from-ten-clients" shows real guesses filling it). Limits (the mail store's,
# for every channel): 10 failures per (account, client) and 20 per client in 15
# minutes, 100 per account an hour; successes never count.
BRUTE_FORCE = [
    ("same-client-same-account", [(2, 1, 10, "victim")], (2, "victim", True), 429),
    ("other-client-unaffected", [(2, 1, 10, "victim")], (3, "victim", True), 303),
    ("same-client-many-accounts", [(2, 1, 20, "fresh")], (2, "victim", True), 429),
    ("hammering-one-client-leaves-the-owner-in", [(2, 1, 60, "victim")], (3, "victim", True), 303),
    ("ceiling-from-ten-clients", [(2, 10, 10, "victim")], (12, "victim", False), 429),
    ("ceiling-refuses-a-new-device", [(0, 0, 0, "ceiling")], (3, "victim", True), 429),
    ("ceiling-admits-a-known-device", [(0, 0, 0, "ceiling")], (50, "victim", True), 303),
    (
        "ceiling-admits-a-new-browser-at-a-known-address",
        [(0, 0, 0, "ceiling")],
        (150, "victim", True),
        303,
    ),
    ("known-device-of-another-account", [(0, 0, 0, "ceiling")], (51, "victim", True), 429),
    ("successes-never-count", [(2, 1, 25, "victim-right")], (2, "victim", True), 303),
    (
        "successes-then-failures-count",
        [(2, 1, 25, "victim-right"), (2, 1, 10, "victim")],
        (2, "victim", True),
        429,
    ),
]


@pytest.mark.parametrize(
    ("guesses", "final", "expected"),
    [row[1:] for row in BRUTE_FORCE],
    ids=[row[0] for row in BRUTE_FORCE],
)
async def test_login_guessing_is_limited_without_locking_the_owner_out(
    client: Client,
    h: Any,
    pool: Any,
    browsers: Callable[[int], Browser],
    guesses: list[tuple[int, int, int, str]],
    final: tuple[int, str, bool],
    expected: int,
) -> None:
    victim, other = await h.register(client), await h.register(client)
    assert await browsers(50).login(h, victim, h.password) == 303
    assert await browsers(51).login(h, other, h.password) == 303
    await pool.execute("TRUNCATE throttle_events")  # only the guesses below count
    statuses = []
    for first, clients, tries, account in guesses:
        if account == "ceiling":
            await pool.execute(
                "INSERT INTO throttle_events (key, at) "
                "SELECT $1, now() FROM generate_series(1, $2)",
                f"auth:account:{logins.key_part(victim)}",
                CEILING,
            )
        for n in range(first, first + clients):
            for _ in range(tries):
                target = h.fresh_address() if account == "fresh" else victim
                password = h.password if account == "victim-right" else WRONG
                statuses.append(await browsers(n).login(h, target, password))
    n, _, right = final

    status = await browsers(n).login(h, victim, h.password if right else WRONG)

    assert status == expected
    # Whatever happened, no account saw more than its hourly ceiling of wrong passwords.
    assert statuses.count(401) <= CEILING


# (client address as the peer shows it, the throttle's name for that client)
CLIENT_KEYS = [
    ("203.0.113.7", "203.0.113.7"),
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("unknown", "unknown"),
]


@pytest.mark.parametrize(("ip", "key"), CLIENT_KEYS)
def test_an_ipv6_client_is_limited_per_64(ip: str, key: str) -> None:
    # The mail store names clients for every channel's login throttle (mailstore.logins).
    assert logins.client_key(ip) == key


# -- user enumeration -------------------------------------------------------------------------

# (id, address: "known" or literal, password: "wrong", "empty", "long" or literal)
ENUMERATION = [
    ("wrong-password", "known", "wrong"),
    ("unknown-account", "fresh", "wrong"),
    ("unknown-domain", "ann@example.com", "wrong"),
    ("empty-password", "known", "empty"),
    ("overlong-password", "known", "long"),
    ("nul-in-address", "ann\x00@localpost.test", "wrong"),
    ("garbage-address", "<>@@", "wrong"),
    ("overlong-address", "a" * 300 + "@localpost.test", "wrong"),
]
_PASSWORDS = {"wrong": WRONG, "empty": "", "long": "x" * 5000}


@pytest.fixture
def bcrypt_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """How many bcrypt verifications the mail store ran (it runs in this process)."""
    checks: list[str] = []
    monkeypatch.setattr(passwords, "check_password", check_password_after(checks.append))
    return checks


@pytest.mark.parametrize("channel", ["form", "api"])
@pytest.mark.parametrize(
    ("address", "password"), [row[1:] for row in ENUMERATION], ids=[row[0] for row in ENUMERATION]
)
async def test_failed_logins_look_alike_and_cost_one_bcrypt(
    client: Client, h: Any, bcrypt_checks: list[str], channel: str, address: str, password: str
) -> None:
    known = await h.register(client)
    address = {"known": known, "fresh": h.fresh_address()}.get(address, address)
    token = await h.csrf_token(client)
    bcrypt_checks.clear()

    if channel == "form":
        data = {"address": address, "password": _PASSWORDS[password], "csrf_token": token}
        response = await client.post("/login", data=data)
        text = await response.text()
        assert '<p class="alert" role="alert">Wrong address or password.</p>' in text
    else:
        response = await client.post(
            "/api/v1/tokens", headers=h.basic(address, _PASSWORDS[password])
        )
        assert await response.json() == {"error": "unauthorized"}

    assert response.status == 401
    assert sorted(response.cookies) == []  # nothing set that a success would set
    # One verification, against the account's hash or the dummy: the same work either way.
    assert len(bcrypt_checks) == 1


# -- long passwords ---------------------------------------------------------------------------

_SEVENTY_TWO = ("correct horse battery staple " * 3)[:72]
assert len(_SEVENTY_TWO.encode()) == 72

# (id, password registered, password tried, expected registration status, login status)
LONG_PASSWORDS = [
    ("73-bytes-differ-after-72", _SEVENTY_TWO + "1", _SEVENTY_TWO + "2", 303, 401),
    ("73-bytes-same", _SEVENTY_TWO + "1", _SEVENTY_TWO + "1", 303, 303),
    ("72-byte-prefix-only", _SEVENTY_TWO + "123", _SEVENTY_TWO, 303, 401),
    ("multibyte-past-72", "\u65e5\u672c\u8a9e" * 30, "\u65e5\u672c\u8a9e" * 24, 303, 401),
    ("emoji-past-72", "\N{KEY}" * 30 + "a", "\N{KEY}" * 30 + "b", 303, 401),
    ("nul-inside", "correct horse\x00battery", "correct horse", 303, 401),
    ("longest-accepted", "w" * 1023 + "!", "w" * 1023 + "!", 303, 303),
    ("too-long-is-a-field-error", "w" * 1025, "w" * 1025, 422, 401),
]


@pytest.mark.parametrize(
    ("registered", "tried", "register_status", "login_status"),
    [row[1:] for row in LONG_PASSWORDS],
    ids=[row[0] for row in LONG_PASSWORDS],
)
async def test_long_passwords_are_never_cut_short(
    client: Client, h: Any, registered: str, tried: str, register_status: int, login_status: int
) -> None:
    address = h.fresh_address()
    token = await h.csrf_token(client, "/register")
    data = {
        "name": "Ann",
        "address": address,
        "password": registered,
        "confirm_password": registered,
        "csrf_token": token,
    }
    response = await client.post("/register", data=data, allow_redirects=False)
    assert response.status == register_status
    if register_status == 422:
        assert 'id="password-error"' in await response.text()
    client.session.cookie_jar.clear()

    token = await h.csrf_token(client)
    data = {"address": address, "password": tried, "csrf_token": token}
    response = await client.post("/login", data=data, allow_redirects=False)

    assert response.status == login_status


# -- confirm password ------------------------------------------------------------------------

_NFC, _NFD = "caf\u00e9 au lait!", "cafe\u0301 au lait!"
# (id, password typed, typed again (None: the field left out), status, confirm's error).
# Compared as typed: the password is stored unnormalised, so a copy that differs only in
# normalisation, case, spaces or a bidi control is another password.
CONFIRMS = [
    ("same", "correct horse battery", "correct horse battery", 303, None),
    ("same-with-nul", "correct horse\x00battery", "correct horse\x00battery", 303, None),
    ("one-letter-off", "correct horse battery", "correct horse batterx", 422, "differ"),
    ("empty", "correct horse battery", "", 422, "again"),
    ("left-out", "correct horse battery", None, 422, "again"),
    ("trailing-space", "correct horse battery", "correct horse battery ", 422, "differ"),
    ("case", "correct horse battery", "Correct horse battery", 422, "differ"),
    ("nfc-nfd", _NFC, _NFD, 422, "differ"),
    ("bidi-control", "correct horse battery", "correct horse\u202e battery", 422, "differ"),
]


@pytest.mark.parametrize(
    ("password", "confirm", "status", "error"),
    [row[1:] for row in CONFIRMS],
    ids=[row[0] for row in CONFIRMS],
)
async def test_a_password_typed_twice_must_match_and_a_mismatch_keeps_the_form(
    client: Client, h: Any, password: str, confirm: str | None, status: int, error: str | None
) -> None:
    address = h.fresh_address()
    token = await h.csrf_token(client, "/register")
    data = {"name": "Ann <Smith>", "address": address, "password": password, "csrf_token": token}
    if confirm is not None:
        data["confirm_password"] = confirm

    response = await client.post("/register", data=data, allow_redirects=False)

    assert response.status == status
    if error is not None:
        text = await response.text()
        field_error = re.search(r'id="confirm_password-error">([^<]*)<', text)
        assert field_error is not None, text
        assert error in field_error.group(1)
        assert 'aria-describedby="confirm_password-error"' in text
        # What was typed stays, escaped; neither password goes back into the page.
        assert 'value="Ann &lt;Smith&gt;"' in text
        assert f'value="{address}"' in text
        assert password not in text
        assert confirm is None or not confirm or confirm not in text
        # Nothing was registered.
        token = await h.csrf_token(client)
        login = {"address": address, "password": password, "csrf_token": token}
        refused = await client.post("/login", data=login, allow_redirects=False)
        assert refused.status == 401


# -- reserved and look-alike addresses --------------------------------------------------------

RESERVED = "This address is reserved for the service"
LOOK_ALIKE = "no look-alike letters"
# (address typed into the form, expected status, what the address field says)
ADDRESSES = [
    ("postmaster", 422, RESERVED),
    ("abuse", 422, RESERVED),
    ("admin", 422, RESERVED),
    ("root", 422, RESERVED),
    ("hostmaster", 422, RESERVED),
    ("webmaster", 422, RESERVED),
    ("mailer-daemon", 422, RESERVED),
    ("noreply", 422, RESERVED),
    ("no-reply", 422, RESERVED),
    ("security", 422, RESERVED),
    ("administrator@other.test", 422, RESERVED),
    ("PostMaster", 422, RESERVED),
    ("postmaster+news", 422, RESERVED),
    ("mailer.daemon", 422, RESERVED),
    ("no_reply", 422, RESERVED),
    ("adm1n", 422, RESERVED),
    ("p0stmaster", 422, RESERVED),
    ("adrnin", 422, RESERVED),
    ("r00t", 422, RESERVED),
    ("adm!n", 422, RESERVED),
    ("adm|n", 422, RESERVED),
    ("$ecurity", 422, RESERVED),
    ("n0-r3ply", 422, RESERVED),
    ("post'master", 422, RESERVED),
    ("r0o7", 422, RESERVED),
    ("ab*use", 422, RESERVED),
    ("\uff41\uff44\uff4d\uff49\uff4e", 422, RESERVED),  # fullwidth "admin"
    ("\u24d0dmin", 422, RESERVED),  # circled a
    ("\u1d43dmin", 422, RESERVED),  # modifier letter small a
    ("\u0430dmin", 422, LOOK_ALIKE),  # Cyrillic a
    ("p\u03bfstmaster", 422, LOOK_ALIKE),  # Greek omicron
    ("ad\u200bmin", 422, LOOK_ALIKE),  # zero-width space
    ("ad\u00admin", 422, LOOK_ALIKE),  # soft hyphen
    ("\u0440\u0430\u0443\u0440\u0430l", 422, LOOK_ALIKE),  # mixed Cyrillic and Latin
    ("admin\u202e", 422, LOOK_ALIKE),  # right-to-left override
    ("jos\u00e9", 422, LOOK_ALIKE),  # any non-ASCII letter
    ("ann+shop", 422, "ann+anything reaches ann"),  # RFC 5233: another's subaddress
    ("adminton", 303, None),
    ("rootbeer", 303, None),
    ("c1ara", 303, None),
]


@pytest.mark.parametrize(("typed", "status", "message"), ADDRESSES)
async def test_reserved_and_look_alike_addresses_are_field_errors(
    client: Client, h: Any, typed: str, status: int, message: str | None
) -> None:
    if status == 303:  # the allowed rows register once: give them a fresh suffix
        typed = f"{typed}{h.fresh_address().split('@')[0]}"
    token = await h.csrf_token(client, "/register")
    data = {
        "name": "Ann",
        "address": typed,
        "password": h.password,
        "confirm_password": h.password,
        "csrf_token": token,
    }

    response = await client.post("/register", data=data, allow_redirects=False)

    assert response.status == status
    if message is not None:
        text = await response.text()
        error = re.search(r'<p class="field-error" id="address-error"[^>]*>([^<]*)<', text)
        assert error is not None, text
        assert message in error.group(1)
        assert 'aria-describedby="address-error"' in text


# (id, channel, the name typed, status): the name goes into the From of every message the
# account sends, so what cannot be a header is refused next to the field.
NAMES = [
    ("line-separator", "form", "Ann\u2028Bcc: eve@example.com", 422),
    ("paragraph-separator", "api", "Ann\u2029Smith", 422),
    ("next-line", "form", "Ann\x85Smith", 422),
    ("nul", "form", "Ann\x00", 422),
    ("lone-surrogate", "api", "Ann\ud800", 422),
    ("bidi-override", "form", "\u202ennA", 422),
    ("plain", "form", "Ann O'Neill-Smith", 303),
]


@pytest.mark.parametrize(("channel", "name", "status"), [r[1:] for r in NAMES],
                         ids=[r[0] for r in NAMES])  # fmt: skip
async def test_names_that_cannot_be_a_header_are_field_errors(
    client: Client, h: Any, channel: str, name: str, status: int
) -> None:
    address = h.fresh_address()
    if channel == "form":
        token = await h.csrf_token(client, "/register")
        data = {
            "name": name,
            "address": address,
            "password": h.password,
            "confirm_password": h.password,
            "csrf_token": token,
        }
        response = await client.post("/register", data=data, allow_redirects=False)
    else:
        body = {"name": name, "address": address, "password": h.password}
        response = await client.post("/api/v1/accounts", json=body)

    if status == 303 and channel == "api":
        status = 201
    assert response.status == status, await response.text()
    if status == 422 and channel == "form":
        text = await response.text()
        assert 'id="name-error"' in text
        assert f'value="{address}"' in text  # the input is kept
    elif status == 422:
        assert "name" in (await response.json())["fields"]


# -- a session cookie's life ------------------------------------------------------------------

# (id, what happens after logging in as A, the path tried with A's old cookie, its status)
SESSION_EVENTS = [
    ("logout-ends-pages", "logout", "/mail/inbox", 303),
    ("logout-ends-the-api", "logout", "/api/v1/messages", 401),
    ("logout-ends-the-poll", "logout", "/live/state", 303),
    ("login-as-b-ends-a", "login-b", "/api/v1/messages", 401),
    ("login-again-ends-the-old-one", "login-a", "/api/v1/messages", 401),
    ("nothing-happens", "nothing", "/api/v1/messages", 200),
]


@pytest.mark.parametrize(
    ("event", "path", "status"),
    [row[1:] for row in SESSION_EVENTS],
    ids=[row[0] for row in SESSION_EVENTS],
)
async def test_an_old_session_cookie_is_dead_on_the_server(
    client: Client, h: Any, event: str, path: str, status: int
) -> None:
    a, b = await h.register(client), await h.register(client)
    client.session.cookie_jar.update_cookies({"lp_session": "planted-by-an-attacker"})
    await h.login(client, a)
    old = client.session.cookie_jar.filter_cookies(client.make_url("/"))["lp_session"].value
    assert old != "planted-by-an-attacker"  # fixation: a fresh id at every login
    if event == "logout":
        token = await h.csrf_token(client, "/mail/inbox")
        await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    elif event in ("login-a", "login-b"):
        await h.login(client, a if event == "login-a" else b)

    client.session.cookie_jar.clear()
    response = await client.get(path, cookies={"lp_session": old}, allow_redirects=False)

    assert response.status == status
