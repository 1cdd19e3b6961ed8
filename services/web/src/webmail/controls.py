"""Characters no address, header, name or redirect target may hold."""

from __future__ import annotations

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
