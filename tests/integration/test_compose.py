"""docker-compose.yml and the Dockerfiles, checked without a Docker engine.

The helpers at the top are meant for reuse by tests that start the services with
their compose environment (see deploy/compose_env.py for the environment itself).
"""

from __future__ import annotations

import importlib
import json
import re
import stat
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from deploy.compose_env import (
    COMPOSE_FILE,
    SECRET_FILES,
    SECRETS_DIR,
    SERVICES,
    load_compose,
    local_environment,
    postgres_settings,
    published_ports,
    secrets_script,
    service_environment,
)
from tests.integration import private_postgres
from tests.integration.private_postgres import PrivatePostgres

ROOT = COMPOSE_FILE.parent
DOCKERFILES = {service: ROOT / "services" / service / "Dockerfile" for service in SERVICES}
# The name of the attribute holding each service's HTTP port in its Config.
HTTP_PORT_FIELD = {
    "smtp-gateway": "http_port",
    "mailstore": "port",
    "web": "port",
    "imap-gateway": "http_port",
}
# The secrets the one-shot `secrets` service makes, by file name in its volume.
SECRET_NAMES = ("mailstore_token", "web_submission_secret", "web_secret_key")
# The uid the services run as (services/*/Dockerfile), who must read the secrets.
SERVICE_UID = 10001


class RecordingEnviron(Mapping[str, str]):
    """An environment that remembers which variables were looked up."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self._variables = dict(variables)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self._variables[name]

    def __iter__(self) -> Iterator[str]:
        # Iterating would read every variable and make `read` meaningless.
        raise TypeError("load_config must look variables up by name")

    def __len__(self) -> int:
        return len(self._variables)

    def names(self) -> set[str]:
        return set(self._variables)


def venv_tool(name: str) -> Path:
    """An executable installed beside this interpreter (.venv/bin) by `make venv`."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{path} is missing; run `make venv`")
    return path


def run_tool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, cwd=ROOT, check=False
    )


def load_service_config(service: str, environ: Mapping[str, str]) -> Any:
    """The service's own ``load_config`` applied to ``environ``."""
    settings = importlib.import_module(f"{SERVICES[service]}.settings")
    return settings.load_config(environ)


