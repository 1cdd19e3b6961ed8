"""Run Localpost's three services on this machine, without Docker: `make up`.

Each service runs as ``python -m <module>`` (this interpreter, so .venv's) with the
environment docker-compose.yml gives its container, localized: compose host names
become 127.0.0.1, TLS paths into the compose certs volume are left out (so the web
service submits without STARTTLS, over 127.0.0.1: compose_env.NEEDS_CONTAINER_FILE),
and DATABASE_URL / AMQP_URL are the ones `make check-services` checked. A variable set in
your shell wins over all of that. Every output line is prefixed with its service's
name. Ctrl-C or SIGTERM stops all three, and so does any one of them exiting.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from asyncio.subprocess import PIPE, STDOUT, Process
from urllib.parse import urlsplit, urlunsplit

from deploy.check_services import DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL
from deploy.compose_env import SERVICES, load_compose, local_environment

# A stopped service gets this long to finish in-flight work before SIGKILL.
STOP_TIMEOUT = 10.0
NAME_WIDTH = max(map(len, SERVICES))


def environments() -> dict[str, dict[str, str]]:
    compose = load_compose()
    # By default the mail lives in its own database, `localpost`, on the server that
    # `make check-services` checked; mailstore creates it on first start.
    database_url = os.environ.get("DATABASE_URL") or _database(DEFAULT_DATABASE_URL, "localpost")
    amqp_url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
    result = {}
    for service in SERVICES:
        local = local_environment(compose, service, database_url=database_url, amqp_url=amqp_url)
        # PYTHONUNBUFFERED: lines must reach the prefixer as they are written.
        result[service] = {**local, **os.environ, "PYTHONUNBUFFERED": "1"}
    return result


def _database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def emit(service: str, line: str) -> None:
    sys.stdout.write(f"{service:<{NAME_WIDTH}} | {line}\n")
    sys.stdout.flush()


async def prefix_output(service: str, process: Process) -> None:
    assert process.stdout is not None
    async for raw in process.stdout:
        emit(service, raw.decode(errors="replace").rstrip("\r\n"))


async def stop(processes: dict[str, Process]) -> None:
    for process in processes.values():
        if process.returncode is None:
            process.terminate()
    waits = [process.wait() for process in processes.values()]
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await asyncio.gather(*waits)
    except TimeoutError:
        for service, process in processes.items():
            if process.returncode is None:
                emit(service, f"still running after {STOP_TIMEOUT:g} s; killing it")
                process.kill()
        await asyncio.gather(*(process.wait() for process in processes.values()))


async def start(environments: dict[str, dict[str, str]]) -> dict[str, Process]:
    processes: dict[str, Process] = {}
    try:
        for service, environ in environments.items():
            # A session of its own: Ctrl-C reaches only this runner, which then stops
            # the services itself instead of leaving them to race on the same SIGINT.
            processes[service] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                SERVICES[service],
                env=environ,
                stdout=PIPE,
                stderr=STDOUT,
                start_new_session=True,
            )
    except OSError:
        await stop(processes)
        raise
    return processes


async def main() -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)

    environ = environments()
    processes = await start(environ)
    printers = [asyncio.create_task(prefix_output(s, p)) for s, p in processes.items()]
    web, gateway = environ["web"], environ["smtp-gateway"]
    print(
        f"webmail http://{web['WEB_HOST']}:{web['WEB_PORT']}/, "
        f"SMTP {gateway['GATEWAY_HOST']}:{gateway['SMTP_PORT']}, "
        f"submission {gateway['GATEWAY_HOST']}:{gateway['SUBMISSION_PORT']}; Ctrl-C stops all",
        flush=True,
    )
    exits = {asyncio.create_task(p.wait()): s for s, p in processes.items()}
    stop_requested = asyncio.create_task(stopping.wait())
    try:
        done, _ = await asyncio.wait([stop_requested, *exits], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_requested.cancel()
        await stop(processes)
        await asyncio.gather(*printers)
    exited = [exits[task] for task in done if task in exits]
    for service in exited:
        print(f"{service} exited with status {processes[service].returncode}", file=sys.stderr)
    return 1 if exited else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
