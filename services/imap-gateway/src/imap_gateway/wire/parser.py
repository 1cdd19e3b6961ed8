"""From one framed command to a typed command (RFC 9051 §6, §9; the extensions of codes.py).

:func:`parse_command` reads the tag, the command name (case-insensitive) and an
optional ``UID`` prefix, then hands the cursor to the command's grammar through
one dispatch table. Every grammar reads to the end of the command; anything it
cannot read raises :class:`ParseError` naming what was expected where, and an
unknown name raises :class:`UnknownCommand` (both answered BAD, RFC 9051 §7.1.3).

Grammars of the selected state (FETCH, STORE, SEARCH, ...) are in
:mod:`~imap_gateway.wire.selected_grammar`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from imap_gateway.wire import commands as cmd
from imap_gateway.wire.cursor import (
    ATOM,
    TAG,
    Cursor,
    astring,
    list_pattern,
    mailbox,
    nstring,
    number,
    number64,
    parenthesised,
    string,
)
from imap_gateway.wire.dates import parse_date_time
from imap_gateway.wire.errors import UnknownCommand
from imap_gateway.wire.flags import parse_flag_list
from imap_gateway.wire.framing import RawCommand
from imap_gateway.wire.limits import WireLimits
from imap_gateway.wire.selected_grammar import SELECTED_COMMANDS, UID_COMMANDS, no_arguments
from imap_gateway.wire.sequence import SequenceSet, parse_sequence_set

Grammar = Callable[[Cursor, str], cmd.Command]

# RFC 9051 §6.3.11 status-att, RFC 3501 RECENT, RFC 8438 SIZE, RFC 7162
# HIGHESTMODSEQ, RFC 7889 APPENDLIMIT.
STATUS_ITEMS = frozenset(
    {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT"}
    | {"HIGHESTMODSEQ", "APPENDLIMIT"}
)
# RFC 6154 §2 use-attr (CREATE ... USE); other backslash atoms are use-attr-ext.
SPECIAL_USES = frozenset(
    {"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"}
)
_SPECIAL_USE_BY_UPPER = {use.upper(): use for use in SPECIAL_USES}


def parse_command(
    raw: RawCommand, *, utf8: bool = False, limits: WireLimits | None = None
) -> cmd.Command:
    """The typed command ``raw`` holds; raises ParseError (or UnknownCommand, NestingTooDeep).

    ``utf8``: the client enabled IMAP4rev2 or UTF8=ACCEPT, so mailbox names are
    UTF-8 instead of modified UTF-7 (RFC 9051 §5.1, RFC 6855 §3).
    """
    c = Cursor(raw, utf8=utf8, max_depth=(limits or WireLimits()).max_nesting_depth)
    tag = c.chars(TAG, "tag").decode("ascii")
    c.tag = tag
    c.sp()
    name = c.chars(ATOM, "command name").upper()
    if name == b"UID":
        c.sp()
        uid_name = c.chars(ATOM, "command name after UID").upper()
        uid_grammar = UID_COMMANDS.get(uid_name)
        if uid_grammar is None:
            raise UnknownCommand(
                f"unknown command UID {_printable(uid_name)}", tag=tag, position=c.offset
            )
        command = uid_grammar(c, tag)
    else:
        grammar = COMMANDS.get(name)
        if grammar is None:
            raise UnknownCommand(f"unknown command {_printable(name)}", tag=tag, position=0)
        command = grammar(c, tag)
    c.end()
    return command


def _printable(name: bytes) -> str:
    return name[:32].decode("ascii", "replace")


# --- shared arguments ----------------------------------------------------------------------


def _upper_atom(c: Cursor, what: str = "atom") -> str:
    return c.chars(ATOM, what).upper().decode("ascii")


def _status_item(c: Cursor) -> str:
    item = _upper_atom(c, "status item")
    if item not in STATUS_ITEMS:
        raise c.error("status item (" + " ".join(sorted(STATUS_ITEMS)) + ")")
    return item


# --- any state and not authenticated -------------------------------------------------------


def _authenticate(c: Cursor, tag: str) -> cmd.Authenticate:
    c.sp()
    mechanism = _upper_atom(c, "SASL mechanism")
    initial = None
    if not c.at_end():
        c.sp()
        # RFC 4959 §3: initial-response = base64 / "=" (an empty response).
        if c.take(b"="):
            initial = b""
        else:
            text = c.chars(ATOM, "base64 initial response")
            try:
                initial = base64.b64decode(text, validate=True)
            except binascii.Error:
                raise c.error("base64 initial response") from None
    return cmd.Authenticate(tag, mechanism, initial)


def _login(c: Cursor, tag: str) -> cmd.Login:
    c.sp()
    user = astring(c)
    c.sp()
    return cmd.Login(tag, user, astring(c))


def _id(c: Cursor, tag: str) -> cmd.Id:
    """RFC 2971 §4: ``"ID" SP ( "(" #(string SP nstring) ")" / nil )``."""
    c.sp()
    if c.take_word(b"NIL"):
        return cmd.Id(tag, None)

    def pair(c: Cursor) -> tuple[bytes, bytes | None]:
        key = string(c)
        c.sp()
        return key, nstring(c)

    return cmd.Id(tag, tuple(parenthesised(c, pair)))


# --- authenticated ---------------------------------------------------------------------------


def _enable(c: Cursor, tag: str) -> cmd.Enable:
    c.sp()
    names = [_upper_atom(c, "capability")]
    while not c.at_end():
        c.sp()
        names.append(_upper_atom(c, "capability"))
    return cmd.Enable(tag, tuple(names))


def _select(read_only: bool) -> Grammar:
    def grammar(c: Cursor, tag: str) -> cmd.Select:
        c.sp()
        name = mailbox(c)
        condstore = False
        qresync = None
        if not c.at_end():
            c.sp()
            for param in parenthesised(c, _select_param):
                if param is None:
                    condstore = True
                else:
                    qresync = param
        return cmd.Select(tag, name, read_only, condstore, qresync)

    return grammar


def _select_param(c: Cursor) -> cmd.QResync | None:
    """CONDSTORE (None) or QRESYNC (RFC 7162 §3.1.8, §3.2.5)."""
    if c.take_word(b"CONDSTORE"):
        return None
    if not c.take_word(b"QRESYNC"):
        raise c.error("CONDSTORE or QRESYNC")
    c.sp()
    c.expect(b"(")
    uidvalidity = number(c, nonzero=True)
    c.sp()
    modseq = number64(c, nonzero=True)
    known_uids = None
    seq_match = None
    if c.take(b" "):
        if c.peek() != 0x28:
            known_uids = parse_sequence_set(c)
            if c.take(b" "):
                seq_match = _seq_match(c)
        else:
            seq_match = _seq_match(c)
    c.expect(b")")
    return cmd.QResync(uidvalidity, modseq, known_uids, seq_match)


def _seq_match(c: Cursor) -> tuple[SequenceSet, SequenceSet]:
    """``seq-match-data = "(" known-sequence-set SP known-uid-set ")"`` (RFC 7162 §3.2.5)."""
    c.expect(b"(")
    known_sequence = parse_sequence_set(c)
    c.sp()
    known_uids = parse_sequence_set(c)
    c.expect(b")")
    return known_sequence, known_uids


def _create(c: Cursor, tag: str) -> cmd.Create:
    c.sp()
    name = mailbox(c)
    uses: tuple[str, ...] = ()
    if not c.at_end():
        c.sp()
        c.expect(b"(")
        c.expect(b"USE", "USE (RFC 6154 create parameter)")
        c.sp()
        uses = tuple(_special_use(flag, c) for flag in parse_flag_list(c))
        c.expect(b")")
    return cmd.Create(tag, name, uses)


def _special_use(flag: str, c: Cursor) -> str:
    canonical = _SPECIAL_USE_BY_UPPER.get(flag.upper())
    if canonical is None:
        raise c.error("special-use attribute (\\All \\Archive \\Drafts ...)")
    return canonical


def _one_mailbox(kind: Callable[[str, str], cmd.Command]) -> Grammar:
    def grammar(c: Cursor, tag: str) -> cmd.Command:
        c.sp()
        return kind(tag, mailbox(c))

    return grammar


def _rename(c: Cursor, tag: str) -> cmd.Rename:
    c.sp()
    old = mailbox(c)
    c.sp()
    return cmd.Rename(tag, old, mailbox(c))


def _list(c: Cursor, tag: str) -> cmd.List:
    """RFC 5258 §6: ``LIST [SP list-select-opts] SP mailbox SP mbox-or-pat``
    ``[SP list-return-opts]``."""
    c.sp()
    selection: tuple[str, ...] = ()
    if c.peek() == 0x28:
        selection = tuple(parenthesised(c, _upper_atom))
        c.sp()
    reference = mailbox(c)
    c.sp()
    if c.peek() == 0x28:
        patterns = tuple(parenthesised(c, list_pattern, empty=False))
    else:
        patterns = (list_pattern(c),)
    options: list[str] = []
    status: tuple[str, ...] | None = None
    if not c.at_end():
        c.sp()
        c.expect(b"RETURN", "RETURN")
        c.sp()
        for option in parenthesised(c, _return_option):
            if isinstance(option, tuple):
                status = option
            else:
                options.append(option)
    return cmd.List(tag, reference, patterns, selection, tuple(options), status)


def _return_option(c: Cursor) -> str | tuple[str, ...]:
    """A LIST return option; ``STATUS (items)`` (RFC 5819 §2) as the tuple of items."""
    name = _upper_atom(c, "return option")
    if name != "STATUS":
        return name
    c.sp()
    return tuple(parenthesised(c, _status_item, empty=False))


def _lsub(c: Cursor, tag: str) -> cmd.Lsub:
    c.sp()
    reference = mailbox(c)
    c.sp()
    return cmd.Lsub(tag, reference, list_pattern(c))


def _status(c: Cursor, tag: str) -> cmd.Status:
    c.sp()
    name = mailbox(c)
    c.sp()
    return cmd.Status(tag, name, tuple(parenthesised(c, _status_item, empty=False)))


def _getquota(c: Cursor, tag: str) -> cmd.GetQuota:
    c.sp()
    return cmd.GetQuota(tag, _text(astring(c)))


def _setquota(c: Cursor, tag: str) -> cmd.SetQuota:
    """RFC 9208 §4.1: ``SETQUOTA root (resource limit ...)``."""
    c.sp()
    root = _text(astring(c))
    c.sp()
    return cmd.SetQuota(tag, root, tuple(parenthesised(c, _quota_limit)))


def _quota_limit(c: Cursor) -> tuple[str, int]:
    name = _upper_atom(c, "resource name")
    c.sp()
    return name, number64(c)


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def _append(c: Cursor, tag: str) -> cmd.Append:
    """RFC 9051 §6.3.12, RFC 3502 (MULTIAPPEND), RFC 3516 §4.4, RFC 6855 §4 (UTF8)."""
    c.sp()
    name = mailbox(c)
    messages = []
    while not c.at_end():
        c.sp()
        flags: tuple[str, ...] = ()
        date = None
        if c.peek() == 0x28:
            flags = parse_flag_list(c)
            c.sp()
        if c.peek() == 0x22:
            date = parse_date_time(c)
            c.sp()
        utf8 = c.take_word(b"UTF8")
        if utf8:
            c.sp()
            c.expect(b"(")
        binary = c.line.startswith(b"~", c.pos)
        data = string(c, binary=True) if binary else c.literal()
        if data is None or (utf8 and not binary):
            raise c.error("literal8 in UTF8 (...)" if utf8 else "message literal")
        if utf8:
            c.expect(b")")
        messages.append(cmd.AppendMessage(data, flags, date, binary, utf8))
    if not messages:
        raise c.error("message literal")
    return cmd.Append(tag, name, tuple(messages))


COMMANDS: dict[bytes, Grammar] = {
    b"CAPABILITY": no_arguments(cmd.Capability),
    b"NOOP": no_arguments(cmd.Noop),
    b"LOGOUT": no_arguments(cmd.Logout),
    b"ID": _id,
    b"STARTTLS": no_arguments(cmd.StartTLS),
    b"AUTHENTICATE": _authenticate,
    b"LOGIN": _login,
    b"ENABLE": _enable,
    b"SELECT": _select(read_only=False),
    b"EXAMINE": _select(read_only=True),
    b"CREATE": _create,
    b"DELETE": _one_mailbox(cmd.Delete),
    b"RENAME": _rename,
    b"SUBSCRIBE": _one_mailbox(cmd.Subscribe),
    b"UNSUBSCRIBE": _one_mailbox(cmd.Unsubscribe),
    b"LIST": _list,
    b"LSUB": _lsub,
    b"NAMESPACE": no_arguments(cmd.Namespace),
    b"STATUS": _status,
    b"APPEND": _append,
    b"GETQUOTA": _getquota,
    b"GETQUOTAROOT": _one_mailbox(cmd.GetQuotaRoot),
    b"SETQUOTA": _setquota,
    b"IDLE": no_arguments(cmd.Idle),
    **SELECTED_COMMANDS,
}


def is_done(line: bytes) -> bool:
    """Whether a bare line ends IDLE (RFC 2177 §3: ``DONE``, case-insensitive)."""
    return line.upper() == b"DONE"
