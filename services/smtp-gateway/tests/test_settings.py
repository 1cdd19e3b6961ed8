from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from smtp_gateway.settings import (
    DEV_MAILSTORE_TOKEN,
    DEV_WEB_SUBMISSION_SECRET,
    ConfigError,
    TLSFiles,
    load_config,
)

DEV = {"LOCALPOST_DEV": "1"}
PRODUCTION = {
    "MAILSTORE_TOKEN": "m" * 32,
    "WEB_SUBMISSION_SECRET": "w" * 32,
}


def config_error(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as excinfo:
        load_config(environ)
    return excinfo.value


def test_defaults_are_the_documented_contract() -> None:
    config = load_config(DEV)

    assert config.domains == ("localpost.test",)
    assert config.host == "127.0.0.1"
    assert (config.smtp_port, config.submission_port, config.http_port) == (2525, 2587, 8025)
    assert config.submissions_port == 2465
    assert config.amqp_url == "amqp://guest:guest@localhost:5672/"
    assert config.queue_prefix == "localpost"
    assert config.mailstore_url == "http://127.0.0.1:8081"
    assert config.trusted_networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1"),
    )
    assert config.tls is None
    assert config.dev is True
    assert config.hostname == "localpost.test"
    assert config.publish_timeout == 10.0
    assert config.directory_timeout == 3.0
    assert config.auth_timeout == 30.0
    assert (config.directory_cache_ttl, config.directory_negative_ttl) == (30.0, 5.0)
    assert config.broker_reconnect_interval == 2.0
    assert config.stop_grace == 8.0
    assert (config.max_connections_per_source, config.connection_rate_per_source) == (20, 60)
    assert config.max_commands_before_mail == 20
    assert (config.min_data_rate, config.data_rate_grace) == (500, 10.0)


def test_dev_secrets_are_used_when_dev_is_on() -> None:
    config = load_config(DEV)

    assert config.mailstore_token == DEV_MAILSTORE_TOKEN
    assert config.web_submission_secret == DEV_WEB_SUBMISSION_SECRET


def test_real_secrets_are_accepted_outside_dev() -> None:
    config = load_config(PRODUCTION)

    assert config.dev is False
    assert config.mailstore_token == "m" * 32


@pytest.mark.parametrize("variable", ["MAILSTORE_TOKEN", "WEB_SUBMISSION_SECRET"])
def test_missing_secret_outside_dev_is_refused_by_name(variable: str) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != variable}

    assert config_error(environ).variable == variable


@pytest.mark.parametrize(
    ("variable", "dev_value"),
    [
        ("MAILSTORE_TOKEN", DEV_MAILSTORE_TOKEN),
        ("WEB_SUBMISSION_SECRET", DEV_WEB_SUBMISSION_SECRET),
    ],
)
def test_dev_secret_set_explicitly_outside_dev_is_refused(variable: str, dev_value: str) -> None:
    error = config_error({**PRODUCTION, variable: dev_value})

    assert error.variable == variable
    assert dev_value not in str(error)


def test_short_secret_is_refused_without_quoting_it() -> None:
    error = config_error({**PRODUCTION, "MAILSTORE_TOKEN": "hunter2"})

    assert error.variable == "MAILSTORE_TOKEN"
    assert "hunter2" not in str(error)


def test_secrets_and_urls_stay_out_of_repr() -> None:
    config = load_config({**PRODUCTION, "AMQP_URL": "amqp://u:brokerpass@rabbit/"})

    assert "m" * 32 not in repr(config)
    assert "w" * 32 not in repr(config)
    assert "brokerpass" not in repr(config)


# -- secrets from files (MAILSTORE_TOKEN_FILE, WEB_SUBMISSION_SECRET_FILE) ------------------


def secret_file(tmp_path: Path, text: str, name: str = "secret") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("variable", "attribute"),
    [("MAILSTORE_TOKEN", "mailstore_token"), ("WEB_SUBMISSION_SECRET", "web_submission_secret")],
)
def test_secret_is_read_from_the_file_its_file_variable_names(
    tmp_path: Path, variable: str, attribute: str
) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != variable}
    environ[f"{variable}_FILE"] = secret_file(tmp_path, "f" * 64 + "\n")

    config = load_config(environ)

    assert getattr(config, attribute) == "f" * 64
    assert "f" * 64 not in repr(config)


