"""Entry point: `make bench` = `.venv/bin/python -m bench.run [--quick | --large] [--backends ...] [--out PATH]`.

For each data size (1,000 cooperatives: everything; with --large also 10,000: the 현황판 and its
export, about eight minutes more), seeds SQLite (a file in a temporary directory) and PostgreSQL
(a fresh database named bench_maeul_<random>, dropped after that size), measures the app in
process, prints the table and writes it to bench/results/latest.md (--large: large.md, so that
`make bench` keeps the 10,000-cooperative figures; --quick: quick.md). At 1,000 cooperatives it
also measures the 위탁 준비도 PDF and the evidence bundle against a real uvicorn (bench/readiness.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from time import perf_counter

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from app.catalog import Catalog, load_catalog
from app.config import Settings
from app.main import create_app
from bench.report import machine_facts, render_markdown
from bench.scenarios import FULL, LARGE, QUICK, ROOT, BackendResult, Sizes, permission_matrix, run_backend

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_PG = os.environ.get(
    "MAEUL_BENCH_POSTGRES_URL",
    os.environ.get("MAEUL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
)


def log(msg: str) -> None:
    print(msg, flush=True)


class ThrowawayPostgres:
    """Creates one uniquely named database and drops only that one."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.admin: Engine | None = None
        self.name: str | None = None

    def create(self) -> str:
        self.admin = create_engine(
            self.admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
        )
        name = f"bench_maeul_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.name = name
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop(self) -> None:
        if self.admin is None:
            return
        if self.name:
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            log(f"[PostgreSQL] dropped {self.name}")
        self.admin.dispose()


def _guarded(name: str, url_factory: Callable[[], str], catalog: Catalog, sizes: Sizes) -> BackendResult:
    try:
        url = url_factory()
    except Exception as exc:  # noqa: BLE001 - an unreachable server is reported, not fatal
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        log(f"[{name}] unavailable: {reason}; continuing without it")
        return BackendResult(name=name, coops=sizes.coops, error=f"unavailable: {reason}")
    try:
        return run_backend(name, url, catalog, sizes, log)
    except Exception as exc:  # noqa: BLE001 - report and go on with the other backend
        traceback.print_exc()
        return BackendResult(name=name, url=url, coops=sizes.coops, error=f"{type(exc).__name__}: {exc}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 cooperatives, fewer requests (~1 min)")
    parser.add_argument(
        "--large",
        action="store_true",
        help="also 10,000 cooperatives: the 현황판 and its export at scale (~8 min more); writes large.md",
    )
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_PG, help="server to create the throwaway database on"
    )
    parser.add_argument(
        "--out", type=Path, help="markdown file (default bench/results/latest.md, large.md or quick.md)"
    )
    args = parser.parse_args(argv)
    plan = [QUICK] if args.quick else [FULL, LARGE] if args.large else [FULL]
    backends = [b.strip().lower() for b in args.backends.split(",") if b.strip()]
    out = args.out or RESULTS / ("quick.md" if args.quick else "large.md" if args.large else "latest.md")

    started = perf_counter()
    load_start = os.getloadavg()
    catalog = load_catalog(ROOT / "content")
    results: list[BackendResult] = []
    notes: list[str] = []

    for sizes in plan:
        if "sqlite" in backends:
            with tempfile.TemporaryDirectory(prefix="bench_maeul_") as tmp:
                results.append(_guarded("SQLite", lambda: f"sqlite:///{tmp}/bench.db", catalog, sizes))  # noqa: B023 - called at once
        if "postgresql" in backends:
            pg = ThrowawayPostgres(args.postgres_url)
            try:
                results.append(_guarded("PostgreSQL", pg.create, catalog, sizes))
            finally:
                try:
                    pg.drop()
                except Exception as exc:  # noqa: BLE001
                    log(f"[PostgreSQL] could not drop {pg.name}: {exc}")
    for r in results:
        if r.error:
            notes.append(f"{r.name}: {r.error}")

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            Settings(database_url=f"sqlite:///{tmp}/routes.db", content_dir=ROOT / "content"), catalog=catalog
        )
        matrix = permission_matrix(app)
        app.state.engine.dispose()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    total = perf_counter() - started
    facts = machine_facts()
    load_end = os.getloadavg()
    facts["load average 1/5/15 min, start → end"] = (
        f"{'/'.join(f'{x:.2f}' for x in load_start)} → {'/'.join(f'{x:.2f}' for x in load_end)}"
    )
    cpus = os.cpu_count() or 1
    # Judged from the start only: the run ends with the mixed load, whose own server workers and
    # clients keep both CPUs busy, so the final load average is mostly the benchmark itself.
    others = load_start[0]
    if others > 0.5 * cpus:
        notes.append(
            f"Other work shared the machine during the run (about {others:.1f} busy CPUs of {cpus} besides "
            "the benchmark, from the load average): figures are inflated and noisier than on an idle "
            "machine; compare runs only at similar load."
        )
    md = render_markdown(
        results=results,
        facts=facts,
        plan=plan,
        quick=args.quick,
        matrix=matrix,
        peak_rss_kb=peak_kb,
        total_s=total,
        notes=notes,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(out.suffix + ".tmp")  # bench/results/*.tmp is git-ignored
    tmp_out.write_text(md + "\n", encoding="utf-8")
    tmp_out.replace(out)
    log("")
    log(md.split("## Results", 1)[1].split("<details>", 1)[0].strip())
    log(f"\nwritten to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0 if any(r.seed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
