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

from bench.measure import Stats
from bench.scenarios import BackendResult, Sizes

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
]


def results_table(results: list[BackendResult]) -> list[str]:
    header = ["Measurement", *(r.name for r in results)]
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
    row("Backend wall time (s)", lambda r: f"{r.seconds:.0f}")
    return _table(header, rows)


def detail_table(results: list[BackendResult]) -> list[str]:
    header = ["Series", *(f"{r.name}: round trip · GC · full GCs/req · body" for r in results)]

    def cell(r: BackendResult, k: str) -> str:
        if k not in r.client_timings:
            return "—"
        return (
            f"{r.client_timings[k].median_ms:.1f} ms · {r.gc_ms[k]:.1f} ms · {r.full_gc[k]:.2f} · "
            f"{r.body_bytes.get(k, 0) / 1024:.1f} KiB"
        )

    return _table(header, [[label, *(cell(r, k) for r in results)] for k, label in TIMED])


def render_markdown(
    *,
    results: list[BackendResult],
    facts: dict[str, str],
    sizes: Sizes,
    quick: bool,
    matrix: tuple[int, int, int],
    peak_rss_kb: int,
    total_s: float,
    notes: list[str],
) -> str:
    seeded = next((r.seed for r in results if r.seed), None)
    out = [
        "# Benchmarks" + (" (quick run)" if quick else ""),
        "",
        f"Run {datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')} with `python -m bench.run"
        + (" --quick" if quick else "")
        + f"` in {total_s:.0f} s. Measurements, not tests: nothing here fails on a slow number.",
        "",
        "## Machine",
        "",
        *(f"- {k}: {v}" for k, v in facts.items()),
        *(
            f"- PostgreSQL server: {r.server_version}"
            for r in results
            if r.name == "PostgreSQL" and r.server_version
        ),
        "",
        "## Data set",
        "",
    ]
    if seeded:
        c = seeded.counts
        heavy = seeded.heavy_track
        out += [
            f"{c['cooperative']} cooperatives × 2 tracks ({c['track']} tracks), {c['municipality']} municipalities, "
            f"{c['support_center']} centers, {c['app_user']} users; {c['item_state']} item states "
            f"(~40 % of items touched), {c['event']} events, {c['evidence']} evidence links, {c['comment']} comments. "
            f"The heavy track page has {seeded.touched_by_track[heavy]} items touched and "
            f"{seeded.events_by_track[heavy]} events; the light one 0 and 1. The center user sees "
            f"{seeded.center_coops} cooperatives. How it is built: `bench/seed.py` (docstring).",
            "",
        ]
    out += [
        "## Results",
        "",
        f"Server time (inside the ASGI app, middleware included) of {sizes.changes} status changes per route "
        f"spread over {sizes.changes} tracks, {sizes.requests} requests per page/login series, "
        f"{sizes.track_pages} per track page; {5} untimed warm-up requests before each series. "
        "p95 is the nearest-rank 95th percentile. SQL statements are counted with `before_cursor_execute`, "
        "transaction control (BEGIN/COMMIT/SAVEPOINT) left out.",
        "",
        *results_table(results),
        "",
        "Details (medians): TestClient round trip (server time + client overhead), time in Python's cyclic "
        "GC during the request, full (generation 2) collections per request, response body size.",
        "",
        *detail_table(results),
        "",
        f"- Permission matrix: {matrix[1]} (route name, method) entries from {matrix[0]} flattened routes "
        f"× 6 visitors = **{matrix[2]} cells** (each a request in tests/routes/test_permissions.py).",
        f"- Peak RSS of the benchmark process: **{peak_rss_kb / 1024:.0f} MiB** (resource.getrusage ru_maxrss).",
        *(f"- {n}" for n in notes),
        "",
    ]
    for r in results:
        if r.heavy_page_sql:
            out += [
                f"<details><summary>{r.name}: the {len(r.heavy_page_sql)} statements of GET /tracks/{{id}} (heavy)</summary>",
                "",
                *(f"{i}. `{_short_sql(s)}`" for i, s in enumerate(r.heavy_page_sql, 1)),
                "",
                "</details>",
                "",
            ]
    return "\n".join(out)
