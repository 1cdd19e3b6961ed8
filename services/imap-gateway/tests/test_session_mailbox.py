"""Mailbox commands over real sockets: LIST and its extensions, LSUB, NAMESPACE, STATUS,
CREATE, DELETE, RENAME, SUBSCRIBE (RFC 9051 §6.3; RFC 5258, 5819, 6154, 3348)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Server


async def test_list_all_shows_children_and_special_use(server: Server) -> None:
    client = await server.logged_in(select=None)
    await client.ok("CREATE Work/Reports")

    lines = await client.ok('LIST "" "*"')

    assert b'* LIST (\\HasNoChildren) "/" INBOX' in lines
    assert b'* LIST (\\HasNoChildren \\Sent) "/" Sent' in lines
    assert b'* LIST (\\HasChildren) "/" Work' in lines
    assert b'* LIST (\\HasNoChildren) "/" Work/Reports' in lines


async def test_list_percent_stops_at_the_delimiter(server: Server) -> None:
    client = await server.logged_in(select=None)
    await client.ok("CREATE Work/Reports")

    top = await client.ok('LIST "" "%"')
    below = await client.ok('LIST "Work/" "%"')

    assert not any(b"Work/Reports" in line for line in top)
    assert below[:-1] == [b'* LIST (\\HasNoChildren) "/" Work/Reports']


async def test_list_empty_pattern_gives_the_delimiter(server: Server) -> None:
    client = await server.logged_in(select=None)

    lines = await client.ok('LIST "" ""')

    assert lines[0] == b'* LIST (\\Noselect) "/" ""'


async def test_a_name_not_in_modified_utf7_is_no_and_lists_nothing(server: Server) -> None:
    """imaptest's ``atoms``: SELECT of such a name is NO, LIST of such a pattern OK."""
    client = await server.logged_in(select=None)

    select = await client.command("SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}")
    listed = await client.ok('LIST "" !#$&\'+,-.0123456789:;<=>?@^_`|[}%*')

    assert b" NO [CANNOT] " in select[-1]
    assert len(listed) == 1


@pytest.mark.parametrize("selection", ["RECURSIVEMATCH", "RECURSIVEMATCH REMOTE"])
async def test_recursivematch_alone_or_with_remote_is_bad(server: Server, selection: str) -> None:
    """RFC 5258 §3: RECURSIVEMATCH needs a selection option; REMOTE selects nothing."""
    client = await server.logged_in(select=None)

    lines = await client.command(f'LIST ({selection}) "" "*"')
    fine = await client.ok('LIST (SUBSCRIBED RECURSIVEMATCH REMOTE) "" "*"')

    assert client.status_of(lines) == b"BAD"
    assert fine


async def test_list_extended_selection_and_return_options(server: Server) -> None:
    client = await server.logged_in(select=None)
    await client.ok("CREATE Private")

    special = await client.ok('LIST (SPECIAL-USE) "" "*"')
    subscribed = await client.ok('LIST (SUBSCRIBED) "" "*"')
    returned = await client.ok('LIST "" "Private" RETURN (SUBSCRIBED CHILDREN)')

    assert len(special) == 6  # Sent, Drafts, Trash, Junk, Archive and the tagged OK
    assert all(b"\\Subscribed" in line for line in subscribed[:-1])
    assert not any(b"Private" in line for line in subscribed)
    assert returned[0] == b'* LIST (\\HasNoChildren) "/" Private'


async def test_list_status_adds_a_status_per_mailbox(server: Server) -> None:
    server.deliver("one")
    client = await server.logged_in(select=None)

    lines = await client.ok('LIST "" "INBOX" RETURN (STATUS (MESSAGES UNSEEN SIZE))')

    assert lines[0] == b'* LIST (\\HasNoChildren) "/" INBOX'
    assert lines[1].startswith(b"* STATUS INBOX (MESSAGES 1 UNSEEN 1 SIZE ")


async def test_unknown_list_option_is_bad(server: Server) -> None:
    client = await server.logged_in(select=None)

    lines = await client.command('LIST (FROBNICATE) "" "*"')

    assert client.status_of(lines) == b"BAD"


