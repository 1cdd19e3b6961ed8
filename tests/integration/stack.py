"""The Localpost stack for integration tests: real processes, real sockets.

By default the three services are started as local processes, each with the
command and environment docker-compose.yml gives its container (host names
mapped to 127.0.0.1), against this machine's PostgreSQL and RabbitMQ, with a
fresh database and a fresh queue prefix per run, and free ports.

When ``LOCALPOST_WEB_URL`` is set, the tests use an already running stack
instead (``docker compose up``), found through these variables:

| variable | example |
|---|---|
| ``LOCALPOST_WEB_URL`` | ``http://127.0.0.1:8080`` |
| ``LOCALPOST_MAILSTORE_URL`` | ``http://127.0.0.1:8081`` (must be reachable from the tests) |
| ``LOCALPOST_GATEWAY_URL`` | ``http://127.0.0.1:8025`` (health/metrics) |
| ``LOCALPOST_SMTP`` / ``LOCALPOST_SUBMISSION`` | ``127.0.0.1:2525`` / ``127.0.0.1:2587`` |
| ``MAILSTORE_TOKEN``, ``WEB_SUBMISSION_SECRET`` | the stack's secrets (dev defaults otherwise) |
| ``LOCALPOST_DOMAIN`` | the stack's first local domain |

Fault tests need processes they can kill and are skipped in that mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiohttp
import asyncpg

from deploy.compose_env import SERVICES, load_compose, local_environment
from smtp_gateway.settings import DEV_MAILSTORE_TOKEN, DEV_WEB_SUBMISSION_SECRET
from tests.integration.ports import free_port

READY_TIMEOUT = 40.0
STOP_TIMEOUT = 15.0
# The services start in this order; each waits for its own dependencies anyway.
START_ORDER = ("mailstore", "smtp-gateway", "web")


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead of its own."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def inherited() -> dict[str, str]:
    """PYTHONPATH, when set: a git worktree's tests run its own sources in the services,
    not those the virtualenv's editable installs point at."""
    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


@dataclass
class Endpoints:
    """Where the stack's services answer."""

    domain: str
    smtp: tuple[str, int]
    submission: tuple[str, int]
    gateway_url: str
    mailstore_url: str
    web_url: str
    mailstore_token: str
    web_submission_secret: str
    queue_prefix: str = ""
    # The IMAP gateway, when the stack runs it (LocalStack(imap=True)).
    imap: tuple[str, int] | None = None
    imap_url: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Endpoints:
        def hostport(name: str) -> tuple[str, int]:
            host, _, port = environ[name].rpartition(":")
            return host, int(port)

        return cls(
            domain=environ.get("LOCALPOST_DOMAIN", "localpost.test").split(",")[0].strip(),
            smtp=hostport("LOCALPOST_SMTP"),
            submission=hostport("LOCALPOST_SUBMISSION"),
            gateway_url=environ["LOCALPOST_GATEWAY_URL"],
            mailstore_url=environ["LOCALPOST_MAILSTORE_URL"],
            web_url=environ["LOCALPOST_WEB_URL"],
            mailstore_token=environ.get("MAILSTORE_TOKEN", DEV_MAILSTORE_TOKEN),
            web_submission_secret=environ.get("WEB_SUBMISSION_SECRET", DEV_WEB_SUBMISSION_SECRET),
        )


