"""THREAD (RFC 5256 §4): ORDEREDSUBJECT and REFERENCES, and the thread-list encoding. Pure.

Both algorithms take :class:`~imap_gateway.sorting.SortMessage` values and give
a forest of :class:`Node`; :func:`encode` writes it as the THREAD response's
``thread-list``s (RFC 5256 §5). "Sent date" is that of RFC 5256 §2.2
(:func:`~imap_gateway.sorting.sent_date`), ties going to the lower sequence
number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from imap_gateway.base_subject import BaseSubject, base_subject, casemap
from imap_gateway.sorting import SortMessage, sent_date, subject_of

__all__ = ["ALGORITHMS", "Node", "encode", "ordered_subject", "references"]

# A msg-id (RFC 5322 §3.6.4) reduced to what threading compares: "<" left "@" right ">".
_MSG_ID = re.compile(r"<\s*([^<>\s@]+@[^<>\s]+?)\s*>")


@dataclass(eq=False, slots=True)
class Node:
    """A message in a thread, or a dummy (``message`` None) holding its children."""

    message: SortMessage | None = None
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None

    def add(self, child: Node) -> None:
        child.detach()
        child.parent = self
        self.children.append(child)

    def detach(self) -> None:
        if self.parent is not None:
            self.parent.children.remove(self)
            self.parent = None

    def descends_from(self, other: Node) -> bool:
        node: Node | None = self
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False


def _subject(message: SortMessage) -> BaseSubject:
    return base_subject(subject_of(message))


def _date_key(message: SortMessage) -> tuple[float, int]:
    return sent_date(message), message.seq


# --- ORDEREDSUBJECT ---------------------------------------------------------------------------


def ordered_subject(messages: Sequence[SortMessage]) -> list[Node]:
    """RFC 5256 §4 ORDEREDSUBJECT: by base subject, then sent date; one thread per
    base subject, its first message the parent of all the others; threads by the
    sent date of their first message."""
    keyed = sorted(messages, key=lambda m: (casemap(_subject(m).text), *_date_key(m)))
    threads: list[Node] = []
    last: bytes | None = None
    for message in keyed:
        subject = casemap(_subject(message).text)
        if subject != last or not threads:
            threads.append(Node(message))
            last = subject
        else:
            threads[-1].add(Node(message))
    threads.sort(key=lambda node: _date_key(_first(node)))
    return threads


def _first(node: Node) -> SortMessage:
    """The message that stands for ``node``: its own, or a dummy's first child's."""
    while node.message is None:
        node = node.children[0]
    return node.message


# --- REFERENCES -------------------------------------------------------------------------------


def _ids(value: bytes | None) -> list[str]:
    return _MSG_ID.findall(value.decode("latin-1")) if value is not None else []


def references(messages: Sequence[SortMessage]) -> list[Node]:
    """RFC 5256 §4 REFERENCES (the algorithm of Jamie Zawinski), steps 1-6."""
    roots = _link(sorted(messages, key=lambda m: m.seq))  # (1), (2)
    # (3) prune the dummies.
    roots = [node for root in roots for node in _pruned_root(root)]
    # (4) sort the roots by sent date; a dummy by its first child, once those are sorted.
    for root in roots:
        if root.message is None:
            root.children.sort(key=lambda node: _date_key(_first(node)))
    roots.sort(key=lambda node: _date_key(_first(node)))
    roots = _merge_subjects(roots)  # (5)
    _sort_siblings(roots)  # (6)
    return roots


def _link(messages: Sequence[SortMessage]) -> list[Node]:
    """Steps (1) and (2): the parent/child links from References (or In-Reply-To),
    then every node without a parent."""
    table: dict[str, Node] = {}
    nodes: list[Node] = []

    def container(msg_id: str) -> Node:
        if msg_id not in table:
            table[msg_id] = Node()
            nodes.append(table[msg_id])
        return table[msg_id]

    for message in messages:
        own = _ids(message.envelope.message_id)[:1]
        # (1) no valid Message-ID, or one an earlier message has: a unique one.
        if own and (own[0] not in table or table[own[0]].message is None):
            node = container(own[0])
        else:
            node = Node()
            nodes.append(node)
        node.message = message
        refs = _ids(message.references) or _ids(message.envelope.in_reply_to)[:1]
        previous: Node | None = None
        for msg_id in refs:  # (1.A) each reference the parent of the next
            current = container(msg_id)
            # A link already made stays; none that would make a loop.
            if previous is not None and _may_link(previous, current):
                previous.add(current)
            previous = current
        # (1.B) the last reference is the parent: a link made by a truncated
        # References field is broken first; never a loop.
        node.detach()
        if previous is not None and not previous.descends_from(node):
            previous.add(node)
    return [node for node in nodes if node.parent is None]


def _may_link(parent: Node, child: Node) -> bool:
    return child.parent is None and not parent.descends_from(child)


def _pruned_root(root: Node) -> list[Node]:
    """Step (3) for one root: what stands in its place in the root set. A dummy
    root keeps two or more children; with one it gives its place to it, with none
    it goes."""
    _prune_children(root)
    if root.message is not None or len(root.children) > 1:
        return [root]
    children, root.children = root.children, []
    for child in children:
        child.parent = None
    return children


def _prune_children(node: Node) -> None:
    """(3) below the root: a dummy without children is deleted, one with children
    gives its place to them."""
    kept: list[Node] = []
    for child in node.children:
        _prune_children(child)
        if child.message is not None:
            kept.append(child)
            continue
        for grandchild in child.children:
            grandchild.parent = node
            kept.append(grandchild)
    node.children = kept


def _merge_subjects(roots: list[Node]) -> list[Node]:
    """Step (5): gather the roots whose base subjects are equal."""
    subjects = {id(root): _subject(_first(root)) for root in roots}
    table: dict[bytes, Node] = {}
    for root in roots:  # (5.B) one root per subject
        subject = subjects[id(root)]
        if not subject.text:
            continue
        key = casemap(subject.text)
        held = table.get(key)
        if held is None or (
            held.message is not None
            and (root.message is None or _replaces(subjects[id(held)], subject))
        ):
            table[key] = root
    merged = list(roots)
    for root in roots:  # (5.C) merge the others into it
        subject = subjects[id(root)]
        if not subject.text:
            continue
        key = casemap(subject.text)
        held = table[key]
        if held is root:
            continue
        merged.remove(root)
        if held.message is None and root.message is None:
            for child in list(root.children):
                held.add(child)
        elif held.message is None or _replaces(subject, subjects[id(held)]):
            held.add(root)
        else:
            dummy = Node()
            merged[merged.index(held)] = dummy
            dummy.add(held)
            dummy.add(root)
            subjects[id(dummy)] = subjects[id(held)]
            table[key] = dummy
    return merged


def _replaces(held: BaseSubject, current: BaseSubject) -> bool:
    """(5.B) the table's message is a reply or forward and the current one is not."""
    return held.reply_or_forward and not current.reply_or_forward


