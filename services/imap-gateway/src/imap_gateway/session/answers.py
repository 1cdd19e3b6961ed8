"""The tagged OK a handler returns; NO and BAD are raised (:mod:`.errors`)."""

from __future__ import annotations

from imap_gateway.session.errors import Answer
from imap_gateway.wire import codes


def ok(text: str, code: str | None = None, args: bytes | None = None) -> Answer:
    return Answer(codes.OK, text, code, args)
