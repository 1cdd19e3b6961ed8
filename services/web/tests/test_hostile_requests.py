"""Hostile requests, one table per area (docs/security.md, "Web"): cookie flags and
security headers over representative routes, open redirects, oversized and malformed
bodies, and header injection through compose and the API."""

from __future__ import annotations

import html
import io
import re
import secrets
from email import message_from_bytes
from email.policy import SMTP
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from webmail.main import MAX_REQUEST_BYTES, create_app
from webmail.middlewares import STRICT_CSP
from webmail.settings import load_config
from webmail.views.api import MAX_JSON_BYTES
from webmail.views.compose import DIRECTORY_PER_ACCOUNT

Client = TestClient[web.Request, web.Application]
MIB = 1024 * 1024


def _message(to: str) -> bytes:
    return (
        f"From: ann@example.com\r\nTo: {to}\r\nSubject: headers\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/html\r\n\r\n<p>rich</p>\r\n"
        '--b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename="x.html"'
        "\r\n\r\n<script>alert(1)</script>\r\n--b--\r\n"
    ).encode()


# -- security headers -------------------------------------------------------------------------

# (path; "{id}" is a message of the signed-in user, what kind of response it is)
HEADER_ROUTES = [
    ("/login", "page"),
    ("/register", "page"),
    ("/mail/inbox", "page"),
    ("/mail/trash", "page"),
    ("/search?q=x", "page"),
    ("/compose", "page"),
    ("/messages/{id}", "page"),
    ("/no/such/page", "page"),
    ("/messages/{id}/body", "frame"),
    ("/messages/{id}/body?images=1", "frame"),
    ("/messages/{id}/raw", "strict"),
    ("/messages/{id}/attachments/0", "download"),
    ("/api/v1/messages", "strict"),
    ("/api/v1/messages/{id}/raw", "strict"),
    ("/api/v1/openapi.json", "strict"),
    ("/live/state", "strict"),
    ("/directory?prefix=a", "strict"),
    ("/healthz", "strict"),
    ("/static/app.css", "strict"),
]


def _nonce(csp: str) -> str:
    match = re.search(r"script-src 'nonce-([A-Za-z0-9_-]{16,})'", csp)
    assert match, csp
    return match.group(1)


@pytest.mark.parametrize(("path", "kind"), HEADER_ROUTES)
async def test_every_response_carries_its_security_headers(
    client: Client, h: Any, deliver: Any, path: str, kind: str
) -> None:
    address = await h.register(client)
    await deliver(_message(address), rcpt_to=[address])
    await h.login(client, address)
    entry = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]
    path = path.format(id=entry)

    first, second = await client.get(path), await client.get(path)

    headers = first.headers
    csp = headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    ancestors = "frame-ancestors 'self'" if kind == "frame" else "frame-ancestors 'none'"
    assert ancestors in csp
    if kind == "page":
        # A fresh nonce per response, and the page's own scripts carry it.
        nonce = _nonce(csp)
        assert nonce != _nonce(second.headers["Content-Security-Policy"])
        assert f'nonce="{nonce}"' in await first.text()
        assert "'unsafe-inline'" not in csp
    elif kind == "strict":
        assert csp == STRICT_CSP
    else:
        assert csp.startswith("default-src 'none'")
    if kind == "frame":
        # Opened on its own (a new tab), the body is as sandboxed as in its frame.
        (sandbox,) = [d.split() for d in csp.split(";") if d.split()[:1] == ["sandbox"]]
        assert not {"allow-scripts", "allow-forms", "allow-top-navigation"} & set(sandbox)
    if kind == "download":
        assert headers["Content-Disposition"].startswith("attachment;")
        assert "sandbox" in csp


# (cookie, WEB_COOKIE_SECURE)
COOKIES = [
    (name, secure) for name in ("lp_csrf", "lp_session", "lp_device") for secure in ("0", "1")
]


