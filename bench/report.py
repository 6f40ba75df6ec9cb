"""Machine facts and the results table (markdown, padded so it also reads well in a terminal)."""

from __future__ import annotations

import math
import os
import platform
import re
import sqlite3
import subprocess
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.measure import Stats
from bench.readiness import BUNDLE_FILE_MB, BUNDLE_FILES, BUNDLE_RSS_TARGET_MB, PDF_TARGET_S, PDF_WARM
from bench.scenarios import (
    DASHBOARD_TARGET_MS,
    EXPORT_TARGET_S,
    FILTERED,
    REGION,
    BackendResult,
    Sizes,
)
from bench.served import (
    FLOOR_SECONDS,
    MIX_FLOOR_SECONDS,
    MIX_FLOOR_WARMUP,
    MIX_P99_TARGET_MS,
    MIX_SHARES,
    RATIO_WARMUP,
    MixResult,
    ServedResult,
)
from bench.statements import REPLAYS, WARMUP, ceiling

TARGET_MS = 15.0
PACKAGES = ("fastapi", "starlette", "sqlalchemy", "sqlmodel", "psycopg", "argon2-cffi", "jinja2")


def _run(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _proc(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def machine_facts() -> dict[str, str]:
    versions = []
    for p in PACKAGES:
        try:
            versions.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            continue
    return {
        "nproc": _run("nproc") or str(os.cpu_count()),
        "cpu": _proc("/proc/cpuinfo", "model name"),
        "memory": _proc("/proc/meminfo", "MemTotal"),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": sys.version.split()[0],
        "sqlite (python's library)": sqlite3.sqlite_version,
        "packages": ", ".join(versions),
        # Read-only: which code was measured.
        "commit": _run(
            "git", "-C", str(Path(__file__).resolve().parent.parent), "rev-parse", "--short", "HEAD"
        ),
    }


def _ms(s: Stats | None) -> str:
    if s is None or s.n == 0 or math.isnan(s.median_ms):
        return "—"
    return f"{s.median_ms:.1f} / {s.p95_ms:.1f}"


def _short_sql(statement: str) -> str:
    """One line, the column list elided: what is read, from where, under which condition."""
    flat = " ".join(statement.split())
    flat = re.sub(r"^SELECT .+? FROM ", "SELECT … FROM ", flat)
    return flat if len(flat) <= 400 else flat[:400] + " …"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)]


TIMED = [
    (
        "PATCH /api/v1/tracks/{id}/items/{key}",
        "Status change, JSON API: PATCH /api/v1/tracks/{id}/items/{key}",
    ),
    (
        "POST /tracks/{id}/items/{key} (HTMX)",
        "Status change, page: POST /tracks/{id}/items/{key} (HX-Request)",
    ),
    ("GET /tracks/{id} (light)", "GET /tracks/{id}, track with 0 items touched"),
    ("GET /tracks/{id} (heavy)", "GET /tracks/{id}, every item touched, many events"),
    ("GET /", "GET / (anonymous)"),
    ("GET /models/solar", "GET /models/solar (anonymous)"),
    ("POST /login (real argon2 cost)", "POST /login, real hash_password cost"),
    ("POST /login (cheap test hash)", "POST /login, cheap test hash (as in the tests)"),
    ("GET /cooperatives (admin)", "GET /cooperatives as admin (all cooperatives)"),
    ("GET /cooperatives (center)", "GET /cooperatives as a center user"),
    ("GET /dashboard (admin)", "현황판 GET /dashboard, first page as admin (every track)"),
    ("GET /dashboard (center)", "현황판 GET /dashboard, first page as a center user"),
    (f"GET /dashboard{FILTERED} (admin)", f"현황판 filtered + sorted: {FILTERED} (admin)"),
    (f"GET /dashboard{REGION} (admin)", f"현황판 region filter: {REGION} (admin)"),
    ("GET /dashboard?page=20&sort=cooperative (admin)", "현황판 page 20, sorted by name (admin)"),
    ("GET /dashboard/charts (admin, HTMX)", "현황판 charts fragment, loaded after the rows (admin, HTMX)"),
    ("GET /dashboard/charts/activity.svg (admin)", "현황판 chart: 12 weeks of events (admin)"),
    (f"GET /api/v1/dashboard{FILTERED} (admin)", f"GET /api/v1/dashboard{FILTERED} (admin, token)"),
    ("GET /tasks (center)", "내 할 일 GET /tasks as a center user (its cooperatives' items)"),
]


