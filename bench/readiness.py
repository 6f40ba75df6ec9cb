"""위탁 준비도: the readiness PDF and the evidence bundle, measured against a real server.

The heavy track of cooperative 1 (every item touched, many events, the seed's evidence links)
gets ``BUNDLE_FILES`` evidence files of ``BUNDLE_FILE_MB`` MB through the app's own service
(``app.services.evidence.add_file``, as its cooperative user; random bytes behind a PDF header,
so nothing compresses, like real scans). Then:

* warm PDF: ``PDF_WARM`` timed ``GET /tracks/{id}/readiness.pdf`` in process (server time, one
  untimed render before), like every other series;
* first PDF: uvicorn is started in a subprocess on 127.0.0.1 (a free port) against the same
  database and upload folder, exactly as ``app.asgi`` starts in production (its WeasyPrint
  warm-up thread included); as soon as it answers ``GET /login``, the first PDF is requested:
  the client's wall time is what the first user after a restart waits;
* bundle: ``GET /tracks/{id}/evidence.zip`` from that server with a streaming client, written to
  disk chunk by chunk, while a thread samples the server's VmRSS (/proc/<pid>/status) every
  50 ms; growth = highest sample minus the sample just before the request. The archive is then
  checked with ``zipfile.testzip`` and its evidence entries counted.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import httpx2

from app.db import transaction
from app.models import Track
from app.services.evidence import add_file
from app.services.principal import load_principal
from app.storage import LocalStorage
from bench.measure import Stats, csrf_token

PDF_TARGET_S = 2.0
BUNDLE_RSS_TARGET_MB = 50.0
BUNDLE_FILES = 20
BUNDLE_FILE_MB = 10
PDF_WARM = 10
RSS_INTERVAL_S = 0.05


@dataclass
class ReadinessResult:
    evidence_files: int = 0  # file evidence on the track (the seed's links come on top)
    pdf_bytes: int = 0
    pdf_warm: Stats | None = None  # in process, server time
    pdf_first_s: float = float("nan")  # first request to a freshly started server, client wall time
    server_ready_s: float = float("nan")  # process start → first answer to GET /login
    bundle_bytes: int = 0
    bundle_evidence: int = 0  # evidence entries in the downloaded archive
    bundle_entries: int = 0
    bundle_valid: bool = False  # testzip found no bad CRC and the evidence count is right
    bundle_s: float = float("nan")  # request → last byte
    rss_before_mb: float = float("nan")
    rss_growth_mb: float = float("nan")  # highest sample during the download − before
    rss_first_byte_mb: float = float("nan")  # at the first chunk (the route renders the PDF first) − before
    rss_samples: int = 0
    error: str | None = None


def add_bundle_files(engine: Any, catalog: Any, *, track_id: int, user_id: int, upload_dir: Path) -> int:
    """BUNDLE_FILES files of BUNDLE_FILE_MB MB on the track's items, in turn, through add_file."""
    size = BUNDLE_FILE_MB * 1024 * 1024
    with transaction(engine) as session:
        track = session.get(Track, track_id)
        principal = load_principal(session=session, user_id=user_id)
        assert track is not None and principal is not None
        model = catalog.model(track.model_key)
        assert model is not None
        keys = [item.key for _, item in model.items]
        for n in range(BUNDLE_FILES):
            body = b"%PDF-1.7\n" + os.urandom(size - 9)
            add_file(
                session=session,
                principal=principal,
                track=track,
                model=model,
                item_key=keys[n % len(keys)],
                filename=f"증빙 스캔 {n + 1:02d}.pdf",
                stream=io.BytesIO(body),
                storage=LocalStorage(upload_dir),
                max_bytes=size + 1,
            )
    return BUNDLE_FILES


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _RssSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(name="rss-sampler", daemon=True)
        self.pid, self._done = pid, threading.Event()
        self.samples: list[float] = []

    def run(self) -> None:
        while not self._done.is_set():
            try:
                self.samples.append(_rss_mb(self.pid))
            except OSError:
                return
            self._done.wait(RSS_INTERVAL_S)

    def stop(self) -> list[float]:
        self._done.set()
        self.join()
        return self.samples


