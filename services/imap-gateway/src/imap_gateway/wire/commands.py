"""Typed commands: one frozen dataclass per command the parser produces.

Grouped by the protocol state they belong to (RFC 9051 §6). FETCH items live in
:mod:`~imap_gateway.wire.fetch`, search keys in :mod:`~imap_gateway.wire.search`;
the commands that carry them are here. Mailbox names are decoded ``str``
(modified UTF-7 or UTF-8 per the session, :mod:`~imap_gateway.wire.mailbox_names`);
strings whose charset the wire does not know (passwords, SEARCH text) stay bytes.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from imap_gateway.wire.fetch import FetchItem
from imap_gateway.wire.search import SearchKey, SortCriterion
from imap_gateway.wire.sequence import SequenceSet


@dataclass(frozen=True, slots=True)
class Command:
    """Every command starts with its tag (RFC 9051 §2.2.1)."""

    tag: str


# --- any state (RFC 9051 §6.1) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capability(Command):
    pass


@dataclass(frozen=True, slots=True)
class Noop(Command):
    pass


@dataclass(frozen=True, slots=True)
class Logout(Command):
    pass


@dataclass(frozen=True, slots=True)
class Id(Command):
    """RFC 2971 §3.1: NIL, or field/value pairs (values may be NIL)."""

    parameters: tuple[tuple[bytes, bytes | None], ...] | None


# --- not authenticated (RFC 9051 §6.2) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartTLS(Command):
    pass


@dataclass(frozen=True, slots=True)
class Authenticate(Command):
    """RFC 9051 §6.2.2; ``initial_response`` is the decoded SASL-IR (RFC 4959), b"" for "="."""

    mechanism: str
    initial_response: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Login(Command):
    username: bytes
    password: bytes = field(repr=False)  # never in logs (STYLE.md "Logging")


# --- authenticated (RFC 9051 §6.3) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enable(Command):
    """RFC 5161 §3.1: capability names, upper-cased."""

    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QResync:
    """RFC 7162 §3.2.5: the QRESYNC parameter of SELECT/EXAMINE."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    # seq-match-data: known sequence numbers and the UIDs they had.
    seq_match: tuple[SequenceSet, SequenceSet] | None = None


@dataclass(frozen=True, slots=True)
class Select(Command):
    """SELECT, or EXAMINE when ``read_only`` (RFC 9051 §6.3.2, §6.3.3; RFC 7162 §3.1.8)."""

    mailbox: str
    read_only: bool = False
    condstore: bool = False
    qresync: QResync | None = None


@dataclass(frozen=True, slots=True)
class Create(Command):
    """RFC 9051 §6.3.4; ``special_use`` from the USE parameter (RFC 6154 §3)."""

    mailbox: str
    special_use: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delete(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class Rename(Command):
    mailbox: str
    new_name: str


@dataclass(frozen=True, slots=True)
class Subscribe(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class Unsubscribe(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class List(Command):
    """RFC 9051 §6.3.9 with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE.

    Options are upper-cased atoms; ``return_status`` holds the STATUS items of
    ``RETURN (STATUS (...))``, None when not asked.
    """

    reference: str
    patterns: tuple[str, ...]
    selection: tuple[str, ...] = ()
    return_options: tuple[str, ...] = ()
    return_status: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Lsub(Command):
    """IMAP4rev1 only (RFC 3501 §6.3.9)."""

    reference: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Namespace(Command):
    pass


@dataclass(frozen=True, slots=True)
class Status(Command):
    """RFC 9051 §6.3.11; items upper-cased (SIZE RFC 8438, HIGHESTMODSEQ RFC 7162, ...)."""

    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AppendMessage:
    """One message of APPEND (RFC 9051 §6.3.12; MULTIAPPEND RFC 3502 sends several)."""

    data: bytes = field(repr=False)
    flags: tuple[str, ...] = ()
    internal_date: dt.datetime | None = None
    binary: bool = False  # sent as literal8 (RFC 3516 §4.4)
    utf8: bool = False  # sent as UTF8 (literal8) (RFC 6855 §4)


@dataclass(frozen=True, slots=True)
class Append(Command):
    mailbox: str
    messages: tuple[AppendMessage, ...]


@dataclass(frozen=True, slots=True)
class Idle(Command):
    """RFC 2177 / RFC 9051 §6.3.13; the session then reads DONE as a bare line."""


# --- selected (RFC 9051 §6.4) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check(Command):
    """IMAP4rev1 only (RFC 3501 §6.4.1)."""


@dataclass(frozen=True, slots=True)
class Close(Command):
    pass


@dataclass(frozen=True, slots=True)
class Unselect(Command):
    pass


@dataclass(frozen=True, slots=True)
class Expunge(Command):
    """EXPUNGE, or UID EXPUNGE with ``uids`` (RFC 4315 §2.1, RFC 9051 §6.4.9)."""

    uids: SequenceSet | None = None


@dataclass(frozen=True, slots=True)
class Search(Command):
    """SEARCH (RFC 9051 §6.4.4); ``return_options`` None is a plain IMAP4rev1 SEARCH,
    a tuple is ESEARCH (RFC 4731) with MIN MAX ALL COUNT SAVE (RFC 5182)."""

    key: SearchKey
    uid: bool = False
    charset: str | None = None
    return_options: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Sort(Command):
    """RFC 5256 §3: the charset is mandatory."""

    criteria: tuple[SortCriterion, ...]
    charset: str
    key: SearchKey
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Thread(Command):
    """RFC 5256 §3: ``algorithm`` upper-cased (REFERENCES, ORDEREDSUBJECT)."""

    algorithm: str
    charset: str
    key: SearchKey
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Fetch(Command):
    """RFC 9051 §6.4.5; macros ALL/FAST/FULL are expanded; RFC 7162 §3.1.4 modifiers."""

    sequence_set: SequenceSet
    items: tuple[FetchItem, ...]
    uid: bool = False
    changed_since: int | None = None
    vanished: bool = False  # RFC 7162 §3.2.6, UID FETCH only


class StoreMode(enum.Enum):
    REPLACE = ""
    ADD = "+"
    REMOVE = "-"


@dataclass(frozen=True, slots=True)
class Store(Command):
    """RFC 9051 §6.4.6; UNCHANGEDSINCE (RFC 7162 §3.1.3)."""

    sequence_set: SequenceSet
    mode: StoreMode
    flags: tuple[str, ...]
    silent: bool = False
    uid: bool = False
    unchanged_since: int | None = None


@dataclass(frozen=True, slots=True)
class Copy(Command):
    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Move(Command):
    """RFC 6851 §3.1."""

    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class GetQuota(Command):
    """RFC 9208 §4.2: the usage and limits of one quota root."""

    root: str


@dataclass(frozen=True, slots=True)
class GetQuotaRoot(Command):
    """RFC 9208 §4.3: the quota roots of a mailbox, and each one's usage and limits."""

    mailbox: str


@dataclass(frozen=True, slots=True)
class SetQuota(Command):
    """RFC 9208 §4.1: set a root's limits; resource names upper-cased."""

    root: str
    limits: tuple[tuple[str, int], ...]
