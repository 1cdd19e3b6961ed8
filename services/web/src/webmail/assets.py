"""The static files (``static/``): served from memory, gzipped once, cached for a year
under URLs that name their content (``/static/app.css?v=<hash>``).

A page links ``url(name)``; when a file changes its hash changes, so browsers and
proxies can keep the old one "immutable" (RFC 8246) and still never show it against a
new page. Only the current hash is served as immutable: during a rolling deploy an old
process asked for a newer hash answers with its own file and ``no-cache``, so no cache
keeps an old file under the new URL for a year. A URL without the current hash (an old
link, a hand-typed one) gets the file with ``no-cache`` and its ETag (RFC 9111 §5.2.2.4).

Brotli would save a little more, but no well-kept brotli library is installed; gzip
(RFC 9110 §8.4.1.3) is in every browser.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from aiohttp import hdrs, web

from webmail.errors import NotFound

STATIC = Path(__file__).parent / "static"
NAME = r"{name:[A-Za-z0-9][A-Za-z0-9._-]{0,99}}"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Compressing images gains nothing; text is what shrinks (CSS and JS to about a quarter).
_COMPRESSIBLE = ("text/", "application/javascript", "image/svg+xml", "application/json")


@dataclass(frozen=True, slots=True)
class Asset:
    content_type: str
    body: bytes = field(repr=False)
    # The gzip coding of ``body``, or None when it would not be smaller.
    gzipped: bytes | None = field(repr=False)
    # The first 16 hex digits of the body's SHA-256: the URL's version and the ETag.
    version: str


def _load(path: Path) -> Asset:
    body = path.read_bytes()
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    gzipped = None
    if content_type.startswith(_COMPRESSIBLE):
        # mtime=0: the same bytes in every process and build, so replicas agree.
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        gzipped = packed if len(packed) < len(body) else None
    return Asset(content_type, body, gzipped, hashlib.sha256(body).hexdigest()[:16])


@cache
def assets() -> dict[str, Asset]:
    """Every file of ``static/`` by name, read once per process (they ship with it)."""
    return {path.name: _load(path) for path in sorted(STATIC.iterdir()) if path.is_file()}


def url(name: str) -> str:
    """The URL a page links for ``name``: KeyError for a file that does not exist, so a
    typo in a template fails its first render instead of linking a 404."""
    return f"/static/{name}?v={assets()[name].version}"


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value allows gzip (RFC 9110 §12.5.3): named or by
    ``*``, with a q-value above 0; ``gzip;q=0`` refuses it."""
    named: float | None = None
    wildcard: float | None = None
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding.strip() in ("gzip", "x-gzip"):
            named = weight
        elif coding.strip() == "*":
            wildcard = weight
    chosen = named if named is not None else wildcard
    return chosen is not None and chosen > 0


async def serve(request: web.Request) -> web.Response:
    asset = assets().get(request.match_info["name"])
    if asset is None:
        raise NotFound(request.path)
    current = request.query.get("v") == asset.version
    body = asset.body
    headers = {
        hdrs.CACHE_CONTROL: IMMUTABLE if current else REVALIDATE,
        # Caches keep the gzipped and the plain body apart (RFC 9110 §12.5.5).
        hdrs.VARY: hdrs.ACCEPT_ENCODING,
    }
    etag = asset.version
    if asset.gzipped is not None and accepts_gzip(request.headers.get(hdrs.ACCEPT_ENCODING, "")):
        body, etag = asset.gzipped, etag + "-gzip"
        headers[hdrs.CONTENT_ENCODING] = "gzip"
    # A strong ETag names one representation: the gzipped body has its own (§8.8.3).
    headers[hdrs.ETAG] = f'"{etag}"'
    if _matches(request.headers.get(hdrs.IF_NONE_MATCH, ""), etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=asset.content_type, headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: "*" or any listed tag, compared weakly."""
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or f'"{etag}"' in tags
