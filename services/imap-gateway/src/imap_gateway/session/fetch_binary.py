"""The BINARY FETCH items (RFC 3516 §4.2, RFC 9051 §6.4.5): BINARY[part]<partial>,
BINARY.PEEK[part]<partial> and BINARY.SIZE[part].

A part's octets are read from the backend as BODY[part] is, decoded as they
arrive (:mod:`imap_gateway.binary`) into one buffer, whose size the literal
announces; data holding NUL goes as literal8 (``~{n}``). BINARY[] is the whole
message as stored. An encoding we cannot undo is ``NO [UNKNOWN-CTE]`` (RFC 3516 §4.3).
"""

from __future__ import annotations

from imap_gateway import backend as bk
from imap_gateway import binary
from imap_gateway.session.errors import no
from imap_gateway.wire import codes
from imap_gateway.wire.fetch import MIME, BinarySection, Section

__all__ = ["binary_label", "binary_octets"]


def binary_label(item: BinarySection) -> bytes:
    spec = ".".join(str(n) for n in item.part).encode("ascii")
    if item.size_only:
        return b"BINARY.SIZE[" + spec + b"]"
    label = b"BINARY[" + spec + b"]"
    return label + (b"<%d>" % item.partial[0] if item.partial is not None else b"")


async def binary_octets(message: bk.FetchedMessage, item: BinarySection) -> bytes:
    """The decoded octets ``item`` names (all of them for BINARY.SIZE)."""
    if not item.part:
        data = await _read(await message.section(Section(), None))
    else:
        header = await _read(await message.section(Section(item.part, MIME), None))
        encoding = binary.transfer_encoding(header)
        try:
            decoder = binary.decoder(encoding)
        except binary.UnknownTransferEncoding:
            raise no(f"Cannot decode {encoding[:40]!r}", codes.UNKNOWN_CTE) from None
        body = await message.section(Section(item.part), None)
        data = await _read(body, decoder)
    if item.partial is not None and not item.size_only:
        start, count = item.partial
        return data[start : start + count]
    return data


async def _read(body: bk.BodyData, decoder: binary.Decoder | None = None) -> bytes:
    out = bytearray()
    async for chunk in body.chunks:
        out += decoder.feed(chunk) if decoder is not None else chunk
    if decoder is not None:
        out += decoder.finish()
    return bytes(out)
