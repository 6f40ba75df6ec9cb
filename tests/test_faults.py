"""Faults: the database stops under load, a worker is killed, the SQLite file is read-only.

The outage runs on a private PostgreSQL cluster the test creates (tests/pgcluster.py), never on
the shared test server: `maeul serve --workers 2` and a few clients, then `pg_ctl stop -m fast`.
While it is down pages answer a Korean 503 page, the API a JSON 503 and /healthz 503, quickly;
once it is started again the same processes serve within seconds. Whatever the clients were told,
the log, the versions and the summaries must agree afterwards (tests/workload.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app import db as db_module
from app.catalog import Catalog
from app.config import Settings
from app.db import make_engine
from app.errors import RETRY_AFTER, TITLES
from app.main import create_app
from app.services.auth import TOKEN_PREFIX
from tests.conftest import _unavailable
from tests.pgcluster import PrivateCluster, unavailable_reason
from tests.servers import MAEUL, ROOT, ServerProcess, free_port, server_env
from tests.workload import (
    CSRF_RE,
    SHARED_ITEMS,
    Seeded,
    Write,
    check_integrity,
    login_cookie,
    merged,
    run_client,
    running,
    seed,
    tally,
    watch_summaries,
)

CLIENTS = 4
RECOVERY_LIMIT = 5.0  # seconds from `pg_ctl start` until health, a page and a write all succeed
ANSWER_LIMIT = 5.0  # no request may hang longer while the database is down


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    reason = unavailable_reason()
    if reason:
        _unavailable(f"no private PostgreSQL cluster: {reason}")
    cluster = PrivateCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


def test_unreachable_database_is_a_503_page_and_json(catalog: Catalog, tmp_path: Path) -> None:
    """The same answers without a cluster: a PostgreSQL URL on a port nothing listens on."""
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    settings = Settings(database_url=url, upload_dir=tmp_path, secret_key="outage-secret-" + "x" * 32)
    app = create_app(settings, catalog=catalog, engine=make_engine(url))
    with TestClient(app, raise_server_exceptions=True) as client:
        token = CSRF_RE.search(client.get("/login").text)  # the form itself needs no database
        assert token is not None
        form = {"username": "coop-a", "password": "x", "csrf_token": token.group(1)}
        page = client.post("/login", data=form)
        bearer = {"Authorization": f"Bearer {TOKEN_PREFIX}{'x' * 43}"}  # well-formed: looked up
        api = client.get("/api/v1/cooperatives", headers=bearer)
    assert page.status_code == 503 and TITLES[503] in page.text
    assert "반영되었는지 다시 확인하세요" in page.text  # a POST: it may or may not have landed
    assert page.headers["retry-after"] == RETRY_AFTER and "content-security-policy" in page.headers
    assert api.status_code == 503 and set(api.json()) == {"detail"}
    assert api.headers["retry-after"] == RETRY_AFTER


def _version(client: httpx2.Client, seeded: Seeded) -> int:
    track_id = min(seeded.tokens)
    got = client.get(
        f"/api/v1/tracks/{track_id}", headers={"Authorization": f"Bearer {seeded.tokens[track_id]}"}
    )
    return int(next(i["version"] for i in got.json()["items"] if i["key"] == SHARED_ITEMS[0]))


def _probe_write(client: httpx2.Client, seeded: Seeded, note: str) -> tuple[httpx2.Response, Write]:
    """Read an item's version and write it once, as a person would (the write joins the check)."""
    track_id = min(seeded.tokens)
    auth = {"Authorization": f"Bearer {seeded.tokens[track_id]}"}
    item_key = SHARED_ITEMS[0]
    got = client.get(f"/api/v1/tracks/{track_id}", headers=auth)
    if got.status_code != 200:
        return got, Write(track_id, item_key, note, -1, None)  # nothing sent
    version = next(i["version"] for i in got.json()["items"] if i["key"] == item_key)
    body = {"status": "doing", "note": note, "version": version}
    r = client.patch(f"/api/v1/tracks/{track_id}/items/{item_key}", json=body, headers=auth)
    answered = r.json().get("version") if r.status_code == 200 else None
    return r, Write(track_id, item_key, note, r.status_code, answered)