def _target(stats: Stats | None, limit_ms: float) -> str:
    if stats is None or stats.n == 0:
        return "—"
    return "met" if stats.median_ms < limit_ms else "**missed**"


def results_table(results: list[BackendResult]) -> list[str]:
    header = ["Measurement", *(r.label for r in results)]
    rows: list[list[str]] = []

    def row(label: str, fn: object) -> None:
        cells = []
        for r in results:
            try:
                cells.append("—" if r.error and r.seed is None else str(fn(r)))  # type: ignore[operator]
            except (KeyError, AttributeError, TypeError):
                cells.append("—")
        rows.append([label, *cells])

    row("Server version", lambda r: r.server_version or "unreachable")
    row("Migrate (s) · seed (s)", lambda r: f"{r.migrate_s:.1f} · {r.seed.seconds:.1f}")
    row("Database size (MB)", lambda r: f"{r.db_bytes / 1e6:.1f}")
    for key, label in TIMED:
        row(f"{label} — median / p95 ms", lambda r, k=key: _ms(r.timings.get(k)))
        if key.startswith(("PATCH", "POST /tracks")):
            row(
                "  ↳ median < 15 ms target",
                lambda r, k=key: (
                    "—"
                    if k not in r.timings
                    else ("met" if r.timings[k].median_ms < TARGET_MS else "**missed**")
                ),
            )
            row("  ↳ SQL statements per change (median)", lambda r, k=key: r.statements[k])
        if "dashboard" in key:
            row(
                f"  ↳ median < {DASHBOARD_TARGET_MS:.0f} ms target",
                lambda r, k=key: _target(r.timings.get(k), DASHBOARD_TARGET_MS),
            )
            row("  ↳ SQL statements per request (median)", lambda r, k=key: r.statements[k])
    row(
        "SQL statements, GET /tracks/{id}: light / heavy",
        lambda r: f"{r.statements['GET /tracks/{id} (light)']} / {r.statements['GET /tracks/{id} (heavy)']}",
    )
    row(
        "SQL statements, GET /cooperatives: admin / center",
        lambda r: (
            f"{r.statements['GET /cooperatives (admin)']} / {r.statements['GET /cooperatives (center)']}"
        ),
    )
    row("현황판 export GET /dashboard.xlsx (admin): rows", lambda r: f"{r.export.rows:,}")
    row("  ↳ median server time (s)", lambda r: f"{r.export.seconds.median_ms / 1000:.2f}")
    row(
        f"  ↳ < {EXPORT_TARGET_S:.0f} s for 10,000 rows target",
        lambda r: (
            "—"
            if r.export.rows < 10_000
            else "met"
            if r.export.seconds.median_ms < EXPORT_TARGET_S * 1000
            else "**missed**"
        ),
    )
    row("  ↳ peak memory growth: Python (tracemalloc) / RSS (MiB)", lambda r: _memory(r))
    row(
        "  ↳ file size (MiB) · SQL statements",
        lambda r: f"{r.export.bytes / 2**20:.1f} · {r.export.statements}",
    )
    _readiness_rows(row)
    row("Backend wall time (s)", lambda r: f"{r.seconds:.0f}")
    return _table(header, rows)


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _readiness_rows(row: Any) -> None:
    pdf_ms = PDF_TARGET_S * 1000
    row(
        "위탁 준비도 PDF GET /tracks/{id}/readiness.pdf (heavy track + evidence files): size (KiB) · files",
        lambda r: f"{r.readiness.pdf_bytes / 1024:.0f} · {r.readiness.evidence_files}",
    )
    row(
        "  ↳ first request to a freshly started uvicorn (s)",
        lambda r: (
            f"{r.readiness.pdf_first_s:.2f} (target < {PDF_TARGET_S:.0f} s: "
            f"{_met(r.readiness.pdf_first_s < PDF_TARGET_S)})"
        ),
    )
    row(
        f"  ↳ warm, in process: median / p95 of {PDF_WARM} (s)",
        lambda r: (
            f"{r.readiness.pdf_warm.median_ms / 1000:.2f} / {r.readiness.pdf_warm.p95_ms / 1000:.2f} "
            f"(target < {PDF_TARGET_S:.0f} s: {_met(r.readiness.pdf_warm.median_ms < pdf_ms)})"
        ),
    )
    row(
        f"증빙 묶음 GET /tracks/{{id}}/evidence.zip ({BUNDLE_FILES} files × {BUNDLE_FILE_MB} MiB), uvicorn: size (MB) · entries",
        lambda r: (
            f"{r.readiness.bundle_bytes / 1e6:.0f} · {r.readiness.bundle_entries} "
            f"({r.readiness.bundle_evidence} evidence)"
        ),
    )
    row(
        "  ↳ download time (s) · MB/s",
        lambda r: f"{r.readiness.bundle_s:.2f} · {r.readiness.bundle_bytes / 1e6 / r.readiness.bundle_s:.0f}",
    )
    row(
        "  ↳ server RSS growth during the download, peak (MiB; the route renders the PDF before the first byte)",
        lambda r: (
            f"{r.readiness.rss_growth_mb:.1f} of {r.readiness.rss_before_mb:.0f}, "
            f"{r.readiness.rss_first_byte_mb:.1f} by the first byte "
            f"(target < {BUNDLE_RSS_TARGET_MB:.0f} MiB: {_met(r.readiness.rss_growth_mb < BUNDLE_RSS_TARGET_MB)}; "
            f"{r.readiness.rss_samples} samples)"
        ),
    )
    row(
        "  ↳ archive valid (zipfile.testzip) with every evidence file",
        lambda r: "yes" if r.readiness.bundle_valid else "**no**",
    )


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.2f}" for x in values)


