"""The in-memory backend: UIDs, UIDVALIDITY, MODSEQ, folders and the change feed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from imap_gateway import backend as bk
from imap_gateway.memory import MemoryBackend, MemoryUser
from imap_gateway.session.search import evaluator
from imap_gateway.wire import flags
from imap_gateway.wire.commands import StoreMode
from imap_gateway.wire.search import SearchKeyword, SearchSimple, SearchText

USER = "carol@example.org"
RAW = b"Subject: hello\r\n\r\nbody\r\n"


@pytest.fixture
async def user() -> MemoryUser:
    memory = MemoryBackend()
    memory.add_user(USER, "pw")
    return await memory.authenticate(bk.Credentials(USER, "pw", "127.0.0.1"))


async def test_new_user_has_the_special_use_folders(user: MemoryUser) -> None:
    folders = {f.name: f.special_use for f in await user.list_folders()}

    assert folders == {
        "INBOX": (),
        "Sent": ("\\Sent",),
        "Drafts": ("\\Drafts",),
        "Trash": ("\\Trash",),
        "Junk": ("\\Junk",),
        "Archive": ("\\Archive",),
    }


async def test_uids_are_never_reused_after_expunge(user: MemoryUser) -> None:
    first = await user.append("INBOX", [bk.NewMessage(RAW, (flags.DELETED,))])
    folder = await user.select("INBOX", read_only=False)
    await folder.expunge()

    second = await user.append("INBOX", [bk.NewMessage(RAW)])

    assert second.uids[0] > first.uids[0]


async def test_a_folder_made_again_gets_a_new_uidvalidity(user: MemoryUser) -> None:
    await user.create_folder("Work")
    before = (await user.status("Work")).uidvalidity
    await user.delete_folder("Work")
    await user.create_folder("Work")

    after = (await user.status("Work")).uidvalidity

    assert before != 0
    assert after != 0
    assert after != before


async def test_every_change_takes_a_new_modseq(user: MemoryUser) -> None:
    await user.append("INBOX", [bk.NewMessage(RAW)])
    folder = await user.select("INBOX", read_only=False)
    start = folder.snapshot.highestmodseq

    result = await folder.store([1], StoreMode.ADD, [flags.SEEN])
    unchanged = await folder.store([1], StoreMode.ADD, [flags.SEEN])

    assert result.updated[0].modseq == start + 1
    assert unchanged.updated[0].modseq == start + 1  # no change, no new MODSEQ
    assert (await user.status("INBOX")).highestmodseq == start + 1


async def test_unchangedsince_refuses_messages_changed_later(user: MemoryUser) -> None:
    await user.append("INBOX", [bk.NewMessage(RAW), bk.NewMessage(RAW)])
    folder = await user.select("INBOX", read_only=False)
    old = folder.snapshot.highestmodseq
    await folder.store([2], StoreMode.ADD, [flags.FLAGGED])

    result = await folder.store([1, 2], StoreMode.ADD, [flags.SEEN], unchanged_since=old)

    assert [m.uid for m in result.updated] == [1]
    assert result.modified == (2,)


async def test_changes_since_reports_vanished_and_changed(user: MemoryUser) -> None:
    await user.append("INBOX", [bk.NewMessage(RAW), bk.NewMessage(RAW), bk.NewMessage(RAW)])
    folder = await user.select("INBOX", read_only=False)
    mark = folder.snapshot.highestmodseq
    await folder.store([1, 3], StoreMode.ADD, [flags.DELETED])
    await folder.expunge([3])

    changes = await folder.changes_since(mark)

    assert changes.vanished == (3,)
    assert [m.uid for m in changes.changed] == [1]


async def test_rename_moves_the_children(user: MemoryUser) -> None:
    await user.create_folder("Projects/2026/Q1")

    await user.rename_folder("Projects", "Old/Projects")

    names = {f.name for f in await user.list_folders()}
    assert {"Old", "Old/Projects", "Old/Projects/2026", "Old/Projects/2026/Q1"} <= names
    assert not any(n.startswith("Projects") for n in names)


async def test_rename_inbox_moves_its_messages_and_keeps_inbox(user: MemoryUser) -> None:
    await user.append("INBOX", [bk.NewMessage(RAW)])

    await user.rename_folder("INBOX", "Old")

    assert (await user.status("INBOX")).messages == 0
    assert (await user.status("Old")).messages == 1


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (lambda u: u.delete_folder("INBOX"), bk.OperationNotAllowed),
        (lambda u: u.create_folder("Sent"), bk.FolderExists),
        (lambda u: u.delete_folder("Nope"), bk.FolderNotFound),
        (lambda u: u.rename_folder("Sent", "Sent/Inner"), bk.OperationNotAllowed),
        (lambda u: u.create_folder("a//b"), bk.OperationNotAllowed),
    ],
)
async def test_folder_errors(
    user: MemoryUser, action: Callable[[MemoryUser], Awaitable[None]], error: type[Exception]
) -> None:
    with pytest.raises(error):
        await action(user)


async def test_delete_of_a_parent_is_refused(user: MemoryUser) -> None:
    await user.create_folder("A/B")

    with pytest.raises(bk.FolderHasChildren):
        await user.delete_folder("A")


async def test_two_selections_see_each_others_changes(user: MemoryUser) -> None:
    await user.append("INBOX", [bk.NewMessage(RAW)])
    one = await user.select("INBOX", read_only=False)
    two = await user.select("INBOX", read_only=False)

    await one.store([1], StoreMode.ADD, [flags.FLAGGED])
    await user.append("INBOX", [bk.NewMessage(RAW)])
    await one.store([1], StoreMode.ADD, [flags.DELETED])
    await one.expunge()

    seen = two.changes().pending()
    assert [type(c).__name__ for c in seen] == [
        "FlagsChanged",
        "MessagesAdded",
        "FlagsChanged",
        "MessagesExpunged",
    ]
    assert isinstance(seen[0], bk.FlagsChanged)
    assert seen[0].origin is one


async def test_read_only_selection_refuses_changes(user: MemoryUser) -> None:
    folder = await user.select("INBOX", read_only=True)

    with pytest.raises(bk.ReadOnly):
        await folder.store([1], StoreMode.ADD, [flags.SEEN])
    with pytest.raises(bk.ReadOnly):
        await folder.expunge()


async def test_search_by_text_and_keyword(user: MemoryUser) -> None:
    await user.append(
        "INBOX",
        [bk.NewMessage(RAW, ("$Work",)), bk.NewMessage(b"Subject: other\r\n\r\nHELLO\r\n")],
    )
    folder = await user.select("INBOX", read_only=True)

    async def nothing(key: object, uids: object) -> list[int]:
        raise AssertionError("the memory backend evaluates every key")

    assert await folder.search(SearchText("SUBJECT", b"HELLO"), fallback=nothing) == [1]
    assert await folder.search(SearchText("BODY", b"hello"), fallback=nothing) == [2]
    assert await folder.search(SearchKeyword("KEYWORD", "$Work"), fallback=nothing) == [1]
    assert await folder.search(SearchSimple("UNSEEN"), fallback=nothing) == [1, 2]


async def test_the_sessions_fallback_evaluator_matches_from_fetched_bytes(user: MemoryUser) -> None:
    await user.append(
        "INBOX", [bk.NewMessage(RAW), bk.NewMessage(b"Subject: other\r\n\r\nHELLO there\r\n")]
    )
    folder = await user.select("INBOX", read_only=True)

    evaluate = evaluator(folder)

    assert await evaluate(SearchText("TEXT", b"hello"), [1, 2]) == [1, 2]
    assert await evaluate(SearchText("BODY", b"hello"), [1, 2]) == [2]
    assert await evaluate(SearchSimple("SEEN"), [1, 2]) == []
