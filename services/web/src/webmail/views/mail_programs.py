"""Setting up mail programs: the autoconfiguration documents and the Mail programs page.

The documents (Thunderbird's clientConfig, Outlook's Autodiscover) are fetched by programs
before they have any credentials: no login, no cookie, and they change nothing, so the
CSRF check does not apply to Autodiscover's POST (middlewares.py). They tell only what
the domain's servers are, never whether a mailbox exists. The Apple profile and the
certificate are for the signed-in user, from the page.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from webmail import auth, autoconfig, autodiscover, certificate, mobileconfig
from webmail.errors import BadCredentials, MalformedBody, NotFound
from webmail.keys import CONFIG, MAILSTORE
from webmail.pages import render
from webmail.servers import POP3, local_domain, servers
from webmail.views.common import field, require_user

XML = "application/xml"
PASSWORD = "password"  # noqa: S105 - the form field's name


async def thunderbird(request: web.Request) -> web.Response:
    """clientConfig for ``?emailaddress=`` (Thunderbird sends it), else the first domain."""
    config = request.app[CONFIG]
    domain = config.domains[0]
    if "emailaddress" in request.query:
        address = request.query["emailaddress"]
        if "@" not in address:
            raise MalformedBody("emailaddress must be an e-mail address.")
        found = local_domain(address, config.domains)
        if found is None:
            raise NotFound(address)
        domain = found
    body = autoconfig.client_config(servers(config.public), domain=domain, domains=config.domains)
    return web.Response(body=body, content_type=XML, charset="utf-8")


async def outlook(request: web.Request) -> web.Response:
    """Autodiscover: POST a request; a GET (a client probing) gets the error document
    Exchange gives it, 600 Invalid Request."""
    if request.method != "POST":
        return _autodiscover_error(autodiscover.INVALID_REQUEST, status=200)
    length = request.content_length
    if length is not None and length > autodiscover.MAX_REQUEST_BYTES:
        return _autodiscover_error(autodiscover.INVALID_REQUEST, status=413)
    body = await request.content.read(autodiscover.MAX_REQUEST_BYTES + 1)
    # read(n) may stop short of n at a chunk's end; keep on to the limit (or the end).
    while len(body) <= autodiscover.MAX_REQUEST_BYTES and not request.content.at_eof():
        more = await request.content.read(autodiscover.MAX_REQUEST_BYTES + 1 - len(body))
        if not more:
            break
        body += more
    if len(body) > autodiscover.MAX_REQUEST_BYTES:
        return _autodiscover_error(autodiscover.INVALID_REQUEST, status=413)
    try:
        address, _ = autodiscover.parse_request(body)
    except autodiscover.BadRequest as exc:
        return _autodiscover_error(exc.error, status=400)
    config = request.app[CONFIG]
    if local_domain(address, config.domains) is None:
        return _autodiscover_error(autodiscover.UNKNOWN_ADDRESS, status=404)
    document = autodiscover.account_response(servers(config.public), address=address)
    return _no_store(web.Response(body=document, content_type=XML, charset="utf-8"))


def _autodiscover_error(error: tuple[int, str], *, status: int) -> web.Response:
    body = autodiscover.error_response(error)
    return web.Response(body=body, status=status, content_type=XML, charset="utf-8")


def _no_store(response: web.Response) -> web.Response:
    # It names an account (and a profile may hold a password): no cache keeps it.
    response.headers["Cache-Control"] = "no-store"
    return response


async def _certificate(request: web.Request) -> certificate.Certificate | None:
    path = request.app[CONFIG].public.tls_cert
    return await asyncio.to_thread(certificate.load, path) if path else None


async def page(
    request: web.Request, *, errors: dict[str, str] | None = None, status: int = 200
) -> web.Response:
    user = require_user(request)
    public = request.app[CONFIG].public
    offered = servers(public)
    context: dict[str, Any] = {
        "servers": offered,
        "pop3": any(s.protocol == POP3 for s in offered),
        "hostname": public.hostname,
        "username": user.address,
        "certificate": await _certificate(request),
        "errors": errors or {},
    }
    return await render(request, "mail_programs.html", context, status=status)


async def profile(request: web.Request) -> web.Response:
    """The .mobileconfig: GET without the password; POST (CSRF-checked) with it, once the
    mail store has confirmed it (a wrong one in a profile fails only on the device)."""
    user = require_user(request)
    config = request.app[CONFIG]
    password = None
    if request.method == "POST":
        form = await request.post()
        password = field(form, PASSWORD)
        try:
            await auth.login(
                request.app[MAILSTORE],
                ip=request.remote or "unknown",
                channel="web",
                address=user.address,
                password=password,
                domains=config.domains,
                # Signed in as this account already: the account's ceiling is for
                # strangers; the per-client limits still apply.
                known_device=True,
            )
        except BadCredentials:
            errors = {PASSWORD: "That is not your password."}
            return await page(request, errors=errors, status=422)
    body = mobileconfig.profile(
        servers(config.public),
        address=user.address,
        name=user.account.name,
        password=password,
    )
    response = web.Response(body=body, content_type=mobileconfig.CONTENT_TYPE)
    name = mobileconfig.filename(user.address)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return _no_store(response)


async def certificate_file(request: web.Request) -> web.Response:
    require_user(request)
    found = await _certificate(request)
    if found is None:
        raise NotFound("certificate")
    response = web.Response(text=found.pem, content_type="application/x-x509-ca-cert")
    response.headers["Content-Disposition"] = 'attachment; filename="localpost.crt"'
    return response