@pytest.mark.parametrize(("name", "secure"), COOKIES)
async def test_cookies_are_httponly_lax_and_secure_when_configured(
    web_environ: dict[str, str], h: Any, name: str, secure: str
) -> None:
    app = create_app(load_config({**web_environ, "WEB_COOKIE_SECURE": secure}), live=False)
    async with TestClient(TestServer(app)) as client:
        address = await h.register(client)
        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
        assert token is not None
        # A Secure cookie is not sent back over plain HTTP: hand the CSRF cookie back.
        cookies = {"lp_csrf": page.cookies["lp_csrf"].value}
        data = {"address": address, "password": h.password, "csrf_token": token.group(1)}
        login = await client.post("/login", data=data, cookies=cookies, allow_redirects=False)
        assert login.status == 303

        cookie = (page if name == "lp_csrf" else login).cookies[name]

    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert bool(cookie["secure"]) is (secure == "1")
    assert int(cookie["max-age"]) > 0


# -- open redirects ---------------------------------------------------------------------------

DEFAULT = "/mail/inbox"
# (id, the redirect target a link or form carries, where it may lead: None = the default)
REDIRECTS = [
    ("absolute", "https://evil.test/", None),
    ("absolute-upper", "HTTPS://EVIL.TEST", None),
    ("scheme-relative", "//evil.test", None),
    ("triple-slash", "///evil.test", None),
    ("backslash", "/\\evil.test", None),
    ("two-backslashes", "\\\\evil.test", None),
    ("backslash-slash", "\\/evil.test", None),
    ("tab", "/\t/evil.test", None),
    ("newline", "/\n/evil.test", None),
    ("javascript", "javascript:alert(1)", None),
    ("javascript-mixed-case", " JaVaScRiPt:alert(1)", None),
    ("data", "data:text/html,<script>alert(1)</script>", None),
    ("encoded-slashes", "%2F%2Fevil.test", None),
    ("userinfo", "https://mail.localpost.test@evil.test/", None),
    ("no-slash", "evil.test", None),
    # A control character in Location: the header cannot be sent, and the connection
    # was dropped instead of answering.
    ("nul", "/mail/sent\x00", None),
    ("vertical-tab", "/\x0b/evil.test", None),
    ("form-feed", "/mail/sent\x0c", None),
    ("crlf-header", "/mail/sent\r\nSet-Cookie: lp_session=planted", None),
    ("line-separator", "/mail/sent\u2028", None),
    ("encoded-slash-after-slash", "/%2Fevil.test", "/%2Fevil.test"),
    ("local", "/mail/sent", "/mail/sent"),
    ("local-with-query", "/search?q=from%3Aann", "/search?q=from%3Aann"),
    ("local-page-of-a-search", "/search?q=a&cursor=b", "/search?q=a&cursor=b"),
    ("percent-encoded-tab", "/%09/evil.test", "/%09/evil.test"),
    ("ideographic-full-stop", "//evil%E3%80%82test", None),
    ("at-after-backslash", "//evil.test\\@mail.localpost.test", None),
]


def _is_local(location: str) -> bool:
    parts = urlsplit(location)
    return (
        location.startswith("/")
        and not location.startswith("//")
        and not re.search(r"[\\\x00-\x20]", location)
        and not parts.scheme
        and not parts.netloc
    )


@pytest.mark.parametrize(("target", "expected"), [r[1:] for r in REDIRECTS],
                         ids=[r[0] for r in REDIRECTS])  # fmt: skip
