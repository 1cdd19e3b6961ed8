"""The web service's configuration, read once from environment variables.

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

# Development secrets, refused unless LOCALPOST_DEV=1, which is itself refused unless the
# service listens on loopback only (_require_loopback). The gateway and the mail store
# hold the same shared values, so a development stack agrees on them with no
# configuration (tests/integration/test_compose.py checks that they match).
DEV_MAILSTORE_TOKEN = "dev-mailstore-token-not-a-secret"  # noqa: S105 - dev only, see above
DEV_WEB_SUBMISSION_SECRET = "dev-web-submission-secret-not-a-secret"  # noqa: S105
DEV_WEB_SECRET_KEY = "dev-web-secret-key-not-a-secret-at-all"  # noqa: S105

MIN_SECRET_LENGTH = 16
# It signs session cookies: HMAC-SHA256 wants a key of at least its 32-byte output.
MIN_SECRET_KEY_LENGTH = 32

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT = re.compile(r"[0-9]{1,5}")
_QUEUE_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_SECONDS = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,3})?")
# How the web service protects its submission login on the way to the gateway.
SUBMISSION_TLS_MODES = ("starttls", "none")
# Who may create an account (issue 16): anyone; only with an invitation an administrator
# made on /admin; nobody. The default only: a choice made on /admin wins (registration.py).
REGISTRATION_MODES = ("open", "invite", "closed")


@dataclass(frozen=True, slots=True)
class PublicServers:
    """Where mail programs reach Localpost, as the autoconfiguration documents and the
    Mail programs page name it: behind compose's port mapping these are the published
    ports, not the ports the services bind inside their containers."""

    hostname: str
    imap_port: int = 2143
    imaps_port: int = 2993
    submission_port: int = 2587
    submissions_port: int = 2465
    pop3_port: int = 2110
    pop3s_port: int = 2995
    # Never advertise a server that does not run: POP3 only when it is served.
    pop3: bool = False
    # The PEM certificate the mail services present, offered for download with its
    # fingerprint while it is self-signed; None: no certificate to show.
    tls_cert: str | None = None


class ConfigError(ValueError):
    """An environment variable is malformed, or holds a secret it may not hold."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable} {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class Config:
    # The domains users' addresses belong to.
    domains: tuple[str, ...]
    host: str
    port: int
    mailstore_url: str
    mailstore_token: str = field(repr=False)
    # Outgoing mail goes through the gateway's submission port with the web
    # service's own login.
    submission_host: str
    submission_port: int
    submission_secret: str = field(repr=False)
    secret_key: str = field(repr=False)
    dev: bool
    # "starttls" outside one machine: the gateway refuses plaintext AUTH from peers
    # outside LOCALPOST_TRUSTED_NETWORKS, and the secret must not cross a network bare.
    submission_tls: str = "none"
    # PEM file to verify the gateway's certificate with (compose's self-signed one);
    # None means the system's trust store.
    submission_ca_file: str | None = None
    # Live updates: the mail store's `stored` events arrive on <prefix>.events.
    amqp_url: str = field(default="amqp://guest:guest@localhost:5672/", repr=False)
    queue_prefix: str = "localpost"
    # Seconds between attempts to reach the broker, at start-up and after an outage
    # (the gateway's GATEWAY_BROKER_RECONNECT_INTERVAL has the same default).
    broker_reconnect_interval: float = 2.0
    # Seconds a page waits for the mail store before it answers "Mail is unavailable
    # right now" (503): a stalled store must not hold a page for long. Password checks
    # and streamed downloads have budgets of their own (mailstore_client.py).
    mailstore_timeout: float = 2.0
    # Mark every cookie Secure (RFC 6265bis §4.1.2.5) even when this process only sees
    # plain HTTP from a TLS-terminating proxy in front of it.
    cookie_secure: bool = False
    # LOCALPOST_REGISTRATION: whether the sign-up page and POST /api/v1/accounts create
    # accounts ("open") or refuse with 403 ("invite", "closed"; auth.check_registration_open).
    registration: str = "open"
    # What mail programs are told (autoconfiguration, the Mail programs page).
    public: PublicServers = field(default_factory=lambda: PublicServers("localpost.test"))


