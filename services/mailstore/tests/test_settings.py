from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from mailstore.settings import (
    DEV_MAILSTORE_TOKEN,
    QUEUE_PER_WORKER,
    ConfigError,
    available_cpus,
    load_config,
)

DEV = {"LOCALPOST_DEV": "1"}
PRODUCTION = {"MAILSTORE_TOKEN": "m" * 32}


def config_error(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as excinfo:
        load_config(environ)
    return excinfo.value


def test_defaults_are_the_documented_contract() -> None:
    config = load_config(DEV)

    assert (config.host, config.port) == ("127.0.0.1", 8081)
    assert config.database_url == "postgresql://localhost/localpost"
    assert config.amqp_url == "amqp://guest:guest@localhost:5672/"
    assert config.queue_prefix == "localpost"
    assert config.domains == ("localpost.test",)
    assert config.token == DEV_MAILSTORE_TOKEN
    assert config.dev is True


def test_real_token_is_accepted_outside_dev() -> None:
    config = load_config(PRODUCTION)

    assert config.dev is False
    assert config.token == "m" * 32


def test_missing_token_outside_dev_is_refused_by_name() -> None:
    assert config_error({}).variable == "MAILSTORE_TOKEN"


def test_dev_token_set_explicitly_outside_dev_is_refused() -> None:
    error = config_error({"MAILSTORE_TOKEN": DEV_MAILSTORE_TOKEN})

    assert error.variable == "MAILSTORE_TOKEN"
    assert DEV_MAILSTORE_TOKEN not in str(error)


def test_short_token_is_refused() -> None:
    assert config_error({"MAILSTORE_TOKEN": "short"}).variable == "MAILSTORE_TOKEN"


# -- the token from a file (MAILSTORE_TOKEN_FILE) -------------------------------------------


def secret_file(tmp_path: Path, text: str, name: str = "secret") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_token_is_read_from_the_file_mailstore_token_file_names(tmp_path: Path) -> None:
    config = load_config({"MAILSTORE_TOKEN_FILE": secret_file(tmp_path, "f" * 64 + "\n")})

    assert config.token == "f" * 64
    assert "f" * 64 not in repr(config)


def test_only_one_trailing_newline_of_the_token_file_is_dropped(tmp_path: Path) -> None:
    environ = {"MAILSTORE_TOKEN_FILE": secret_file(tmp_path, "f" * 64 + "\n\n")}

    assert config_error(environ).variable == "MAILSTORE_TOKEN_FILE"


def test_token_and_its_file_both_set_is_an_error_naming_both(tmp_path: Path) -> None:
    environ = {**PRODUCTION, "MAILSTORE_TOKEN_FILE": secret_file(tmp_path, "f" * 64)}

    error = config_error(environ)

    assert error.variable == "MAILSTORE_TOKEN"
    assert "MAILSTORE_TOKEN_FILE" in str(error)


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "newline only"])
def test_unusable_token_file_names_the_variable_and_the_path(tmp_path: Path, case: str) -> None:
    path = {
        "missing": str(tmp_path / "nowhere"),
        "directory": str(tmp_path),
        "empty": secret_file(tmp_path, ""),
        "newline only": secret_file(tmp_path, "\n"),
    }[case]

    error = config_error({"MAILSTORE_TOKEN_FILE": path})

    assert error.variable == "MAILSTORE_TOKEN_FILE"
    assert path in str(error)


@pytest.mark.parametrize("text", ["hunter2", "f" * 32 + " ", DEV_MAILSTORE_TOKEN])
def test_the_token_file_obeys_the_rules_of_the_variable(tmp_path: Path, text: str) -> None:
    error = config_error({"MAILSTORE_TOKEN_FILE": secret_file(tmp_path, text)})

    assert error.variable == "MAILSTORE_TOKEN_FILE"
    assert text not in str(error)


# -- the development token only on loopback --------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "localhost"])
def test_dev_token_is_allowed_on_loopback(host: str) -> None:
    assert load_config({**DEV, "MAILSTORE_HOST": host}).dev is True


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "172.18.0.4", "mailstore"])
def test_dev_token_beyond_loopback_is_refused_saying_why_and_what_to_do(host: str) -> None:
    error = config_error({**DEV, "MAILSTORE_HOST": host})

    assert error.variable == "MAILSTORE_HOST"
    for words in ("LOCALPOST_DEV=1", "127.0.0.1", "MAILSTORE_TOKEN"):
        assert words in str(error)