async def test_redirect_targets_stay_on_this_site(
    client: Client, h: Any, deliver: Any, target: str, expected: str | None
) -> None:
    expected = expected or DEFAULT
    address = await h.register(client)
    await deliver(_message(address), rcpt_to=[address])
    form = await client.get("/login", params={"next": target})
    hidden = re.search(r'name="next" value="([^"]*)"', await form.text())
    token = await h.csrf_token(client)
    data = {"address": address, "password": h.password, "csrf_token": token, "next": target}
    login = await client.post("/login", data=data, allow_redirects=False)
    token = await h.csrf_token(client, "/mail/inbox")
    data = {"action": "read", "csrf_token": token, "next": target}
    bulk = await client.post("/mail/actions", data=data, allow_redirects=False)
    signed_in = await client.get("/login", params={"next": target}, allow_redirects=False)
    # A message opened from a list carries the list as ``back``; its forms return there.
    entry = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]
    page = await (await client.get(f"/messages/{entry}", params={"back": target})).text()
    trash_form = re.search(rf'action="/messages/{entry}/trash">(.*?)</form>', page)
    data = {"csrf_token": token, "next": target}
    trash = await client.post(f"/messages/{entry}/trash", data=data, allow_redirects=False)

    assert hidden is not None
    assert hidden.group(1).replace("&amp;", "&") == expected
    assert trash_form is not None
    assert f'name="next" value="{expected.replace("&", "&amp;")}"' in trash_form.group(1)
    for response in (login, bulk, signed_in, trash):
        assert response.status == 303
        assert response.headers["Location"] == expected
        assert _is_local(response.headers["Location"])


# The public payload list (PayloadsAllTheThings' open-redirect intruder), beside the
# repository: <root>/../shared/security. A user's clone has none; the test then skips.
OPEN_REDIRECT_LIST = (
    Path(__file__).resolve().parents[3].parent / "shared/security/open_redirect.txt"
)


def _public_redirect_payloads() -> list[str]:
    if not OPEN_REDIRECT_LIST.is_file():
        return []
    return [line for line in OPEN_REDIRECT_LIST.read_text("utf-8").splitlines() if line]


@pytest.mark.skipif(
    not _public_redirect_payloads(), reason=f"no payload list at {OPEN_REDIRECT_LIST}"
)
async def test_public_open_redirect_payloads_stay_on_this_site(
    client: Client, h: Any, deliver: Any
) -> None:
    address = await h.register(client)
    await deliver(_message(address), rcpt_to=[address])
    await h.login(client, address)
    entry = (await (await client.get("/api/v1/messages")).json())["messages"][0]["id"]
    token = await h.csrf_token(client, "/mail/inbox")
    payloads = _public_redirect_payloads()
    escaped = []
    for payload in payloads:
        # As the list means them (pasted into a URL; a browser percent-encodes what is
        # not ASCII), and as one exact value; then as the ``next`` of the forms that
        # return to a list (a bulk action, a message's Delete).
        data = {"csrf_token": token, "action": "read", "next": payload}
        for response in (
            await client.get(URL(f"/login?next={payload}"), allow_redirects=False),
            await client.get("/login", params={"next": payload}, allow_redirects=False),
            await client.post("/mail/actions", data=data, allow_redirects=False),
            await client.post(f"/messages/{entry}/read", data=data, allow_redirects=False),
        ):
            location = response.headers.get("Location", "")
            if response.status != 303 or not _is_local(location):
                escaped.append(f"{payload!r}: {response.status} {location!r}")
        # The message page takes the list it came from as ``back`` into its forms.
        for page in (
            await client.get(URL(f"/messages/{entry}?back={payload}")),
            await client.get(f"/messages/{entry}", params={"back": payload}),
        ):
            for back in re.findall(r'name="next" value="([^"]*)"', await page.text()):
                if not _is_local(html.unescape(back)):
                    escaped.append(f"back={payload!r}: {back!r}")

    assert len(payloads) > 100
    assert escaped == []


# -- oversized and malformed bodies -----------------------------------------------------------

