"""The IMAP service's configuration, read once from environment variables.

The variable names and defaults are the contract of issue 13, shared with the compose
service and the README's configuration table once the service is added there. Casts are
strict: a value that does not parse is an error naming its variable, never a fallback.
Each secret comes from its variable or from the file its ``_FILE`` variable names; the
casts and the secret rules are the other services' (smtp_gateway.settings), copied
because each service is built and deployed on its own.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Development secret, refused unless LOCALPOST_DEV=1, which is itself refused unless the
# service listens on loopback only (_require_loopback). The mail store holds the same
# value, so a development stack agrees on it with no configuration.
DEV_MAILSTORE_TOKEN = "dev-mailstore-token-not-a-secret"  # noqa: S105 - dev only, see above

MIN_SECRET_LENGTH = 16
MiB = 1024 * 1024
MINUTE = 60.0
# RFC 9051 §5.4: an autologout timer must be at least 30 minutes of inactivity.
MIN_IDLE_TIMEOUT = 30 * MINUTE

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT = re.compile(r"[0-9]{1,5}")
_QUEUE_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_SECONDS = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,3})?")
_COUNT = re.compile(r"[0-9]{1,7}")
_OCTETS = re.compile(r"[0-9]{1,12}")


class ConfigError(ValueError):
    """An environment variable is malformed, or holds a secret it may not hold."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable} {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class TLSFiles:
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class DevAccount:
    """IMAP_TEST_MEMORY_USER: the one account of the in-memory backend (tests only)."""

    address: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Config:
    domains: tuple[str, ...]
    host: str
    # STARTTLS is offered on imap_port when tls is set (RFC 9051 §6.2.1); imaps_port
    # is implicit TLS (RFC 8314 §3.3) and is opened only then.
    imap_port: int
    imaps_port: int
    # POP3 (issue 14): STLS on pop3_port when tls is set (RFC 2595 §4); pop3s_port is
    # implicit TLS (RFC 8314 §3.3) and, like IMAPS, is opened only then.
    pop3_port: int
    pop3s_port: int
    http_port: int
    # URLs may carry credentials, so they stay out of reprs (and therefore logs).
    amqp_url: str = field(repr=False)
    queue_prefix: str
    mailstore_url: str
    mailstore_token: str = field(repr=False)
    # LOGIN and AUTHENTICATE PLAIN/LOGIN before TLS only from these (the gateway's
    # rule, RFC 9051 §6.2.3: LOGINDISABLED elsewhere until STARTTLS).
    trusted_networks: tuple[IPNetwork, ...]
    tls: TLSFiles | None
    dev: bool
    # Connections open at once per source address (IPv4; IPv6 per /64), across both
    # listeners; beyond it, * BYE [UNAVAILABLE] and close (RFC 9051 §7.1.5, RFC 5530).
    # A desktop client opens up to 5 per account and a household shares one address.
    max_connections_per_source: int
    # Sessions logged in at once per account on this replica; beyond it, the login
    # is answered NO [LIMIT] (RFC 5530). Several replicas each allow this many.
    max_connections_per_account: int
    # Commands per second a session may keep up, after a burst of command_burst: a
    # token bucket that delays the next command rather than refusing it.
    commands_per_second: float
    command_burst: int
    # RFC 9051 §5.4: at least 30 minutes of inactivity before autologout.
    idle_timeout: float
    # How long a connection may stay unauthenticated in all, whatever it sends.
    login_timeout: float
    # A command that has begun to arrive must be whole within this (slowloris).
    command_timeout: float
    # RFC 7889: the largest message APPEND takes, announced as APPENDLIMIT=<n>; the
    # gateway's SIZE is the same 25 MiB.
    append_limit: int
    # RFC 7888: LITERAL- by default (non-synchronizing literals up to 4096 octets);
    # IMAP_LITERAL_PLUS=1 offers LITERAL+ (any size up to append_limit). Dovecot's
    # imaptest needs LITERAL+: its script runner cannot send a synchronizing literal.
    literal_plus: bool
    # SIGTERM: how long commands in flight may take before sessions are cut. Below
    # `docker stop`'s default 10 s, so the process exits before SIGKILL.
    stop_grace: float
    # Tests only (LOCALPOST_DEV=1 required): serve an in-memory backend with this one
    # account instead of the mail store.
    test_memory_user: DevAccount | None
    # The mail store backend (mailstore_backend.py): the budget of one password check
    # (POST /v1/auth/verify waits for a bcrypt worker, as GATEWAY_AUTH_TIMEOUT in the
    # SMTP gateway), of every other call, and the broker's reconnection interval.
    auth_timeout: float = 30.0
    mailstore_timeout: float = 10.0
    broker_reconnect_interval: float = 2.0