async def test_lsub_percent_lists_a_parent_of_a_subscribed_child_noselect(
    server: Server,
) -> None:
    """RFC 3501 §6.3.9 (imaptest's ``subscribe``): "%" must return foo, \\Noselect,
    when only foo/bar is subscribed."""
    client = await server.logged_in(select=None)
    for name in ("top/a", "top/b/c", "top/d/e"):
        await client.ok(f"CREATE {name}")
    for name in ("top/a", "top/b/c", "top/d/e"):
        await client.ok(f"SUBSCRIBE {name}")

    level = await client.ok('LSUB "" top/%')
    everything = await client.ok('LSUB "" top/*')

    assert level[:-1] == [
        b'* LSUB () "/" top/a',
        b'* LSUB (\\Noselect) "/" top/b',
        b'* LSUB (\\Noselect) "/" top/d',
    ]
    assert everything[:-1] == [
        b'* LSUB () "/" top/a',
        b'* LSUB () "/" top/b/c',
        b'* LSUB () "/" top/d/e',
    ]


async def test_lsub_and_unsubscribe(server: Server) -> None:
    client = await server.logged_in(select=None)

    await client.ok("UNSUBSCRIBE Junk")
    lines = await client.ok('LSUB "" "*"')

    assert b'* LSUB () "/" INBOX' in lines
    assert not any(b"Junk" in line for line in lines)


async def test_namespace_is_one_personal_root(server: Server) -> None:
    client = await server.logged_in(select=None)

    lines = await client.ok("NAMESPACE")

    assert lines[0] == b'* NAMESPACE (("" "/")) NIL NIL'


async def test_status_items(server: Server) -> None:
    server.deliver("one", flags=("\\Seen",))
    server.deliver("two", flags=("\\Deleted",))
    client = await server.logged_in(select=None)

    lines = await client.ok("STATUS INBOX (MESSAGES UIDNEXT UNSEEN DELETED HIGHESTMODSEQ)")

    assert lines[0].startswith(b"* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UNSEEN 1 DELETED 1 ")
    assert b"HIGHESTMODSEQ " in lines[0]


async def test_create_rename_delete_with_response_codes(server: Server) -> None:
    client = await server.logged_in(select=None)

    created = await client.command("CREATE Projects/")
    again = await client.command("CREATE Projects")
    inbox = await client.command("CREATE inbox")
    renamed = await client.command("RENAME Projects Old")
    gone = await client.command("DELETE Projects")
    deleted = await client.command("DELETE Old")
    delete_inbox = await client.command("DELETE INBOX")

    assert client.status_of(created) == b"OK"
    assert b"NO [ALREADYEXISTS]" in again[-1]
    assert b"NO [ALREADYEXISTS]" in inbox[-1]
    assert client.status_of(renamed) == b"OK"
    assert b"NO [NONEXISTENT]" in gone[-1]
    assert client.status_of(deleted) == b"OK"
    assert b"NO [CANNOT]" in delete_inbox[-1]


async def test_create_with_special_use(server: Server) -> None:
    client = await server.logged_in(select=None)

    await client.ok("CREATE Everything (USE (\\All))")
    lines = await client.ok('LIST "" Everything')

    assert lines[0] == b'* LIST (\\HasNoChildren \\All) "/" Everything'


async def test_non_ascii_names_are_modified_utf7_or_utf8_after_enable(server: Server) -> None:
    client = await server.logged_in(select=None)

    await client.ok("CREATE &ZeVnLIqe-")
    utf7 = await client.ok('LIST "" "&ZeVnLIqe-"')
    await client.ok("ENABLE UTF8=ACCEPT")
    utf8 = await client.ok('LIST "" "*"')

    assert utf7[0] == b'* LIST (\\HasNoChildren) "/" &ZeVnLIqe-'
    assert '* LIST (\\HasNoChildren) "/" "日本語"'.encode() in utf8


async def test_recursivematch_returns_an_unsubscribed_parent_with_childinfo(
    server: Server,
) -> None:
    client = await server.logged_in(select=None)
    await client.ok("CREATE Work/Old")
    await client.ok("SUBSCRIBE Work/Old")

    lines = await client.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    plain = await client.ok('LIST (SUBSCRIBED) "" "%"')

    # RFC 5258 §3.5: Work is not subscribed, but a child is (as Dovecot answers).
    assert b'* LIST (\\HasChildren) "/" Work ("CHILDINFO" ("SUBSCRIBED"))' in lines
    assert b'* LIST (\\HasNoChildren \\Subscribed) "/" INBOX' in lines
    assert not any(b"Work" in line for line in plain)


