"""What goes on the wire: content framing, MAIL parameters, SMTPUTF8, BDAT, envelopes."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from smtplib_common.client import (
    SMTPDataRefused,
    SMTPNotSupported,
)

# --- content and MAIL parameters ---------------------------------------------------


async def test_content_is_normalised_to_crlf_and_dot_stuffed_on_the_wire(
    fake_smtp, client_for
) -> None:
    raw_payload = []

    async def script(peer):
        await peer.handshake("PIPELINING")
        for _ in range(3):
            await peer.readline()
        await peer.reply("250 OK", "250 OK", "354 go")
        raw_payload.append(await peer.read_data())
        await peer.reply("250 OK")
        await peer.expect_quit()

    server = await fake_smtp(script)
    async with client_for(server) as client:
        await client.send_raw("a@x.test", "b@y.test", b"Subject: x\n\n.dot\nbare\rcr\n.\nlast")
    await server.finished()
    assert raw_payload == [b"Subject: x\r\n\r\n..dot\r\nbare\r\ncr\r\n..\r\nlast\r\n.\r\n"]


async def test_size_and_8bitmime_are_declared_for_an_8bit_message(
    fake_smtp, client_for, scripted
) -> None:
    script = scripted()
    server = await fake_smtp(script)
    async with client_for(server) as client:
        await client.send_message("ann@x.test", "bob@y.test", "Grüße", "Grüße aus Köln\n")
    (mail,) = [c for c in script.commands if c.startswith("MAIL")]
    size = len(script.messages[0].data)
    assert mail == f"MAIL FROM:<ann@x.test> SIZE={size} BODY=8BITMIME"
    assert "Grüße aus Köln".encode() in script.messages[0].data


async def test_8bit_body_is_sent_quoted_printable_when_8bitmime_is_missing(
    fake_smtp, client_for, scripted
) -> None:
    script = scripted(extensions=("PIPELINING",))
    server = await fake_smtp(script)
    async with client_for(server) as client:
        await client.send_message("ann@x.test", "bob@y.test", "Grüße", "Grüße aus Köln\n")
    assert "MAIL FROM:<ann@x.test>" in script.commands
    assert script.messages[0].data.isascii()
    assert b"quoted-printable" in script.messages[0].data


async def test_raw_8bit_content_without_8bitmime_is_refused_locally(
    fake_smtp, client_for, scripted
) -> None:
    script = scripted(extensions=("PIPELINING",))
    server = await fake_smtp(script)
    async with client_for(server) as client:
        with pytest.raises(SMTPNotSupported) as caught:
            await client.send_raw("a@x.test", "b@y.test", "Subject: x\r\n\r\nKöln\r\n".encode())
        assert caught.value.extension == "8BITMIME"
    assert not any(c.startswith("MAIL") for c in script.commands)


async def test_non_ascii_mailbox_uses_smtputf8(fake_smtp, client_for, scripted) -> None:
    script = scripted()
    server = await fake_smtp(script)
    async with client_for(server) as client:
        await client.send_message("jörg@exämple.test", "bob@y.test", "Hi", "Hallo\n")
    assert "MAIL FROM:<jörg@exämple.test>" in script.commands[1]
    assert "SMTPUTF8" in script.commands[1].split()
    # RFC 6532 §3: headers carry the address as raw UTF-8, not encoded-words.
    assert "From: jörg@exämple.test".encode() in script.messages[0].data


async def test_non_ascii_mailbox_without_smtputf8_is_refused_before_mail(
    fake_smtp, client_for, scripted
) -> None:
    script = scripted(extensions=("PIPELINING", "8BITMIME"))
    server = await fake_smtp(script)
    async with client_for(server) as client:
        with pytest.raises(SMTPNotSupported) as caught:
            await client.send_message("ann@x.test", "jörg@exämple.test", "Hi", "x\n")
        assert caught.value.extension == "SMTPUTF8"
    assert script.commands[1:] == ["QUIT"]


async def test_auth_address_is_declared_in_xtext_when_auth_is_offered(
    fake_smtp, client_for, scripted
) -> None:
    script = scripted(extensions=("PIPELINING", "AUTH PLAIN"))
    server = await fake_smtp(script)
    async with client_for(server) as client:
        await client.send_message("a@x.test", "b@y.test", "s", "b\n", auth_address="a+1@x.test")
    assert script.commands[1] == "MAIL FROM:<a@x.test> AUTH=a+2B1@x.test"


# --- BDAT ---------------------------------------------------------------------------


async def test_bdat_sends_the_content_in_chunks_marking_the_last(
    fake_smtp, client_for, scripted
) -> None:
    script = scripted(extensions=("PIPELINING", "CHUNKING"))
    server = await fake_smtp(script)
    content = b"Subject: chunks\r\n\r\n.not stuffed\r\n"  # 33 octets
    async with client_for(server, use_bdat=True, bdat_chunk_size=16) as client:
        result = await client.send_raw("a@x.test", "b@y.test", content)
    assert result.data_response.code == 250
    bdats = [c for c in script.commands if c.startswith("BDAT")]
    assert bdats == ["BDAT 16", "BDAT 16", "BDAT 1 LAST"]
    assert "DATA" not in script.commands
    # RFC 3030 §2: BDAT content is sent as-is, without dot-stuffing.
    assert script.messages[0].data == content
    assert [len(c) for c in script.messages[0].chunks] == [16, 16, 1]


async def test_bdat_is_not_used_unless_chunking_is_offered(fake_smtp, client_for, scripted) -> None:
    script = scripted()
    server = await fake_smtp(script)
    async with client_for(server, use_bdat=True) as client:
        await client.send_raw("a@x.test", "b@y.test", b"x\r\n")
    assert "DATA" in script.commands
    assert not any(c.startswith("BDAT") for c in script.commands)


async def test_refused_bdat_chunk_stops_the_upload(fake_smtp, client_for, scripted) -> None:
    script = scripted(
        extensions=("CHUNKING",),
        replies={"BDAT": ["250 2.0.0 chunk OK", "552 5.3.4 message too big"]},
    )
    server = await fake_smtp(script)
    async with client_for(server, use_bdat=True, bdat_chunk_size=4) as client:
        with pytest.raises(SMTPDataRefused) as caught:
            await client.send_raw("a@x.test", "b@y.test", b"0123456789abcdef\r\n")
        assert caught.value.code == 552
    # RFC 3030 §2: no more chunks after a failed one; the transaction is reset.
    bdats = [c for c in script.commands if c.startswith("BDAT")]
    assert bdats == ["BDAT 4", "BDAT 4"]
    assert script.commands[-2:] == ["RSET", "QUIT"]


async def test_bdat_method_requires_chunking(fake_smtp, client_for, scripted) -> None:
    server = await fake_smtp(scripted())
    async with client_for(server) as client:
        with pytest.raises(SMTPNotSupported):
            await client.bdat(b"x")


# --- envelopes ---------------------------------------------------------------


async def test_send_email_takes_the_envelope_from_headers_and_hides_bcc(
    fake_smtp, client_for, scripted
) -> None:
    script = scripted()
    server = await fake_smtp(script)
    msg = EmailMessage()
    msg["From"] = "Ann <ann@x.test>"
    msg["To"] = "Bob <bob@y.test>"
    msg["Bcc"] = "secret@z.test"
    msg["Subject"] = "hi"
    msg.set_content("hello\n")
    async with client_for(server) as client:
        result = await client.send_email(msg)
    assert list(result.accepted) == ["bob@y.test", "secret@z.test"]
    received = script.messages[0]
    assert received.mail == "ann@x.test"
    assert b"secret@z.test" not in received.data
    assert b"Bcc" not in received.data


async def test_send_message_uses_bare_addresses_in_the_envelope_once_each(
    fake_smtp, client_for, scripted
) -> None:
    script = scripted()
    server = await fake_smtp(script)
    async with client_for(server) as client:
        await client.send_message(
            "Ann <ann@x.test>",
            ["Bob <bob@y.test>", "bob@y.test"],
            "s",
            "b\n",
            cc=["Cy <cy@y.test>"],
            bcc=["dee@y.test"],
        )
    received = script.messages[0]
    assert received.mail == "ann@x.test"
    assert received.rcpts == ["bob@y.test", "cy@y.test", "dee@y.test"]
    assert b"To: Bob <bob@y.test>, bob@y.test\r\n" in received.data
    assert b"Cc: Cy <cy@y.test>\r\n" in received.data
    assert b"dee@" not in received.data
