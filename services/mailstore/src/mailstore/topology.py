"""The AMQP names and declarations of docs/architecture.md, as the mail store sees them."""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue, FieldValue

# Quorum queues count deliveries; RabbitMQ 4 drops a message after 20 by default. Ours is
# explicit and high, because a database outage must never count against a message (we
# hold messages instead), and the consumer's REDELIVERY_LIMIT (consumer.py) acts first.
DELIVERY_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Topology:
    """The AMQP names of docs/architecture.md for one prefix."""

    prefix: str

    @property
    def mail_exchange(self) -> str:
        return f"{self.prefix}.mail"

    @property
    def incoming_queue(self) -> str:
        return f"{self.prefix}.mail.incoming"

    @property
    def dead_exchange(self) -> str:
        return f"{self.prefix}.dead"

    @property
    def dead_queue(self) -> str:
        return f"{self.prefix}.mail.dead"

    @property
    def events_exchange(self) -> str:
        return f"{self.prefix}.events"

    @property
    def directory_exchange(self) -> str:
        # Apart from the events: the gateways hear only that an address's answer may
        # have changed, never the stream of stored batches.
        return f"{self.prefix}.directory"

    def incoming_arguments(self) -> dict[str, FieldValue]:
        # These must equal the gateway's: declaring a queue again with other arguments
        # fails with PRECONDITION_FAILED.
        return {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": self.dead_exchange,
            "x-delivery-limit": DELIVERY_LIMIT,
        }


@dataclass(frozen=True, slots=True)
class Declared:
    incoming: AbstractQueue
    dead: AbstractExchange
    events: AbstractExchange
    directory: AbstractExchange


async def declare_topology(channel: AbstractChannel, topology: Topology) -> Declared:
    """Declare every exchange and queue (idempotent, so the gateway may have done it first)."""
    direct, fanout = aio_pika.ExchangeType.DIRECT, aio_pika.ExchangeType.FANOUT
    mail = await channel.declare_exchange(topology.mail_exchange, direct, durable=True)
    dead = await channel.declare_exchange(topology.dead_exchange, fanout, durable=True)
    events = await channel.declare_exchange(topology.events_exchange, fanout, durable=True)
    directory = await channel.declare_exchange(topology.directory_exchange, fanout, durable=True)
    incoming = await channel.declare_queue(
        topology.incoming_queue, durable=True, arguments=topology.incoming_arguments()
    )
    await incoming.bind(mail, routing_key="incoming")
    dead_queue = await channel.declare_queue(
        topology.dead_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead_queue.bind(dead, routing_key="")
    return Declared(incoming, dead, events, directory)