def test_only_one_trailing_newline_of_a_secret_file_is_dropped(tmp_path: Path) -> None:
    environ = {**PRODUCTION, "MAILSTORE_TOKEN_FILE": secret_file(tmp_path, "f" * 64 + "\n\n")}
    del environ["MAILSTORE_TOKEN"]

    assert config_error(environ).variable == "MAILSTORE_TOKEN_FILE"


def test_secret_and_its_file_both_set_is_an_error_naming_both(tmp_path: Path) -> None:
    environ = {**PRODUCTION, "MAILSTORE_TOKEN_FILE": secret_file(tmp_path, "f" * 64)}

    error = config_error(environ)

    assert error.variable == "MAILSTORE_TOKEN"
    assert "MAILSTORE_TOKEN_FILE" in str(error)


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "newline only", "not utf-8"])
def test_unusable_secret_file_names_the_variable_and_the_path(tmp_path: Path, case: str) -> None:
    path = {
        "missing": str(tmp_path / "nowhere"),
        "directory": str(tmp_path),
        "empty": secret_file(tmp_path, ""),
        "newline only": secret_file(tmp_path, "\n"),
        "not utf-8": str(tmp_path / "binary"),
    }[case]
    (tmp_path / "binary").write_bytes(b"\xff" * 40)
    environ = {"MAILSTORE_TOKEN_FILE": path, "WEB_SUBMISSION_SECRET": "w" * 32}

    error = config_error(environ)

    assert error.variable == "MAILSTORE_TOKEN_FILE"
    assert path in str(error)


def test_empty_file_variable_is_refused() -> None:
    error = config_error({"MAILSTORE_TOKEN_FILE": "", "WEB_SUBMISSION_SECRET": "w" * 32})

    assert error.variable == "MAILSTORE_TOKEN_FILE"


@pytest.mark.parametrize("text", ["hunter2", " " + "f" * 32, DEV_MAILSTORE_TOKEN])
def test_a_secret_file_obeys_the_rules_of_the_variable(tmp_path: Path, text: str) -> None:
    environ = {
        "MAILSTORE_TOKEN_FILE": secret_file(tmp_path, text),
        "WEB_SUBMISSION_SECRET": "w" * 32,
    }

    error = config_error(environ)

    assert error.variable == "MAILSTORE_TOKEN_FILE"
    assert text not in str(error)


# -- development secrets only on loopback ----------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "localhost", "LocalHost"])
def test_dev_secrets_are_allowed_on_loopback(host: str) -> None:
    assert load_config({**DEV, "GATEWAY_HOST": host}).dev is True


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "mail.example.org"])
def test_dev_secrets_beyond_loopback_are_refused_saying_why_and_what_to_do(host: str) -> None:
    error = config_error({**DEV, "GATEWAY_HOST": host})

    assert error.variable == "GATEWAY_HOST"
    for words in ("LOCALPOST_DEV=1", "127.0.0.1", "MAILSTORE_TOKEN", "WEB_SUBMISSION_SECRET"):
        assert words in str(error)


def test_dev_beyond_loopback_is_refused_even_with_real_secrets() -> None:
    error = config_error({**PRODUCTION, **DEV, "GATEWAY_HOST": "0.0.0.0"})

    assert error.variable == "GATEWAY_HOST"


def test_dev_value_in_a_file_with_dev_on_is_still_loopback_only(tmp_path: Path) -> None:
    environ = {**DEV, "MAILSTORE_TOKEN_FILE": secret_file(tmp_path, DEV_MAILSTORE_TOKEN)}

    assert load_config(environ).mailstore_token == DEV_MAILSTORE_TOKEN
    assert config_error({**environ, "GATEWAY_HOST": "0.0.0.0"}).variable == "GATEWAY_HOST"


def test_real_secrets_may_listen_beyond_loopback() -> None:
    assert load_config({**PRODUCTION, "GATEWAY_HOST": "0.0.0.0"}).host == "0.0.0.0"


@pytest.mark.parametrize("value", ["0", ""])
def test_dev_off_values(value: str) -> None:
    assert load_config({**PRODUCTION, "LOCALPOST_DEV": value}).dev is False


@pytest.mark.parametrize("value", ["yes", "true", "2", " 1"])
def test_dev_flag_accepts_only_0_or_1(value: str) -> None:
    assert config_error({"LOCALPOST_DEV": value}).variable == "LOCALPOST_DEV"