def served_section(results: list[BackendResult], plan: list[Sizes]) -> list[str]:
    """Throughput as a ratio of the floor, and the mixed load (bench/served.py)."""
    measured = [r for r in results if r.served is not None]
    if not measured:
        return []
    full = plan[0]
    out = [
        "## Against a real server: throughput as a ratio of the floor, and a mixed load",
        "",
        "`bench/served.py` (docstring). The server is `maeul serve` in a child process, as in production "
        "(uvicorn with uvloop and httptools, access log on), on the seeded database. **Ratios**: one worker; "
        f"wrk with one thread and one connection (`-t1 -c1`), i.e. one request after another over one "
        f"keep-alive connection, {full.ratio_seconds:g} s per route after {RATIO_WARMUP:g} s of the same "
        "requests; every answer is checked by `bench/wrk.lua` and only 2xx count (409s and other statuses are "
        "reported, never taken as throughput). The floor is `GET /healthz` of the same server in the same run, "
        f"{FLOOR_SECONDS:g} s before every route and after the last; each route's ratio is against the mean of "
        "the two floors around it (this machine's speed drifts within a run; the floor's row gives the mean "
        "and range of them all). The two status changes write for real each "
        "time (todo → doing → done → todo, the version read from the previous answer: an event, the summary, "
        "알림 for done). The reads repeat one unchanged page, so after the first they come from the app's page "
        "cache (keyed by the data's revision: a handful of small statements, no rendering); the status changes "
        "never do. The client (wrk) runs on the same two CPUs as the server.",
        "",
    ]
    for r in measured:
        served = r.served
        assert served is not None
        if served.error and not served.ratios:
            out += [f"- {r.label}: not measured ({served.error})", ""]
            continue
        if served.ratios:
            rows = []
            for t in served.ratios:
                target = "—" if t.target is None else f"≥ {t.target:g}×"
                met = "—" if t.met is None else ("met" if t.met else "**missed**")
                answers = f"{t.ok:,} 2xx"
                if t.conflicts or t.other_status or t.socket_errors:
                    answers += (
                        f", **{t.conflicts} 409, {t.other_status} other, {t.socket_errors} socket errors**"
                    )
                rows.append(
                    [t.key, f"{t.rps:,.0f}", f"{t.ratio:.2f}×", target, met, f"{t.p50_ms:.2f}", answers]
                )
            out += [
                f"**{r.label}** ({served.wrk}; load average {_load(served.load_before)} → "
                f"{_load(served.load_after)}):",
                "",
                *_table(
                    [
                        "Route (one worker, one connection)",
                        "req/s",
                        "ratio",
                        "target",
                        "result",
                        "p50 ms",
                        "answers",
                    ],
                    rows,
                ),
                "",
            ]
        if served.ratios and served.replays:
            out += _replay_table(r.label, served)
        if served.mix is not None:
            out += _mix_table(r.label, served.mix)
    return out


