"""The line the page after a destructive action shows ("Moved 3 messages to Trash" with
an Undo button), carried across the redirect in a short-lived cookie.

The cookie holds what happened, never text: ``moved:<count>[:<id>.<id>...]``,
``restored:<done>:<asked>``, ``deleted:<count>`` or ``undelivered:<addresses>`` (a
partial delivery: the refused addresses, base64url). It is the browser's own, so it
may hold anything: what does not parse is no notice, and the ids an Undo sends back
are restored only where the mail store finds them in that account's Trash. A link
cannot set it, so no crafted URL makes a page claim what did not happen.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

COOKIE = "lp_notice"
# Long enough for a slow page after the redirect, short enough not to show on a page
# visited much later.
MAX_AGE = 300
# A browser keeps about 4 KB a cookie (RFC 6265 §6.1): a Delete of more ids than fit
# (an "All 2,000" of a folder) says where they went, without an Undo.
UNDO_MAX_CHARS = 3000
# The cookie's and the Undo form's list of ids: cookie-safe characters only (RFC 6265
# §4.1.1 has no comma).
IDS = re.compile(r"[0-9]{1,19}(?:\.[0-9]{1,19})*")
_COUNT = r"(0|[1-9][0-9]{0,6})"
_MOVED = re.compile(rf"moved:{_COUNT}(?::({IDS.pattern}))?")
_RESTORED = re.compile(rf"restored:{_COUNT}:{_COUNT}")
_DELETED = re.compile(rf"deleted:{_COUNT}")
_UNDELIVERED = re.compile(r"undelivered:([A-Za-z0-9_-]{1,3000}={0,2})")


@dataclass(frozen=True, slots=True)
class Notice:
    text: str
    # What the Undo button sends back (``IDS``' form), "" for no Undo.
    undo: str = ""


def moved(ids: Iterable[int]) -> str | None:
    """The cookie after a move to Trash of ``ids`` (those the mail store moved)."""
    chosen = list(ids)
    if not chosen:
        return None
    encoded = ".".join(str(i) for i in chosen)
    if len(encoded) > UNDO_MAX_CHARS:
        return f"moved:{len(chosen)}"
    return f"moved:{len(chosen)}:{encoded}"


def restored(done: int, asked: int) -> str:
    return f"restored:{done}:{asked}"


def deleted(count: int) -> str:
    return f"deleted:{count}"


def undelivered(addresses: Iterable[str]) -> str:
    """The cookie after a partial delivery: who did not get the message (those that fit
    in a cookie; the sent message's page names them all)."""
    encoded = base64.urlsafe_b64encode(", ".join(addresses).encode()).decode()
    return f"undelivered:{encoded[: UNDO_MAX_CHARS - UNDO_MAX_CHARS % 4]}"


def undo_ids(value: str) -> list[int] | None:
    """The ids of an Undo form's field, or None when it is not such a list."""
    if len(value) > UNDO_MAX_CHARS or not IDS.fullmatch(value):
        return None
    return list(dict.fromkeys(int(part) for part in value.split(".")))


def read(value: str | None) -> Notice | None:
    """The notice a cookie's value stands for; None for none, or for junk."""
    if not value or len(value) > UNDO_MAX_CHARS + len("moved:9999999:"):
        return None
    if found := _MOVED.fullmatch(value):
        count, ids = int(found.group(1)), found.group(2) or ""
        text = f"Moved {messages(count)} to Trash."
        if not ids:
            text += " Open Trash to restore them."
        return Notice(text, ids)
    if found := _RESTORED.fullmatch(value):
        done, asked = int(found.group(1)), int(found.group(2))
        if done == 0:
            return Notice("Nothing was restored: those messages are no longer in Trash.")
        if done < asked:
            return Notice(
                f"Restored {done} of {messages(asked)}; the others are no longer in Trash."
            )
        return Notice(f"Restored {messages(done)} to {_where(done)}.")
    if found := _DELETED.fullmatch(value):
        return Notice(f"Deleted {messages(int(found.group(1)))} forever.")
    if found := _UNDELIVERED.fullmatch(value):
        try:
            who = base64.urlsafe_b64decode(found.group(1)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return Notice(
            f"Sent, but not delivered to: {who}. The others have it: do not send it again to them."
        )
    return None


def messages(count: int) -> str:
    return "1 message" if count == 1 else f"{count} messages"


def _where(count: int) -> str:
    return "where it was" if count == 1 else "where they were"