async def test_recursivematch_gives_no_childinfo_when_the_child_is_listed_itself(
    server: Server,
) -> None:
    """imaptest's listext: with Work/Old matching a pattern too, it is listed, and
    Work, not subscribed, is not (Dovecot's answer)."""
    client = await server.logged_in(select=None)
    await client.ok("CREATE Work/Old")
    await client.ok("SUBSCRIBE Work/Old")

    lines = await client.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" (Work Work/Old)')

    assert lines[:-1] == [b'* LIST (\\HasNoChildren \\Subscribed) "/" Work/Old']


# -- subscriptions outlive their mailboxes (RFC 9051 §6.3.7, imaptest's listext) ----------


async def test_a_deleted_subscribed_mailbox_is_listed_nonexistent(server: Server) -> None:
    """RFC 9051 §6.3.7: DELETE must not drop the subscription; LIST (SUBSCRIBED) shows
    the name \\NonExistent, never \\Noselect with it (§7.3.1); plain LIST does not."""
    client = await server.logged_in(select=None)
    await client.ok("CREATE Old/Box")
    await client.ok("SUBSCRIBE Old/Box")
    await client.ok("DELETE Old/Box")

    subscribed = await client.ok('LIST (SUBSCRIBED) "" Old/*')
    returned = await client.ok('LIST "" Old/* RETURN (SUBSCRIBED)')
    status = await client.ok('LIST (SUBSCRIBED) "" Old/Box RETURN (STATUS (MESSAGES))')
    lsub = await client.ok('LSUB "" Old/*')

    assert subscribed[:-1] == [b'* LIST (\\HasNoChildren \\NonExistent \\Subscribed) "/" Old/Box']
    assert returned[:-1] == []
    # RFC 5819 §2: no STATUS for a name that is not a mailbox.
    assert status[:-1] == subscribed[:-1]
    assert lsub[:-1] == [b'* LSUB (\\Noselect) "/" Old/Box']


async def test_a_name_no_mailbox_has_can_be_subscribed(server: Server) -> None:
    """RFC 9051 §6.3.7: a server MAY validate SUBSCRIBE's name; we do not. Its superior,
    neither a mailbox nor subscribed, comes with RECURSIVEMATCH (§7.3.1)."""
    client = await server.logged_in(select=None)
    await client.ok("SUBSCRIBE Future/Box")

    recursive = await client.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" Fut%')
    lsub = await client.ok('LSUB "" Fut%')
    await client.ok("CREATE Future/Box")
    created = await client.ok('LIST (SUBSCRIBED) "" Future/*')

    assert recursive[:-1] == [
        b'* LIST (\\HasNoChildren \\NonExistent) "/" Future ("CHILDINFO" ("SUBSCRIBED"))'
    ]
    assert lsub[:-1] == [b'* LSUB (\\Noselect) "/" Future']
    assert created[:-1] == [b'* LIST (\\HasNoChildren \\Subscribed) "/" Future/Box']


async def test_rename_moves_the_subscriptions_with_the_mailbox(server: Server) -> None:
    client = await server.logged_in(select=None)
    await client.ok("CREATE Work/Old")
    await client.ok("SUBSCRIBE Work")
    await client.ok("SUBSCRIBE Work/Old")
    await client.ok("SUBSCRIBE Workshop")

    await client.ok("RENAME Work Done")
    done = await client.ok('LSUB "" Done*')
    work = await client.ok('LSUB "" Work*')

    assert done[:-1] == [b'* LSUB () "/" Done', b'* LSUB () "/" Done/Old']
    assert work[:-1] == [b'* LSUB (\\Noselect) "/" Workshop']


async def test_unsubscribe_of_a_name_not_subscribed_is_ok(server: Server) -> None:
    client = await server.logged_in(select=None)

    never = await client.command("UNSUBSCRIBE Never")
    empty_level = await client.command("SUBSCRIBE Bad//Name")

    assert client.status_of(never) == b"OK"
    assert b" NO [CANNOT] " in empty_level[-1]
