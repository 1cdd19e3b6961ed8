"""The autoconfiguration documents as mail programs read them, built from settings alone:
Thunderbird's clientConfig (read as its account wizard's readFromXML does), Outlook's
Autodiscover request parser (hostile input) and response, Apple's profile (plistlib)."""

from __future__ import annotations

import plistlib
from typing import Any
from xml.etree import ElementTree

import pytest

from webmail import autoconfig, autodiscover, mobileconfig
from webmail.servers import local_domain, servers
from webmail.settings import ConfigError, PublicServers, load_config

DOMAINS = ("localpost.test", "other.test")
ENV = {"LOCALPOST_DEV": "1", "LOCALPOST_DOMAIN": ",".join(DOMAINS)}
R = "{" + autodiscover.RESPONSE_NS + "}"
O = "{" + autodiscover.OUTLOOK_NS + "}"  # noqa: E741


def public(**env: str) -> PublicServers:
    return load_config({**ENV, **env}).public


# -- settings -----------------------------------------------------------------------------


def test_the_public_host_defaults_to_the_first_domain_and_ports_to_the_services() -> None:
    assert public() == PublicServers(
        hostname="localpost.test",
        imap_port=2143,
        imaps_port=2993,
        submission_port=2587,
        submissions_port=2465,
        pop3_port=2110,
        pop3s_port=2995,
        pop3=False,
        tls_cert=None,
    )


def test_public_settings_follow_the_environment() -> None:
    found = public(
        LOCALPOST_PUBLIC_HOSTNAME="Mail.Example.ORG",
        PUBLIC_IMAPS_PORT="993",
        PUBLIC_SUBMISSIONS_PORT="465",
        LOCALPOST_POP3="1",
        LOCALPOST_TLS_CERT="/certs/tls.crt",
    )
    assert (found.hostname, found.imaps_port, found.submissions_port) == (
        "mail.example.org",
        993,
        465,
    )
    assert found.pop3
    assert found.tls_cert == "/certs/tls.crt"
    assert public(LOCALPOST_PUBLIC_HOSTNAME="127.0.0.1").hostname == "127.0.0.1"
    assert public(LOCALPOST_PUBLIC_HOSTNAME="::1").hostname == "::1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOCALPOST_PUBLIC_HOSTNAME", "mail example.org"),
        ("LOCALPOST_PUBLIC_HOSTNAME", "<b>.org"),
        ("LOCALPOST_PUBLIC_HOSTNAME", ""),
        ("PUBLIC_IMAPS_PORT", "0"),
        ("PUBLIC_SUBMISSION_PORT", "65536"),
        ("PUBLIC_POP3_PORT", "pop"),
        ("LOCALPOST_POP3", "yes"),
    ],
)
def test_a_malformed_public_setting_is_an_error_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({**ENV, name: value})
    assert caught.value.variable == name


def test_pop3_is_offered_only_when_served() -> None:
    assert {s.protocol for s in servers(public())} == {"imap", "smtp"}
    assert {s.protocol for s in servers(public(LOCALPOST_POP3="1"))} == {"imap", "pop3", "smtp"}


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("ann@localpost.test", "localpost.test"),
        ("Ann@OTHER.test", "other.test"),
        ("ann@example.com", None),
        ("@localpost.test", None),
        ("localpost.test", None),
        ("a" * 400 + "@localpost.test", None),
        ("ann@localpost.test.evil.example", None),
    ],
)
def test_only_local_domains_are_answered(address: str, domain: str | None) -> None:
    assert local_domain(address, DOMAINS) == domain


# -- Thunderbird ------------------------------------------------------------------------------


def read_like_thunderbird(document: bytes) -> dict[str, Any]:
    """What readFromXML.sys.mjs takes from a clientConfig: it rejects a document without
    emailProvider/@id, and reads each server's five fields, skipping unknown values."""
    root = ElementTree.fromstring(document)
    assert root.tag == "clientConfig"
    assert root.get("version") == "1.1"
    provider = root.find("emailProvider")
    assert provider is not None
    assert provider.get("id")

    def server(element: ElementTree.Element) -> dict[str, Any]:
        found = {
            name: (element.findtext(name) or "")
            for name in ("hostname", "port", "socketType", "username", "authentication")
        }
        assert all(found.values()), found
        assert found["socketType"] in ("plain", "SSL", "STARTTLS")
        assert found["authentication"] in ("password-cleartext", "plain", "secure")
        port = int(found["port"])
        assert 0 < port < 65536
        return {"type": element.get("type"), **found, "port": port}

    return {
        "id": provider.get("id"),
        "domains": [d.text for d in provider.findall("domain")],
        "displayName": provider.findtext("displayName"),
        "incoming": [server(e) for e in provider.findall("incomingServer")],
        "outgoing": [server(e) for e in provider.findall("outgoingServer")],
    }


