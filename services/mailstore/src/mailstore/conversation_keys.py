"""The keys a message joins a conversation by, and which entries of a delivered batch can
be labelled without the per-row trigger (db.conversations.label_batch); pure, no I/O.

Migration 0018's ``conversation_of`` is the definition: it runs in the insert trigger for
every entry that arrives unlabelled (APPEND, COPY, a saved draft, and the deliveries this
module leaves to it). It costs about 0.5 ms an entry, most of it four calls of the SQL
``msg_ids`` that cannot be inlined, which halved durable ingest (docs/performance.md).
A delivered batch is labelled here instead, from the headers the consumer parsed already,
with one statement for the whole batch; only the entries whose conversation changes
shape (a merge, or an entry that meets another entry of the same batch) still go through
the trigger, one by one in delivery order, so that their merges are exactly its own.

``msg_ids`` and ``keys_of`` mirror the SQL function and are checked against it
(tests/test_conversation_keys.py). The one difference: PostgreSQL's ``[:space:]``
follows the database's locale, ``MSG_ID`` takes ASCII white space only; a msg-id holding
another space character (nobody's software writes one) may then join differently.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from mailstore.parsing import ParsedMessage

# RFC 5322 §3.6.4 msg-id, as loosely as 0018's msg_ids() reads it: "<...>" without
# white space or angle brackets inside, at most 250 characters between them.
MSG_ID = re.compile(r"<[^<>\t\n\v\f\r ]{1,250}>")
# The parts of a References field read (0018): its first 1,000 characters for the
# root, its last 6,000 for the nearest 20 parents; a field of a megabyte costs no more.
ROOT_WINDOW = 1000
PARENTS_WINDOW = 6000
PARENTS = 20
IN_REPLY_TO_WINDOW = 1000


@dataclass(frozen=True, slots=True)
class Keys:
    """What ``conversation_of`` reads of one message."""

    # Every msg-id the message is found by: its own, the References root, its nearest
    # parents and the In-Reply-To parent, each once.
    keys: frozenset[str]
    # The label the message takes when nothing it names is held yet: the References
    # root, else its nearest parent, else its own Message-ID.
    target: str | None


def msg_ids(header: str | None) -> list[str]:
    """The msg-ids of a header field, in order."""
    return MSG_ID.findall(header or "")


def keys_of(message_id: str | None, references: str | None, in_reply_to: str | None) -> Keys:
    """``conversation_of``'s keys and target for a message with these header fields."""
    refs = references or ""
    own = next(iter(msg_ids(message_id)), None)
    root = next(iter(msg_ids(refs[:ROOT_WINDOW])), None)
    parents = msg_ids(refs[-PARENTS_WINDOW:])[-PARENTS:][::-1]
    parents += msg_ids((in_reply_to or "")[:IN_REPLY_TO_WINDOW])[:1]
    keys = frozenset(k for k in (root, own, *parents) if k is not None)
    target = root or next(iter(parents), None) or own
    return Keys(keys, target)


def keys_of_message(parsed: ParsedMessage) -> Keys:
    """``keys_of`` the header fields as parsed (and stored: db.delivery)."""
    return keys_of(parsed.message_id, parsed.references, parsed.in_reply_to)


def labels(
    entries: Sequence[tuple[int, Keys]], found: Sequence[frozenset[str]]
) -> list[str | None]:
    """The label of each entry (account id, keys) that the batch may set itself; None for
    those ``conversation_of`` must label in the trigger.

    ``found[i]`` holds the labels entry i's keys reach among the account's entries from
    before the batch (db.conversations.label_batch). An entry is labelled here when that
    is at most its own target (the function would return the target and relabel nothing)
    and no other entry of the batch in the same account shares a key or a found label
    with it: nothing the trigger does for the others can then reach it, nor it them.
    """
    tokens = [
        (account, keys.keys | seen) for (account, keys), seen in zip(entries, found, strict=True)
    ]
    shared = Counter((account, token) for account, held in tokens for token in held)
    chosen: list[str | None] = []
    for (account, keys), seen, (_, held) in zip(entries, found, tokens, strict=True):
        alone = all(shared[account, token] == 1 for token in held)
        if keys.target is not None and seen <= {keys.target} and alone:
            chosen.append(keys.target)
        else:
            chosen.append(None)
    return chosen
