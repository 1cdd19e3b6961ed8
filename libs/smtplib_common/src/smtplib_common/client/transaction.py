"""One mail transaction: MAIL, RCPT..., then DATA or BDAT (RFC 5321 §3.3).

With PIPELINING (RFC 2920) the envelope goes out in one write and the replies
are read back in order; without it each command waits for its reply. Either
way the replies are judged by the same code, so both paths raise the same
exceptions for the same server behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from smtplib_common.address import xtext_encode
from smtplib_common.client import commands
from smtplib_common.client.message import data_payload, has_8bit
from smtplib_common.client.response import Response
from smtplib_common.client.transport import Channel
from smtplib_common.errors import (
    SMTPDataRefused,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseError,
    SMTPSenderRefused,
    SMTPUnexpectedReply,
)

__all__ = [
    "SendResult",
    "check_data",
    "mail_parameters",
    "run_transaction",
    "send_bdat",
]

# RFC 5321 §3.8: 421 means the server is closing the channel; nothing after it
# will be answered, so we stop reading there.
_CLOSING = 421


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one transaction that delivered to at least one recipient."""

    accepted: dict[str, Response]
    refused: dict[str, Response]
    data_response: Response


def mail_parameters(
    extensions: Mapping[str, str],
    *,
    content: bytes,
    smtputf8: bool,
    auth_address: str | None = None,
) -> list[str]:
    """MAIL FROM parameters for ``content``, or SMTPNotSupported when it cannot go."""
    params: list[str] = []
    if "SIZE" in extensions:
        params.append(f"SIZE={len(content)}")  # RFC 1870 §3: octets before stuffing
    if has_8bit(content):
        # RFC 6152 §3: 8-bit data only to a server that announced 8BITMIME.
        if "8BITMIME" not in extensions:
            raise SMTPNotSupported("message has 8-bit data; no 8BITMIME", extension="8BITMIME")
        params.append("BODY=8BITMIME")
    if smtputf8:
        # RFC 6531 §3.4: non-ASCII mailboxes or headers need the server's consent.
        if "SMTPUTF8" not in extensions:
            raise SMTPNotSupported("message needs SMTPUTF8; not offered", extension="SMTPUTF8")
        params.append("SMTPUTF8")
    if auth_address is not None and "AUTH" in extensions:
        # RFC 4954 §5: AUTH=<> when the submitter is unknown, else its xtext.
        params.append(f"AUTH={xtext_encode(auth_address) if auth_address else '<>'}")
    return params


async def run_transaction(
    channel: Channel,
    *,
    extensions: Mapping[str, str],
    sender: str,
    recipients: Sequence[str],
    content: bytes,
    mail_params: Sequence[str],
    bdat_chunk_size: int | None = None,
) -> SendResult:
    """Send one message; raise unless at least one recipient got it.

    ``bdat_chunk_size`` asks for BDAT, used only when CHUNKING is offered.
    """
    chunk_size = bdat_chunk_size if "CHUNKING" in extensions else None
    envelope = [commands.path_line("MAIL FROM", sender, mail_params)]
    envelope += [commands.path_line("RCPT TO", rcpt) for rcpt in recipients]
    if chunk_size is None:
        envelope.append(b"DATA\r\n")
    if "PIPELINING" in extensions:
        replies = await _pipelined(channel, envelope)
    else:
        replies = await _lockstep(channel, envelope)

    accepted, refused = await _judge_envelope(channel, sender, recipients, replies)
    if chunk_size is not None:
        data_response = await send_bdat(channel, content, chunk_size=chunk_size)
    else:
        check_data(replies[-1])
        await channel.send(data_payload(content))
        final = await channel.read_response(data_end=True)
        data_response = check_data(final, end=True)
    return SendResult(accepted=accepted, refused=refused, data_response=data_response)


