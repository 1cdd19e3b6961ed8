"""The search box's little language, parsed into a filter; pure, no I/O.

Operators (case-insensitive names; a value may be quoted to hold spaces):
``from:`` ``to:`` (To or Cc) ``subject:`` substring matches; ``has:attachment``;
``is:read`` / ``is:unread``; ``before:YYYY-MM-DD`` (received before that day, UTC) and
``after:YYYY-MM-DD`` (received on or after that day, UTC); ``in:inbox|sent|trash|all``
(default: everything but Trash). Everything else is free text for PostgreSQL's
``websearch_to_tsquery``, which understands ``"phrases"``, ``or`` and ``-excluded``.
``db.search`` turns the filter into parameters of one fixed statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from mailstore.errors import InvalidSearch

DEFAULT_FOLDERS = ("inbox", "sent")
_FOLDERS = {
    "inbox": ("inbox",),
    "sent": ("sent",),
    "trash": ("trash",),
    "all": ("inbox", "sent", "trash"),
}
MAX_QUERY_CHARS = 1000
_TOKEN = re.compile(r'(?:([A-Za-z]+):)?(?:"([^"]*)"?|(\S+))')


@dataclass(frozen=True, slots=True)
class SearchFilter:
    text: str | None = None
    from_terms: tuple[str, ...] = ()
    to_terms: tuple[str, ...] = ()
    subject_terms: tuple[str, ...] = ()
    has_attachment: bool | None = None
    read: bool | None = None
    before: datetime | None = None
    after: datetime | None = None
    folders: tuple[str, ...] = DEFAULT_FOLDERS


def parse_search(query: str) -> SearchFilter:
    """Parse the search box; raises :class:`InvalidSearch` for an operator it cannot apply."""
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidSearch(f"at most {MAX_QUERY_CHARS} characters")
    words: list[str] = []
    terms: dict[str, list[str]] = {"from": [], "to": [], "subject": []}
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
    text = " ".join(words).strip()
    return SearchFilter(
        text=text or None,
        from_terms=tuple(terms["from"]),
        to_terms=tuple(terms["to"]),
        subject_terms=tuple(terms["subject"]),
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
        if value not in _FOLDERS:
            raise InvalidSearch(f"in:{value} is unknown; in:inbox, sent, trash or all are")
        return {"folders": _FOLDERS[value]}
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidSearch(f"{name}: wants a date as YYYY-MM-DD, got {value!r}") from None
    return {name: day}


# Words of letters and digits only, between spaces: the text of most searches.
_PLAIN_WORDS = re.compile(r"\s*[^\W_]+(?:\s+[^\W_]+)*\s*")


def may_hold_a_phrase(text: str) -> bool:
    """Whether ``websearch_to_tsquery`` could make a phrase of ``text``.

    Quotes make one, and so does any word the parser splits (``e-mail``, ``o'brien``,
    ``foo_bar``); words of letters and digits alone do not. Only whether the search asks
    PostgreSQL for the tsquery to relax depends on this: a wrong False would only cost a
    phrase its prefilter, never a result.
    """
    return _PLAIN_WORDS.fullmatch(text) is None


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
