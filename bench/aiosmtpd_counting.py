"""aiosmtpd with a counting handler, run the way its documentation shows.

``python bench/aiosmtpd_counting.py --host 127.0.0.1 --port 2526`` listens on a
plain asyncio loop (no uvloop), accepts every message, and on SIGTERM or
SIGINT prints how many it received. Used by ``bench/smtp_core.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiosmtpd.smtp import SMTP, Envelope, Session


class CountingHandler:
    def __init__(self) -> None:
        self.messages = 0
        self.octets = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages += 1
        self.octets += len(envelope.original_content or b"")
        return "250 OK"


async def serve(host: str, port: int) -> None:
    handler = CountingHandler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="bench", loop=loop), host, port, backlog=1024
    )
    print(f"listening on {host}:{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()
    print(f"received {handler.messages} messages, {handler.octets} octets", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2526)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
