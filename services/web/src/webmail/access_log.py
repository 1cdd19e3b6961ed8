"""aiohttp's access log without the secrets that travel in paths.

A password-reset link's token is its path (``/reset/<token>``): whoever reads a log line
with it could set the account's password until the link is used. A sign-up invitation's
(``/invite/<token>``) would let them create an account. Such paths are logged as
their route's pattern. The same as the mail store's (mailstore.middlewares), which this
service does not import: the services share only smtplib_common, which the mail store
does not depend on.
"""

from __future__ import annotations

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

# Route names whose path holds a secret (routes.py).
SECRET_ROUTES = frozenset({"reset_form", "reset", "invite_form", "invite"})


def loggable_path(request: BaseRequest) -> str:
    """The path, or its route's pattern when the path holds a secret; no query string."""
    match_info = getattr(request, "match_info", None)
    route = match_info.route if match_info is not None else None
    if route is not None and route.name in SECRET_ROUTES and route.resource is not None:
        canonical: str = route.resource.canonical
        return canonical
    return request.path


class AccessLogger(AbstractAccessLogger):
    """``web.run_app(access_log_class=AccessLogger)``."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %d %.3fs',
            request.remote,
            request.method,
            loggable_path(request),
            response.status,
            time,
        )