_NESTED_MULTIPART = (
    b'--b\r\nContent-Disposition: form-data; name="x"\r\n'
    b"Content-Type: multipart/mixed; boundary=c\r\n\r\n"
    b"--c\r\nContent-Type: text/plain\r\n\r\nhi\r\n--c--\r\n--b--\r\n"
)
JSON, FORM, MULTIPART = "application/json", "application/x-www-form-urlencoded", "multipart"
# (id, method, path, content type, body, expected status)
BODIES = [
    ("json-over-limit", "POST", "/api/v1/messages", JSON,
     b'{"to": ["' + b"a" * MAX_JSON_BYTES + b'"]}', 413),
    ("json-over-limit-registration", "POST", "/api/v1/accounts", JSON,
     b'{"name": "' + b"a" * MAX_JSON_BYTES + b'"}', 413),
    ("form-over-limit", "POST", "/mail/actions", FORM, b"a=" + b"x" * MAX_REQUEST_BYTES, 413),
    ("multipart-over-limit", "POST", "/compose", "multipart/form-data; boundary=b",
     b'--b\r\nContent-Disposition: form-data; name="body"\r\n\r\n'
     + b"x" * MAX_REQUEST_BYTES + b"\r\n--b--\r\n", 413),
    ("json-deep-array", "POST", "/api/v1/messages", JSON, b"[" * 100_000, 400),
    ("json-deep-object", "POST", "/api/v1/messages", JSON, b'{"a": ' * 100_000, 400),
    ("json-deep-registration", "POST", "/api/v1/accounts", JSON, b'{"a": [' * 50_000, 400),
    ("json-deep-but-parseable", "POST", "/api/v1/messages", JSON,
     b'{"to": ' + b"[" * 500 + b"]" * 500 + b"}", 422),
    ("json-not-utf8", "POST", "/api/v1/messages", JSON, b'{"to": ["\xff\xfe"]}', 422),
    ("json-lone-surrogate", "POST", "/api/v1/messages", JSON, b'{"to": ["\\ud800"]}', 422),
    ("multipart-nested", "POST", "/mail/actions", "multipart/form-data; boundary=b",
     _NESTED_MULTIPART, 400),
    ("multipart-nested-compose", "POST", "/compose", "multipart/form-data; boundary=b",
     _NESTED_MULTIPART, 400),
    ("multipart-no-boundary", "POST", "/mail/actions", "multipart/form-data", b"--x\r\n", 400),
    ("form-not-utf8", "POST", "/mail/actions", FORM + "; charset=utf-8", b"\xff\xfe=\xff", 400),
    ("form-deep-keys", "POST", "/mail/actions", FORM,
     b"action=read&" + b"a" + b"[a]" * 20_000 + b"=1", 303),
    ("form-500-ids", "POST", "/mail/actions", FORM, b"action=read" + b"&ids=1" * 500, 303),
    # aiohttp's client_max_fields (1000): parsing a million tiny fields costs CPU.
    ("form-too-many-fields", "POST", "/mail/actions", FORM,
     b"action=read" + b"&ids=1" * 100_000, 413),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "content_type", "body", "status"),
                         [r[1:] for r in BODIES], ids=[r[0] for r in BODIES])  # fmt: skip
async def test_oversized_and_malformed_bodies_are_4xx_never_500(
    client: Client,
    h: Any,
    method: str,
    path: str,
    content_type: str,
    body: bytes,
    status: int,
) -> None:
    await h.login(client, await h.register(client))
    headers = {"Content-Type": content_type, "X-CSRF-Token": await h.csrf_token(client, "/")}

    response = await client.request(
        method, path, data=io.BytesIO(body), headers=headers, allow_redirects=False
    )

    assert response.status == status, await response.text()


# -- header injection -------------------------------------------------------------------------