def test_dev_beyond_loopback_is_refused_even_with_a_real_token() -> None:
    error = config_error({**PRODUCTION, **DEV, "MAILSTORE_HOST": "0.0.0.0"})

    assert error.variable == "MAILSTORE_HOST"


def test_a_real_token_may_listen_beyond_loopback() -> None:
    assert load_config({**PRODUCTION, "MAILSTORE_HOST": "0.0.0.0"}).host == "0.0.0.0"


def test_credentials_stay_out_of_repr() -> None:
    config = load_config(
        {
            **PRODUCTION,
            "DATABASE_URL": "postgresql://store:dbpass@db/localpost",
            "AMQP_URL": "amqp://store:brokerpass@rabbit/",
        }
    )

    for secret in ("m" * 32, "dbpass", "brokerpass"):
        assert secret not in repr(config)


@pytest.mark.parametrize("value", ["yes", "true", "2"])
def test_dev_flag_accepts_only_0_or_1(value: str) -> None:
    assert config_error({"LOCALPOST_DEV": value}).variable == "LOCALPOST_DEV"


@pytest.mark.parametrize("value", ["", "http", "0", "65536", "80.0", " 8081"])
def test_malformed_port_is_refused_by_name(value: str) -> None:
    assert config_error({**DEV, "MAILSTORE_PORT": value}).variable == "MAILSTORE_PORT"


def test_port_is_cast_to_int() -> None:
    assert load_config({**DEV, "MAILSTORE_PORT": "9000"}).port == 9000


@pytest.mark.parametrize(
    "value",
    ["postgresql://db/localpost", "postgres://u:p@db:5433/localpost", "postgresql://localhost"],
)
def test_postgres_urls_are_accepted(value: str) -> None:
    assert load_config({**DEV, "DATABASE_URL": value}).database_url == value


@pytest.mark.parametrize("value", ["mysql://db/x", "localhost/localpost", "postgresql://db:x/y"])
def test_malformed_database_url_is_refused_without_quoting_it(value: str) -> None:
    error = config_error({**DEV, "DATABASE_URL": value})

    assert error.variable == "DATABASE_URL"
    assert value not in str(error)


def test_malformed_amqp_url_is_refused() -> None:
    assert config_error({**DEV, "AMQP_URL": "redis://broker"}).variable == "AMQP_URL"


def test_domains_are_a_lowercased_comma_separated_list() -> None:
    config = load_config({**DEV, "LOCALPOST_DOMAIN": "A.test,b.test"})

    assert config.domains == ("a.test", "b.test")


def test_unusable_queue_prefix_is_refused() -> None:
    error = config_error({**DEV, "LOCALPOST_QUEUE_PREFIX": "amq.x"})

    assert error.variable == "LOCALPOST_QUEUE_PREFIX"


def test_prefetch_defaults_to_128_and_is_a_positive_count() -> None:
    assert load_config(DEV).prefetch == 128
    assert load_config({**DEV, "MAILSTORE_PREFETCH": "5"}).prefetch == 5
    for value in ("0", "-1", "x", "100000"):
        assert config_error({**DEV, "MAILSTORE_PREFETCH": value}).variable == "MAILSTORE_PREFETCH"


def test_session_days_defaults_to_14_and_is_a_positive_count() -> None:
    assert load_config(DEV).session_days == 14
    assert load_config({**DEV, "MAILSTORE_SESSION_DAYS": "1"}).session_days == 1
    assert load_config({**DEV, "MAILSTORE_SESSION_DAYS": "3650"}).session_days == 3650
    for value in ("", "0", "-1", "1.5", "x", "3651", " 7", "٣"):
        error = config_error({**DEV, "MAILSTORE_SESSION_DAYS": value})
        assert error.variable == "MAILSTORE_SESSION_DAYS"


def test_trash_days_defaults_to_30_and_is_a_positive_count() -> None:
    assert load_config(DEV).trash_days == 30
    assert load_config({**DEV, "MAILSTORE_TRASH_DAYS": "7"}).trash_days == 7
    for value in ("", "0", "-30", "30d", "3651", "30 "):
        error = config_error({**DEV, "MAILSTORE_TRASH_DAYS": value})
        assert error.variable == "MAILSTORE_TRASH_DAYS"


