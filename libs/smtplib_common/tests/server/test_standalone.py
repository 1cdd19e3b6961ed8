"""``python -m smtplib_common.server`` as a real process, stopped with SIGTERM."""

from __future__ import annotations

import mailbox
import re
import signal
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MESSAGE = b"Subject: standalone %d\r\n\r\nbody %d\r\n.dotted\r\n"


@contextmanager
def standalone(*args: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """The server process and its port; killed if the test leaves it running."""
    # Port 0 and the printed address: no race for a "free" port.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smtplib_common.server",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", first)
        assert match, f"unexpected first line {first!r}"
        yield process, int(match[1])
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def send_three(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for n in range(3):
            smtp.sendmail("a@example.test", ["b@example.test"], MESSAGE % (n, n))


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    return out, err


def test_standalone_writes_each_message_to_the_maildir(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"

    with standalone("--maildir", str(maildir)) as (process, port):
        send_three(port)
        out, _ = stop(process)

    assert re.fullmatch(r"received 3 messages, \d+ octets\n", out)
    files = sorted((maildir / "new").iterdir())
    assert len(files) == 3
    # Each file is the message as sent (unstuffed), after our Received: header.
    bodies = sorted(f.read_bytes().split(b"\r\n\r\n", 1)[1] for f in files)
    assert bodies == [b"body %d\r\n.dotted\r\n" % n for n in range(3)]
    assert len(mailbox.Maildir(str(maildir), create=False)) == 3


def test_standalone_counts_messages_without_a_maildir() -> None:
    with standalone() as (process, port):
        send_three(port)
        out, _ = stop(process)

    match = re.fullmatch(r"received (\d+) messages, (\d+) octets\n", out)
    assert match, out
    assert int(match[1]) == 3
    assert int(match[2]) > sum(len(MESSAGE % (n, n)) for n in range(3))  # plus Received:
