"""A realistic, deterministic data set, written with plain bulk INSERTs.

How it is built (the same on SQLite and PostgreSQL):

* Every row is generated in Python from a fixed random seed, then written with SQLAlchemy Core
  ``insert(table)`` executemany calls (insertmanyvalues batches on PostgreSQL) in ONE transaction:
  no ORM units of work, no services, no per-row flush. Ids are explicit, so both backends hold
  identical ids; PostgreSQL's sequences are moved past them afterwards, then ``ANALYZE`` runs.
* Item states and their events come from a small simulator that follows the rules of
  ``app.services.tracking.update_item`` / ``verify_item`` / ``add_comment`` and
  ``app.services.evidence.add_link``: each change bumps ``version`` and appends one Event whose
  ``changes`` is ``{field: [before, after]}`` in ``EDITABLE_FIELDS`` order (dates as ISO text),
  ``na_reason`` is cleared when leaving 해당 없음, a change to a verified item clears the
  verification and records ``"verified": [true, false]``; ``verified``, ``comment``,
  ``evidence_added`` and ``track_started`` events carry the services' payloads. The final state
  of each item is its ``item_state`` row, and the event ids follow the events' times.
* Organizations: 60 municipalities, 30 support centers serving two municipalities each, N
  cooperatives (1 in 20 without a center), one coop user per cooperative, one user per center and
  per municipality, an admin. Users share one cheap argon2 hash (time_cost=1, memory_cost=1024,
  parallelism=1); only ``bench-login`` gets the real ``app.services.auth.hash_password`` cost.
* Each cooperative follows two different business models. About 40 % of the items of a track
  are touched; a few of them get a link as evidence or a comment. Cooperative 1 is the showcase:
  its first track is untouched (the "light" page), its second has every item changed many
  times, with evidence and comments on each (the "heavy" page).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from time import perf_counter
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, insert, text

from app.catalog import Catalog
from app.catalog.schema import BusinessModel, Item
from app.models import (
    CenterMunicipality,
    Comment,
    Cooperative,
    Event,
    Evidence,
    ItemState,
    Municipality,
    SupportCenter,
    Track,
    User,
)
from app.services.auth import hash_password
from app.services.tracking import EDITABLE_FIELDS, verifier_role

PASSWORD = "bench-password-2026"
CHEAP_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
LOGIN_USER = "bench-login"  # the one user with the real argon2 cost
ADMIN_LOGIN = "admin"
N_MUNICIPALITIES = 60
N_CENTERS = 30
TOUCHED = 0.40
SIDO = [
    "서울특별시",
    "부산광역시",
    "대구광역시",
    "인천광역시",
    "광주광역시",
    "대전광역시",
    "울산광역시",
    "세종특별자치시",
    "경기도",
    "강원특별자치도",
    "충청북도",
    "충청남도",
    "전북특별자치도",
    "전라남도",
    "경상북도",
    "경상남도",
    "제주특별자치도",
]
ASSIGNEES = ("사무국장", "이사장", "사업팀장", "회계 담당", "시설 담당")
NOTES = (
    "이사회 의결 완료, 회의록 첨부 예정",
    "지자체 담당 부서와 일정 협의 중",
    "주민 설명회 2회 개최",
    "예산안 초안 작성, 센터 검토 요청",
)
COMMENTS = (
    "진행 상황 공유 부탁드립니다. 필요한 자료가 있으면 센터에서 함께 준비하겠습니다.",
    "관련 조례 개정 일정 확인 후 다시 안내드리겠습니다.",
    "다음 주 현장 방문 때 함께 점검하겠습니다.",
)
NA_REASONS = ("해당 시설이 없어 적용되지 않음", "지자체 직영으로 결정됨")


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


def _j(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


class _Clock:
    """Monotonic times for one track's history, never in the future."""

    def __init__(self, rng: random.Random, start: datetime, now: datetime, max_gap_hours: float):
        self.rng, self.t, self.now, self.max_gap = rng, start, now, max_gap_hours

    def tick(self) -> datetime:
        self.t = min(self.t + timedelta(hours=self.rng.uniform(0.5, self.max_gap)), self.now)
        return self.t


