"""Real-world HTML mail (the shared corpus, taken from the test suites of mail parsers):
every message with an HTML part renders, and nothing executable survives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]

# The shared corpus sits beside the repository: <root>/../shared/corpus.
CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "emails"


def _html_messages() -> dict[str, list[Path]]:
    """Per source directory, the messages that carry an HTML part (a cheap byte test;
    the mail store's parser decides which it finds)."""
    if not CORPUS.is_dir():
        return {}
    sources: dict[str, list[Path]] = {}
    for path in sorted(CORPUS.glob("*/*.eml")):
        if b"text/html" in path.read_bytes().lower():
            sources.setdefault(path.parent.name, []).append(path)
    return sources


SOURCES = _html_messages()


@pytest.mark.skipif(not SOURCES, reason=f"no email corpus at {CORPUS.resolve()}")
@pytest.mark.parametrize("source", sorted(SOURCES) or ["none"])
async def test_corpus_html_mail_renders_without_script(
    client: Client, h: Any, deliver: Any, source: str
) -> None:
    # One mailbox per source: the lists then show real mail side by side as well.
    address = await h.register(client)
    for path in SOURCES[source]:
        await deliver(path.read_bytes(), rcpt_to=[address])
    await h.login(client, address)

    entries = await _all_ids(client)
    assert len(entries) == len(SOURCES[source])
    problems: list[str] = []
    frames = 0
    for entry in entries:
        detail = await (await client.get(f"/api/v1/messages/{entry}")).json()
        # Message ids follow delivery order, and so do the corpus files.
        name = SOURCES[source][sorted(entries).index(entry)].name
        problems += await _problems(client, h, f"/messages/{entry}", name)
        if detail["html"] is not None:
            frames += 1
            problems += await _problems(client, h, f"/messages/{entry}/body", name)
            if detail["html"] and h.markup_problems(detail["html"]):
                problems.append(f"{name}: API html: {h.markup_problems(detail['html'])}")
    for path in ("/mail/inbox", f"/search?q=from:{address}", "/search?q=the"):
        problems += await _problems(client, h, path, source)
    assert not problems, "\n".join(problems)
    assert frames, f"{source}: no HTML body found at all"


async def _all_ids(client: Client) -> list[int]:
    ids: list[int] = []
    cursor = ""
    while True:
        response = await client.get(f"/api/v1/messages?folder=inbox&limit=200{cursor}")
        listing = await response.json()
        ids += [m["id"] for m in listing["messages"]]
        if not listing["next_cursor"]:
            return ids
        cursor = f"&cursor={listing['next_cursor']}"


async def _problems(client: Client, h: Any, path: str, name: str) -> list[str]:
    response = await client.get(path)
    text = await response.text()
    if response.status != 200:
        return [f"{name}: {path} answered {response.status}"]
    found = h.markup_problems(text, nonce=h.csp_nonce(response.headers["Content-Security-Policy"]))
    return [f"{name}: {path}: {problem}" for problem in found]