@dataclass
class ServiceProcess:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    _log: Any = None

    async def start(self) -> None:
        self._log = self.log_path.open("ab")
        self._log.write(f"--- start {time.strftime('%X')} ---\n".encode())
        self._log.flush()
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, stdout=self._log, stderr=asyncio.subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was not started"
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def signal(self, sig: int) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(sig)

    async def wait(self, timeout: float = STOP_TIMEOUT) -> int | None:
        if self.process is None:
            return None
        try:
            async with asyncio.timeout(timeout):
                return await self.process.wait()
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()
        finally:
            if self._log is not None and self.process.returncode is not None:
                self._log.close()
                self._log = None

    async def kill9(self) -> None:
        await self.signal(signal.SIGKILL)
        await self.wait()

    async def stop(self) -> int | None:
        await self.signal(signal.SIGTERM)
        return await self.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class LocalStack:
    """The three services as processes on this machine."""

    admin_database_url: str
    amqp_url: str
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="localpost-it-")))
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    endpoints: Endpoints | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    # Variables for one service only, e.g. the fault harness's test-only hooks.
    service_overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    # Also run the IMAP gateway (``python -m imap_gateway``), against this mail store
    # and broker; it is not in docker-compose.yml yet, so its environment is built here.
    imap: bool = False
    # Second processes of a service (add_replica), by name: their /readyz URL.
    replicas: dict[str, str] = field(default_factory=dict)

    @property
    def order(self) -> tuple[str, ...]:
        base = (*START_ORDER, "imap-gateway") if self.imap else START_ORDER
        return (*base, *self.replicas)

    @property
    def database_name(self) -> str:
        return f"lp_it_{self.run_id}"

    @property
    def database_url(self) -> str:
        return with_database(self.admin_database_url, self.database_name)

    def build(self) -> None:
        """Prepare every service's argv and environment from docker-compose.yml."""
        compose = load_compose()
        ports = {
            "SMTP_PORT": free_port(),
            "SUBMISSION_PORT": free_port(),
            # Opened only with TLS files (a test's overrides), but never on a shared port.
            "SUBMISSIONS_PORT": free_port(),
            "GATEWAY_HTTP_PORT": free_port(),
            "MAILSTORE_PORT": free_port(),
            "WEB_PORT": free_port(),
        }
        common = {
            **{k: str(v) for k, v in ports.items()},
            "MAILSTORE_URL": f"http://127.0.0.1:{ports['MAILSTORE_PORT']}",
            # The web service reads the broker too (live updates from <prefix>.events).
            "AMQP_URL": self.amqp_url,
            "LOCALPOST_QUEUE_PREFIX": f"lp-it-{self.run_id}",
            "PYTHONUNBUFFERED": "1",
            **inherited(),
            **self.overrides,
        }
        for service, module in SERVICES.items():
            env = local_environment(
                compose, service, database_url=self.database_url, amqp_url=self.amqp_url
            )
            # Ports and names for this run go to every service: compose may
            # leave a service on its default port, which another run could hold.
            env.update(common)
            env["PATH"] = os.environ.get("PATH", "")
            env.update(self.service_overrides.get(service, {}))
            argv = [str(a) for a in compose["services"][service]["command"]]
            if argv[:1] != ["python"]:
                raise ValueError(f"{service}: compose command {argv} does not start with python")
            argv[0] = sys.executable
            if argv[1:] != ["-m", module]:
                raise ValueError(f"{service}: compose runs {argv[1:]}, expected -m {module}")
            self.services[service] = ServiceProcess(
                service, argv, env, self.workdir / f"{service}.log"
            )
        imap_ports = self._build_imap(common) if self.imap else None
        gateway_env = self.services["smtp-gateway"].env
        self.endpoints = Endpoints(
            domain=gateway_env.get("LOCALPOST_DOMAIN", "localpost.test").split(",")[0].strip(),
            smtp=("127.0.0.1", ports["SMTP_PORT"]),
            submission=("127.0.0.1", ports["SUBMISSION_PORT"]),
            gateway_url=f"http://127.0.0.1:{ports['GATEWAY_HTTP_PORT']}",
            mailstore_url=f"http://127.0.0.1:{ports['MAILSTORE_PORT']}",
            web_url=f"http://127.0.0.1:{ports['WEB_PORT']}",
            # Compose leaves the secrets at their development defaults.
            mailstore_token=self.services["mailstore"].env.get(
                "MAILSTORE_TOKEN", DEV_MAILSTORE_TOKEN
            ),
            web_submission_secret=self.services["smtp-gateway"].env.get(
                "WEB_SUBMISSION_SECRET", DEV_WEB_SUBMISSION_SECRET
            ),
            queue_prefix=common["LOCALPOST_QUEUE_PREFIX"],
        )
        if imap_ports is not None:
            self.endpoints.imap = ("127.0.0.1", imap_ports["IMAP_PORT"])
            self.endpoints.imap_url = f"http://127.0.0.1:{imap_ports['IMAP_HTTP_PORT']}"

    def _build_imap(self, common: dict[str, str]) -> dict[str, int]:
        ports = {
            "IMAP_PORT": free_port(),
            "IMAPS_PORT": free_port(),
            "POP3_PORT": free_port(),
            "POP3S_PORT": free_port(),
            "IMAP_HTTP_PORT": free_port(),
        }
        store = self.services["mailstore"].env
        env = {
            **{k: str(v) for k, v in ports.items()},
            "PATH": os.environ.get("PATH", ""),
            "PYTHONUNBUFFERED": "1",
            "MAILSTORE_URL": common["MAILSTORE_URL"],
            "MAILSTORE_TOKEN": store.get("MAILSTORE_TOKEN", DEV_MAILSTORE_TOKEN),
            "AMQP_URL": self.amqp_url,
            "LOCALPOST_QUEUE_PREFIX": common["LOCALPOST_QUEUE_PREFIX"],
            "LOCALPOST_DOMAIN": store.get("LOCALPOST_DOMAIN", "localpost.test"),
            "LOCALPOST_DEV": "1",
            **inherited(),
            **self.service_overrides.get("imap-gateway", {}),
        }
        argv = [sys.executable, "-m", "imap_gateway"]
        self.services["imap-gateway"] = ServiceProcess(
            "imap-gateway", argv, env, self.workdir / "imap-gateway.log"
        )
        return ports

    def add_replica(self, name: str, of: str, ready_url: str, **env: str) -> ServiceProcess:
        """Another process of service ``of`` (same database and broker) named ``name``,
        with ``env`` changed (its own ports, another MAILSTORE_URL); the caller starts
        it (:meth:`restart`), the stack stops it."""
        base = self.services[of]
        replica = ServiceProcess(
            name, list(base.argv), {**base.env, **env}, self.workdir / f"{name}.log"
        )
        self.services[name] = replica
        self.replicas[name] = ready_url
        return replica

    async def start(self) -> None:
        self.build()
        con = await asyncpg.connect(self.admin_database_url)
        try:
            await con.execute(f'CREATE DATABASE "{self.database_name}"')
        finally:
            await con.close()
        for name in self.order:
            await self.services[name].start()
        await self.wait_ready()

    def ready_url(self, name: str) -> str:
        assert self.endpoints is not None
        return {
            "mailstore": self.endpoints.mailstore_url,
            "smtp-gateway": self.endpoints.gateway_url,
            "web": self.endpoints.web_url,
            "imap-gateway": self.endpoints.imap_url or "",
            **self.replicas,
        }[name] + "/readyz"

    async def wait_ready(self, *names: str, timeout: float = READY_TIMEOUT) -> None:
        """Wait until every named service (all by default) answers /readyz with 200."""
        await wait_ready(
            [(self.services[name], self.ready_url(name)) for name in names or self.order],
            timeout=timeout,
        )

    async def restart(self, name: str) -> None:
        await self.services[name].start()
        await self.wait_ready(name)

    async def mailstore_command(self, *args: str) -> str:
        """Run ``python -m mailstore ARGS`` with this mail store's environment, as an
        administrator does where compose runs it; its stdout (the exit must be 0)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "mailstore",
            *args,
            env=self.services["mailstore"].env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode()

    async def __aenter__(self) -> LocalStack:
        """Started; a start that fails half-way is stopped before the error goes on."""
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        for name in reversed(self.order):
            if name in self.services:
                await self.services[name].stop()
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            con = await asyncpg.connect(self.admin_database_url)
            try:
                await con.execute(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
            finally:
                await con.close()
        if self.endpoints is not None:
            await delete_topology(self.amqp_url, self.endpoints.queue_prefix)


async def wait_ready(
    services: list[tuple[ServiceProcess, str]], *, timeout: float = READY_TIMEOUT
) -> None:
    """Wait until each (service, its /readyz URL) answers 200; fail when one exits."""
    pending = {service.name: (service, url) for service, url in services}
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while pending:
            for name, (service, url) in sorted(pending.items()):
                if not service.running:
                    raise RuntimeError(f"{name} exited:\n{service.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(url, timeout=2) as resp:
                        if resp.status == 200:
                            del pending[name]
            if pending and time.monotonic() > deadline:
                tails = "\n".join(f"== {n}\n{s.log_tail()}" for n, (s, _) in pending.items())
                raise TimeoutError(f"not ready after {timeout}s: {sorted(pending)}\n{tails}")
            await asyncio.sleep(0.1)


async def delete_topology(amqp_url: str, prefix: str) -> None:
    """Remove a test run's queues and exchanges (names from docs/architecture.md)."""
    with contextlib.suppress(OSError, aio_pika.exceptions.AMQPException):
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            for queue in (f"{prefix}.mail.incoming", f"{prefix}.mail.dead"):
                with contextlib.suppress(aio_pika.exceptions.AMQPException):
                    await channel.queue_delete(queue)
                    channel = await connection.channel()
            for exchange in ("mail", "dead", "events", "directory"):
                with contextlib.suppress(aio_pika.exceptions.AMQPException):
                    await channel.exchange_delete(f"{prefix}.{exchange}")
                    channel = await connection.channel()