def load_config(environ: Mapping[str, str]) -> Config:
    """Build the configuration from ``environ`` (``os.environ`` in production).

    Raises :class:`ConfigError` naming the first variable that is wrong.
    """
    dev = _flag(environ, "LOCALPOST_DEV")
    config = Config(
        domains=_domains(environ, "LOCALPOST_DOMAIN", "localpost.test"),
        host=_text(environ, "IMAP_HOST", "127.0.0.1"),
        imap_port=_port(environ, "IMAP_PORT", 2143),
        imaps_port=_port(environ, "IMAPS_PORT", 2993),
        pop3_port=_port(environ, "POP3_PORT", 2110),
        pop3s_port=_port(environ, "POP3S_PORT", 2995),
        http_port=_port(environ, "IMAP_HTTP_PORT", 8143),
        amqp_url=_url(environ, "AMQP_URL", "amqp://guest:guest@localhost:5672/", ("amqp", "amqps")),
        queue_prefix=_queue_prefix(environ, "LOCALPOST_QUEUE_PREFIX", "localpost"),
        mailstore_url=_url(environ, "MAILSTORE_URL", "http://127.0.0.1:8081", ("http", "https")),
        mailstore_token=_secret(environ, "MAILSTORE_TOKEN", DEV_MAILSTORE_TOKEN, dev=dev),
        trusted_networks=_networks(environ, "LOCALPOST_TRUSTED_NETWORKS", "127.0.0.0/8,::1"),
        tls=_tls_files(environ),
        dev=dev,
        max_connections_per_source=_count(environ, "IMAP_MAX_CONNECTIONS_PER_SOURCE", 50),
        max_connections_per_account=_count(environ, "IMAP_MAX_CONNECTIONS_PER_ACCOUNT", 20),
        commands_per_second=_seconds(environ, "IMAP_COMMANDS_PER_SECOND", 50.0),
        command_burst=_count(environ, "IMAP_COMMAND_BURST", 200),
        idle_timeout=_idle_timeout(environ, "IMAP_IDLE_TIMEOUT"),
        login_timeout=_seconds(environ, "IMAP_LOGIN_TIMEOUT", 60.0),
        command_timeout=_seconds(environ, "IMAP_COMMAND_TIMEOUT", 60.0),
        append_limit=_octets(environ, "IMAP_APPENDLIMIT", 25 * MiB),
        literal_plus=_flag(environ, "IMAP_LITERAL_PLUS"),
        stop_grace=_seconds(environ, "IMAP_STOP_GRACE", 8.0),
        test_memory_user=_test_user(environ, "IMAP_TEST_MEMORY_USER", dev=dev),
        auth_timeout=_seconds(environ, "IMAP_AUTH_TIMEOUT", 30.0),
        mailstore_timeout=_seconds(environ, "IMAP_MAILSTORE_TIMEOUT", 10.0),
        broker_reconnect_interval=_seconds(environ, "IMAP_BROKER_RECONNECT_INTERVAL", 2.0),
    )
    # The listeners bind the same host; a clash would only show as EADDRINUSE later.
    _distinct_ports(
        ("IMAP_PORT", config.imap_port),
        ("IMAPS_PORT", config.imaps_port),
        ("POP3_PORT", config.pop3_port),
        ("POP3S_PORT", config.pop3s_port),
        ("IMAP_HTTP_PORT", config.http_port),
    )
    if dev:  # IMAP, IMAPS, POP3, POP3S and health all listen on IMAP_HOST
        _require_loopback("IMAP_HOST", config.host, secrets=("MAILSTORE_TOKEN",))
    return config