class _World:
    """Accumulates rows; ids are handed out in insertion order."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {
            t: []
            for t in (
                "municipality",
                "support_center",
                "center_municipality",
                "cooperative",
                "app_user",
                "track",
                "item_state",
                "evidence",
                "comment",
                "event",
            )
        }

    def add(self, table: str, **row: Any) -> int:
        rows = self.rows[table]
        if table != "center_municipality":
            row = {"id": len(rows) + 1, **row}
        rows.append(row)
        return int(row.get("id", 0))

    def event(
        self,
        *,
        at: datetime,
        actor: int | None,
        coop: int,
        track: int,
        action: str,
        changes: dict[str, Any],
        item: str | None = None,
    ) -> None:
        # ids are assigned after sorting by time (see finish()).
        self.rows["event"].append(
            {
                "at": at,
                "actor_id": actor,
                "cooperative_id": coop,
                "track_id": track,
                "item_key": item,
                "action": action,
                "changes": changes,
            }
        )

    def finish(self) -> None:
        events = self.rows["event"]
        events.sort(key=lambda e: e["at"])  # stable: same-time events keep their order
        for i, e in enumerate(events, start=1):
            e["id"] = i


class _ItemSim:
    """One item's state, changed by the same rules as app.services.tracking."""

    def __init__(self, world: _World, coop: int, track: int, key: str):
        self.world, self.coop, self.track, self.key = world, coop, track, key
        self.fields: dict[str, Any] = {
            "status": "todo",
            "note": "",
            "na_reason": "",
            "assignee": "",
            "due_date": None,
        }
        self.version = 0
        self.updated_by: int | None = None
        self.updated_at: datetime | None = None
        self.verified_by: int | None = None
        self.verified_at: datetime | None = None

    def update(self, actor: int, at: datetime, **changes: Any) -> None:
        before = dict(self.fields)
        after = {**before, **changes}
        if after["status"] != "na":  # a reason belongs to 해당 없음 only (tracking._validate)
            after["na_reason"] = ""
        diff = {k: [_j(before[k]), _j(after[k])] for k in EDITABLE_FIELDS if before[k] != after[k]}
        if not diff:
            return
        if self.verified_at is not None:
            diff["verified"] = [True, False]
            self.verified_by = self.verified_at = None
        self.fields, self.version = after, self.version + 1
        self.updated_by, self.updated_at = actor, at
        self.world.event(
            at=at,
            actor=actor,
            coop=self.coop,
            track=self.track,
            item=self.key,
            action="item_updated",
            changes=diff,
        )

    def verify(self, actor: int, at: datetime) -> None:
        if self.fields["status"] != "done" or self.verified_at is not None:
            return
        self.version += 1
        self.verified_by, self.verified_at = actor, at
        self.world.event(
            at=at,
            actor=actor,
            coop=self.coop,
            track=self.track,
            item=self.key,
            action="verified",
            changes={"verified": [False, True]},
        )

    def comment(self, author: int, at: datetime, body: str) -> None:
        self.world.add(
            "comment", track_id=self.track, item_key=self.key, author_id=author, body=body, created_at=at
        )
        self.world.event(
            at=at,
            actor=author,
            coop=self.coop,
            track=self.track,
            item=self.key,
            action="comment",
            changes={"comment": body},
        )

    def link(self, actor: int, at: datetime, n: int) -> None:
        title = f"회의록 {n}"
        url = f"https://docs.example.org/maeul/{self.track}/{self.key}/{n}"
        self.world.add(
            "evidence",
            track_id=self.track,
            item_key=self.key,
            kind="link",
            title=title,
            url=url,
            stored_name="",
            content_type="",
            size=0,
            created_by_id=actor,
            created_at=at,
            removed_at=None,
        )
        self.world.event(
            at=at,
            actor=actor,
            coop=self.coop,
            track=self.track,
            item=self.key,
            action="evidence_added",
            changes={"evidence": [None, title], "url": url},
        )

    def state_row(self) -> dict[str, Any] | None:
        if self.version == 0:
            return None
        return {
            "track_id": self.track,
            "item_key": self.key,
            **self.fields,
            "version": self.version,
            "updated_by_id": self.updated_by,
            "updated_at": self.updated_at,
            "verified_by_id": self.verified_by,
            "verified_at": self.verified_at,
        }


@dataclass(frozen=True)
class _People:
    coop: int
    center: int | None
    municipality: int

    def lead(self, item: Item) -> int:
        """Who changes an item: its lead (the coop stands in when it has no center)."""
        if item.lead == "center" and self.center is not None:
            return self.center
        if item.lead == "municipality":
            return self.municipality
        return self.coop

    def verifier(self, item: Item) -> int | None:
        role = verifier_role(item)
        return self.center if role == "center" else self.municipality if role == "municipality" else None


