"""The IMAP service's Prometheus metrics, served at ``GET /metrics``.

Each application gets its own registry rather than prometheus_client's global one, so
that two services in one process (tests) do not collide. :class:`ObservedSessions` is
the sessions' event sink: it keeps the live sessions (for the gauges and the graceful
stop) and counts what they do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from imap_gateway.limits import LIMITS
from imap_gateway.pop3 import LivePop3Sessions
from imap_gateway.pop3.session import Session as Pop3Session
from imap_gateway.session import LiveSessions
from imap_gateway.session.errors import Answer
from imap_gateway.session.state import Session, State
from imap_gateway.wire import codes

__all__ = [
    "CONTENT_TYPE_LATEST",
    "LOGIN_COMMANDS",
    "Metrics",
    "ObservedPop3Sessions",
    "ObservedSessions",
]

LOGIN_COMMANDS = frozenset({"LOGIN", "AUTHENTICATE"})


@dataclass(frozen=True, slots=True)
class Metrics:
    registry: CollectorRegistry
    connections: Counter
    open_connections: Gauge
    sessions: Gauge
    idle_sessions: Gauge
    commands: Counter
    logins: Counter
    limit_refusals: Counter
    commands_delayed: Counter
    sent_bytes: Counter
    pop3_sessions: Gauge
    pop3_commands: Counter
    pop3_logins: Counter

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            connections=Counter(
                "localpost_imap_connections",
                "IMAP connections accepted, refused ones included",
                ["listener"],
                registry=registry,
            ),
            open_connections=Gauge(
                "localpost_imap_open_connections",
                "IMAP connections open now",
                ["listener"],
                registry=registry,
            ),
            sessions=Gauge(
                "localpost_imap_sessions",
                "IMAP sessions open now, by protocol state (RFC 9051 §3)",
                ["state"],
                registry=registry,
            ),
            idle_sessions=Gauge(
                "localpost_imap_idle_sessions",
                "IMAP sessions inside IDLE now (RFC 2177)",
                registry=registry,
            ),
            commands=Counter(
                "localpost_imap_commands",
                "IMAP commands answered, by command and status (OK, NO, BAD)",
                ["command", "status"],
                registry=registry,
            ),
            logins=Counter(
                "localpost_imap_logins",
                "LOGIN and AUTHENTICATE answers: ok, or the refusal's response code",
                ["outcome"],
                registry=registry,
            ),
            limit_refusals=_limit_refusals(registry),
            commands_delayed=Counter(
                "localpost_imap_commands_delayed",
                "Commands held back by the per-session commands-per-second limit",
                registry=registry,
            ),
            sent_bytes=Counter(
                "localpost_imap_sent_bytes",
                "Octets of IMAP responses handed to the sockets",
                registry=registry,
            ),
            pop3_sessions=Gauge(
                "localpost_pop3_sessions", "POP3 sessions open now", registry=registry
            ),
            pop3_commands=Counter(
                "localpost_pop3_commands",
                "POP3 commands answered, by command and status (ok, err)",
                ["command", "status"],
                registry=registry,
            ),
            pop3_logins=Counter(
                "localpost_pop3_logins",
                "POP3 PASS and AUTH answers (ok, err)",
                ["outcome"],
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
        "localpost_imap_limit_refusals",
        "Connections (BYE [UNAVAILABLE]) and logins (NO [LIMIT]) a limit refused",
        ["limit"],
        registry=registry,
    )
    for limit in LIMITS:  # every series from the start, at 0, for rate() and alerts
        counter.labels(limit=limit)
    return counter


def login_outcome(answer: Answer) -> str:
    if answer.status == codes.OK:
        return "ok"
    return (answer.code or answer.status).lower()


class ObservedSessions(LiveSessions):
    """The live sessions, counted into :class:`Metrics` as they go."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self.metrics = metrics
        for state in State:
            if state is not State.LOGOUT:
                metrics.sessions.labels(state=state.value).set_function(
                    lambda state=state: self.by_state()[state]  # type: ignore[misc]
                )
        metrics.idle_sessions.set_function(self.idling)

    def answered(self, s: Session, command: str, answer: Answer) -> None:
        self.metrics.commands.labels(command=command, status=answer.status).inc()
        if command in LOGIN_COMMANDS:
            self.metrics.logins.labels(outcome=login_outcome(answer)).inc()

    def paced(self, s: Session) -> None:
        self.metrics.commands_delayed.inc()

    def wrote(self, octets: int) -> None:
        self.metrics.sent_bytes.inc(octets)


POP3_LOGIN_COMMANDS = frozenset({"PASS", "AUTH"})


class ObservedPop3Sessions(LivePop3Sessions):
    """The live POP3 sessions, counted into :class:`Metrics` as they go."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self.metrics = metrics
        metrics.pop3_sessions.set_function(self.__len__)

    def answered(self, s: Pop3Session, verb: str, ok: bool) -> None:
        status = "ok" if ok else "err"
        self.metrics.pop3_commands.labels(command=verb, status=status).inc()
        if verb in POP3_LOGIN_COMMANDS:
            self.metrics.pop3_logins.labels(outcome=status).inc()

    def paced(self, s: Pop3Session) -> None:
        self.metrics.commands_delayed.inc()
