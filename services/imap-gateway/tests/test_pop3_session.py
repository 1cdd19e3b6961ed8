"""POP3 sessions over real sockets on the in-memory backend (no mail store): login
rules, the commands of each state, DELE/RSET/QUIT, the maildrop lock, framing."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import poplib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

from imap_gateway.backend import BackendUnavailable, BodyData
from imap_gateway.memory import MemoryBackend, MemoryMessage, MemorySelected
from imap_gateway.pop3 import LivePop3Sessions, Pop3Settings, pop3_handler
from imap_gateway.wire.fetch import Section

USER = "alice@example.org"
PASSWORD = "correct horse"
TIMEOUT = 10.0  # a bound on waiting for a reply, never a timing assertion


def message(subject: str = "Hello", body: bytes = b"Hi there.\r\n") -> bytes:
    head = f"From: Bob <bob@example.org>\r\nTo: {USER}\r\nSubject: {subject}\r\n\r\n"
    return head.encode() + body


class Client:
    """A raw POP3 client: one line out, a status line or a multi-line response back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def line(self) -> bytes:
        data = await asyncio.wait_for(self.reader.readline(), TIMEOUT)
        if not data:
            raise ConnectionError("server closed the connection")
        assert data.endswith(b"\r\n"), data
        return data[:-2]

    async def send(self, text: str | bytes) -> None:
        self.writer.write((text.encode() if isinstance(text, str) else text) + b"\r\n")
        await self.writer.drain()

    async def command(self, text: str | bytes) -> bytes:
        await self.send(text)
        return await self.line()

    async def ok(self, text: str | bytes) -> bytes:
        reply = await self.command(text)
        assert reply.startswith(b"+OK"), (text, reply)
        return reply

    async def multiline(self, text: str) -> tuple[bytes, bytes]:
        """The +OK line and the raw body up to, not including, the terminating line."""
        status = await self.ok(text)
        body = bytearray()
        while True:
            data = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), TIMEOUT)
            if data == b".\r\n":
                return status, bytes(body)
            body += data

    async def login(self) -> bytes:
        await self.ok(f"USER {USER}")
        return await self.command(f"PASS {PASSWORD}")

    async def closed(self) -> bool:
        rest = await asyncio.wait_for(self.reader.read(), TIMEOUT)
        return rest == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@dataclass
class Server:
    backend: MemoryBackend
    port: int
    sessions: LivePop3Sessions
    clients: list[Client] = field(default_factory=list)

    async def connect(self) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        client = Client(reader, writer)
        self.clients.append(client)
        assert (await client.line()).startswith(b"+OK")
        return client

    async def logged_in(self) -> Client:
        client = await self.connect()
        assert (await client.login()).startswith(b"+OK")
        return client

    def deliver(self, raw: bytes) -> int:
        return self.backend.deliver(USER, raw)

    def folder(self, name: str) -> list[bytes]:
        return [m.raw for m in self.backend.accounts[USER].folders[name].messages.values()]

    async def ended(self) -> None:
        """Wait until every session has ended (its clean-up done)."""
        for _ in range(500):
            if not len(self.sessions):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("a POP3 session did not end")


ServerFactory = Callable[..., Awaitable[Server]]


@pytest.fixture
def backend() -> MemoryBackend:
    memory = MemoryBackend()
    memory.add_user(USER, PASSWORD)
    return memory


@pytest.fixture
async def make_server(backend: MemoryBackend) -> AsyncIterator[ServerFactory]:
    made: list[tuple[asyncio.Server, Server]] = []

    async def make(
        *, trusted: bool = True, settings: Pop3Settings | None = None, tls: bool = False
    ) -> Server:
        sessions = LivePop3Sessions()
        handler = pop3_handler(
            backend, settings, trusted=lambda host: trusted, tls=tls, events=sessions
        )
        context = settings.tls_context if tls and settings else None
        listener = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=context)
        server = Server(backend, listener.sockets[0].getsockname()[1], sessions)
        made.append((listener, server))
        return server

    yield make
    for listener, server in made:
        for client in server.clients:
            await client.close()
        listener.close()
        await server.sessions.stop(grace=TIMEOUT)
        await listener.wait_closed()


@pytest.fixture
async def server(make_server: ServerFactory) -> Server:
    return await make_server()


async def capabilities(client: Client) -> list[bytes]:
    _, body = await client.multiline("CAPA")
    return body.split(b"\r\n")[:-1]