def _normal_item(rng: random.Random, sim: _ItemSim, item: Item, people: _People, clock: _Clock) -> None:
    actor, today = people.lead(item), clock.now.date()
    r = rng.random()
    if r < 0.07:  # 해당 없음, with its reason
        sim.update(actor, clock.tick(), status="na", na_reason=rng.choice(NA_REASONS))
        return
    due = None
    if rng.random() < 0.5:
        due = today - timedelta(days=9) if rng.random() < 0.3 else today + timedelta(days=rng.randint(7, 90))
    sim.update(actor, clock.tick(), status="doing", assignee=rng.choice(ASSIGNEES), due_date=due)
    if rng.random() < 0.3:
        sim.update(actor, clock.tick(), note=rng.choice(NOTES))
    if rng.random() < 0.12:
        sim.link(people.coop, clock.tick(), 1)
    if rng.random() < 0.10:
        sim.comment(people.center or people.municipality, clock.tick(), rng.choice(COMMENTS))
    if r < 0.55:  # done, mostly confirmed by the public lead
        sim.update(actor, clock.tick(), status="done")
        verifier = people.verifier(item)
        if verifier is not None and rng.random() < 0.7:
            sim.verify(verifier, clock.tick())
    elif r > 0.92:  # started, then put back
        sim.update(actor, clock.tick(), status="todo")


def _heavy_item(rng: random.Random, sim: _ItemSim, item: Item, people: _People, clock: _Clock) -> None:
    actor, verifier = people.lead(item), people.verifier(item)
    for n in range(1, 4):  # three rounds of work, each reopened, with evidence and comments
        sim.update(
            actor,
            clock.tick(),
            status="doing",
            assignee=ASSIGNEES[n % len(ASSIGNEES)],
            due_date=clock.now.date() + timedelta(days=10 * n),
        )
        sim.update(actor, clock.tick(), note=NOTES[n % len(NOTES)])
        sim.link(people.coop, clock.tick(), n)
        sim.comment(people.center or people.municipality, clock.tick(), COMMENTS[n % len(COMMENTS)])
        sim.update(actor, clock.tick(), status="done")
        if verifier is not None:
            sim.verify(verifier, clock.tick())
    sim.comment(people.coop, clock.tick(), "확인 감사합니다.")


