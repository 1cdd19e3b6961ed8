from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import aiohttp

from mailstore.settings import Config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_process_becomes_ready_and_stops_cleanly_on_sigterm(
    config: Config, broker: object
) -> None:
    port = free_port()
    environ = {
        **os.environ,
        "LOCALPOST_DEV": "1",
        "DATABASE_URL": config.database_url,
        "AMQP_URL": config.amqp_url,
        "LOCALPOST_QUEUE_PREFIX": config.queue_prefix,
        "MAILSTORE_PORT": str(port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mailstore",
        env=environ,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(20):
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 0, stderr.decode()
    assert b"consuming" in stderr
