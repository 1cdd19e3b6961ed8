"""AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import AuthResult, Credentials, ServerConfig, Session

if TYPE_CHECKING:
    from conftest import Connect, LineClient, MakeServer, Running, Trace

Config = Callable[..., ServerConfig]
Plain = Callable[[Reply], Reply]
Received = Callable[[bytes], "tuple[Trace, bytes]"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


PLAIN_ALICE = b64(b"\0alice\0secret")
PLAIN_WRONG = b64(b"\0alice\0guess")
USERNAME_PROMPT = Reply(334, None, b64(b"Username:"))
PASSWORD_PROMPT = Reply(334, None, b64(b"Password:"))


class Accounts:
    """An authenticate hook that knows alice/secret and records what it saw."""

    def __init__(self) -> None:
        self.seen: list[Credentials] = []

    async def __call__(self, session: Session, credentials: Credentials) -> bool:
        self.seen.append(credentials)
        return (credentials.username, credentials.password) == ("alice", "secret")


@pytest.fixture
def accounts() -> Accounts:
    return Accounts()


@pytest.fixture
async def auth_server(make_server: MakeServer, config: Config, accounts: Accounts) -> Running:
    """AUTH allowed in plaintext, so the exchanges can be read on the wire."""
    return await make_server(config(auth_require_tls=False), authenticate=accounts)


@pytest.fixture
async def auth_client(auth_server: Running, connect: Connect) -> LineClient:
    client = await connect(auth_server)
    await client.ehlo()
    return client


def keywords(ehlo: Reply) -> list[str]:
    return ehlo.text.split("\n")[1:]


# --- advertising -------------------------------------------------------------


async def test_auth_is_not_offered_without_an_authenticate_hook(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    client = await connect(await make_server(config(auth_require_tls=False)))

    assert not any(k.startswith("AUTH") for k in keywords(await client.ehlo()))
    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.COMMAND_NOT_IMPLEMENTED


async def test_auth_is_offered_in_plaintext_when_tls_is_not_required(
    auth_client: LineClient,
) -> None:
    assert "AUTH PLAIN LOGIN" in keywords(await auth_client.ehlo())


async def test_auth_is_not_offered_in_plaintext_by_default(
    make_server: MakeServer, connect: Connect, accounts: Accounts
) -> None:
    client = await connect(await make_server(authenticate=accounts))

    assert not any(k.startswith("AUTH") for k in keywords(await client.ehlo()))


async def test_auth_is_offered_in_plaintext_to_a_trusted_network(
    make_server: MakeServer, connect: Connect, config: Config, accounts: Accounts
) -> None:
    trusted = (ipaddress.ip_network("127.0.0.0/8"),)
    client = await connect(
        await make_server(config(plaintext_auth_networks=trusted), authenticate=accounts)
    )

    assert "AUTH PLAIN LOGIN" in keywords(await client.ehlo())
    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.AUTH_SUCCEEDED


async def test_auth_in_plaintext_from_an_untrusted_peer_is_538(
    make_server: MakeServer, connect: Connect, config: Config, accounts: Accounts
) -> None:
    elsewhere = (ipaddress.ip_network("10.0.0.0/8"),)
    running = await make_server(
        config(auth_require_tls=True, plaintext_auth_networks=elsewhere), authenticate=accounts
    )
    client = await connect(running)
    await client.ehlo()

    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.AUTH_NEEDS_TLS
    assert accounts.seen == []  # the credentials never reached the handler


async def test_auth_is_offered_after_starttls(
    make_server: MakeServer,
    connect: Connect,
    accounts: Accounts,
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
    received: Received,
) -> None:
    running = await make_server(tls_context=server_tls, authenticate=accounts)
    client = await connect(running)
    await client.ehlo()
    assert await client.command("STARTTLS") == replies.READY_FOR_TLS
    await client.starttls(client_tls)

    assert "AUTH PLAIN LOGIN" in keywords(await client.ehlo())
    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.AUTH_SUCCEEDED
    got = await client.send(
        "MAIL FROM:<alice@example.test>", "RCPT TO:<b@example.test>", "DATA", b"x\r\n.\r\n"
    )
    assert got[-1].code == 250
    got = await client.send(
        "MAIL FROM:<alice@example.test> SMTPUTF8", "RCPT TO:<b@example.test>", "DATA", b"x\r\n.\r\n"
    )
    assert got[-1].code == 250
    assert [received(m)[0].protocol for m in running.messages] == [
        "ESMTPSA",  # RFC 3848
        "UTF8SMTPSA",  # RFC 6531 §4.3
    ]


# --- PLAIN (RFC 4616) ----------------------------------------------------------


async def test_plain_with_initial_response_authenticates(
    auth_client: LineClient, auth_server: Running, received: Received
) -> None:
    assert await auth_client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.AUTH_SUCCEEDED

    # Authenticated: AUTH is no longer offered, and mail is marked ESMTPA.
    assert not any(k.startswith("AUTH") for k in keywords(await auth_client.ehlo()))
    got = await auth_client.send(
        "MAIL FROM:<alice@example.test>", "RCPT TO:<b@example.test>", "DATA", b"x\r\n.\r\n"
    )
    assert got[-1].code == 250
    (delivery,) = auth_server.deliveries
    assert delivery.session.authenticated_as == "alice"
    assert delivery.session.auth_mechanism == "PLAIN"
    assert received(delivery.message)[0].protocol == "ESMTPA"


async def test_plain_without_initial_response_gets_an_empty_challenge(
    auth_client: LineClient,
) -> None:
    # RFC 4954 §4: "334 " with nothing after it.
    assert await auth_client.command("AUTH PLAIN") == replies.AUTH_CONTINUE_EMPTY
    assert await auth_client.command(PLAIN_ALICE) == replies.AUTH_SUCCEEDED


async def test_plain_with_authzid_passes_it_to_the_handler(
    auth_client: LineClient, accounts: Accounts
) -> None:
    response = b64(b"bob@example.test\0alice\0secret")

    assert await auth_client.command(f"AUTH plain {response}") == replies.AUTH_SUCCEEDED
    assert accounts.seen[0].authzid == "bob@example.test"


async def test_equals_sign_is_an_empty_initial_response_not_a_challenge(
    auth_client: LineClient, accounts: Accounts
) -> None:
    # RFC 4954 §4: "=" means "present and empty"; an empty PLAIN message lacks
    # the two NULs of RFC 4616 §2, so it is malformed rather than prompted for.
    assert await auth_client.command("AUTH PLAIN =") == replies.AUTH_MALFORMED
    assert accounts.seen == []


@pytest.mark.parametrize("message", [b"alice\0secret", b"a\0b\0c\0d", b"\0\xff\0secret"])
async def test_plain_message_without_exactly_two_nuls_in_utf8_is_501(
    auth_client: LineClient, message: bytes
) -> None:
    assert await auth_client.command(f"AUTH PLAIN {b64(message)}") == replies.AUTH_MALFORMED


async def test_bad_base64_initial_response_is_501(auth_client: LineClient) -> None:
    assert await auth_client.command("AUTH PLAIN !!!notbase64") == replies.AUTH_MALFORMED


async def test_bad_base64_in_a_challenge_response_is_501(auth_client: LineClient) -> None:
    got = await auth_client.send("AUTH PLAIN", "!!!notbase64")

    assert got == [replies.AUTH_CONTINUE_EMPTY, replies.AUTH_MALFORMED]


async def test_star_cancels_the_exchange_with_501(auth_client: LineClient) -> None:
    got = await auth_client.send("AUTH PLAIN", "*")

    assert got == [replies.AUTH_CONTINUE_EMPTY, replies.AUTH_CANCELLED]
    assert replies.AUTH_CANCELLED.status == "5.7.0"
    # Not authenticated: a second attempt is allowed.
    assert await auth_client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.AUTH_SUCCEEDED


# --- LOGIN --------------------------------------------------------------------


async def test_login_asks_for_username_then_password(
    auth_client: LineClient, accounts: Accounts
) -> None:
    got = await auth_client.send("AUTH LOGIN")
    got += await auth_client.send(b64(b"alice"))
    got += await auth_client.send(b64(b"secret"))

    assert got == [USERNAME_PROMPT, PASSWORD_PROMPT, replies.AUTH_SUCCEEDED]
    assert accounts.seen[0].mechanism == "LOGIN"


async def test_login_with_initial_response_asks_only_for_the_password(
    auth_client: LineClient,
) -> None:
    got = await auth_client.send(f"AUTH LOGIN {b64(b'alice')}", b64(b"secret"))

    assert got == [PASSWORD_PROMPT, replies.AUTH_SUCCEEDED]


async def test_star_cancels_login_at_the_password_prompt(auth_client: LineClient) -> None:
    got = await auth_client.send("AUTH LOGIN", b64(b"alice"), "*")

    assert got == [USERNAME_PROMPT, PASSWORD_PROMPT, replies.AUTH_CANCELLED]


# --- sequence and mechanism errors ----------------------------------------------


async def test_unknown_mechanism_is_504(auth_client: LineClient) -> None:
    assert await auth_client.command("AUTH CRAM-MD5") == replies.UNKNOWN_AUTH_MECHANISM


async def test_auth_before_ehlo_is_503(
    auth_server: Running, connect: Connect, plain: Plain
) -> None:
    client = await connect(auth_server)

    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == plain(replies.NEED_EHLO)


async def test_auth_after_helo_is_503(auth_server: Running, connect: Connect, plain: Plain) -> None:
    client = await connect(auth_server)
    await client.command("HELO client.test")

    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == plain(replies.NEED_EHLO)


async def test_second_auth_is_503(auth_client: LineClient) -> None:
    got = await auth_client.send(f"AUTH PLAIN {PLAIN_ALICE}", f"AUTH PLAIN {PLAIN_ALICE}")

    assert got == [replies.AUTH_SUCCEEDED, replies.ALREADY_AUTHENTICATED]


async def test_auth_during_a_transaction_is_503(auth_client: LineClient) -> None:
    # RFC 4954 §4: AUTH is not permitted during a mail transaction.
    got = await auth_client.send("MAIL FROM:<a@example.test>", f"AUTH PLAIN {PLAIN_ALICE}")

    assert got == [replies.SENDER_OK, replies.BAD_SEQUENCE]


async def test_overlong_challenge_response_is_500(
    make_server: MakeServer, connect: Connect, config: Config, accounts: Accounts
) -> None:
    running = await make_server(
        config(auth_require_tls=False, auth_line_limit=100), authenticate=accounts
    )
    client = await connect(running)
    await client.ehlo()

    got = await client.send("AUTH PLAIN", "A" * 200, "NOOP")

    assert got == [replies.AUTH_CONTINUE_EMPTY, replies.AUTH_LINE_TOO_LONG, replies.OK]


# --- failures --------------------------------------------------------------------


async def test_wrong_credentials_are_535_after_a_delay(
    make_server: MakeServer, connect: Connect, config: Config, accounts: Accounts
) -> None:
    running = await make_server(
        config(auth_require_tls=False, auth_failure_delay=0.2), authenticate=accounts
    )
    client = await connect(running)
    await client.ehlo()
    loop = asyncio.get_running_loop()

    started = loop.time()
    reply = await client.command(f"AUTH PLAIN {PLAIN_WRONG}")

    assert reply == replies.AUTH_FAILED
    assert loop.time() - started >= 0.2
    # A failed AUTH leaves the session unauthenticated; the right password works.
    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.AUTH_SUCCEEDED


async def test_too_many_auth_failures_close_the_session_with_421(
    make_server: MakeServer, connect: Connect, config: Config, accounts: Accounts
) -> None:
    running = await make_server(
        config(auth_require_tls=False, max_auth_failures=2), authenticate=accounts
    )
    client = await connect(running)
    await client.ehlo()

    got = await client.send(f"AUTH PLAIN {PLAIN_WRONG}", f"AUTH PLAIN {PLAIN_WRONG}", n=3)

    assert got == [replies.AUTH_FAILED, replies.AUTH_FAILED, replies.TOO_MANY_AUTH_FAILURES]
    assert await client.read_rest() == b""


async def test_authenticate_hook_failure_is_454(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    async def broken(session: Session, credentials: Credentials) -> bool:
        raise ConnectionError("account database unreachable")

    client = await connect(await make_server(config(auth_require_tls=False), authenticate=broken))
    await client.ehlo()

    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.TEMP_AUTH_FAILURE


async def test_authenticate_hook_may_name_the_identity(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    async def as_mailbox(session: Session, credentials: Credentials) -> AuthResult:
        return AuthResult(success=True, identity="alice@example.test")

    running = await make_server(config(auth_require_tls=False), authenticate=as_mailbox)
    client = await connect(running)
    await client.ehlo()
    await client.command(f"AUTH PLAIN {PLAIN_ALICE}")

    await client.send("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", b".\r\n")

    assert running.deliveries[0].session.authenticated_as == "alice@example.test"


async def test_password_never_appears_in_the_credentials_repr(
    auth_client: LineClient, accounts: Accounts
) -> None:
    await auth_client.command(f"AUTH PLAIN {PLAIN_ALICE}")

    (credentials,) = accounts.seen
    assert credentials.password == "secret"
    assert "secret" not in repr(credentials)
    assert "secret" not in str(credentials)


# --- AUTH required (RFC 6409 §4.3) and the MAIL AUTH= parameter (RFC 4954 §5) -----


async def test_mail_without_auth_is_530_when_auth_is_required(
    make_server: MakeServer, connect: Connect, config: Config, accounts: Accounts
) -> None:
    running = await make_server(
        config(auth_required=True, auth_require_tls=False), authenticate=accounts
    )
    client = await connect(running)
    await client.ehlo()

    got = await client.send(
        "MAIL FROM:<alice@example.test>",
        f"AUTH PLAIN {PLAIN_ALICE}",
        "MAIL FROM:<alice@example.test>",
    )

    assert got == [replies.AUTH_REQUIRED, replies.AUTH_SUCCEEDED, replies.SENDER_OK]


@pytest.mark.parametrize(
    ("param", "mailbox"),
    [
        ("AUTH=alice+2Bsub@example.test", "alice+sub@example.test"),  # RFC 3461 §4 xtext
        ("AUTH=j+C3+B6ran@example.test", "j\u00f6ran@example.test"),  # UTF-8 octets
        ("AUTH=<>", None),
    ],
)
async def test_mail_auth_parameter_is_decoded_when_authenticated(
    auth_client: LineClient, auth_server: Running, param: str, mailbox: str | None
) -> None:
    await auth_client.command(f"AUTH PLAIN {PLAIN_ALICE}")

    got = await auth_client.send(
        f"MAIL FROM:<alice@example.test> {param}", "RCPT TO:<b@example.test>", "DATA", b".\r\n"
    )

    assert got[0] == replies.SENDER_OK
    assert auth_server.deliveries[0].envelope.auth_mailbox == mailbox


async def test_mail_auth_parameter_is_dropped_when_not_authenticated(
    auth_client: LineClient, auth_server: Running
) -> None:
    # RFC 4954 §5: the server MUST behave as if AUTH=<> was supplied.
    got = await auth_client.send(
        "MAIL FROM:<a@example.test> AUTH=alice@example.test",
        "RCPT TO:<b@example.test>",
        "DATA",
        b".\r\n",
    )

    assert got[0] == replies.SENDER_OK
    assert auth_server.deliveries[0].envelope.auth_mailbox is None


# --- failures across connections ------------------------------------------------


@pytest.fixture
async def throttled_server(make_server: MakeServer, config: Config, accounts: Accounts) -> Running:
    """Three failures per peer within a minute; one per session is allowed twice."""
    return await make_server(
        config(
            auth_require_tls=False,
            max_auth_failures=2,
            auth_throttle_failures=3,
            auth_throttle_window=60.0,
        ),
        authenticate=accounts,
    )


async def fail_twice(connect: Connect, server: Running) -> None:
    client = await connect(server)
    await client.ehlo()
    got = await client.send(f"AUTH PLAIN {PLAIN_WRONG}", f"AUTH PLAIN {PLAIN_WRONG}", n=3)
    assert got == [replies.AUTH_FAILED, replies.AUTH_FAILED, replies.TOO_MANY_AUTH_FAILURES]


async def test_failures_across_connections_make_every_new_auth_454(
    throttled_server: Running, connect: Connect, accounts: Accounts
) -> None:
    await fail_twice(connect, throttled_server)
    second = await connect(throttled_server)
    await second.ehlo()
    assert await second.command(f"AUTH PLAIN {PLAIN_WRONG}") == replies.AUTH_FAILED
    assert len(accounts.seen) == 3

    # The right password, on this connection and on a new one: refused unread.
    assert await second.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.AUTH_THROTTLED
    third = await connect(throttled_server)
    await third.ehlo()
    assert await third.command("AUTH LOGIN") == replies.AUTH_THROTTLED
    assert len(accounts.seen) == 3
    # A throttled attempt still counts against the session.
    assert await third.send(f"AUTH PLAIN {PLAIN_ALICE}", n=2) == [
        replies.AUTH_THROTTLED,
        replies.TOO_MANY_AUTH_FAILURES,
    ]


async def test_throttle_lifts_when_the_failures_leave_the_window(
    make_server: MakeServer, connect: Connect, config: Config, accounts: Accounts
) -> None:
    window = 0.5
    server = await make_server(
        config(auth_require_tls=False, auth_throttle_failures=1, auth_throttle_window=window),
        authenticate=accounts,
    )
    client = await connect(server)
    await client.ehlo()
    assert await client.command(f"AUTH PLAIN {PLAIN_WRONG}") == replies.AUTH_FAILED
    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.AUTH_THROTTLED
    await asyncio.sleep(window + 0.2)  # the failure's age, not synchronisation
    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.AUTH_SUCCEEDED


@pytest.mark.parametrize(
    "settings",
    [
        {"auth_throttle_failures": None},
        {"auth_throttle_exempt_networks": (ipaddress.ip_network("127.0.0.0/8"),)},
    ],
    ids=["disabled", "peer-in-an-exempt-network"],
)
async def test_no_throttle_across_connections_when_disabled_or_exempt(
    make_server: MakeServer,
    connect: Connect,
    config: Config,
    accounts: Accounts,
    settings: dict[str, object],
) -> None:
    server = await make_server(
        config(
            **{"auth_require_tls": False, "max_auth_failures": 2, "auth_throttle_failures": 3}
            | settings
        ),
        authenticate=accounts,
    )
    for _ in range(3):
        await fail_twice(connect, server)
    client = await connect(server)
    await client.ehlo()
    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.AUTH_SUCCEEDED


async def test_a_handler_refusal_reply_replaces_535_and_is_no_failure_of_the_address(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    refusing = True

    async def directory_limit(session: Session, credentials: Credentials) -> AuthResult:
        if refusing:
            return AuthResult(success=False, reply=replies.LOGIN_THROTTLED)
        return AuthResult(success=credentials.password == "secret")

    server = await make_server(
        config(auth_require_tls=False, max_auth_failures=2, auth_throttle_failures=3),
        authenticate=directory_limit,
    )
    for _ in range(3):
        client = await connect(server)
        await client.ehlo()
        got = await client.send(f"AUTH PLAIN {PLAIN_ALICE}", f"AUTH PLAIN {PLAIN_ALICE}", n=3)
        # Still one of the session's failures: the session ends as after wrong passwords.
        assert got == [
            replies.LOGIN_THROTTLED,
            replies.LOGIN_THROTTLED,
            replies.TOO_MANY_AUTH_FAILURES,
        ]
    refusing = False
    client = await connect(server)
    await client.ehlo()
    # Six refusals from this address, yet its throttle (3 failures) never closed.
    assert await client.command(f"AUTH PLAIN {PLAIN_ALICE}") == replies.AUTH_SUCCEEDED