def _distinct_ports(*ports: tuple[str, int]) -> None:
    seen: dict[int, str] = {}
    for name, port in ports:
        if port in seen:
            raise ConfigError(name, f"equals {seen[port]} ({port})")
        seen[port] = name


def _idle_timeout(environ: Mapping[str, str], name: str) -> float:
    value = _seconds(environ, name, MIN_IDLE_TIMEOUT)
    if value < MIN_IDLE_TIMEOUT:
        raise ConfigError(name, f"must be at least {MIN_IDLE_TIMEOUT:.0f} s (RFC 9051 §5.4)")
    return value


def _octets(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _text(environ, name, str(default))
    if not _OCTETS.fullmatch(value) or int(value) < 1:
        raise ConfigError(name, f"must be a positive number of octets, got {value!r}")
    return int(value)


def _test_user(environ: Mapping[str, str], name: str, *, dev: bool) -> DevAccount | None:
    # Errors never quote the value: it holds a password.
    value = environ.get(name)
    if value is None:
        return None
    if not dev:
        raise ConfigError(name, "is for tests only; it is refused unless LOCALPOST_DEV=1")
    address, sep, password = value.partition(":")
    if not sep or "@" not in address or not password:
        raise ConfigError(name, "must be <address>:<password>")
    return DevAccount(address, password)


# -- strict casts ---------------------------------------------------------------------------


def _text(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, default)
    if not value:
        raise ConfigError(name, "is empty")
    if value != value.strip():
        raise ConfigError(name, f"has surrounding whitespace: {value!r}")
    return value


def _items(environ: Mapping[str, str], name: str, default: str) -> list[str]:
    items = [item.strip() for item in environ.get(name, default).split(",")]
    if not all(items):
        raise ConfigError(name, "has an empty item (expected a comma-separated list)")
    return items


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "")
    if value not in ("", "0", "1"):
        raise ConfigError(name, f"must be 0 or 1, got {value!r}")
    return value == "1"


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _text(environ, name, str(default))
    if not _PORT.fullmatch(value) or not 1 <= int(value) <= 65535:
        raise ConfigError(name, f"must be a port number 1-65535, got {value!r}")
    return int(value)


