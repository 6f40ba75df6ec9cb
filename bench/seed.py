"""A realistic, deterministic data set, written in bulk by the app's own simulator.

How it is built (the same on SQLite and PostgreSQL):

* The histories come from ``app.services.synthetic`` (the simulator behind
  ``maeul demo load --cooperatives N``; its docstring states the rules it follows: the services'
  versions, one event per change, 해당 없음 with a reason, 확인 only by ``verifier_role``). Each
  cooperative has its own random stream seeded from a fixed seed and its number, so the data is
  the same on every run and both backends; times are relative to the start of the run.
* Rows are written in ONE transaction, by blocks of 1,000 cooperatives, with the driver's bulk
  path (PostgreSQL ``COPY``, SQLite one prepared ``INSERT``): no ORM, no services. Ids are
  explicit, so both backends hold identical ids; within a block event ids follow the events'
  times. PostgreSQL's sequences are moved past the ids, then
  ``app.services.summary.refresh_all`` builds every track summary in the same transaction, and
  ``ANALYZE`` runs.
* Each track's history spans up to 18 months: 12 % complete, 48 % active, 25 % stalled (no event
  for 35–120 days), 15 % just started; open items are overdue, due within 14 days or later; about
  a fifth of the done items that need 확인 still wait for it. About 55 events per track.
* Organizations: 60 municipalities (all 17 시·도), 30 support centers serving two municipalities
  each, N cooperatives (1 in 20 without a center), one coop user per cooperative, one user per
  center and per municipality, an admin. Users share one cheap argon2 hash (time_cost=1,
  memory_cost=1024, parallelism=1); only ``bench-login`` gets the real
  ``app.services.auth.hash_password`` cost.
* Cooperative 1 is the showcase: its first track is untouched (the "light" page), its second has
  every item changed many times, with evidence and comments on each (the "heavy" page).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from time import perf_counter

from argon2 import PasswordHasher
from sqlalchemy import Engine

from app.catalog import Catalog
from app.db import transaction
from app.services.auth import hash_password
from app.services.summary import refresh_all
from app.services.synthetic import (
    ASSIGNEES,
    COOP_COMMENTS,
    NOTES,
    PUBLIC_COMMENTS,
    REGIONS,
    TABLES,
    CoopSpec,
    Ids,
    ItemSim,
    TrackContext,
    World,
    finish_track,
    move_sequences,
    user_row,
    write_cooperatives,
)

PASSWORD = "bench-password-2026"
CHEAP_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
LOGIN_USER = "bench-login"  # the one user with the real argon2 cost
ADMIN_LOGIN = "admin"
N_MUNICIPALITIES = 60
N_CENTERS = 30
SEED = 20261123
SIDO = list(REGIONS)


@dataclass
class SeedInfo:
    n_coops: int
    counts: dict[str, int]
    seconds: float
    coop_login: dict[int, str]  # cooperative id → its coop user's login
    coop_user: dict[int, int]  # cooperative id → its coop user's id
    tracks: dict[int, list[tuple[int, str]]]  # cooperative id → [(track id, model key)]
    light_track: int
    heavy_track: int
    center_login: str
    center_coops: int  # cooperatives the center user sees
    events_by_track: dict[int, int] = field(default_factory=dict)
    touched_by_track: dict[int, int] = field(default_factory=dict)
    summary_seconds: float = 0.0  # of which refresh_all


class _Clock:
    """Monotonic times for the showcase track, never in the future."""

    def __init__(self, rng: random.Random, start: datetime, now: datetime, max_gap_hours: float):
        self.rng, self.t, self.now, self.max_gap = rng, start, now, max_gap_hours

    def tick(self) -> datetime:
        self.t = min(self.t + timedelta(hours=self.rng.uniform(0.5, self.max_gap)), self.now)
        return self.t


def _showcase(ctx: TrackContext) -> bool:
    """Cooperative 1: an untouched first track, and a second with every item worked on thrice."""
    if ctx.spec.index != 1:
        return False
    if ctx.n == 1:
        people, sims = ctx.people, []
        clock = _Clock(ctx.rng, ctx.start, ctx.now - timedelta(minutes=1), 24.0)
        public = people.public or people.coop
        for _, item in ctx.model.items:
            sim = ItemSim(ctx.world, ctx.coop, ctx.track, item)
            actor, verifier = people.lead(item), people.verifier(item)
            for n in range(1, 4):  # three rounds of work, each reopened, with evidence and comments
                due = clock.now.date() + timedelta(days=10 * n)
                sim.update(actor, clock.tick(), status="doing", assignee=ASSIGNEES[n], due_date=due)
                sim.update(actor, clock.tick(), note=NOTES[n % len(NOTES)])
                sim.link(people.coop, clock.tick(), n)
                sim.comment(public, clock.tick(), PUBLIC_COMMENTS[n % len(PUBLIC_COMMENTS)])
                sim.update(actor, clock.tick(), status="done")
                if verifier is not None:
                    sim.verify(verifier, clock.tick())
            sim.comment(people.coop, clock.tick(), COOP_COMMENTS[1])
            sims.append(sim)
        finish_track(ctx.world, sims)
    return True


def seed(engine: Engine, catalog: Catalog, *, n_coops: int, seed: int = SEED) -> SeedInfo:
    """Fill a freshly migrated, empty database. Returns what the benchmarks need to know."""
    started = perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    login_hash = hash_password(PASSWORD)
    ids = Ids()  # empty database: ids from 1
    orgs = World(ids)

    def user(login: str, role: str, **org: int) -> int:
        return orgs.add(
            "app_user",
            **user_row(login=login, name=login, role=role, password_hash=CHEAP_HASH, now=now, **org),
        )

    munis = []
    for i in range(N_MUNICIPALITIES):
        sido = SIDO[i % len(SIDO)]
        sgg = f"벤치{i // len(SIDO) + 1}구" if sido != "세종특별자치시" else f"벤치{i // len(SIDO) + 1}"
        munis.append(orgs.add("municipality", name=f"{sido} {sgg}", sido=sido, sigungu=sgg))
    centers = [
        orgs.add("support_center", name=f"벤치 도시재생지원센터 {i + 1:02d}") for i in range(N_CENTERS)
    ]
    for i, mid in enumerate(munis):
        orgs.add("center_municipality", center_id=centers[i % N_CENTERS], municipality_id=mid)
    user(ADMIN_LOGIN, "admin")
    center_user = {cid: user(f"center-{cid:02d}", "center", center_id=cid) for cid in centers}
    muni_user = {mid: user(f"gov-{mid:02d}", "municipality", municipality_id=mid) for mid in munis}

    specs = []
    for i in range(1, n_coops + 1):
        mid = munis[(i - 1) % N_MUNICIPALITIES]
        cid = None if i % 20 == 0 else centers[(mid - 1) % N_CENTERS]
        specs.append(
            CoopSpec(
                index=i,
                name=f"벤치 마을관리 사회적협동조합 {i:04d}",
                site=f"도시재생 사업지 {i:04d}",
                address=f"사업지 주소 {i:04d}",
                municipality_id=mid,
                center_id=cid,
                approved_on=date(2018, 1, 1) + timedelta(days=i * 37 % 2500),
                login=f"coop-{i:04d}",
                display_name=f"coop-{i:04d}",
                center_user=center_user[cid] if cid else None,
                municipality_user=muni_user[mid],
            )
        )

    with transaction(engine) as session:
        conn = session.connection()
        orgs.write(conn)
        written = write_cooperatives(
            conn=conn,
            catalog=catalog,
            ids=ids,
            specs=specs,
            password_hash=CHEAP_HASH,
            now=now,
            seed=seed,
            hook=_showcase,
        )
        first = written.coop_ids[1]
        extra = World(ids)
        extra.add(
            "app_user",
            **user_row(
                login=LOGIN_USER,
                name=LOGIN_USER,
                role="coop",
                password_hash=login_hash,
                now=now,
                cooperative_id=first,
            ),
        )
        extra.write(conn)
        move_sequences(conn)
        t = perf_counter()
        refresh_all(session=session, catalog=catalog, now=now)
        summary_seconds = perf_counter() - t
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()

    total = orgs.counts() + written.counts + extra.counts()
    light, heavy = (t for t, _ in written.tracks[first])
    first_center = centers[0]
    return SeedInfo(
        n_coops=n_coops,
        counts={t: total[t] for t in TABLES},
        seconds=perf_counter() - started,
        coop_login={written.coop_ids[s.index]: s.login for s in specs},
        coop_user=written.coop_users,
        tracks=written.tracks,
        light_track=light,
        heavy_track=heavy,
        center_login=f"center-{first_center:02d}",
        center_coops=sum(1 for s in specs if s.center_id == first_center),
        events_by_track=dict(written.events_by_track),
        touched_by_track=written.touched_by_track,
        summary_seconds=summary_seconds,
    )
