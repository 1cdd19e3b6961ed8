"""The mailstore service's application factory and process entry point."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from urllib.parse import unquote, urlsplit

import asyncpg
from aiohttp import web

from mailstore import admin, db
from mailstore.consumer import Consumer
from mailstore.events import EventPublisher
from mailstore.keys import CONFIG, CONSUMER, EVENTS, HASHER, MAINTENANCE, METRICS, POOL
from mailstore.limiter import CpuLimiter
from mailstore.maintenance import maintain
from mailstore.metrics import create_metrics
from mailstore.middlewares import (
    AccessLogger,
    directory_middleware,
    error_middleware,
    text_middleware,
    token_middleware,
)
from mailstore.migrations import apply_migrations
from mailstore.passwords import PasswordHasher
from mailstore.routes import setup_routes
from mailstore.settings import Config, ConfigError, load_config

log = logging.getLogger(__name__)

# How long start-up waits for PostgreSQL to accept connections before giving up.
DATABASE_STARTUP_TIMEOUT = 60.0
# Bounds the wait for in-flight messages on SIGTERM; web.run_app's own shutdown_timeout
# (60 s by default) is longer, so this is the one that applies.
CONSUMER_STOP_TIMEOUT = 10.0


def create_app(
    config: Config, *, consume: bool = True, maintenance: bool = True
) -> web.Application:
    """Wire the mail store; no I/O happens until the app starts.

    ``consume=False`` serves the HTTP API without a broker consumer, ``maintenance=False``
    without the periodic Trash purge (API tests, which must not race it).
    """
    app = web.Application(
        middlewares=[error_middleware, token_middleware, text_middleware, directory_middleware]
    )
    app[CONFIG] = config
    app[METRICS] = create_metrics()
    # Attached to the broker by the consumer; without one, events go nowhere.
    app[EVENTS] = EventPublisher()
    app.cleanup_ctx.append(hasher_ctx)
    app.cleanup_ctx.append(pool_ctx)
    if consume:
        app.cleanup_ctx.append(consumer_ctx)
    if maintenance:
        app.cleanup_ctx.append(maintenance_ctx)
    setup_routes(app)
    return app


async def hasher_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    limiter = CpuLimiter(
        workers=config.password_workers,
        max_waiting=config.password_queue,
        metrics=app[METRICS],
    )
    # Building the hasher computes its dummy hash: a full bcrypt, so off the event loop.
    app[HASHER] = await asyncio.to_thread(
        PasswordHasher, limiter=limiter, rounds=config.bcrypt_rounds
    )
    yield
    limiter.close()


async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    await ensure_database(config.database_url)
    pool = await asyncpg.create_pool(
        config.database_url,
        min_size=1,
        max_size=10,
        init=db.init_connection,
        reset=db.keep_session,
        # Connect timeout: a database that hangs must look like one that is down.
        timeout=10,
        server_settings=db.SESSION_SETTINGS,
    )
    try:
        applied = await apply_migrations(pool)
        log.info("schema up to date (applied now: %s)", applied or "none")
        if config.admins:
            await admin.grant_configured(pool, config.admins)
        app[POOL] = pool
        yield
    finally:
        await pool.close()


async def consumer_ctx(app: web.Application) -> AsyncIterator[None]:
    consumer = Consumer(app[CONFIG], pool=app[POOL], metrics=app[METRICS], events=app[EVENTS])
    app[CONSUMER] = consumer
    consumer.start()
    yield
    # cleanup_ctx unwinds in reverse, so this runs before the pool closes: messages in
    # flight can still commit.
    await consumer.stop(grace=CONSUMER_STOP_TIMEOUT)


async def maintenance_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    task = asyncio.create_task(
        maintain(
            app[POOL],
            trash_days=config.trash_days,
            vanished_days=config.vanished_days,
            interval=config.maintenance_interval,
            events=app[EVENTS],
        ),
        name="mailstore-maintenance",
    )
    app[MAINTENANCE] = task
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def ensure_database(url: str) -> None:
    """Create the database named in ``url`` when it does not exist yet.

    ``make up`` points DATABASE_URL at a local server where nobody created the database;
    the server's ``postgres`` maintenance database is used to create it. Waits for the
    server to accept connections first (bounded).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DATABASE_STARTUP_TIMEOUT
    delay = 0.1
    while True:
        try:
            con = await asyncpg.connect(url, timeout=10)
            await con.close()
            return
        except asyncpg.InvalidCatalogNameError:
            name = unquote(urlsplit(url).path.lstrip("/"))
            if not name:  # libpq's default (the user name); we do not guess it
                raise
            break
        except (OSError, asyncpg.CannotConnectNowError) as exc:
            if loop.time() > deadline:
                raise
            log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    con = await asyncpg.connect(url, database="postgres", timeout=10)
    try:
        await db.create_database(con, name=name)
        log.warning("database %r did not exist: created it", name)
    except asyncpg.DuplicateDatabaseError:
        pass  # another replica created it first
    finally:
        await con.close()


def run() -> None:
    """Read the configuration from the environment and serve until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        raise SystemExit(f"mailstore: configuration error: {exc}") from None
    if config.dev:
        log.warning("LOCALPOST_DEV=1: development secrets are allowed")
    log.info("HTTP on %s:%d", config.host, config.port)
    app = create_app(config)
    app.on_startup.append(_freeze_startup_objects)
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        print=None,
        access_log_class=AccessLogger,
        loop=_new_event_loop(),
    )


def _new_event_loop() -> asyncio.AbstractEventLoop:
    # uvloop, a dependency, cuts the loop's share of the consumer's CPU time
    # (docs/performance.md); asyncio's loop where it is not available.
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _freeze_startup_objects(app: web.Application) -> None:
    # As smtplib_common.eventloop.freeze_startup_objects, which the mail store does not
    # import (it does not depend on the SMTP library).
    gc.collect()
    gc.freeze()
