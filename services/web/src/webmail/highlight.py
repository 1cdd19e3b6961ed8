"""Marking a search's words in the result list: which words, and the marked HTML.

The mail store decides what matches (docs/search.md); this only shows it, so it mirrors
the search box's syntax loosely: free-text words mark the words they begin (and, roughly,
words sharing their stem), CJK runs mark themselves anywhere, ``subject:`` values mark
themselves in subjects. Excluded words and the other operators' values mark nothing.
Matches are found on the raw text and every piece is escaped on its own: marking
escaped text could split an entity (``&lt;`` searched for "lt").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape

# The mail store's tokens (mailstore.search._TOKEN): an optional operator, then a quoted
# or a bare value.
_TOKEN = re.compile(r'(?:([A-Za-z]+):)?(?:"([^"]*)"?|(\S+))')
_OPERATORS = frozenset({"from", "to", "subject", "filename", "has", "is", "before", "after", "in"})
# The mail store's CJK_RUN.
_CJK_RUN = re.compile(
    "[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]+"
)
_WORD = re.compile(r"[^\W_]+")
# Words shorter than this match only themselves (mailstore.search.MIN_PREFIX_CHARS).
MIN_PREFIX_CHARS = 3
# English endings cut before marking by prefix, so that "invoices" marks "invoice" as
# the mail store's stemmed prefix finds it. Approximate: only ever more words marked.
_ENDINGS = ("ies", "es", "s", "ed", "ing", "ly", "y")
# Terms beyond this are not marked: a pattern per term, a page of rows.
MAX_TERMS = 20


@dataclass(frozen=True, slots=True)
class Marks:
    """Compiled patterns: ``anywhere`` for subjects and previews, ``subject`` for
    subjects only (None: nothing to mark)."""

    anywhere: re.Pattern[str] | None
    subject: re.Pattern[str] | None


def search_marks(query: str) -> Marks:
    """What to mark for the search box's ``query``."""
    words: list[str] = []
    anywhere: list[str] = []
    subject: list[str] = []
    for match in _TOKEN.finditer(query):
        operator, quoted, bare = match[1], match[2], match[3]
        value = quoted if quoted is not None else bare
        name = operator.lower() if operator else None
        if name == "subject":
            subject.append(re.escape(value.strip()))
        elif name in _OPERATORS or value.startswith("-") or value.lower() == "or":
            continue
        else:
            text = match[0] if name else value  # "re:lunch" is free text, whole
            anywhere += [re.escape(run) for run in _CJK_RUN.findall(text)]
            words += _WORD.findall(_CJK_RUN.sub(" ", text))
    anywhere += [_word_pattern(word) for word in dict.fromkeys(w.lower() for w in words)]
    return Marks(_compiled(anywhere), _compiled([*anywhere, *(s for s in subject if s)]))


def _word_pattern(word: str) -> str:
    if len(word) < MIN_PREFIX_CHARS:
        return rf"(?<![^\W_]){re.escape(word)}(?![^\W_])"
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_PREFIX_CHARS:
            word = word[: -len(ending)]
            break
    return rf"(?<![^\W_]){re.escape(word)}[^\W_]*"


def _compiled(patterns: list[str]) -> re.Pattern[str] | None:
    patterns = patterns[:MAX_TERMS]
    # Longest first: an alternation takes the first branch that matches.
    patterns.sort(key=len, reverse=True)
    return re.compile("|".join(patterns), re.IGNORECASE) if patterns else None


def highlight(text: str, pattern: re.Pattern[str] | None) -> Markup:
    """``text`` escaped, with each match of ``pattern`` in ``<mark>``."""
    if pattern is None:
        return escape(text)
    pieces: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        if match.end() == match.start():
            continue
        pieces += [escape(text[position : match.start()]), Markup("<mark>")]
        pieces += [escape(match[0]), Markup("</mark>")]
        position = match.end()
    pieces.append(escape(text[position:]))
    return Markup("").join(pieces)
