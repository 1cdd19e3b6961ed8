"""`docker compose` for the journey: the project's own file, a project name of its own,
free host ports, and the time of each phase.

Nothing here changes what compose runs: the only inputs are the `PUBLISHED_*_PORT`
variables that docker-compose.yml reads for every user (README "Configuration").
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
# Long-running services that must turn healthy; `certs` is a one-shot.
HEALTHY = ("postgres", "rabbitmq", "mailstore", "smtp-gateway", "web", "imap-gateway")
# A cold `up --build` (wheels from PyPI) takes about two minutes on two cores.
UP_TIMEOUT = 600.0


class ComposeError(AssertionError):
    """A compose command failed; the message carries its output."""


def engine_problem() -> str | None:
    """Why `docker compose` cannot run here, or None when it can."""
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    version = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, check=False
    )
    if version.returncode != 0:
        return "no Docker Compose v2 (`docker compose version` failed)"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return f"no Docker engine answers: {info.stderr.strip()[:300]}"
    return None


@dataclass
class Compose:
    """One compose project made from the repository's docker-compose.yml."""

    project: str
    smtp_port: int = field(default_factory=free_port)
    submission_port: int = field(default_factory=free_port)
    submissions_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    imap_port: int = field(default_factory=free_port)
    imaps_port: int = field(default_factory=free_port)
    pop3_port: int = field(default_factory=free_port)
    pop3s_port: int = field(default_factory=free_port)
    timings: list[tuple[str, float]] = field(default_factory=list)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            COMPOSE_PROJECT_NAME=self.project,
            PUBLISHED_SMTP_PORT=str(self.smtp_port),
            PUBLISHED_SUBMISSION_PORT=str(self.submission_port),
            PUBLISHED_SUBMISSIONS_PORT=str(self.submissions_port),
            PUBLISHED_WEB_PORT=str(self.web_port),
            PUBLISHED_IMAP_PORT=str(self.imap_port),
            PUBLISHED_IMAPS_PORT=str(self.imaps_port),
            PUBLISHED_POP3_PORT=str(self.pop3_port),
            PUBLISHED_POP3S_PORT=str(self.pop3s_port),
            # Debian's engine has no buildx; compose then builds through the daemon.
            COMPOSE_BAKE="false",
        )
        return env

    def run(self, *args: str, timeout: float = 300.0, check: bool = True) -> str:
        command = ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), *args]
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise ComposeError(
                f"{' '.join(command[2:])} exited {done.returncode}\n"
                f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        return done.stdout

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Times a phase and prints it, as `make test-compose` promises."""
        started = time.monotonic()
        print(f"compose journey: {name} ...", file=sys.stderr, flush=True)
        try:
            yield
        finally:
            took = time.monotonic() - started
            self.timings.append((name, took))
            print(f"compose journey: {name}: {took:.1f} s", file=sys.stderr, flush=True)

    def up(self, *extra: str) -> None:
        # --wait: until every service is running and healthy (compose's own check).
        self.run("up", "--build", "-d", "--wait", *extra, timeout=UP_TIMEOUT)
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            states = self.states()
            unhealthy = [s for s in HEALTHY if states.get(s) != {"healthy"}]
            web_ready = not unhealthy and self._web_ready()
            if web_ready:
                return
            if time.monotonic() > deadline:
                raise ComposeError(f"not healthy after {timeout:.0f} s: {states}\n{self.logs()}")
            time.sleep(1)

    def states(self) -> dict[str, set[str]]:
        """Each service's set of health states, one per container (replicas)."""
        found: dict[str, set[str]] = {}
        for line in self.run("ps", "--format", "json").splitlines():
            if line.strip():
                container = json.loads(line)
                health = container.get("Health") or container.get("State", "")
                found.setdefault(container["Service"], set()).add(health)
        return found

    def containers(self, service: str) -> list[str]:
        return self.run("ps", "-q", service).split()

    def _readyz(self) -> dict[str, Any] | None:
        """The web's /readyz body when it answers 200, else None."""
        try:
            with urllib.request.urlopen(self.web_url + "/readyz", timeout=3) as response:
                body = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return body if isinstance(body, dict) else {}

    def _web_ready(self) -> bool:
        return self._readyz() is not None

    async def wait_live(self, timeout: float) -> None:
        """Until the web's live channel is up (its /readyz body says "live": "up")."""
        deadline = time.monotonic() + timeout
        while (body := await asyncio.to_thread(self._readyz)) is None or body.get("live") != "up":
            if time.monotonic() > deadline:
                raise AssertionError(f"live updates not up {timeout:.0f} s on: /readyz {body}")
            await asyncio.sleep(0.5)

    def logs(self) -> str:
        return self.run("logs", "--no-color", "--tail", "60", check=False, timeout=60)[-12000:]

    def read_file(self, service: str, path: str) -> bytes:
        """A file from a service's container (e.g. the certificate in the certs volume)."""
        command = ["docker", "compose", "-f", str(ROOT / "docker-compose.yml")]
        done = subprocess.run(
            [*command, "exec", "-T", service, "cat", path],
            cwd=ROOT,
            env=self.environment(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise ComposeError(f"cat {path} in {service}: {done.stderr.decode()[-2000:]}")
        return done.stdout

    def report(self) -> str:
        lines = [f"  {name:<58} {took:7.1f} s" for name, took in self.timings]
        total = sum(took for _, took in self.timings)
        total_line = f"  {'total':<58} {total:7.1f} s"
        return "\n".join(["compose journey, phase times:", *lines, total_line])
