"""The measurements on one backend: the real app, in process, through starlette's TestClient."""

from __future__ import annotations

import gc
import math
import random
import statistics
import tempfile
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlmodel import col
from starlette.routing import BaseRoute, Mount, Route

from app.catalog import Catalog
from app.config import Settings
from app.db import make_engine, transaction
from app.main import create_app
from app.migrate import upgrade
from app.models import ItemState, User
from app.services.auth import create_token
from bench.measure import Sampler, ServerTimer, StatementCounter, Stats, csrf_token
from bench.readiness import PDF_WARM, ReadinessResult, add_bundle_files, served
from bench.seed import LOGIN_USER, PASSWORD, SeedInfo, seed
from bench.served import MIX_SECONDS, RATIO_SECONDS, ServedResult, measure_served
from bench.statements import measure_statements

ROOT = Path(__file__).resolve().parent.parent
VISITORS = ("anon", "coop_a", "coop_b", "center", "municipality", "admin")  # tests/routes/test_permissions.py
WARMUP = 5  # untimed requests before each timed series: template compilation, first connections


@dataclass(frozen=True)
class Sizes:
    """The data set and how many requests each series makes."""

    coops: int
    changes: int  # per status-change route (API and HTML)
    requests: int  # per page / login series
    track_pages: int  # timed GET /tracks/{id} per track
    dashboard: int  # timed requests per 현황판 series
    exports: int  # timed xlsx exports
    only_dashboard: bool = False  # the large size measures what grows with the data: the 현황판
    ratio_seconds: float = 0.0  # per route against a real server (bench/served.py); 0: none
    mix_seconds: float = 0.0  # the mixed load, PostgreSQL only; 0: none

    @property
    def label(self) -> str:
        return f"{self.coops:,} cooperatives"


FULL = Sizes(
    coops=1000,
    changes=300,
    requests=100,
    track_pages=30,
    dashboard=30,
    exports=3,
    ratio_seconds=RATIO_SECONDS,
    mix_seconds=MIX_SECONDS,
)
LARGE = Sizes(
    coops=10_000, changes=0, requests=0, track_pages=0, dashboard=30, exports=3, only_dashboard=True
)
QUICK = Sizes(
    coops=100,
    changes=60,
    requests=20,
    track_pages=10,
    dashboard=10,
    exports=1,
    ratio_seconds=2,
    mix_seconds=8,
)

# The 현황판 series: (key, who, path). Filters as people combine them; a deep page for OFFSET.
FILTERED = "?stage=plan&overdue=1&sort=-progress"
REGION = "?region=부산광역시&sort=progress"
DASHBOARD = (
    ("GET /dashboard (admin)", "admin", "/dashboard"),
    ("GET /dashboard (center)", "center", "/dashboard"),
    (f"GET /dashboard{FILTERED} (admin)", "admin", f"/dashboard{FILTERED}"),
    (f"GET /dashboard{REGION} (admin)", "admin", f"/dashboard{REGION}"),
    ("GET /dashboard?page=20&sort=cooperative (admin)", "admin", "/dashboard?page=20&sort=cooperative"),
    # The charts load after the rows: the fragment the page asks for, and one chart's SVG.
    ("GET /dashboard/charts (admin, HTMX)", "admin-htmx", "/dashboard/charts"),
    ("GET /dashboard/charts/activity.svg (admin)", "admin", "/dashboard/charts/activity.svg"),
    (f"GET /api/v1/dashboard{FILTERED} (admin)", "admin-api", f"/api/v1/dashboard{FILTERED}"),
    # 내 할 일 grows with the cooperatives a center serves (filtered, counted and paged in SQL).
    ("GET /tasks (center)", "center", "/tasks"),
)
DASHBOARD_TARGET_MS = 100.0
EXPORT_TARGET_S = 5.0


@dataclass
class ExportResult:
    rows: int
    bytes: int
    statements: int
    seconds: Stats  # server time, in ms like every Stats
    python_peak_mb: float  # tracemalloc: peak of Python allocations during one export
    rss_peak_mb: float  # peak resident memory during one export, above what it was before