def _domains(environ: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    domains = [item.lower() for item in _items(environ, name, default)]
    for domain in domains:
        if len(domain) > 253 or not _DOMAIN.fullmatch(domain):
            raise ConfigError(name, f"holds {domain!r}, which is not a domain name")
    return tuple(dict.fromkeys(domains))


def _url(environ: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    # Errors describe the URL's fault without quoting it: it may hold a password.
    value = _text(environ, name, default)
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ConfigError(name, f"must be a {' or '.join(schemes)} URL")
    if not parts.hostname:
        raise ConfigError(name, "has no host")
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        port = 0
    if port == 0:
        raise ConfigError(name, "has a malformed port")
    return value


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    value = _text(environ, name, str(default))
    if not _SECONDS.fullmatch(value) or float(value) <= 0:
        raise ConfigError(name, f"must be a positive number of seconds, got {value!r}")
    return float(value)


def _count(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _text(environ, name, str(default))
    if not _COUNT.fullmatch(value) or int(value) < 1:
        raise ConfigError(name, f"must be a positive whole number, got {value!r}")
    return int(value)


def _queue_prefix(environ: Mapping[str, str], name: str, default: str) -> str:
    value = _text(environ, name, default)
    if not _QUEUE_PREFIX.fullmatch(value):
        raise ConfigError(name, f"must be letters, digits, '.', '_' or '-', got {value!r}")
    # AMQP 0-9-1 reserves names starting with "amq." for the broker (access-refused).
    if value == "amq" or value.startswith("amq."):
        raise ConfigError(name, "may not start with 'amq.', which the broker reserves")
    return value


def _networks(environ: Mapping[str, str], name: str, default: str) -> tuple[IPNetwork, ...]:
    networks = []
    for item in _items(environ, name, default):
        try:
            networks.append(ipaddress.ip_network(item))
        except ValueError as exc:
            raise ConfigError(name, f"holds {item!r}, which is not an IP network: {exc}") from None
    return tuple(networks)


def _secret(
    environ: Mapping[str, str],
    name: str,
    dev_value: str,
    *,
    dev: bool,
    min_length: int = MIN_SECRET_LENGTH,
) -> str:
    # Errors never quote the value.
    source, value = _secret_source(environ, name)
    if value is None:
        if dev:
            return dev_value
        raise ConfigError(
            name, f"is not set (nor {name}_FILE); only LOCALPOST_DEV=1 allows the development value"
        )
    if value == dev_value and not dev:
        raise ConfigError(source, "holds the development value; only LOCALPOST_DEV=1 allows it")
    if len(value) < min_length or value != value.strip():
        raise ConfigError(
            source, f"must be at least {min_length} characters with no surrounding spaces"
        )
    return value


def _secret_source(environ: Mapping[str, str], name: str) -> tuple[str, str | None]:
    """The variable a secret comes from and its value: ``name`` itself, or the file that
    ``<name>_FILE`` names (compose's secrets volume). The file is read here, once, because
    the configuration holds the value."""
    file_variable = f"{name}_FILE"
    path = environ.get(file_variable)
    if path is None:
        return name, environ.get(name)
    if environ.get(name) is not None:
        raise ConfigError(name, f"and {file_variable} are both set; set only one of them")
    if not path:
        raise ConfigError(file_variable, "is empty; it must name a file holding the secret")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            file_variable, f"names {path!r}, which cannot be read: {exc.strerror}"
        ) from None
    except UnicodeDecodeError:  # its message would quote a byte of the secret
        raise ConfigError(file_variable, f"names {path!r}, which is not UTF-8 text") from None
    # One trailing newline is what `echo`, editors and `openssl rand` add, not the secret's.
    value = text.removesuffix("\n")
    if not value:
        raise ConfigError(file_variable, f"names {path!r}, which is empty")
    return file_variable, value


def _require_loopback(name: str, host: str, *, secrets: tuple[str, ...]) -> None:
    # The development secrets are public (they are in this repository): whoever reaches a
    # listener of a service that accepts them can use them. Only loopback keeps them local.
    if host.lower() == "localhost" or _is_loopback_address(host):
        return
    raise ConfigError(
        name,
        f"is {host!r}, which is not loopback, and LOCALPOST_DEV=1 lets in the public"
        " development secrets; bind 127.0.0.1, ::1 or localhost, or unset LOCALPOST_DEV"
        f" and set {', '.join(secrets)} (or each one's _FILE variant)",
    )


def _is_loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: where it resolves may change
        return False


def _tls_files(environ: Mapping[str, str]) -> TLSFiles | None:
    # Paths only: the files are read when the listeners start, not here (no I/O in config).
    cert = environ.get("LOCALPOST_TLS_CERT", "")
    key = environ.get("LOCALPOST_TLS_KEY", "")
    if cert and not key:
        raise ConfigError("LOCALPOST_TLS_KEY", "is not set but LOCALPOST_TLS_CERT is; set both")
    if key and not cert:
        raise ConfigError("LOCALPOST_TLS_CERT", "is not set but LOCALPOST_TLS_KEY is; set both")
    return TLSFiles(cert=Path(cert), key=Path(key)) if cert else None
