"""THREAD (RFC 5256 §4): ORDEREDSUBJECT, REFERENCES step by step, and the response form."""

from __future__ import annotations

import datetime as dt

from imap_gateway.sorting import SortMessage
from imap_gateway.threads import Node, encode, ordered_subject, references

ARRIVED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def message(seq: int, day: int | None = None, **fields: str) -> SortMessage:
    """Message ``seq``, sent on January ``day`` (default: its sequence number)."""
    fields.setdefault("Date", f"{day or seq} Jan 2026 12:00:00 +0000")
    header = "".join(f"{name.replace('_', '-')}: {value}\r\n" for name, value in fields.items())
    return SortMessage.of(seq, seq + 100, ARRIVED, 10, header.encode() + b"\r\n")


def threads_of(messages: list[SortMessage], algorithm: str = "REFERENCES") -> bytes:
    run = references if algorithm == "REFERENCES" else ordered_subject
    return encode(run(messages), lambda m: m.seq)


def test_encoding_of_rfc_5256_section_5_example() -> None:
    def n(seq: int, *children: Node) -> Node:
        node = Node(message(seq))
        for child in children:
            node.add(child)
        return node

    tree = [n(2), n(3, n(6, n(4, n(23)), n(44, n(7, n(96)))))]
    dummy = Node()
    dummy.add(n(3))
    dummy.add(n(5))

    assert encode(tree, lambda m: m.seq) == b"(2)(3 6 (4 23)(44 7 96))"
    assert encode([dummy], lambda m: m.seq) == b"((3)(5))"
    assert encode([], lambda m: m.seq) == b""


def test_encoding_uses_the_number_given() -> None:
    assert encode([Node(message(1))], lambda m: m.uid) == b"(101)"


def test_ordered_subject_groups_by_base_subject_and_orders_by_sent_date() -> None:
    messages = [
        message(1, 5, Subject="b"),
        message(2, 2, Subject="Re: a"),
        message(3, 3, Subject="b"),
        message(4, 1, Subject="A"),
        message(5, 4, Subject="re: a"),
        message(6, 9, Subject="c"),
        message(7, 4, Subject="Re: A"),  # same date as 5: the lower number first
    ]

    assert threads_of(messages, "ORDEREDSUBJECT") == b"(4 (2)(5)(7))(3 1)(6)"


def test_references_chain_and_in_reply_to() -> None:
    messages = [
        message(1, Message_ID="<1@x>", Subject="a"),
        message(2, Message_ID="<2@x>", References="<1@x>", Subject="x"),
        message(3, Message_ID="<3@x>", References="<1@x> <2@x>", Subject="y"),
        message(4, Message_ID="<4@x>", In_Reply_To="<2@x> (comment) <9@x>", Subject="z"),
    ]

    assert threads_of(messages) == b"(1 2 (3)(4))"


def test_references_win_over_in_reply_to() -> None:
    messages = [
        message(1, Message_ID="<1@x>", Subject="a"),
        message(2, Message_ID="<2@x>", Subject="b"),
        message(3, Message_ID="<3@x>", References="<1@x>", In_Reply_To="<2@x>", Subject="c"),
    ]

    assert threads_of(messages) == b"(1 3)(2)"


def test_missing_parents_become_dummies_then_are_pruned() -> None:
    # 2 and 3 both answer the missing <0@x>: the dummy root stays (two children).
    # 4 answers a missing <8@x> alone: it becomes a root itself.
    # 5's References go through the missing <7@x> to 1: the dummy in between goes.
    messages = [
        message(1, Message_ID="<1@x>", Subject="a"),
        message(2, Message_ID="<2@x>", References="<0@x>", Subject="b"),
        message(3, Message_ID="<3@x>", References="<0@x>", Subject="c"),
        message(4, Message_ID="<4@x>", References="<8@x>", Subject="d"),
        message(5, Message_ID="<5@x>", References="<1@x> <7@x>", Subject="e"),
    ]

    assert threads_of(messages) == b"(1 5)((2)(3))(4)"


def test_a_child_seen_before_its_parent() -> None:
    messages = [
        message(1, 2, Message_ID="<2@x>", References="<1@x>", Subject="b"),
        message(2, 1, Message_ID="<1@x>", Subject="a"),
    ]

    assert threads_of(messages) == b"(2 1)"


def test_duplicate_and_missing_message_ids_get_unique_ones() -> None:
    messages = [
        message(1, Message_ID="<1@x>", Subject="a"),
        message(2, Message_ID="<1@x>", Subject="b"),  # duplicate: a thread of its own
        message(3, References="<1@x>", Subject="c"),  # no Message-ID, a child of 1
        message(4, Message_ID="not an id", Subject="d"),
    ]

    assert threads_of(messages) == b"(1 3)(2)(4)"


