"""LIST (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, CHILDREN), LSUB, NAMESPACE, STATUS,
CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 9051 §6.3; RFC 5258, 5819, 6154, 3348)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from imap_gateway import backend as bk
from imap_gateway.session import responses
from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer, bad
from imap_gateway.session.state import Session
from imap_gateway.wire import commands as cmd
from imap_gateway.wire import encoder
from imap_gateway.wire.mailbox_names import INBOX

DELIMITER = "/"
SELECTION_OPTIONS = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
RETURN_OPTIONS = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE"})


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """RFC 9051 §6.3.9: ``*`` matches anything, ``%`` anything but the delimiter."""
    out = []
    for part in re.split(r"([*%])", pattern):
        if part == "*":
            out.append(".*")
        elif part == "%":
            out.append("[^/]*")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out), re.DOTALL)


def _matches(name: str, patterns: Sequence[re.Pattern[str]]) -> bool:
    # INBOX is case-insensitive (RFC 9051 §5.1): "inbox" and "Inbox" find it.
    candidates = (name, name.lower()) if name == INBOX else (name,)
    return any(p.fullmatch(c) for p in patterns for c in candidates)


async def list_(s: Session, c: cmd.List) -> Answer:
    unknown = set(c.selection) - SELECTION_OPTIONS
    if unknown or set(c.return_options) - RETURN_OPTIONS:
        raise bad("Unknown LIST option")
    if "RECURSIVEMATCH" in c.selection and not set(c.selection) - {"RECURSIVEMATCH", "REMOTE"}:
        # REMOTE does not count: it widens, it selects nothing (imaptest's listext).
        raise bad("RECURSIVEMATCH needs another selection option (RFC 5258 §3)")
    if c.patterns == ("",):
        # RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root.
        s.out.write(responses.list_line(b"LIST", ["\\Noselect"], "", utf8=s.utf8))
        return ok("LIST completed")
    patterns = [pattern_regex(_full_name(c.reference, p)) for p in c.patterns]
    user = s.require_user()
    folders = list(await user.list_folders())
    if "SUBSCRIBED" in c.selection:
        folders = _with_subscriptions(folders, await user.subscriptions(), c.selection)
    show_subscribed = "SUBSCRIBED" in c.selection or "SUBSCRIBED" in c.return_options
    for folder in folders:
        if not _matches(folder.name, patterns):
            continue
        childinfo = None
        if not _selected(folder, c.selection):
            # RFC 5258 §3.5: RECURSIVEMATCH also returns a parent that is not
            # selected itself but has a descendant that is, saying so in CHILDINFO;
            # not when every such descendant is listed itself, matching a pattern
            # already (as Dovecot answers; imaptest's listext checks it).
            below = [f for f in folders if f.name.startswith(folder.name + DELIMITER)]
            if "RECURSIVEMATCH" not in c.selection or not any(
                _selected(f, c.selection) and not _matches(f.name, patterns) for f in below
            ):
                continue
            childinfo = [o for o in ("SUBSCRIBED", "SPECIAL-USE") if o in c.selection]
        attributes = _attributes(folder, show_subscribed)
        s.out.write(
            responses.list_line(b"LIST", attributes, folder.name, utf8=s.utf8, childinfo=childinfo)
        )
        # RFC 5819 §2: no STATUS for a name that is not a mailbox (\NonExistent).
        if c.return_status is not None and folder.exists:
            await _write_status(s, folder.name, c.return_status)
    return ok("LIST completed")


def _with_subscriptions(
    folders: list[bk.FolderInfo], subscribed: Sequence[str], selection: Sequence[str]
) -> list[bk.FolderInfo]:
    """``folders`` and the subscribed names no folder has, \\NonExistent (RFC 9051 §7.3.1:
    a subscription outlives its mailbox, RFC 9051 §6.3.7); with RECURSIVEMATCH also
    their superiors that neither exist nor are subscribed, which §7.3.1 lets LIST return
    when a descendant is selected. INBOX first, then by name."""
    names = {f.name for f in folders}
    missing = [name for name in subscribed if name not in names]
    wanted = dict.fromkeys(missing, True)
    if "RECURSIVEMATCH" in selection:
        for name in missing:
            parts = name.split(DELIMITER)
            for depth in range(1, len(parts)):
                wanted.setdefault(DELIMITER.join(parts[:depth]), False)
    for name in names:
        wanted.pop(name, None)
    extra = [
        bk.FolderInfo(
            name,
            subscribed=is_subscribed,
            has_children=_has_folder_below(name, names),
            exists=False,
        )
        for name, is_subscribed in wanted.items()
    ]
    return sorted([*folders, *extra], key=lambda f: (f.name != INBOX, f.name))


def _has_folder_below(name: str, names: set[str]) -> bool:
    return any(other.startswith(name + DELIMITER) for other in names)


def _selected(folder: bk.FolderInfo, selection: Sequence[str]) -> bool:
    """Whether ``folder`` meets the LIST selection options (RFC 5258 §3, RFC 6154 §3)."""
    if "SUBSCRIBED" in selection and not folder.subscribed:
        return False
    return "SPECIAL-USE" not in selection or bool(folder.special_use)


def _full_name(reference: str, pattern: str) -> str:
    # RFC 9051 §6.3.9: the reference is a prefix of the pattern; a pattern that
    # starts at the root ("/...") ignores it.
    return pattern if pattern.startswith(DELIMITER) else reference + pattern


def _attributes(folder: bk.FolderInfo, subscribed: bool) -> list[str]:
    # CHILDREN (RFC 3348) and SPECIAL-USE (RFC 6154 §2) attributes always: both are allowed.
    attributes = ["\\HasChildren" if folder.has_children else "\\HasNoChildren"]
    if not folder.exists:
        # RFC 9051 §7.3.1: \NonExistent implies \Noselect, which is not sent with it.
        attributes.append("\\NonExistent")
    if subscribed and folder.subscribed:
        attributes.append("\\Subscribed")
    return attributes + list(folder.special_use)


async def lsub(s: Session, c: cmd.Lsub) -> Answer:
    patterns = [pattern_regex(_full_name(c.reference, c.pattern))]
    user = s.require_user()
    subscribed = list(await user.subscriptions())
    existing = {f.name for f in await user.list_folders()}
    # RFC 3501 §6.3.9: with "%", a parent of a subscribed mailbox that matches where
    # the child does not is listed too, \Noselect when it is not subscribed itself.
    parents = {
        DELIMITER.join(name.split(DELIMITER)[:depth])
        for name in subscribed
        for depth in range(1, name.count(DELIMITER) + 1)
    } - set(subscribed)
    if "%" not in c.pattern:
        parents = set()
    # A subscribed name no folder has (DELETE keeps it: RFC 3501 §6.3.9 "MUST NOT
    # unilaterally remove") cannot be selected: \Noselect, as LIST says \NonExistent.
    answers: list[tuple[str, list[str]]] = [
        (name, [] if name in existing else ["\\Noselect"]) for name in subscribed
    ] + [(name, ["\\Noselect"]) for name in parents]
    for name, attributes in sorted(answers):
        if _matches(name, patterns):
            s.out.write(responses.list_line(b"LSUB", attributes, name, utf8=s.utf8))
    return ok("LSUB completed")


async def namespace(s: Session, c: cmd.Namespace) -> Answer:
    # RFC 2342: one personal namespace, the root, "/" as the delimiter; no others.
    s.out.untagged(b"NAMESPACE", b'(("" "/"))', encoder.NIL, encoder.NIL)
    return ok("NAMESPACE completed")


async def status(s: Session, c: cmd.Status) -> Answer:
    await _write_status(s, c.mailbox, c.items)
    return ok("STATUS completed")


async def _write_status(s: Session, name: str, items: Sequence[str]) -> None:
    found = await s.require_user().status(name)
    if "HIGHESTMODSEQ" in items:
        s.condstore_used = True
    values = {
        "MESSAGES": found.messages,
        "UIDNEXT": found.uidnext,
        "UIDVALIDITY": found.uidvalidity,
        "UNSEEN": found.unseen,
        "DELETED": found.deleted,
        "SIZE": found.size,
        "RECENT": found.recent,  # what no session claimed (RFC 3501 §6.3.10)
        "HIGHESTMODSEQ": found.highestmodseq,
        "APPENDLIMIT": s.settings.wire.max_literal_size,
    }
    pairs = [b"%s %d" % (item.encode("ascii"), values[item]) for item in dict.fromkeys(items)]
    s.out.untagged(b"STATUS", encoder.mailbox(name, utf8=s.utf8), encoder.paren_list(pairs))


def _folder_name(name: str) -> str:
    # RFC 9051 §6.3.4: a trailing delimiter says "to hold children"; the name is without it.
    return name.rstrip(DELIMITER) or name


async def create(s: Session, c: cmd.Create) -> Answer:
    name = _folder_name(c.mailbox)
    if name == INBOX:
        raise bk.FolderExists(name)
    await s.require_user().create_folder(name, special_use=c.special_use)
    return ok("CREATE completed")


async def delete(s: Session, c: cmd.Delete) -> Answer:
    await s.require_user().delete_folder(c.mailbox)
    return ok("DELETE completed")


async def rename(s: Session, c: cmd.Rename) -> Answer:
    await s.require_user().rename_folder(c.mailbox, _folder_name(c.new_name))
    return ok("RENAME completed")


async def subscribe(s: Session, c: cmd.Subscribe) -> Answer:
    await s.require_user().subscribe(c.mailbox)
    return ok("SUBSCRIBE completed")


async def unsubscribe(s: Session, c: cmd.Unsubscribe) -> Answer:
    await s.require_user().unsubscribe(c.mailbox)
    return ok("UNSUBSCRIBE completed")
