from __future__ import annotations

from pathlib import Path

import pytest

from webmail.settings import (
    DEV_MAILSTORE_TOKEN,
    DEV_WEB_SECRET_KEY,
    DEV_WEB_SUBMISSION_SECRET,
    MIN_SECRET_KEY_LENGTH,
    ConfigError,
    load_config,
)

DEV = {"LOCALPOST_DEV": "1"}
PRODUCTION = {
    "MAILSTORE_TOKEN": "m" * 32,
    "WEB_SUBMISSION_SECRET": "s" * 32,
    "WEB_SECRET_KEY": "k" * 64,
}
DEV_SECRETS = [
    ("MAILSTORE_TOKEN", DEV_MAILSTORE_TOKEN),
    ("WEB_SUBMISSION_SECRET", DEV_WEB_SUBMISSION_SECRET),
    ("WEB_SECRET_KEY", DEV_WEB_SECRET_KEY),
]


def config_error(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as excinfo:
        load_config(environ)
    return excinfo.value


def test_defaults_are_the_documented_contract() -> None:
    config = load_config(DEV)

    assert config.domains == ("localpost.test",)
    assert (config.host, config.port) == ("127.0.0.1", 8080)
    assert config.mailstore_url == "http://127.0.0.1:8081"
    assert (config.submission_host, config.submission_port) == ("127.0.0.1", 2587)
    assert config.broker_reconnect_interval == 2.0
    assert config.mailstore_timeout == 2.0
    assert config.dev is True


def test_dev_secrets_are_used_when_dev_is_on() -> None:
    config = load_config(DEV)

    assert config.mailstore_token == DEV_MAILSTORE_TOKEN
    assert config.submission_secret == DEV_WEB_SUBMISSION_SECRET
    assert config.secret_key == DEV_WEB_SECRET_KEY


def test_real_secrets_are_accepted_outside_dev() -> None:
    config = load_config(PRODUCTION)

    assert config.dev is False
    assert config.secret_key == "k" * 64


@pytest.mark.parametrize("variable", [name for name, _ in DEV_SECRETS])
def test_missing_secret_outside_dev_is_refused_by_name(variable: str) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != variable}

    assert config_error(environ).variable == variable


@pytest.mark.parametrize(("variable", "dev_value"), DEV_SECRETS)
def test_dev_secret_set_explicitly_outside_dev_is_refused(variable: str, dev_value: str) -> None:
    error = config_error({**PRODUCTION, variable: dev_value})

    assert error.variable == variable
    assert dev_value not in str(error)


def test_secret_key_shorter_than_an_hmac_key_is_refused() -> None:
    short = "k" * (MIN_SECRET_KEY_LENGTH - 1)

    assert config_error({**PRODUCTION, "WEB_SECRET_KEY": short}).variable == "WEB_SECRET_KEY"


def test_secrets_stay_out_of_repr() -> None:
    text = repr(load_config(PRODUCTION))

    for secret in PRODUCTION.values():
        assert secret not in text


# -- secrets from files (<name>_FILE) --------------------------------------------------------

SECRET_FIELDS = {
    "MAILSTORE_TOKEN": "mailstore_token",
    "WEB_SUBMISSION_SECRET": "submission_secret",
    "WEB_SECRET_KEY": "secret_key",
}


def secret_file(tmp_path: Path, text: str, name: str = "secret") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def from_file(variable: str, path: str) -> dict[str, str]:
    """The production secrets with ``variable`` given by file instead."""
    environ = {k: v for k, v in PRODUCTION.items() if k != variable}
    return {**environ, f"{variable}_FILE": path}


@pytest.mark.parametrize("variable", SECRET_FIELDS)
def test_secret_is_read_from_the_file_its_file_variable_names(
    tmp_path: Path, variable: str
) -> None:
    config = load_config(from_file(variable, secret_file(tmp_path, "f" * 64 + "\n")))

    assert getattr(config, SECRET_FIELDS[variable]) == "f" * 64
    assert "f" * 64 not in repr(config)


def test_only_one_trailing_newline_of_a_secret_file_is_dropped(tmp_path: Path) -> None:
    environ = from_file("WEB_SECRET_KEY", secret_file(tmp_path, "f" * 64 + "\n\n"))

    assert config_error(environ).variable == "WEB_SECRET_KEY_FILE"