def test_the_client_config_names_every_server_thunderbird_reads() -> None:
    document = autoconfig.client_config(
        servers(public(LOCALPOST_PUBLIC_HOSTNAME="mail.example.org")),
        domain="other.test",
        domains=DOMAINS,
    )
    read = read_like_thunderbird(document)

    assert read["id"] == "other.test"
    assert read["domains"] == list(DOMAINS)
    assert read["displayName"] == "Localpost"
    common = {"hostname": "mail.example.org", "username": "%EMAILADDRESS%",
              "authentication": "password-cleartext"}  # fmt: skip
    assert read["incoming"] == [
        {"type": "imap", "port": 2993, "socketType": "SSL", **common},
        {"type": "imap", "port": 2143, "socketType": "STARTTLS", **common},
    ]
    assert read["outgoing"] == [
        {"type": "smtp", "port": 2465, "socketType": "SSL", **common},
        {"type": "smtp", "port": 2587, "socketType": "STARTTLS", **common},
    ]


def test_the_client_config_lists_pop3_after_imap_when_pop3_is_served() -> None:
    document = autoconfig.client_config(
        servers(public(LOCALPOST_POP3="1", PUBLIC_POP3S_PORT="995")),
        domain="localpost.test",
        domains=DOMAINS,
    )
    incoming = read_like_thunderbird(document)["incoming"]
    assert [(s["type"], s["port"], s["socketType"]) for s in incoming] == [
        ("imap", 2993, "SSL"),
        ("imap", 2143, "STARTTLS"),
        ("pop3", 995, "SSL"),
        ("pop3", 2110, "STARTTLS"),
    ]


# -- Outlook ------------------------------------------------------------------------------


def request(address: str = "ann@localpost.test", schema: str = autodiscover.OUTLOOK_NS) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\r\n'
        f'<Autodiscover xmlns="{autodiscover.REQUEST_NS}">'
        f"<Request><EMailAddress>{address}</EMailAddress>"
        f"<AcceptableResponseSchema>{schema}</AcceptableResponseSchema></Request>"
        "</Autodiscover>"
    ).encode()


def test_an_outlook_request_gives_its_address() -> None:
    assert autodiscover.parse_request(request()) == ("ann@localpost.test", autodiscover.OUTLOOK_NS)


def with_dtd(dtd: str, address: str) -> bytes:
    """A request that is valid but for its DTD: only refusing the DTD refuses it."""
    return request(address=address).replace(b"\r\n", f"\r\n{dtd}\r\n".encode(), 1)


LAUGHS = (
    '<!DOCTYPE Autodiscover [<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;&l;&l;&l;&l;&l;&l;&l;">'
    '<!ENTITY l3 "&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;">]>'
)
DTD_ATTACKS = {
    "billion laughs": with_dtd(LAUGHS, "&l3;@localpost.test"),
    "external entity": with_dtd(
        '<!DOCTYPE Autodiscover [<!ENTITY x SYSTEM "file:///etc/hostname">]>', "&x;@localpost.test"
    ),
    "external DTD": with_dtd(
        '<!DOCTYPE Autodiscover SYSTEM "http://127.0.0.1:9/evil.dtd">', "ann@localpost.test"
    ),
    "parameter entity": with_dtd(
        '<!DOCTYPE Autodiscover [<!ENTITY % p SYSTEM "file:///etc/hostname"> %p;]>',
        "ann@localpost.test",
    ),
}


@pytest.mark.parametrize("body", DTD_ATTACKS.values(), ids=DTD_ATTACKS.keys())
def test_any_dtd_is_refused_so_no_entity_is_expanded_or_fetched(body: bytes) -> None:
    with pytest.raises(autodiscover.BadRequest, match="DTD"):
        autodiscover.parse_request(body)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", 600),
        (b"not xml", 600),
        (b"<Autodiscover>", 600),
        (request().replace(b"ann@", b"&undefined;"), 600),
        (request().replace(autodiscover.REQUEST_NS.encode(), b"urn:other"), 600),
        (request(address=""), 600),
        (request().replace(b"</Request>", b"<EMailAddress>b@x</EMailAddress></Request>"), 600),
        (b"<" * 20 + b"a", 600),
        (b"\xff\xfe<\x00", 600),
        (request() + b" " * autodiscover.MAX_REQUEST_BYTES, 600),
        (
            request(
                schema="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/"
                "responseschema/2006"
            ),
            601,
        ),
    ],
)
def test_a_hostile_or_foreign_request_is_refused_with_its_error_code(
    body: bytes, code: int
) -> None:
    with pytest.raises(autodiscover.BadRequest) as caught:
        autodiscover.parse_request(body)
    assert caught.value.error[0] == code


def test_deep_nesting_is_refused() -> None:
    body = request().replace(b"<EMailAddress>", b"<x>" * 50 + b"<EMailAddress>")
    body = body.replace(b"</EMailAddress>", b"</EMailAddress>" + b"</x>" * 50)
    with pytest.raises(autodiscover.BadRequest, match="deep"):
        autodiscover.parse_request(body)


