"""The per-session view: sequence numbers, and when pending updates may go out."""

from __future__ import annotations

import pytest

from imap_gateway import backend as bk
from imap_gateway.session.tracker import SequenceOutOfRange, Tracker
from imap_gateway.wire.commands import StoreMode
from imap_gateway.wire.sequence import SequenceSet

ME = object()
OTHER = object()


def flush(tracker: Tracker, *, expunges: bool = True, qresync: bool = False) -> list[bytes]:
    return tracker.flush(expunges=expunges, qresync=qresync, condstore=False)


def test_expunges_go_out_highest_first_so_each_number_is_right() -> None:
    tracker = Tracker([10, 20, 30, 40, 50], origin=ME)

    tracker.apply([bk.MessagesExpunged((20, 40, 50))])

    assert flush(tracker) == [b"* 5 EXPUNGE\r\n", b"* 4 EXPUNGE\r\n", b"* 2 EXPUNGE\r\n"]
    assert tracker.uids == [10, 30]


def test_expunges_wait_while_not_allowed_and_numbers_stay() -> None:
    tracker = Tracker([10, 20, 30], origin=ME)
    tracker.apply([bk.MessagesExpunged((10,)), bk.MessagesAdded((40,))])

    held = flush(tracker, expunges=False)

    assert held == [b"* 4 EXISTS\r\n"]
    assert tracker.seq_of(30) == 3
    assert tracker.pending_expunge(10)
    assert flush(tracker) == [b"* 1 EXPUNGE\r\n"]
    assert tracker.seq_of(30) == 2


def test_qresync_sends_one_vanished() -> None:
    tracker = Tracker([1, 2, 3, 4], origin=ME)
    tracker.apply([bk.MessagesExpunged((2, 3))])

    assert flush(tracker, qresync=True) == [b"* VANISHED 2:3\r\n"]


def test_changes_apply_idempotently() -> None:
    tracker = Tracker([1, 2], origin=ME)
    tracker.apply([bk.MessagesAdded((3,)), bk.MessagesAdded((3,)), bk.MessagesAdded((2,))])
    tracker.apply([bk.MessagesExpunged((9,)), bk.MessagesExpunged((1,)), bk.MessagesExpunged((1,))])

    assert flush(tracker) == [b"* 1 EXPUNGE\r\n", b"* 2 EXISTS\r\n"]
    assert tracker.uids == [2, 3]


def test_added_then_expunged_before_announced_is_never_seen() -> None:
    tracker = Tracker([1], origin=ME)
    tracker.apply([bk.MessagesAdded((2,)), bk.MessagesExpunged((2,))])

    assert flush(tracker) == []


def test_own_flag_changes_are_not_echoed_others_are() -> None:
    tracker = Tracker([5, 6], origin=ME)
    mine = bk.MessageFlags(5, frozenset({"\\Seen"}), 7)
    theirs = bk.MessageFlags(6, frozenset({"\\Flagged"}), 8)

    tracker.apply([bk.FlagsChanged(mine, ME), bk.FlagsChanged(theirs, OTHER)])

    assert flush(tracker) == [b"* 2 FETCH (UID 6 FLAGS (\\Flagged))\r\n"]


def test_sequence_numbers_past_the_end_are_refused() -> None:
    tracker = Tracker([3, 7, 9], origin=ME)

    assert tracker.uids_of_sequence(SequenceSet.parse("2:*")) == [7, 9]
    assert tracker.uids_of_sequence(SequenceSet.parse("*:1")) == [3, 7, 9]
    with pytest.raises(SequenceOutOfRange):
        tracker.uids_of_sequence(SequenceSet.parse("4"))
    with pytest.raises(SequenceOutOfRange):
        Tracker([], origin=ME).uids_of_sequence(SequenceSet.parse("*"))


def test_uid_sets_select_from_the_view_either_way_round() -> None:
    tracker = Tracker([3, 7, 9], origin=ME)

    assert tracker.uids_of_uid_set(SequenceSet.parse("9:4")) == [7, 9]
    assert tracker.uids_of_uid_set(SequenceSet.parse("100:*")) == [9]
    assert tracker.uids_of_uid_set(SequenceSet.parse("1,2")) == []


def flags(uid: int, modseq: int, *names: str) -> bk.FlagsChanged:
    return bk.FlagsChanged(bk.MessageFlags(uid, frozenset(names), modseq), origin=OTHER)


def test_a_change_older_than_what_the_client_was_shown_never_goes_out() -> None:
    """imaptest's stress mode: "MODSEQ dropped 761 -> 759" when a FETCH answer was
    newer than a change the feed brought later."""
    tracker = Tracker([10, 20], origin=ME, defined=["\\Seen"])
    tracker.shown(bk.MessageFlags(10, frozenset(), 7))  # a FETCH FLAGS answered with MODSEQ 7

    tracker.apply([flags(10, 6, "\\Seen"), flags(20, 5, "\\Seen")])
    tracker.apply([flags(10, 8)])

    assert flush(tracker) == [
        b"* 1 FETCH (UID 10 FLAGS ())\r\n",
        b"* 2 FETCH (UID 20 FLAGS (\\Seen))\r\n",
    ]
    tracker.apply([flags(10, 8, "\\Seen")])
    assert flush(tracker) == []


def state(uid: int, modseq: int, *names: str) -> bk.MessageFlags:
    return bk.MessageFlags(uid, frozenset(names), modseq)


def test_a_silent_store_is_unforeseen_only_when_it_took_in_a_change_made_elsewhere() -> None:
    """RFC 9051 §6.4.6: .SILENT hides only what the client can work out itself."""
    tracker = Tracker([10, 20], origin=ME)
    tracker.shown(state(10, 5, "\\Flagged"))  # a FETCH FLAGS told the client
    add, remove, replace = StoreMode.ADD, StoreMode.REMOVE, StoreMode.REPLACE

    # As the client works it out: nothing to tell.
    assert not tracker.unforeseen(state(10, 6, "\\Flagged", "\\Seen"), add, ["\\Seen"])
    assert not tracker.unforeseen(state(10, 6), remove, ["\\Flagged", "\\Recent"])
    # \Seen was set elsewhere before this STORE ran, its event still on the way.
    seen_elsewhere = state(10, 7, "\\Answered", "\\Flagged", "\\Seen")
    assert tracker.unforeseen(seen_elsewhere, add, ["\\Answered"])
    # A client never shown message 20's flags can only know a replacement's outcome.
    assert not tracker.unforeseen(state(20, 7, "\\Seen", "\\Draft"), add, ["\\Draft"])
    assert not tracker.unforeseen(state(20, 7, "\\Draft"), replace, ["\\Draft"])


def test_a_keyword_made_and_cleared_elsewhere_is_still_announced_in_flags() -> None:
    """imaptest's checkpoint: "Missing keyword": FLAGS names every keyword the mailbox
    has had, even one no FETCH showed."""
    tracker = Tracker([10], origin=ME, defined=["\\Seen"])

    tracker.apply([flags(10, 6, "$Label1"), flags(10, 7)])

    assert flush(tracker) == [
        b"* FLAGS (\\Seen $Label1)\r\n",
        b"* 1 FETCH (UID 10 FLAGS ())\r\n",
    ]


def test_a_change_shown_without_its_modseq_still_goes_out_with_it() -> None:
    """imaptest's checkpoint: "modseqs differ: 211 vs 235": a FETCH FLAGS answer
    showed a CONDSTORE client the flags of MODSEQ 235 but not that MODSEQ, and the
    feed's later report of the same change was dropped as already shown."""
    tracker = Tracker([10], origin=ME, defined=["\\Seen"])
    tracker.shown(state(10, 7, "\\Seen"), told=False)  # FETCH 1 (FLAGS): no MODSEQ in the answer

    tracker.apply([flags(10, 6), flags(10, 7, "\\Seen")])

    condstore = tracker.flush(expunges=True, qresync=False, condstore=True)
    assert condstore == [b"* 1 FETCH (UID 10 FLAGS (\\Seen) MODSEQ (7))\r\n"]
    tracker.apply([flags(10, 7, "\\Seen")])
    assert tracker.flush(expunges=True, qresync=False, condstore=True) == []


def test_a_change_shown_with_its_modseq_is_not_sent_again() -> None:
    tracker = Tracker([10], origin=ME, defined=["\\Seen"])
    tracker.shown(state(10, 7, "\\Seen"), told=False)
    tracker.shown(state(10, 7, "\\Seen"))  # a later FETCH (FLAGS MODSEQ) of the same state

    tracker.apply([flags(10, 7, "\\Seen")])

    assert tracker.flush(expunges=True, qresync=False, condstore=True) == []
