from __future__ import annotations

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
def test_malformed_broker_reconnect_interval_is_refused(value: str) -> None:
    variable = "WEB_BROKER_RECONNECT_INTERVAL"

    assert config_error({**DEV, variable: value}).variable == variable


@pytest.mark.parametrize("value", ["mailstore:8081", "tcp://mailstore:8081", "http://"])
def test_malformed_mailstore_url_is_refused(value: str) -> None:
    assert config_error({**DEV, "MAILSTORE_URL": value}).variable == "MAILSTORE_URL"


def test_malformed_domain_is_refused() -> None:
    error = config_error({**DEV, "LOCALPOST_DOMAIN": "localpost.test,not_a_domain"})

    assert error.variable == "LOCALPOST_DOMAIN"