# --- AUTHORIZATION ----------------------------------------------------------------------


async def test_untrusted_plain_text_gets_no_user_or_sasl_in_capa_and_user_is_refused(
    make_server: ServerFactory,
) -> None:
    server = await make_server(trusted=False)
    client = await server.connect()
    found = await capabilities(client)
    assert b"USER" not in found
    assert not any(line.startswith(b"SASL") for line in found)
    assert await client.command(f"USER {USER}") == b"-ERR [AUTH] " + (
        b"Plain-text authentication is not allowed before STLS"
    )
    assert (await client.command("AUTH PLAIN AGFAYgBj")).startswith(b"-ERR [AUTH]")


async def test_trusted_capa_offers_user_sasl_plain_top_uidl_and_codes(server: Server) -> None:
    client = await server.connect()
    found = await capabilities(client)
    for name in (b"USER", b"SASL PLAIN", b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE"):
        assert name in found
    assert b"STLS" not in found  # no certificate configured


async def test_wrong_password_is_auth_and_the_session_may_try_again(server: Server) -> None:
    client = await server.connect()
    await client.ok(f"USER {USER}")
    assert (await client.command("PASS wrong")).startswith(b"-ERR [AUTH]")
    assert (await client.login()).startswith(b"+OK")


async def test_pass_without_user_is_refused(server: Server) -> None:
    client = await server.connect()
    assert await client.command("PASS x") == b"-ERR USER first"


async def test_a_password_with_spaces_is_one_argument(
    backend: MemoryBackend, server: Server
) -> None:
    backend.add_user("bob@example.org", "with two  spaces")
    client = await server.connect()
    await client.ok("USER bob@example.org")
    assert (await client.command("PASS with two  spaces")).startswith(b"+OK")


async def test_auth_plain_with_an_initial_response(server: Server) -> None:
    client = await server.connect()
    token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    assert (await client.command(f"AUTH PLAIN {token}")).startswith(b"+OK")
    assert (await client.command("STAT")).startswith(b"+OK")


async def test_auth_plain_in_a_continuation_and_cancelled(server: Server) -> None:
    client = await server.connect()
    assert await client.command("AUTH PLAIN") == b"+ "
    assert await client.command("*") == b"-ERR Authentication cancelled"
    assert await client.command("AUTH PLAIN") == b"+ "
    token = base64.b64encode(f"{USER}\0{USER}\0{PASSWORD}".encode())
    assert (await client.command(token)).startswith(b"+OK")


async def test_auth_plain_acting_as_another_user_is_refused(server: Server) -> None:
    client = await server.connect()
    token = base64.b64encode(f"bob@example.org\0{USER}\0{PASSWORD}".encode()).decode()
    assert (await client.command(f"AUTH PLAIN {token}")).startswith(b"-ERR [AUTH]")


async def test_unknown_mechanism_and_bad_base64_are_refused(server: Server) -> None:
    client = await server.connect()
    assert await client.command("AUTH CRAM-MD5") == b"-ERR Unsupported mechanism CRAM-MD5"
    assert (await client.command("AUTH PLAIN !!!")).startswith(b"-ERR Invalid base64")


async def test_transaction_commands_before_login_are_refused(server: Server) -> None:
    client = await server.connect()
    for command in ("STAT", "LIST", "RETR 1", "DELE 1", "UIDL", "TOP 1 0", "RSET", "NOOP"):
        reply = await client.command(command)
        assert (
            reply == f"-ERR {command.split()[0]} is not allowed in the authorization state".encode()
        )


async def test_unknown_commands_and_bad_arguments_get_err(server: Server) -> None:
    client = await server.connect()
    assert (await client.command("HELO")).startswith(b"-ERR Unknown command")
    assert (await client.command("\xff\xfe")).startswith(b"-ERR Unknown command")
    assert (await client.command("")).startswith(b"-ERR")
    assert (await client.command("USER")).startswith(b"-ERR Wrong number")
    await client.login()
    assert await client.command("RETR 0") == b"-ERR Invalid message number"
    assert await client.command("RETR x") == b"-ERR Invalid message number"
    assert await client.command("TOP 1 -1") == b"-ERR No such message"  # number first
    assert (await client.command("USER x")).startswith(b"-ERR USER is not allowed")


async def test_a_line_over_the_limit_is_answered_and_the_connection_closed(
    make_server: ServerFactory,
) -> None:
    server = await make_server(settings=Pop3Settings(max_line=300))
    client = await server.connect()
    assert (await client.command("NOOP " + "x" * 400)).startswith(b"-ERR Line longer")
    assert await client.closed()


async def test_quit_in_authorization_says_bye_and_closes(server: Server) -> None:
    client = await server.connect()
    assert await client.command("QUIT") == b"+OK Bye"
    assert await client.closed()


# --- TRANSACTION ------------------------------------------------------------------------


async def test_stat_list_and_uidl_count_every_message(server: Server) -> None:
    first, second = message("one"), message("two", b"longer body\r\n" * 3)
    uids = [server.deliver(first), server.deliver(second)]
    client = await server.logged_in()
    assert await client.command("STAT") == f"+OK 2 {len(first) + len(second)}".encode()
    _, listing = await client.multiline("LIST")
    assert listing == f"1 {len(first)}\r\n2 {len(second)}\r\n".encode()
    assert await client.command("LIST 2") == f"+OK 2 {len(second)}".encode()
    uidvalidity = server.backend.accounts[USER].folders["INBOX"].uidvalidity
    _, ids = await client.multiline("UIDL")
    assert ids == f"1 {uidvalidity}.{uids[0]}\r\n2 {uidvalidity}.{uids[1]}\r\n".encode()
    assert await client.command("UIDL 1") == f"+OK 1 {uidvalidity}.{uids[0]}".encode()
    assert await client.command("LIST 3") == b"-ERR No such message"


async def test_retr_sends_the_message_dot_stuffed_with_its_size(server: Server) -> None:
    raw = message("dots", b".hidden\r\n..two\r\n.\r\nend\r\n")
    server.deliver(raw)
    client = await server.logged_in()
    status, body = await client.multiline("RETR 1")
    assert status == f"+OK {len(raw)} octets".encode()
    assert body == raw.replace(b"\r\n.", b"\r\n..")


async def test_a_message_without_a_final_newline_ends_with_crlf_then_dot(server: Server) -> None:
    raw = message("no newline", b"last line")
    server.deliver(raw)
    client = await server.logged_in()
    _, body = await client.multiline("RETR 1")
    assert body == raw + b"\r\n"


async def test_eight_bit_bodies_pass_untouched(server: Server) -> None:
    raw = message("8bit", "Grüße, ½ € \r\n".encode() + bytes(range(0x80, 0x100)) + b"\r\n")
    server.deliver(raw)
    client = await server.logged_in()
    _, body = await client.multiline("RETR 1")
    assert body == raw


async def test_top_0_is_the_header_and_blank_line_and_top_k_adds_lines(server: Server) -> None:
    raw = message("top", b"one\r\n.two\r\nthree\r\n")
    server.deliver(raw)
    client = await server.logged_in()
    header = raw[: raw.index(b"\r\n\r\n") + 4]
    _, body = await client.multiline("TOP 1 0")
    assert body == header
    _, body = await client.multiline("TOP 1 2")
    assert body == header + b"one\r\n..two\r\n"
    _, body = await client.multiline("TOP 1 99")
    assert body == raw.replace(b"\r\n.", b"\r\n..")


async def test_a_twenty_mib_message_with_poplib(server: Server) -> None:
    line = b"." + b"0123456789" * 7 + b"\r\n"
    raw = message("big", line * (20 * 1024 * 1024 // len(line)))
    server.deliver(raw)

    def fetch() -> tuple[bytes, list[bytes], int]:
        pop = poplib.POP3("127.0.0.1", server.port, timeout=TIMEOUT)
        try:
            pop.user(USER)
            pop.pass_(PASSWORD)
            status, lines, octets = pop.retr(1)
            pop.quit()
        finally:
            pop.close()
        return status, lines, octets

    status, lines, _ = await asyncio.to_thread(fetch)
    assert status == f"+OK {len(raw)} octets".encode()
    # poplib unstuffs and strips the line ends; the message comes back whole.
    assert b"\r\n".join(lines) + b"\r\n" == raw


async def test_dele_hides_the_message_from_stat_list_uidl_and_retr(server: Server) -> None:
    first, second = message("one"), message("two")
    server.deliver(first)
    server.deliver(second)
    client = await server.logged_in()
    assert await client.command("DELE 1") == b"+OK Message 1 deleted"
    assert await client.command("STAT") == f"+OK 1 {len(second)}".encode()
    _, listing = await client.multiline("LIST")
    assert listing == f"2 {len(second)}\r\n".encode()
    _, ids = await client.multiline("UIDL")
    assert ids.startswith(b"2 ")
    assert ids.count(b"\r\n") == 1
    for command in ("RETR 1", "TOP 1 0", "DELE 1", "LIST 1", "UIDL 1"):
        assert await client.command(command) == b"-ERR No such message", command


async def test_rset_undoes_dele_and_quit_then_deletes_nothing(server: Server) -> None:
    raw = message()
    server.deliver(raw)
    client = await server.logged_in()
    await client.ok("DELE 1")
    assert (
        await client.command("RSET") == f"+OK Maildrop has 1 messages ({len(raw)} octets)".encode()
    )
    assert await client.command("QUIT") == b"+OK Bye"
    await server.ended()
    assert server.folder("INBOX") == [raw]
    assert server.folder("Trash") == []


async def test_dele_and_quit_move_the_messages_to_trash(server: Server) -> None:
    keep, gone = message("keep"), message("gone")
    server.deliver(keep)
    server.deliver(gone)
    client = await server.logged_in()
    await client.ok("DELE 2")
    assert await client.command("QUIT") == b"+OK Bye; 1 messages moved to Trash"
    assert await client.closed()
    await server.ended()
    assert server.folder("INBOX") == [keep]
    assert server.folder("Trash") == [gone]


async def test_a_session_dropped_before_quit_deletes_nothing_and_frees_the_lock(
    server: Server,
) -> None:
    raw = message()
    server.deliver(raw)
    client = await server.logged_in()
    await client.ok("DELE 1")
    await client.close()
    await server.ended()
    assert server.folder("INBOX") == [raw]
    assert server.folder("Trash") == []
    again = await server.logged_in()  # the lock was released
    assert await again.command("STAT") == f"+OK 1 {len(raw)}".encode()


async def test_a_second_session_on_the_maildrop_gets_in_use(server: Server) -> None:
    first = await server.logged_in()
    second = await server.connect()
    await second.ok(f"USER {USER}")
    reply = await second.command(f"PASS {PASSWORD}")
    assert reply.startswith(b"-ERR [IN-USE]"), reply
    assert (await second.command("STAT")).startswith(b"-ERR")  # still AUTHORIZATION
    await first.ok("QUIT")
    await first.closed()
    assert (await second.login()).startswith(b"+OK")


async def test_messages_arriving_during_the_session_wait_for_the_next(server: Server) -> None:
    server.deliver(message("one"))
    client = await server.logged_in()
    server.deliver(message("two"))
    assert (await client.command("STAT")).startswith(b"+OK 1 ")
    await client.ok("QUIT")
    await server.ended()
    again = await server.logged_in()
    assert (await again.command("STAT")).startswith(b"+OK 2 ")


async def test_a_message_expunged_elsewhere_is_refused_by_retr(server: Server) -> None:
    uid = server.deliver(message())
    client = await server.logged_in()
    server.backend.accounts[USER].folders["INBOX"].remove([uid])
    assert await client.command("RETR 1") == b"-ERR No such message"
    assert (await client.command("NOOP")).startswith(b"+OK")


async def test_pipelined_commands_are_answered_in_order(server: Server) -> None:
    server.deliver(message())
    client = await server.logged_in()
    client.writer.write(b"STAT\r\nNOOP\r\nLIST 1\r\n")
    assert (await client.line()).startswith(b"+OK 1 ")
    assert await client.line() == b"+OK "
    assert (await client.line()).startswith(b"+OK 1 ")


async def test_quit_that_cannot_move_says_so_and_deletes_nothing(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = message()
    server.deliver(raw)
    client = await server.logged_in()
    await client.ok("DELE 1")

    async def down(self: MemorySelected, uids: object, target: str) -> None:
        raise BackendUnavailable("the mail store is down")

    monkeypatch.setattr(MemorySelected, "move", down)
    reply = await client.command("QUIT")
    assert reply == (
        b"-ERR [SYS/TEMP] The mail store cannot answer now; try again later (no message deleted)"
    )
    assert await client.closed()
    await server.ended()
    assert server.folder("INBOX") == [raw]


async def test_a_message_that_breaks_off_mid_retr_closes_without_the_final_dot(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.deliver(message())

    async def broken(self: MemoryMessage, section: Section, partial: object) -> BodyData:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"Subject: half"
            raise BackendUnavailable("the mail store went away")

        return BodyData(100, chunks())

    monkeypatch.setattr(MemoryMessage, "section", broken)
    client = await server.logged_in()
    await client.send("RETR 1")
    assert (await client.line()).startswith(b"+OK")
    # The +OK is out: the client must not take what came as the whole message.
    rest = await asyncio.wait_for(client.reader.read(), TIMEOUT)
    assert rest == b"Subject: half"


async def test_a_message_gone_before_retr_is_err_and_the_session_goes_on(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.deliver(message())

    async def gone(self: MemoryMessage, section: Section, partial: object) -> BodyData:
        raise BackendUnavailable("the mail store went away")

    monkeypatch.setattr(MemoryMessage, "section", gone)
    client = await server.logged_in()
    assert (await client.command("RETR 1")).startswith(b"-ERR [SYS/TEMP]")
    assert (await client.command("STAT")).startswith(b"+OK 1 ")


async def test_quit_after_the_lock_went_elsewhere_deletes_nothing(server: Server) -> None:
    raw = message()
    server.deliver(raw)
    client = await server.logged_in()
    await client.ok("DELE 1")
    # As if the lease had expired while the store was unreachable and another took it.
    server.backend.accounts[USER].maildrop_holder = "another session"
    assert (await client.command("QUIT")).startswith(b"-ERR [IN-USE]")
    await server.ended()
    assert server.folder("INBOX") == [raw]
    assert server.folder("Trash") == []


async def test_an_idle_session_is_logged_out_without_deleting(
    make_server: ServerFactory,
) -> None:
    # Half a second, not less: the timeout must not fire between the client's own
    # commands when a loaded machine stalls it for a moment.
    server = await make_server(settings=Pop3Settings(idle_timeout=0.5))
    raw = message()
    server.deliver(raw)
    client = await server.logged_in()
    await client.ok("DELE 1")
    assert await client.line() == b"-ERR Autologout; idle for too long"
    assert await client.closed()
    await server.ended()
    assert server.folder("INBOX") == [raw]


async def test_a_client_that_does_not_log_in_in_time_is_closed(
    make_server: ServerFactory,
) -> None:
    server = await make_server(settings=Pop3Settings(login_timeout=0.2))
    client = await server.connect()
    assert await client.line() == b"-ERR Not authenticated in time"
    assert await client.closed()


async def test_apop_is_not_served(server: Server) -> None:
    client = await server.connect()
    assert await client.command("APOP alice c4c9334bac560ecc979e58001b3e22fb") == (
        b"-ERR Unknown command APOP"
    )


# --- TLS --------------------------------------------------------------------------------


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_side)
    client_side = ssl.create_default_context()
    ca.configure_trust(client_side)
    return server_side, client_side


async def test_stls_then_user_pass_for_an_untrusted_client(
    make_server: ServerFactory, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server = await make_server(trusted=False, settings=Pop3Settings(tls_context=tls[0]))
    server.deliver(message())

    def session() -> list[bytes]:
        pop = poplib.POP3("127.0.0.1", server.port, timeout=TIMEOUT)
        try:
            before = list(pop.capa())
            pop.stls(tls[1])
            after = list(pop.capa())
            pop.user(USER)
            pop.pass_(PASSWORD)
            count = pop.stat()[0]
            pop.quit()
        finally:
            pop.close()
        return [
            b" ".join(x.encode() for x in before),
            b" ".join(x.encode() for x in after),
            str(count).encode(),
        ]

    before, after, count = await asyncio.to_thread(session)
    assert b"STLS" in before
    assert b"USER" not in before
    assert b"USER" in after
    assert b"STLS" not in after
    assert count == b"1"


async def test_stls_with_commands_pipelined_after_it_is_refused(
    make_server: ServerFactory, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server = await make_server(trusted=False, settings=Pop3Settings(tls_context=tls[0]))
    client = await server.connect()
    client.writer.write(b"STLS\r\nUSER x\r\n")
    assert (await client.line()).startswith(b"-ERR Nothing may follow STLS")


async def test_implicit_tls_allows_user_pass(
    make_server: ServerFactory, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server = await make_server(trusted=False, settings=Pop3Settings(tls_context=tls[0]), tls=True)

    def session() -> bytes:
        pop = poplib.POP3_SSL("127.0.0.1", server.port, timeout=TIMEOUT, context=tls[1])
        try:
            pop.user(USER)
            reply = pop.pass_(PASSWORD)
            pop.quit()
        finally:
            pop.close()
        return reply

    assert (await asyncio.to_thread(session)).startswith(b"+OK")