def _sort_siblings(siblings: list[Node]) -> None:
    """Step (6): every set of siblings by sent date, the deepest first; a dummy sorts
    by its first child."""
    for node in siblings:
        _sort_siblings(node.children)
    siblings.sort(key=lambda node: _date_key(_first(node)))


ALGORITHMS: dict[str, Callable[[Sequence[SortMessage]], list[Node]]] = {
    "ORDEREDSUBJECT": ordered_subject,
    "REFERENCES": references,
}


# --- the response -----------------------------------------------------------------------------


def encode(threads: Sequence[Node], number: Callable[[SortMessage], int]) -> bytes:
    """The ``thread-list``s of a THREAD response (RFC 5256 §5): a chain of only
    children is ``(1 2 3)``, two or more children nest as ``(1 (2)(3))``."""
    return b"".join(b"(" + b"".join(_members(node, number)) + b")" for node in threads)


def _members(node: Node, number: Callable[[SortMessage], int]) -> Iterator[bytes]:
    first = True
    while True:
        if node.message is not None:
            yield (b"" if first else b" ") + b"%d" % number(node.message)
            first = False
        if len(node.children) == 1:
            node = node.children[0]
            continue
        if node.children:
            nested = b"".join(b"(" + b"".join(_members(c, number)) + b")" for c in node.children)
            yield (b"" if first else b" ") + nested
        return