def test_the_outlook_response_has_the_2006a_account_with_ssl_servers_only() -> None:
    document = autodiscover.account_response(
        servers(public(LOCALPOST_PUBLIC_HOSTNAME="mail.example.org")),
        address="ann@localpost.test",
    )
    root = ElementTree.fromstring(document)
    assert root.tag == f"{R}Autodiscover"
    [response] = list(root)
    assert response.tag == f"{O}Response"
    account = response.find(f"{O}Account")
    assert account is not None
    assert account.findtext(f"{O}AccountType") == "email"
    assert account.findtext(f"{O}Action") == "settings"
    protocols = account.findall(f"{O}Protocol")
    # Microsoft's documented order of a Protocol's children.
    order = ["Type", "Server", "Port", "LoginName", "DomainRequired", "SPA", "SSL",
             "AuthRequired", "UsePOPAuth", "SMTPLast"]  # fmt: skip
    found = []
    for protocol in protocols:
        tags = [child.tag.removeprefix(O) for child in protocol]
        assert tags == [t for t in order if t in tags], tags
        found.append({child.tag.removeprefix(O): child.text for child in protocol})
    assert [(p["Type"], p["Server"], p["Port"], p["SSL"]) for p in found] == [
        ("IMAP", "mail.example.org", "2993", "on"),
        ("SMTP", "mail.example.org", "2465", "on"),
    ]
    assert {p["LoginName"] for p in found} == {"ann@localpost.test"}
    assert {p["AuthRequired"] for p in found} == {"on"}


def test_the_outlook_response_adds_pop3_over_tls_when_pop3_is_served() -> None:
    document = autodiscover.account_response(
        servers(public(LOCALPOST_POP3="1")), address="ann@localpost.test"
    )
    protocols = ElementTree.fromstring(document).iter(f"{O}Protocol")
    found = [(p.findtext(f"{O}Type"), p.findtext(f"{O}Port")) for p in protocols]
    assert found == [("IMAP", "2993"), ("POP3", "2995"), ("SMTP", "2465")]


def test_the_error_response_has_code_and_message() -> None:
    root = ElementTree.fromstring(autodiscover.error_response(autodiscover.UNKNOWN_ADDRESS))
    error = root.find(f"{R}Response/{R}Error")
    assert error is not None
    assert error.get("Time")
    assert error.findtext(f"{R}ErrorCode") == "500"
    assert error.findtext(f"{R}Message") == "The e-mail address cannot be found."


# -- Apple --------------------------------------------------------------------------------


def load_profile(**kwargs: Any) -> dict[str, Any]:
    document = mobileconfig.profile(
        servers(public(LOCALPOST_PUBLIC_HOSTNAME="mail.example.org")), **kwargs
    )
    loaded: dict[str, Any] = plistlib.loads(document)
    return loaded


def test_the_profile_holds_one_imap_account_with_implicit_tls() -> None:
    found = load_profile(address="ann@localpost.test", name="Ann Example")

    assert found["PayloadType"] == "Configuration"
    assert found["PayloadVersion"] == 1
    assert found["PayloadIdentifier"].startswith("test.localpost.profile.")
    [mail] = found["PayloadContent"]
    assert mail["PayloadType"] == "com.apple.mail.managed"
    assert mail["PayloadIdentifier"].startswith("test.localpost.mail.")
    assert mail["EmailAccountType"] == "EmailTypeIMAP"
    assert mail["EmailAddress"] == "ann@localpost.test"
    assert mail["EmailAccountName"] == "Ann Example"
    assert (
        mail["IncomingMailServerHostName"],
        mail["IncomingMailServerPortNumber"],
        mail["IncomingMailServerUseSSL"],
        mail["IncomingMailServerUsername"],
    ) == ("mail.example.org", 2993, True, "ann@localpost.test")
    assert (
        mail["OutgoingMailServerHostName"],
        mail["OutgoingMailServerPortNumber"],
        mail["OutgoingMailServerUseSSL"],
        mail["OutgoingMailServerUsername"],
    ) == ("mail.example.org", 2465, True, "ann@localpost.test")
    assert mail["IncomingMailServerAuthentication"] == "EmailAuthPassword"
    assert "IncomingPassword" not in mail
    assert "OutgoingPassword" not in mail


def test_payload_uuids_are_stable_per_account_and_unique_across_accounts() -> None:
    ann = load_profile(address="ann@localpost.test", name="Ann")
    again = load_profile(address="ann@localpost.test", name="Ann")
    bob = load_profile(address="bob@localpost.test", name="Bob")

    def uuids(p: dict[str, Any]) -> tuple[str, str]:
        return p["PayloadUUID"], p["PayloadContent"][0]["PayloadUUID"]

    assert uuids(ann) == uuids(again)
    assert len({*uuids(ann), *uuids(bob)}) == 4


def test_the_password_is_in_the_profile_only_when_given() -> None:
    mail = load_profile(address="ann@localpost.test", name="", password="s3cret <&>")[
        "PayloadContent"
    ][0]
    assert mail["IncomingPassword"] == mail["OutgoingPassword"] == "s3cret <&>"
    assert mail["EmailAccountName"] == "ann@localpost.test"


def test_the_download_name_is_safe() -> None:
    assert mobileconfig.filename('a"b\r\n@x.test') == "localpost-a_b___x.test.mobileconfig"