@dataclass
class BackendResult:
    name: str
    url: str = ""
    error: str | None = None
    server_version: str = ""
    migrate_s: float = 0.0
    seed: SeedInfo | None = None
    db_bytes: int = 0
    timings: dict[str, Stats] = field(default_factory=dict)
    client_timings: dict[str, Stats] = field(default_factory=dict)
    gc_ms: dict[str, float] = field(default_factory=dict)  # median GC time per request
    full_gc: dict[str, float] = field(default_factory=dict)  # full (gen 2) collections per request
    body_bytes: dict[str, int] = field(default_factory=dict)  # size of the last response of a series
    statements: dict[str, int | float] = field(default_factory=dict)
    heavy_page_sql: list[str] = field(default_factory=list)
    dashboard_sql: list[str] = field(default_factory=list)
    export: ExportResult | None = None
    readiness: ReadinessResult | None = None
    served: ServedResult | None = None
    coops: int = 0
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.name} · {self.coops:,}"


def _flatten(routes: list[BaseRoute]) -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for route in routes:
        # FastAPI 0.165 keeps an included router as a wrapper object around the original one.
        inner = getattr(route, "original_router", None)
        out.extend(_flatten(list(inner.routes)) if inner is not None else [route])
    return out


def permission_matrix(app: FastAPI) -> tuple[int, int, int]:
    """(route objects, (route name, method) entries as the matrix counts them, matrix cells)."""
    routes = _flatten(list(app.routes))
    keys: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Route):  # APIRoute is a Route
            for method in (route.methods or set()) - {"HEAD", "OPTIONS"}:
                keys.add((route.name, method))
        elif isinstance(route, Mount):
            keys.add((route.name or route.path, "GET"))
    return len(routes), len(keys), len(keys) * len(VISITORS)


