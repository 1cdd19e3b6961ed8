"""A private Dovecot (Debian's dovecot-imapd) for the IMAP benchmark.

The whole server, master and all, from ``/usr/sbin/dovecot -c <our config>``: its
configuration, Maildirs, passwd-file, runtime directory and log all live in one
temporary directory, removed afterwards, and it listens on a free port of 127.0.0.1
(plain IMAP, no TLS, as the IMAP gateway is run here). Nothing touches the system's
Dovecot. Mail belongs to ``nobody`` (Dovecot refuses to give mail access to root).

Users are in a passwd-file, each with the scheme it is given: ``BLF-CRYPT`` (bcrypt)
at Localpost's cost for an honest login comparison, ``SHA512-CRYPT`` (the scheme
Dovecot's documentation suggests) where the hash is not what is measured.
Messages are written as Maildir files (Dovecot's own format for delivered mail), named
so that UID n is the n-th message; Dovecot builds its index when the mailbox is first
opened, which the benchmark does before it measures.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

DOVECOT = Path("/usr/sbin/dovecot")
DOVEADM = Path("/usr/bin/doveadm")
RUN_AS = "nobody"

# The per-user-and-address limit (default 10) is Dovecot's counterpart of the IMAP
# gateway's per-source limit: raised past the load from one address, like ours.
CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{base}/mail/%u/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = passwd-file
  args = {base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/mail/%u
}}
mail_max_userip_connections = {connections}
default_process_limit = {connections}
default_client_limit = {clients}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def available() -> str | None:
    """None when a private Dovecot can run here, else why not."""
    for path in (DOVECOT, DOVEADM, Path("/usr/lib/dovecot/imap")):
        if not path.exists():
            return f"{path} not installed (Debian package dovecot-imapd)"
    return None


def password_hash(scheme: str, password: str, rounds: int | None = None) -> str:
    """``{SCHEME}hash`` from Dovecot's own ``doveadm pw``."""
    command = [str(DOVEADM), "pw", "-s", scheme, "-p", password]
    if rounds is not None:
        command += ["-r", str(rounds)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603


def process_tree(root: int) -> list[int]:
    """``root`` and every process under it, now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


class PrivateDovecot:
    def __init__(self, *, port: int, connections: int) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="lp-bench-dovecot-"))
        self.port = port
        self.connections = connections
        self.users: dict[str, str] = {}
        user = pwd.getpwnam(RUN_AS)
        self.uid, self.gid = user.pw_uid, user.pw_gid
        self.master_pid: int | None = None

    def add_user(self, name: str, hashed: str) -> None:
        self.users[name] = hashed

    def maildir(self, user: str, messages: Iterable[bytes]) -> int:
        """Write ``messages`` into ``user``'s Inbox as Maildir files; how many."""
        cur = self.base / "mail" / user / "Maildir" / "cur"
        cur.mkdir(parents=True, exist_ok=True)
        for sub in ("new", "tmp"):
            (cur.parent / sub).mkdir(exist_ok=True)
        count = 0
        # Dovecot numbers new files in the order of their names (time stamp first).
        for count, raw in enumerate(messages, start=1):
            (cur / f"{1_000_000_000 + count}.M{count}P1.bench:2,").write_bytes(raw)
        return count

    def start(self) -> None:
        # mkdtemp's 0700 would shut out Dovecot's auth process (user dovecot) and mail (nobody).
        self.base.chmod(0o755)
        for sub in ("run", "state", "mail"):
            (self.base / sub).mkdir(exist_ok=True)
        (self.base / "passwd").write_text(
            "".join(f"{name}:{hashed}::::::\n" for name, hashed in self.users.items())
        )
        config = CONFIG.format(
            base=self.base,
            uid=self.uid,
            gid=self.gid,
            port=self.port,
            connections=self.connections + 10,
            clients=2 * self.connections + 100,
        )
        (self.base / "dovecot.conf").write_text(config)
        for path in [self.base / "mail", *(self.base / "mail").rglob("*")]:
            os.chown(path, self.uid, self.gid)
        subprocess.run([str(DOVECOT), "-c", str(self.base / "dovecot.conf")], check=True)  # noqa: S603
        pid_file = self.base / "run" / "master.pid"
        deadline = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.master_pid = int(pid_file.read_text())

    def pids(self) -> list[int]:
        """The master and every process under it."""
        if self.master_pid is None:
            return []
        return process_tree(self.master_pid)

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.master_pid is not None:
            try:
                os.kill(self.master_pid, signal.SIGTERM)  # the master stops its children
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and Path(f"/proc/{self.master_pid}").exists():
                    time.sleep(0.05)
            except ProcessLookupError:
                pass
            self.master_pid = None
        shutil.rmtree(self.base, ignore_errors=True)
