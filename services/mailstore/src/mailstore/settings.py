"""The mail store's configuration, read once from environment variables.

The variable names and defaults are a contract shared with docker-compose.yml,
deploy/run_local.py and the README's configuration table. Casts are strict: a
value that does not parse is an error naming its variable, never a fallback.
Each secret comes from its variable or from the file its ``_FILE`` variable names.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mailstore.quotas import parse_size

# Development secret, refused unless LOCALPOST_DEV=1, which is itself refused unless the
# service listens on loopback only (_require_loopback). The gateway and the web service
# hold the same value, so a development stack agrees on it with no configuration
# (tests/integration/test_compose.py checks that they match).
DEV_MAILSTORE_TOKEN = "dev-mailstore-token-not-a-secret"  # noqa: S105 - dev only, see above

MIN_SECRET_LENGTH = 16
# Upper bound of the day counts (sessions, Trash): ten years is "forever" enough.
MAX_DAYS = 3650
# Password checks that may wait per bcrypt worker. At cost 12 a check takes ~0.25 s of a
# free core, so the last of 8 waits ~2 s; even ten times slower on a loaded machine it
# ends inside the callers' 30 s login budgets (GATEWAY_AUTH_TIMEOUT, the web's).
QUEUE_PER_WORKER = 8
MAX_PASSWORD_WORKERS = 256

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_TRUSTED_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1"),
)

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT = re.compile(r"[0-9]{1,5}")
_QUEUE_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Failed logins allowed, as (failures, window seconds), for every channel together
    (web, API, SMTP AUTH, later IMAP and POP3; mailstore/logins.py, docs/security.md).

    NIST SP 800-63B §5.2.2 and OWASP ASVS 4.0.3 V2.2.1 ask for at most 100 failed
    attempts per account per hour; RFC 4954 §4 lets an SMTP server limit them too.
    Successful logins never count. A client is an IPv4 address or an IPv6 /64.
    """

    # One client guessing many accounts (or one account under many spellings).
    per_client: tuple[int, int] = (20, 15 * 60)
    # One client guessing one account.
    per_account_client: tuple[int, int] = (10, 15 * 60)
    # Every client together guessing one account (a botnet). Clients the account owner
    # uses are not held to it (a browser's device cookie, an address that logged in).
    per_account: tuple[int, int] = (100, 60 * 60)


