"""The two SMTP listeners: delivery (SMTP_PORT) and submission (SUBMISSION_PORT)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
from dataclasses import dataclass

from smtp_gateway.directory import Directory
from smtp_gateway.handler import DELIVERY, SUBMISSION, DeliveryHandler, SubmissionHandler
from smtp_gateway.metrics import Metrics
from smtp_gateway.publisher import Publisher
from smtp_gateway.settings import Config, TLSFiles
from smtplib_common.server import ServerConfig, SMTPServer
from smtplib_common.server.peers import PeerLimits

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Listeners:
    delivery: SMTPServer
    submission: SMTPServer

    async def start(self, host: str, *, smtp_port: int, submission_port: int) -> None:
        await self.delivery.start(host, smtp_port)
        try:
            await self.submission.start(host, submission_port)
        except OSError:
            await self.delivery.stop(grace=0)
            raise

    async def stop(self, grace: float) -> None:
        # Both at once: the grace period bounds the whole stop, not each listener.
        await asyncio.gather(self.delivery.stop(grace), self.submission.stop(grace))


def tls_context(files: TLSFiles) -> ssl.SSLContext:
    """The server side of STARTTLS (RFC 3207); reads the certificate and key files."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # RFC 8996 retires TLS 1.0 and 1.1.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    return context


def build(
    config: Config, *, directory: Directory, publisher: Publisher, metrics: Metrics
) -> Listeners:
    """Both listeners, not yet listening. Reads the TLS files when STARTTLS is configured."""
    context = tls_context(config.tls) if config.tls is not None else None
    limits = ServerConfig(
        hostname=config.hostname,
        max_connections_per_peer=config.max_connections_per_source,
        max_connection_rate_per_peer=config.connection_rate_per_source,
        max_commands_before_mail=config.max_commands_before_mail,
        min_data_rate=config.min_data_rate,
        data_rate_grace=config.data_rate_grace,
    )
    # One tracker for both listeners: a source's connections and connection rate are
    # counted across ports 25 and 587 together, not per port.
    peers = PeerLimits.from_config(limits, on_limit=metrics.count_limit_refusal)
    delivery = SMTPServer(
        DeliveryHandler(
            domains=config.domains,
            directory=directory,
            publisher=publisher,
            metrics=metrics,
            hostname=config.hostname,
            trusted_networks=config.trusted_networks,
        ),
        limits,
        # Opportunistic STARTTLS for senders that want it; never required on port 25
        # (RFC 3207 §4: a publicly-referenced server must not require it).
        tls_context=context,
        peer_limits=peers,
    )
    submission = SMTPServer(
        SubmissionHandler(
            domains=config.domains,
            directory=directory,
            publisher=publisher,
            metrics=metrics,
            hostname=config.hostname,
            trusted_networks=config.trusted_networks,
            web_secret=config.web_submission_secret,
        ),
        dataclasses.replace(
            limits,
            auth_required=True,  # RFC 6409 §4.3
            # RFC 4954 §4: plaintext AUTH only inside TLS, except from trusted networks
            # (the web service submits over loopback or the compose network).
            auth_require_tls=True,
            plaintext_auth_networks=config.trusted_networks,
            # Issue 15: one address in a trusted network may be many people; the mail
            # store's per-account ceiling still holds for them.
            auth_throttle_exempt_networks=()
            if config.throttle_trusted
            else config.trusted_networks,
        ),
        tls_context=context,
        peer_limits=peers,
    )
    metrics.track_open_connections(DELIVERY, lambda: delivery.connection_count)
    metrics.track_open_connections(SUBMISSION, lambda: submission.connection_count)
    return Listeners(delivery=delivery, submission=submission)