# (id, channel, fields ({rcpt}, {other}, {third}: addresses), status, the field named)
INJECTION = [
    # A line break, tab or semicolon separates the entries of a pasted list (issue 15): both
    # are recipients, and the headers are written anew from the parsed addresses.
    ("to-crlf-second-recipient", "form", {"to": "{rcpt}\r\n{other}"}, 303, None),
    ("to-lf", "form", {"to": "{rcpt}\n{other}"}, 303, None),
    ("to-cr", "form", {"to": "{rcpt}\r{other}"}, 303, None),
    ("to-tab", "form", {"to": "{rcpt}\t{other}"}, 303, None),
    ("to-semicolon", "form", {"to": "{rcpt}; {other}"}, 303, None),
    ("to-spreadsheet-rows", "form", {"to": "Ann\t{rcpt}\r\nBob\t{other}\r\n"}, 303, None),
    ("to-spaces-from-pasted-lines", "form", {"to": "{rcpt} {other}"}, 303, None),
    ("to-quoted-comma-semicolon", "form", {"to": '"Doe, J; r" <{rcpt}>'}, 303, None),
    ("to-crlf-then-words", "form", {"to": "{rcpt}\r\nnot an address"}, 422, "to"),
    ("to-crlf-bcc-header", "form", {"to": "{rcpt}\r\nBcc: {other}"}, 422, "to"),
    ("to-nul", "form", {"to": "{rcpt}\x00{other}"}, 422, "to"),
    ("to-in-display-name", "form", {"to": '"Ann\r\nBcc: {other}" <{rcpt}>'}, 422, "to"),
    ("cc-crlf", "form", {"to": "{rcpt}", "cc": "{other}\r\n{third}"}, 303, None),
    ("bcc-two-lines", "form", {"to": "{rcpt}", "bcc": "{other}\n{third}"}, 303, None),
    ("bcc-crlf-header", "form", {"to": "{rcpt}", "bcc": "{other}\r\nX-Evil: 1"}, 422, "bcc"),
    ("bcc-outside-the-domains", "form", {"to": "{rcpt}", "bcc": "x@example.com"}, 422, "bcc"),
    ("cc-crlf-bcc-header", "form", {"to": "{rcpt}", "cc": "{other}\r\nBcc: {third}"}, 422, "cc"),
    ("to-comma-list", "form", {"to": "{rcpt}, {other}"}, 303, None),
    ("subject-crlf-bcc", "form", {"to": "{rcpt}", "subject": "Hi\r\nBcc: {other}"}, 303, None),
    ("subject-blank-line", "form", {"to": "{rcpt}", "subject": "Hi\r\n\r\nforged body"},
     303, None),
    ("in-reply-to-crlf", "form", {"to": "{rcpt}", "in_reply_to": "<a@b>\r\nBcc: {other}"},
     303, None),
    ("references-crlf", "form", {"to": "{rcpt}", "references": "<a@b>\r\nX-Evil: 1"}, 303, None),
    ("api-to-crlf", "api", {"to": ["{rcpt}\r\n{other}"]}, 422, "to"),
    ("api-to-second-item-lf", "api", {"to": ["{rcpt}", "{other}\nBcc: {third}"]}, 422, "to"),
    ("api-cc-crlf", "api", {"to": ["{rcpt}"], "cc": ["{other}\r\n{third}"]}, 422, "cc"),
    ("api-subject-crlf", "api", {"to": ["{rcpt}"], "subject": "Hi\r\nBcc: {other}"}, 202, None),
    # Unicode line and paragraph separators and C1 controls are line breaks to some
    # parsers (email.policy folds at them); in an address field they are refused.
    ("to-line-separator", "form", {"to": "{rcpt}\u2028{other}"}, 422, "to"),
    ("to-paragraph-separator-in-name", "form", {"to": "Ann\u2029Bcc: x <{rcpt}>"}, 422, "to"),
    ("cc-next-line", "form", {"to": "{rcpt}", "cc": "{other}\x85{third}"}, 422, "cc"),
    ("api-to-line-separator", "api", {"to": ["{rcpt}\u2028{other}"]}, 422, "to"),
    ("subject-line-separator", "form", {"to": "{rcpt}", "subject": "Hi\u2028Bcc: {other}"},
     303, None),
    ("api-subject-paragraph-separator", "api",
     {"to": ["{rcpt}"], "subject": "Hi\u2029X-Evil: 1"}, 202, None),
    ("api-text-line-separator", "api", {"to": ["{rcpt}"], "text": "Hello\u2028"}, 202, None),
    # A display name whose encoded words decode to CR LF (RFC 2047): refused before a
    # header is built from it.
    ("to-encoded-crlf-in-name", "form", {"to": "=?utf-8?q?a=0D=0Ab?= <{rcpt}>"}, 422, "to"),
    ("api-to-encoded-crlf-in-name", "api",
     {"to": ["=?utf-8?q?Ann=0D=0ABcc:_{other}?= <{rcpt}>"]}, 422, "to"),
    # Lone surrogates (JSON "\ud800") cannot be encoded into any message.
    ("api-subject-surrogate", "api", {"to": ["{rcpt}"], "subject": "Hi\ud800"}, 422, "subject"),
    ("api-text-surrogate", "api", {"to": ["{rcpt}"], "text": "Hello\udfff"}, 422, "text"),
]  # fmt: skip


