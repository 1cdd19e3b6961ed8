"""The mail pipeline end to end: SMTP → gateway → RabbitMQ → mailstore → PostgreSQL.

Real services as processes (or a running stack), real broker, real database.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

import aio_pika
import pytest

from smtplib_common import replies
from smtplib_common.client import SMTPClient, SMTPPool
from smtplib_common.errors import SMTPRecipientsRefused, SMTPResponseError
from smtplib_common.ids import new_id
from tests.integration.mailapi import MailstoreAPI
from tests.integration.stack import Endpoints

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "a long enough test password"
WEB_PRINCIPAL = "localpost-web"  # smtp_gateway.handler.WEB_PRINCIPAL
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "emails"
QUEUED = re.compile(r"Ok: queued as ([0-9A-Z]{26})")


def status_of(reply: replies.Reply) -> tuple[int, str | None]:
    return reply.code, reply.status


async def test_mail_to_a_registered_user_arrives_in_their_inbox(
    endpoints: Endpoints, mailstore: MailstoreAPI, new_address: str
) -> None:
    await mailstore.create_account(new_address, PASSWORD)
    async with SMTPClient(*endpoints.smtp) as client:
        result = await client.send_message(
            "someone@example.org", [new_address], "Hello pipeline", "Body of the message\n"
        )
    assert list(result.accepted) == [new_address]
    assert QUEUED.fullmatch(result.data_response.text), result.data_response
    (summary,) = await mailstore.wait_for(new_address, 1)
    assert summary["subject"] == "Hello pipeline"
    assert summary["from"]["address"] == "someone@example.org"
    message = await mailstore.message(new_address, summary["id"])
    assert "Body of the message" in message["text"]


async def test_unknown_local_user_is_550_5_1_1(endpoints: Endpoints, new_address: str) -> None:
    async with SMTPClient(*endpoints.smtp) as client:
        with pytest.raises(SMTPRecipientsRefused) as caught:
            await client.send_message("someone@example.org", [new_address], "x", "y")
    response = caught.value.refused[new_address]
    assert (response.code, response.status) == status_of(replies.MAILBOX_UNAVAILABLE)


async def test_other_domain_is_550_5_7_1_never_relayed(endpoints: Endpoints) -> None:
    async with SMTPClient(*endpoints.smtp) as client:
        with pytest.raises(SMTPRecipientsRefused) as caught:
            await client.send_message("someone@example.org", ["victim@example.com"], "x", "y")
    response = caught.value.refused["victim@example.com"]
    assert (response.code, response.status) == status_of(replies.RELAY_DENIED)


async def test_submission_without_auth_is_530(
    endpoints: Endpoints, mailstore: MailstoreAPI, new_address: str
) -> None:
    await mailstore.create_account(new_address, PASSWORD)
    async with SMTPClient(*endpoints.submission) as client:
        with pytest.raises(SMTPResponseError) as caught:
            await client.mail(new_address)
    assert caught.value.code == replies.AUTH_REQUIRED.code


async def test_spoofed_sender_on_submission_is_553(
    endpoints: Endpoints, mailstore: MailstoreAPI, new_address: str
) -> None:
    await mailstore.create_account(new_address, PASSWORD)
    async with SMTPClient(*endpoints.submission, username=new_address, password=PASSWORD) as c:
        with pytest.raises(SMTPResponseError) as caught:
            await c.mail(f"someone.else@{endpoints.domain}")
    assert caught.value.code == replies.SENDER_NOT_OWNED.code


async def test_submitted_mail_lands_in_the_recipients_inbox_and_the_senders_sent(
    endpoints: Endpoints, mailstore: MailstoreAPI, new_address: str
) -> None:
    sender = new_address
    recipient = "r" + new_address
    await mailstore.create_account(sender, PASSWORD)
    await mailstore.create_account(recipient, PASSWORD)
    async with SMTPClient(*endpoints.submission, username=sender, password=PASSWORD) as client:
        await client.send_message(sender, [recipient], "Submitted", "hello\n")
    (inbox,) = await mailstore.wait_for(recipient, 1)
    (sent,) = await mailstore.wait_for(sender, 1, folder="sent")
    assert inbox["subject"] == sent["subject"] == "Submitted"
    assert await mailstore.folder(sender, "inbox") == []


async def test_web_principal_submits_for_a_user_with_auth_parameter(
    endpoints: Endpoints, mailstore: MailstoreAPI, new_address: str
) -> None:
    sender, recipient = new_address, "r" + new_address
    await mailstore.create_account(sender, PASSWORD)
    await mailstore.create_account(recipient, PASSWORD)
    async with SMTPClient(
        *endpoints.submission, username=WEB_PRINCIPAL, password=endpoints.web_submission_secret
    ) as client:
        await client.send_raw(
            sender,
            [recipient],
            b"Subject: via the web\r\nFrom: " + sender.encode() + b"\r\n\r\nhi\r\n",
            auth_address=sender,
        )
    (sent,) = await mailstore.wait_for(sender, 1, folder="sent")
    assert sent["subject"] == "via the web"
    (inbox,) = await mailstore.wait_for(recipient, 1)
    assert inbox["subject"] == "via the web"


async def test_redelivered_message_is_stored_once(
    endpoints: Endpoints, mailstore: MailstoreAPI, new_address: str, amqp_url: str
) -> None:
    if not endpoints.queue_prefix:
        pytest.skip("needs the queue prefix of a stack started by the tests")
    await mailstore.create_account(new_address, PASSWORD)
    gateway_id = new_id()
    message = aio_pika.Message(
        b"Subject: twice\r\n\r\nsame gateway id twice\r\n",
        message_id=gateway_id,
        content_type="message/rfc822",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers={"x-localpost-mail-from": "a@example.org", "x-localpost-rcpt-to": [new_address]},
    )
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(f"{endpoints.queue_prefix}.mail")
        for _ in range(2):
            await exchange.publish(message, routing_key="incoming", mandatory=True)
    await mailstore.wait_for(new_address, 1)
    await asyncio.sleep(1.0)  # the second copy has had time to be consumed
    assert len(await mailstore.folder(new_address)) == 1


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*/*.eml")) if CORPUS.is_dir() else []


def comparable(text: str) -> str:
    """Whitespace collapsed, NUL and U+FFFD dropped: PostgreSQL text holds no NUL, so
    the store replaces it, and either side may mark undecodable bytes."""
    return " ".join(text.replace("\x00", "").replace("\ufffd", "").split())


def undecoded(text: str) -> bool:
    """True when the stdlib itself could not decode ``text`` (replacement characters
    or surrogate escapes): the store's fallback decoding is then allowed to differ."""
    return "\ufffd" in text or any("\udc80" <= ch <= "\udcff" for ch in text)


