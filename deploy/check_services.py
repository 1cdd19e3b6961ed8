"""Check that PostgreSQL and RabbitMQ answer, before anything needs them.

`make test` (and `make up`) run this first, so that a stopped server shows as one
clear message instead of a screenful of connection errors::

    .venv/bin/python -m deploy.check_services

It exits 0 when both answer and 1 otherwise, naming the URL and how to start the
server. The URLs come from DATABASE_URL and AMQP_URL, defaulting to:

``postgresql://postgres@127.0.0.1:5432/postgres``
    The ``postgres`` role and database exist in every cluster, and a development
    PostgreSQL with ``trust`` authentication on 127.0.0.1 (as on Localpost's CI
    machines) lets it in without a password, whatever the OS user is.
``amqp://guest:guest@127.0.0.1:5672/``
    RabbitMQ's default account, which it accepts from loopback only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aio_pika.exceptions
import asyncpg

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
TIMEOUT = 3.0

START_POSTGRES = (
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "docker run -d --rm -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16-alpine",
)
START_RABBITMQ = (
    "rabbitmq-server -detached",
    "docker run -d --rm -p 5672:5672 rabbitmq:3.13-management-alpine",
)


@dataclass(frozen=True, slots=True)
class Outcome:
    server: str
    url: str
    # None when the server answered; otherwise what went wrong.
    error: str | None = None
    # The server answered but refused us (credentials, database name), so starting
    # it again would not help.
    refused: bool = False


def redact(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``: URLs get printed."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


async def check_postgres(url: str) -> Outcome:
    try:
        async with asyncio.timeout(TIMEOUT):
            connection = await asyncpg.connect(url)
            try:
                await connection.fetchval("SELECT 1")
            finally:
                await connection.close()
    except asyncpg.PostgresError as exc:
        return Outcome("PostgreSQL", url, f"{type(exc).__name__}: {exc}", refused=True)
    except (OSError, TimeoutError, asyncpg.InterfaceError, ValueError) as exc:
        return Outcome("PostgreSQL", url, _describe(exc))
    return Outcome("PostgreSQL", url)


async def check_rabbitmq(url: str) -> Outcome:
    try:
        async with asyncio.timeout(TIMEOUT):
            connection = await aio_pika.connect(url)
            await connection.close()
    except aio_pika.exceptions.ProbableAuthenticationError as exc:
        return Outcome("RabbitMQ", url, _describe(exc), refused=True)
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError, ValueError) as exc:
        return Outcome("RabbitMQ", url, _describe(exc))
    return Outcome("RabbitMQ", url)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {TIMEOUT:g} s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def report(outcome: Outcome, *, variable: str, start: tuple[str, ...]) -> str:
    where = redact(outcome.url)
    if outcome.error is None:
        return f"ok: {outcome.server} answers at {where}"
    lines = [f"FAIL: {outcome.server} at {where} ({variable}): {outcome.error}"]
    if outcome.refused:
        lines.append(f"  It answered but refused us: fix the user, password or name in {variable}.")
    else:
        lines.append("  Start it with:")
        lines.extend(f"    {command}" for command in start)
        lines.append(f"  or point {variable} at a server that runs.")
    return "\n".join(lines)


async def main() -> int:
    # aiormq logs each failed connection attempt itself; the report below says it once.
    logging.getLogger("aiormq").setLevel(logging.CRITICAL)
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    amqp_url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
    postgres, rabbitmq = await asyncio.gather(
        check_postgres(database_url), check_rabbitmq(amqp_url)
    )
    print(report(postgres, variable="DATABASE_URL", start=START_POSTGRES))
    print(report(rabbitmq, variable="AMQP_URL", start=START_RABBITMQ))
    return 0 if postgres.error is None and rabbitmq.error is None else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