def _fill(value: Any, people: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [item.format(**people) for item in value]
    return value.format(**people)


@pytest.mark.parametrize(("channel", "fields", "status", "named"), [r[1:] for r in INJECTION],
                         ids=[r[0] for r in INJECTION])  # fmt: skip
async def test_line_breaks_never_inject_headers_or_recipients(
    client: Client,
    h: Any,
    submission: Any,
    channel: str,
    fields: dict[str, Any],
    status: int,
    named: str | None,
) -> None:
    handler, _ = submission
    people = {key: h.fresh_address() for key in ("rcpt", "other", "third")}
    sender = await h.register(client)
    values = {name: _fill(value, people) for name, value in fields.items()}

    if channel == "form":
        await h.login(client, sender)
        data = {"cc": "", "subject": "Hi", "body": "Hello", **values}
        data["csrf_token"] = await h.csrf_token(client, "/compose")
        response = await client.post("/compose", data=data, allow_redirects=False)
    else:
        token = await h.api_token(client, sender)
        response = await client.post(
            "/api/v1/messages",
            json={"text": "Hello", **values},
            headers={"Authorization": f"Bearer {token}"},
        )

    assert response.status == status
    if named is not None:  # refused, the field named, nothing sent
        assert handler.messages == []
        if channel == "form":
            assert f'id="{named}-error"' in await response.text()
        else:
            assert named in (await response.json())["fields"]
        return
    envelope, raw = handler.messages[-1]
    named_fields = "".join(str(fields.get(name, "")) for name in ("to", "cc", "bcc"))
    expected = {address for key, address in people.items() if f"{{{key}}}" in named_fields}
    assert set(envelope.rcpt_tos) == expected
    msg = message_from_bytes(raw, policy=SMTP)
    assert msg["Bcc"] is None
    assert msg["X-Evil"] is None
    assert not re.search(r"[\r\n\u2028\u2029]", str(msg["Subject"]))
    assert msg.get_content().strip() == "Hello"


# -- uploads --------------------------------------------------------------------------------

# (id, the raw Content-Disposition parameters of the file part, the status: 303 is sent
# with a clean name, 400 is a part header aiohttp cannot parse, which no browser sends)
UPLOAD_NAMES = [
    ("vertical-tab", b'filename="a\x0bb.txt"', 400),
    ("nul", b'filename="a\x00b.txt"', 400),
    ("escape", b'filename="a\x1b[31mb.txt"', 400),
    ("line-separator", 'filename="a\u2028b.txt"'.encode(), 303),
    ("not-utf8", b'filename="a\xffb.txt"', 303),
    ("encoded-crlf", b"filename*=UTF-8''a%0D%0ABcc%3A%20x.txt", 303),
]


@pytest.mark.parametrize(("disposition", "status"), [r[1:] for r in UPLOAD_NAMES],
                         ids=[r[0] for r in UPLOAD_NAMES])  # fmt: skip
async def test_an_upload_with_a_hostile_file_name_is_4xx_or_sent_with_a_clean_name(
    client: Client, h: Any, submission: Any, disposition: bytes, status: int
) -> None:
    handler, _ = submission
    rcpt = h.fresh_address()
    await h.login(client, await h.register(client))
    token = await h.csrf_token(client, "/compose")
    fields = {"csrf_token": token, "to": rcpt, "cc": "", "subject": "file", "body": "see file"}
    body = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (name.encode(), value.encode())
        for name, value in fields.items()
    )
    body += (
        b'--b\r\nContent-Disposition: form-data; name="attachments"; ' + disposition
        + b"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    )  # fmt: skip

    response = await client.post(
        "/compose",
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        allow_redirects=False,
    )

    assert response.status == status, await response.text()
    if status == 400:
        assert "a part has a malformed header" in await response.text()
        assert handler.messages == []
        return
    _, raw = handler.messages[-1]
    (part,) = message_from_bytes(raw, policy=SMTP).iter_attachments()
    name = part.get_filename()
    assert name
    assert not re.search(r"[\x00-\x1f\x7f\u2028\u2029\ud800-\udfff]", name), name


# -- the directory (autocomplete) -----------------------------------------------------------

# (id, the prefix typed ({p}: eight accounts' shared start), status, suggestions)
DIRECTORY = [
    ("empty", "", 200, 0),
    ("one-character", "{p1}", 200, 0),
    ("two-characters", "{p2}", 200, 0),
    ("shared-prefix-capped", "{p}", 200, 5),
    ("one-account", "{p}3", 200, 1),
    ("by-name", "Dir{p}", 200, 5),
    ("nul", "{p}\x00", 422, 0),
    ("bidi-override", "{p}\u202e", 422, 0),
]


@pytest.mark.parametrize(("typed", "status", "count"), [r[1:] for r in DIRECTORY],
                         ids=[r[0] for r in DIRECTORY])  # fmt: skip
async def test_the_directory_suggests_a_few_for_a_real_prefix_only(
    client: Client, h: Any, typed: str, status: int, count: int
) -> None:
    shared = "q" + secrets.token_hex(4)
    for n in range(8):
        body = {"name": f"Dir{shared} {n}", "address": f"{shared}{n}@localpost.test",
                "password": h.password}  # fmt: skip
        assert (await client.post("/api/v1/accounts", json=body)).status == 201
    await h.login(client, await h.register(client))
    prefix = typed.format(p=shared, p1=shared[:1], p2=shared[:2])

    response = await client.get("/directory", params={"prefix": prefix})

    assert response.status == status
    if status == 200:
        assert len((await response.json())["accounts"]) == count


async def test_the_directory_is_rate_limited_per_account(client: Client, h: Any) -> None:
    await h.login(client, await h.register(client))
    limit, _ = DIRECTORY_PER_ACCOUNT

    statuses = [
        (await client.get("/directory", params={"prefix": f"abc{n}"})).status
        for n in range(limit + 1)
    ]

    assert statuses == [200] * limit + [429]


# -- a draft's references ---------------------------------------------------------------------

# (id, field of the compose form, value): the draft it replaces and the attachments it
# keeps are named by the form (views.drafts); whatever they say, the draft is saved as
# the signed-in account's and no attachment of anyone's comes with it.
DRAFT_REFERENCES = [
    ("keep-three-parts", "keep", "1:2:3"),
    ("keep-not-a-number", "keep", "x:1"),
    ("keep-past-bigint", "keep", "99999999999999999999:1"),
    ("keep-index-huge", "keep", "1:9999999999"),
    ("keep-nul", "keep", "\x00"),
    ("keep-negative", "keep", "-1:0"),
    ("keep-arabic-digits", "keep", "\u0661:\u0660"),
    ("keep-empty", "keep", ""),
    ("draft-not-a-number", "draft", "abc"),
    ("draft-negative", "draft", "-1"),
    ("draft-past-bigint", "draft", "99999999999999999999"),
    ("draft-19-digits-past-bigint", "draft", "9999999999999999999"),
    ("draft-arabic-digits", "draft", "\u0661\u0662"),
    ("draft-nul", "draft", "1\x00"),
]


@pytest.mark.parametrize(("name", "value"), [r[1:] for r in DRAFT_REFERENCES],
                         ids=[r[0] for r in DRAFT_REFERENCES])  # fmt: skip
async def test_a_hostile_draft_reference_saves_a_new_draft_without_attachments(
    client: Client, h: Any, name: str, value: str
) -> None:
    await h.login(client, await h.register(client))
    token = await h.csrf_token(client, "/compose")

    response = await client.post(
        "/compose/draft",
        data={"csrf_token": token, "subject": "s", name: value},
        headers={"Accept": "application/json"},
    )

    assert response.status == 200, await response.text()
    assert (await response.json())["attachments"] == []
