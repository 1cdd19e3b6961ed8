"""Small writers of untagged responses (RFC 9051 §7): each returns one line's bytes."""

from __future__ import annotations

from collections.abc import Iterable

from imap_gateway import backend as bk
from imap_gateway.wire import encoder
from imap_gateway.wire.sequence import SequenceSet


def exists(count: int) -> bytes:
    return encoder.untagged(b"%d" % count, b"EXISTS")


def recent(count: int) -> bytes:
    return encoder.untagged(b"%d" % count, b"RECENT")


def expunge(seq: int) -> bytes:
    return encoder.untagged(b"%d" % seq, b"EXPUNGE")


def vanished(uids: Iterable[int], *, earlier: bool = False) -> bytes:
    """RFC 7162 §3.2.10: ``* VANISHED [(EARLIER)] uid-set``."""
    head = [b"VANISHED", b"(EARLIER)"] if earlier else [b"VANISHED"]
    return encoder.untagged(*head, SequenceSet.of(uids).encode())


def modseq_item(value: int) -> bytes:
    return b"MODSEQ (%d)" % value


def fetch_flags(seq: int, message: bk.MessageFlags, *, modseq: bool) -> bytes:
    """``* n FETCH (UID u FLAGS (...) [MODSEQ (m)])`` for a flag change."""
    items = [b"UID %d" % message.uid, b"FLAGS " + encoder.flag_list(sorted(message.flags))]
    if modseq:
        items.append(modseq_item(message.modseq))
    return fetch(seq, items)


def fetch(seq: int, items: Iterable[bytes]) -> bytes:
    return encoder.untagged(b"%d" % seq, b"FETCH", encoder.paren_list(items))


def flags(names: Iterable[str]) -> bytes:
    return encoder.untagged(b"FLAGS", encoder.flag_list(names))


def status_ok(code: str, args: bytes | None, text: str) -> bytes:
    return encoder.status_line(None, "OK", text, code, args)


def capability(names: Iterable[str]) -> bytes:
    return encoder.untagged(b"CAPABILITY", *(n.encode("ascii") for n in names))


def enabled(names: Iterable[str]) -> bytes:
    return encoder.untagged(b"ENABLED", *(n.encode("ascii") for n in names))


def search(numbers: Iterable[int], modseq: int | None = None) -> bytes:
    parts = [b"SEARCH", *(b"%d" % n for n in numbers)]
    if modseq is not None:
        parts.append(b"(MODSEQ %d)" % modseq)
    return encoder.untagged(*parts)


def list_line(
    kind: bytes,
    attributes: Iterable[str],
    name: str,
    *,
    utf8: bool,
    childinfo: Iterable[str] | None = None,
) -> bytes:
    """``* LIST (attrs) "/" name`` (or LSUB), with ``("CHILDINFO" (...))`` (RFC 5258 §4)."""
    attrs = encoder.paren_list(a.encode("ascii") for a in attributes)
    parts = [kind, attrs, b'"/"', encoder.mailbox(name, utf8=utf8)]
    if childinfo is not None:
        options = encoder.paren_list(b'"%s"' % o.encode("ascii") for o in childinfo)
        parts.append(b'("CHILDINFO" %s)' % options)
    return encoder.untagged(*parts)
