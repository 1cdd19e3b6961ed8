"""Addresses nobody may register: role mailboxes, and look-alikes of them.

Whoever holds ``postmaster@`` or ``abuse@`` receives bounce reports, abuse complaints
and certificate-authority mail for the whole domain (RFC 2142, RFC 5321 §4.5.1;
CA/Browser Forum BR 3.2.2.4.4 validates domains through ``admin@``, ``webmaster@``,
``hostmaster@``, ``postmaster@``, ``administrator@``), and ``noreply@`` looks like the
service itself. Unicode look-alikes cannot reach here: new addresses are NFKC-normalised
(fullwidth or circled "admin" becomes ``admin``) and must then be plain ASCII, so a
Cyrillic a (U+0430) or a zero-width space (U+200B) is refused outright. What is left
are ASCII look-alikes (``adm1n``, ``adm!n``, ``p0stmaster``, ``adrnin``,
``mailer.daemon``, ``post'master``), which :func:`skeleton` folds together.
"""

from __future__ import annotations

import re
import unicodedata

RESERVED = frozenset(
    {
        # RFC 2142 §§3-5: business, network operations and service mailboxes.
        "info", "marketing", "sales", "support", "abuse", "noc", "security",
        "postmaster", "hostmaster", "usenet", "news", "webmaster", "www", "uucp", "ftp",
        # Certificate authorities' domain-validation addresses (CA/B Forum BR 3.2.2.4.4).
        "admin", "administrator",
        # The system and the service speaking for itself.
        "root", "mailer-daemon", "nobody", "noreply", "no-reply", "donotreply",
        "do-not-reply", "localpost", "localpost-web", "system", "daemon",
        # Conventions of list managers (owner, bounces) and of DMARC report addresses.
        "list", "lists", "listmaster", "owner", "bounce", "bounces", "dmarc", "mailer",
    }
)  # fmt: skip

# Characters that read as another one in most fonts; the longer pairs come first.
_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"))
# Digits and the punctuation a local part may hold (RFC 5321 §4.1.2 atext) that stand in
# for a letter: "adm!n", "p@stmaster" (not a local part, but harmless), "$ecurity".
_SINGLES = str.maketrans({"0": "o", "1": "l", "i": "l", "!": "l", "|": "l", "3": "e",
                          "4": "a", "@": "a", "5": "s", "$": "s", "7": "t", "8": "b",
                          "9": "g"})  # fmt: skip
# Whatever else is not a letter or digit, a reader skips over: "mailer.daemon",
# "no_reply", "post'master", "ad*min" are the roles they spell.
_SEPARATORS = re.compile(r"[^a-z0-9]")


def normalise(text: str) -> str:
    """NFKC and lower case: fullwidth, circled and superscript letters become plain ones."""
    return unicodedata.normalize("NFKC", text).lower()


def skeleton(local_part: str) -> str:
    """A form in which look-alike local parts are equal (after UTS #39 §4, for ASCII)."""
    # Substitutions first: "!" and "$" are letters in disguise, not separators.
    text = _SEPARATORS.sub("", normalise(local_part).translate(_SINGLES))
    for pair, single in _PAIRS:
        text = text.replace(pair, single)
    # Once more: a pair may have spelled a look-alike ("rn" after "1" became "l").
    return text.translate(_SINGLES)


_RESERVED_SKELETONS = frozenset(skeleton(name) for name in RESERVED)


def is_reserved(local_part: str) -> bool:
    """Whether ``local_part`` (or its part before a ``+`` sub-address) looks like a role."""
    base = normalise(local_part).partition("+")[0]
    return any(skeleton(part) in _RESERVED_SKELETONS for part in (local_part, base))