async def _pipelined(channel: Channel, envelope: list[bytes]) -> list[Response]:
    # RFC 2920 §3.1: MAIL and RCPT may sit anywhere in a group, DATA only last;
    # its 354 is the point where we wait before sending content.
    await channel.send(b"".join(envelope))
    replies: list[Response] = []
    for _ in envelope:
        replies.append(await channel.read_response())
        if replies[-1].code == _CLOSING:
            break
    return replies


async def _lockstep(channel: Channel, envelope: list[bytes]) -> list[Response]:
    replies: list[Response] = []
    rcpt_count = len(envelope) - 1 - (envelope[-1] == b"DATA\r\n")
    for index, line in enumerate(envelope):
        if index == 1 + rcpt_count and not any(r.is_positive for r in replies[1:]):
            break  # no recipient accepted: DATA would only be refused
        await channel.send(line)
        replies.append(await channel.read_response())
        if replies[-1].code == _CLOSING or (index == 0 and not replies[0].is_positive):
            break
    return replies


async def _judge_envelope(
    channel: Channel,
    sender: str,
    recipients: Sequence[str],
    replies: list[Response],
) -> tuple[dict[str, Response], dict[str, Response]]:
    """Split recipients into accepted and refused; raise if the envelope failed."""
    mail, rcpt_replies = replies[0], replies[1 : 1 + len(recipients)]
    data = replies[1 + len(recipients)] if len(replies) > 1 + len(recipients) else None
    accepted: dict[str, Response] = {}
    refused: dict[str, Response] = {}
    for rcpt, reply in zip(recipients, rcpt_replies, strict=False):
        if reply.code in commands.RCPT:
            accepted[rcpt] = reply
        elif reply.code >= 400:
            refused[rcpt] = reply
        else:
            raise SMTPUnexpectedReply("unexpected reply to RCPT", response=reply, command="RCPT")
    closing = replies[-1] if replies[-1].code == _CLOSING else None

    failed = not mail.is_positive or not accepted or closing is not None
    if failed and data is not None and data.code == 354:
        # RFC 2920 §3.1: a server may accept DATA although every RCPT failed;
        # the client then sends a lone "." so the session stays in step.
        await channel.send(b".\r\n")
        await channel.read_response(data_end=True)
    commands.check(mail, command="MAIL", expected=commands.MAIL, refused=_sender_refused(sender))
    if closing is not None:
        if data is not None:
            check_data(data)
        # The server hung up mid-envelope: recipients it accepted or never
        # answered do not get the message either.
        refused.update({rcpt: closing for rcpt in recipients if rcpt not in refused})
        accepted.clear()
    if not accepted:
        raise SMTPRecipientsRefused("all recipients were refused", refused=refused)
    return accepted, refused


def check_data(response: Response, *, end: bool = False) -> Response:
    """Check the reply to DATA (354) or to the end of data (250)."""
    return commands.check(
        response,
        command="DATA",
        expected=commands.DATA_END if end else commands.DATA,
        refused=lambda r: SMTPDataRefused("message data refused", response=r),
    )


async def send_bdat(channel: Channel, content: bytes, *, chunk_size: int) -> Response:
    """RFC 3030 §2: ``content`` in BDAT chunks, not dot-stuffed, the last marked LAST."""
    size = max(1, chunk_size)
    chunks = [content[i : i + size] for i in range(0, len(content), size)] or [b""]
    response = Response(250)
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        head = f"BDAT {len(chunk)}{' LAST' if last else ''}\r\n".encode("ascii")
        await channel.send(head + chunk)
        # RFC 3030 §2: after a failed chunk the sender MUST NOT send more.
        response = commands.check(
            await channel.read_response(data_end=last),
            command="BDAT",
            expected=commands.BDAT,
            refused=lambda r: SMTPDataRefused("BDAT chunk refused", response=r),
        )
    return response


def _sender_refused(sender: str) -> commands.Refusal:
    def refuse(response: Response) -> SMTPResponseError:
        return SMTPSenderRefused("sender refused", response=response, sender=sender)

    return refuse
