"""Against a real server: throughput as a ratio of the floor, and a mixed load of 32 clients.

The server is ``maeul serve`` in a child process (its own process group), exactly as production
starts it (uvicorn with uvloop and httptools, access log on), against the benchmark's seeded
database, on a free port of 127.0.0.1.

* **Ratios to the floor** (one worker): wrk with one thread and one connection (``-t1 -c1``), so
  one request after another over one keep-alive connection, ``RATIO_SECONDS`` per route after
  ``RATIO_WARMUP`` seconds of the same requests. The floor is ``GET /healthz`` of the same server
  in the same run, ``FLOOR_SECONDS`` before every route and after the last: each route's ratio is
  against the mean of the floors just before and after it. Every answer is checked by
  ``bench/wrk.lua``: only 2xx count as throughput; a 409 or any other status is reported. The two
  status changes send a real change each time (todo → doing → done → todo, the version read from
  the previous answer), so each one writes, logs an event, refreshes the summary and (for done)
  fans out 알림. The reads repeat one unchanged page: after the first, the app's page cache
  answers them (keyed by the data's revision), as it would for anyone re-reading a page. The API read and the API change use a bearer token, the page and the page's
  change a logged-in session cookie and its CSRF token, the 현황판 an admin session.
* **Mixed load** (PostgreSQL, ``MIX_WORKERS`` workers): ``MIX_CLIENTS`` asyncio clients
  (bench/loadclient.py: one keep-alive connection each, light on the CPUs it shares), closed loop without think time, each with its own cooperative user (and track) and a
  현황판 viewer (admin or a center user, alternately); each request is a track page (70 %), a
  status change through the page route as HTMX (20 %; the version read from the page or the
  previous answer) or the 현황판's first page (10 %). ``MIX_WARMUP`` seconds are not counted, then
  ``MIX_SECONDS`` are. Latency is the client's wall time from sending to the last byte read.
  Errors: connection failures, timeouts, and any status but 2xx (409s, which a stale version
  would get, are counted apart as conflicts). The client shares the machine's CPUs with the
  server: its own CPU time and the workers' are read from /proc and reported with the figures.
* **The mix's floor** (before the mixed load, on its sessions): the same clients, closed loop,
  each asking only ``GET /healthz`` for ``MIX_FLOOR_SECONDS``: what these workers, this client and
  these two CPUs serve at 32 concurrent clients when a request does nothing but answer (one
  ``SELECT 1``), and the latency that concurrency costs by itself. The mix's throughput is reported
  as a ratio of it, as the single-connection routes are of theirs.
* **Offered rates** (after the mixed load, on its sessions): the same mix at each rate of
  ``MIX_RATES`` requests a second, open loop (Poisson arrivals, each to the next client in turn,
  waiting for that client's connection if it is busy; latency from the arrival), so the figures
  show the load served within the p99 target rather than how far a saturated queue grows.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx2
from sqlalchemy import Engine, select
from sqlmodel import col

from app.catalog import Catalog
from app.db import transaction
from app.models import ItemState, User
from app.services.auth import create_token
from bench.loadclient import Connection, LoadClientError
from bench.measure import csrf_token
from bench.seed import PASSWORD, SeedInfo
from tests.servers import ServerProcess, server_env

if TYPE_CHECKING:  # bench.statements replays the SQL of these routes, and imports from here
    from bench.statements import Replayed

ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
ROW_RE = re.compile(r'class="trow trow--(\w+)" id="item-([^"]+)".*?name="version" value="(\d+)"', re.S)

RATIO_SECONDS = 6.0
RATIO_WARMUP = 1.0
FLOOR_SECONDS = 3.0  # each floor run (one before every route)
MIX_WORKERS = 4
MIX_CLIENTS = 32
MIX_SECONDS = 30.0
MIX_WARMUP = 5.0
MIX_SHARES = (("page", 0.70), ("change", 0.20), ("dashboard", 0.10))
MIX_P99_TARGET_MS = 100.0
MIX_FLOOR_SECONDS = 10.0
MIX_FLOOR_WARMUP = 2.0
FLOOR_KIND = "floor"  # the mix's floor: GET /healthz only
# The same mix at fixed offered rates (open loop): what this machine serves within the p99 target.
MIX_RATES = (100.0, 200.0, 300.0, 350.0, 400.0)
MIX_RATE_SECONDS = 10.0
MIX_RATE_WARMUP = 2.0
NEXT_STATUS = {"todo": "doing", "doing": "done", "done": "todo", "na": "doing"}


def log_nothing(msg: str) -> None:
    pass


# --- the server ------------------------------------------------------------------------------


def _server_cpu(server: ServerProcess) -> float:
    """CPU seconds of the server: its supervisor and every child (workers, helpers)."""
    assert server.proc is not None
    return sum(_cpu_seconds(pid) for pid in (server.proc.pid, *(pid for pid, _ in server.children())))


def serve(*, url: str, upload_dir: Path, secret_key: str, workers: int, log_path: Path) -> ServerProcess:
    """``maeul serve --workers N`` on a free port against the benchmark's database (start it
    with ``with``; the whole process group stops on exit)."""
    env = server_env(url, upload_dir, MAEUL_SECRET_KEY=secret_key)
    return ServerProcess(env, workers=workers, log_path=log_path)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process (/proc/<pid>/stat), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def login(base: str, login_name: str, csrf_page: str) -> tuple[str, str]:
    """(session cookie, CSRF token) of a fresh login, the token read from ``csrf_page``."""
    with httpx2.Client(base_url=base, timeout=30, trust_env=False) as client:
        csrf = csrf_token(client.get("/login").text)
        r = client.post(
            "/login",
            data={"username": login_name, "password": PASSWORD, "csrf_token": csrf, "next": "/"},
            follow_redirects=False,
        )
        assert r.status_code == 303, (login_name, r.status_code, r.text[:300])
        page = client.get(csrf_page)
        assert page.status_code == 200, (csrf_page, page.status_code)
        return f"maeul_session={client.cookies['maeul_session']}", csrf_token(page.text)


def new_token(engine: Engine, login_name: str) -> str:
    with transaction(engine) as s:
        user = s.execute(select(User).where(col(User.login) == login_name)).scalar_one()
        return create_token(session=s, user=user).token


def _stored(engine: Engine, track_id: int, key: str) -> tuple[str, int]:
    with engine.connect() as conn:
        row = conn.execute(
            select(col(ItemState.status), col(ItemState.version)).where(
                col(ItemState.track_id) == track_id, col(ItemState.item_key) == key
            )
        ).first()
    return (row[0], row[1]) if row else ("todo", 0)


# --- ratios to the floor: wrk, one connection ----------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # the report's label
    method: str
    path: str
    headers: dict[str, str]
    target: float | None = None  # minimum ratio to the floor
    write: tuple[str, str, int, str] | None = None  # (mode, status, version, csrf) for changes


@dataclass
class Throughput:
    key: str
    rps: float  # 2xx answers per second
    requests: int
    ok: int
    conflicts: int
    other_status: int
    socket_errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    target: float | None = None
    body_bytes: int = 0
    ratio: float = math.nan

    @property
    def clean(self) -> bool:
        return self.ok > 0 and not (self.conflicts or self.other_status or self.socket_errors)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.clean and self.ratio >= self.target


def wrk_available() -> str | None:
    return shutil.which("wrk")


def run_wrk(base: str, route: Route, seconds: float) -> Throughput:
    """One wrk run of ``seconds`` on one connection; the counts come from bench/wrk.lua's done()."""
    args = [route.write[0], route.method, route.path] if route.write else ["get", route.method, route.path]
    if route.write:
        _, status, version, csrf = route.write
        args += [status, str(version), quote(csrf, safe="")]
    for name, value in route.headers.items():
        args += [name, value]
    cmd = ["wrk", "-t1", "-c1", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(WRK_SCRIPT)]
    out = subprocess.run(  # noqa: S603 - wrk with our own script
        [*cmd, base + route.path, "--", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 60,
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {out.stdout[-500:]} {out.stderr[-500:]}")
    d = json.loads(line[4:])
    duration = d["duration_us"] / 1e6
    socket_errors = d["connect"] + d["read"] + d["write"] + d["timeout"]
    return Throughput(
        key=route.key,
        rps=d["ok"] / duration if duration else math.nan,
        requests=d["requests"],
        ok=d["ok"],
        conflicts=d["conflicts"],
        other_status=d["other_status"],
        socket_errors=socket_errors,
        seconds=duration,
        p50_ms=d["p50_us"] / 1000,
        p99_ms=d["p99_us"] / 1000,
        target=route.target,
    )


# The routes of the ratio table, with the targets of issue 10 (item 5).
API_READ = "GET /api/v1/tracks/{id} (heavy track, token)"
API_CHANGE = "PATCH /api/v1/tracks/{id}/items/{key} (status change, token)"
PAGE_CHANGE = "POST /tracks/{id}/items/{key} (status change, HTMX, session)"
PAGE = "GET /tracks/{id} (heavy track page, session)"
PAGE_LIGHT = "GET /tracks/{id} (light track page, session)"
DASHBOARD = "GET /dashboard (현황판 first page, admin)"
DASHBOARD_CENTER = "GET /dashboard (현황판 first page, a center user)"
MODELS = "GET /api/v1/models (catalog, token)"
FLOOR = "GET /healthz (the floor)"


def ratio_routes(
    *, base: str, engine: Engine, catalog: Catalog, info: SeedInfo
) -> tuple[list[Route], dict[str, str]]:
    """The routes, their credentials made fresh (tokens in the database, logins on the server)."""
    coops = list(info.tracks)
    first, api_coop, page_coop = coops[0], coops[1], coops[2]
    heavy, light = info.heavy_track, info.light_track
    token = new_token(engine, info.coop_login[first])
    api_token = new_token(engine, info.coop_login[api_coop])
    page_cookie, _ = login(base, info.coop_login[first], f"/tracks/{heavy}")
    admin_cookie, _ = login(base, "admin", "/dashboard")
    center_cookie, _ = login(base, info.center_login, "/dashboard")
    api_track, api_model = info.tracks[api_coop][0]
    change_track, change_model = info.tracks[page_coop][0]
    change_cookie, change_csrf = login(base, info.coop_login[page_coop], f"/tracks/{change_track}")

    def first_item(model_key: str) -> str:
        model = catalog.model(model_key)
        assert model is not None
        return model.items[0][1].key

    api_key, page_key = first_item(api_model), first_item(change_model)
    api_status, api_version = _stored(engine, api_track, api_key)
    page_status, page_version = _stored(engine, change_track, page_key)
    bearer = {"Authorization": f"Bearer {token}"}
    routes = [
        Route(API_READ, "GET", f"/api/v1/tracks/{heavy}", bearer, target=0.5),
        Route(MODELS, "GET", "/api/v1/models", bearer),
        Route(PAGE, "GET", f"/tracks/{heavy}", {"Cookie": page_cookie}, target=0.3),
        Route(PAGE_LIGHT, "GET", f"/tracks/{light}", {"Cookie": page_cookie}),
        Route(DASHBOARD, "GET", "/dashboard", {"Cookie": admin_cookie}, target=0.2),
        # The 현황판's own user: a center sees its cooperatives (admin sees every track).
        Route(DASHBOARD_CENTER, "GET", "/dashboard", {"Cookie": center_cookie}, target=0.2),
        Route(
            API_CHANGE,
            "PATCH",
            f"/api/v1/tracks/{api_track}/items/{api_key}",
            {"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"},
            target=0.3,
            write=("json", api_status, api_version, ""),
        ),
        Route(
            PAGE_CHANGE,
            "POST",
            f"/tracks/{change_track}/items/{page_key}",
            {
                "Cookie": change_cookie,
                "Content-Type": "application/x-www-form-urlencoded",
                "HX-Request": "true",
            },
            target=0.3,
            write=("form", page_status, page_version, change_csrf),
        ),
    ]
    return routes, {"api": api_key, "page": page_key}


def _check_once(base: str, route: Route) -> int:
    """One untimed request with the route's own credentials: a read must answer 200 with a body."""
    if route.write:
        return 0
    r = httpx2.request(route.method, base + route.path, headers=route.headers, timeout=30, trust_env=False)
    assert r.status_code == 200, (route.key, r.status_code, r.text[:300])
    return len(r.content)


def measure_ratios(
    *,
    base: str,
    engine: Engine,
    catalog: Catalog,
    info: SeedInfo,
    seconds: float = RATIO_SECONDS,
    log: Callable[[str], None] = log_nothing,
) -> list[Throughput]:
    """The floor before each route and after the last; each route's ratio is against the floors
    measured just before and just after it (this machine's speed drifts by a fifth within a run)."""
    routes, _ = ratio_routes(base=base, engine=engine, catalog=catalog, info=info)
    floor = Route(FLOOR, "GET", "/healthz", {})
    run_wrk(base, floor, RATIO_WARMUP * 2)  # the server's own start-up work settles

    def measure(route: Route, length: float) -> Throughput:
        size = _check_once(base, route)
        if not route.write:
            run_wrk(base, route, RATIO_WARMUP)
        result = run_wrk(base, route, length)
        result.body_bytes = size
        log(
            f"  {route.key:<62} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
            f"({result.ok} ok, {result.conflicts} 409, {result.other_status} other, "
            f"{result.socket_errors} socket errors)"
        )
        return result

    floors = [measure(floor, FLOOR_SECONDS)]
    out: list[Throughput] = []
    for route in routes:
        result = measure(route, seconds)
        floors.append(measure(floor, FLOOR_SECONDS))
        around = (floors[-2].rps + floors[-1].rps) / 2
        result.ratio = result.rps / around if around else math.nan
        out.append(result)
    rates = [f.rps for f in floors]
    merged = Throughput(
        key=f"{FLOOR}: {len(floors)} runs, one before each route and after the last, "
        f"{min(rates):.0f}–{max(rates):.0f} req/s",
        rps=sum(rates) / len(rates),
        requests=sum(f.requests for f in floors),
        ok=sum(f.ok for f in floors),
        conflicts=sum(f.conflicts for f in floors),
        other_status=sum(f.other_status for f in floors),
        socket_errors=sum(f.socket_errors for f in floors),
        seconds=sum(f.seconds for f in floors),
        p50_ms=sum(f.p50_ms for f in floors) / len(floors),
        p99_ms=max(f.p99_ms for f in floors),
        body_bytes=floors[0].body_bytes,
        ratio=1.0,
    )
    return [merged, *out]


# --- the mixed load: asyncio clients ----------------------------------------------------------------


@dataclass
class MixResult:
    workers: int = MIX_WORKERS
    clients: int = MIX_CLIENTS
    seconds: float = 0.0
    warmup: float = MIX_WARMUP
    latencies: dict[str, list[float]] = field(default_factory=dict)  # kind → seconds, 2xx only
    errors: int = 0
    conflicts: int = 0
    error_samples: list[str] = field(default_factory=list)
    client_cpu: float = math.nan  # CPU seconds per wall second (1.0 = one core)
    server_cpu: float = math.nan
    load: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    offered: float | None = None  # requests a second, for an open-loop run (None: closed loop)
    rates: list[MixResult] = field(default_factory=list)  # the open-loop runs after a closed one
    floor: MixResult | None = None  # the same clients asking only GET /healthz, before the mix

    @property
    def all(self) -> list[float]:
        return sorted(x for v in self.latencies.values() for x in v)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + self.errors + self.conflicts

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else math.nan

    def pct(self, p: float, kind: str | None = None) -> float:
        """Nearest-rank percentile in ms."""
        xs = self.all if kind is None else sorted(self.latencies.get(kind, []))
        if not xs:
            return math.nan
        return xs[max(1, math.ceil(p / 100 * len(xs))) - 1] * 1000

    @property
    def met(self) -> bool:
        return self.errors == 0 and self.pct(99) < MIX_P99_TARGET_MS


@dataclass
class _Client:
    http: Connection  # the cooperative user's session
    viewer: Connection  # a 현황판 viewer's session
    track_id: int
    csrf: str
    items: dict[str, tuple[str, int]]  # key → (status, version), as last seen


async def _open_client(base: str, coop_login: str, viewer_login: str, track_id: int) -> _Client:
    async def session(login_name: str) -> Connection:
        client = Connection(base)
        csrf = csrf_token((await client.get("/login")).text)
        r = await client.post(
            "/login", {"username": login_name, "password": PASSWORD, "csrf_token": csrf, "next": "/"}
        )
        assert r.status_code == 303, (login_name, r.status_code)
        return client

    http, viewer = await session(coop_login), await session(viewer_login)
    page = (await http.get(f"/tracks/{track_id}")).text
    items = {key: (status, int(version)) for status, key, version in ROW_RE.findall(page)}
    assert items, f"no editable rows on /tracks/{track_id}"
    return _Client(http, viewer, track_id, csrf_token(page), items)


async def _request(
    c: _Client, kind: str, rng: random.Random, result: MixResult, counted: bool
) -> tuple[float, bool]:
    """One request of the mix for client ``c``; a failure is counted in ``result`` when ``counted``.
    Returns when it ended (perf_counter) and whether it was a 2xx."""
    try:
        if kind == FLOOR_KIND:
            r = await c.http.get("/healthz")
        elif kind == "page":
            r = await c.http.get(f"/tracks/{c.track_id}")
        elif kind == "dashboard":
            r = await c.viewer.get("/dashboard")
        else:
            key = rng.choice(list(c.items))
            status, version = c.items[key]
            r = await c.http.post(
                f"/tracks/{c.track_id}/items/{key}",
                {"csrf_token": c.csrf, "version": str(version), "status": NEXT_STATUS[status]},
                headers={"HX-Request": "true"},
            )
    except LoadClientError as exc:
        if counted:
            result.errors += 1
            if len(result.error_samples) < 5:
                result.error_samples.append(f"{kind}: {exc}")
        return perf_counter(), False
    ended = perf_counter()
    if kind == "change":
        row = ROW_RE.search(r.text)
        if row:
            c.items[row.group(2)] = (row.group(1), int(row.group(3)))
    if 200 <= r.status_code < 300:
        return ended, True
    if not counted:
        return ended, False
    if r.status_code == 409 and kind == "change":
        result.conflicts += 1
    else:
        result.errors += 1
        if len(result.error_samples) < 5:
            result.error_samples.append(f"{kind}: HTTP {r.status_code} {r.text[:120]!r}")
    return ended, False


KINDS = [k for k, _ in MIX_SHARES]
WEIGHTS = [w for _, w in MIX_SHARES]


async def _mixed(
    clients: list[_Client],
    warmup: float,
    seconds: float,
    result: MixResult,
    kinds: tuple[list[str], list[float]] = (KINDS, WEIGHTS),
) -> None:
    """Closed loop: each client sends its next request as soon as the previous one is answered."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    counted_from, end = start + warmup, start + warmup + seconds

    async def one(n: int, c: _Client) -> None:
        rng = random.Random(1000 + n)
        while (began := loop.time()) < end:
            kind = rng.choices(*kinds)[0]
            t0 = perf_counter()
            ended, ok = await _request(c, kind, rng, result, counted=began >= counted_from)
            if began >= counted_from and ok:
                result.latencies.setdefault(kind, []).append(ended - t0)

    await asyncio.gather(*(one(n, c) for n, c in enumerate(clients)))


async def _offered(
    clients: list[_Client], rate: float, warmup: float, seconds: float, result: MixResult
) -> None:
    """Open loop: requests arrive at ``rate`` a second (Poisson), whatever the answers take, each
    to the next client in turn (one connection each: a request to a busy client waits for it).
    Latency counts from the arrival, so that wait is in it (no coordinated omission)."""
    loop = asyncio.get_running_loop()
    rng = random.Random(7)
    locks = [asyncio.Lock() for _ in clients]
    origin, t = perf_counter(), 0.0
    tasks = []

    async def arrive(n: int, at: float, kind: str, counted: bool) -> None:
        await asyncio.sleep(max(0.0, origin + at - perf_counter()))
        async with locks[n]:
            ended, ok = await _request(clients[n], kind, rng, result, counted)
        if counted and ok:
            result.latencies.setdefault(kind, []).append(ended - (origin + at))

    n = 0
    while (t := t + rng.expovariate(rate)) < warmup + seconds:
        tasks.append(
            loop.create_task(arrive(n % len(clients), t, rng.choices(KINDS, WEIGHTS)[0], t >= warmup))
        )
        n += 1
    await asyncio.gather(*tasks)


def measure_mix(
    *,
    served: ServerProcess,
    info: SeedInfo,
    clients: int = MIX_CLIENTS,
    seconds: float = MIX_SECONDS,
    warmup: float = MIX_WARMUP,
    rates: tuple[float, ...] = MIX_RATES,
    rate_seconds: float = MIX_RATE_SECONDS,
    log: Callable[[str], None] = log_nothing,
) -> MixResult:
    """``clients`` closed-loop clients on the server, each owning one cooperative and its track;
    then the same sessions at each offered rate of ``rates`` (open loop), ``rate_seconds`` each."""
    coops = list(info.tracks)[3 : 3 + clients]  # the first three belong to the ratio table
    assert len(coops) == clients, f"need {clients} cooperatives besides the first three"
    workers = served.workers
    assert workers is not None  # serve() always names them
    result = MixResult(workers=workers, clients=clients, warmup=warmup)

    async def run() -> None:
        opened = []
        for n, coop in enumerate(coops):
            viewer = "admin" if n % 2 == 0 else info.center_login
            opened.append(
                await _open_client(served.url, info.coop_login[coop], viewer, info.tracks[coop][0][0])
            )
        try:
            floor = result.floor = MixResult(workers=workers, clients=clients, warmup=MIX_FLOOR_WARMUP)
            await _mixed(opened, MIX_FLOOR_WARMUP, MIX_FLOOR_SECONDS, floor, ([FLOOR_KIND], [1.0]))
            floor.seconds, floor.load = MIX_FLOOR_SECONDS, os.getloadavg()
            log(
                f"  the mix's floor (GET /healthz only), {clients} clients: {floor.rps:.0f} req/s, p50 "
                f"{floor.pct(50):.1f} ms, p95 {floor.pct(95):.1f} ms, p99 {floor.pct(99):.1f} ms, "
                f"{floor.errors} errors"
            )
            cpu0, server0, wall0 = time.process_time(), _server_cpu(served), perf_counter()
            await _mixed(opened, warmup, seconds, result)
            wall = perf_counter() - wall0
            result.client_cpu = (time.process_time() - cpu0) / wall
            result.server_cpu = (_server_cpu(served) - server0) / wall
            result.seconds, result.load = seconds, os.getloadavg()
            log(
                f"  mixed load, {clients} clients, {workers} workers: {result.rps:.0f} req/s, p50 "
                f"{result.pct(50):.1f} ms, p95 {result.pct(95):.1f} ms, p99 {result.pct(99):.1f} ms, "
                f"{result.errors} errors, {result.conflicts} conflicts; CPU client {result.client_cpu:.2f}, "
                f"server {result.server_cpu:.2f}"
            )
            for sample in result.error_samples:
                log(f"    {sample}")
            for rate in rates:
                at = MixResult(
                    workers=served.workers or 1, clients=clients, warmup=MIX_RATE_WARMUP, offered=rate
                )
                await _offered(opened, rate, MIX_RATE_WARMUP, rate_seconds, at)
                at.seconds, at.load = rate_seconds, os.getloadavg()
                result.rates.append(at)
                log(
                    f"  offered {rate:.0f} req/s ({at.requests:,} sent): p50 {at.pct(50):.1f} ms, "
                    f"p95 {at.pct(95):.1f} ms, p99 {at.pct(99):.1f} ms, {at.errors} errors"
                )
        finally:
            for c in opened:
                await c.http.aclose()
                await c.viewer.aclose()

    asyncio.run(run())
    return result


# --- both, for one backend ---------------------------------------------------------------------------


@dataclass
class ServedResult:
    ratios: list[Throughput] = field(default_factory=list)
    mix: MixResult | None = None
    wrk: str = ""
    load_before: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    load_after: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    error: str | None = None
    replays: list[Replayed] = field(default_factory=list)  # the statements' own time (bench/statements.py)


def settle(engine: Engine) -> None:
    """On PostgreSQL, VACUUM (ANALYZE) every table: what autovacuum does on a production server
    between bursts of writes (this machine's shared server runs with autovacuum off, so the dead
    row versions of one series' thousands of changes to one row would otherwise slow the next)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")


def measure_served(
    *,
    url: str,
    engine: Engine,
    catalog: Catalog,
    info: SeedInfo,
    upload_dir: Path,
    secret_key: str,
    scratch: Path,
    mix: bool,
    ratio_seconds: float = RATIO_SECONDS,
    mix_seconds: float = MIX_SECONDS,
    log: Callable[[str], None] = log_nothing,
) -> ServedResult:
    """The ratio table on one worker; with ``mix`` also the mixed load on MIX_WORKERS workers."""
    result = ServedResult(load_before=os.getloadavg())
    wrk = wrk_available()
    if wrk is None:
        result.error = "wrk is not installed (`make bench` installs it)"
        log(f"  {result.error}; no ratios")
    else:
        result.wrk = (
            subprocess.run(  # noqa: S603 - the found wrk binary
                [wrk, "-v"], capture_output=True, text=True, check=False
            )
            .stdout.split("Copyright")[0]
            .strip()
        )
        settle(engine)
        with serve(
            url=url, upload_dir=upload_dir, secret_key=secret_key, workers=1, log_path=scratch / "ratios.log"
        ) as server:
            result.ratios = measure_ratios(
                base=server.url, engine=engine, catalog=catalog, info=info, seconds=ratio_seconds, log=log
            )
    if mix:
        settle(engine)
        with serve(
            url=url,
            upload_dir=upload_dir,
            secret_key=secret_key,
            workers=MIX_WORKERS,
            log_path=scratch / "mix.log",
        ) as server:
            result.mix = measure_mix(served=server, info=info, seconds=mix_seconds, log=log)
    result.load_after = os.getloadavg()
    return result


def main(argv: list[str] | None = None) -> int:
    """Only these measurements, on a fresh seed: `python -m bench.served [--backend ...] [--mix]`
    (while working on speed; `make bench` runs them inside its full run)."""
    import argparse
    import tempfile

    from app.catalog import load_catalog
    from app.db import make_engine
    from app.migrate import upgrade
    from bench.seed import seed

    parser = argparse.ArgumentParser(prog="python -m bench.served", description=main.__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--coops", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=RATIO_SECONDS)
    parser.add_argument("--mix", action="store_true", help="also the mixed load")
    parser.add_argument("--mix-seconds", type=float, default=MIX_SECONDS)
    parser.add_argument("--no-ratios", action="store_true")
    parser.add_argument(
        "--rates",
        default=",".join(f"{r:g}" for r in MIX_RATES),
        help="offered rates (req/s) for the open-loop runs after the mix; empty for none",
    )
    args = parser.parse_args(argv)
    catalog = load_catalog(ROOT / "content")
    with tempfile.TemporaryDirectory(prefix="bench_maeul_served_") as tmp:
        scratch = Path(tmp)
        pg = None
        if args.backend == "sqlite":
            url = f"sqlite:///{scratch}/bench.db"
        else:
            from bench.run import DEFAULT_PG, ThrowawayPostgres

            pg = ThrowawayPostgres(DEFAULT_PG)
            url = pg.create()
        try:
            upgrade(url)
            engine = make_engine(url)
            info = seed(engine, catalog, n_coops=args.coops)
            print(f"seeded {args.coops} cooperatives in {info.seconds:.1f} s", flush=True)
            if args.no_ratios:
                settle(engine)
                with serve(
                    url=url,
                    upload_dir=scratch / "uploads",
                    secret_key="bench-secret-" + "x" * 32,
                    workers=MIX_WORKERS,
                    log_path=scratch / "mix.log",
                ) as server:
                    rates = tuple(float(r) for r in args.rates.split(",") if r.strip())
                    measure_mix(served=server, info=info, seconds=args.mix_seconds, rates=rates, log=print)
            else:
                measure_served(
                    url=url,
                    engine=engine,
                    catalog=catalog,
                    info=info,
                    upload_dir=scratch / "uploads",
                    secret_key="bench-secret-" + "x" * 32,
                    scratch=scratch,
                    mix=args.mix,
                    ratio_seconds=args.seconds,
                    mix_seconds=args.mix_seconds,
                    log=print,
                )
            engine.dispose()
        finally:
            if pg is not None:
                pg.drop()
    print(f"load average: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
