"""A private RabbitMQ node for fault tests: its own data directory and ports.

Fault tests stop, kill and pause a broker. They must never do that to the
machine's shared RabbitMQ, so they start their own node from the installed
``rabbitmq-server``, as the ``rabbitmq`` user when run as root (the server
refuses to run as root), and remove it afterwards, even when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest

from tests.integration.ports import free_port

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
START_TIMEOUT = 60.0


def available() -> str | None:
    """None when a private node can be started here, else the reason it cannot."""
    if not RABBITMQ_SERVER.exists():
        return f"{RABBITMQ_SERVER} not installed (Debian package rabbitmq-server)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("rabbitmq")
        except KeyError:
            return "running as root and there is no rabbitmq user to run the broker as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


class PrivateRabbitMQ:
    def __init__(self) -> None:
        self.name = f"lpit{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="localpost-rabbit-"))
        self.process: subprocess.Popen[bytes] | None = None
        self._prepare()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _prepare(self) -> None:
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            # guest may only log in from localhost, which is where the tests are.
            "loopback_users.guest = true\n"
            # Keep the node small: this is a test broker on a 2-core machine.
            "vm_memory_high_watermark.relative = 0.2\n"
        )
        (self.base / "enabled_plugins").write_text("[].\n")
        if os.geteuid() == 0:
            user = pwd.getpwnam("rabbitmq")
            for path in [self.base, *self.base.iterdir()]:
                os.chown(path, user.pw_uid, user.pw_gid)

    def _command(self) -> tuple[list[str], dict[str, str]]:
        home = str(self.base)
        if os.geteuid() == 0:
            home = pwd.getpwnam("rabbitmq").pw_dir
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/bin"),
            "HOME": home,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "pid"),
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",
            # Erlang distribution only on loopback.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        argv = [str(RABBITMQ_SERVER)]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "rabbitmq", "--", "env", *[f"{k}={v}" for k, v in env.items()]]
            argv.append(str(RABBITMQ_SERVER))
        return argv, env

    async def start(self) -> None:
        argv, env = self._command()
        log = (self.base / "server.out").open("ab")
        # Its own process group, so that stop/kill/pause reach the whole node.
        self.process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        await self.wait_ready()

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"private RabbitMQ exited:\n{self.output()}")
            with contextlib.suppress(OSError, aio_pika.exceptions.AMQPException, TimeoutError):
                connection = await aio_pika.connect(self.url, timeout=2)
                await connection.close()
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"private RabbitMQ not up after {timeout}s:\n{self.output()}")
            await asyncio.sleep(0.3)

    def output(self) -> str:
        with contextlib.suppress(OSError):
            return (self.base / "server.out").read_text(errors="replace")[-3000:]
        return ""

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    async def stop(self) -> None:
        """A clean shutdown (SIGTERM), waited for."""
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        await self._wait_exit()

    async def kill9(self) -> None:
        self._signal(signal.SIGKILL)
        await self._wait_exit()

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    async def _wait_exit(self, timeout: float = 30.0) -> None:
        if self.process is None:
            return
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self._signal(signal.SIGKILL)
            await asyncio.sleep(0.1)
        # Children (epmd is shared and not ours; beam is) may outlive the script.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None

    async def remove(self) -> None:
        await self.kill9()
        shutil.rmtree(self.base, ignore_errors=True)


@contextlib.asynccontextmanager
async def started_node() -> AsyncIterator[PrivateRabbitMQ]:
    """A private node, started, and removed afterwards even when the test fails; the
    test is skipped (with the reason) where no node can be started here."""
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    broker = PrivateRabbitMQ()
    try:
        await broker.start()
        yield broker
    finally:
        await broker.remove()