def test_database_outage_answers_503_and_recovers_without_restart(
    private_cluster: PrivateCluster, catalog: Catalog, tmp_path: Path
) -> None:
    seeded = seed(private_cluster.url, catalog)
    env = server_env(seeded.url, tmp_path / "uploads")
    probes: list[Write] = []
    with ServerProcess(env, workers=2, log_path=tmp_path / "server.log") as server:
        pids = sorted(server.worker_pids())
        cookies = {t: login_cookie(server.url, login) for t, login in seeded.logins.items()}
        track_id = min(seeded.tokens)
        auth = {"Authorization": f"Bearer {seeded.tokens[track_id]}"}
        page_headers = {"Cookie": cookies[track_id]}
        with (
            running(CLIENTS + 1) as (pool, stop),
            httpx2.Client(base_url=server.url, timeout=ANSWER_LIMIT) as probe,
        ):
            watcher = pool.submit(watch_summaries, seeded, catalog, stop)
            futures = [
                pool.submit(
                    run_client,
                    base_url=server.url,
                    seeded=seeded,
                    cookies=cookies,
                    name=f"c{i}",
                    stop=stop,
                    pause=0.02,
                    timeout=ANSWER_LIMIT,
                )
                for i in range(CLIENTS)
            ]
            time.sleep(2)
            version = _version(probe, seeded)
            down_at = time.monotonic()
            private_cluster.stop()
            stopped_at = time.monotonic()

            # While it is down: a page, the API (a read and a write) and /healthz, each quickly.
            started = time.monotonic()
            page = probe.get(f"/tracks/{track_id}", headers=page_headers)
            api = probe.get(f"/api/v1/tracks/{track_id}", headers=auth)
            health = probe.get("/healthz")
            write = probe.patch(
                f"/api/v1/tracks/{track_id}/items/{SHARED_ITEMS[0]}",
                json={"status": "doing", "note": "probe-outage", "version": version},
                headers=auth,
            )
            probes.append(Write(track_id, SHARED_ITEMS[0], "probe-outage", write.status_code, None))
            outage_answers = time.monotonic() - started
            time.sleep(2)  # the clients keep trying against the stopped database

            up_at = time.monotonic()
            private_cluster.start()
            _wait_recovered(probe, seeded, track_id, page_headers, probes)
            recovered_at = time.monotonic()
            recovered = recovered_at - up_at
            time.sleep(1.5)  # and serve normally again
            stop.set()
            log = merged(f.result(timeout=60) for f in futures)
            drift = watcher.result(timeout=60)
        pids_after = sorted(server.worker_pids())
        server_log = server.log()

    report = (
        f"stop took {stopped_at - down_at:.2f} s; four outage answers in {outage_answers:.2f} s; "
        f"recovered {recovered:.2f} s after `pg_ctl start`; answers {dict(sorted(tally(log.answers).items()))}"
    )
    print(report)
    assert page.status_code == 503, page.text[:500]
    assert page.headers["content-type"].startswith("text/html")
    assert TITLES[503] in page.text and "데이터베이스가 응답하지 않습니다" in page.text
    assert page.headers["retry-after"].isdigit()
    assert "content-security-policy" in page.headers  # the error page keeps the security headers
    assert api.status_code == 503 and api.headers["content-type"] == "application/json"
    assert set(api.json()) == {"detail"} and api.headers["retry-after"].isdigit()
    assert health.status_code == 503 and health.json()["database"] == "unreachable"
    assert write.status_code == 503 and set(write.json()) == {"detail"}
    assert outage_answers < ANSWER_LIMIT, report

    # The clients: nothing but 200/409 before the stop and after recovery, 503 in between, no
    # other 5xx and no request that hung or lost its connection.
    bad = [a for a in log.answers if a.status == 0 or (a.status >= 500 and a.status != 503)]
    assert bad == [], f"{report}\n{bad[:3]}\n{server_log}"
    slow = [a for a in log.answers if a.ended - a.started > ANSWER_LIMIT]
    assert slow == [], report
    unavailable = [a for a in log.answers if a.status == 503]
    assert unavailable, f"the clients never saw the outage: {report}"
    assert all(down_at <= a.ended and a.started <= recovered_at for a in unavailable), report
    assert recovered <= RECOVERY_LIMIT, f"{report}\n{server_log}"
    assert pids_after == pids, "the workers were restarted, not recovered"

    integrity = check_integrity(seeded, catalog, log.writes + probes, ambiguous_allowed=True)
    print(
        f"{integrity.acknowledged} writes answered 200, {integrity.events} logged, "
        f"{integrity.landed_unacknowledged} cut off by the outage but landed whole"
    )
    assert integrity.problems + drift == [], "\n".join(integrity.problems + drift)