def _replay_table(label: str, served: ServedResult) -> list[str]:
    """The statements' own time next to each request's served time, and the ratio it leaves."""
    floor, *routes = served.ratios
    floor_ms = 1000 / floor.rps
    floor_db = served.replays[0].ms
    served_ms = {t.key: 1000 / t.rps for t in routes if t.rps}
    targets = {t.key: t.target for t in routes}
    rows = []
    for n, rep in enumerate(served.replays):
        ms = floor_ms if n == 0 else served_ms.get(rep.key, math.nan)
        top = 1.0 if n == 0 else ceiling(floor_ms=floor_ms, floor_db_ms=floor_db, db_ms=rep.ms)
        target = targets.get(rep.key)
        rows.append(
            [
                rep.key.split(" (")[0],
                str(rep.statements),
                f"{rep.ms:.3f}",
                f"{ms:.2f}",
                f"{100 * rep.ms / ms:.0f} %",
                f"{top:.2f}×",
                "—"
                if target is None
                else f"≥ {target:g}×" + ("" if top >= target else " (**out of reach**)"),
            ]
        )
    return [
        f"**{label}: the statements' own time** (`bench/statements.py`): each request's SQL, captured "
        f"through the app and replayed on one raw driver connection ({WARMUP} untimed, then the mean of "
        f"{REPLAYS}), against the request's served time above. The ceiling is the ratio the request would "
        "reach if all its work but the SQL cost what the floor's does.",
        "",
        *_table(
            [
                "Request",
                "statements",
                "database alone, ms",
                "served, ms",
                "database share",
                "ratio ceiling",
                "target",
            ],
            rows,
        ),
        "",
    ]


def _mix_table(label: str, mix: MixResult) -> list[str]:
    shares = ", ".join(f"{int(w * 100)} % {k}" for k, w in MIX_SHARES)
    per_kind = " · ".join(
        f"{k} {mix.pct(50, k):.1f} / {mix.pct(95, k):.1f} / {mix.pct(99, k):.1f} (n={len(mix.latencies.get(k, [])):,})"
        for k, _ in MIX_SHARES
    )
    rows = [
        ["Requests per second (all answers)", f"{mix.rps:,.0f} ({mix.requests:,} in {mix.seconds:g} s)"],
        ["Latency p50 / p95 / p99 (ms, 2xx)", f"{mix.pct(50):.1f} / {mix.pct(95):.1f} / {mix.pct(99):.1f}"],
        ["  ↳ per kind p50 / p95 / p99 (ms)", per_kind],
        ["Errors (connection, timeout, non-2xx other than 409)", f"{mix.errors:,}"],
        ["Conflicts (409, stale version)", f"{mix.conflicts:,}"],
        *_floor_rows(mix),
        [
            f"p99 < {MIX_P99_TARGET_MS:.0f} ms and 0 errors target",
            "met" if mix.met else "**missed**",
        ],
        [
            "CPU during the run: client / server (cores of 2)",
            f"{mix.client_cpu:.2f} / {mix.server_cpu:.2f}",
        ],
        ["Load average at the end", _load(mix.load)],
    ]
    out = [
        f"**Mixed load, {label}**: {mix.workers} workers (`maeul serve --workers {mix.workers}`), "
        f"{mix.clients} asyncio clients (bench/loadclient.py, closed loop, no think time), each its own cooperative "
        f"user and track plus a 현황판 viewer (admin or a center user, alternately); {shares} "
        "(page: GET /tracks/{id}; change: POST /tracks/{id}/items/{key} as HTMX with the version read from "
        "the page or the previous answer; dashboard: GET /dashboard); "
        f"{mix.warmup:g} s not counted, then {mix.seconds:g} s. Latency is the client's wall time to the last "
        "byte. The client shares the two CPUs with the server (its CPU time is in the table): the figures "
        "include waiting for it. Before the mix, the same clients ask only `GET /healthz` "
        f"({MIX_FLOOR_SECONDS:g} s after {MIX_FLOOR_WARMUP:g} s): the floor of this concurrency on this "
        "machine, which the mix's throughput is a ratio of.",
        "",
        *_table(["Measurement", "Value"], rows),
    ]
    if mix.error_samples:
        out += ["", "Error samples:", *(f"- `{e}`" for e in mix.error_samples)]
    if mix.rates:
        out += ["", *_rates_table(label, mix)]
    return [*out, ""]


