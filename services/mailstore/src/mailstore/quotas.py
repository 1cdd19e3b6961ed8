"""Storage quotas (issue 16): sizes as people write them, and what an account may still take.

An account's limit is its own ``accounts.quota`` when an administrator set one, else
LOCALPOST_DEFAULT_QUOTA; 0 (the default) means no limit. Its usage is
``accounts.quota_used``, which migration 0020's triggers keep in step with its mailbox
entries, counting each stored message once per account (docs/architecture.md).

Quota is enforced where a message can still be refused: the SMTP gateway's RCPT (452
4.2.2) and end of DATA (552 5.2.2), IMAP APPEND and COPY (``NO [OVERQUOTA]``), the web's
Send and draft saving. The consumer stores every message the gateway acknowledged with
250 even when it overflows the quota: mail accepted is never lost (docs/smtp.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Binary units (IEC 80000-13) and the decimal (SI) ones a disk is sold in; a bare number
# is bytes. Case does not matter for the prefix ("500mib"), and "K" is accepted for the
# SI kilo since people write it so.
UNITS = {
    "": 1,
    "b": 1,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
}
# PostgreSQL bigint; no disk is near it.
MAX_QUOTA = 2**63 - 1
_SIZE = re.compile(r"([0-9]{1,19})\s*([A-Za-z]{0,3})")
# Usage at or above this share of the limit is "nearly full" (the web's warning).
WARN_RATIO = 0.9


def parse_size(text: str) -> int:
    """Bytes in ``text`` ("0", "1048576", "500MiB", "2 GiB", "100MB"); ValueError when it
    is not a whole number with one of UNITS."""
    match = _SIZE.fullmatch(text.strip())
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in UNITS:
        raise ValueError(
            f"{text!r} is not a size: a whole number of bytes, or one with a unit"
            f" (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), such as 500MiB"
        )
    value = int(match.group(1)) * UNITS[unit]
    if value > MAX_QUOTA:
        raise ValueError(f"{text!r} is larger than any disk")
    return value


@dataclass(frozen=True, slots=True)
class Usage:
    """An account's storage: bytes held and its limit (None: unlimited)."""

    used: int
    limit: int | None

    @property
    def room(self) -> int | None:
        """Bytes it may still take; None without a limit, 0 when full or beyond."""
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def full(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    def fits(self, size: int) -> bool:
        return self.limit is None or self.used + size <= self.limit

    def as_json(self) -> dict[str, int | bool | None]:
        return {"used": self.used, "limit": self.limit, "room": self.room, "full": self.full}


def usage_of(*, used: int, own: int | None, default: int) -> Usage:
    """The usage of an account with quota column ``own`` under LOCALPOST_DEFAULT_QUOTA."""
    limit = default if own is None else own
    return Usage(used, limit or None)
