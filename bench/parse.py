"""How long ``mailstore.parsing.parse_message`` takes, in µs per message.

The mail store parses every message it stores, on the consumer's event loop, so this
is a floor on its per-message cost. Three figures, each the median of ``--rounds``
timed loops on this process's CPU time (``time.process_time``, so that other load on a
shared machine counts less than it would on the wall clock):

- ``plain 2 KB``: a ~2,000-octet text/plain message with 10 headers, like the ingest
  benchmark's;
- ``alternative + attachment``: multipart/mixed holding a text/html
  multipart/alternative and a 1.5 KB base64 PDF;
- ``corpus``: the median and the total over the shared corpus's 400 messages
  (``../shared/corpus/emails``, skipped with a note when absent).

Usage (repository root)::

    .venv/bin/python bench/parse.py [--rounds 5] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from mailstore.parsing import parse_message

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "emails"
LINE = "The quick brown fox jumps over the lazy dog, again and again and again.\n"


def plain_message() -> bytes:
    head = (
        "Return-Path: <bench@example.org>\n"
        "Received: from client.example.org by mx.example.net; Tue, 1 Jul 2025 10:00:00 +0000\n"
        "From: Bench Sender <bench@example.org>\n"
        "To: Alice Example <alice@example.net>\n"
        "Subject: Benchmark message number 42\n"
        "Date: Tue, 1 Jul 2025 10:00:00 +0200\n"
        "Message-ID: <42.bench@example.org>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "Content-Transfer-Encoding: 7bit\n\n"
    )
    return (head + LINE * ((2000 - len(head)) // len(LINE))).encode()


def alternative_message() -> bytes:
    pdf = base64.encodebytes(b"%PDF-1.4 " + bytes(range(256)) * 6).decode()
    return (
        "From: =?utf-8?q?J=C3=B6rg?= <jorg@example.de>\n"
        "To: alice@example.net, Bob <bob@example.net>\n"
        "Cc: carol@example.net\n"
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and a file\n"
        "Date: Tue, 1 Jul 2025 10:00:00 +0200\n"
        "Message-ID: <alt.bench@example.de>\n"
        "In-Reply-To: <41.bench@example.org>\n"
        "References: <40.bench@example.org> <41.bench@example.org>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="mixed"\n\n'
        '--mixed\nContent-Type: multipart/alternative; boundary="alt"\n\n'
        "--alt\nContent-Type: text/plain; charset=utf-8\n\n" + LINE * 8 + "\n"
        "--alt\nContent-Type: text/html; charset=utf-8\n\n"
        "<html><body><p>" + LINE * 8 + "</p></body></html>\n--alt--\n"
        '--mixed\nContent-Type: application/pdf; name="report.pdf"\n'
        'Content-Disposition: attachment; filename="report.pdf"\n'
        "Content-Transfer-Encoding: base64\n\n" + pdf + "--mixed--\n"
    ).encode()


def per_message_us(messages: Sequence[bytes], rounds: int) -> list[float]:
    """Per message, the median over ``rounds`` of its CPU time in µs."""
    timings: list[list[float]] = [[] for _ in messages]
    for _ in range(rounds):
        for n, raw in enumerate(messages):
            timings[n].append(_cpu_us(partial(parse_message, raw), repeat=1))
    return [statistics.median(t) for t in timings]


def _cpu_us(call: Callable[[], object], *, repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        call()
    return (time.process_time() - start) / repeat * 1e6


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}; median of {args.rounds} rounds, CPU time")
    for name, raw in (
        ("plain 2 KB", plain_message()),
        ("alternative + attachment", alternative_message()),
    ):
        loops = [_cpu_us(partial(parse_message, raw), repeat=500) for _ in range(args.rounds)]
        print(f"{name:<26} {len(raw):>7} octets {statistics.median(loops):>9.1f} µs/msg")
    files = sorted(args.corpus.glob("*/*.eml")) if args.corpus.is_dir() else []
    if not files:
        print(f"corpus: none at {args.corpus.resolve()}; skipped")
        return
    each = per_message_us([path.read_bytes() for path in files], args.rounds)
    print(
        f"{'corpus (' + str(len(files)) + ' messages)':<26} median {statistics.median(each):>9.1f} "
        f"µs/msg, p90 {statistics.quantiles(each, n=10)[-1]:.0f} µs, total {sum(each) / 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