def _floor_rows(mix: MixResult) -> list[list[str]]:
    """The mix's floor: what the same clients get from GET /healthz alone, and the mix against it."""
    floor = mix.floor
    if floor is None or not floor.requests:
        return []
    return [
        [
            "The same clients asking only GET /healthz (the mix's floor): req/s, p50 / p95 / p99 (ms)",
            f"{floor.rps:,.0f}; {floor.pct(50):.1f} / {floor.pct(95):.1f} / {floor.pct(99):.1f}"
            + (f"; **{floor.errors} errors**" if floor.errors else ""),
        ],
        ["Mix throughput as a ratio of its floor", f"{mix.rps / floor.rps:.2f}×"],
        # Little's law for a closed loop: each client always has one request in flight.
        [
            "Mean latency the throughput allows (clients ÷ req/s): mix / floor (ms)",
            f"{1000 * mix.clients / mix.rps:.1f} / {1000 * floor.clients / floor.rps:.1f}",
        ],
    ]


def _rates_table(label: str, mix: MixResult) -> list[str]:
    """The same mix offered at fixed rates: the load this machine serves within the p99 target."""
    rows = [
        [
            f"{r.offered:g}",
            f"{r.requests:,}",
            f"{r.pct(50):.1f} / {r.pct(95):.1f} / {r.pct(99):.1f}",
            f"{r.errors:,}",
            "met" if r.met else "missed",
        ]
        for r in mix.rates
        if r.offered is not None
    ]
    within = [r.offered for r in mix.rates if r.offered is not None and r.met]
    first = mix.rates[0]
    return [
        f"**The same mix at fixed offered rates, {label}** (open loop, after the run above, on the same "
        f"sessions): requests arrive at the rate (Poisson), whatever the answers take, each to the next "
        "of the clients in turn; a client's requests share its one connection, so one that arrives while "
        "the previous is in flight waits, and its latency counts from its arrival (no coordinated "
        f"omission). {first.warmup:g} s not counted, then {first.seconds:g} s per rate. This is what the "
        "machine serves within the target, which the closed loop above (each client always waiting on "
        "an answer) does not show.",
        "",
        *_table(
            [
                "Offered (req/s)",
                "Requests",
                "p50 / p95 / p99 (ms)",
                "Errors",
                f"p99 < {MIX_P99_TARGET_MS:.0f} ms",
            ],
            rows,
        ),
        "",
        f"Highest offered rate tested with p99 < {MIX_P99_TARGET_MS:.0f} ms and no errors: "
        + (f"**{max(within):g} req/s**." if within else "none."),
    ]


def _memory(r: BackendResult) -> str:
    assert r.export is not None
    rss = "?" if math.isnan(r.export.rss_peak_mb) else f"{r.export.rss_peak_mb:.1f}"
    return f"{r.export.python_peak_mb:.1f} / {rss}"


def detail_table(results: list[BackendResult]) -> list[str]:
    header = ["Series", *(f"{r.label}: round trip · GC · full GCs/req · body" for r in results)]

    def cell(r: BackendResult, k: str) -> str:
        if k not in r.client_timings:
            return "—"
        return (
            f"{r.client_timings[k].median_ms:.1f} ms · {r.gc_ms[k]:.1f} ms · {r.full_gc[k]:.2f} · "
            f"{r.body_bytes.get(k, 0) / 1024:.1f} KiB"
        )

    measured = [(k, label) for k, label in TIMED if any(k in r.client_timings for r in results)]
    return _table(header, [[label, *(cell(r, k) for r in results)] for k, label in measured])


