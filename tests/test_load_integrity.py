"""Integrity under load: 4 workers, 32 clients for 20 s on a few shared items.

`maeul serve --workers 4` on a fresh, committed database; 32 threads, each with its own HTTP
client, read the two tracks (API and page) and write six shared items with the versions they
last saw. Afterwards: no 5xx at all, the log holds exactly the writes answered 200, each 200
answered a version of its own, and every stored summary equals a recomputation.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.catalog import Catalog
from tests.servers import ServerProcess, server_env
from tests.workload import (
    check_integrity,
    login_cookie,
    merged,
    run_client,
    running,
    seed,
    tally,
    watch_summaries,
)

WORKERS = 4
CLIENTS = 32
SECONDS = 20.0


@pytest.mark.postgres
def test_32_clients_on_4_workers_lose_and_duplicate_nothing(
    fresh_database_url, catalog: Catalog, tmp_path: Path
) -> None:
    # PostgreSQL only, as the issue asks: SQLite serialises every writer on one file lock, so
    # the same load there mostly measures the busy timeout (tests/test_concurrency.py covers it).
    seeded = seed(fresh_database_url("postgresql"), catalog)
    env = server_env(seeded.url, tmp_path / "uploads")
    with ServerProcess(env, workers=WORKERS, log_path=tmp_path / "server.log") as server:
        cookies = {t: login_cookie(server.url, login) for t, login in seeded.logins.items()}
        with running(CLIENTS + 1) as (pool, stop):
            watcher = pool.submit(watch_summaries, seeded, catalog, stop)
            futures = [
                pool.submit(
                    run_client, base_url=server.url, seeded=seeded, cookies=cookies, name=f"c{i}", stop=stop
                )
                for i in range(CLIENTS)
            ]
            started = time.monotonic()
            stop.wait(SECONDS)
            stop.set()
            log = merged(f.result(timeout=60) for f in futures)
            drift = watcher.result(timeout=60)
            elapsed = time.monotonic() - started
        server_log = server.log()

    counts = tally(log.answers)
    rate = len(log.answers) / elapsed
    integrity = check_integrity(seeded, catalog, log.writes)
    report = (
        f"{len(log.answers)} requests in {elapsed:.1f} s = {rate:.0f}/s by {CLIENTS} clients on {WORKERS} "
        f"workers; answers {dict(sorted(counts.items()))}; {integrity.acknowledged} writes answered 200, "
        f"{integrity.events} logged"
    )
    print(report)
    errors = [a for a in log.answers if a.status >= 500 or a.status == 0]
    assert errors == [], f"{report}\nfirst: {errors[:3]}\n{server_log}"
    unexpected = [
        a for a in log.answers if a.status not in (200, 409) or (a.status == 409 and a.kind != "api-write")
    ]
    assert unexpected == [], f"{report}\nfirst: {unexpected[:3]}"
    assert integrity.problems + drift == [], report + "\n" + "\n".join(integrity.problems + drift)
    assert integrity.events == integrity.acknowledged > 0, report
