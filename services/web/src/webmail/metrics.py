"""Prometheus metrics of one web process, in a registry of its own (tests build many apps)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True, slots=True)
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    errors: Counter
    sent: Counter
    live_clients: Gauge
    events: Counter
    live_channel_up: Gauge
    live_reconnects: Counter


def create_metrics() -> Metrics:
    registry = CollectorRegistry()
    return Metrics(
        registry=registry,
        requests=Counter(
            "webmail_requests",
            "HTTP responses by route and status",
            ["route", "status"],
            registry=registry,
        ),
        latency=Histogram(
            "webmail_request_seconds", "Time to the response", ["route"], registry=registry
        ),
        errors=Counter("webmail_unexpected_errors", "500s (bugs)", registry=registry),
        sent=Counter(
            "webmail_sent", "Messages handed to submission", ["outcome"], registry=registry
        ),
        live_clients=Gauge("webmail_live_clients", "Open SSE streams", registry=registry),
        events=Counter("webmail_stored_events", "stored events received", registry=registry),
        live_channel_up=Gauge(
            "webmail_live_channel_up",
            "1 while the broker connection for live updates is up and consuming",
            registry=registry,
        ),
        live_reconnects=Counter(
            "webmail_live_reconnects",
            "Times the live updates channel came back after a broker outage",
            registry=registry,
        ),
    )
