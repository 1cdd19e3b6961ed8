"""Interop: our client against Postfix's smtp-sink, a C SMTP server we did not write.

smtp-sink offers PIPELINING and 8BITMIME (not SMTPUTF8, SIZE or CHUNKING), so
it checks our pipelined path. With ``-d`` it dumps each transaction to a file
(LF line endings, dot-stuffing undone, plus its own X-* and Received headers
and a trailing empty line), which lets us compare content byte for byte.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from smtplib_common.client import (
    SMTPClient,
    SMTPNotSupported,
    SMTPPool,
    SMTPRecipientsRefused,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPUnexpectedReply,
)
from smtplib_common.client.message import prepare_content

pytestmark = pytest.mark.interop

SMTP_SINK = shutil.which("smtp-sink") or shutil.which("smtp-sink", path="/usr/sbin:/usr/bin")


@dataclass
class Dump:
    mail_args: str
    rcpt_args: list[str]
    message: bytes  # as smtp-sink stored it: LF line endings


@dataclass
class Sink:
    port: int
    dump_dir: Path

    def dumps(self, expected: int, timeout: float = 5.0) -> list[Dump]:
        """The ``expected`` dumps, in no particular order, once smtp-sink has written them."""
        deadline = time.monotonic() + timeout
        while True:
            files = list(self.dump_dir.glob("msg.*"))
            texts = [f.read_bytes() for f in files]
            complete = all(t.endswith(b"\n\n") for t in texts)
            if (len(files) >= expected and complete) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(texts) == expected, f"{len(texts)} dumps, expected {expected}"
        return [parse_dump(t) for t in texts]


def parse_dump(text: bytes) -> Dump:
    lines = text.split(b"\n")
    mail_args, rcpt_args = "", []
    index = 0
    while not lines[index].startswith(b"Received: "):
        name, _, value = lines[index].decode().partition(": ")
        if name == "X-Mail-Args":
            mail_args = value
        elif name == "X-Rcpt-Args":
            rcpt_args.append(value)
        index += 1
    index += 1
    while lines[index].startswith(b"\t"):  # the Received header's continuation lines
        index += 1
    return Dump(mail_args, rcpt_args, b"\n".join(lines[index:]))


def as_dumped(content: bytes) -> bytes:
    """What smtp-sink writes for ``content``: LF endings and one empty line more."""
    return prepare_content(content).replace(b"\r\n", b"\n") + b"\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[Callable[..., Sink]]:
    """``sink = smtp_sink(*options)`` runs smtp-sink; it is stopped at teardown."""
    if SMTP_SINK is None:
        pytest.skip("Postfix smtp-sink is not installed (Debian: apt-get install postfix)")
    started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(*options: str) -> Sink:
        assert SMTP_SINK is not None
        # smtp-sink must drop root privileges (-u); the dump directory has to
        # be writable by that user, and pytest's tmp_path (mode 0700) is not.
        dump_dir = Path(tempfile.mkdtemp(prefix="smtp-sink-"))
        user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("nobody")
            except KeyError:
                pytest.skip("running as root and there is no 'nobody' user for smtp-sink -u")
            dump_dir.chmod(0o777)
            user = ["-u", "nobody"]
        port = free_port()
        stderr = (tmp_path / f"smtp-sink-{port}.err").open("wb")
        process = subprocess.Popen(
            [SMTP_SINK, *user, "-d", f"{dump_dir}/msg.", *options, f"127.0.0.1:{port}", "64"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        stderr.close()
        started.append((process, dump_dir))
        deadline = time.monotonic() + 5
        while True:
            if process.poll() is not None:
                log = (tmp_path / f"smtp-sink-{port}.err").read_text()
                pytest.fail(f"smtp-sink exited with {process.returncode}: {log}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("smtp-sink did not start listening within 5 s")
                time.sleep(0.05)
        return Sink(port, dump_dir)

    yield start
    for process, dump_dir in started:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(dump_dir, ignore_errors=True)


def client(sink: Sink, **options) -> SMTPClient:
    return SMTPClient(
        "127.0.0.1", sink.port, timeout=10, connect_timeout=10, data_timeout=10, **options
    )


async def test_pipelined_messages_arrive_byte_for_byte(smtp_sink) -> None:
    sink = smtp_sink()
    contents = [
        f"Subject: no. {n}\r\n\r\n.leading dot\r\n..two\r\nKöln {n}\r\n.\r\nend".encode()
        for n in range(10)
    ]
    async with client(sink) as smtp:
        assert smtp.supports("PIPELINING")
        for n, content in enumerate(contents):
            result = await smtp.send_raw("ann@x.test", [f"r{n}@y.test", "cc@y.test"], content)
            assert set(result.accepted) == {f"r{n}@y.test", "cc@y.test"}
    by_rcpt = {d.rcpt_args[0]: d for d in sink.dumps(len(contents))}
    for n, content in enumerate(contents):
        dump = by_rcpt[f"<r{n}@y.test>"]
        assert dump.message == as_dumped(content)
        assert dump.rcpt_args == [f"<r{n}@y.test>", "<cc@y.test>"]
        assert dump.mail_args == "<ann@x.test> BODY=8BITMIME"


async def test_built_message_round_trips(smtp_sink) -> None:
    sink = smtp_sink()
    async with client(sink) as smtp:
        await smtp.send_message("Ann <ann@x.test>", "bob@y.test", "Grüße", "Zeile 1\n.\nZeile 3\n")
    (dump,) = sink.dumps(1)
    assert b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n" in dump.message
    assert dump.message.endswith(b"\n\nZeile 1\n.\nZeile 3\n\n")


async def test_smtputf8_is_needed_but_smtp_sink_does_not_offer_it(smtp_sink) -> None:
    sink = smtp_sink()
    async with client(sink) as smtp:
        with pytest.raises(SMTPNotSupported) as caught:
            await smtp.send_message("jörg@exämple.test", "bob@y.test", "s", "b\n")
        assert caught.value.extension == "SMTPUTF8"
        await smtp.send_message("ann@x.test", "bob@y.test", "s", "b\n")
    assert len(sink.dumps(1)) == 1  # the refused one never reached the server


async def test_every_recipient_refused_without_pipelining(smtp_sink) -> None:
    sink = smtp_sink("-f", "RCPT")  # hard-reject every RCPT; implies -p (no PIPELINING)
    async with client(sink) as smtp:
        assert not smtp.supports("PIPELINING")
        with pytest.raises(SMTPRecipientsRefused) as caught:
            await smtp.send_raw("a@x.test", ["b@y.test", "c@y.test"], b"x\r\n")
        assert sorted(caught.value.refused) == ["b@y.test", "c@y.test"]
        assert all(r.is_permanent for r in caught.value.refused.values())
        assert (await smtp.noop()).code == 250  # reset and still in step
    sink.dumps(0)


async def test_421_to_mail_is_a_refusal_that_ends_the_session(smtp_sink) -> None:
    sink = smtp_sink("-Q", "MAIL")
    async with client(sink) as smtp:
        with pytest.raises(SMTPSenderRefused) as caught:
            await smtp.send_raw("a@x.test", ["b@y.test"], b"x\r\n")
        assert caught.value.code == 421
        assert not smtp.is_connected


async def test_hang_up_after_data_is_a_disconnect(smtp_sink) -> None:
    sink = smtp_sink("-q", "DATA")
    async with client(sink) as smtp:
        with pytest.raises(SMTPServerDisconnected):
            await smtp.send_raw("a@x.test", ["b@y.test"], b"x\r\n")
        assert not smtp.is_connected


async def test_smtp_sink_answers_auth_with_250_which_we_do_not_take_for_success(
    smtp_sink,
) -> None:
    # smtp-sink is a throughput tester: it says "250 2.0.0 Ok" to AUTH. RFC 4954
    # §6 makes 235 the only success, so the client must not claim to be logged in.
    sink = smtp_sink()
    smtp = client(sink, username="ann", password="pw")
    with pytest.raises(SMTPUnexpectedReply) as caught:
        await smtp.connect()
    assert (caught.value.command, caught.value.code) == ("AUTH PLAIN", 250)
    assert not smtp.is_authenticated
    assert not smtp.is_connected


async def test_pool_sends_concurrently(smtp_sink) -> None:
    sink = smtp_sink()
    async with SMTPPool(lambda: client(sink), max_size=4) as pool:
        results = await asyncio.gather(
            *(
                pool.send_message("a@x.test", f"r{n}@y.test", f"no. {n}", f"body {n}\n")
                for n in range(25)
            )
        )
    assert len(results) == 25
    dumps = sink.dumps(25)
    assert sorted(d.rcpt_args[0] for d in dumps) == sorted(f"<r{n}@y.test>" for n in range(25))
