"""The AMQP topology of docs/architecture.md: names and declaration arguments.

The gateway and the mail store both declare it, so either may start first. RabbitMQ
refuses a re-declaration whose arguments differ (406 PRECONDITION_FAILED closes the
channel), so the mail store must declare with exactly :func:`incoming_queue_arguments`
and :func:`dead_queue_arguments`; keep the two copies identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange
from aiormq.abc import FieldTable

INCOMING_ROUTING_KEY = "incoming"

# Quorum queues count deliveries per message; RabbitMQ 4 drops a message after 20 by
# default unless it has a dead-letter exchange. Ours is explicit and high (the same value
# as services/mailstore's topology.py): a database outage must not count against a
# message (the consumer holds messages instead), and the consumer's own redelivery
# limit dead-letters a failing message first. Past it the broker dead-letters, never drops.
DELIVERY_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Names:
    """Every exchange and queue name, all starting with LOCALPOST_QUEUE_PREFIX."""

    mail_exchange: str
    incoming_queue: str
    dead_exchange: str
    dead_queue: str
    events_exchange: str
    # The mail store's ``directory`` events (directory_events.py).
    directory_exchange: str

    @classmethod
    def for_prefix(cls, prefix: str) -> Names:
        return cls(
            mail_exchange=f"{prefix}.mail",
            incoming_queue=f"{prefix}.mail.incoming",
            dead_exchange=f"{prefix}.dead",
            dead_queue=f"{prefix}.mail.dead",
            events_exchange=f"{prefix}.events",
            directory_exchange=f"{prefix}.directory",
        )


def incoming_queue_arguments(prefix: str) -> FieldTable:
    """Arguments of ``<prefix>.mail.incoming``; the mail store must use the same."""
    return {
        # Replicated and fsynced before the confirm: what makes our 250 safe.
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": Names.for_prefix(prefix).dead_exchange,
        "x-delivery-limit": DELIVERY_LIMIT,
    }


def dead_queue_arguments() -> FieldTable:
    """Arguments of ``<prefix>.mail.dead``; the mail store must use the same."""
    return {"x-queue-type": "quorum"}


async def declare(channel: AbstractChannel, prefix: str) -> AbstractExchange:
    """Declare the whole topology (idempotent) and return the mail exchange."""
    names = Names.for_prefix(prefix)
    mail = await channel.declare_exchange(
        names.mail_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    dead = await channel.declare_exchange(
        names.dead_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    await channel.declare_exchange(
        names.events_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    incoming = await channel.declare_queue(
        names.incoming_queue, durable=True, arguments=incoming_queue_arguments(prefix)
    )
    await incoming.bind(mail, routing_key=INCOMING_ROUTING_KEY)
    dead_queue = await channel.declare_queue(
        names.dead_queue, durable=True, arguments=dead_queue_arguments()
    )
    await dead_queue.bind(dead, routing_key="")
    return mail
