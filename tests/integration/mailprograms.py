"""What the tests of real mail programs share (test_imap_clients.py, test_pop3_clients.py):
the gateway's TLS files from a test CA, finding a program, running it to its end."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import trustme

# A bound, not a timing: a loaded machine may be slow, a hung client must still fail.
CLIENT_WAIT = 300.0


def gateway_tls(ca: trustme.CA, tls_dir: Path) -> dict[str, str]:
    """The IMAP gateway's TLS variables, for a certificate of 127.0.0.1 the CA issued."""
    # A common name too: isync 1.4 matches a host given as an address against the CN only.
    cert = ca.issue_cert("127.0.0.1", "localhost", common_name="127.0.0.1")
    cert_path, key_path = tls_dir / "cert.pem", tls_dir / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    return {"LOCALPOST_TLS_CERT": str(cert_path), "LOCALPOST_TLS_KEY": str(key_path)}


def require(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        if os.environ.get("LOCALPOST_REQUIRE_CLIENTS"):
            pytest.fail(f"{program} is not installed (.ci/run installs it)")
        pytest.skip(f"{program} is not installed (apt-get install it; .ci/run does)")
    return found


def run(
    argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a client to its end (the services are other processes: blocking is fine)."""
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=CLIENT_WAIT, check=False
    )
    assert done.returncode == 0, f"{argv[0]} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done


def destination_user(maildir: Path) -> str:
    """getmail refuses to deliver as root; it delivers as ``user`` (here nobody) then."""
    if os.geteuid() != 0:
        return ""
    for path in (maildir.parent, maildir, *(maildir / sub for sub in ("cur", "new", "tmp"))):
        path.chmod(0o777)
    return "user = nobody"


def fetchmail(directory: Path, poll: str, options: str) -> list[Path]:
    """Run fetchmail once on ``poll <poll>`` with ``options`` (its user and password
    included); the messages it delivered, one file each, as its MDA wrote them."""
    program = require("fetchmail")
    out = directory / "delivered"
    out.mkdir()
    mda = directory / "mda.sh"
    # fetchmail hands each message to the MDA on stdin: one file per message.
    mda.write_text(f'#!/bin/sh\nexec cat > "$(mktemp {out}/msg.XXXXXX)"\n')
    mda.chmod(0o700)
    rc = directory / "fetchmailrc"
    rc.write_text(f'poll {poll}\n  {options} mda "{mda}"\n')
    rc.chmod(0o600)
    home = directory / "home"
    home.mkdir()
    run(
        [program, "-f", str(rc), "--nosyslog"],
        env={**os.environ, "HOME": str(home), "FETCHMAILHOME": str(home)},
    )
    return sorted(out.iterdir())