def _wait_recovered(
    client: httpx2.Client, seeded: Seeded, track_id: int, page_headers: dict[str, str], probes: list[Write]
) -> None:
    """Until /healthz, a page and an API write have each succeeded again (at most 30 s)."""
    started = time.monotonic()
    pending = {"health", "page", "write"}
    n = 0
    while pending and time.monotonic() - started < 30:
        try:
            if "health" in pending and client.get("/healthz").status_code == 200:
                pending.discard("health")
            if (
                "page" in pending
                and client.get(f"/tracks/{track_id}", headers=page_headers).status_code == 200
            ):
                pending.discard("page")
            if "write" in pending:
                n += 1
                r, attempted = _probe_write(client, seeded, f"probe-recovery-{n}")
                probes.append(attempted)
                if r.status_code == 200:
                    pending.discard("write")
        except httpx2.TransportError:
            pass
        if pending:
            time.sleep(0.05)
    assert not pending, f"still failing after 30 s: {pending}"


@pytest.mark.postgres
def test_a_restart_while_idle_costs_no_request_an_error(
    private_cluster: PrivateCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection that rested is pinged before use, so the first request after a quiet
    restart gets a new connection instead of the dead one; one in use moments ago is not pinged
    (under load no request pays the ping's round trip)."""
    engine = make_engine(private_cluster.url, pool_size=1, max_overflow=0)
    pings: list[int] = []
    real_ping = engine.dialect.do_ping

    def counted_ping(dbapi_conn: object) -> bool:
        pings.append(1)
        return real_ping(dbapi_conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    try:
        with engine.connect() as conn:
            first_backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as conn:  # back within moments: used as it is
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == first_backend
        assert pings == []

        private_cluster.stop()
        private_cluster.start()
        time.sleep(db_module.PING_AFTER_IDLE)
        with engine.connect() as conn:  # the pooled connection died with the server: replaced
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != first_backend
        assert pings == [1]
    finally:
        engine.dispose()


def test_killed_worker_is_replaced_while_the_other_serves(
    fresh_database_url, catalog: Catalog, tmp_path: Path
) -> None:
    # The shared server's throwaway database: this test kills a worker, not PostgreSQL.
    seeded = seed(fresh_database_url("postgresql"), catalog)
    env = server_env(seeded.url, tmp_path / "uploads")
    with ServerProcess(env, workers=2, log_path=tmp_path / "server.log") as server:
        cookies = {t: login_cookie(server.url, login) for t, login in seeded.logins.items()}
        with running(CLIENTS) as (pool, stop):
            futures = [
                pool.submit(
                    run_client,
                    base_url=server.url,
                    seeded=seeded,
                    cookies=cookies,
                    name=f"k{i}",
                    stop=stop,
                    retry_transport=True,
                )
                for i in range(CLIENTS)
            ]
            time.sleep(2)  # requests flowing on both workers
            before = server.worker_pids()
            assert len(before) == 2, server.log()
            victim = before[0]
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            replaced, new_pid = _wait_replaced(server, before, killed_at)
            serving = _wait_logged(server, f"Started server process [{new_pid}]", killed_at)
            time.sleep(1)  # all three serving
            stop.set()
            log = merged(f.result(timeout=60) for f in futures)
        server_log = server.log()

    after = [a for a in log.answers if a.ended >= killed_at]
    report = (
        f"worker {new_pid} started {replaced:.2f} s after SIGKILL, serving after {serving:.2f} s; answers before "
        f"{dict(sorted(tally(a for a in log.answers if a.ended < killed_at).items()))}, after "
        f"{dict(sorted(tally(after).items()))}; slowest after {max(a.ended - a.started for a in after):.2f} s"
    )
    print(report)
    assert len([a for a in after if a.status in (200, 409)]) >= 2 * CLIENTS, report  # kept flowing
    # A connection the dead worker held fails once; its one repeat (and everything else) succeeds.
    dropped = [a for a in log.answers if a.status == 0]
    assert all(not a.retry for a in dropped), f"{report}\n{dropped}"
    assert len(dropped) <= CLIENTS, f"{report}\n{dropped}"
    answered = [a for a in log.answers if a.status != 0]
    assert all(a.status in (200, 409) for a in answered), (
        f"{report}\n{[a for a in answered if a.status >= 300][:3]}\n{server_log}"
    )
    integrity = check_integrity(seeded, catalog, log.writes, ambiguous_allowed=True)
    assert integrity.problems == [], "\n".join(integrity.problems)


def _wait_replaced(server: ServerProcess, before: list[int], since: float) -> tuple[float, int]:
    """Seconds until uvicorn's supervisor has started a process in place of the killed one."""
    while time.monotonic() - since < 20:
        now = server.worker_pids()
        if len(now) == len(before) and (new := set(now) - set(before)):
            return time.monotonic() - since, new.pop()
        time.sleep(0.1)
    raise AssertionError(f"no replacement worker after 20 s: {server.worker_pids()}\n{server.log()}")


def _wait_logged(server: ServerProcess, line: str, since: float) -> float:
    """Seconds until the server's log shows ``line`` (the replacement's uvicorn serving)."""
    while time.monotonic() - since < 45:
        if line in server.log_path.read_text(errors="replace"):
            return time.monotonic() - since
        time.sleep(0.1)
    raise AssertionError(f"{line!r} not logged after 45 s:\n{server.log()}")


# --- a read-only SQLite database ---------------------------------------------------------------


def _without_file_privileges() -> list[str]:
    """A command prefix under which file permissions really apply.

    Root ignores them (CAP_DAC_OVERRIDE), so a 0444 file would simply be written; and another
    user (runuser -u nobody) cannot run this interpreter, which lives under /root. So as root we
    keep the user and drop the two capabilities that bypass permissions: the process is then
    the file's owner without the right to write it, which is what a read-only file means."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        _unavailable("running as root without setpriv (util-linux): cannot drop CAP_DAC_OVERRIDE")
        raise AssertionError  # not reached: _unavailable skips or fails
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, migrated database: at head an upgrade may write nothing, so without the check the
    server would start and fail on the first change instead."""
    database = tmp_path_factory.mktemp("migrated") / "app.db"
    env = server_env(f"sqlite:///{database}", database.parent / "uploads")
    subprocess.run([str(MAEUL), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
    # One file to copy: fold the write-ahead log in.
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    return database


@pytest.mark.parametrize(
    ("command", "file_mode", "folder_mode", "says"),
    [
        (["serve", "--port", "0"], 0o444, 0o555, "is read-only"),
        (["db", "upgrade"], 0o444, 0o555, "is read-only"),
        (["serve", "--port", "0"], 0o644, 0o555, "folder"),
    ],
    ids=["serve-file", "upgrade-file", "serve-folder"],
)
def test_read_only_sqlite_is_a_clear_startup_error(
    command: list[str], file_mode: int, folder_mode: int, says: str, migrated_sqlite: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    database = folder / "app.db"
    shutil.copyfile(migrated_sqlite, database)
    env = server_env(f"sqlite:///{database}", tmp_path / "uploads")
    database.chmod(file_mode)
    folder.chmod(folder_mode)
    try:
        done = subprocess.run(  # noqa: S603 - our own command
            [*_without_file_privileges(), str(MAEUL), *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        folder.chmod(stat.S_IRWXU)
        database.chmod(0o644)
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert str(database) in lines[0] and says in lines[0] and "read-only" in lines[0], lines[0]


def test_a_worker_starting_while_the_database_is_down_serves_instead_of_crashing(tmp_path: Path) -> None:
    """What uvicorn runs in a replacement worker (`app.asgi`) must not raise during an outage, or
    the supervisor would restart it in a loop; it then answers 503 until the database is back."""
    env = server_env(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere", tmp_path / "uploads")
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", "import app.asgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "database unreachable at worker start" in done.stderr