def _login(client: httpx2.Client, login: str, password: str) -> None:
    r = client.post(
        "/login",
        data={
            "username": login,
            "password": password,
            "csrf_token": csrf_token(client.get("/login").text),
            "next": "/",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, (r.status_code, r.text[:300])


def served(
    *,
    url: str,
    upload_dir: Path,
    secret_key: str,
    track_id: int,
    login: str,
    password: str,
    scratch: Path,
    result: ReadinessResult,
    log: Any,
) -> None:
    """Start uvicorn, time the first PDF, download the bundle while sampling the server's RSS."""
    port = _free_port()
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "MAEUL_DATABASE_URL": url,
        "MAEUL_UPLOAD_DIR": str(upload_dir),
        "MAEUL_SECRET_KEY": secret_key,
        "MAEUL_CONTENT_DIR": str(root / "content"),
    }
    cmd = [sys.executable, "-m", "uvicorn", "app.asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    started = perf_counter()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*cmd, "--log-level", "warning"], cwd=root, env=env
    )
    zip_path = scratch / "bundle.zip"
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx2.Client(base_url=base, timeout=120.0, trust_env=False) as client:
            deadline = perf_counter() + 60
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"uvicorn exited with {server.returncode}")
                try:
                    if client.get("/login").status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                if perf_counter() > deadline:
                    raise RuntimeError("uvicorn did not answer within 60 s")
                time.sleep(0.05)
            result.server_ready_s = perf_counter() - started
            _login(client, login, password)
            t = perf_counter()
            r = client.get(f"/tracks/{track_id}/readiness.pdf")
            result.pdf_first_s = perf_counter() - t
            assert r.status_code == 200 and r.content.startswith(b"%PDF"), r.status_code
            log(
                f"  {'first readiness.pdf, fresh server':<38} {result.pdf_first_s:7.2f} s  "
                f"(server answered {result.server_ready_s:.1f} s after start)"
            )

            time.sleep(0.5)  # let the PDF's garbage settle before the baseline
            result.rss_before_mb = _rss_mb(server.pid)
            sampler = _RssSampler(server.pid)
            sampler.start()
            t = perf_counter()
            with client.stream("GET", f"/tracks/{track_id}/evidence.zip") as resp, zip_path.open("wb") as out:
                assert resp.status_code == 200, resp.status_code
                for chunk in resp.iter_bytes():
                    if not out.tell():
                        result.rss_first_byte_mb = _rss_mb(server.pid) - result.rss_before_mb
                    out.write(chunk)
            result.bundle_s = perf_counter() - t
            samples = sampler.stop()
        result.rss_samples = len(samples)
        result.rss_growth_mb = max(samples, default=result.rss_before_mb) - result.rss_before_mb
        result.bundle_bytes = zip_path.stat().st_size
        with zipfile.ZipFile(zip_path) as archive:
            bad = archive.testzip()
            names = archive.namelist()
        result.bundle_entries = len(names)
        result.bundle_evidence = sum(1 for n in names if n.startswith("증빙/") and not n.endswith("/"))
        result.bundle_valid = bad is None and result.bundle_evidence == result.evidence_files
        log(
            f"  {'GET /tracks/{id}/evidence.zip':<38} {result.bundle_s:7.2f} s  "
            f"{result.bundle_bytes / 1e6:.0f} MB, {result.bundle_entries} entries "
            f"({result.bundle_evidence} evidence), valid={result.bundle_valid}, server RSS "
            f"{result.rss_before_mb:.0f} MiB +{result.rss_growth_mb:.1f} MiB (at the first byte "
            f"+{result.rss_first_byte_mb:.1f}; {len(samples)} samples)"
        )
    finally:
        zip_path.unlink(missing_ok=True)
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
