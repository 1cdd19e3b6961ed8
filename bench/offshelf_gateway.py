"""The durable gateway a user could assemble from off-the-shelf parts.

aiosmtpd accepts the message; aio-pika publishes it persistently, with
publisher confirms, to a durable quorum queue (the same queue type as
Localpost's ``<prefix>.mail.incoming``); the 250 reply goes out only after the
broker's confirm (RFC 5321 §6.1: a 250 is a promise). One channel, plain
asyncio loop, as the two libraries' documentation shows them. Used by
``bench/ingest.py``::

    python bench/offshelf_gateway.py --port 2526 --amqp URL --queue NAME

On SIGTERM or SIGINT it prints how many messages it confirmed.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import aio_pika
from aio_pika.abc import AbstractChannel
from aiosmtpd.smtp import SMTP, Envelope, Session


class PublishingHandler:
    def __init__(self, channel: AbstractChannel, queue: str) -> None:
        self.channel = channel
        self.queue = queue
        self.messages = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = aio_pika.Message(
            envelope.original_content or b"",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            content_type="message/rfc822",
            headers={
                "x-mail-from": envelope.mail_from or "",
                "x-rcpt-to": list(envelope.rcpt_tos),
            },
        )
        try:
            # With publisher confirms on, publish() returns once the broker confirmed.
            await self.channel.default_exchange.publish(message, routing_key=self.queue)
        except (aio_pika.exceptions.AMQPException, TimeoutError):
            return "451 4.3.0 broker unavailable"
        self.messages += 1
        return "250 2.0.0 Ok: queued"


async def serve(host: str, port: int, amqp_url: str, queue: str) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
    handler = PublishingHandler(channel, queue)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="offshelf", loop=loop), host, port, backlog=1024
    )
    print(f"listening on {host}:{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()
    await connection.close()
    print(f"received {handler.messages} messages", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2526)
    parser.add_argument("--amqp", required=True, help="AMQP URL")
    parser.add_argument("--queue", required=True, help="durable quorum queue to publish to")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.amqp, args.queue))


if __name__ == "__main__":
    main()
