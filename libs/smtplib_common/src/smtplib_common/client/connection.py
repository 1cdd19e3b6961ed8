"""``SMTPClient``: sending mail over one SMTP session (RFC 5321 §3.3).

One client is used by one task at a time; :class:`~.pool.SMTPPool` shares
several among concurrent senders. A client sends any number of messages; a
transaction that fails part-way is reset (RSET) so the next starts clean.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from email.message import EmailMessage

from smtplib_common.addresslist import parse_mailbox
from smtplib_common.client import commands
from smtplib_common.client.message import (
    build_message,
    data_payload,
    envelope_of,
    message_needs_smtputf8,
    needs_smtputf8,
    prepare_content,
    serialize_message,
)
from smtplib_common.client.response import Response
from smtplib_common.client.session import DEFAULT_BDAT_CHUNK, SMTPSession
from smtplib_common.client.transaction import (
    SendResult,
    check_data,
    mail_parameters,
    run_transaction,
    send_bdat,
)
from smtplib_common.errors import (
    SMTPDataRefused,
    SMTPError,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseError,
    SMTPSenderRefused,
)

__all__ = ["DEFAULT_BDAT_CHUNK", "SMTPClient"]

log = logging.getLogger(__name__)

# RFC 3030 sets no chunk size; 64 KiB keeps memory flat and round trips few.


class SMTPClient(SMTPSession):
    """An SMTP client; ``async with SMTPClient(host, port) as client:`` connects.

    ``implicit_tls`` wraps the socket in TLS before the greeting (RFC 8314
    §3.3, port 465); ``starttls`` upgrades after EHLO and fails when the server
    does not offer it (RFC 3207). With ``username`` and ``password`` the
    session authenticates after TLS with ``auth_mechanism`` or the best offered.
    ``use_bdat`` sends content with BDAT when CHUNKING is offered (RFC 3030).
    ``timeout`` bounds every write and every reply; ``data_timeout`` the reply
    to the end of the message.
    """

    # --- single transaction commands ----------------------------------------

    async def mail(self, sender: str, options: Iterable[str] = ()) -> Response:
        """MAIL FROM:<sender> [options]; raises SMTPSenderRefused."""
        self._in_transaction = True
        return await self.execute(
            commands.path_line("MAIL FROM", sender, options),
            command="MAIL",
            expected=commands.MAIL,
            refused=lambda r: SMTPSenderRefused("sender refused", response=r, sender=sender),
        )

    async def rcpt(self, recipient: str, options: Iterable[str] = ()) -> Response:
        """RCPT TO:<recipient> [options]; raises SMTPRecipientsRefused for it alone."""
        return await self.execute(
            commands.path_line("RCPT TO", recipient, options),
            command="RCPT",
            expected=commands.RCPT,
            refused=lambda r: SMTPRecipientsRefused("recipient refused", refused={recipient: r}),
        )

    async def data(self, content: bytes) -> Response:
        """DATA, then ``content`` normalised and dot-stuffed; returns the final reply."""
        await self.execute(
            b"DATA\r\n",
            command="DATA",
            expected=commands.DATA,
            refused=lambda r: SMTPDataRefused("DATA refused", response=r),
        )
        async with self._guard("DATA"):
            channel = self._require()
            await channel.send(data_payload(prepare_content(content)))
            final = await channel.read_response(data_end=True)
            # RFC 5321 §4.1.1.4: the transaction ends with this reply, good or bad.
            self._in_transaction = False
            return check_data(final, end=True)

    async def bdat(self, content: bytes, *, chunk_size: int | None = None) -> Response:
        """``content`` (line endings normalised) as BDAT chunks (RFC 3030 §2)."""
        if not self.supports("CHUNKING"):
            raise SMTPNotSupported(f"{self.host} does not offer CHUNKING", extension="CHUNKING")
        async with self._guard("BDAT"):
            response = await send_bdat(
                self._require(),
                prepare_content(content),
                chunk_size=chunk_size or self.bdat_chunk_size,
            )
        self._in_transaction = False
        return response

    async def vrfy(self, address: str) -> Response:
        """VRFY (RFC 5321 §3.5.3): 250/251 known, 252 cannot tell; 4xx/5xx raise."""
        line = commands.command_line("VRFY", address)
        return await self.execute(line, command="VRFY", expected=commands.VRFY)

    # --- sending messages ---------------------------------------------------

    async def send_raw(
        self,
        sender: str,
        recipients: str | Iterable[str],
        content: bytes,
        *,
        smtputf8: bool | None = None,
        auth_address: str | None = None,
    ) -> SendResult:
        """Send ``content``, a complete RFC 5322 message, in one transaction.

        Line endings become CRLF. SMTPUTF8 is used when a mailbox or the header
        section is not ASCII, unless ``smtputf8`` decides; ``auth_address`` adds
        RFC 4954 §5 ``AUTH=`` when the server offers AUTH. Some recipients may
        be refused (see the result); if all are, SMTPRecipientsRefused.
        """
        rcpts = list(dict.fromkeys([recipients] if isinstance(recipients, str) else recipients))
        if not rcpts:
            raise ValueError("no recipients")
        content = prepare_content(content)
        if smtputf8 is None:
            smtputf8 = needs_smtputf8([sender, *rcpts], content)
        params = mail_parameters(
            self._extensions, content=content, smtputf8=smtputf8, auth_address=auth_address
        )
        if self._in_transaction:
            await self.rset()  # a transaction left open by the low-level commands
        self._in_transaction = True
        try:
            async with self._guard("MAIL"):
                result = await run_transaction(
                    self._require(),
                    extensions=self._extensions,
                    sender=sender,
                    recipients=rcpts,
                    content=content,
                    mail_params=params,
                    bdat_chunk_size=self.bdat_chunk_size if self.use_bdat else None,
                )
        except SMTPResponseError:
            await self._reset_quietly()
            raise
        self._in_transaction = False
        return result

    async def send_email(
        self,
        msg: EmailMessage,
        *,
        sender: str | None = None,
        recipients: Iterable[str] | None = None,
        auth_address: str | None = None,
    ) -> SendResult:
        """Send ``msg``; the envelope comes from its headers unless given. Bcc is not sent."""
        env_sender, rcpts, sent = envelope_of(msg, sender=sender, recipients=recipients)
        utf8 = needs_smtputf8([env_sender, *rcpts]) or message_needs_smtputf8(sent)
        if utf8 and not self.supports("SMTPUTF8"):
            raise SMTPNotSupported("message needs SMTPUTF8; not offered", extension="SMTPUTF8")
        content = serialize_message(sent, utf8=utf8)
        return await self.send_raw(
            env_sender, rcpts, content, smtputf8=utf8, auth_address=auth_address
        )

    async def send_message(
        self,
        sender: str,
        recipients: str | Iterable[str],
        subject: str,
        body: str,
        *,
        cc: Iterable[str] = (),
        bcc: Iterable[str] = (),
        reply_to: str | None = None,
        headers: Mapping[str, str] | None = None,
        auth_address: str | None = None,
    ) -> SendResult:
        """Build a text/plain message and send it (8-bit only if 8BITMIME is offered).

        Addresses may carry display names (``"Ann <ann@example.org>"``); the
        envelope uses the bare address. ``bcc`` recipients get the message
        without appearing in it.
        """
        to = [recipients] if isinstance(recipients, str) else list(recipients)
        copies = [*cc]
        blind = [*bcc]
        msg = build_message(
            sender,
            to,
            subject,
            body,
            cc=copies,
            reply_to=reply_to,
            headers=headers,
            allow_8bit=self.supports("8BITMIME"),
        )
        return await self.send_email(
            msg,
            sender=_bare(sender),
            recipients=[_bare(a) for a in [*to, *copies, *blind]],
            auth_address=auth_address,
        )

    async def _reset_quietly(self) -> None:
        """RSET after a failed transaction; a connection that cannot is dropped."""
        if not self.is_connected:
            return
        try:
            await self.rset()
        except SMTPError as exc:
            log.debug("RSET to %s failed (%s); closing", self.host, exc)
            await self.close()


def _bare(address: str) -> str:
    """The addr-spec of ``"Name <addr>"``, or ``address`` itself (the server judges it)."""
    parsed = parse_mailbox(address)
    return parsed[1] if parsed else address
