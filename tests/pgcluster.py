"""A private PostgreSQL cluster for the fault tests: created, stopped and started by the test.

The outage tests stop the database under load; they must never touch the shared test server,
so each makes its own cluster with `initdb` in a temporary folder, on a free port, trust auth,
and removes it afterwards. PostgreSQL refuses to run as root: as root (CI) the commands run as
the `postgres` user through `runuser`, otherwise as the current user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from glob import glob
from pathlib import Path

from tests.servers import free_port

SERVICE_USER = "postgres"


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL's programs (Debian keeps them off PATH)."""
    candidates = sorted(
        (Path(p).parent for p in glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def unavailable_reason() -> str | None:
    """Why a private cluster cannot be made here (None: it can)."""
    if find_bindir() is None:
        return "initdb/pg_ctl not installed"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser"
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            return f"running as root without a {SERVICE_USER!r} user"
    return None


class PrivateCluster:
    """One throwaway cluster: `start()`/`stop()` as often as a test likes, `remove()` at the end."""

    def __init__(self) -> None:
        bindir = find_bindir()
        assert bindir is not None, unavailable_reason()
        self.bindir = bindir
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="maeul-pg-"))
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"
        self.logfile = self.base / "postgres.log"
        self.sockets.mkdir()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            user = pwd.getpwnam(SERVICE_USER)
            for path in (self.base, self.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "-N"
        )

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        cmd = [str(self.bindir / program), *args]
        if self._as_root:
            cmd = ["runuser", "-u", SERVICE_USER, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr}\n{self.log()}")

    def start(self) -> None:
        # fsync off: this data is thrown away, and the shared machine's disk is busy enough.
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sockets} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", options, "-w", "start")

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back and sessions ended, as an operator's
        restart does; returns once the server is gone."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def log(self) -> str:
        return self.logfile.read_text(errors="replace")[-3000:] if self.logfile.exists() else ""

    def remove(self) -> None:
        try:
            if self.running():
                self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