def load_config(environ: Mapping[str, str]) -> Config:
    """Build the configuration from ``environ`` (``os.environ`` in production).

    Raises :class:`ConfigError` naming the first variable that is wrong.
    """
    dev = _flag(environ, "LOCALPOST_DEV")
    domains = _domains(environ, "LOCALPOST_DOMAIN", "localpost.test")
    config = Config(
        domains=domains,
        host=_text(environ, "WEB_HOST", "127.0.0.1"),
        port=_port(environ, "WEB_PORT", 8080),
        mailstore_url=_url(environ, "MAILSTORE_URL", "http://127.0.0.1:8081", ("http", "https")),
        mailstore_token=_secret(environ, "MAILSTORE_TOKEN", DEV_MAILSTORE_TOKEN, dev=dev),
        submission_host=_text(environ, "SUBMISSION_HOST", "127.0.0.1"),
        submission_port=_port(environ, "SUBMISSION_PORT", 2587),
        submission_secret=_secret(
            environ, "WEB_SUBMISSION_SECRET", DEV_WEB_SUBMISSION_SECRET, dev=dev
        ),
        secret_key=_secret(
            environ, "WEB_SECRET_KEY", DEV_WEB_SECRET_KEY, dev=dev, min_length=MIN_SECRET_KEY_LENGTH
        ),
        dev=dev,
        submission_tls=_choice(environ, "SUBMISSION_TLS", "none", SUBMISSION_TLS_MODES),
        submission_ca_file=_optional_text(environ, "SUBMISSION_CA_FILE"),
        amqp_url=_url(environ, "AMQP_URL", "amqp://guest:guest@localhost:5672/", ("amqp", "amqps")),
        queue_prefix=_queue_prefix(environ, "LOCALPOST_QUEUE_PREFIX", "localpost"),
        broker_reconnect_interval=_seconds(environ, "WEB_BROKER_RECONNECT_INTERVAL", 2.0),
        mailstore_timeout=_seconds(environ, "WEB_MAILSTORE_TIMEOUT", 2.0),
        cookie_secure=_flag(environ, "WEB_COOKIE_SECURE"),
        registration=_choice(environ, "LOCALPOST_REGISTRATION", "open", REGISTRATION_MODES),
        public=_public_servers(environ, domains[0]),
    )
    if dev:
        _require_loopback(
            "WEB_HOST",
            config.host,
            secrets=("MAILSTORE_TOKEN", "WEB_SUBMISSION_SECRET", "WEB_SECRET_KEY"),
        )
    return config


def _public_servers(environ: Mapping[str, str], first_domain: str) -> PublicServers:
    return PublicServers(
        hostname=_hostname(environ, "LOCALPOST_PUBLIC_HOSTNAME", first_domain),
        imap_port=_port(environ, "PUBLIC_IMAP_PORT", 2143),
        imaps_port=_port(environ, "PUBLIC_IMAPS_PORT", 2993),
        submission_port=_port(environ, "PUBLIC_SUBMISSION_PORT", 2587),
        submissions_port=_port(environ, "PUBLIC_SUBMISSIONS_PORT", 2465),
        pop3_port=_port(environ, "PUBLIC_POP3_PORT", 2110),
        pop3s_port=_port(environ, "PUBLIC_POP3S_PORT", 2995),
        pop3=_flag(environ, "LOCALPOST_POP3"),
        tls_cert=_optional_text(environ, "LOCALPOST_TLS_CERT"),
    )


# -- strict casts ---------------------------------------------------------------------------


def _text(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, default)
    if not value:
        raise ConfigError(name, "is empty")
    if value != value.strip():
        raise ConfigError(name, f"has surrounding whitespace: {value!r}")
    return value


def _optional_text(environ: Mapping[str, str], name: str) -> str | None:
    if name not in environ:
        return None
    return _text(environ, name, "")


def _choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = environ.get(name, default)
    if value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _queue_prefix(environ: Mapping[str, str], name: str, default: str) -> str:
    value = _text(environ, name, default)
    # "amq." names are reserved by the broker (AMQP 0-9-1 §4.2.3 exchange names).
    if not _QUEUE_PREFIX.fullmatch(value) or value.lower().startswith("amq."):
        raise ConfigError(
            name, f"must be letters, digits, '.', '_' or '-' (not amq.), got {value!r}"
        )
    return value


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    value = _text(environ, name, str(default))
    if not _SECONDS.fullmatch(value) or float(value) <= 0:
        raise ConfigError(name, f"must be a positive number of seconds, got {value!r}")
    return float(value)


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


def _hostname(environ: Mapping[str, str], name: str, default: str) -> str:
    """A host name or an IP address literal: it goes into XML, a plist and a page."""
    value = _text(environ, name, default).lower()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if len(value) > 253 or not _DOMAIN.fullmatch(value):
        raise ConfigError(name, f"must be a host name or an IP address, got {value!r}")
    return value


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
