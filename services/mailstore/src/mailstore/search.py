"""The search box's little language, parsed into a filter; pure, no I/O.

Operators (case-insensitive names; a value may be quoted to hold spaces):
``from:`` ``to:`` (To or Cc) ``subject:`` ``filename:`` (an attachment's name) substring
matches; ``has:attachment``; ``is:read`` / ``is:unread``; ``before:YYYY-MM-DD`` (received
before that day, UTC) and ``after:YYYY-MM-DD`` (received on or after that day, UTC);
``in:FOLDER`` (a folder's id: ``inbox``, ``sent``, ``trash``, ``f12``...) or ``in:all``
(default: every folder but Trash). Everything else is free text for PostgreSQL's
``websearch_to_tsquery``, which understands ``"phrases"``, ``or`` and ``-excluded``; each
word of it matches the words it begins, and those sharing its English stem
(:func:`prefixed_tsquery`). Runs of CJK characters are taken out of the free text and
matched as substrings instead (:data:`CJK_RUN`). ``db.search`` turns the filter into
parameters of fixed statements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from mailstore.errors import InvalidSearch

# in:all; no in: at all means every folder but Trash.
ALL_FOLDERS = "all"
# A folder id as migration 0007's CHECK has it.
_FOLDER_ID = re.compile(r"[a-z][a-z0-9]{0,19}")
MAX_QUERY_CHARS = 1000
_TOKEN = re.compile(r'(?:([A-Za-z]+):)?(?:"([^"]*)"?|(\S+))')


@dataclass(frozen=True, slots=True)
class SearchFilter:
    text: str | None = None
    from_terms: tuple[str, ...] = ()
    to_terms: tuple[str, ...] = ()
    subject_terms: tuple[str, ...] = ()
    filename_terms: tuple[str, ...] = ()
    # Runs of CJK characters from the free text, each to be found as a substring.
    cjk_terms: tuple[str, ...] = ()
    has_attachment: bool | None = None
    read: bool | None = None
    before: datetime | None = None
    after: datetime | None = None
    # A folder id, ALL_FOLDERS, or None: every folder but Trash.
    folder: str | None = None


def parse_search(query: str) -> SearchFilter:
    """Parse the search box; raises :class:`InvalidSearch` for an operator it cannot apply."""
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidSearch(f"at most {MAX_QUERY_CHARS} characters")
    words: list[str] = []
    terms: dict[str, list[str]] = {"from": [], "to": [], "subject": [], "filename": []}
    options: dict[str, object] = {}
    for match in _TOKEN.finditer(query):
        operator, quoted, bare = match[1], match[2], match[3]
        value = quoted if quoted is not None else bare
        name = operator.lower() if operator else None
        if name in terms:
            if value.strip():
                terms[name].append(value.strip().lower())
        elif name in ("has", "is", "before", "after", "in"):
            options.update(_option(name, value.lower()))
        else:
            # Not one of ours (e.g. "re:"), so the whole token is free text.
            words.append(match[0])
    text, cjk = split_cjk(" ".join(words))
    return SearchFilter(
        text=text or None,
        from_terms=tuple(terms["from"]),
        to_terms=tuple(terms["to"]),
        subject_terms=tuple(terms["subject"]),
        filename_terms=tuple(terms["filename"]),
        cjk_terms=cjk,
        **options,  # type: ignore[arg-type]
    )


def _option(name: str, value: str) -> dict[str, object]:
    if name == "has":
        if value not in ("attachment", "attachments"):
            raise InvalidSearch(f"has:{value} is unknown; has:attachment is")
        return {"has_attachment": True}
    if name == "is":
        if value not in ("read", "unread"):
            raise InvalidSearch(f"is:{value} is unknown; is:read and is:unread are")
        return {"read": value == "read"}
    if name == "in":
        if _FOLDER_ID.fullmatch(value) is None:
            raise InvalidSearch(f"in:{value} is no folder; in:inbox, sent, trash or all are")
        return {"folder": value}
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidSearch(f"{name}: wants a date as YYYY-MM-DD, got {value!r}") from None
    return {name: day}


# PostgreSQL's text form of a tsquery: quoted lexemes ('' for a quote inside one, then
# :* and weights), operators, parentheses.
_TSQUERY_TOKEN = re.compile(r"'(?:[^']|'')*'(?::[*A-Da-d]+)?|<(?:\d+|-)>|[!&|()]|\s+")
_PHRASE_OPERATOR = re.compile(r"<(?:\d+|-)>")


def relaxed_tsquery(tsquery: str) -> str | None:
    """``tsquery`` with each phrase operator (``<->``, ``<N>``) made an AND of its sides.

    Every message the original matches, the relaxed query matches too, and the GIN index
    answers it without reading positions. None when there is no phrase to relax, and when
    the query negates anything: under a NOT, an AND asks more than the phrase did, so the
    relaxed query could leave out matches.
    """
    tokens = _TSQUERY_TOKEN.findall(tsquery)
    if "".join(tokens) != tsquery:
        return None  # not the form this reads: do not guess
    operators = [t for t in tokens if not t.startswith("'")]
    if "!" in operators or not any(_PHRASE_OPERATOR.fullmatch(t) for t in operators):
        return None
    return "".join("&" if _PHRASE_OPERATOR.fullmatch(t) else t for t in tokens)


# Han (with extensions A and B-F, compatibility ideographs), kana, Hangul, CJK
# punctuation left out. PostgreSQL's text search parser has no word breaker for these
# scripts: "日本語のメール" is one lexeme, so a word inside it can never match a tsquery.
CJK_RUN = re.compile(
    "[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]+"
)


def split_cjk(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` without its runs of CJK characters, and those runs (deduplicated).

    The runs are matched as substrings of the tsvector's text (db.searching), which
    holds the same document as the index: subject, names, addresses and body.
    """
    runs = tuple(dict.fromkeys(CJK_RUN.findall(text)))
    if not runs:
        return text.strip(), runs
    # A quote or dash left alone by a removed run would only confuse websearch_to_tsquery.
    rest = " ".join(w for w in CJK_RUN.sub(" ", text).split() if w.strip('"-'))
    return rest, runs


# Shorter words match only themselves: "a" or "in" as prefixes would match most mail
# and make the GIN index read most of its posting lists.
MIN_PREFIX_CHARS = 3
_LEXEME = re.compile(r"'((?:[^']|'')*)'")


def tsquery_lexemes(tsquery: str) -> list[str]:
    """The lexemes of a tsquery's text form, unquoted."""
    return [m[1].replace("''", "'") for m in _LEXEME.finditer(tsquery)]


def prefixed_tsquery(tsquery: str, stems: dict[str, str]) -> str:
    """``tsquery`` with each lexeme of 3 characters or more made a prefix match, ORed with
    its English stem (``stems``, from PostgreSQL's english_stem) as a prefix too.

    "invoice" then finds "invoices" and "invoiced"; "invoices" (stem "invoic") finds
    "invoice"; "happy" (stem "happi") finds "happiness". The index holds words unstemmed
    ('simple' configuration, so that every language is searchable), which is why the stem
    is looked up as a prefix instead of stemming the mail.
    """

    def one(match: re.Match[str]) -> str:
        word = match[1].replace("''", "'")
        if len(word) < MIN_PREFIX_CHARS:
            return match[0]
        stem = stems.get(word, word)
        if len(stem) < MIN_PREFIX_CHARS:
            return _quoted(word)
        if word.startswith(stem):
            return _quoted(stem)
        return f"( {_quoted(word)} | {_quoted(stem)} )"

    return _LEXEME.sub(one, tsquery)


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("'", "''") + "':*"
