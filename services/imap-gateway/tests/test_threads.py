"""THREAD (RFC 5256 §4): ORDEREDSUBJECT, REFERENCES step by step, and the response form."""

from __future__ import annotations

import datetime as dt

import pytest

from imap_gateway.envelope_values import Envelope
from imap_gateway.sorting import SortMessage
from imap_gateway.threads import Node, encode, ordered_subject, references

ARRIVED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def message(
    seq: int, day: int | None = None, *, references: str = "", **fields: str
) -> SortMessage:
    """Message ``seq``, sent on January ``day`` (default: its sequence number);
    ``fields`` name the envelope's (subject, message_id, in_reply_to)."""
    fields.setdefault("date", f"{day or seq} Jan 2026 12:00:00 +0000")
    envelope = Envelope(**{name: value.encode() for name, value in fields.items()})  # type: ignore[arg-type]
    return SortMessage(seq, seq + 100, ARRIVED, 10, envelope, references.encode() or None)


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
        message(1, 5, subject="b"),
        message(2, 2, subject="Re: a"),
        message(3, 3, subject="b"),
        message(4, 1, subject="A"),
        message(5, 4, subject="re: a"),
        message(6, 9, subject="c"),
        message(7, 4, subject="Re: A"),  # same date as 5: the lower number first
    ]

    assert threads_of(messages, "ORDEREDSUBJECT") == b"(4 (2)(5)(7))(3 1)(6)"


def test_references_chain_and_in_reply_to() -> None:
    messages = [
        message(1, message_id="<1@x>", subject="a"),
        message(2, message_id="<2@x>", references="<1@x>", subject="x"),
        message(3, message_id="<3@x>", references="<1@x> <2@x>", subject="y"),
        message(4, message_id="<4@x>", in_reply_to="<2@x> (comment) <9@x>", subject="z"),
    ]

    assert threads_of(messages) == b"(1 2 (3)(4))"


def test_references_win_over_in_reply_to() -> None:
    messages = [
        message(1, message_id="<1@x>", subject="a"),
        message(2, message_id="<2@x>", subject="b"),
        message(3, message_id="<3@x>", references="<1@x>", in_reply_to="<2@x>", subject="c"),
    ]

    assert threads_of(messages) == b"(1 3)(2)"


def test_missing_parents_become_dummies_then_are_pruned() -> None:
    # 2 and 3 both answer the missing <0@x>: the dummy root stays (two children).
    # 4 answers a missing <8@x> alone: it becomes a root itself.
    # 5's References go through the missing <7@x> to 1: the dummy in between goes.
    messages = [
        message(1, message_id="<1@x>", subject="a"),
        message(2, message_id="<2@x>", references="<0@x>", subject="b"),
        message(3, message_id="<3@x>", references="<0@x>", subject="c"),
        message(4, message_id="<4@x>", references="<8@x>", subject="d"),
        message(5, message_id="<5@x>", references="<1@x> <7@x>", subject="e"),
    ]

    assert threads_of(messages) == b"(1 5)((2)(3))(4)"


def test_a_child_seen_before_its_parent() -> None:
    messages = [
        message(1, 2, message_id="<2@x>", references="<1@x>", subject="b"),
        message(2, 1, message_id="<1@x>", subject="a"),
    ]

    assert threads_of(messages) == b"(2 1)"


def test_duplicate_and_missing_message_ids_get_unique_ones() -> None:
    messages = [
        message(1, message_id="<1@x>", subject="a"),
        message(2, message_id="<1@x>", subject="b"),  # duplicate: a thread of its own
        message(3, references="<1@x>", subject="c"),  # no Message-ID, a child of 1
        message(4, message_id="not an id", subject="d"),
    ]

    assert threads_of(messages) == b"(1 3)(2)(4)"


def test_no_loops_from_references() -> None:
    messages = [
        message(1, message_id="<1@x>", references="<2@x>", subject="a"),
        message(2, message_id="<2@x>", references="<1@x>", subject="b"),
        message(3, message_id="<3@x>", references="<3@x>", subject="c"),  # itself
        message(4, message_id="<4@x>", references="<5@x> <4@x> <5@x>", subject="d"),
    ]

    # 2 makes 1 its parent only if 1 does not descend from 2: it does (1's parent
    # is the <2@x> container), so 2 stays a root with 1 below it.
    assert threads_of(messages) == b"(2 1)(3)(4)"


