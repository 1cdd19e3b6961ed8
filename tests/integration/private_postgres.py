"""A private PostgreSQL cluster for fault tests: its own data directory, port and socket.

Fault tests stop PostgreSQL in the middle of a stream of mail. They must never do
that to the machine's shared server, so they create their own cluster with the
installed ``initdb`` and ``pg_ctl``, as the ``postgres`` user when run as root
(the server refuses to run as root), and remove it afterwards, even when a test
fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from tests.integration.ports import free_port

BINDIR = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT = 60

StopMode = Literal["fast", "immediate"]


def available() -> str | None:
    """None when a private cluster can be created here, else the reason it cannot."""
    for tool in ("initdb", "pg_ctl"):
        if not (BINDIR / tool).exists():
            return f"{BINDIR / tool} not installed (Debian package postgresql-15)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


class PrivatePostgres:
    """``settings`` go into postgresql.conf after the small test defaults, so they win."""

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        self.settings = dict(settings or {})
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="localpost-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.initialised = False
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.base, user.pw_uid, user.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def _run(self, tool: str, *args: str) -> None:
        argv = [str(BINDIR / tool), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        # Into a file, not a pipe: the server pg_ctl starts may inherit the pipe (uvloop
        # leaves its descriptors inheritable), and reading to EOF would then never end.
        with tempfile.TemporaryFile(dir=self.base) as output:
            process = await asyncio.create_subprocess_exec(
                *argv, stdout=output, stderr=asyncio.subprocess.STDOUT
            )
            await process.wait()
            output.seek(0)
            said = output.read().decode(errors="replace")
        if process.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} failed ({process.returncode}):\n{said}\n{self.output()}"
            )

    async def _initdb(self) -> None:
        await self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.base}'\n"
                # A test cluster on a 2-core machine: small, and quiet in its log.
                "shared_buffers = 32MB\n"
                "max_connections = 50\n"
            )
            for name, value in self.settings.items():
                conf.write(f"{name} = '{value}'\n")
        self.initialised = True

    async def start(self) -> None:
        """Create the cluster on first use, then start it and wait until it accepts."""
        if not self.initialised:
            await self._initdb()
        await self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(START_TIMEOUT),
            "start",
        )  # fmt: skip

    async def stop(self, mode: StopMode = "fast") -> None:
        """``fast``: clients cut, clean shutdown; ``immediate``: no shutdown checkpoint,
        crash recovery at the next start (like a kill -9 of the postmaster)."""
        await self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    async def restart(self, mode: StopMode = "fast") -> None:
        await self.stop(mode)
        await self.start()

    async def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            # A stale pid file (the server already gone) makes pg_ctl fail: remove anyway.
            with contextlib.suppress(RuntimeError):
                await self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""
