"""The mail store's Prometheus metrics, in a registry of its own per application.

A private registry (not prometheus_client's global one) lets tests run several apps in one
process without "duplicated timeseries" errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# One bcrypt at cost 12 takes about 0.25 s of a free core; the top buckets show the
# seconds a loaded machine or a long queue adds, up to the gateway's login budget (30 s).
PASSWORD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30)


@dataclass(frozen=True, slots=True)
class Metrics:
    registry: CollectorRegistry
    stored: Counter
    duplicates: Counter
    dead_lettered: Counter
    parse_errors: Counter
    database_retries: Counter
    entries: Counter
    latency: Histogram
    batch_size: Histogram
    password_checks: Gauge
    password_check_latency: Histogram
    password_queue_latency: Histogram
    password_refused: Counter
    logins: Counter

    def render(self) -> bytes:
        return generate_latest(self.registry)


def create_metrics() -> Metrics:
    registry = CollectorRegistry()
    return Metrics(
        registry=registry,
        stored=Counter("mailstore_messages_stored", "Messages newly stored", registry=registry),
        duplicates=Counter(
            "mailstore_duplicates_skipped",
            "Redelivered messages whose gateway id was already stored",
            registry=registry,
        ),
        dead_lettered=Counter(
            "mailstore_dead_lettered", "Messages sent to the dead-letter queue", registry=registry
        ),
        parse_errors=Counter(
            "mailstore_parse_errors",
            "Stored messages whose parsing failed in part (kept raw)",
            registry=registry,
        ),
        database_retries=Counter(
            "mailstore_database_retries",
            "Store attempts retried because the database was unavailable",
            registry=registry,
        ),
        entries=Counter(
            "mailstore_mailbox_entries_created",
            "Mailbox entries created, by folder",
            ["folder"],
            registry=registry,
        ),
        latency=Histogram(
            "mailstore_processing_seconds",
            "From delivery by the broker to acknowledgement",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        ),
        batch_size=Histogram(
            "mailstore_batch_messages",
            "Messages stored per transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=registry,
        ),
        # "Password checks" include the bcrypt of a new account's password: both share
        # the limiter, so both count towards its queue.
        password_checks=Gauge(
            "mailstore_password_checks",
            "Password checks waiting for a worker thread or running in one, by state",
            ["state"],
            registry=registry,
        ),
        password_check_latency=Histogram(
            "mailstore_password_check_seconds",
            "Time one bcrypt took in its worker thread",
            buckets=PASSWORD_BUCKETS,
            registry=registry,
        ),
        password_queue_latency=Histogram(
            "mailstore_password_queue_seconds",
            "Time a password check waited for a worker thread",
            buckets=PASSWORD_BUCKETS,
            registry=registry,
        ),
        password_refused=Counter(
            "mailstore_password_checks_refused",
            "Password checks answered 503 because the queue was full",
            registry=registry,
        ),
        logins=Counter(
            "mailstore_logins",
            "Login checks by channel and outcome (ok, failed, throttled: 429 without bcrypt)",
            ["channel", "outcome"],
            registry=registry,
        ),
    )