@pytest.mark.parametrize(
    "variable", ["SMTP_PORT", "SUBMISSION_PORT", "SUBMISSIONS_PORT", "GATEWAY_HTTP_PORT"]
)
@pytest.mark.parametrize("value", ["", "smtp", "0", "65536", "25.0", "-1", " 2525", "0x19"])
def test_malformed_port_is_refused_by_name(variable: str, value: str) -> None:
    assert config_error({**DEV, variable: value}).variable == variable


def test_ports_are_cast_to_int() -> None:
    config = load_config({**DEV, "SMTP_PORT": "25", "SUBMISSION_PORT": "587"})

    assert (config.smtp_port, config.submission_port) == (25, 587)


def test_submission_port_may_not_equal_smtp_port() -> None:
    assert config_error({**DEV, "SUBMISSION_PORT": "2525"}).variable == "SUBMISSION_PORT"


TLS = {"LOCALPOST_TLS_CERT": "/certs/tls.crt", "LOCALPOST_TLS_KEY": "/certs/tls.key"}


@pytest.mark.parametrize("other", ["SMTP_PORT", "SUBMISSION_PORT"])
def test_submissions_port_may_not_equal_another_smtp_port(other: str) -> None:
    error = config_error({**DEV, **TLS, other: "2465"})
    assert (error.variable, str(error)) == (
        "SUBMISSIONS_PORT",
        f"SUBMISSIONS_PORT equals {other} (2465)",
    )


def test_http_port_may_not_equal_the_submissions_port() -> None:
    error = config_error({**DEV, **TLS, "GATEWAY_HTTP_PORT": "2465"})
    assert str(error) == "GATEWAY_HTTP_PORT equals SUBMISSIONS_PORT (2465)"


def test_submissions_port_is_not_checked_when_it_is_not_opened() -> None:
    # Without TLS files there is no implicit-TLS listener, so its port clashes with nothing.
    assert load_config({**DEV, "SMTP_PORT": "2465"}).smtp_port == 2465


def test_domains_are_a_lowercased_comma_separated_list_without_duplicates() -> None:
    config = load_config({**DEV, "LOCALPOST_DOMAIN": "Example.ORG, localpost.test,example.org"})

    assert config.domains == ("example.org", "localpost.test")


@pytest.mark.parametrize("value", ["", "a,,b", "exa mple.org", "-bad.org", "bad-.org", "a..b"])
def test_malformed_domain_list_is_refused(value: str) -> None:
    assert config_error({**DEV, "LOCALPOST_DOMAIN": value}).variable == "LOCALPOST_DOMAIN"


@pytest.mark.parametrize(
    "value", ["http://rabbit/", "rabbit:5672", "amqp://", "amqp://rabbit:notaport/"]
)
def test_malformed_amqp_url_is_refused(value: str) -> None:
    assert config_error({**DEV, "AMQP_URL": value}).variable == "AMQP_URL"


def test_malformed_mailstore_url_is_refused() -> None:
    assert config_error({**DEV, "MAILSTORE_URL": "ftp://mailstore"}).variable == "MAILSTORE_URL"


@pytest.mark.parametrize("value", ["amq", "amq.mail", "has space", ".dot", ""])
def test_unusable_queue_prefix_is_refused(value: str) -> None:
    error = config_error({**DEV, "LOCALPOST_QUEUE_PREFIX": value})

    assert error.variable == "LOCALPOST_QUEUE_PREFIX"


def test_trusted_networks_are_parsed() -> None:
    config = load_config({**DEV, "LOCALPOST_TRUSTED_NETWORKS": "10.0.0.0/8, fd00::/8"})

    assert config.trusted_networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
    )


@pytest.mark.parametrize("value", ["10.0.0.1/8", "localhost", "10.0.0.0/33", ""])
def test_malformed_trusted_network_is_refused(value: str) -> None:
    error = config_error({**DEV, "LOCALPOST_TRUSTED_NETWORKS": value})

    assert error.variable == "LOCALPOST_TRUSTED_NETWORKS"


def test_tls_files_are_taken_as_a_pair() -> None:
    config = load_config(
        {**DEV, "LOCALPOST_TLS_CERT": "/certs/tls.crt", "LOCALPOST_TLS_KEY": "/certs/tls.key"}
    )

    assert config.tls == TLSFiles(cert=Path("/certs/tls.crt"), key=Path("/certs/tls.key"))


