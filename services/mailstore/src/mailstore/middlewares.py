"""The HTTP edge: the service token check, the one place errors become statuses, and the
access log (which never shows a secret)."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler
from aiohttp.web_request import BaseRequest

from mailstore import db
from mailstore.errors import (
    AccountNotFound,
    AddressTaken,
    FolderError,
    FolderNotReady,
    InvalidRequest,
    InvitationNotFound,
    LastAdministrator,
    LoginThrottled,
    MaildropInUse,
    MessageNotFound,
    MessageTooBig,
    Overloaded,
    OverQuota,
    ResetNotFound,
    SearchTooCostly,
    SessionNotFound,
    TokenNotFound,
)
from mailstore.keys import CONFIG, EVENTS
from mailstore.routes import DIRECTORY_ROUTES, SECRET_ROUTES

log = logging.getLogger(__name__)

# RFC 9110 §10.2.3: how long a caller waits before trying again while the database is
# unreachable or starting up (PostgreSQL's recovery usually takes seconds).
OUTAGE_RETRY_AFTER = 5

# Health, metrics and the OpenAPI document stay open: compose's health checks and
# Prometheus carry no token, and the service listens on the internal network only.
PROTECTED_PREFIX = "/v1/"
# Seconds an IMAP client is told to wait for a folder whose UIDs are being backfilled:
# the maintenance task numbers 1,000 entries per short transaction.
NOT_READY_RETRY_AFTER = 30


def error_json(status: int, message: str, **extra: object) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (
        AccountNotFound,
        InvitationNotFound,
        MessageNotFound,
        ResetNotFound,
        SessionNotFound,
        TokenNotFound,
    ):
        # The same answer for "missing" and "someone else's": ids reveal nothing.
        return error_json(404, "not found")
    except AddressTaken:
        return error_json(409, "address taken")
    except LastAdministrator:
        return error_json(409, "the last administrator", code="lastadmin")
    except FolderError as exc:
        response = error_json(exc.status, str(exc), code=exc.code)
        if isinstance(exc, FolderNotReady):
            response.headers["Retry-After"] = str(NOT_READY_RETRY_AFTER)
        return response
    except MaildropInUse as exc:
        return error_json(409, str(exc), code="inuse")
    except MessageTooBig as exc:
        return error_json(413, str(exc), code="toobig")
    except OverQuota as exc:
        return error_json(409, str(exc), code="overquota")
    except SearchTooCostly as exc:
        return error_json(413, str(exc), code="limit")
    except InvalidRequest as exc:
        return error_json(422, "invalid request", fields=exc.fields)
    except LoginThrottled as exc:
        # RFC 6585 §4: 429 with Retry-After; the body repeats it for callers that log it.
        response = error_json(429, "too many failed logins", retry_after=exc.retry_after)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Overloaded as exc:
        # RFC 9110 §15.6.4: 503 with Retry-After; the caller retries, not the store.
        response = error_json(503, "too many password checks waiting")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_json(exc.status, exc.reason)
    except Exception as exc:
        if db.is_outage(exc):
            # The consumer's classifier: PostgreSQL down, starting up (57P03,
            # CannotConnectNowError), out of connections. Temporary, so 503, not 500.
            log.warning("database unavailable in %s %s: %r", request.method,
                        loggable_path(request), exc)  # fmt: skip
            response = error_json(503, "database unavailable")
            response.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER)
            return response
        log.exception("unexpected error in %s %s", request.method, loggable_path(request))
        return error_json(500, "internal error")


@web.middleware
async def text_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Query text the database cannot hold is the caller's 422, whichever endpoint and
    parameter (search, directory prefix, folder, cursor...), never a driver error."""
    for name, value in request.query.items():
        if not (db.storable(name) and db.storable(value)):
            raise InvalidRequest({name if db.storable(name) else "query": db.UNSTORABLE})
    return await handler(request)


@web.middleware
async def token_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No bearer token: 401. A wrong one: 403 (RFC 9110 §15.5.4, credentials given but
    not enough), so that a caller with a misconfigured MAILSTORE_TOKEN can tell it from
    /v1/auth/verify's 401 for a wrong user password, and does not report it as one."""
    if request.path.startswith(PROTECTED_PREFIX):
        expected = request.app[CONFIG].token.encode()
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            response = error_json(401, "unauthorized")
            response.headers["WWW-Authenticate"] = 'Bearer realm="mailstore"'
            return response
        # compare_digest: the time taken does not depend on how much of the token matched.
        if not hmac.compare_digest(presented.encode(errors="replace"), expected):
            return error_json(403, "wrong service token")
    return await handler(request)


@web.middleware
async def directory_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After a change to who an address reaches (routes.DIRECTORY_ROUTES) succeeded, and
    so after its COMMIT, tell the gateways to forget their cached RCPT answers: a
    disabled account is then refused at once, not after the cache's TTL. A refusal
    raises past this, and changed nothing."""
    response = await handler(request)
    name = request.match_info.route.name
    if name in DIRECTORY_ROUTES and response.status < 300:
        await request.app[EVENTS].directory_changed(name)
    return response


def loggable_path(request: BaseRequest) -> str:
    """The request's path, or its route's pattern when the path holds a session or token.

    The query string is left out: a search's ``q`` is the user's business, not the log's.
    """
    match_info = getattr(request, "match_info", None)
    route = match_info.route if match_info is not None else None
    if route is not None and route.name in SECRET_ROUTES and route.resource is not None:
        canonical: str = route.resource.canonical
        return canonical
    return request.path


class AccessLogger(AbstractAccessLogger):
    """aiohttp's access log, minus secrets: ``web.run_app(access_log_class=AccessLogger)``."""

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %d %.3fs',
            request.remote,
            request.method,
            loggable_path(request),
            response.status,
            time,
        )
