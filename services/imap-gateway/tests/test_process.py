"""``python -m imap_gateway`` as a process: it starts, serves, and stops on SIGTERM.

The served process uses the in-memory backend through IMAP_TEST_MEMORY_USER (refused
unless LOCALPOST_DEV=1); the mail store backend is tested against the real mail store
in tests/integration/test_imap_mailstore.py, and here only for what it says without one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

TIMEOUT = 15.0  # a bound on waiting, never a timing assertion
USER, PASSWORD = "alice@localpost.test", "process-test-password"


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAP", "LOCALPOST_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


async def wait_ready(http_port: int, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session, asyncio.timeout(TIMEOUT):
        while process.returncode is None:
            try:
                async with session.get(f"http://127.0.0.1:{http_port}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"imap_gateway exited with {process.returncode} before it was ready")


async def run_to_end(env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "imap_gateway", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(TIMEOUT):
        output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_without_a_mail_store_it_runs_unready_and_says_why() -> None:
    imap_port, imaps_port, pop3_port, pop3s_port, http_port, nobody = free_ports(6)
    env = environment(
        MAILSTORE_TOKEN="t" * 32,
        MAILSTORE_URL=f"http://127.0.0.1:{nobody}",
        AMQP_URL=f"amqp://guest:guest@127.0.0.1:{nobody}/",
        IMAP_PORT=str(imap_port),
        IMAPS_PORT=str(imaps_port),
        POP3_PORT=str(pop3_port),
        POP3S_PORT=str(pop3s_port),
        IMAP_HTTP_PORT=str(http_port),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "imap_gateway", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(TIMEOUT):
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{http_port}/readyz") as response:
                        status, body = response.status, await response.text()
                        break
                except aiohttp.ClientConnectionError:
                    assert process.returncode is None, "imap_gateway exited"
                    await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(TIMEOUT):
            returncode = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert status == 503
    assert "mail store unreachable" in body
    assert returncode == 0


async def test_the_memory_backend_is_refused_outside_dev() -> None:
    env = environment(MAILSTORE_TOKEN="t" * 32, IMAP_TEST_MEMORY_USER=f"{USER}:{PASSWORD}")

    returncode, output = await run_to_end(env)

    assert returncode == 1
    assert "IMAP_TEST_MEMORY_USER" in output
    assert PASSWORD not in output


async def test_serves_imap_and_sigterm_says_bye_and_exits_0(tmp_path: Path) -> None:
    imap_port, imaps_port, pop3_port, pop3s_port, http_port = free_ports(5)
    env = environment(
        LOCALPOST_DEV="1",
        IMAP_TEST_MEMORY_USER=f"{USER}:{PASSWORD}",
        IMAP_PORT=str(imap_port),
        IMAPS_PORT=str(imaps_port),
        POP3_PORT=str(pop3_port),
        POP3S_PORT=str(pop3s_port),
        IMAP_HTTP_PORT=str(http_port),
    )
    log = tmp_path / "imap.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "imap_gateway", env=env, stdout=output, stderr=output
        )
    writer = None
    try:
        await wait_ready(http_port, process)
        reader, writer = await asyncio.open_connection("127.0.0.1", imap_port)
        async with asyncio.timeout(TIMEOUT):
            assert (await reader.readline()).startswith(b"* OK [CAPABILITY ")
            writer.write(f'a1 LOGIN {USER} "{PASSWORD}"\r\na2 SELECT INBOX\r\n'.encode())
            while not (line := await reader.readline()).startswith(b"a2 "):
                assert line, "closed before SELECT was answered"
            assert line.startswith(b"a2 OK")
            writer.write(b"a3 IDLE\r\n")
            assert await reader.readline() == b"+ idling\r\n"

            process.send_signal(signal.SIGTERM)
            bye = await reader.readline()
            rest = await reader.read()
            returncode = await process.wait()
    finally:
        if writer is not None:
            writer.close()
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert bye == b"* BYE Server shutting down\r\n", log.read_text()
    assert rest == b""
    assert returncode == 0, log.read_text()
    assert "stopping IMAP listeners" in log.read_text()
