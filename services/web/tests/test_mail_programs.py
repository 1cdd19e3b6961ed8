"""The web's mail-program endpoints over HTTP, on a real mail store: the autoconfiguration
documents without a login or a cookie, the Mail programs page, the Apple profile (with
the password only on a CSRF-checked POST that the mail store confirmed) and the
certificate download; hostile bodies at Autodiscover never make a 5xx."""

from __future__ import annotations

import hashlib
import plistlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from webmail import autodiscover
from webmail.main import create_app
from webmail.settings import load_config

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]
R = "{" + autodiscover.RESPONSE_NS + "}"
O = "{" + autodiscover.OUTLOOK_NS + "}"  # noqa: E741
PAGE = "/settings/mail-programs"
PROFILE = PAGE + "/profile.mobileconfig"


@pytest.fixture
async def make_client(web_environ: dict[str, str]) -> AsyncIterator[MakeClient]:
    """A web service with extra settings; each client has its own cookies."""
    clients: list[Client] = []

    async def make(**env: str) -> Client:
        app = create_app(load_config({**web_environ, **env}), live=False)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def outlook_request(address: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{autodiscover.REQUEST_NS}">'
        f"<Request><EMailAddress>{address}</EMailAddress><AcceptableResponseSchema>"
        f"{autodiscover.OUTLOOK_NS}</AcceptableResponseSchema></Request></Autodiscover>"
    ).encode()


def error_code(body: bytes) -> str | None:
    return ElementTree.fromstring(body).findtext(f"{R}Response/{R}Error/{R}ErrorCode")


# -- Thunderbird ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml"]
)
async def test_the_client_config_is_served_to_anyone_as_xml(
    make_client: MakeClient, path: str
) -> None:
    client = await make_client(LOCALPOST_PUBLIC_HOSTNAME="mail.example.org")
    response = await client.get(path, params={"emailaddress": "new.user@other.test"})

    assert response.status == 200
    assert response.content_type == "application/xml"
    root = ElementTree.fromstring(await response.read())
    provider = root.find("emailProvider")
    assert provider is not None
    assert provider.get("id") == "other.test"
    assert {e.findtext("hostname") for e in provider.iter() if e.find("hostname") is not None} == {
        "mail.example.org"
    }
    # Nothing is set or looked up for a caller without a session.
    assert "Set-Cookie" not in response.headers


async def test_the_client_config_without_an_address_names_the_first_domain(
    client: Client,
) -> None:
    response = await client.get("/mail/config-v1.1.xml")
    root = ElementTree.fromstring(await response.read())
    assert root.find("emailProvider").get("id") == "localpost.test"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("address", "status"),
    [("ann@example.com", 404), ("ann@localpost.test.example.com", 404), ("no-at-sign", 400),
     ("", 400), ("a" * 5000 + "@localpost.test", 404)],
)  # fmt: skip
async def test_an_address_elsewhere_gets_no_client_config(
    client: Client, address: str, status: int
) -> None:
    response = await client.get("/mail/config-v1.1.xml", params={"emailaddress": address})
    assert response.status == status


# -- Outlook ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"]
)
async def test_autodiscover_answers_a_post_without_cookie_or_csrf_token(
    client: Client, path: str
) -> None:
    response = await client.post(
        path, data=outlook_request("ann@localpost.test"), headers={"Content-Type": "text/xml"}
    )

    assert response.status == 200, await response.text()
    assert response.content_type == "application/xml"
    assert response.headers["Cache-Control"] == "no-store"
    root = ElementTree.fromstring(await response.read())
    protocols = root.findall(f"{O}Response/{O}Account/{O}Protocol")
    assert [(p.findtext(f"{O}Type"), p.findtext(f"{O}Port")) for p in protocols] == [
        ("IMAP", "2993"),
        ("SMTP", "2465"),
    ]


async def test_autodiscover_ignores_the_basic_credentials_outlook_may_send(
    client: Client, h: Any
) -> None:
    response = await client.post(
        "/autodiscover/autodiscover.xml",
        data=outlook_request("ann@localpost.test"),
        headers=h.basic("ann@localpost.test", "whatever"),
    )
    assert response.status == 200


async def test_a_signed_in_browser_gets_no_csrf_exemption_beyond_autodiscover(
    client: Client, h: Any, deliver: Any
) -> None:
    await h.login(client, await h.register(client))
    for path in ("/autodiscover/autodiscover.xml/", "/AUTODISCOVER/AUTODISCOVER.XML", PROFILE):
        response = await client.post(path, data={"password": h.password})
        assert response.status in (403, 404, 405), path
        assert response.content_type != "application/x-apple-aspen-config"


async def test_an_autodiscover_probe_by_get_gets_the_invalid_request_document(
    client: Client,
) -> None:
    response = await client.get("/Autodiscover/Autodiscover.xml")
    assert response.status == 200
    assert error_code(await response.read()) == "600"


HOSTILE: dict[str, tuple[bytes, int, str]] = {
    "empty": (b"", 400, "600"),
    "not xml": (b"\x00\xff garbage", 400, "600"),
    "billion laughs": (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;&l;&l;">]>'
        + outlook_request("&l2;@localpost.test").split(b"?>", 1)[1],
        400,
        "600",
    ),
    "xxe": (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + outlook_request("&x;@localpost.test").split(b"?>", 1)[1],
        400,
        "600",
    ),
    "unknown domain": (outlook_request("ann@example.com"), 404, "500"),
    "not an address": (outlook_request("ann"), 404, "500"),
    "activesync": (
        outlook_request("a@localpost.test").replace(
            b"outlook/responseschema/2006a", b"mobilesync/responseschema/2006"
        ),
        400,
        "601",
    ),
    "huge": (b"<a>" + b"x" * (512 * 1024) + b"</a>", 413, "600"),
}


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
async def test_a_hostile_autodiscover_body_gets_an_error_document_never_a_5xx(
    client: Client, case: tuple[bytes, int, str]
) -> None:
    body, status, code = case
    response = await client.post("/autodiscover/autodiscover.xml", data=body)
    text = await response.read()
    assert response.status == status, text
    assert error_code(text) == code
    assert b"root:" not in text


