"""The service's configuration: the issue 13 contract, strict casts, secrets as elsewhere."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from imap_gateway.listeners import session_settings
from imap_gateway.settings import (
    DEV_MAILSTORE_TOKEN,
    ConfigError,
    DevAccount,
    MiB,
    TLSFiles,
    load_config,
)
from imap_gateway.wire.limits import LITERAL_MINUS_MAX

DEV = {"LOCALPOST_DEV": "1"}
PRODUCTION = {"MAILSTORE_TOKEN": "m" * 32}


def config_error(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as excinfo:
        load_config(environ)
    return excinfo.value


def secret_file(tmp_path: Path, value: str) -> str:
    path = tmp_path / "secret"
    path.write_text(value + "\n", encoding="utf-8")
    return str(path)


def test_defaults_are_the_documented_contract() -> None:
    config = load_config(DEV)

    assert config.host == "127.0.0.1"
    assert (config.imap_port, config.imaps_port, config.http_port) == (2143, 2993, 8143)
    assert config.domains == ("localpost.test",)
    assert config.amqp_url == "amqp://guest:guest@localhost:5672/"
    assert config.queue_prefix == "localpost"
    assert config.mailstore_url == "http://127.0.0.1:8081"
    assert config.mailstore_token == DEV_MAILSTORE_TOKEN
    assert config.trusted_networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1"),
    )
    assert config.tls is None
    assert config.dev is True
    assert config.idle_timeout == 30 * 60
    assert config.login_timeout == 60.0
    assert config.command_timeout == 60.0
    assert config.append_limit == 25 * MiB
    assert config.stop_grace == 8.0
    assert (config.max_connections_per_source, config.max_connections_per_account) == (50, 20)
    assert (config.commands_per_second, config.command_burst) == (50.0, 200)
    assert config.test_memory_user is None


def test_production_needs_the_mailstore_token() -> None:
    assert config_error({}).variable == "MAILSTORE_TOKEN"
    assert load_config(PRODUCTION).mailstore_token == "m" * 32


def test_the_development_token_is_refused_outside_dev() -> None:
    error = config_error({"MAILSTORE_TOKEN": DEV_MAILSTORE_TOKEN})

    assert error.variable == "MAILSTORE_TOKEN"
    assert DEV_MAILSTORE_TOKEN not in str(error)


def test_short_token_is_refused_without_quoting_it() -> None:
    error = config_error({"MAILSTORE_TOKEN": "short-secret"})

    assert error.variable == "MAILSTORE_TOKEN"
    assert "short-secret" not in str(error)


def test_token_may_come_from_a_file(tmp_path: Path) -> None:
    config = load_config({"MAILSTORE_TOKEN_FILE": secret_file(tmp_path, "f" * 20)})

    assert config.mailstore_token == "f" * 20


def test_token_and_its_file_together_are_refused(tmp_path: Path) -> None:
    environ = {**PRODUCTION, "MAILSTORE_TOKEN_FILE": secret_file(tmp_path, "f" * 20)}

    assert config_error(environ).variable == "MAILSTORE_TOKEN"


def test_unreadable_token_file_is_named(tmp_path: Path) -> None:
    error = config_error({"MAILSTORE_TOKEN_FILE": str(tmp_path / "missing")})

    assert error.variable == "MAILSTORE_TOKEN_FILE"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "imap.example.org"])
def test_dev_beyond_loopback_is_refused_saying_why(host: str) -> None:
    error = config_error({**DEV, "IMAP_HOST": host})

    assert error.variable == "IMAP_HOST"
    for words in ("LOCALPOST_DEV=1", "127.0.0.1", "MAILSTORE_TOKEN"):
        assert words in str(error)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_dev_on_loopback_is_allowed(host: str) -> None:
    assert load_config({**DEV, "IMAP_HOST": host}).host == host


def test_real_secrets_may_listen_beyond_loopback() -> None:
    assert load_config({**PRODUCTION, "IMAP_HOST": "0.0.0.0"}).host == "0.0.0.0"


@pytest.mark.parametrize("value", ["yes", "2", " 1"])
def test_dev_flag_accepts_only_0_or_1(value: str) -> None:
    assert config_error({"LOCALPOST_DEV": value}).variable == "LOCALPOST_DEV"


@pytest.mark.parametrize(
    "variable", ["IMAP_PORT", "IMAPS_PORT", "POP3_PORT", "POP3S_PORT", "IMAP_HTTP_PORT"]
)
@pytest.mark.parametrize("value", ["", "imap", "0", "65536", "143.0", "-1", " 143"])
def test_malformed_port_is_refused_by_name(variable: str, value: str) -> None:
    assert config_error({**DEV, variable: value}).variable == variable


def test_imaps_port_may_not_equal_imap_port() -> None:
    assert config_error({**DEV, "IMAPS_PORT": "2143"}).variable == "IMAPS_PORT"


def test_pop3_ports_default_to_2110_and_2995() -> None:
    config = load_config(DEV)
    assert (config.pop3_port, config.pop3s_port) == (2110, 2995)


@pytest.mark.parametrize(
    ("variable", "value"), [("POP3_PORT", "2143"), ("POP3S_PORT", "2110"), ("POP3S_PORT", "2993")]
)
def test_pop3_ports_may_not_equal_another_listener(variable: str, value: str) -> None:
    assert config_error({**DEV, variable: value}).variable == variable


def test_http_port_may_not_equal_an_imap_port() -> None:
    assert config_error({**DEV, "IMAP_HTTP_PORT": "2993"}).variable == "IMAP_HTTP_PORT"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AMQP_URL", "http://rabbit/"),
        ("MAILSTORE_URL", "ftp://mailstore"),
        ("LOCALPOST_QUEUE_PREFIX", "amq.mail"),
        ("LOCALPOST_DOMAIN", "a..b"),
        ("LOCALPOST_TRUSTED_NETWORKS", "10.0.0.1/8"),
    ],
)
def test_malformed_shared_variables_are_refused_by_name(variable: str, value: str) -> None:
    assert config_error({**DEV, variable: value}).variable == variable


def test_tls_files_are_taken_as_a_pair() -> None:
    config = load_config({**DEV, "LOCALPOST_TLS_CERT": "/c/tls.crt", "LOCALPOST_TLS_KEY": "/c/k"})

    assert config.tls == TLSFiles(cert=Path("/c/tls.crt"), key=Path("/c/k"))
    assert config_error({**DEV, "LOCALPOST_TLS_CERT": "/c/tls.crt"}).variable == (
        "LOCALPOST_TLS_KEY"
    )


def test_limits_are_cast() -> None:
    config = load_config(
        {
            **DEV,
            "IMAP_MAX_CONNECTIONS_PER_SOURCE": "7",
            "IMAP_MAX_CONNECTIONS_PER_ACCOUNT": "3",
            "IMAP_COMMANDS_PER_SECOND": "12.5",
            "IMAP_COMMAND_BURST": "40",
            "IMAP_IDLE_TIMEOUT": "3600",
            "IMAP_LOGIN_TIMEOUT": "30",
            "IMAP_COMMAND_TIMEOUT": "20",
            "IMAP_APPENDLIMIT": "104857600",
            "IMAP_STOP_GRACE": "5",
        }
    )

    assert (config.max_connections_per_source, config.max_connections_per_account) == (7, 3)
    assert (config.commands_per_second, config.command_burst) == (12.5, 40)
    assert (config.idle_timeout, config.login_timeout, config.command_timeout) == (3600, 30, 20)
    assert (config.append_limit, config.stop_grace) == (100 * MiB, 5.0)


@pytest.mark.parametrize(
    "variable",
    [
        "IMAP_COMMANDS_PER_SECOND",
        "IMAP_IDLE_TIMEOUT",
        "IMAP_LOGIN_TIMEOUT",
        "IMAP_COMMAND_TIMEOUT",
        "IMAP_STOP_GRACE",
    ],
)
@pytest.mark.parametrize("value", ["", "0", "-1", "1e3", "inf", "nan", " 5", "5s"])
def test_malformed_seconds_are_refused_by_name(variable: str, value: str) -> None:
    assert config_error({**DEV, variable: value}).variable == variable


@pytest.mark.parametrize(
    "variable",
    [
        "IMAP_MAX_CONNECTIONS_PER_SOURCE",
        "IMAP_MAX_CONNECTIONS_PER_ACCOUNT",
        "IMAP_COMMAND_BURST",
        "IMAP_APPENDLIMIT",
    ],
)
@pytest.mark.parametrize("value", ["", "0", "-1", "1.5", "1e3", " 5", "five"])
def test_malformed_counts_are_refused_by_name(variable: str, value: str) -> None:
    assert config_error({**DEV, variable: value}).variable == variable


def test_idle_timeout_below_30_minutes_is_refused_citing_the_rfc() -> None:
    error = config_error({**DEV, "IMAP_IDLE_TIMEOUT": "1799"})

    assert error.variable == "IMAP_IDLE_TIMEOUT"
    assert "RFC 9051" in str(error)


def test_test_memory_user_is_taken_in_dev_and_kept_out_of_reprs() -> None:
    config = load_config({**DEV, "IMAP_TEST_MEMORY_USER": "a@localpost.test:pass:word"})

    assert config.test_memory_user == DevAccount("a@localpost.test", "pass:word")
    assert "pass:word" not in repr(config)


def test_test_memory_user_is_refused_outside_dev() -> None:
    error = config_error({**PRODUCTION, "IMAP_TEST_MEMORY_USER": "a@localpost.test:secret"})

    assert error.variable == "IMAP_TEST_MEMORY_USER"
    assert "secret" not in str(error)


@pytest.mark.parametrize("value", ["", "nobody", "a@b.test:", "no-at:password"])
def test_malformed_test_memory_user_is_refused(value: str) -> None:
    assert config_error({**DEV, "IMAP_TEST_MEMORY_USER": value}).variable == (
        "IMAP_TEST_MEMORY_USER"
    )


def test_literal_minus_by_default_and_literal_plus_on_request() -> None:
    """RFC 7888: LITERAL- (non-synchronizing literals up to 4096 octets) unless
    IMAP_LITERAL_PLUS=1, which imaptest's script runner needs."""
    default = session_settings(load_config(DEV), None).wire
    plus = session_settings(load_config(DEV | {"IMAP_LITERAL_PLUS": "1"}), None).wire

    assert default.max_nonsync_literal == LITERAL_MINUS_MAX
    assert plus.max_nonsync_literal is None
    assert plus.max_literal_size == 25 * MiB
    assert "IMAP_LITERAL_PLUS" in str(config_error(DEV | {"IMAP_LITERAL_PLUS": "yes"}))
