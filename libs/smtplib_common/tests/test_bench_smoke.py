"""The SMTP-core benchmark (bench/smtp_core.py) still runs end to end."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "smtp_core.py"
SMTP_SOURCE = shutil.which("smtp-source", path="/usr/sbin:/usr/bin:/usr/local/sbin")


@pytest.mark.interop
@pytest.mark.skipif(SMTP_SOURCE is None, reason="Postfix smtp-source is not installed")
def test_bench_runs_and_prints_a_ratio(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--messages", "200", "--repeat", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^ratio localpost(-asyncio)?/\S+: \d+\.\d\d$", done.stdout, re.MULTILINE), (
        done.stdout
    )
    assert "localpost" in out.read_text()