class ConfigError(ValueError):
    """An environment variable is malformed, or holds a secret it may not hold."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable} {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class Config:
    host: str
    port: int
    # URLs may carry credentials, so they stay out of reprs (and therefore logs).
    database_url: str = field(repr=False)
    amqp_url: str = field(repr=False)
    queue_prefix: str
    # The domains whose mailboxes this store holds.
    domains: tuple[str, ...]
    # The bearer token every caller of the internal API must present.
    token: str = field(repr=False)
    dev: bool
    # Unacknowledged messages the broker may hand this consumer at once (AMQP basic.qos).
    # Twice the consumer's batch, so the next batch arrives while one commits.
    prefetch: int = 128
    # A web session ends after this many days without use.
    session_days: int = 14
    # Entries in Trash for longer than this are deleted forever.
    trash_days: int = 30
    # Expunge records (the UIDs QRESYNC reports as VANISHED, RFC 7162 §3.2.5) are kept
    # this long; a client resynchronising from before then sends its known UIDs instead.
    vanished_days: int = 30
    # bcrypt cost; not an environment variable: only tests lower it, to keep them fast.
    bcrypt_rounds: int = 12
    # Password checks (bcrypt) that run at once, and how many more may wait their turn
    # before the rest are refused with 503 (see limiter.py).
    password_workers: int = 1
    password_queue: int = QUEUE_PER_WORKER
    # Client networks treated as local (the gateway's LOCALPOST_TRUSTED_NETWORKS): one
    # address there may stand for many people (a NAT, a reverse proxy, the webmail's
    # host), so the per-client login and sign-up limits do not apply to them unless
    # throttle_trusted (LOCALPOST_THROTTLE_TRUSTED=1) says they do.
    trusted_networks: tuple[IPNetwork, ...] = DEFAULT_TRUSTED_NETWORKS
    throttle_trusted: bool = False
    # LOCALPOST_ADMINS: accounts made administrators at every start (admin.py; README).
    admins: tuple[str, ...] = ()
    # LOCALPOST_WEB_URL: the webmail's address as people reach it, which the one-time
    # links of `python -m mailstore reset-password` start with.
    web_url: str = "http://localhost:8080"
    # LOCALPOST_DEFAULT_QUOTA: bytes an account may hold unless an administrator set its
    # own limit (mailstore.quotas); 0 is no limit.
    default_quota: int = 0
    # Not environment variables: tests lower them to reach a limit with a few tries.
    login_limits: LoginLimits = LoginLimits()
    # Seconds between runs of the maintenance task (Trash purge, pruning of expired sessions
    # and old throttle events); not an environment variable: tests shorten it.
    maintenance_interval: float = 3600.0
    # Test-only fault hook of the fault harness (tests/integration/test_faults.py): exit
    # the process right after this many COMMITs, before their acks. None in use.
    fault_exit_after_commits: int | None = None


def load_config(environ: Mapping[str, str]) -> Config:
    """Build the configuration from ``environ`` (``os.environ`` in production).

    Raises :class:`ConfigError` naming the first variable that is wrong.
    """
    dev = _flag(environ, "LOCALPOST_DEV")
    # bcrypt releases the GIL: one thread per CPU this process may use keeps every CPU
    # busy, and more threads would only make each check slower.
    cpus = min(available_cpus(), MAX_PASSWORD_WORKERS)
    domains = _domains(environ, "LOCALPOST_DOMAIN", "localpost.test")
    workers = _count(environ, "MAILSTORE_PASSWORD_WORKERS", cpus, maximum=MAX_PASSWORD_WORKERS)
    config = Config(
        host=_text(environ, "MAILSTORE_HOST", "127.0.0.1"),
        port=_port(environ, "MAILSTORE_PORT", 8081),
        database_url=_url(
            environ, "DATABASE_URL", "postgresql://localhost/localpost", ("postgresql", "postgres")
        ),
        amqp_url=_url(environ, "AMQP_URL", "amqp://guest:guest@localhost:5672/", ("amqp", "amqps")),
        queue_prefix=_queue_prefix(environ, "LOCALPOST_QUEUE_PREFIX", "localpost"),
        domains=domains,
        token=_secret(environ, "MAILSTORE_TOKEN", DEV_MAILSTORE_TOKEN, dev=dev),
        dev=dev,
        prefetch=_count(environ, "MAILSTORE_PREFETCH", 128, maximum=10_000),
        session_days=_count(environ, "MAILSTORE_SESSION_DAYS", 14, maximum=MAX_DAYS),
        trash_days=_count(environ, "MAILSTORE_TRASH_DAYS", 30, maximum=MAX_DAYS),
        vanished_days=_count(environ, "MAILSTORE_VANISHED_DAYS", 30, maximum=MAX_DAYS),
        password_workers=workers,
        password_queue=_count(
            environ, "MAILSTORE_PASSWORD_QUEUE", QUEUE_PER_WORKER * workers, maximum=100_000
        ),
        trusted_networks=_networks(environ, "LOCALPOST_TRUSTED_NETWORKS", "127.0.0.0/8,::1"),
        throttle_trusted=_flag(environ, "LOCALPOST_THROTTLE_TRUSTED"),
        admins=_admins(environ, "LOCALPOST_ADMINS", domains),
        web_url=_url(environ, "LOCALPOST_WEB_URL", "http://localhost:8080", ("http", "https")),
        default_quota=_size(environ, "LOCALPOST_DEFAULT_QUOTA", "0"),
        fault_exit_after_commits=(
            _count(environ, "MAILSTORE_FAULT_EXIT_AFTER_COMMITS", 1, maximum=1_000_000)
            if "MAILSTORE_FAULT_EXIT_AFTER_COMMITS" in environ
            else None
        ),
    )
    if dev:
        _require_loopback("MAILSTORE_HOST", config.host, secrets=("MAILSTORE_TOKEN",))
    return config


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which taskset and a
    container's cpuset narrow), or the machine's count where the mask is unknown."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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


def _count(environ: Mapping[str, str], name: str, default: int, *, maximum: int) -> int:
    value = _text(environ, name, str(default))
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= maximum:
        raise ConfigError(name, f"must be a whole number 1-{maximum}, got {value!r}")
    return int(value)


def _size(environ: Mapping[str, str], name: str, default: str) -> int:
    try:
        return parse_size(_text(environ, name, default))
    except ValueError as exc:
        raise ConfigError(name, f"must be 0 (no limit) or a size: {exc}") from None


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


def _queue_prefix(environ: Mapping[str, str], name: str, default: str) -> str:
    value = _text(environ, name, default)
    if not _QUEUE_PREFIX.fullmatch(value):
        raise ConfigError(name, f"must be letters, digits, '.', '_' or '-', got {value!r}")
    # AMQP 0-9-1 reserves names starting with "amq." for the broker (access-refused).
    if value == "amq" or value.startswith("amq."):
        raise ConfigError(name, "may not start with 'amq.', which the broker reserves")
    return value


def _admins(environ: Mapping[str, str], name: str, domains: tuple[str, ...]) -> tuple[str, ...]:
    """Addresses in the local domains, comma-separated; unset or empty: none."""
    if not environ.get(name, "").strip():
        return ()
    addresses = [item.lower() for item in _items(environ, name, "")]
    for address in addresses:
        local, at, domain = address.rpartition("@")
        if not at or not local or domain not in domains or not address.isprintable():
            raise ConfigError(
                name, f"holds {address!r}, not an address in a local domain ({', '.join(domains)})"
            )
    return tuple(dict.fromkeys(addresses))


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
