"""What the compose page shows besides its fields: its title, and the field it opens
in (``autofocus``, set here so that it needs no script)."""

from __future__ import annotations

from collections.abc import Mapping

TITLES = {"answered": "Reply", "forwarded": "Forward"}
# The fields in page order: the first one with an error is where the person goes next.
FIELDS = ("to", "cc", "bcc", "subject", "body", "attachments")


def compose_title(values: Mapping[str, str]) -> str:
    """ "Reply" (and Reply all), "Forward", or "New message"; from the flag the sent
    message will set on the original, which a re-shown form keeps."""
    return TITLES.get(values.get("source_flag", ""), "New message")


def compose_focus(values: Mapping[str, str], errors: Mapping[str, str]) -> str:
    """The field to focus: the first with an error; else To when empty, else Subject
    when empty, else the body (whose caret a browser puts at its start: above the
    signature and the quote, where a reply is written)."""
    for name in FIELDS:
        if name in errors:
            return name
    for name in ("to", "subject"):
        if not values.get(name, "").strip():
            return name
    return "body"
