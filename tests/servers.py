"""Real server processes for the tests that need more than one: `maeul serve` as a child process.

The two-process, load-integrity and fault tests run the app exactly as production does (the
`maeul` command, uvicorn workers, a committed database), not in the test's own process; so do the
benchmark's server measurements (bench/served.py). Nothing here imports the test fixtures.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent
CONTENT_DIR = ROOT / "content"
MAEUL = Path(sys.executable).with_name("maeul")
SECRET = "test-secret-for-server-processes-0123456789"  # noqa: S105 - a test value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(database_url: str, upload_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a server process: this test's database and uploads, nothing inherited
    from the developer's shell that could point it elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAEUL_")}
    env.update(
        MAEUL_DATABASE_URL=database_url,
        MAEUL_SECRET_KEY=SECRET,
        MAEUL_CONTENT_DIR=str(CONTENT_DIR),
        MAEUL_UPLOAD_DIR=str(upload_dir),
    )
    env.update(extra)
    return env


class ServerProcess:
    """`maeul serve --workers N` on a free port; started by `with`, stopped (the whole process
    group) on exit. Its output goes to `log_path`, which failures quote. ``workers=None`` leaves
    the flag out, so MAEUL_WORKERS in `env` (or the default) applies."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        workers: int | None = 1,
        log_path: Path,
        port: int | None = None,
        startup_timeout: float = 60.0,
    ):
        self.env = dict(env)
        self.workers = workers
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        cmd = [str(MAEUL), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers is not None:  # None: the environment decides (MAEUL_WORKERS), as in the image
            cmd += ["--workers", str(self.workers)]
        with self.log_path.open("ab") as log:
            # Own process group: stopping it also stops the uvicorn workers.
            self.proc = subprocess.Popen(  # noqa: S603 - our own command
                cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_healthy(self.startup_timeout)
        return self

    def wait_healthy(self, timeout: float) -> float:
        """Seconds until /healthz answered 200; fails with the server's log after `timeout`."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                # trust_env=False: a proxy in the developer's environment is not on the way to it.
                if httpx2.get(f"{self.url}/healthz", timeout=2, trust_env=False).status_code == 200:
                    return time.monotonic() - started
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy after {timeout:.0f} s:\n{self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def children(self) -> list[tuple[int, str]]:
        """(pid, command line) of each process the supervisor started: workers and helpers."""
        assert self.proc is not None  # noqa: S101
        out = subprocess.run(  # noqa: S603, S607 - a fixed command
            ["ps", "-ww", "-o", "pid=,args=", "--ppid", str(self.proc.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return [
            (int(pid), args) for pid, _, args in (line.strip().partition(" ") for line in out.splitlines())
        ]

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children of the supervisor that are not helpers)."""
        # multiprocessing's resource tracker is a child too; the workers run spawn_main.
        return [pid for pid, args in self.children() if "spawn_main" in args]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> ServerProcess:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