async def test_a_huge_chunked_autodiscover_body_is_cut_off_at_the_limit(client: Client) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):  # 4 MiB without a Content-Length
            yield b"<" * 65536

    response = await client.post("/autodiscover/autodiscover.xml", data=chunks())
    assert response.status == 413
    assert error_code(await response.read()) == "600"


# -- the page and the profile -------------------------------------------------------------


async def test_the_page_needs_a_login(client: Client) -> None:
    for path in (PAGE, PROFILE, PAGE + "/localpost.crt"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"].startswith("/login?next=")


async def test_the_page_shows_the_servers_and_the_user_name(
    make_client: MakeClient, h: Any
) -> None:
    client = await make_client(
        LOCALPOST_PUBLIC_HOSTNAME="mail.example.org",
        PUBLIC_IMAPS_PORT="993",
        PUBLIC_SUBMISSIONS_PORT="465",
    )
    address = await h.register(client)
    await h.login(client, address)
    response = await client.get(PAGE)
    html = await response.text()

    assert response.status == 200
    assert (
        h.markup_problems(html, nonce=h.csp_nonce(response.headers["Content-Security-Policy"]))
        == []
    )
    assert 'href="/settings/mail-programs" aria-current="page">Mail programs</a>' in html
    for row in (
        'data-protocol="imap" data-security="SSL"',
        'data-protocol="smtp" data-security="STARTTLS"',
    ):
        assert row in html
    assert "<td><code>993</code></td>" in html
    assert "<td><code>465</code></td>" in html
    assert "<code>mail.example.org</code>" in html
    assert f"<code>{address}</code>" in html
    assert 'data-protocol="pop3"' not in html
    assert "POP3 is not offered" in html


async def test_the_page_lists_pop3_when_it_is_served(make_client: MakeClient, h: Any) -> None:
    client = await make_client(LOCALPOST_POP3="1")
    await h.login(client, await h.register(client))
    html = await (await client.get(PAGE)).text()
    assert 'data-protocol="pop3" data-security="SSL"' in html
    assert "<td><code>2995</code></td>" in html
    assert "<td><code>2110</code></td>" in html


async def test_the_profile_download_holds_the_account_but_no_password(
    client: Client, h: Any
) -> None:
    address = await h.register(client, name="Pat Doe")
    await h.login(client, address)
    response = await client.get(PROFILE)

    assert response.status == 200
    assert response.content_type == "application/x-apple-aspen-config"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    profile = plistlib.loads(await response.read())
    [mail] = profile["PayloadContent"]
    assert (mail["EmailAddress"], mail["EmailAccountName"]) == (address, "Pat Doe")
    assert "IncomingPassword" not in mail
    again = plistlib.loads(await (await client.get(PROFILE)).read())
    assert again["PayloadUUID"] == profile["PayloadUUID"]


async def test_the_profile_holds_the_password_only_after_it_is_confirmed(
    client: Client, h: Any
) -> None:
    address = await h.register(client)
    await h.login(client, address)
    token = await h.csrf_token(client, PAGE)

    wrong = await client.post(PROFILE, data={"password": "not my password", "csrf_token": token})
    forged = await client.post(PROFILE, data={"password": h.password})
    right = await client.post(PROFILE, data={"password": h.password, "csrf_token": token})

    assert wrong.status == 422
    assert "That is not your password." in await wrong.text()
    assert forged.status == 403
    assert right.status == 200
    [mail] = plistlib.loads(await right.read())["PayloadContent"]
    assert mail["IncomingPassword"] == mail["OutgoingPassword"] == h.password


# -- the certificate ------------------------------------------------------------------------


async def test_the_certificate_is_offered_with_its_fingerprint_and_never_the_key(
    make_client: MakeClient, h: Any, tmp_path: Path
) -> None:
    cert = trustme.CA().issue_cert("localpost.test")
    combined = tmp_path / "combined.pem"
    # A key and a certificate in one file, as some set-ups keep them.
    cert.private_key_and_cert_chain_pem.write_to_path(str(combined))
    leaf = cert.cert_chain_pems[0].bytes().decode()
    fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(leaf)).hexdigest().upper()
    client = await make_client(LOCALPOST_TLS_CERT=str(combined))
    await h.login(client, await h.register(client))

    html = await (await client.get(PAGE)).text()
    download = await client.get(PAGE + "/localpost.crt")
    pem = await download.text()

    assert ":".join(fingerprint[i : i + 2] for i in range(0, 64, 2)) in html
    assert download.status == 200
    assert download.content_type == "application/x-x509-ca-cert"
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in pem
    assert ssl.PEM_cert_to_DER_cert(
        pem.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    )


async def test_without_a_readable_certificate_the_page_says_so(
    make_client: MakeClient, h: Any, tmp_path: Path
) -> None:
    client = await make_client(LOCALPOST_TLS_CERT=str(tmp_path / "missing.pem"))
    await h.login(client, await h.register(client))
    html = await (await client.get(PAGE)).text()
    assert "No certificate is configured" in html
    assert (await client.get(PAGE + "/localpost.crt")).status == 404
