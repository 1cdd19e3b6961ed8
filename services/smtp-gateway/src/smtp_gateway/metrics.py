"""The gateway's Prometheus metrics, served at ``GET /metrics``.

Each application gets its own registry rather than prometheus_client's global one, so
that two gateways in one process (tests) do not collide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from smtplib_common.server.peers import LIMITS

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

# Confirms from a healthy quorum queue take milliseconds; the top buckets show the
# slow tail that approaches the publish timeout.
PUBLISH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Up to the publisher's BATCH_MAX (64).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
# A login check is one bcrypt at the mail store (~0.25 s on a free core); the top
# buckets show a loaded machine or its queue, up to GATEWAY_AUTH_TIMEOUT (30 s).
AUTH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30)


@dataclass(frozen=True, slots=True)
class Metrics:
    registry: CollectorRegistry
    connections: Counter
    open_connections: Gauge
    accepted: Counter
    rejected: Counter
    accepted_bytes: Counter
    publish_latency: Histogram
    publish_batch: Histogram
    auth_latency: Histogram
    auth_unavailable: Counter
    sender_checks: Counter
    limit_refusals: Counter
    directory_events: Counter

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            connections=Counter(
                "localpost_gateway_smtp_connections",
                "SMTP connections accepted",
                ["listener"],
                registry=registry,
            ),
            open_connections=Gauge(
                "localpost_gateway_smtp_open_connections",
                "SMTP connections open now",
                ["listener"],
                registry=registry,
            ),
            accepted=Counter(
                "localpost_gateway_messages_accepted",
                "Messages answered 250 after the broker confirmed them",
                ["listener"],
                registry=registry,
            ),
            rejected=Counter(
                "localpost_gateway_messages_rejected",
                "Refused commands and messages, by the reason of the refusal",
                ["listener", "reason"],
                registry=registry,
            ),
            accepted_bytes=Counter(
                "localpost_gateway_message_bytes",
                "Octets of accepted messages, Received: header included",
                ["listener"],
                registry=registry,
            ),
            publish_latency=Histogram(
                "localpost_gateway_publish_seconds",
                "Time from a message's 250-to-be to the broker's confirm of it",
                buckets=PUBLISH_BUCKETS,
                registry=registry,
            ),
            publish_batch=Histogram(
                "localpost_gateway_publish_batch_messages",
                "Messages per confirmed AMQP message (the batch form when more than one)",
                buckets=BATCH_BUCKETS,
                registry=registry,
            ),
            auth_latency=Histogram(
                "localpost_gateway_auth_verify_seconds",
                "Time the mail store took to check a submission login, answered or not",
                buckets=AUTH_BUCKETS,
                registry=registry,
            ),
            auth_unavailable=Counter(
                "localpost_gateway_auth_checks_unavailable",
                "Login checks answered 454 because the mail store timed out or failed",
                ["reason"],
                registry=registry,
            ),
            sender_checks=Counter(
                "localpost_gateway_sender_checks",
                "Accepted messages by their localpost-sender result (pass, fail, none)",
                ["listener", "result"],
                registry=registry,
            ),
            limit_refusals=_limit_refusals(registry),
            directory_events=Counter(
                "localpost_gateway_directory_events",
                "The mail store's directory events heard; each dropped the cached RCPT answers",
                registry=registry,
            ),
        )

    def count_limit_refusal(self, limit: str) -> None:
        self.limit_refusals.labels(limit=limit).inc()

    def track_open_connections(self, listener: str, count: Callable[[], int]) -> None:
        self.open_connections.labels(listener=listener).set_function(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _limit_refusals(registry: CollectorRegistry) -> Counter:
    counter = Counter(
        "localpost_gateway_smtp_limit_refusals",
        "Connections and sessions a per-source limit refused or ended (421 4.7.0), by limit",
        ["limit"],
        registry=registry,
    )
    for limit in LIMITS:  # every series from the start, at 0, for rate() and alerts
        counter.labels(limit=limit)
    return counter