def render_markdown(
    *,
    results: list[BackendResult],
    facts: dict[str, str],
    plan: list[Sizes],
    quick: bool,
    matrix: tuple[int, int, int],
    peak_rss_kb: int,
    total_s: float,
    notes: list[str],
) -> str:
    full = plan[0]
    out = [
        "# Benchmarks" + (" (quick run)" if quick else ""),
        "",
        f"Run {datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')} with `python -m bench.run"
        + (" --quick" if quick else " --large" if len(plan) > 1 else "")
        + f"` in {total_s:.0f} s. Measurements, not tests: nothing here fails on a slow number.",
        "",
        "## Machine",
        "",
        *(f"- {k}: {v}" for k, v in facts.items()),
        *sorted(
            {
                f"- PostgreSQL server: {r.server_version}"
                for r in results
                if r.name == "PostgreSQL" and r.server_version
            }
        ),
        "",
        "## Data set",
        "",
        "How it is built: `bench/seed.py` and `app.services.synthetic` (docstrings): the simulator behind "
        "`maeul demo load --cooperatives N`, histories over 18 months, one block of 1,000 cooperatives at a time.",
        "",
    ]
    for sizes in plan:
        seeded = next((r.seed for r in results if r.seed and r.coops == sizes.coops), None)
        if seeded is None:
            continue
        c = seeded.counts
        heavy = seeded.heavy_track
        out += [
            f"- **{c['cooperative']:,} cooperatives** × 2 tracks ({c['track']:,} tracks), {c['municipality']} "
            f"municipalities, {c['support_center']} centers, {c['app_user']:,} users; {c['item_state']:,} item "
            f"states, **{c['event']:,} events** ({c['event'] / c['track']:.0f} per track), {c['evidence']:,} "
            f"evidence links, {c['comment']:,} comments. The heavy track page has "
            f"{seeded.touched_by_track[heavy]} items touched and {seeded.events_by_track[heavy]} events; the "
            f"light one 0 and 1. The center user sees {seeded.center_coops:,} cooperatives "
            f"({2 * seeded.center_coops:,} 현황판 rows); admin all. Seed "
            + " · ".join(
                f"{r.name} {r.seed.seconds:.0f} s" for r in results if r.seed and r.coops == sizes.coops
            )
            + " (of which the summaries' `refresh_all` "
            + " · ".join(
                f"{r.seed.summary_seconds:.0f} s" for r in results if r.seed and r.coops == sizes.coops
            )
            + ").",
        ]
    large = [s for s in plan if s.only_dashboard]
    out += [
        "",
        "## Results",
        "",
        "Server time (inside the ASGI app, middleware included), every page rendered afresh: the page cache "
        "is off for these series (a repeated page would come from it), so they show what a first view after "
        "a change costs; the ratios further down run with it, as production does. "
        f"At {full.label}: {full.changes} status changes "
        f"per route spread over {full.changes} tracks, {full.requests} requests per page/login series, "
        f"{full.track_pages} per track page, {full.dashboard} per 현황판 series, {full.exports} timed xlsx exports"
        + (
            f"; at {large[0].label} only the 현황판 series ({large[0].dashboard} each) and the export "
            f"({large[0].exports} timed), the parts that grow with the data"
            if large
            else "; the 10,000-cooperative size is left out of `make bench` (its two seeds and the "
            "현황판 at that size take about eight minutes more): `make bench-large` writes "
            "`bench/results/large.md`"
        )
        + f". {5} untimed warm-up requests before each series (one before the exports). p95 is the "
        "nearest-rank 95th percentile. SQL statements are counted with `before_cursor_execute`, transaction "
        "control (BEGIN/COMMIT/SAVEPOINT) left out. Export memory is measured in one more, untimed export: "
        "the peak of Python allocations (tracemalloc) and of the process's resident memory (VmHWM, reset "
        "before) above what they were before it. 위탁 준비도 (`bench/readiness.py`, docstring): at "
        f"{full.label} only, last, on the heavy track with {BUNDLE_FILES} evidence files of {BUNDLE_FILE_MB} MiB "
        "added through `app.services.evidence.add_file`; warm PDFs in process (server time), then uvicorn in a "
        "subprocess on 127.0.0.1: the first PDF right after it answers (client wall time, its WeasyPrint "
        "warm-up thread racing), and the bundle streamed to disk while the server's VmRSS is sampled every "
        "50 ms (growth: highest sample minus the one before the request).",
        "",
        *results_table(results),
        "",
        "Details (medians): TestClient round trip (server time + client overhead), time in Python's cyclic "
        "GC during the request, full (generation 2) collections per request, response body size.",
        "",
        *detail_table(results),
        "",
        *served_section(results, plan),
        f"- Permission matrix: {matrix[1]} (route name, method) entries from {matrix[0]} flattened routes "
        f"× 6 visitors = **{matrix[2]} cells** (each a request in tests/routes/test_permissions.py).",
        f"- Peak RSS of the benchmark process: **{peak_rss_kb / 1024:.0f} MiB** (resource.getrusage ru_maxrss).",
        *(f"- {n}" for n in notes),
        "",
    ]
    for r in results:
        for what, sql in (
            ("GET /tracks/{id} (heavy)", r.heavy_page_sql),
            ("GET /dashboard (admin)", r.dashboard_sql),
        ):
            if sql and r.coops == full.coops:  # the same statements at every size
                out += [
                    f"<details><summary>{r.label}: the {len(sql)} statements of {what}</summary>",
                    "",
                    *(f"{i}. `{_short_sql(s)}`" for i, s in enumerate(sql, 1)),
                    "",
                    "</details>",
                    "",
                ]
    return "\n".join(out)
