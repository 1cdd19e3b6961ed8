"""Sortable, unique transaction ids (the ULID layout).

A 48-bit millisecond timestamp followed by 80 random bits, written in
Crockford's base32: 26 characters that sort by creation time, so the gateway's
``queued as <id>`` doubles as a time index in logs and in the store. Within one
millisecond the random part is incremented rather than redrawn, so ids made by
one process are strictly increasing.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_MAX = (1 << 80) - 1

_lock = threading.Lock()
_last_ms = -1
_last_random = 0


# Two base32 digits per lookup: an id is made for every transaction.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def _encode128(value: int) -> str:
    """26 base32 digits of a 130-bit field (the top two bits are zero)."""
    out = []
    for _ in range(13):
        out.append(_PAIRS[value & 1023])
        value >>= 10
    return "".join(reversed(out))


def new_id() -> str:
    """A new 26-character id, greater than every id this process made before."""
    global _last_ms, _last_random
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            # Same millisecond (or the clock stepped back): keep the time and
            # count up, so ordering never depends on the random draw.
            now_ms = _last_ms
            rand = _last_random + 1
            if rand > _RANDOM_MAX:  # 2**80 ids in one ms: move to the next ms
                now_ms += 1
                rand = int.from_bytes(os.urandom(10), "big") >> 1
        else:
            # Keep the top bit clear so increments have room before overflow.
            rand = int.from_bytes(os.urandom(10), "big") >> 1
        _last_ms, _last_random = now_ms, rand
    return _encode128((now_ms << 80) | rand)


def id_timestamp_ms(value: str) -> int:
    """The creation time (Unix milliseconds) encoded in an id from :func:`new_id`."""
    if len(value) != 26:
        raise ValueError(f"not an id: {value!r}")
    result = 0
    for char in value[:10]:
        result = result * 32 + _ALPHABET.index(char.upper())
    return result
