"""The compose form read as it streams in, so that too much attached is a field error.

aiohttp's ``request.post()`` reads a form whole and answers a body over the app's
``client_max_size`` with a bare 413 page: the typed text would be lost with it. The
compose routes read their multipart form part by part instead: the text fields come
first (they precede the file input in the page), then the files, counted as they
arrive. Once the attachments pass drafts.MAX_ATTACHMENTS_BYTES, the new files are
dropped and the rest of the body is read and discarded, up to MAX_UPLOAD_BYTES (a
browser that is cut off mid-upload shows a network error, not our answer); past that,
413 after all.
"""

from __future__ import annotations

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from webmail import csrf, drafts
from webmail.errors import MalformedBody
from webmail.typedefs import ComposeForm

# The routes whose form is read here (csrf_middleware reads it, for the view too).
PATHS = frozenset({"/compose", "/compose/draft"})
# One text field (the body is the large one) and all of them together.
MAX_TEXT_BYTES = 2 * 1024 * 1024
# What is read at all before the connection gets a 413: a few times the limit, enough
# for a person who chose one film too many.
MAX_UPLOAD_BYTES = 4 * drafts.MAX_ATTACHMENTS_BYTES
# Parts one form may have, as aiohttp's client_max_fields for other forms.
MAX_PARTS = 1000
TEXT_FIELDS = (
    *drafts.DRAFT_FIELDS, "source", "source_flag", "draft", "save", csrf.FIELD,
)  # fmt: skip


async def read(request: web.Request) -> ComposeForm:
    """The form of a compose route; MalformedBody when it cannot be parsed."""
    if (request.content_length or 0) > MAX_UPLOAD_BYTES:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_UPLOAD_BYTES, actual_size=request.content_length or 0
        )
    if request.content_type != "multipart/form-data":
        return _from_fields(await request.post())
    try:
        return await _read_multipart(request)
    except (ValueError, LookupError, AssertionError) as exc:
        # A missing boundary, a nested multipart, text not in its charset or in one
        # Python does not know.
        raise MalformedBody("The form could not be read.") from exc
    except BadHttpMessage as exc:
        raise MalformedBody("The form could not be read: a part has a malformed header.") from exc


def _from_fields(fields: object) -> ComposeForm:
    form = ComposeForm()
    getall = getattr(fields, "getall", None)
    for name in TEXT_FIELDS:
        value = fields.get(name) if hasattr(fields, "get") else None
        if isinstance(value, str):
            form.values[name] = value
    if getall is not None:
        form.keep = [v for v in getall("keep", []) if isinstance(v, str)]
    return form


async def _read_multipart(request: web.Request) -> ComposeForm:
    form = ComposeForm()
    reader = await request.multipart()
    read = text_read = attached = parts = 0
    while (part := await reader.next()) is not None:
        parts += 1
        if parts > MAX_PARTS:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_PARTS, actual_size=parts)
        if not isinstance(part, BodyPartReader):
            raise MalformedBody("The form could not be read.")
        data = bytearray()
        keep = part.filename is None or not form.too_large
        while chunk := await part.read_chunk():
            read += len(chunk)
            if read > MAX_UPLOAD_BYTES:
                raise web.HTTPRequestEntityTooLarge(max_size=MAX_UPLOAD_BYTES, actual_size=read)
            if keep:
                data += chunk
            if part.filename is not None and attached + len(data) > drafts.MAX_ATTACHMENTS_BYTES:
                form.too_large, keep = True, False
                data.clear()
        if part.filename is not None:
            if keep and part.filename:
                attached += len(data)
                content = bytes(part.decode(bytes(data)))
                kind = part.headers.get("Content-Type")
                form.files.append(drafts.attachment(part.filename, kind, content))
            continue
        text_read += len(data)
        if text_read > MAX_TEXT_BYTES:  # no person types this much: not a draft to keep
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_TEXT_BYTES, actual_size=text_read)
        text = bytes(part.decode(bytes(data))).decode(part.get_charset("utf-8"))
        if part.name == "keep":
            form.keep.append(text)
        elif part.name in TEXT_FIELDS:
            form.values[part.name] = text
    return form