def _build(catalog: Catalog, n_coops: int, seed: int, login_hash: str) -> tuple[_World, SeedInfo]:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    w = _World()
    models: Sequence[BusinessModel] = catalog.models

    munis = []
    for i in range(N_MUNICIPALITIES):
        sido = SIDO[i % len(SIDO)]
        sgg = f"벤치{i // len(SIDO) + 1}구" if sido != "세종특별자치시" else f"벤치{i // len(SIDO) + 1}"
        munis.append(w.add("municipality", name=f"{sido} {sgg}", sido=sido, sigungu=sgg))
    centers = [w.add("support_center", name=f"벤치 도시재생지원센터 {i + 1:02d}") for i in range(N_CENTERS)]
    for i, mid in enumerate(munis):
        w.add("center_municipality", center_id=centers[i % N_CENTERS], municipality_id=mid)

    coops: list[tuple[int, int, int | None]] = []  # (coop id, municipality id, center id)
    for i in range(1, n_coops + 1):
        mid = munis[(i - 1) % N_MUNICIPALITIES]
        cid = None if i % 20 == 0 else centers[(mid - 1) % N_CENTERS]
        coop_id = w.add(
            "cooperative",
            name=f"벤치 마을관리 사회적협동조합 {i:04d}",
            site=f"도시재생 사업지 {i:04d}",
            address=f"사업지 주소 {i:04d}",
            municipality_id=mid,
            support_center_id=cid,
            approved_on=date(2018, 1, 1) + timedelta(days=rng.randint(0, 2500)),
            contact=f"010-0000-{i % 10000:04d}",
        )
        coops.append((coop_id, mid, cid))

    def user(login: str, role: str, pw: str = CHEAP_HASH, **org: int | None) -> int:
        return w.add(
            "app_user",
            login=login,
            display_name=login,
            password_hash=pw,
            role=role,
            cooperative_id=org.get("cooperative_id"),
            center_id=org.get("center_id"),
            municipality_id=org.get("municipality_id"),
            is_active=True,
            session_epoch=0,
            last_login_at=None,
            created_at=now - timedelta(days=800),
        )

    user(ADMIN_LOGIN, "admin")
    center_user = {cid: user(f"center-{cid:02d}", "center", center_id=cid) for cid in centers}
    muni_user = {mid: user(f"gov-{mid:02d}", "municipality", municipality_id=mid) for mid in munis}
    coop_user = {cid: user(f"coop-{cid:04d}", "coop", cooperative_id=cid) for cid, _, _ in coops}
    user(LOGIN_USER, "coop", pw=login_hash, cooperative_id=coops[0][0])

    tracks: dict[int, list[tuple[int, str]]] = {}
    sims: list[_ItemSim] = []
    info_touched: dict[int, int] = {}
    light = heavy = 0
    for coop_id, mid, cid in coops:
        people = _People(coop_user[coop_id], center_user.get(cid) if cid else None, muni_user[mid])
        for n, model in enumerate(rng.sample(list(models), 2)):
            start = now - timedelta(days=rng.randint(200, 700))
            tid = w.add(
                "track",
                cooperative_id=coop_id,
                model_key=model.key,
                created_at=start,
                created_by_id=people.coop,
            )
            tracks.setdefault(coop_id, []).append((tid, model.key))
            w.event(
                at=start,
                actor=people.coop,
                coop=coop_id,
                track=tid,
                action="track_started",
                changes={"model": model.key},
            )
            showcase = coop_id == coops[0][0]
            clock = _Clock(rng, start, now - timedelta(minutes=1), 24.0 if showcase else 72.0)
            touched = 0
            for _, item in model.items:
                sim = _ItemSim(w, coop_id, tid, item.key)
                if showcase and n == 0:
                    light = tid  # never touched
                elif showcase:
                    heavy = tid
                    _heavy_item(rng, sim, item, people, clock)
                elif rng.random() < TOUCHED:
                    _normal_item(rng, sim, item, people, clock)
                touched += sim.version > 0
                sims.append(sim)
            info_touched[tid] = touched

    for sim in sims:
        row = sim.state_row()
        if row is not None:
            w.add("item_state", **row)
    w.finish()
    events_by_track: dict[int, int] = {}
    for e in w.rows["event"]:
        events_by_track[e["track_id"]] = events_by_track.get(e["track_id"], 0) + 1
    first_center = centers[0]
    info = SeedInfo(
        n_coops=n_coops,
        counts={t: len(rows) for t, rows in w.rows.items()},
        seconds=0.0,
        coop_login={cid: f"coop-{cid:04d}" for cid, _, _ in coops},
        coop_user=coop_user,
        tracks=tracks,
        light_track=light,
        heavy_track=heavy,
        center_login=f"center-{first_center:02d}",
        center_coops=sum(1 for _, _, cid in coops if cid == first_center),
        events_by_track=events_by_track,
        touched_by_track=info_touched,
    )
    return w, info


TABLES = {
    "municipality": Municipality,
    "support_center": SupportCenter,
    "center_municipality": CenterMunicipality,
    "cooperative": Cooperative,
    "app_user": User,
    "track": Track,
    "item_state": ItemState,
    "evidence": Evidence,
    "comment": Comment,
    "event": Event,
}
CHUNK = 5000


def _write(conn: Connection, world: _World) -> None:
    for name, model in TABLES.items():
        rows = world.rows[name]
        table = model.__table__  # type: ignore[attr-defined]
        for i in range(0, len(rows), CHUNK):
            conn.execute(insert(table), rows[i : i + CHUNK])
    if conn.dialect.name == "postgresql":
        for name, rows in world.rows.items():
            if rows and "id" in rows[0]:
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"),
                    {"t": name, "v": max(r["id"] for r in rows)},
                )


def seed(engine: Engine, catalog: Catalog, *, n_coops: int, seed: int = 20261123) -> SeedInfo:
    """Fill a freshly migrated, empty database. Returns what the benchmarks need to know."""
    start = perf_counter()
    world, info = _build(catalog, n_coops, seed, hash_password(PASSWORD))
    with engine.begin() as conn:
        _write(conn, world)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    info.seconds = perf_counter() - start
    return info
