"""The SMTP listeners: delivery (SMTP_PORT), submission with STARTTLS (SUBMISSION_PORT)
and, when TLS files are set, submission over implicit TLS (SUBMISSIONS_PORT, RFC 8314)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
from dataclasses import dataclass

from smtp_gateway.directory import Directory
from smtp_gateway.handler import (
    DELIVERY,
    SUBMISSION,
    SUBMISSIONS,
    DeliveryHandler,
    SubmissionHandler,
)
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
    # None without TLS files: implicit TLS needs a certificate (RFC 8314 §3.3).
    submissions: SMTPServer | None

    @property
    def all(self) -> tuple[SMTPServer, ...]:
        servers = (self.delivery, self.submission, self.submissions)
        return tuple(server for server in servers if server is not None)

    async def start(
        self, host: str, *, smtp_port: int, submission_port: int, submissions_port: int
    ) -> None:
        started: list[SMTPServer] = []
        ports = (smtp_port, submission_port, submissions_port)
        try:
            for server, port in zip(
                (self.delivery, self.submission, self.submissions), ports, strict=True
            ):
                if server is not None:
                    await server.start(host, port)
                    started.append(server)
        except OSError:
            await asyncio.gather(*(server.stop(grace=0) for server in started))
            raise

    async def stop(self, grace: float) -> None:
        # All at once: the grace period bounds the whole stop, not each listener.
        await asyncio.gather(*(server.stop(grace) for server in self.all))


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

    def submission_handler(listener: str) -> SubmissionHandler:
        return SubmissionHandler(
            domains=config.domains,
            directory=directory,
            publisher=publisher,
            metrics=metrics,
            hostname=config.hostname,
            trusted_networks=config.trusted_networks,
            web_secret=config.web_submission_secret,
            listener=listener,
        )

    submission_limits = dataclasses.replace(
        limits,
        auth_required=True,  # RFC 6409 §4.3
        # RFC 4954 §4: plaintext AUTH only inside TLS, except from trusted networks
        # (the web service submits over loopback or the compose network).
        auth_require_tls=True,
        plaintext_auth_networks=config.trusted_networks,
        # Issue 15: one address in a trusted network may be many people; the mail
        # store's per-account ceiling still holds for them.
        auth_throttle_exempt_networks=() if config.throttle_trusted else config.trusted_networks,
    )
    submission = SMTPServer(
        submission_handler(SUBMISSION), submission_limits, tls_context=context, peer_limits=peers
    )
    # The same handler and limits as the STARTTLS port, so the AUTH, envelope and From:
    # rules cannot drift apart; only the TLS comes first (RFC 8314 §3.3). The peer
    # limits are shared too: a source's connections count across all three ports.
    submissions = (
        SMTPServer(
            submission_handler(SUBMISSIONS),
            submission_limits,
            tls_context=context,
            implicit_tls=True,
            peer_limits=peers,
        )
        if context is not None
        else None
    )
    metrics.track_open_connections(DELIVERY, lambda: delivery.connection_count)
    metrics.track_open_connections(SUBMISSION, lambda: submission.connection_count)
    if submissions is not None:
        metrics.track_open_connections(SUBMISSIONS, lambda: submissions.connection_count)
    return Listeners(delivery=delivery, submission=submission, submissions=submissions)
