"""Characters no address, header, name or redirect target may hold."""

from __future__ import annotations

import re
import unicodedata

# Controls (C0, DEL, C1 with NEL), line and paragraph separators (U+2028/9: some parsers,
# email.policy's folding among them, break lines at them) and lone surrogates (no
# encoder takes them: a UnicodeEncodeError far from where they came in).
BREAKING = frozenset({"Cc", "Zl", "Zp", "Cs"})
# And format characters (bidi overrides, zero-width spaces): invisible, so never needed
# in a name or a redirect target, and a way to make one look like another.
INVISIBLE = BREAKING | {"Cf"}


def has_control(text: str, categories: frozenset[str] = BREAKING) -> bool:
    """Whether ``text`` holds a character of one of ``categories`` (Unicode general
    categories)."""
    return any(unicodedata.category(c) in categories for c in text)


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (only JSON's "\\ud800" can bring one)."""
    return any("\ud800" <= c <= "\udfff" for c in text)


_SHOWN_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with its C0 and C1 controls (but tab and line breaks) as U+FFFD, for
    subjects, names, file names and previews: the mail store does the same when it parses
    (mailstore.parsing.visible), but messages stored before it did may still hold them."""
    return _SHOWN_CONTROL.sub("\ufffd", text)