MAX_HEADER_CHARS = 2_000  # mailstore.parsing keeps this much of a header


def expected_fields(raw: bytes) -> tuple[str | None, str | None, str | None]:
    """Subject, first From address and a snippet of the text, as the stdlib sees
    them, or None where the stdlib itself cannot say (broken or undecodable)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    subject = sender = snippet = None
    with contextlib.suppress(Exception):  # broken header: the store shows its fallback
        value = message["subject"]
        text = "" if value is None else str(value)
        subject = None if undecoded(text) else comparable(text)[:MAX_HEADER_CHARS]
    with contextlib.suppress(Exception):
        addresses = message["from"].addresses if message["from"] is not None else ()
        found = addresses[0].addr_spec if addresses else None
        sender = None if found is None or undecoded(found) else found
    with contextlib.suppress(Exception):
        body = message.get_body(preferencelist=("plain",))
        # Where the mail store differs on purpose (mailstore.parsing): a named text part
        # without a disposition is a file, not the body; ISO-8859-1 decodes as
        # Windows-1252, so the stdlib's C1 controls are punctuation there.
        if body is not None and body.get_filename() and body["content-disposition"] is None:
            body = None
        text = str(body.get_content()) if body is not None else ""
        latin1_c1 = any("\x80" <= c <= "\x9f" for c in text)
        snippet = None if undecoded(text) or latin1_c1 else (comparable(text)[:40] or None)
    return subject, sender, snippet


@pytest.mark.slow
async def test_every_corpus_message_is_stored_and_readable(
    endpoints: Endpoints, mailstore: MailstoreAPI, new_address: str
) -> None:
    files = corpus_files()
    if not files:
        pytest.skip(f"no shared corpus at {CORPUS} (only a developer checkout has ../shared)")
    await mailstore.create_account(new_address, PASSWORD)

    async with SMTPPool(lambda: SMTPClient(*endpoints.smtp), max_size=4) as pool:

        async def deliver(path: Path) -> None:
            # Our client normalises line endings to CRLF, as every SMTP client does.
            raw = await asyncio.to_thread(path.read_bytes)
            async with pool.connection() as client:
                result = await client.send_raw("corpus@example.org", [new_address], raw)
            assert result.accepted, path

        for batch in range(0, len(files), 20):
            await asyncio.gather(*(deliver(p) for p in files[batch : batch + 20]))

    stored = await mailstore.wait_for(new_address, len(files), timeout=120)
    assert len(stored) == len(files)
    mismatches = []
    for summary in stored:
        message = await mailstore.message(new_address, summary["id"])
        raw_status, raw = await mailstore.call(
            "GET", f"/v1/accounts/{new_address}/messages/{summary['id']}/raw"
        )
        assert raw_status == 200
        subject, sender, snippet = expected_fields(raw)
        actual_subject = comparable(message["subject"])
        if subject is not None and not subject.startswith(actual_subject[: MAX_HEADER_CHARS - 10]):
            mismatches.append(("subject", summary["id"], message["subject"], subject))
        if sender is not None and (message["from"] or {}).get("address") != sender:
            mismatches.append(("from", summary["id"], message["from"], sender))
        text = comparable(message["text"] or "")
        if snippet is not None and snippet not in text:
            mismatches.append(("text", summary["id"], text[:60], snippet))
    assert not mismatches, mismatches[:10]
