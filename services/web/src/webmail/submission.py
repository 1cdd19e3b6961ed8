"""Sending a user's mail through the gateway's submission listener.

The web service logs in with its own principal and names the user with ``AUTH=``
on MAIL (RFC 4954 §5); the gateway accepts MAIL FROM only when it equals that user
(smtp_gateway/handler.py, ``SubmissionHandler._check_on_behalf``).
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage

from smtplib_common.client import (
    SMTPClient,
    SMTPError,
    SMTPPool,
    SMTPRecipientsRefused,
    SMTPResponseError,
)
from webmail.errors import SendRejected, SubmissionUnavailable
from webmail.settings import Config

log = logging.getLogger(__name__)

# The gateway's submission login for this service: smtp_gateway.handler.WEB_PRINCIPAL.
# Not imported: the web service does not depend on the gateway's package.
WEB_PRINCIPAL = "localpost-web"
# RFC 1870 §3 / RFC 3463: 552 and x.3.4 both say "message too big".
_TOO_LARGE = re.compile(r"\b[45]\.3\.4\b")
_QUEUED_AS = re.compile(r"queued as (\S+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Sent:
    queue_id: str | None
    message_id: str
    # Recipients the gateway refused while others got the message.
    refused: tuple[str, ...]


def tls_context(config: Config) -> ssl.SSLContext | None:
    if config.submission_tls != "starttls":
        return None
    return ssl.create_default_context(cafile=config.submission_ca_file)


class Submitter:
    """A small pool of authenticated submission sessions."""

    def __init__(self, config: Config) -> None:
        context = tls_context(config)

        def factory() -> SMTPClient:
            return SMTPClient(
                config.submission_host,
                config.submission_port,
                starttls=context is not None,
                ssl_context=context,
                username=WEB_PRINCIPAL,
                password=config.submission_secret,
                connect_timeout=5,
                timeout=30,
            )

        self._pool = SMTPPool(factory, max_size=4)

    async def close(self) -> None:
        await self._pool.close()

    async def send(
        self,
        msg: EmailMessage,
        *,
        sender: str,
        cc: tuple[str, ...] = (),
        bcc: tuple[str, ...] = (),
    ) -> Sent:
        try:
            result = await self._pool.send_email(msg, sender=sender, auth_address=sender)
        except SMTPRecipientsRefused as exc:
            raise SendRejected(_refused_fields(exc.refused, cc, bcc)) from exc
        except SMTPResponseError as exc:
            if exc.code == 552 or _TOO_LARGE.search(exc.response.status or ""):
                raise SendRejected({"attachments": "The message is too large."}) from exc
            if exc.transient:
                raise SubmissionUnavailable(f"submission {exc.code}") from exc
            log.warning("submission refused mail from %s: %d %s", sender, exc.code, exc)
            raise SendRejected(
                {"body": f"The mail server refused it: {exc.response.text}"}
            ) from exc
        except SMTPError as exc:  # connect, timeout, TLS, disconnect, AUTH of the service
            raise SubmissionUnavailable(f"submission: {exc!r}") from exc
        match = _QUEUED_AS.search(result.data_response.text)
        log.info("sent %s for %s", match.group(1) if match else "?", sender)
        return Sent(
            queue_id=match.group(1) if match else None,
            message_id=str(msg["Message-ID"]),
            refused=tuple(result.refused),
        )


def _refused_fields(
    refused: Mapping[str, object], cc: tuple[str, ...], bcc: tuple[str, ...] = ()
) -> dict[str, str]:
    lowered_cc = {a.lower() for a in cc}
    lowered_bcc = {a.lower() for a in bcc}
    fields: dict[str, list[str]] = {}
    for address in refused:
        lowered = address.lower()
        name = "cc" if lowered in lowered_cc else "bcc" if lowered in lowered_bcc else "to"
        fields.setdefault(name, []).append(address)
    return {name: f"Unknown recipient: {', '.join(items)}" for name, items in fields.items()}