def run_secrets_script(compose: Mapping[str, Any], directory: Path) -> None:
    """The one-shot `secrets` service's script, run by this host's sh and openssl with
    ``directory`` in place of its volume."""
    script = secrets_script(compose)
    assert script.count(SECRETS_DIR) == 1, "the script names its volume once, in its cd"
    done = subprocess.run(
        ["sh", "-c", script.replace(SECRETS_DIR, str(directory))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def container_environment(
    compose: Mapping[str, Any], service: str, secrets: Path
) -> dict[str, str]:
    """The service's compose environment with its secret files found in ``secrets``
    (a directory the one-shot script filled) instead of the container's volume."""
    environ = service_environment(compose, service)
    for key in SECRET_FILES & environ.keys():
        environ[key] = environ[key].replace(SECRETS_DIR, str(secrets), 1)
    return environ


def healthcheck_url(spec: Mapping[str, Any]) -> str:
    test = " ".join(spec["healthcheck"]["test"])
    match = re.search(r"http://[^'\"\s]+", test)
    assert match, f"health check does not name a URL: {test}"
    return match.group()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def secrets(compose: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the secrets compose's one-shot makes on first start."""
    directory = tmp_path_factory.mktemp("secrets")
    run_secrets_script(compose, directory)
    return directory


@pytest.fixture(scope="module")
def configs_under_compose(compose: dict[str, Any], secrets: Path) -> tuple[Any, Any, Any]:
    """The gateway's, the mail store's and the web's Config as their containers load it."""
    gateway, mailstore, web = (
        load_service_config(service, container_environment(compose, service, secrets))
        for service in ("smtp-gateway", "mailstore", "web")
    )
    return gateway, mailstore, web


def test_compose_file_follows_the_compose_spec() -> None:
    result = run_tool(
        venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_passes_hadolint(service: str) -> None:
    result = run_tool(venv_tool("hadolint"), DOCKERFILES[service])

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("service", SERVICES)
def test_service_runs_its_module(compose: dict[str, Any], service: str) -> None:
    command = ["python", "-m", SERVICES[service]]
    spec = compose["services"][service]

    assert spec["command"] == command
    assert spec["build"] == {"context": ".", "dockerfile": f"services/{service}/Dockerfile"}
    assert f"CMD {json.dumps(command)}" in DOCKERFILES[service].read_text().splitlines()


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_compose_sets_is_read_by_the_service(
    compose: dict[str, Any], service: str, secrets: Path
) -> None:
    environ = RecordingEnviron(container_environment(compose, service, secrets))

    load_service_config(service, environ)

    assert environ.names() - environ.read == set()


@pytest.mark.parametrize("service", SERVICES)
def test_compose_environment_loads_on_this_machine(
    compose: dict[str, Any], service: str, database_url: str, amqp_url: str
) -> None:
    environ = local_environment(compose, service, database_url=database_url, amqp_url=amqp_url)

    config = load_service_config(service, environ)

    assert config.dev is True


def test_on_this_machine_the_web_submits_in_plaintext_over_loopback(
    compose: dict[str, Any], database_url: str, amqp_url: str
) -> None:
    # Without the certs volume the gateway offers no STARTTLS; 127.0.0.1 is trusted.
    environ = local_environment(compose, "web", database_url=database_url, amqp_url=amqp_url)

    config = load_service_config("web", environ)

    assert (config.submission_host, config.submission_tls) == ("127.0.0.1", "none")
    assert config.submission_ca_file is None


def test_only_smtp_submission_imap_pop3_and_webmail_are_published(
    compose: dict[str, Any],
) -> None:
    assert published_ports(compose) == {
        2525: ("smtp-gateway", 2525),
        2587: ("smtp-gateway", 2587),
        2465: ("smtp-gateway", 2465),
        2143: ("imap-gateway", 2143),
        2993: ("imap-gateway", 2993),
        2110: ("imap-gateway", 2110),
        2995: ("imap-gateway", 2995),
        8080: ("web", 8080),
    }


def test_every_published_host_port_can_be_moved_by_a_variable() -> None:
    # make test-compose runs beside anything holding 2525/2587/8080 by setting these.
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    specs = [str(p) for spec in raw["services"].values() for p in spec.get("ports") or []]

    assert specs == [
        "${PUBLISHED_SMTP_PORT:-2525}:2525",
        "${PUBLISHED_SUBMISSION_PORT:-2587}:2587",
        "${PUBLISHED_SUBMISSIONS_PORT:-2465}:2465",
        "${PUBLISHED_WEB_PORT:-8080}:8080",
        "${PUBLISHED_IMAP_PORT:-2143}:2143",
        "${PUBLISHED_IMAPS_PORT:-2993}:2993",
        "${PUBLISHED_POP3_PORT:-2110}:2110",
        "${PUBLISHED_POP3S_PORT:-2995}:2995",
    ]


def test_published_ports_are_the_ones_the_services_listen_on(
    compose: dict[str, Any], secrets: Path
) -> None:
    gateway = load_service_config(
        "smtp-gateway", container_environment(compose, "smtp-gateway", secrets)
    )
    web = load_service_config("web", container_environment(compose, "web", secrets))

    assert (gateway.smtp_port, gateway.submission_port, web.port) == (2525, 2587, 8080)
    # Implicit-TLS submission opens because compose gives the gateway its TLS files.
    assert (gateway.submissions_port, gateway.tls is not None) == (2465, True)
    assert gateway.host == web.host == "0.0.0.0"


def test_the_published_pop3_ports_are_the_ones_the_gateway_listens_on(
    compose: dict[str, Any], secrets: Path
) -> None:
    environ = container_environment(compose, "imap-gateway", secrets)
    imap = load_service_config("imap-gateway", environ)

    assert (imap.pop3_port, imap.pop3s_port) == (2110, 2995)
    assert imap.tls is not None  # so that POP3S opens and STLS is offered


@pytest.mark.parametrize("service", SERVICES)
def test_healthcheck_asks_readyz_on_the_service_port(
    compose: dict[str, Any], service: str, secrets: Path
) -> None:
    spec = compose["services"][service]
    config = load_service_config(service, container_environment(compose, service, secrets))
    port = getattr(config, HTTP_PORT_FIELD[service])

    assert healthcheck_url(spec) == f"http://127.0.0.1:{port}/readyz"


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    unchecked = {
        name
        for name, spec in compose["services"].items()
        if "healthcheck" not in spec and spec.get("restart") != "no"
    }

    assert unchecked == set()


def test_dependencies_wait_for_health_or_completion(compose: dict[str, Any]) -> None:
    expected = {
        "postgres": "service_healthy",
        "rabbitmq": "service_healthy",
        "certs": "service_completed_successfully",
        "secrets": "service_completed_successfully",
        "mailstore": "service_healthy",
        "smtp-gateway": "service_healthy",
        # The web's /readyz is real only with the webmail issue; nothing waits on it.
        "web": "service_started",
    }
    for name, spec in compose["services"].items():
        for dependency, condition in (spec.get("depends_on") or {}).items():
            assert condition == {"condition": expected[dependency]}, f"{name} -> {dependency}"


def test_database_broker_and_store_are_on_the_internal_network_only(
    compose: dict[str, Any],
) -> None:
    assert compose["networks"]["internal"] == {"internal": True}
    assert compose["networks"]["store"] == {"internal": True}
    services = compose["services"]
    assert services["rabbitmq"]["networks"] == ["internal"]
    assert services["mailstore"]["networks"] == ["internal", "store"]
    for name in ("postgres", "rabbitmq", "mailstore"):
        assert "ports" not in services[name], name


def test_only_the_mail_store_can_reach_the_database(compose: dict[str, Any]) -> None:
    on_store = [n for n, spec in compose["services"].items() if "store" in spec.get("networks", [])]

    assert sorted(on_store) == ["mailstore", "postgres"]
    assert compose["services"]["postgres"]["networks"] == ["store"]


def test_services_agree_on_shared_settings_under_compose(
    configs_under_compose: tuple[Any, Any, Any],
) -> None:
    gateway, mailstore, web = configs_under_compose

    assert gateway.mailstore_token == mailstore.token == web.mailstore_token
    assert gateway.web_submission_secret == web.submission_secret
    assert (web.submission_host, web.submission_port) == ("smtp-gateway", gateway.submission_port)
    assert gateway.mailstore_url == web.mailstore_url == f"http://mailstore:{mailstore.port}"
    assert gateway.amqp_url == mailstore.amqp_url
    assert gateway.queue_prefix == mailstore.queue_prefix
    assert gateway.domains == mailstore.domains == web.domains


async def test_the_benchmarks_postgresql_runs_with_compose_settings(
    compose: dict[str, Any],
) -> None:
    # bench/stackbench.py gives its private cluster these settings, so that its figures
    # are those of the server compose runs: check that they are real ones, and take.
    settings = postgres_settings(compose)
    assert {"shared_buffers", "max_wal_size"} <= set(settings)
    if (why := private_postgres.available()) is not None:
        pytest.skip(why)
    server = PrivatePostgres(settings)
    try:
        await server.start()
        con = await asyncpg.connect(server.url)
        try:
            shown = {
                name: await con.fetchval("SELECT current_setting($1)", name) for name in settings
            }
        finally:
            await con.close()
    finally:
        await server.remove()
    assert shown == settings


# -- secrets: generated on first start, never written in the compose file ------------------


def test_secrets_one_shot_makes_three_distinct_secrets_only_the_services_can_read(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    run_secrets_script(compose, tmp_path)

    files = {path.name: path for path in tmp_path.iterdir()}
    assert sorted(files) == sorted(SECRET_NAMES)
    values = {path.read_text() for path in files.values()}
    assert len(values) == len(SECRET_NAMES)
    for name, path in files.items():
        # 32 random bytes as hex: URL- and header-safe; one newline, which services drop.
        assert re.fullmatch(r"[0-9a-f]{64}\n", path.read_text()), name
        info = path.stat()
        assert (info.st_uid, info.st_gid) == (SERVICE_UID, SERVICE_UID), name
        assert stat.S_IMODE(info.st_mode) == 0o400, name


def test_secrets_one_shot_keeps_them_and_remakes_only_a_removed_one(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    run_secrets_script(compose, tmp_path)
    first = {name: (tmp_path / name).read_text() for name in SECRET_NAMES}
    (tmp_path / "web_secret_key").unlink()

    run_secrets_script(compose, tmp_path)

    second = {name: (tmp_path / name).read_text() for name in SECRET_NAMES}
    assert {n: v for n, v in second.items() if first[n] == v}.keys() == {
        "mailstore_token",
        "web_submission_secret",
    }
    assert stat.S_IMODE((tmp_path / "web_secret_key").stat().st_mode) == 0o400


def test_secrets_one_shot_remakes_what_an_interrupted_run_left(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    # A run killed between writing and renaming leaves a partial file under .new.
    (tmp_path / ".new").mkdir()
    (tmp_path / ".new" / "mailstore_token").write_text("0123")
    (tmp_path / "web_secret_key").write_text("")

    run_secrets_script(compose, tmp_path)

    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(SECRET_NAMES)
    for name in SECRET_NAMES:
        assert re.fullmatch(r"[0-9a-f]{64}\n", (tmp_path / name).read_text()), name


def test_secrets_one_shot_runs_like_the_certs_one(compose: dict[str, Any]) -> None:
    certs, secrets = compose["services"]["certs"], compose["services"]["secrets"]

    for key in ("image", "entrypoint", "network_mode", "restart"):
        assert secrets[key] == certs[key], key
    assert secrets["volumes"] == [f"secrets:{SECRETS_DIR}"]
    # Compose would interpolate a `$` (the script would run with the text replaced).
    assert "$" not in secrets_script(compose)


@pytest.mark.parametrize("service", SERVICES)
def test_services_mount_the_secrets_read_only_after_the_one_shot(
    compose: dict[str, Any], service: str
) -> None:
    spec = compose["services"][service]
    files = SECRET_FILES & service_environment(compose, service).keys()

    assert files, f"{service} reads a secret, so from the volume"
    assert f"secrets:{SECRETS_DIR}:ro" in spec["volumes"]
    assert spec["depends_on"]["secrets"] == {"condition": "service_completed_successfully"}


def test_the_services_run_with_the_generated_secrets_not_the_development_ones(
    configs_under_compose: tuple[Any, Any, Any], secrets: Path
) -> None:
    gateway, mailstore, web = configs_under_compose

    assert [gateway.dev, mailstore.dev, web.dev] == [False, False, False]
    generated = {name: (secrets / name).read_text().rstrip("\n") for name in SECRET_NAMES}
    assert mailstore.token == generated["mailstore_token"]
    assert gateway.web_submission_secret == generated["web_submission_secret"]
    assert web.secret_key == generated["web_secret_key"]


@pytest.mark.parametrize("service", list(load_compose()["services"]))
def test_compose_sets_no_localpost_dev_and_no_secret_value(
    compose: dict[str, Any], service: str
) -> None:
    environ = service_environment(compose, service)

    assert "LOCALPOST_DEV" not in environ
    secrets = {name.removesuffix("_FILE") for name in SECRET_FILES}
    assert secrets & environ.keys() == set()


def test_no_development_secret_is_anywhere_in_the_compose_file() -> None:
    text = COMPOSE_FILE.read_text()
    for service in SERVICES.values():
        settings = importlib.import_module(f"{service}.settings")
        for name in dir(settings):
            if name.startswith("DEV_"):
                assert getattr(settings, name) not in text, name


# The web's setting that tells mail programs a port -> compose's variable that publishes it.
PUBLIC_PORTS = {
    "PUBLIC_IMAP_PORT": "PUBLISHED_IMAP_PORT",
    "PUBLIC_IMAPS_PORT": "PUBLISHED_IMAPS_PORT",
    "PUBLIC_SUBMISSION_PORT": "PUBLISHED_SUBMISSION_PORT",
    "PUBLIC_SUBMISSIONS_PORT": "PUBLISHED_SUBMISSIONS_PORT",
    "PUBLIC_POP3_PORT": "PUBLISHED_POP3_PORT",
    "PUBLIC_POP3S_PORT": "PUBLISHED_POP3S_PORT",
}


def test_the_web_tells_mail_programs_the_ports_compose_publishes() -> None:
    """Autoconfiguration (docs/mail-programs.md) names the host ports: moving one with
    PUBLISHED_*_PORT must move what the documents say, and POP3 is offered only once
    compose publishes it."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    published = {
        match.group(1): match.group(2)
        for spec in raw["services"].values()
        for port in spec.get("ports") or []
        if (match := re.fullmatch(r"\$\{(\w+):-(\d+)\}:\d+", str(port)))
    }
    web = raw["services"]["web"]["environment"]

    for public, variable in PUBLIC_PORTS.items():
        if variable in published:
            assert web[public] == f"${{{variable}:-{published[variable]}}}", public
    pop3_published = {"PUBLISHED_POP3_PORT", "PUBLISHED_POP3S_PORT"} <= published.keys()
    assert web["LOCALPOST_POP3"] == ("1" if pop3_published else "0")
