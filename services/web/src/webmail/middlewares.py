"""The HTTP edge: who a request acts for, CSRF, security headers, and the one place
where domain errors become statuses and real error pages."""

from __future__ import annotations

import logging
from urllib.parse import quote

from aiohttp import hdrs, web
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.typedefs import Handler
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from webmail import assets, autoconfig, autodiscover, compose_form, csrf
from webmail.access_log import loggable_path
from webmail.errors import (
    AddressTaken,
    BadCredentials,
    CsrfRejected,
    InvalidFields,
    MailstoreUnavailable,
    MalformedBody,
    NotAuthenticated,
    NotFound,
    RateLimited,
    RegistrationClosed,
    SubmissionUnavailable,
)
from webmail.keys import COMPOSE_FORM, MAILSTORE, METRICS, NONCE, PRINCIPAL
from webmail.pages import render
from webmail.sessions import COOKIE as SESSION_COOKIE
from webmail.typedefs import Principal
from webmail.views import drafts

log = logging.getLogger(__name__)

API = "/api/"
# No session lookup for these: they are public and hot (health probes, assets).
_ANONYMOUS_PREFIXES = (
    "/static/",
    "/healthz",
    "/readyz",
    "/metrics",
    *autoconfig.PATHS,
    *autodiscover.PATHS,
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Calls that take no cookie at all: registering (JSON) and Basic-authenticated tokens.
_NO_AMBIENT_AUTHORITY = frozenset({"/api/v1/accounts", "/api/v1/tokens"})
# Autodiscover's POST is a query from a mail program, with no cookie, that changes nothing
# and answers only with what a domain's servers are: nothing for a forged request to win.
# Exact paths, so that nothing else slips through; auth_middleware ignores their cookies.
_NO_STATE_CHANGE = frozenset(autodiscover.PATHS)
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

# The pages' policy: our own assets, scripts only with this response's nonce, mail
# bodies only in frames of our own origin, and never framed by anyone (clickjacking).
PAGE_CSP = (
    "default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
STRICT_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# RFC 9110 §10.2.3: when to try again after a 503 (the mail store's own outage answer
# says 5 s too, OUTAGE_RETRY_AFTER).
UNAVAILABLE_RETRY_AFTER = 5
UNAVAILABLE = "Mail is unavailable right now. Try again soon."


def _error_reason(status: int) -> str:
    return {
        400: "Bad request",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        413: "Too large",
        429: "Too many requests",
        503: "Service unavailable",
    }.get(status, "Something went wrong")


async def error_page(request: web.Request, status: int, message: str = "") -> web.StreamResponse:
    if request.path.startswith(API):
        return web.json_response({"error": message or _error_reason(status).lower()}, status=status)
    context = {"status": status, "reason": _error_reason(status), "message": message}
    # A 503 does not ask the store for the sidebar's folders: it is why the page failed,
    # and a second wait would double the time to this answer.
    return await render(request, "error.html", context, status=status, nav=status != 503)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotFound:
        # The same answer for "missing" and "someone else's": ids reveal nothing.
        return await error_page(request, 404, "There is nothing here.")
    except NotAuthenticated:
        if request.path.startswith(API):
            response = web.json_response({"error": "unauthorized"}, status=401)
            # RFC 9110 §11.6.1: the challenge names the scheme the call takes; tokens
            # are created with Basic, everything else takes Bearer.
            scheme = "Basic" if request.path in _NO_AMBIENT_AUTHORITY else "Bearer"
            response.headers["WWW-Authenticate"] = f'{scheme} realm="localpost"'
            return response
        target = quote(request.path_qs, safe="/?=&")
        raise web.HTTPSeeOther(f"/login?next={target}") from None
    except BadCredentials:
        return await error_page(request, 401, "Wrong address or password.")
    except CsrfRejected:
        return await error_page(request, 403, "The form expired. Go back, reload and try again.")
    except RateLimited as exc:
        minutes = max(1, round(exc.retry_after / 60))
        limited = await error_page(
            request, 429, f"Too many attempts. Try again in about {minutes} minute(s)."
        )
        limited.headers["Retry-After"] = str(exc.retry_after)
        return limited
    except AddressTaken:
        return await error_page(request, 409, "That address is taken.")
    except RegistrationClosed as exc:
        return await error_page(request, 403, str(exc))
    except MalformedBody as exc:
        return await error_page(request, 400, str(exc))
    except InvalidFields as exc:
        if request.path.startswith(API):
            return web.json_response({"error": "invalid", "fields": exc.fields}, status=422)
        return await error_page(request, 422, "; ".join(exc.fields.values()))
    except (MailstoreUnavailable, SubmissionUnavailable) as exc:
        log.warning("%s %s: %s", request.method, loggable_path(request), exc)
        unavailable = await error_page(request, 503, UNAVAILABLE)
        unavailable.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
        return unavailable
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return await error_page(request, exc.status)
    except Exception:
        # The edge of the service: log the bug with its traceback, show a real page.
        log.exception("unexpected error in %s %s", request.method, loggable_path(request))
        request.app[METRICS].errors.inc()
        return await error_page(request, 500, "Something broke on our side.")


# Bodies smaller than this gain too little from gzip to be worth the CPU.
MIN_COMPRESSED = 1024
_COMPRESSED_TYPES = frozenset({"text/html", "application/json"})


@web.middleware
async def compression_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """gzip pages and JSON, but never a response that holds a signed-in user's mail.

    BREACH: a compressed body's length leaks how well attacker-chosen text (a search
    term in the URL, the subject of a message the attacker sent) compresses against a
    secret in the same body. The CSRF token is masked per response (csrf.py), which
    settles it; but a signed-in page holds the person's other mail next to what an
    attacker wrote, and a session cookie rides along with a cross-site navigation. So
    a request that acts through the session cookie gets its page uncompressed. What
    is compressed: static files (assets.py, precompressed), pages for nobody signed in
    (login, sign-up, errors) and calls with a Bearer token, which no other site can
    make a browser send (RFC 6750 §5.2).
    """
    response = await handler(request)
    principal = request.get(PRINCIPAL)
    if (
        isinstance(response, web.Response)
        and not response.prepared
        and response.content_type in _COMPRESSED_TYPES
        and (principal is None or principal.via != "session")
        and hdrs.CONTENT_ENCODING not in response.headers
        and isinstance(response.body, bytes)
        and len(response.body) >= MIN_COMPRESSED
    ):
        response.headers.add(hdrs.VARY, hdrs.ACCEPT_ENCODING)
        if assets.accepts_gzip(request.headers.get(hdrs.ACCEPT_ENCODING, "")):
            response.enable_compression(web.ContentCoding.gzip)
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find who the request acts for: a bearer token, else the session cookie."""
    if request.path.startswith(_ANONYMOUS_PREFIXES):
        return await handler(request)
    mailstore = request.app[MAILSTORE]
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        account = await mailstore.get_token(credential.strip()) if credential.strip() else None
        if account is None:
            raise NotAuthenticated()
        request[PRINCIPAL] = Principal(account, via="token")
    elif not scheme and (secret := request.cookies.get(SESSION_COOKIE)):
        # A cookie is ignored on a request that brings Authorization of any kind.
        found = await mailstore.get_session(secret)
        if found is not None:
            account, session_id = found
            request[PRINCIPAL] = Principal(
                account, via="session", session=secret, session_id=session_id
            )
    return await handler(request)


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in _SAFE_METHODS or request.path in _NO_AMBIENT_AUTHORITY | _NO_STATE_CHANGE:
        return await handler(request)
    # A browser sends Authorization only when a script of the page's own origin sets
    # it (cross-origin it would need a CORS preflight we never grant): no CSRF there.
    # But only when the header is what authenticates: one that is empty or not a scheme
    # (``Authorization:``) leaves the cookie in charge, and then the token is due.
    if "Authorization" in request.headers and not _via_cookie(request):
        return await handler(request)
    presented = request.headers.get(csrf.HEADER)
    if request.content_type in _FORM_TYPES and request.path in compose_form.PATHS:
        # Read as it streams, so that too much attached is a field error (compose_form).
        compose = request[COMPOSE_FORM] = await compose_form.read(request)
        if presented is None:
            presented = compose.csrf_token
        if not csrf.is_valid(request, presented):
            # The typed text is not lost with the session or the form (views.drafts).
            return await drafts.form_expired(request, compose)
    elif request.content_type in _FORM_TYPES:
        # Parsed here, once, for the view too: a body that cannot be parsed is the
        # client's 400 wherever it was sent, never a 500 in some view.
        form = await read_form(request)
        if presented is None:
            value = form.get(csrf.FIELD)
            presented = value if isinstance(value, str) else None
    if not csrf.is_valid(request, presented):
        raise CsrfRejected()
    return await handler(request)


def _via_cookie(request: web.Request) -> bool:
    principal = request.get(PRINCIPAL)
    return principal is not None and principal.via == "session"


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | FileField]:
    """The parsed form; MalformedBody when it cannot be parsed (too large stays 413)."""
    try:
        return await request.post()
    except ValueError as exc:
        # aiohttp: a multipart without a boundary or with a nested multipart part, bytes
        # that do not decode in the declared charset (UnicodeDecodeError).
        raise MalformedBody("The form could not be read.") from exc
    except BadHttpMessage as exc:
        # A part's header aiohttp refuses to parse: a control character in it
        # (filename="a\x0bb.txt"), which no browser sends. Not a 500.
        raise MalformedBody("The form could not be read: a part has a malformed header.") from exc


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, streamed and static ones too."""
    headers = response.headers
    if "Content-Security-Policy" not in headers:
        nonce = request.get(NONCE)
        headers["Content-Security-Policy"] = (
            PAGE_CSP.format(nonce=nonce) if nonce is not None else STRICT_CSP
        )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
