"""``python -m smtp_gateway`` as a process: SIGTERM mid-stream loses nothing.

RFC 5321 §6.1: every 250 is a promise. A graceful stop lets transactions in flight
finish (their 250 follows the broker's confirm), answers the rest 421 (§3.8), and
the process exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

if TYPE_CHECKING:
    from conftest import Broker, LineClient

    Connect = Callable[[int], Awaitable[LineClient]]

BOB = "bob@localpost.test"
SENDERS = 4
# SIGTERM comes once this many messages were accepted, while more are in flight.
ACCEPTED_BEFORE_SIGTERM = 40


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


async def wait_ready(http_port: int, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session, asyncio.timeout(15):
        while process.returncode is None:
            try:
                async with session.get(f"http://127.0.0.1:{http_port}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"gateway exited with {process.returncode} before it was ready")


async def stream(port: int, connect: Connect, accepted: list[str], enough: asyncio.Event) -> None:
    """Send messages, one session after another, until the gateway refuses to connect."""
    while True:
        try:
            client = await connect(port)
        except ConnectionError:  # refused: the listener is closed
            return
        try:
            await client.ehlo()
            while True:
                answers = await client.transaction("sender@example.org", [BOB], b"Hi!\r\n")
                if answers[-1].code != 250:
                    break  # 421 while shutting down
                accepted.append(client.queued_id(answers[-1]))
                if len(accepted) >= ACCEPTED_BEFORE_SIGTERM:
                    enough.set()
        except ConnectionError:
            pass  # closed after the last reply, or cut after the grace period
        finally:
            await client.close()


async def test_sigterm_mid_stream_exits_0_and_every_250_is_queued(
    gateway_env: dict[str, str], broker: Broker, connect: Connect, tmp_path: Path
) -> None:
    smtp_port, submission_port, http_port = free_ports(3)
    env = {
        **os.environ,
        **gateway_env,
        "SMTP_PORT": str(smtp_port),
        "SUBMISSION_PORT": str(submission_port),
        "GATEWAY_HTTP_PORT": str(http_port),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "gateway.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "smtp_gateway", env=env, stdout=output, stderr=output
        )
    try:
        await wait_ready(http_port, process)
        accepted: list[str] = []
        enough = asyncio.Event()
        senders = [
            asyncio.create_task(stream(smtp_port, connect, accepted, enough))
            for _ in range(SENDERS)
        ]
        async with asyncio.timeout(15):
            await enough.wait()

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            returncode = await process.wait()
            await asyncio.gather(*senders)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert returncode == 0, log.read_text()
    queued = [message.message_id for message in await broker.drain_mail()]
    assert len(queued) == len(set(queued)), "a message was queued twice"
    lost = set(accepted) - set(queued)
    assert not lost, f"{len(lost)} of {len(accepted)} accepted messages are not on the queue"
    assert "stopping SMTP listeners" in log.read_text()