def test_vanished_days_defaults_to_30_and_is_a_positive_count() -> None:
    assert load_config(DEV).vanished_days == 30
    assert load_config({**DEV, "MAILSTORE_VANISHED_DAYS": "90"}).vanished_days == 90
    for value in ("", "0", "-30", "30d", "3651", "30 "):
        error = config_error({**DEV, "MAILSTORE_VANISHED_DAYS": value})
        assert error.variable == "MAILSTORE_VANISHED_DAYS"


def test_password_workers_default_to_the_cpus_with_a_queue_per_worker() -> None:
    config = load_config(DEV)

    assert config.password_workers == available_cpus()
    assert config.password_queue == QUEUE_PER_WORKER * available_cpus()


def test_password_queue_follows_the_workers_unless_set() -> None:
    config = load_config({**DEV, "MAILSTORE_PASSWORD_WORKERS": "3"})
    assert (config.password_workers, config.password_queue) == (3, 3 * QUEUE_PER_WORKER)

    config = load_config({**DEV, "MAILSTORE_PASSWORD_QUEUE": "100"})
    assert config.password_queue == 100


@pytest.mark.parametrize("variable", ["MAILSTORE_PASSWORD_WORKERS", "MAILSTORE_PASSWORD_QUEUE"])
@pytest.mark.parametrize("value", ["", "0", "-1", "1.5", "x", "1000000"])
def test_malformed_password_limits_are_refused_by_name(variable: str, value: str) -> None:
    assert config_error({**DEV, variable: value}).variable == variable


def test_maintenance_runs_hourly_by_default() -> None:
    assert load_config(DEV).maintenance_interval == 3600.0


def test_fault_hook_is_off_unless_set() -> None:
    assert load_config(DEV).fault_exit_after_commits is None
    variable = "MAILSTORE_FAULT_EXIT_AFTER_COMMITS"
    assert load_config({**DEV, variable: "3"}).fault_exit_after_commits == 3
    assert config_error({**DEV, variable: "0"}).variable == variable


def test_trusted_networks_default_to_loopback_and_are_spared_the_throttle() -> None:
    config = load_config(DEV)

    assert config.trusted_networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1"),
    )
    assert config.throttle_trusted is False


def test_trusted_networks_and_throttle_trusted_are_read() -> None:
    config = load_config(
        {
            **DEV,
            "LOCALPOST_TRUSTED_NETWORKS": "10.0.0.0/8, fd00::/8",
            "LOCALPOST_THROTTLE_TRUSTED": "1",
        }
    )

    assert config.trusted_networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert config.throttle_trusted is True


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOCALPOST_TRUSTED_NETWORKS", "10.0.0.1/8"),
        ("LOCALPOST_TRUSTED_NETWORKS", "localhost"),
        ("LOCALPOST_TRUSTED_NETWORKS", ""),
        ("LOCALPOST_THROTTLE_TRUSTED", "yes"),
    ],
)
def test_malformed_trust_settings_are_refused_by_name(variable: str, value: str) -> None:
    assert config_error({**DEV, variable: value}).variable == variable


def test_login_limits_are_the_documented_numbers() -> None:
    limits = load_config(DEV).login_limits

    assert limits.per_client == (20, 900)
    assert limits.per_account_client == (10, 900)
    assert limits.per_account == (100, 3600)


def test_admins_are_addresses_in_the_local_domains() -> None:
    assert load_config(DEV).admins == ()
    assert load_config({**DEV, "LOCALPOST_ADMINS": ""}).admins == ()
    environ = {
        **DEV,
        "LOCALPOST_ADMINS": "Alice@localpost.test, bob@localpost.test,alice@localpost.test",
    }
    assert load_config(environ).admins == ("alice@localpost.test", "bob@localpost.test")


@pytest.mark.parametrize(
    "value", ["alice", "alice@example.com", "@localpost.test", "a@localpost.test,,b@localpost.test"]
)
def test_an_admin_outside_the_local_domains_is_refused_by_name(value: str) -> None:
    assert config_error({**DEV, "LOCALPOST_ADMINS": value}).variable == "LOCALPOST_ADMINS"


def test_the_web_url_is_an_http_url() -> None:
    assert load_config(DEV).web_url == "http://localhost:8080"
    assert load_config({**DEV, "LOCALPOST_WEB_URL": "https://mail.example.org"}).web_url == (
        "https://mail.example.org"
    )
    assert config_error({**DEV, "LOCALPOST_WEB_URL": "mail.example.org"}).variable == (
        "LOCALPOST_WEB_URL"
    )
