"""docker-compose.yml read as data: the Localpost services it runs and their environment.

deploy/run_local.py starts the services with this environment on one machine, and
tests/integration/test_compose.py checks it against each service's ``load_config``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "docker-compose.yml"

# Compose service name -> the module its container runs with `python -m`.
SERVICES: dict[str, str] = {
    "smtp-gateway": "smtp_gateway",
    "mailstore": "mailstore",
    "web": "webmail",
    "imap-gateway": "imap_gateway",
}

# Compose service names double as host names inside the compose networks.
COMPOSE_HOSTS = frozenset({"postgres", "rabbitmq", "certs", "secrets", *SERVICES})
LOCALHOST = "127.0.0.1"

# The secrets compose generates into its `secrets` volume, as the services read them.
SECRET_FILES = frozenset(
    {"MAILSTORE_TOKEN_FILE", "WEB_SUBMISSION_SECRET_FILE", "WEB_SECRET_KEY_FILE"}
)
# Where the one-shot `secrets` service writes them, and the services mount them.
SECRETS_DIR = "/secrets"

# Paths into the compose `certs` and `secrets` volumes, which exist only inside containers.
CONTAINER_ONLY = frozenset(
    {"LOCALPOST_TLS_CERT", "LOCALPOST_TLS_KEY", "SUBMISSION_CA_FILE", *SECRET_FILES}
)

# Settings that only work with one of those files -> (the file's variable, the value the
# setting takes when the file is left out). Without the volume the gateway has no
# certificate and offers no STARTTLS, so keeping "starttls" would fail every send. The
# web service submits in plaintext instead, over 127.0.0.1, which the gateway trusts
# with plaintext AUTH (LOCALPOST_TRUSTED_NETWORKS; RFC 4954 §4 allows it where something
# other than TLS protects the session from snooping: here, the loopback interface).
NEEDS_CONTAINER_FILE: dict[str, tuple[str, str]] = {
    "SUBMISSION_TLS": ("SUBMISSION_CA_FILE", "none"),
}


# Compose's ${NAME:-default} / ${NAME-default} (the only interpolation the file uses).
_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}")


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file as compose reads it with none of its variables set."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ValueError(f"{path}: not a compose file with a services mapping")
    return {key: _with_defaults(value) for key, value in data.items()}


def _with_defaults(value: Any) -> Any:
    if isinstance(value, str):
        return _VARIABLE.sub(lambda match: match.group(1), value)
    if isinstance(value, list):
        return [_with_defaults(item) for item in value]
    if isinstance(value, dict):
        return {key: _with_defaults(item) for key, item in value.items()}
    return value


def secrets_script(compose: Mapping[str, Any]) -> str:
    """The shell script of the one-shot `secrets` service (it writes into SECRETS_DIR)."""
    (script,) = compose["services"]["secrets"]["command"]
    return str(script)


def postgres_settings(compose: Mapping[str, Any]) -> dict[str, str]:
    """The server settings compose gives PostgreSQL (``-c name=value`` in its command)."""
    command = [str(part) for part in compose["services"]["postgres"].get("command") or []]
    settings = {}
    for flag, value in itertools.pairwise(command):
        if flag == "-c":
            name, _, setting = value.partition("=")
            settings[name] = setting
    return settings


def service_environment(compose: Mapping[str, Any], service: str) -> dict[str, str]:
    """The variables compose sets for ``service``, exactly as its container sees them."""
    raw = compose["services"][service].get("environment") or {}
    if isinstance(raw, list):  # the KEY=VALUE list form
        raw = dict(item.split("=", 1) for item in raw)
    environ = {str(key): "" if value is None else str(value) for key, value in raw.items()}
    for key, value in environ.items():
        # This reader does not interpolate ${VAR}; fail rather than pass the text on.
        if "$" in value:
            raise ValueError(f"{service}: {key} uses interpolation, which compose_env cannot read")
    return environ


def localize(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` for a process on this machine instead of a compose container.

    Compose host names become 127.0.0.1, in URLs and in ``*_HOST`` values; binding
    0.0.0.0 becomes binding 127.0.0.1; paths into the certs and secrets volumes are left
    out, and settings that need them fall back (``NEEDS_CONTAINER_FILE``: the web service
    submits without STARTTLS); without the secrets volume the services run with the
    development secrets (LOCALPOST_DEV=1), which they accept only because every listener
    now binds 127.0.0.1.
    """
    local: dict[str, str] = {}
    for key, value in environ.items():
        if key in CONTAINER_ONLY:
            continue
        if key.endswith("_HOST") and (value in COMPOSE_HOSTS or value == "0.0.0.0"):
            value = LOCALHOST
        elif "://" in value:
            value = _localize_url(value)
        local[key] = value
    for key, (path_key, fallback) in NEEDS_CONTAINER_FILE.items():
        if key in local and path_key in environ:
            local[key] = fallback
    if SECRET_FILES & environ.keys():
        local["LOCALPOST_DEV"] = "1"
    return local


def local_environment(
    compose: Mapping[str, Any], service: str, *, database_url: str, amqp_url: str
) -> dict[str, str]:
    """What ``service`` gets when run on this machine: its compose environment, localized,
    with this machine's PostgreSQL and RabbitMQ (compose's credentials exist only there)."""
    local = localize(service_environment(compose, service))
    for key, value in (("DATABASE_URL", database_url), ("AMQP_URL", amqp_url)):
        if key in local:
            local[key] = value
    return local


def published_ports(compose: Mapping[str, Any]) -> dict[int, tuple[str, int]]:
    """Every host port compose publishes -> (service, container port)."""
    published = {}
    for service, spec in compose["services"].items():
        for port in spec.get("ports") or []:
            host, target = _port_mapping(port)
            published[host] = (service, target)
    return published


def _localize_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname not in COMPOSE_HOSTS:
        return url
    userinfo = parts.netloc.rpartition("@")[0]
    port = f":{parts.port}" if parts.port is not None else ""
    netloc = f"{userinfo}@{LOCALHOST}{port}" if userinfo else f"{LOCALHOST}{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _port_mapping(port: object) -> tuple[int, int]:
    # Long syntax: {target: 80, published: "8080"}; short: "8080:80", "127.0.0.1:8080:80/tcp".
    if isinstance(port, dict):
        return int(port["published"]), int(port["target"])
    fields = str(port).split("/")[0].rsplit(":", 2)
    if len(fields) == 1:
        raise ValueError(f"port {port!r} publishes on a random host port; name one")
    return int(fields[-2]), int(fields[-1])
