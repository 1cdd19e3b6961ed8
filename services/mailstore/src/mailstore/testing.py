"""Helpers for the tests of the mail store and of services built on it.

The web service's tests run a real mail store in-process; both test suites need
the same "create a database of their own, migrate it, drop it afterwards", and both
fuzz their API against its OpenAPI document (``fuzz_openapi``; schemathesis comes with
the ``test`` extras only, so it is imported there).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from mailstore import db, passwords
from mailstore.migrations import apply_migrations


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@contextlib.contextmanager
def scratch_database(server_url: str, *, prefix: str) -> Iterator[str]:
    """A migrated database of its own on ``server_url``'s server, dropped on exit.

    Synchronous (it runs its own event loop), so that session-scoped pytest
    fixtures can use it whatever loop the tests run on.
    """
    name = f"{prefix}_{secrets.token_hex(6)}"
    url = with_database(server_url, name)
    asyncio.run(_create_and_migrate(server_url, url, name))
    try:
        yield url
    finally:
        asyncio.run(_drop(server_url, name))


async def _create_and_migrate(server_url: str, url: str, name: str) -> None:
    con = await asyncpg.connect(server_url)
    try:
        await db.create_database(con, name=name)
    finally:
        await con.close()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2, init=db.init_connection)
    try:
        await apply_migrations(pool)
    finally:
        await pool.close()


async def _drop(server_url: str, name: str) -> None:
    con = await asyncpg.connect(server_url)
    try:
        await db.drop_database(con, name=name)
    finally:
        await con.close()


def check_password_after(before: Callable[[str], object]) -> Callable[[str, str], bool]:
    """``passwords.check_password`` that calls ``before(password_hash)`` first, for tests
    that count the bcrypt checks or hold them back: monkeypatch it in for the real one."""
    real = passwords.check_password

    def check(password: str, password_hash: str) -> bool:
        before(password_hash)
        return real(password, password_hash)

    return check


def fuzz_openapi(
    document: dict[str, Any],
    *,
    base_url: str,
    headers: dict[str, str],
    examples: int,
    last: tuple[str, ...] = (),
) -> tuple[list[str], dict[str, set[int]]]:
    """Schemathesis over every operation of ``document`` against a running server:
    (the failures, the statuses each operation answered).

    Checks: no 5xx, only documented statuses and content types, bodies in the documented
    shape. Hypothesis is derandomised, so a run is the same every time, and bounded to
    ``examples`` cases per operation. Operations whose label starts with one of ``last``
    run last (those that can revoke the caller's own credential). Blocking: run it in a
    thread while the server's event loop serves.
    """
    # Imported here: they are test extras (see the module's docstring).
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.result import Err
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_dict(document)
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # the document itself is wrong: that fails the test
            raise result.err()
        operations.append(result.ok())
    operations.sort(key=lambda operation: operation.label.startswith(last) if last else False)
    failures: list[str] = []
    statuses: dict[str, set[int]] = {operation.label: set() for operation in operations}
    for operation in operations:

        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call_and_validate(base_url=base_url, headers=headers, checks=checks)
            statuses[case.operation.label].add(response.status_code)

        try:
            run()
        except BaseExceptionGroup as exc:  # schemathesis' FailureGroup
            failures.append(f"{operation.label}: {exc}")
    return failures, statuses
