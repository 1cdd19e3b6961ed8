"""Every `make bench` scenario still runs end to end, with tiny sizes.

Benchmarks measure; this only checks that each scenario starts, finishes and
reports, so that `make bench` cannot rot between runs (issue: the benchmark is
not part of `make test`, a smoke run of each scenario is).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMTP_SOURCE = shutil.which("smtp-source", path="/usr/sbin:/usr/bin:/usr/local/sbin")

pytestmark = pytest.mark.slow


@pytest.mark.skipif(SMTP_SOURCE is None, reason="Postfix smtp-source is not installed")
def test_every_bench_scenario_runs_with_tiny_sizes(tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    done = subprocess.run(
        [sys.executable, "bench/run_all.py", "--smoke", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["smoke"] is True
    assert set(results["scenarios"]) >= {
        "smtp_core",
        "ingest",
        "large",
        "idle",
        "reading",
        "imap",
    }, results
    # Issue 5's session counts, the peers side by side, and the chart beside the JSON.
    assert set(results["scenarios"]["smtp_core"]["by_sessions"]) == {"1", "20", "200"}
    assert "offshelf_msg_per_s" in results["scenarios"]["ingest"]
    # Issue 13: Localpost's IMAP beside Dovecot, or why Dovecot could not run here.
    imap = results["scenarios"]["imap"]
    if "skipped" not in imap:
        assert imap["localpost"]["mixed"][0]["ops"] > 0, imap
        assert imap["dovecot"]["mixed"][0]["ops"] > 0, imap
        assert len(imap["targets"]) == 4, imap
    assert out.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
