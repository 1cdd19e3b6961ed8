"""The POP3 maildrop: INBOX as it was at login, numbered from 1 (RFC 1939 §5).

Built on the backend's IMAP interfaces: :meth:`Maildrop.open` selects INBOX and
reads every message's size once; a message's octets are streamed from the
backend when RETR or TOP asks. DELE only marks; :meth:`Maildrop.commit` (QUIT in
the UPDATE state, RFC 1939 §6) moves the marked messages into the user's Trash in
one call, as the web's Delete does, so a mail program set to "delete after
download" loses nothing.

A message's unique-id (UIDL, RFC 1939 §7) is ``<uidvalidity>.<uid>`` of INBOX:
the mail store never reuses a UID within a UIDVALIDITY, nor a UIDVALIDITY.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from imap_gateway import backend as bk
from imap_gateway.wire.fetch import Section
from imap_gateway.wire.mailbox_names import INBOX

TRASH_USE = "\\Trash"  # RFC 6154
TRASH_NAME = "Trash"  # when no folder carries \Trash (the mail store always has one)
WHOLE = Section()  # BODY[]: the whole message


class NoSuchMessage(Exception):
    """A message number out of range, marked deleted, or gone from the store since."""


@dataclass(slots=True)
class Entry:
    number: int
    uid: int
    size: int
    deleted: bool = False


class Maildrop:
    def __init__(self, folder: bk.SelectedFolder, entries: list[Entry]) -> None:
        self.folder = folder
        self.uidvalidity = folder.snapshot.uidvalidity
        self.entries = entries

    @classmethod
    async def open(cls, user: bk.UserSession) -> Maildrop:
        folder = await user.select(INBOX, read_only=False)
        try:
            sizes = {m.uid: m.size async for m in folder.fetch(folder.snapshot.uids)}
        except BaseException:
            await folder.close()
            raise
        # A message expunged between SELECT and FETCH is simply not in the maildrop.
        uids = [uid for uid in folder.snapshot.uids if uid in sizes]
        entries = [Entry(n, uid, sizes[uid]) for n, uid in enumerate(uids, start=1)]
        return cls(folder, entries)

    def unique_id(self, entry: Entry) -> str:
        return f"{self.uidvalidity}.{entry.uid}"

    def get(self, number: int) -> Entry:
        """The message ``number``; NoSuchMessage when there is none or it is deleted."""
        if not 1 <= number <= len(self.entries):
            raise NoSuchMessage(number)
        entry = self.entries[number - 1]
        if entry.deleted:
            raise NoSuchMessage(number)
        return entry

    def visible(self) -> list[Entry]:
        """The messages not marked deleted (RFC 1939 §5: LIST, STAT, UIDL skip them)."""
        return [entry for entry in self.entries if not entry.deleted]

    def stat(self) -> tuple[int, int]:
        visible = self.visible()
        return len(visible), sum(entry.size for entry in visible)

    def delete(self, number: int) -> None:
        self.get(number).deleted = True

    def reset(self) -> None:
        for entry in self.entries:
            entry.deleted = False

    async def content(self, entry: Entry) -> AsyncGenerator[bytes, None]:
        """The message's octets, in the backend's chunks; NoSuchMessage if it is gone.

        A caller that stops early (TOP) closes this generator, which closes the
        backend's stream in turn (its HTTP response, for the mail store)."""
        found = [message async for message in self.folder.fetch([entry.uid])]
        if not found:
            raise NoSuchMessage(entry.number)
        data = await found[0].section(WHOLE, None)
        try:
            async for chunk in data.chunks:
                yield chunk.replace(b"\0", b"\x80")  # as IMAP's BODY[] (RFC 9051 §4.3)
        finally:
            aclose = getattr(data.chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    async def commit(self, user: bk.UserSession) -> int:
        """Move the messages marked deleted to Trash; how many were marked."""
        uids = [entry.uid for entry in self.entries if entry.deleted]
        if uids:
            await self.folder.move(uids, await _trash_of(user))
        return len(uids)

    async def close(self) -> None:
        await self.folder.close()


async def _trash_of(user: bk.UserSession) -> str:
    for folder in await user.list_folders():
        if TRASH_USE in folder.special_use:
            return folder.name
    return TRASH_NAME