def test_tls_cert_without_key_names_the_missing_key() -> None:
    error = config_error({**DEV, "LOCALPOST_TLS_CERT": "/certs/tls.crt"})

    assert error.variable == "LOCALPOST_TLS_KEY"


def test_tls_key_without_cert_names_the_missing_cert() -> None:
    error = config_error({**DEV, "LOCALPOST_TLS_KEY": "/certs/tls.key"})

    assert error.variable == "LOCALPOST_TLS_CERT"


def test_hostname_defaults_to_the_first_local_domain() -> None:
    config = load_config({**DEV, "LOCALPOST_DOMAIN": "example.org,localpost.test"})

    assert config.hostname == "example.org"


def test_hostname_is_taken_lowercased() -> None:
    assert load_config({**DEV, "GATEWAY_HOSTNAME": "MX.Example.ORG"}).hostname == "mx.example.org"


@pytest.mark.parametrize("value", ["", "mx example.org", "-mx.example.org", "mx..org"])
def test_malformed_hostname_is_refused(value: str) -> None:
    assert config_error({**DEV, "GATEWAY_HOSTNAME": value}).variable == "GATEWAY_HOSTNAME"


def test_seconds_are_cast_to_float() -> None:
    config = load_config({**DEV, "GATEWAY_PUBLISH_TIMEOUT": "2.5", "GATEWAY_STOP_GRACE": "30"})

    assert (config.publish_timeout, config.stop_grace) == (2.5, 30.0)


@pytest.mark.parametrize(
    "variable",
    [
        "GATEWAY_PUBLISH_TIMEOUT",
        "GATEWAY_DIRECTORY_TIMEOUT",
        "GATEWAY_AUTH_TIMEOUT",
        "GATEWAY_DIRECTORY_CACHE_TTL",
        "GATEWAY_DIRECTORY_NEGATIVE_TTL",
        "GATEWAY_BROKER_RECONNECT_INTERVAL",
        "GATEWAY_STOP_GRACE",
        "GATEWAY_DATA_RATE_GRACE",
    ],
)
@pytest.mark.parametrize("value", ["", "0", "0.0", "-1", "1e3", "inf", "nan", " 5", "5s"])
def test_malformed_seconds_are_refused_by_name(variable: str, value: str) -> None:
    assert config_error({**DEV, variable: value}).variable == variable


COUNTS = [
    "GATEWAY_MAX_CONNECTIONS_PER_SOURCE",
    "GATEWAY_CONNECTION_RATE_PER_SOURCE",
    "GATEWAY_MAX_COMMANDS_BEFORE_MAIL",
    "GATEWAY_MIN_DATA_RATE",
]


def test_per_source_limits_are_cast_to_int() -> None:
    config = load_config(
        {
            **DEV,
            "GATEWAY_MAX_CONNECTIONS_PER_SOURCE": "1001",
            "GATEWAY_CONNECTION_RATE_PER_SOURCE": "2000",
            "GATEWAY_MAX_COMMANDS_BEFORE_MAIL": "7",
            "GATEWAY_MIN_DATA_RATE": "100",
            "GATEWAY_DATA_RATE_GRACE": "2.5",
        }
    )

    assert (config.max_connections_per_source, config.connection_rate_per_source) == (1001, 2000)
    assert (config.max_commands_before_mail, config.min_data_rate) == (7, 100)
    assert config.data_rate_grace == 2.5


@pytest.mark.parametrize("variable", COUNTS)
@pytest.mark.parametrize("value", ["", "0", "-1", "1.5", "1e3", " 5", "five", "12345678"])
def test_malformed_counts_are_refused_by_name(variable: str, value: str) -> None:
    error = config_error({**DEV, variable: value})
    assert error.variable == variable


def test_throttle_trusted_is_off_unless_set() -> None:
    assert load_config(DEV).throttle_trusted is False
    assert load_config({**DEV, "LOCALPOST_THROTTLE_TRUSTED": "1"}).throttle_trusted is True


def test_malformed_throttle_trusted_is_refused() -> None:
    error = config_error({**DEV, "LOCALPOST_THROTTLE_TRUSTED": "yes"})

    assert error.variable == "LOCALPOST_THROTTLE_TRUSTED"
