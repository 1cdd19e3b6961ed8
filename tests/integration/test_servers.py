"""The integration fixtures reach real PostgreSQL and RabbitMQ servers."""

from __future__ import annotations

import aio_pika
import asyncpg


async def test_postgres_answers_on_database_url(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        assert await connection.fetchval("SELECT $1::int + 1", 41) == 42
    finally:
        await connection.close()


async def test_rabbitmq_round_trips_a_message_on_amqp_url(amqp_url: str, unique_name: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(unique_name, exclusive=True)
        await channel.default_exchange.publish(aio_pika.Message(b"ping"), routing_key=unique_name)

        message = await queue.get(timeout=5)
        async with message.process():
            assert message.body == b"ping"
        await queue.delete()
