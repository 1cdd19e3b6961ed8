"""The mailbox-model state machine (imap_model.py) against the whole stack: two IMAP
sessions on ``python -m imap_gateway`` over real sockets, the real mail store on
PostgreSQL, new mail over SMTP through the gateway and RabbitMQ, and the web's
read mark, star and Delete (a move to Trash) through the mail store's API.

Changes made by one party reach the others through the broker, so after every step
the machine asks each session (NOOP, a bounded number of times) until it has caught
up, and then checks its view and flags exactly. Fewer examples than the in-process
run (services/imap-gateway/tests/test_session_statemachine.py): each one is a new
account and real logins. ``LOCALPOST_FUZZ_EXAMPLES`` raises the count.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import smtplib
import socket
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from hypothesis.stateful import run_state_machine_as_test

from libs.smtplib_common.tests.fuzzing import fuzz_settings
from tests.integration.imap_model import Flags, MailboxModel
from tests.integration.stack import Endpoints, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "a long enough model password"
STEP = 30.0  # the longest any reply may take before the test calls it a hang
POLL = 0.05  # between two looks for a change on its way (bounded by the tries)
POLL_TRIES = 400
SESSIONS = 2
_LITERAL_END = re.compile(rb"\{(\d+)\}\r\n$")
# The web's marks and the IMAP flags they are (issue 13).
WEB_FLAGS = {"\\Seen": "read", "\\Flagged": "flagged", "\\Answered": "answered"}
FOLDER_IDS = {"INBOX": "inbox", "Archive": "archive", "Trash": "trash"}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(database_url: str, amqp_url: str) -> AsyncIterator[LocalStack]:
    """This module's own stack: the three services and the IMAP gateway."""
    # stack.py builds each service's environment afresh; a PYTHONPATH that points at
    # this checkout's sources must reach the services too, or they run another copy.
    inherited = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
    # Every delivery is a new SMTP connection from 127.0.0.1: more than the default
    # 60 a minute per source when the machine runs many examples.
    smtp = {"GATEWAY_CONNECTION_RATE_PER_SOURCE": "100000"}
    async with LocalStack(
        admin_database_url=database_url,
        amqp_url=amqp_url,
        imap=True,
        overrides={**inherited, **smtp},
        service_overrides={"imap-gateway": inherited},
    ) as s:
        yield s


class Wire:
    """A blocking IMAP client connection: whole responses, literals joined in."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=STEP)
        self.file = self.sock.makefile("rb")
        self.tags = 0

    def send(self, data: str | bytes) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def response(self) -> bytes:
        parts = []
        while True:
            line = self.file.readline()
            assert line.endswith(b"\r\n"), f"connection ended inside a response: {parts, line}"
            found = _LITERAL_END.search(line)
            if found is None:
                parts.append(line[:-2])
                return b"".join(parts)
            parts += [line, self.file.read(int(found[1]))]

    def until_tagged(self, tag: str) -> list[bytes]:
        lines = [self.response()]
        while not lines[-1].startswith(tag.encode() + b" "):
            lines.append(self.response())
        return lines

    def next_tag(self) -> str:
        self.tags += 1
        return f"m{self.tags}"

    def command(self, text: str | bytes) -> list[bytes]:
        tag = self.next_tag()
        self.send(
            tag.encode() + b" " + (text.encode() if isinstance(text, str) else text) + b"\r\n"
        )
        return self.until_tagged(tag)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class RealStack:
    """The machine's driver over the stack; a new account for every example."""

    sessions = SESSIONS
    synchronous = False
    smtp_only = True

    def __init__(self, endpoints: Endpoints) -> None:
        assert endpoints.imap is not None
        self.endpoints = endpoints
        self.address = f"m{uuid.uuid4().hex[:12]}@{endpoints.domain}"
        status, body = self.api(
            "POST", "/v1/accounts", {"address": self.address, "password": PASSWORD, "name": "Model"}
        )
        assert status == 201, (status, body)
        self.wires: list[Wire] = []
        for _ in range(SESSIONS):
            wire = Wire(endpoints.imap)
            self.wires.append(wire)
            assert wire.response().startswith(b"* OK ")
            login = wire.command(f'LOGIN "{self.address}" "{PASSWORD}"')
            assert login[-1].split(b" ")[1] == b"OK", login

    def api(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.endpoints.mailstore_url.rstrip("/") + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.endpoints.mailstore_token}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=STEP) as response:
            return response.status, json.loads(response.read() or b"null")

    def entries(self, folder: str, made: int) -> list[Any]:
        """The web's entries of message ``m<made>`` in ``folder``."""
        account = quote(self.address)
        path = f"/v1/accounts/{account}/messages?folder={FOLDER_IDS[folder]}&limit=200"
        status, body = self.api("GET", path)
        assert status == 200, (status, body)
        return [m for m in body["messages"] if m["subject"] == f"m{made}"]

    def command(self, i: int, text: str | bytes) -> list[bytes]:
        return self.wires[i].command(text)

    def send(self, i: int, data: str | bytes) -> None:
        self.wires[i].send(data)

    def response(self, i: int) -> bytes:
        return self.wires[i].response()

    def until_tagged(self, i: int, tag: str) -> list[bytes]:
        return self.wires[i].until_tagged(tag)

    def next_tag(self, i: int) -> str:
        return self.wires[i].next_tag()

    def deliver(self, folder: str, flags: Flags, raw: bytes) -> None:
        assert folder == "INBOX", folder
        assert not flags, flags
        with smtplib.SMTP(*self.endpoints.smtp, timeout=STEP) as smtp:
            smtp.sendmail("bob@example.org", [self.address], raw)
        made = int(re.search(rb"Subject: m(\d+)", raw)[1])  # type: ignore[index]
        # Accepted is queued: the model's UIDs hold once it is stored.
        for _ in range(POLL_TRIES):
            if self.entries(folder, made):
                return
            self.pause()
        raise AssertionError(f"m{made} was not stored")

    def web_change(self, folder: str, uid: int, made: int, flag: str, on: bool) -> bool:
        if flag not in (*WEB_FLAGS, "\\Deleted") or (flag == "\\Deleted" and folder == "Trash"):
            return False  # the web has no such mark; from Trash it deletes for good
        found = self.entries(folder, made)
        if len(found) != 1:
            return False  # copies in one folder: the web cannot tell us which is which
        message = f"/v1/accounts/{quote(self.address)}/messages/{found[0]['id']}"
        if flag == "\\Deleted":
            status, body = self.api("POST", message + "/trash")
        else:
            status, body = self.api("PATCH", message, {WEB_FLAGS[flag]: on})
        assert status == 200, (status, body)
        return True

    def tracker_uids(self, i: int) -> list[int] | None:
        return None  # another process

    def pause(self) -> None:
        time.sleep(POLL)

    def close(self) -> None:
        for wire in self.wires:
            wire.close()


@pytest.mark.slow
async def test_sessions_web_and_new_mail_agree_with_the_mailbox_model(
    endpoints: Endpoints,
) -> None:
    settings = fuzz_settings(10, stateful_step_count=25, report_multiple_bugs=False)
    await asyncio.to_thread(
        run_state_machine_as_test, lambda: MailboxModel(RealStack(endpoints)), settings=settings
    )