def test_no_loops_from_references() -> None:
    messages = [
        message(1, Message_ID="<1@x>", References="<2@x>", Subject="a"),
        message(2, Message_ID="<2@x>", References="<1@x>", Subject="b"),
        message(3, Message_ID="<3@x>", References="<3@x>", Subject="c"),  # itself
        message(4, Message_ID="<4@x>", References="<5@x> <4@x> <5@x>", Subject="d"),
    ]

    # 2 makes 1 its parent only if 1 does not descend from 2: it does (1's parent
    # is the <2@x> container), so 2 stays a root with 1 below it.
    assert threads_of(messages) == b"(2 1)(3)(4)"


def test_an_existing_parent_link_is_kept_by_later_references() -> None:
    messages = [
        message(1, Message_ID="<1@x>", Subject="a"),
        message(2, Message_ID="<2@x>", Subject="b"),
        message(3, Message_ID="<3@x>", References="<1@x> <2@x>", Subject="c"),
        # <2@x> has a parent (1) already: the missing <9@x> does not take it.
        message(4, Message_ID="<4@x>", References="<9@x> <2@x>", Subject="d"),
    ]

    assert threads_of(messages) == b"(1 2 (3)(4))"


def test_truncated_references_are_corrected_by_the_message_itself() -> None:
    messages = [
        # 1's References name <2@x> as a parent of <3@x>... then 3 says otherwise.
        message(1, Message_ID="<1@x>", References="<2@x> <3@x>", Subject="a"),
        message(2, Message_ID="<2@x>", Subject="b"),
        message(3, Message_ID="<3@x>", References="<9@x>", Subject="c"),
    ]

    # <3@x> moves from under 2 to under the dummy <9@x>, which then goes (one child).
    assert threads_of(messages) == b"(2)(3 1)"


def test_roots_with_the_same_subject_are_gathered() -> None:
    messages = [
        message(1, Message_ID="<1@x>", Subject="Topic"),
        message(2, Message_ID="<2@x>", Subject="Re: topic"),  # a reply: under 1
        message(3, Message_ID="<3@x>", Subject="other"),
        message(4, Message_ID="<4@x>", Subject="Other"),  # neither a reply: a dummy
        message(5, Message_ID="<5@x>"),  # no subject: never gathered
        message(6, Message_ID="<6@x>"),
    ]

    assert threads_of(messages) == b"(1 2)((3)(4))(5)(6)"


def test_a_reply_root_is_replaced_in_the_table_by_the_original() -> None:
    messages = [
        message(1, Message_ID="<1@x>", Subject="Re: Topic"),
        message(2, Message_ID="<2@x>", Subject="Topic"),
        message(3, Message_ID="<3@x>", Subject="Fwd: Topic"),
    ]

    assert threads_of(messages) == b"(2 (1)(3))"


def test_a_dummy_root_with_one_child_gives_way_before_the_subjects_are_gathered() -> None:
    messages = [
        message(1, Message_ID="<1@x>", References="<0@x>", Subject="Re: t"),
        message(2, Message_ID="<2@x>", Subject="t"),
    ]

    # Kept, the dummy <0@x> would take 2 as a child: "((1)(2))".
    assert threads_of(messages) == b"(2 1)"


def test_two_replies_without_their_original_share_a_dummy() -> None:
    messages = [
        message(1, Message_ID="<1@x>", Subject="Re: t"),
        message(2, Message_ID="<2@x>", Subject="Re: t"),
        message(3, Message_ID="<3@x>", Subject="t (fwd)"),
    ]

    assert threads_of(messages) == b"((1)(2)(3))"


def test_dummies_gather_other_roots_of_their_subject() -> None:
    messages = [
        message(1, Message_ID="<1@x>", References="<0@x>", Subject="Re: t"),
        message(2, Message_ID="<2@x>", References="<0@x>", Subject="Re: t"),
        message(3, Message_ID="<3@x>", Subject="t"),
        message(4, Message_ID="<4@x>", References="<9@x>", Subject="Re: t"),
        message(5, Message_ID="<5@x>", References="<9@x>", Subject="Re: t"),
    ]

    # Two dummy roots (<0@x>, <9@x>) and 3: all children of the first dummy.
    assert threads_of(messages) == b"((1)(2)(3)(4)(5))"


def test_siblings_and_roots_sort_by_sent_date_then_number() -> None:
    messages = [
        message(1, 1, Message_ID="<1@x>", Subject="a"),
        message(2, 9, Message_ID="<2@x>", References="<1@x>", Subject="b"),
        message(3, 5, Message_ID="<3@x>", References="<1@x>", Subject="c"),
        message(4, 5, Message_ID="<4@x>", References="<1@x>", Subject="d"),
        message(5, 0, Message_ID="<5@x>", References="<1@x> <3@x>", Subject="e"),
        message(6, 3, Message_ID="<6@x>", References="<7@x>", Subject="f"),
        message(7, 2, Message_ID="<8@x>", References="<7@x>", Subject="g"),
    ]

    # The dummy <7@x> sorts by its first child after sorting: 7 (Jan 2), after 1.
    assert threads_of(messages) == b"(1 (3 5)(4)(2))((7)(6))"
