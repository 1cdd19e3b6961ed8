"""Characters no address, header, name or redirect target may hold."""

from __future__ import annotations

import unicodedata

# Controls (C0, DEL, C1), format characters (bidi overrides, zero-width), line and
# paragraph separators (U+2028/9: email.policy folds at them as at line breaks, and
# newer Pythons refuse to write such a header) and lone surrogates (no encoder takes
# them: UnicodeEncodeError far from where they came in).
CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def has_control(text: str) -> bool:
    """Whether ``text`` holds a character of ``CONTROL_CATEGORIES``."""
    return any(unicodedata.category(c) in CONTROL_CATEGORIES for c in text)
