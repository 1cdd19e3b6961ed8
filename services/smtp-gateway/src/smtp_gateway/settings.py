"""The gateway's configuration, read once from environment variables.

The variable names and defaults are a contract shared with docker-compose.yml,
deploy/run_local.py and the README's configuration table. Casts are strict: a
value that does not parse is an error naming its variable, never a fallback.
Each secret comes from its variable or from the file its ``_FILE`` variable names.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Development secrets, refused unless LOCALPOST_DEV=1, which is itself refused unless the
# service listens on loopback only (_require_loopback). The mail store and the web
# service hold the same values, so a development stack agrees on them with no
# configuration (tests/integration/test_compose.py checks that they match).
DEV_MAILSTORE_TOKEN = "dev-mailstore-token-not-a-secret"  # noqa: S105 - dev only, see above
DEV_WEB_SUBMISSION_SECRET = "dev-web-submission-secret-not-a-secret"  # noqa: S105

MIN_SECRET_LENGTH = 16

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT = re.compile(r"[0-9]{1,5}")
_QUEUE_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_SECONDS = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,3})?")
_COUNT = re.compile(r"[0-9]{1,7}")


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
class Config:
    domains: tuple[str, ...]
    host: str
    smtp_port: int
    submission_port: int
    # Submission over implicit TLS (RFC 8314 §3.3, "submissions"), what mail programs
    # set up as "SSL/TLS"; opened only when the TLS files are set.
    submissions_port: int
    http_port: int
    # URLs may carry credentials, so they stay out of reprs (and therefore logs).
    amqp_url: str = field(repr=False)
    queue_prefix: str
    # The gateway asks the mail store whether a mailbox exists (RCPT) and checks
    # submission logins against it.
    mailstore_url: str
    mailstore_token: str = field(repr=False)
    # The web service's own submission login, which the gateway accepts.
    web_submission_secret: str = field(repr=False)
    trusted_networks: tuple[IPNetwork, ...]
    # Whether clients in trusted_networks are held to the per-address AUTH throttle
    # (RFC 4954 §4) all the same: one address there may stand for many people, so by
    # default they are not (the mail store reads the same variable for its own limits).
    throttle_trusted: bool
    tls: TLSFiles | None
    dev: bool
    # The name in the greeting, EHLO reply and Received: header (RFC 5321 §4.1.1.1).
    hostname: str
    # How long a DATA reply may wait for the broker's confirm before it becomes 451
    # (RFC 5321 §4.5.3.2.6 gives the client 10 minutes, so this is well inside).
    publish_timeout: float
    # Bounds each mailbox lookup; a RCPT waits at most this long before 451 4.4.3.
    directory_timeout: float
    # Bounds each login check (AUTH), which runs a bcrypt at the mail store and may wait
    # there in its bounded queue: seconds on a loaded machine, where a lookup takes
    # milliseconds. 30 s covers the 4.8 s checks seen at load 20 plus a full queue; the
    # client waits far longer (RFC 4954 sets no AUTH timeout, RFC 5321 §4.5.3.2 gives
    # commands minutes), so a slow but correct check still gets its 235.
    auth_timeout: float
    # How long existing/missing mailboxes are remembered (answers may be cached briefly).
    directory_cache_ttl: float
    directory_negative_ttl: float
    # Between broker reconnection attempts.
    broker_reconnect_interval: float
    # SIGTERM: how long transactions in flight may take before connections are cut.
    # Below `docker stop`'s default 10 s, so the process exits before SIGKILL.
    stop_grace: float
    # Per source address (IPv4; IPv6 per /64), across the delivery and submission
    # listeners together (one smtplib_common PeerLimits for both); beyond each, 421
    # 4.7.0 and close (RFC 5321 §3.8, RFC 3463 X.7.0). Connections open at once, and
    # new connections per minute (a token bucket: a burst of that many, then one per
    # 60/N s). The web's submission pool holds at most 4 sessions, each reused, so it
    # stays far below both. Trusted networks are held to them too (docs/security.md).
    max_connections_per_source: int
    connection_rate_per_source: int
    # Commands an unauthenticated session may send outside a transaction before a
    # message is accepted (RFC 5321 §4.5.3 lets servers set limits, §4.2.5 permits
    # closing on abuse; Postfix's smtpd_junk_command_limit in spirit).
    max_commands_before_mail: int
    # RFC 5321 §4.5.3.2.5/§4.5.3.2.7 bound pauses, not transfers: from the first octet
    # of DATA/BDAT a transfer has this grace, then must keep this many octets/s on
    # average (Postfix's smtpd_min_data_rate is 500 too).
    min_data_rate: int
    data_rate_grace: float


def load_config(environ: Mapping[str, str]) -> Config:
    """Build the configuration from ``environ`` (``os.environ`` in production).

    Raises :class:`ConfigError` naming the first variable that is wrong.
    """
    dev = _flag(environ, "LOCALPOST_DEV")
    domains = _domains(environ, "LOCALPOST_DOMAIN", "localpost.test")
    config = Config(
        domains=domains,
        host=_text(environ, "GATEWAY_HOST", "127.0.0.1"),
        smtp_port=_port(environ, "SMTP_PORT", 2525),
        submission_port=_port(environ, "SUBMISSION_PORT", 2587),
        submissions_port=_port(environ, "SUBMISSIONS_PORT", 2465),
        http_port=_port(environ, "GATEWAY_HTTP_PORT", 8025),
        amqp_url=_url(environ, "AMQP_URL", "amqp://guest:guest@localhost:5672/", ("amqp", "amqps")),
        queue_prefix=_queue_prefix(environ, "LOCALPOST_QUEUE_PREFIX", "localpost"),
        mailstore_url=_url(environ, "MAILSTORE_URL", "http://127.0.0.1:8081", ("http", "https")),
        mailstore_token=_secret(environ, "MAILSTORE_TOKEN", DEV_MAILSTORE_TOKEN, dev=dev),
        web_submission_secret=_secret(
            environ, "WEB_SUBMISSION_SECRET", DEV_WEB_SUBMISSION_SECRET, dev=dev
        ),
        trusted_networks=_networks(environ, "LOCALPOST_TRUSTED_NETWORKS", "127.0.0.0/8,::1"),
        throttle_trusted=_flag(environ, "LOCALPOST_THROTTLE_TRUSTED"),
        tls=_tls_files(environ),
        dev=dev,
        # Defaults to the first local domain rather than socket.getfqdn(), which may block
        # on DNS and, in a container, names the container rather than the mail service.
        hostname=_hostname(environ, "GATEWAY_HOSTNAME", domains[0]),
        publish_timeout=_seconds(environ, "GATEWAY_PUBLISH_TIMEOUT", 10.0),
        directory_timeout=_seconds(environ, "GATEWAY_DIRECTORY_TIMEOUT", 3.0),
        auth_timeout=_seconds(environ, "GATEWAY_AUTH_TIMEOUT", 30.0),
        directory_cache_ttl=_seconds(environ, "GATEWAY_DIRECTORY_CACHE_TTL", 30.0),
        directory_negative_ttl=_seconds(environ, "GATEWAY_DIRECTORY_NEGATIVE_TTL", 5.0),
        broker_reconnect_interval=_seconds(environ, "GATEWAY_BROKER_RECONNECT_INTERVAL", 2.0),
        stop_grace=_seconds(environ, "GATEWAY_STOP_GRACE", 8.0),
        max_connections_per_source=_count(environ, "GATEWAY_MAX_CONNECTIONS_PER_SOURCE", 20),
        connection_rate_per_source=_count(environ, "GATEWAY_CONNECTION_RATE_PER_SOURCE", 60),
        max_commands_before_mail=_count(environ, "GATEWAY_MAX_COMMANDS_BEFORE_MAIL", 20),
        min_data_rate=_count(environ, "GATEWAY_MIN_DATA_RATE", 500),
        data_rate_grace=_seconds(environ, "GATEWAY_DATA_RATE_GRACE", 10.0),
    )
    # Every listener binds the same host; a clash would only show as EADDRINUSE later.
    ports = [
        ("SMTP_PORT", config.smtp_port),
        ("SUBMISSION_PORT", config.submission_port),
        ("GATEWAY_HTTP_PORT", config.http_port),
    ]
    if config.tls is not None:  # SUBMISSIONS_PORT is not opened without TLS files
        ports.insert(2, ("SUBMISSIONS_PORT", config.submissions_port))
    for i, (name, port) in enumerate(ports):
        for earlier, earlier_port in ports[:i]:
            if port == earlier_port:
                raise ConfigError(name, f"equals {earlier} ({port})")
    if dev:  # SMTP, both submission ports and health all listen on GATEWAY_HOST
        _require_loopback(
            "GATEWAY_HOST", config.host, secrets=("MAILSTORE_TOKEN", "WEB_SUBMISSION_SECRET")
        )
    return config


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


def _hostname(environ: Mapping[str, str], name: str, default: str) -> str:
    value = _text(environ, name, default).lower()
    if len(value) > 253 or not _DOMAIN.fullmatch(value):
        raise ConfigError(name, f"must be a host name, got {value!r}")
    return value


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