@pytest.mark.parametrize("variable", SECRET_FIELDS)
def test_secret_and_its_file_both_set_is_an_error_naming_both(
    tmp_path: Path, variable: str
) -> None:
    environ = {**PRODUCTION, f"{variable}_FILE": secret_file(tmp_path, "f" * 64)}

    error = config_error(environ)

    assert error.variable == variable
    assert f"{variable}_FILE" in str(error)


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "newline only"])
def test_unusable_secret_file_names_the_variable_and_the_path(tmp_path: Path, case: str) -> None:
    path = {
        "missing": str(tmp_path / "nowhere"),
        "directory": str(tmp_path),
        "empty": secret_file(tmp_path, ""),
        "newline only": secret_file(tmp_path, "\n"),
    }[case]

    error = config_error(from_file("WEB_SUBMISSION_SECRET", path))

    assert error.variable == "WEB_SUBMISSION_SECRET_FILE"
    assert path in str(error)


@pytest.mark.parametrize(("variable", "dev_value"), DEV_SECRETS)
def test_dev_value_in_a_file_outside_dev_is_refused(
    tmp_path: Path, variable: str, dev_value: str
) -> None:
    error = config_error(from_file(variable, secret_file(tmp_path, dev_value)))

    assert error.variable == f"{variable}_FILE"
    assert dev_value not in str(error)


def test_secret_key_file_shorter_than_an_hmac_key_is_refused(tmp_path: Path) -> None:
    short = "k" * (MIN_SECRET_KEY_LENGTH - 1)

    error = config_error(from_file("WEB_SECRET_KEY", secret_file(tmp_path, short)))

    assert error.variable == "WEB_SECRET_KEY_FILE"


# -- development secrets only on loopback ----------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "::1", "localhost"])
def test_dev_secrets_are_allowed_on_loopback(host: str) -> None:
    assert load_config({**DEV, "WEB_HOST": host}).dev is True


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "webmail.example.org"])
def test_dev_secrets_beyond_loopback_are_refused_saying_why_and_what_to_do(host: str) -> None:
    error = config_error({**DEV, "WEB_HOST": host})

    assert error.variable == "WEB_HOST"
    for words in ("LOCALPOST_DEV=1", "127.0.0.1", *SECRET_FIELDS):
        assert words in str(error)


def test_dev_beyond_loopback_is_refused_even_with_real_secrets() -> None:
    error = config_error({**PRODUCTION, **DEV, "WEB_HOST": "0.0.0.0"})

    assert error.variable == "WEB_HOST"


def test_real_secrets_may_listen_beyond_loopback() -> None:
    assert load_config({**PRODUCTION, "WEB_HOST": "0.0.0.0"}).host == "0.0.0.0"


@pytest.mark.parametrize("value", ["on", "true", "2"])
def test_dev_flag_accepts_only_0_or_1(value: str) -> None:
    assert config_error({"LOCALPOST_DEV": value}).variable == "LOCALPOST_DEV"


@pytest.mark.parametrize("variable", ["WEB_PORT", "SUBMISSION_PORT"])
@pytest.mark.parametrize("value", ["", "web", "0", "65536", "8080.0", "8080 "])
def test_malformed_port_is_refused_by_name(variable: str, value: str) -> None:
    assert config_error({**DEV, variable: value}).variable == variable


def test_ports_are_cast_to_int() -> None:
    config = load_config({**DEV, "WEB_PORT": "80", "SUBMISSION_PORT": "587"})

    assert (config.port, config.submission_port) == (80, 587)


@pytest.mark.parametrize("variable", ["WEB_HOST", "SUBMISSION_HOST"])
@pytest.mark.parametrize("value", ["", " smtp-gateway"])
def test_malformed_host_is_refused_by_name(variable: str, value: str) -> None:
    assert config_error({**DEV, variable: value}).variable == variable


def test_broker_reconnect_interval_is_cast_to_seconds() -> None:
    config = load_config({**DEV, "WEB_BROKER_RECONNECT_INTERVAL": "0.5"})

    assert config.broker_reconnect_interval == 0.5


@pytest.mark.parametrize("value", ["", "0", "-1", "2s", "1e3", " 2"])
@pytest.mark.parametrize("variable", ["WEB_BROKER_RECONNECT_INTERVAL", "WEB_MAILSTORE_TIMEOUT"])
def test_malformed_seconds_are_refused(variable: str, value: str) -> None:
    assert config_error({**DEV, variable: value}).variable == variable


def test_mailstore_timeout_is_cast_to_seconds() -> None:
    config = load_config({**DEV, "WEB_MAILSTORE_TIMEOUT": "0.5"})

    assert config.mailstore_timeout == 0.5


@pytest.mark.parametrize("value", ["mailstore:8081", "tcp://mailstore:8081", "http://"])
def test_malformed_mailstore_url_is_refused(value: str) -> None:
    assert config_error({**DEV, "MAILSTORE_URL": value}).variable == "MAILSTORE_URL"


def test_malformed_domain_is_refused() -> None:
    error = config_error({**DEV, "LOCALPOST_DOMAIN": "localpost.test,not_a_domain"})

    assert error.variable == "LOCALPOST_DOMAIN"