class _Bench:
    def __init__(self, name: str, engine: Engine, catalog: Catalog, info: SeedInfo, sizes: Sizes, log: Any):
        self.name, self.engine, self.catalog, self.info, self.sizes, self.log = (
            name,
            engine,
            catalog,
            info,
            sizes,
            log,
        )
        self.tmp = tempfile.TemporaryDirectory(prefix="bench_maeul_uploads_")
        self.settings = settings = Settings(
            database_url=str(engine.url),
            content_dir=ROOT / "content",
            upload_dir=Path(self.tmp.name),
            secret_key="bench-secret-" + "x" * 32,
        )
        self.app = create_app(settings, catalog=catalog, engine=engine)
        # Every page here is rendered afresh, as the first view after a change is: the series
        # repeat one page, which the page cache would otherwise answer (bench/served.py's ratios
        # run with it, as production does). The rows' fragment cache stays, part of rendering.
        self.app.state.pages = None
        self.timer = ServerTimer(self.app)
        self.counter = StatementCounter(engine)
        self.rng = random.Random(7)
        self.result: BackendResult | None = None

    def client(self) -> TestClient:
        return TestClient(self.timer, raise_server_exceptions=True)

    def close(self) -> None:
        self.counter.close()
        self.tmp.cleanup()

    # --- helpers -----------------------------------------------------------------------------

    def login(self, client: TestClient, login: str, password: str = PASSWORD) -> None:
        client.cookies.clear()
        csrf = csrf_token(client.get("/login").text)
        r = client.post(
            "/login",
            data={"username": login, "password": password, "csrf_token": csrf, "next": "/cooperatives"},
            follow_redirects=False,
        )
        assert r.status_code == 303, (r.status_code, r.text[:300])

    def stored(self, track_id: int, key: str) -> tuple[str, int]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(col(ItemState.status), col(ItemState.version)).where(
                    col(ItemState.track_id) == track_id, col(ItemState.item_key) == key
                )
            ).first()
        return (row[0], row[1]) if row else ("todo", 0)

    def next_status(self, current: str) -> str:
        return self.rng.choice([s for s in ("todo", "doing", "done") if s != current])

    def targets(self, coops: list[int]) -> list[tuple[int, int, str]]:
        """(coop, track, item key) spread over the coops' tracks, one change per track in turn."""
        out = []
        tracks = [(c, t, m) for c in coops for t, m in self.info.tracks[c]]
        for i in range(self.sizes.changes + WARMUP):
            coop, track, model_key = tracks[i % len(tracks)]
            model = self.catalog.model(model_key)
            assert model is not None
            out.append((coop, track, self.rng.choice(model.items)[1].key))
        return out

    def series(
        self, key: str, sampler: Sampler, statements: list[int] | None = None, body: bytes = b""
    ) -> None:
        assert self.result is not None
        self.result.body_bytes[key] = len(body)
        sampler.drop(WARMUP)
        self.result.timings[key] = sampler.stats()
        self.result.client_timings[key] = sampler.client_stats()
        self.result.gc_ms[key] = statistics.median(sampler.gc) * 1000
        self.result.full_gc[key] = statistics.fmean(sampler.full_gc)
        if statements:
            counts = sorted(statements[WARMUP:])
            self.result.statements[key] = counts[len(counts) // 2]
        s = self.result.timings[key]
        self.log(
            f"  {key:<38} median {s.median_ms:7.2f} ms  p95 {s.p95_ms:7.2f} ms  (n={s.n}, "
            f"GC {self.result.gc_ms[key]:.1f} ms)"
        )

    def repeat(self, key: str, client: TestClient, path: str, n: int, expect: int = 200) -> None:
        sampler = Sampler(self.timer)
        for _ in range(n + WARMUP):
            r = sampler.timed(client.get, path)
            assert r.status_code == expect, (path, r.status_code)
        self.series(key, sampler, body=r.content)

    # --- the scenarios -----------------------------------------------------------------------

    def status_change_api(self, coops: list[int]) -> None:
        with transaction(self.engine) as s:
            tokens = {}
            for c in coops:
                user = s.get(User, self.info.coop_user[c])
                assert user is not None
                tokens[c] = create_token(session=s, user=user).token
        sampler, stmts = Sampler(self.timer), []
        with self.client() as client:
            for coop, track, key in self.targets(coops):
                auth = {"Authorization": f"Bearer {tokens[coop]}"}
                # untimed: read the item's current version as a client would
                items = client.get(f"/api/v1/tracks/{track}", headers=auth).json()["items"]
                current = next(i for i in items if i["key"] == key)
                body = {"status": self.next_status(current["status"]), "version": current["version"]}
                self.counter.reset()
                r = sampler.timed(
                    client.patch, f"/api/v1/tracks/{track}/items/{key}", json=body, headers=auth
                )
                stmts.append(self.counter.count)
                assert r.status_code == 200, (r.status_code, r.text[:300])
        self.series("PATCH /api/v1/tracks/{id}/items/{key}", sampler, stmts, r.content)

    def status_change_html(self, coops: list[int]) -> None:
        sampler, stmts = Sampler(self.timer), []
        with self.client() as client:
            logged_in, csrf = None, ""
            for coop, track, key in self.targets(coops):
                if coop != logged_in:  # untimed: log in, read the CSRF token from the page
                    self.login(client, self.info.coop_login[coop])
                    csrf = csrf_token(client.get(f"/tracks/{track}").text)
                    logged_in = coop
                status, version = self.stored(track, key)  # untimed
                form = {"csrf_token": csrf, "version": str(version), "status": self.next_status(status)}
                self.counter.reset()
                r = sampler.timed(
                    client.post, f"/tracks/{track}/items/{key}", data=form, headers={"HX-Request": "true"}
                )
                stmts.append(self.counter.count)
                assert r.status_code == 200, (r.status_code, r.text[:300])
                assert f'id="item-{key}"' in r.text
        self.series("POST /tracks/{id}/items/{key} (HTMX)", sampler, stmts, r.content)

    def track_pages(self) -> None:
        assert self.result is not None
        coop = next(iter(self.info.tracks))
        with self.client() as client:
            self.login(client, self.info.coop_login[coop])
            for label, track in (("light", self.info.light_track), ("heavy", self.info.heavy_track)):
                client.get(f"/tracks/{track}")  # warm
                self.counter.reset()
                r = client.get(f"/tracks/{track}")
                assert r.status_code == 200
                self.result.statements[f"GET /tracks/{{id}} ({label})"] = self.counter.count
                if label == "heavy":
                    self.result.heavy_page_sql = list(self.counter.statements)
                self.repeat(
                    f"GET /tracks/{{id}} ({label})", client, f"/tracks/{track}", self.sizes.track_pages
                )

    def public_pages(self) -> None:
        with self.client() as client:
            self.repeat("GET /", client, "/", self.sizes.requests)
            self.repeat("GET /models/solar", client, "/models/solar", self.sizes.requests)

    def login_series(self) -> None:
        for key, login in (
            ("POST /login (real argon2 cost)", LOGIN_USER),
            ("POST /login (cheap test hash)", self.info.coop_login[next(iter(self.info.tracks))]),
        ):
            sampler = Sampler(self.timer)
            with self.client() as client:
                for _ in range(self.sizes.requests + WARMUP):
                    client.cookies.clear()
                    csrf = csrf_token(client.get("/login").text)  # untimed
                    data = {
                        "username": login,
                        "password": PASSWORD,
                        "csrf_token": csrf,
                        "next": "/cooperatives",
                    }
                    r = sampler.timed(client.post, "/login", data=data, follow_redirects=False)
                    assert r.status_code == 303, r.status_code
            self.series(key, sampler, body=r.content)

    def cooperative_lists(self) -> None:
        assert self.result is not None
        for label, login in (("admin", "admin"), ("center", self.info.center_login)):
            with self.client() as client:
                self.login(client, login)
                self.counter.reset()
                client.get("/cooperatives")
                self.result.statements[f"GET /cooperatives ({label})"] = self.counter.count
                self.repeat(f"GET /cooperatives ({label})", client, "/cooperatives", self.sizes.requests)

    def dashboard(self) -> None:
        """The 현황판 as admin and as a center user: pages, a chart, the API, statements each."""
        assert self.result is not None
        with transaction(self.engine) as s:
            admin = s.execute(select(User).where(col(User.login) == "admin")).scalar_one()
            token = create_token(session=s, user=admin).token
        clients: dict[str, TestClient] = {}
        with (
            self.client() as admin_client,
            self.client() as htmx_client,
            self.client() as center_client,
            self.client() as api_client,
        ):
            self.login(admin_client, "admin")
            self.login(htmx_client, "admin")
            htmx_client.headers["HX-Request"] = "true"
            self.login(center_client, self.info.center_login)
            api_client.headers["Authorization"] = f"Bearer {token}"
            clients = {
                "admin": admin_client,
                "admin-htmx": htmx_client,
                "center": center_client,
                "admin-api": api_client,
            }
            for key, who, path in DASHBOARD:
                sampler, stmts = Sampler(self.timer), []
                for _ in range(self.sizes.dashboard + WARMUP):
                    self.counter.reset()
                    r = sampler.timed(clients[who].get, path)
                    stmts.append(self.counter.count)
                    assert r.status_code == 200, (path, r.status_code, r.text[:300])
                if key == "GET /dashboard (admin)":
                    self.result.dashboard_sql = list(self.counter.statements)
                self.series(key, sampler, stmts, r.content)

    def export(self) -> None:
        """GET /dashboard.xlsx as admin (every track): time, then memory in a separate run."""
        assert self.result is not None
        with self.client() as client:
            self.login(client, "admin")
            sampler = Sampler(self.timer)
            for _ in range(self.sizes.exports + 1):  # one warm-up
                self.counter.reset()
                r = sampler.timed(client.get, "/dashboard.xlsx")
                assert r.status_code == 200, (r.status_code, r.text[:300])
            statements = self.counter.count
            sampler.drop(1)
            gc.collect()
            reset_peak = _reset_rss_peak()
            rss_before = _rss_kb("VmRSS")
            tracemalloc.start()
            base, _ = tracemalloc.get_traced_memory()
            r = client.get("/dashboard.xlsx")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rss_peak = (_rss_kb("VmHWM") - rss_before) / 1024 if reset_peak else math.nan
        rows = sum(len(t) for t in self.info.tracks.values())
        self.result.export = ExportResult(
            rows=rows,
            bytes=len(r.content),
            statements=statements,
            seconds=sampler.stats(),
            python_peak_mb=(peak - base) / 2**20,
            rss_peak_mb=rss_peak,
        )
        e = self.result.export
        self.log(
            f"  {'GET /dashboard.xlsx (admin)':<38} median {e.seconds.median_ms / 1000:7.2f} s   "
            f"{rows:,} rows, {e.bytes / 2**20:.1f} MiB, Python peak {e.python_peak_mb:.1f} MiB, "
            f"RSS peak +{e.rss_peak_mb:.1f} MiB"
        )

    def served(self) -> None:
        """Throughput against a real server as ratios of its /healthz; on PostgreSQL the mixed load."""
        assert self.result is not None
        with tempfile.TemporaryDirectory(prefix="bench_maeul_served_") as scratch:
            try:
                self.result.served = measure_served(
                    url=self.engine.url.render_as_string(hide_password=False),
                    engine=self.engine,
                    catalog=self.catalog,
                    info=self.info,
                    upload_dir=self.settings.upload_dir,
                    secret_key=self.settings.secret_key,
                    scratch=Path(scratch),
                    mix=self.name == "PostgreSQL" and self.sizes.mix_seconds > 0,
                    ratio_seconds=self.sizes.ratio_seconds,
                    mix_seconds=self.sizes.mix_seconds,
                    log=self.log,
                )
            except Exception as exc:  # noqa: BLE001 - reported in the table, the run goes on
                self.log(f"  served measurements failed: {type(exc).__name__}: {exc}")
                self.result.served = ServedResult(error=f"{type(exc).__name__}: {exc}")
                return
        # After the served runs: the replays write events to a track none of them uses.
        try:
            self.result.served.replays = measure_statements(
                engine=self.engine,
                catalog=self.catalog,
                info=self.info,
                client=self.client(),
                login=self.login,
            )
        except Exception as exc:  # noqa: BLE001 - the ratios stand without it; the run goes on
            self.log(f"  the statements' own time failed: {type(exc).__name__}: {exc}")
        for r in self.result.served.replays:
            self.log(f"  {r.key:<62} the database alone: {r.ms:6.3f} ms ({r.statements} statements)")

    def readiness(self) -> None:
        """위탁 준비도 of the heavy track with evidence files: warm PDFs here, then a real server."""
        assert self.result is not None
        result = self.result.readiness = ReadinessResult()
        first = next(iter(self.info.tracks))
        track, login = self.info.heavy_track, self.info.coop_login[first]
        result.evidence_files = add_bundle_files(
            self.engine,
            self.catalog,
            track_id=track,
            user_id=self.info.coop_user[first],
            upload_dir=self.settings.upload_dir,
        )
        with self.client() as client:
            self.login(client, login)
            sampler = Sampler(self.timer)
            for _ in range(PDF_WARM + 1):  # one untimed: this process's first render
                r = sampler.timed(client.get, f"/tracks/{track}/readiness.pdf")
                assert r.status_code == 200, (r.status_code, r.text[:300])
            sampler.drop(1)
        result.pdf_warm, result.pdf_bytes = sampler.stats(), len(r.content)
        s = result.pdf_warm
        self.log(
            f"  {'GET /tracks/{id}/readiness.pdf (warm)':<38} median {s.median_ms:7.0f} ms  "
            f"p95 {s.p95_ms:7.0f} ms  (n={s.n}, {result.pdf_bytes / 1024:.0f} KiB)"
        )
        with tempfile.TemporaryDirectory(prefix="bench_maeul_bundle_") as scratch:
            served(
                url=self.engine.url.render_as_string(hide_password=False),
                upload_dir=self.settings.upload_dir,
                secret_key=self.settings.secret_key,
                track_id=track,
                login=login,
                password=PASSWORD,
                scratch=Path(scratch),
                result=result,
                log=self.log,
            )


def _reset_rss_peak() -> bool:
    """Linux: make VmHWM (peak RSS) start again from the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _rss_kb(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def db_size(engine: Engine) -> int:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        return int(pages) * int(size)


def server_version(engine: Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return str(conn.exec_driver_sql("SHOW server_version").scalar_one())
        return str(conn.exec_driver_sql("SELECT sqlite_version()").scalar_one())


def run_backend(
    name: str, url: str, catalog: Catalog, sizes: Sizes, log: Callable[[str], None]
) -> BackendResult:
    """Migrate, seed and measure one database (already created and empty)."""
    result = BackendResult(name=name, url=url, coops=sizes.coops)
    started = perf_counter()
    t = perf_counter()
    upgrade(url)
    result.migrate_s = perf_counter() - t
    engine = make_engine(url)
    try:
        result.server_version = server_version(engine)
        log(f"[{name}] seeding {sizes.coops:,} cooperatives …")
        info = seed(engine, catalog, n_coops=sizes.coops)
        result.seed = info
        result.db_bytes = db_size(engine)
        log(
            f"[{name}] seeded in {info.seconds:.1f} s (summaries {info.summary_seconds:.1f} s): {info.counts}"
        )
        bench = _Bench(name, engine, catalog, info, sizes, log)
        bench.result = result
        try:
            # Coop 1 is the showcase (light/heavy pages); the rest are shuffled for the writes.
            pool = list(info.tracks)[1:]
            random.Random(11).shuffle(pool)
            per_route = max(1, min(len(pool) // 2, (sizes.changes + 1) // 2))
            steps = [bench.dashboard, bench.export]
            if not sizes.only_dashboard:
                steps = [
                    lambda: bench.status_change_api(pool[:per_route]),
                    lambda: bench.status_change_html(pool[per_route : 2 * per_route]),
                    bench.track_pages,
                    bench.public_pages,
                    bench.login_series,
                    bench.cooperative_lists,
                    *steps,
                    bench.served,  # before the readiness files: the pages measured as seeded
                    bench.readiness,  # last: it adds 200 MB of evidence files to the heavy track
                ]
            for step in steps:
                gc.collect()
                step()
        finally:
            bench.close()
    finally:
        engine.dispose()
    result.seconds = perf_counter() - started
    return result
