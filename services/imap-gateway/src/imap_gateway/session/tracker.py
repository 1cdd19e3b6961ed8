"""The per-session view of a selected mailbox (RFC 9051 §7.5.1, RFC 3501 §7.4.1).

A client knows the mailbox as a list of messages numbered from 1; the session
keeps that list (their UIDs, ascending) and changes it only while telling the
client: an EXISTS appends, an EXPUNGE (or VANISHED) removes. Changes made
elsewhere wait in the tracker until the session may announce them:

- EXISTS and FETCH FLAGS may go out during any command (and during IDLE);
- EXPUNGE may not while answering FETCH, STORE or SEARCH (the non-UID forms),
  nor with no command in progress, because the client's sequence numbers would
  shift under the command it sent. Until then an expunged message keeps its
  number; fetching it finds nothing (the session answers NO [EXPUNGEISSUED]).

Expunges go out highest sequence number first, so each number is still right
when the client reads it; with QRESYNC enabled they go out as one VANISHED
(RFC 7162 §3.2.10). Applying a change twice changes nothing, so a backend may
report a change both in an operation's result and in its change feed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from imap_gateway import backend as bk
from imap_gateway.session import responses
from imap_gateway.wire import codes, encoder
from imap_gateway.wire import flags as wire_flags
from imap_gateway.wire.commands import StoreMode
from imap_gateway.wire.sequence import STAR, SequenceSet


class SequenceOutOfRange(ValueError):
    """A message sequence number past the number of messages (RFC 9051 §6.4: BAD)."""


class Tracker:
    """Sequence numbers and UIDs of one selected mailbox, and its pending updates."""

    def __init__(
        self,
        uids: Sequence[int],
        *,
        origin: object,
        defined: Iterable[str] = (),
        writable: bool = False,
    ) -> None:
        self.uids: list[int] = list(uids)
        self.origin = origin  # changes this session made itself are not echoed
        # The FLAGS the client was told (RFC 9051 §7.3.5); a keyword made since is
        # announced with a new FLAGS before a FETCH shows it (see define()).
        self.defined: list[str] = list(defined)
        self.writable = writable
        # Per UID, the newest flags the client was shown (or worked out from its own
        # STORE .SILENT) and their MODSEQ: a change the feed brings late (older than a
        # FETCH or STORE answer) must not go out after it, or the client's flags go
        # back in time (imaptest: "MODSEQ dropped"); and a STORE .SILENT compares its
        # result with them (unforeseen()).
        self._shown: dict[int, bk.MessageFlags] = {}
        # Per UID, a MODSEQ of ``_shown`` the client was not told: a FETCH FLAGS answer
        # carries none unasked (Dovecot sends none either), so the feed's report of that
        # very change must still go out with it (RFC 7162 §3.1: MODSEQ in unsolicited
        # FETCH), or a CONDSTORE client keeps the older MODSEQ beside the newer flags
        # (imaptest's checkpoint: "modseqs differ").
        self._untold: dict[int, int] = {}
        # Keywords of changes seen: FLAGS names them even when no FETCH will show them
        # (a keyword set and cleared again before the session wrote anything).
        self._keywords: set[str] = set()
        self._added: set[int] = set()
        self._expunged: set[int] = set()
        self._flags: dict[int, bk.MessageFlags] = {}
        # RFC 3501 §2.3.2 \\Recent: the runs of UIDs claimed for this session, ascending
        # and apart; None when the session shows no \\Recent (IMAP4rev2, RFC 9051 §1.2).
        self.recent: list[range] | None = None

    # --- the view -----------------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self.uids)

    def seq_of(self, uid: int) -> int | None:
        i = bisect.bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else None

    def uids_of_sequence(self, numbers: SequenceSet) -> list[int]:
        """The UIDs a sequence set names; SequenceOutOfRange past the last message."""
        if not numbers.ranges:
            return []
        for first, last in numbers.ranges:
            for n in (first, last):
                if n > self.count or (n == STAR and not self.count):
                    raise SequenceOutOfRange(n)
        return [
            self.uids[n - 1]
            for first, last in numbers.resolve(self.count)
            for n in range(first, last + 1)
        ]

    def uids_of_uid_set(self, uids: SequenceSet) -> list[int]:
        """The UIDs of the view a UID set names; ``*`` is the highest (RFC 9051 §6.4.9)."""
        return uids.select(self.uids)

    def define(self, flags: Iterable[str]) -> list[bytes]:
        """FLAGS (and PERMANENTFLAGS) again when ``flags`` has a keyword the client
        was not told of: RFC 9051 §7.3.5 FLAGS lists the flags "applicable for this
        mailbox", and a client may ignore a keyword outside it (imaptest does)."""
        known = set(self.defined)
        # System flags are in every FLAGS (RFC 9051 §2.3.2); only keywords are made.
        new = [n for n in dict.fromkeys(flags) if n not in known and not n.startswith("\\")]
        if not new:
            return []
        self.defined += new
        lines = [responses.flags(self.defined)]
        if self.writable:
            permanent = encoder.flag_list([*self.defined, wire_flags.WILDCARD])
            lines.append(responses.status_ok(codes.PERMANENTFLAGS, permanent, "Flags allowed"))
        return lines

    # --- \\Recent (IMAP4rev1) -------------------------------------------------------------

    def add_recent(self, claimed: range) -> None:
        if self.recent is None or not claimed:
            return
        runs = sorted([*self.recent, claimed], key=lambda r: r.start)
        merged = [runs[0]]
        for run in runs[1:]:
            last = merged[-1]
            if run.start <= last.stop:
                merged[-1] = range(last.start, max(last.stop, run.stop))
            else:
                merged.append(run)
        self.recent = merged

    def is_recent(self, uid: int) -> bool:
        return self.recent is not None and any(uid in run for run in self.recent)

    def recent_uids(self) -> list[int]:
        """The view's UIDs that are \\Recent in this session, ascending."""
        found: list[int] = []
        for run in self.recent or ():
            low = bisect.bisect_left(self.uids, run.start)
            found += self.uids[low : bisect.bisect_left(self.uids, run.stop)]
        return found

    def recent_line(self) -> list[bytes]:
        """``* n RECENT``, which goes with every EXISTS in IMAP4rev1 (RFC 3501 §7.3.2)."""
        return [] if self.recent is None else [responses.recent(len(self.recent_uids()))]

    def shown_flags(self, uid: int, flags: frozenset[str]) -> frozenset[str]:
        """``flags`` as the client sees them: with \\Recent when it is (RFC 3501 §2.3.2)."""
        return flags | {wire_flags.RECENT} if self.is_recent(uid) else flags

    @property
    def adding(self) -> bool:
        """Messages are waiting to be announced (a \\Recent claim goes first)."""
        return bool(self._added)

    def pending_expunge(self, uid: int) -> bool:
        return uid in self._expunged

    # --- changes ------------------------------------------------------------------------

    def apply(self, changes: Iterable[bk.Change]) -> None:
        for change in changes:
            if isinstance(change, bk.MessagesAdded):
                # imaptest's checkpoint: "Missing keyword" when a keyword came only
                # with a message this session never FETCHed the flags of.
                self._keywords.update(change.flags)
                last = self.uids[-1] if self.uids else 0
                self._added.update(uid for uid in change.uids if uid > last)
            elif isinstance(change, bk.MessagesExpunged):
                for uid in change.uids:
                    self._flags.pop(uid, None)
                    self._shown.pop(uid, None)
                    self._untold.pop(uid, None)
                    if uid in self._added:
                        self._added.discard(uid)
                    elif self.seq_of(uid) is not None:
                        self._expunged.add(uid)
            elif change.origin is not self.origin:
                self.flags_changed(change.message)

    def flags_changed(self, message: bk.MessageFlags) -> None:
        self._keywords.update(message.flags)
        shown = self._shown.get(message.uid)
        seen = shown.modseq if shown is not None else 0
        if message.modseq < seen or (
            message.modseq == seen and self._untold.get(message.uid) != seen
        ):
            return
        known = self._flags.get(message.uid)
        if known is None or known.modseq < message.modseq:
            self._flags[message.uid] = message

    def shown(self, message: bk.MessageFlags, *, told: bool = True) -> None:
        """The client was just shown ``message``'s flags (stored ones, no \\Recent);
        ``told``: and their MODSEQ with them (or it does not track MODSEQs)."""
        uid, modseq = message.uid, message.modseq
        before = self._shown.get(uid)
        if before is None or modseq > before.modseq:
            self._shown[uid] = message
            if told:
                self._untold.pop(uid, None)
            else:
                self._untold[uid] = modseq
        elif modseq == before.modseq and told:
            self._untold.pop(uid, None)
        known = self._flags.get(uid)
        if known is not None and (known.modseq < modseq or (known.modseq == modseq and told)):
            del self._flags[uid]

    def unforeseen(self, message: bk.MessageFlags, mode: StoreMode, flags: Iterable[str]) -> bool:
        """Whether a STORE .SILENT's result ``message`` holds flags its client cannot
        work out (those it was last shown, changed as it asked): a change made
        elsewhere that it was not told of yet. Its event may still be on the way when
        the STORE runs (a change committed after the command's sync), and once the
        STORE's result supersedes it, neither it nor its feed would ever go out; RFC
        9051 §6.4.6 asks for FETCH FLAGS then, .SILENT or not, "so that the status of
        the flags is determinate". A client shown no flags of the message yet can
        work out only a replacement (FLAGS), which is never unforeseen."""
        asked = frozenset(flags) - {wire_flags.RECENT}
        if mode is StoreMode.REPLACE:
            return message.flags != asked
        before = self._shown.get(message.uid)
        if before is None:
            return False
        expected = before.flags | asked if mode is StoreMode.ADD else before.flags - asked
        return message.flags != expected

    def flush(self, *, expunges: bool, qresync: bool, condstore: bool) -> list[bytes]:
        """The untagged responses that may go out now, the view updated to match."""
        lines: list[bytes] = []
        if expunges and self._expunged:
            # An EXISTS to follow carries the RECENT count anyway.
            lines += self._announce_expunges(qresync, recent=not self._added)
        if self._added:
            self.uids.extend(sorted(self._added))
            self._added.clear()
            lines.append(responses.exists(self.count))
            lines += self.recent_line()
        lines += self.define(sorted(self._keywords))
        self._keywords.clear()
        for uid in sorted(self._flags):
            seq = self.seq_of(uid)
            message = self._flags.pop(uid)
            if seq is not None:
                lines += self.define(message.flags)
                shown = bk.MessageFlags(uid, self.shown_flags(uid, message.flags), message.modseq)
                lines.append(responses.fetch_flags(seq, shown, modseq=condstore))
                self.shown(message)
        return lines

    def _announce_expunges(self, qresync: bool, *, recent: bool = True) -> list[bytes]:
        gone = sorted(self._expunged)
        self._expunged.clear()
        recent_before = self.recent_uids()
        seqs = [seq for seq in (self.seq_of(uid) for uid in gone) if seq is not None]
        for seq in sorted(seqs, reverse=True):
            del self.uids[seq - 1]
        if qresync:
            lines = [responses.vanished(gone)]
        else:
            lines = [responses.expunge(seq) for seq in sorted(seqs, reverse=True)]
        # RFC 3501 §7.3.2: the client keeps the RECENT count it was told, and no
        # EXPUNGE changes it; a \Recent message gone needs a new RECENT (as Dovecot).
        if recent and set(gone) & set(recent_before):
            lines += self.recent_line()
        return lines

    def remove_now(self, uids: Iterable[int], *, qresync: bool) -> list[bytes]:
        """Announce these expunges now (EXPUNGE, MOVE, CLOSE did them): the lines."""
        self._expunged.update(uid for uid in uids if self.seq_of(uid) is not None)
        return self._announce_expunges(qresync) if self._expunged else []

    def supersede(self, message: bk.MessageFlags) -> None:
        """This session just set ``message``'s flags: an older pending change is moot."""
        self.shown(message)
