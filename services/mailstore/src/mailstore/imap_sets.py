"""UID sets as the IMAP folder API sends them: RFC 9051 sequence-set syntax over UIDs.

``"1:5,7,9:12"``: comma-separated numbers and ranges, each number 1..2^32-1 (RFC
9051 §9 nz-number); a range's ends in either order. No ``*`` and no ``$``: the gateway
resolves them against its session's view. Sets are kept as ranges and sent to
PostgreSQL as two arrays (low, high), so ``1:4294967295`` costs what ``1`` does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mailstore.errors import InvalidRequest

MAX_UID = 2**32 - 1
# A set the gateway sends names at most a folder's worth of messages; a client's
# "1,3,5,..." over a million messages still fits in ranges well under this.
MAX_RANGES = 100_000
MAX_SET_CHARS = 1_000_000
_ITEM = re.compile(r"([0-9]{1,10})(?::([0-9]{1,10}))?")

Ranges = list[tuple[int, int]]


def parse_uid_set(value: object, *, field: str = "uids") -> Ranges:
    """The ranges of a UID set, merged and ascending; InvalidRequest when malformed."""
    if not isinstance(value, str) or not value or len(value) > MAX_SET_CHARS:
        raise InvalidRequest({field: "must be a UID set such as 1:5,7"})
    items = value.split(",")
    if len(items) > MAX_RANGES:
        raise InvalidRequest({field: f"has more than {MAX_RANGES} ranges"})
    ranges: Ranges = []
    for item in items:
        found = _ITEM.fullmatch(item)
        if found is None:
            raise InvalidRequest({field: "must be a UID set such as 1:5,7"})
        low = int(found.group(1))
        high = int(found.group(2)) if found.group(2) is not None else low
        low, high = min(low, high), max(low, high)
        if low < 1 or high > MAX_UID:
            raise InvalidRequest({field: f"UIDs are 1-{MAX_UID}"})
        ranges.append((low, high))
    return merge(ranges)


def merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    merged: Ranges = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def compact(uids: Iterable[int]) -> str:
    """``[1, 2, 3, 7]`` as ``"1:3,7"`` (ascending); ``""`` for none."""
    return format_ranges(merge((uid, uid) for uid in uids))


def format_ranges(ranges: Iterable[tuple[int, int]]) -> str:
    return ",".join(str(low) if low == high else f"{low}:{high}" for low, high in ranges)
