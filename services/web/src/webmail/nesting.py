"""A bound on how deeply HTML mail nests before it reaches the sanitiser.

html5ever (inside nh3) spends time with the square of the nesting depth, and worse for
lists: 8,000 nested ``<ul><li>`` take 1.8 s here and 20,000 take about 30 s, so one
message could hold a web worker for half a minute each time it is opened. No real mail
nests containers hundreds deep, so the tags below :data:`MAX_DEPTH` stay and deeper
ones are dropped (their text stays). One linear pass, before nh3; its output still goes
through nh3, so a tag this scan misreads (inside a comment or an attribute value) can
only cost some layout, never safety.
"""

from __future__ import annotations

import re

MAX_DEPTH = 256

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]{0,63})\b[^>]*>")
# Elements that never hold content (WHATWG HTML §13.1.2), and those that a sibling or
# their parent's end closes implicitly (§13.1.2.4, "optional tags"): neither deepens a
# tree the way an unclosed <div> does, so neither counts.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
_OPTIONAL_END = {"p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "tbody"}
_FLAT = frozenset(
    _VOID
    | _OPTIONAL_END
    | {"source", "track", "wbr", "thead", "tfoot", "colgroup", "caption"}
    | {"rp", "rt"}
)


def limit_nesting(html: str, *, max_depth: int = MAX_DEPTH) -> str:
    """``html`` with every container tag deeper than ``max_depth`` removed."""
    if html.count("<") <= max_depth:
        return html  # cannot nest deeper than it has tags: the common case, untouched
    kept: list[str] = []  # open container tags kept, innermost last (at most max_depth)
    open_by_name: dict[str, int] = {}  # how many of kept have each name
    dropped: dict[str, int] = {}  # per name, start tags dropped and not yet closed
    pieces: list[str] = []
    position = 0
    for match in _TAG.finditer(html):
        closing, name = match.group(1), match.group(2).lower()
        if name in _FLAT:
            continue
        if closing:
            if dropped.get(name):
                dropped[name] -= 1
            elif open_by_name.get(name):
                # Like the parser, an end tag closes everything opened inside it.
                while (inner := kept.pop()) != name:
                    open_by_name[inner] -= 1
                open_by_name[name] -= 1
                continue
            else:
                continue  # a stray end tag: nh3 drops it as it always did
        elif match.group(0).endswith("/>"):
            continue
        elif len(kept) < max_depth:
            kept.append(name)
            open_by_name[name] = open_by_name.get(name, 0) + 1
            continue
        else:
            dropped[name] = dropped.get(name, 0) + 1
        pieces.append(html[position : match.start()])
        position = match.end()
    if not pieces:
        return html
    pieces.append(html[position:])
    return "".join(pieces)