def test_an_existing_parent_link_is_kept_by_later_references() -> None:
    messages = [
        message(1, message_id="<1@x>", subject="a"),
        message(2, message_id="<2@x>", subject="b"),
        message(3, message_id="<3@x>", references="<1@x> <2@x>", subject="c"),
        # <2@x> has a parent (1) already: the missing <9@x> does not take it.
        message(4, message_id="<4@x>", references="<9@x> <2@x>", subject="d"),
    ]

    assert threads_of(messages) == b"(1 2 (3)(4))"


def test_truncated_references_are_corrected_by_the_message_itself() -> None:
    messages = [
        # 1's References name <2@x> as a parent of <3@x>... then 3 says otherwise.
        message(1, message_id="<1@x>", references="<2@x> <3@x>", subject="a"),
        message(2, message_id="<2@x>", subject="b"),
        message(3, message_id="<3@x>", references="<9@x>", subject="c"),
    ]

    # <3@x> moves from under 2 to under the dummy <9@x>, which then goes (one child).
    assert threads_of(messages) == b"(2)(3 1)"


@pytest.mark.parametrize(
    ("messages", "threads"),
    [
        pytest.param(
            [
                message(1, message_id="<1@x>", subject="Topic"),
                message(2, message_id="<2@x>", subject="Re: topic"),  # a reply: under 1
                message(3, message_id="<3@x>", subject="other"),
                message(4, message_id="<4@x>", subject="Other"),  # neither a reply: a dummy
                message(5, message_id="<5@x>"),  # no subject: never gathered
                message(6, message_id="<6@x>"),
            ],
            b"(1 2)((3)(4))(5)(6)",
            id="roots with the same subject are gathered",
        ),
        pytest.param(
            [
                message(1, message_id="<1@x>", subject="Re: Topic"),
                message(2, message_id="<2@x>", subject="Topic"),
                message(3, message_id="<3@x>", subject="Fwd: Topic"),
            ],
            b"(2 (1)(3))",
            id="a reply root is replaced in the table by the original",
        ),
        pytest.param(
            [
                message(1, message_id="<1@x>", references="<0@x>", subject="Re: t"),
                message(2, message_id="<2@x>", subject="t"),
            ],
            b"(2 1)",
            # Kept, the dummy <0@x> would take 2 as a child: "((1)(2))".
            id="a dummy root with one child gives way before the subjects are gathered",
        ),
        pytest.param(
            [
                message(1, message_id="<1@x>", subject="Re: t"),
                message(2, message_id="<2@x>", subject="Re: t"),
                message(3, message_id="<3@x>", subject="t (fwd)"),
            ],
            b"((1)(2)(3))",
            id="two replies without their original share a dummy",
        ),
        pytest.param(
            [
                message(1, message_id="<1@x>", references="<0@x>", subject="Re: t"),
                message(2, message_id="<2@x>", references="<0@x>", subject="Re: t"),
                message(3, message_id="<3@x>", subject="t"),
                message(4, message_id="<4@x>", references="<9@x>", subject="Re: t"),
                message(5, message_id="<5@x>", references="<9@x>", subject="Re: t"),
            ],
            b"((1)(2)(3)(4)(5))",
            # Two dummy roots (<0@x>, <9@x>) and 3: all children of the first dummy.
            id="dummies gather other roots of their subject",
        ),
    ],
)
def test_step_5_gathers_roots_by_base_subject(messages: list[SortMessage], threads: bytes) -> None:
    assert threads_of(messages) == threads


def test_siblings_and_roots_sort_by_sent_date_then_number() -> None:
    messages = [
        message(1, 1, message_id="<1@x>", subject="a"),
        message(2, 9, message_id="<2@x>", references="<1@x>", subject="b"),
        message(3, 5, message_id="<3@x>", references="<1@x>", subject="c"),
        message(4, 5, message_id="<4@x>", references="<1@x>", subject="d"),
        message(5, 0, message_id="<5@x>", references="<1@x> <3@x>", subject="e"),
        message(6, 3, message_id="<6@x>", references="<7@x>", subject="f"),
        message(7, 2, message_id="<8@x>", references="<7@x>", subject="g"),
    ]

    # The dummy <7@x> sorts by its first child after sorting: 7 (Jan 2), after 1.
    assert threads_of(messages) == b"(1 (3 5)(4)(2))((7)(6))"
