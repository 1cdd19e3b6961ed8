"""Mail transactions against a scripted peer: pipelining, refusals, failures, reuse."""

from __future__ import annotations

import asyncio

import pytest

from smtplib_common.client import (
    SMTPDataRefused,
    SMTPRecipientsRefused,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

PLAIN = ("8BITMIME", "SMTPUTF8", "SIZE 10240000", "ENHANCEDSTATUSCODES")  # no PIPELINING


def refuse_bad(arg: str) -> str:
    if "bad" in arg:
        return "550 5.1.1 no such user"
    if "later" in arg:
        return "451 4.2.0 mailbox busy"
    return "250 2.1.5 OK"


# --- PIPELINING ---------------------------------------------------------------


async def test_pipelining_sends_mail_rcpts_and_data_before_any_reply(fake_smtp, client_for) -> None:
    async def script(peer):
        await peer.handshake("PIPELINING", "8BITMIME")
        # Read the whole group without answering: a client that waited for
        # the MAIL reply would never send the rest and this read would time out.
        async with asyncio.timeout(1):
            batch = [await peer.readline() for _ in range(4)]
        assert batch == [
            b"MAIL FROM:<ann@x.test>\r\n",
            b"RCPT TO:<bob@y.test>\r\n",
            b"RCPT TO:<cy@y.test>\r\n",
            b"DATA\r\n",
        ]
        await peer.reply("250 2.1.0 OK", "250 2.1.5 OK", "250 2.1.5 OK", "354 go ahead")
        assert (await peer.read_data()).endswith(b"hello\r\n.\r\n")
        await peer.reply("250 2.0.0 queued as 42")
        await peer.expect_quit()

    server = await fake_smtp(script)
    async with client_for(server) as client:
        result = await client.send_raw("ann@x.test", ["bob@y.test", "cy@y.test"], b"hello\n")
    await server.finished()
    assert list(result.accepted) == ["bob@y.test", "cy@y.test"]
    assert result.refused == {}
    assert result.data_response.text == "queued as 42"


async def test_without_pipelining_each_command_waits_for_its_reply(fake_smtp, client_for) -> None:
    async def script(peer):
        await peer.handshake("8BITMIME")
        for command, reply in [
            ("MAIL FROM:<ann@x.test>", "250 OK"),
            ("RCPT TO:<bob@y.test>", "250 OK"),
            ("DATA", "354 go"),
        ]:
            await peer.expect(command)
            with pytest.raises(TimeoutError):  # nothing more until we answer
                async with asyncio.timeout(0.2):
                    await peer.readline()
            await peer.reply(reply)
        await peer.read_data()
        await peer.reply("250 OK")
        await peer.expect_quit()

    server = await fake_smtp(script)
    async with client_for(server) as client:
        await client.send_raw("ann@x.test", "bob@y.test", b"hello\r\n")
    await server.finished()


# --- refusals -----------------------------------------------------------------


@pytest.mark.parametrize(
    "extensions", [("PIPELINING", *PLAIN), PLAIN], ids=["pipelined", "lockstep"]
)
async def test_refused_recipients_are_reported_and_the_rest_get_the_message(
    fake_smtp, client_for, scripted, extensions
) -> None:
    script = scripted(extensions=extensions, replies={"RCPT": refuse_bad})
    server = await fake_smtp(script)
    async with client_for(server) as client:
        result = await client.send_message(
            "ann@x.test", ["bob@y.test", "bad@y.test", "later@y.test"], "Hi", "Hello\n"
        )
    assert list(result.accepted) == ["bob@y.test"]
    assert {r: (v.code, v.status) for r, v in result.refused.items()} == {
        "bad@y.test": (550, "5.1.1"),
        "later@y.test": (451, "4.2.0"),
    }
    assert result.data_response.code == 250
    assert [m.rcpts for m in script.messages] == [["bob@y.test"]]


@pytest.mark.parametrize(
    "extensions", [("PIPELINING", *PLAIN), PLAIN], ids=["pipelined", "lockstep"]
)
async def test_all_recipients_refused_raises_with_each_code(
    fake_smtp, client_for, scripted, extensions
) -> None:
    script = scripted(extensions=extensions, replies={"RCPT": refuse_bad})
    server = await fake_smtp(script)
    async with client_for(server) as client:
        with pytest.raises(SMTPRecipientsRefused) as caught:
            await client.send_raw("ann@x.test", ["bad@y.test", "later@y.test"], b"x\r\n")
        assert {r: v.code for r, v in caught.value.refused.items()} == {
            "bad@y.test": 550,
            "later@y.test": 451,
        }
        assert caught.value.code == 550  # the first refusal
        assert caught.value.transient  # one of them may work later
        # The transaction was reset and the session still sends mail.
        assert client.is_connected
        await client.send_raw("ann@x.test", ["bob@y.test"], b"second\r\n")
    after_refusal = script.commands[script.commands.index("RCPT TO:<later@y.test>") + 1 :]
    # Pipelined, DATA was already on its way (and refused); in lockstep it is never sent.
    expected_first = ["DATA", "RSET"] if "PIPELINING" in extensions else ["RSET"]
    assert after_refusal[: len(expected_first)] == expected_first
    assert [m.data for m in script.messages] == [b"second\r\n"]


async def test_354_after_all_recipients_refused_is_ended_with_a_lone_dot(
    fake_smtp, client_for, scripted
) -> None:
    # RFC 2920 §3.1: some servers accept DATA although no RCPT succeeded.
    script = scripted(
        replies={"RCPT": "550 5.1.1 no", "DATA": "354 go", ".": "554 5.5.1 no valid recipients"}
    )
    server = await fake_smtp(script)
    async with client_for(server) as client:
        with pytest.raises(SMTPRecipientsRefused):
            await client.send_raw("ann@x.test", ["bad@y.test"], b"secret\r\n")
        assert (await client.noop()).code == 250  # still in step
    assert [m.data for m in script.messages] == [b""]  # the content never went out


async def test_sender_refused_raises_with_code_and_sender(fake_smtp, client_for, scripted) -> None:
    script = scripted(replies={"MAIL": "553 5.7.1 sender not yours"})
    server = await fake_smtp(script)
    async with client_for(server) as client:
        with pytest.raises(SMTPSenderRefused) as caught:
            await client.send_raw("eve@x.test", ["bob@y.test"], b"x\r\n")
        assert (caught.value.code, caught.value.sender) == (553, "eve@x.test")
        assert client.is_connected
    assert "RSET" in script.commands
    assert script.messages == []


async def test_data_refused_before_content_raises_data_refused(
    fake_smtp, client_for, scripted
) -> None:
    script = scripted(replies={"DATA": "451 4.3.0 try again later"})
    server = await fake_smtp(script)
    async with client_for(server) as client:
        with pytest.raises(SMTPDataRefused) as caught:
            await client.send_raw("ann@x.test", ["bob@y.test"], b"x\r\n")
        assert caught.value.code == 451
        assert caught.value.transient
    assert script.commands[-2:] == ["RSET", "QUIT"]


async def test_message_refused_after_content_raises_and_the_next_one_goes(
    fake_smtp, client_for, scripted
) -> None:
    script = scripted(replies={".": ["554 5.7.1 looks like spam", "250 2.0.0 queued"]})
    server = await fake_smtp(script)
    async with client_for(server) as client:
        with pytest.raises(SMTPDataRefused) as caught:
            await client.send_message("ann@x.test", "bob@y.test", "buy now", "cheap\n")
        assert (caught.value.code, caught.value.response.status) == (554, "5.7.1")
        result = await client.send_message("ann@x.test", "bob@y.test", "hello", "hi\n")
        assert result.data_response.text == "queued"
    assert script.sessions == 1
    assert len(script.messages) == 2


async def test_421_during_rcpt_fails_every_recipient_and_closes(fake_smtp, client_for) -> None:
    async def script(peer):
        await peer.handshake("PIPELINING")
        for _ in range(5):
            await peer.readline()
        await peer.reply("250 OK", "250 OK", "421 4.3.2 shutting down")

    server = await fake_smtp(script)
    client = client_for(server)
    await client.connect()
    with pytest.raises(SMTPRecipientsRefused) as caught:
        await client.send_raw("a@x.test", ["b@y.test", "c@y.test", "d@y.test"], b"x\r\n")
    assert {r: v.code for r, v in caught.value.refused.items()} == {
        "b@y.test": 421,  # accepted, but the message never went out
        "c@y.test": 421,
        "d@y.test": 421,
    }
    assert not client.is_connected
    await server.finished()


# --- failures mid-transaction ---------------------------------------------------


async def test_server_disconnecting_before_the_final_reply_raises_disconnected(
    fake_smtp, client_for
) -> None:
    async def script(peer):
        await peer.handshake("PIPELINING")
        for _ in range(3):
            await peer.readline()
        await peer.reply("250 OK", "250 OK", "354 go")
        await peer.read_data()  # ... and hangs up without a verdict

    server = await fake_smtp(script)
    client = client_for(server)
    await client.connect()
    with pytest.raises(SMTPServerDisconnected):
        await client.send_raw("a@x.test", ["b@y.test"], b"x\r\n")
    assert not client.is_connected
    await server.finished()


async def test_server_disconnecting_mid_envelope_raises_disconnected(fake_smtp, client_for) -> None:
    async def script(peer):
        await peer.handshake()
        await peer.expect("MAIL")
        await peer.reply("250 OK")
        await peer.expect("RCPT")

    server = await fake_smtp(script)
    client = client_for(server)
    await client.connect()
    with pytest.raises(SMTPServerDisconnected):
        await client.send_raw("a@x.test", ["b@y.test"], b"x\r\n")
    assert not client.is_connected
    await server.finished()


async def test_final_reply_timeout_raises_and_drops_the_connection(fake_smtp, client_for) -> None:
    async def script(peer):
        await peer.handshake("PIPELINING")
        for _ in range(3):
            await peer.readline()
        await peer.reply("250 OK", "250 OK", "354 go")
        await peer.read_data()
        assert await peer.at_eof()  # no verdict; the client gives up and hangs up

    server = await fake_smtp(script)
    client = client_for(server, data_timeout=0.3)
    await client.connect()
    with pytest.raises(SMTPTimeoutError):
        await client.send_raw("a@x.test", ["b@y.test"], b"x\r\n")
    assert not client.is_connected
    await server.finished()


# --- many messages, low-level commands -------------------------------------


async def test_many_messages_travel_over_one_connection(fake_smtp, client_for, scripted) -> None:
    script = scripted()
    server = await fake_smtp(script)
    async with client_for(server) as client:
        for n in range(5):
            await client.send_message("a@x.test", [f"r{n}@y.test"], f"no. {n}", f"body {n}\n")
    assert script.sessions == 1
    assert [m.rcpts for m in script.messages] == [[f"r{n}@y.test"] for n in range(5)]
    assert "RSET" not in script.commands  # only failed transactions need one


async def test_low_level_commands_and_a_left_open_transaction_is_reset(
    fake_smtp, client_for, scripted
) -> None:
    script = scripted(replies={"RCPT": refuse_bad})
    server = await fake_smtp(script)
    async with client_for(server) as client:
        assert (await client.mail("a@x.test", ["BODY=7BIT"])).code == 250
        assert (await client.rcpt("b@y.test")).code == 250
        with pytest.raises(SMTPRecipientsRefused) as caught:
            await client.rcpt("bad@y.test")
        assert caught.value.refused["bad@y.test"].code == 550
        assert (await client.data(b"one\n")).code == 250
        await client.mail("a@x.test")  # abandoned ...
        await client.send_raw("a@x.test", "c@y.test", b"two\r\n")  # ... so RSET first
    assert script.commands[1:] == [
        "MAIL FROM:<a@x.test> BODY=7BIT",
        "RCPT TO:<b@y.test>",
        "RCPT TO:<bad@y.test>",
        "DATA",
        "MAIL FROM:<a@x.test>",
        "RSET",
        "MAIL FROM:<a@x.test> SIZE=5",
        "RCPT TO:<c@y.test>",
        "DATA",
        "QUIT",
    ]
    assert [m.data for m in script.messages] == [b"one\r\n", b"two\r\n"]
