"""Connection set-up and the types every query module shares."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

Pool = Any  # asyncpg.Pool; asyncpg ships no type information
Connection = Any  # asyncpg.Connection
Record = Any  # asyncpg.Record


# Every statement of the mail store is short. PostgreSQL compiles a statement whose
# estimated cost passes jit_above_cost (100,000 by default) with LLVM, and the estimate
# counts every subplan on every row even where it never runs: SEARCH's texts, with
# their fallback to the message's for entries from before migration 0024, crossed it
# on a 2,000-message folder once autovacuum had analysed the table, and each search
# then spent 30-36 ms compiling to run in 1-3 (EXPLAIN: "JIT: Emission 30.9 ms").
SESSION_SETTINGS = {"jit": "off"}


async def init_connection(con: Connection) -> None:
    """Per-connection set-up: jsonb in and out as Python objects."""
    await con.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def keep_session(con: Connection) -> None:
    """The pool's reset of a connection it takes back: nothing to do.

    asyncpg's default sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
    ALL`` after every use, one more round trip per query outside a transaction (the
    IMAP gateway's commands are several each). The mail store leaves nothing of that
    behind: advisory locks are ``pg_advisory_xact_lock`` (released at COMMIT), there is
    no LISTEN, no session-level SET, and cursors live inside transactions. An
    unfinished transaction is still rolled back: asyncpg does that before calling this.
    """


UNSTORABLE = "may not hold NUL or unpaired surrogate characters"


def storable(text: str) -> bool:
    """Whether a ``text`` column or parameter can hold ``text``: PostgreSQL's text has no
    NUL ("invalid byte sequence 0x00"), and a lone surrogate has no UTF-8 form (asyncpg
    raises before sending)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def ping(pool: Pool) -> None:
    await pool.fetchval("SELECT 1")


# Errors that mean "the database is not there right now", not "this message is bad".
# OSError covers refused connections and TimeoutError; 53xxx (disk full, too many
# connections) and 57P0x (shutdown, starting up) end by themselves; 40xxx (serialization
# failure, deadlock) succeed when retried. asyncpg's InternalClientError is a connection
# whose protocol state broke, not a query's fault: a server that shuts down sends each
# idle connection a FATAL 57P01 before closing it, asyncpg takes that unsolicited error
# into its "consume until ReadyForQuery" state, and a query given that connection before
# the close arrives fails with "cannot switch to state 15; another operation (2) is in
# progress" (seen in the fault harness, which then lost a message to three such tries).
DATABASE_OUTAGE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.TransactionRollbackError,
    asyncpg.InternalClientError,
)


def is_outage(exc: BaseException) -> bool:
    """True when ``exc``, or an error it was raised while handling, is an outage.

    A connection that drops mid-transaction surfaces as asyncpg's InterfaceError
    ("the underlying connection is closed") from ``Transaction.__aexit__``, with
    the real ConnectionDoesNotExistError only in the chain. Treating that as the
    message's fault would spend its attempts, and three restarts in a row would
    dead-letter an acknowledged message.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DATABASE_OUTAGE):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
