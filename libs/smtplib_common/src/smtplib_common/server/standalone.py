"""A standalone server for trying the library and for benchmarks.

``python -m smtplib_common.server --host 127.0.0.1 --port 2525 [--maildir DIR]``
accepts every message for every recipient (never expose it beyond a test
network) and either counts the messages or writes each one to a Maildir.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import mailbox
import signal
import socket
from collections.abc import Sequence

from smtplib_common.eventloop import new_event_loop
from smtplib_common.server.config import MiB, ServerConfig
from smtplib_common.server.listener import SMTPServer
from smtplib_common.server.session import Envelope, Session

log = logging.getLogger(__name__)


class CountingHandler:
    """Accepts everything and counts messages and octets."""

    def __init__(self) -> None:
        self.messages = 0
        self.octets = 0

    async def handle_message(self, session: Session, envelope: Envelope, message: bytes) -> None:
        self.messages += 1
        self.octets += len(message)


class MaildirHandler(CountingHandler):
    """Accepts everything and writes each message to a Maildir (one file each)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._maildir = mailbox.Maildir(path, create=True)

    async def handle_message(self, session: Session, envelope: Envelope, message: bytes) -> None:
        # Writing a file blocks; keep the event loop free for other sessions.
        await asyncio.to_thread(self._maildir.add, message)
        await super().handle_message(session, envelope, message)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m smtplib_common.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--maildir", help="write each message to this Maildir")
    parser.add_argument("--hostname", default=socket.getfqdn(), help="name in greeting/Received")
    parser.add_argument("--max-size-mib", type=int, default=25)
    defaults = ServerConfig(hostname="-")
    parser.add_argument(
        "--max-connections-per-peer",
        type=int,
        default=defaults.max_connections_per_peer,
        help="connections open at once per source address (a load generator on one "
        "address needs more than the default)",
    )
    parser.add_argument(
        "--max-connection-rate-per-peer",
        type=int,
        default=defaults.max_connection_rate_per_peer,
        help="new connections per minute per source address",
    )
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's default loop")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> CountingHandler:
    handler = MaildirHandler(args.maildir) if args.maildir else CountingHandler()
    config = ServerConfig(
        hostname=args.hostname,
        max_message_size=args.max_size_mib * MiB,
        max_connections_per_peer=args.max_connections_per_peer,
        max_connection_rate_per_peer=args.max_connection_rate_per_peer,
    )
    server = SMTPServer(handler, config)
    await server.start(args.host, args.port)
    print(f"listening on {args.host}:{server.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    print(f"received {handler.messages} messages, {handler.octets} octets", flush=True)
    return handler


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    with asyncio.Runner(
        loop_factory=lambda: new_event_loop(prefer_uvloop=not args.no_uvloop)
    ) as runner:
        runner.run(serve(args))
