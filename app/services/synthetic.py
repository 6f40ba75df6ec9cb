"""Synthetic cooperatives for demos and benchmarks: realistic histories, written in bulk.

One simulator serves ``maeul demo load --cooperatives N`` (``load_synthetic``) and the benchmark
seed (bench/seed.py). Rows are built in Python and written at the driver's bulk speed
(PostgreSQL ``COPY``, SQLite one prepared ``INSERT``; see ``bulk_insert``), never the ORM per
row. Ids are explicit, handed out after the current maximum of each table (PostgreSQL: the
tables are locked against other writers meanwhile and the sequences moved past the new ids).

The histories follow the rules of app.services.tracking and app.services.evidence: every change
bumps the item's ``version`` and appends one event whose ``changes`` is ``{field: [before,
after]}`` in ``EDITABLE_FIELDS`` order; 해당 없음 carries a reason, which is cleared on leaving it;
a change to a confirmed item clears the confirmation (``"verified": [true, false]``); only the
role ``verifier_role`` names confirms or sends an item back (보완 요청), a 위탁 전 확인 item only
once it has evidence; marking it done again closes the request. Cooperatives are written in
blocks of ``BLOCK`` (memory stays flat for 10,000 of them); within a block event ids follow the
events' times, so each track's and each cooperative's log, and its newest event, read as in
real use.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, Table, func, select, text
from sqlmodel import Session, SQLModel, col

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
from app.services.summary import refresh_all, verifier_role
from app.services.tracking import EDITABLE_FIELDS, today_kst

SEED = 20261123
BLOCK = 1000  # cooperatives simulated and written at a time
CHUNK = 5000  # rows per executemany call
HISTORY_DAYS = 540  # about 18 months
TABLES: dict[str, Any] = {
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
ID_TABLES = tuple(t for t in TABLES if t != "center_municipality")

# 17 시·도 with several 시·군·구 each; the demo's own districts are left out (세종 has none).
REGIONS: dict[str, tuple[str, ...]] = {
    "서울특별시": ("종로구", "성북구", "마포구", "관악구", "노원구", "강서구"),
    "부산광역시": ("사하구", "영도구", "동구", "사상구", "북구"),
    "대구광역시": ("남구", "서구", "북구", "달서구"),
    "인천광역시": ("미추홀구", "부평구", "동구", "계양구"),
    "광주광역시": ("동구", "서구", "남구", "광산구"),
    "대전광역시": ("동구", "중구", "대덕구", "유성구"),
    "울산광역시": ("중구", "남구", "동구", "울주군"),
    "세종특별자치시": ("",),
    "경기도": ("수원시", "안산시", "부천시", "의정부시", "시흥시", "고양시"),
    "강원특별자치도": ("춘천시", "원주시", "강릉시", "태백시"),
    "충청북도": ("충주시", "제천시", "옥천군"),
    "충청남도": ("천안시", "공주시", "아산시", "서천군"),
    "전북특별자치도": ("전주시", "군산시", "익산시", "남원시"),
    "전라남도": ("목포시", "여수시", "순천시", "영암군"),
    "경상북도": ("포항시", "경주시", "안동시", "영주시"),
    "경상남도": ("창원시", "통영시", "김해시", "밀양시"),
    "제주특별자치도": ("제주시", "서귀포시"),
}
CENTER_GROUPS = (2, 1, 3, 1)  # municipalities per center, in turn within each 시·도
ZONES = ("동부권", "서부권", "남부권", "북부권", "중부권")
VILLAGES = (
    "햇살", "느티나무", "한울", "새뜰", "도란도란", "솔바람", "달빛", "푸른언덕", "모래내", "장터",
    "물레방아", "은행나무", "두레", "꽃담", "별빛", "산들", "우물가", "골목", "다솜", "어울림",
    "나들목", "바람개비", "온새미로", "마중물", "징검다리", "보금자리", "오순도순", "하늘채", "참살이", "들꽃",
)  # fmt: skip
ASSIGNEES = ("사무국장", "이사장", "사업팀장", "회계 담당", "시설 담당", "돌봄 코디네이터")
NOTES = (
    "이사회 의결 완료, 회의록 첨부 예정",
    "지자체 담당 부서와 일정 협의 중",
    "주민 설명회 2회 개최",
    "예산안 초안 작성, 센터 검토 요청",
    "관련 조례 확인, 위탁 조건 정리 중",
    "견적 3곳 비교 후 업체 선정",
)
PUBLIC_COMMENTS = (
    "진행 상황 공유 부탁드립니다. 필요한 자료가 있으면 센터에서 함께 준비하겠습니다.",
    "관련 조례 개정 일정 확인 후 다시 안내드리겠습니다.",
    "다음 주 현장 방문 때 함께 점검하겠습니다.",
    "제출하신 자료 검토했습니다. 예산 항목만 보완해 주세요.",
)
COOP_COMMENTS = (
    "네, 이번 주 안에 자료 올리겠습니다.",
    "보완해서 다시 올렸습니다. 확인 부탁드립니다.",
    "이사회 일정 때문에 2주 정도 늦어질 것 같습니다.",
)
# Actions that change an item's state, and so its version.
VERSIONED = frozenset({"item_updated", "verified", "changes_requested", "unverified"})
VERIFY_NOTES = ("원본 서류 대조 완료", "현장 확인함", "협약서 사본 확인")
CHANGE_REQUESTS = ("회의록에 의결 정족수가 빠져 있습니다. 보완해 주세요.", "예산 산출 근거를 첨부해 주세요.")
NA_REASONS = ("해당 시설이 없어 적용되지 않음", "지자체 직영으로 결정됨", "기존 협약으로 대체됨")
# What kind of history a track has, and how often.
PROFILES = ("complete", "active", "stalled", "early")
PROFILE_WEIGHTS = (0.12, 0.48, 0.25, 0.15)


# --- rows and ids ------------------------------------------------------------------------------


class Ids:
    """The next explicit id of each table: after the maximum, so new rows never collide."""

    def __init__(self, last: dict[str, int] | None = None):
        self.last = dict.fromkeys(ID_TABLES, 0) | (last or {})

    @classmethod
    def after_max(cls, conn: Connection) -> Ids:
        last = {}
        for name in ID_TABLES:
            table = TABLES[name].__table__
            last[name] = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())
        return cls(last)

    def next(self, table: str) -> int:
        self.last[table] += 1
        return self.last[table]


def lock_for_bulk_insert(conn: Connection) -> None:
    """PostgreSQL: keep other writers out until commit, so max(id) + 1 stays free (reads go on)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"LOCK TABLE {', '.join(TABLES)} IN SHARE ROW EXCLUSIVE MODE"))


def move_sequences(conn: Connection) -> None:
    """PostgreSQL: the next id the database hands out comes after the rows written with explicit
    ids (the simulator's, a restored backup's); an empty table starts at 1."""
    if conn.dialect.name != "postgresql":
        return
    for table in SQLModel.metadata.sorted_tables:
        if "id" in table.c and table.c.id.primary_key and table.c.id.autoincrement in (True, "auto"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608 - metadata names
                    f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                )
            )


class World:
    """Rows waiting to be written, with ids handed out in insertion order."""

    def __init__(self, ids: Ids):
        self.ids = ids
        self.rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}

    def add(self, table: str, **row: Any) -> int:
        if table in ID_TABLES:
            row = {"id": self.ids.next(table), **row}
        self.rows[table].append(row)
        return int(row.get("id", 0))

    def event(self, **row: Any) -> None:
        self.rows["event"].append(row)  # ids come in write(), in time order

    def write(self, conn: Connection) -> None:
        self.rows["event"].sort(key=lambda e: e["at"])  # stable: same-time events keep their order
        for e in self.rows["event"]:
            e["id"] = self.ids.next("event")
        for name, model in TABLES.items():
            bulk_insert(conn, model.__table__, self.rows[name])

    def counts(self) -> Counter[str]:
        return Counter({t: len(r) for t, r in self.rows.items()})


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows (dicts with the same keys) at driver speed.

    Core ``insert()`` executemany spends most of its time building parameters row by row, and
    psycopg sends one statement per row: PostgreSQL gets COPY, SQLite one prepared INSERT fed
    with values already converted by the columns' own types.
    """
    if not rows:
        return
    names = list(rows[0])
    columns = ", ".join(names)
    if conn.dialect.name == "postgresql":
        json_columns = {n for n in names if isinstance(table.c[n].type, JSON)}
        raw = conn.connection.driver_connection
        assert raw is not None  # noqa: S101
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([json.dumps(row[n]) if n in json_columns else row[n] for n in names])
        return
    get = itemgetter(*names)
    convert = [(i, f) for i, n in enumerate(names) if (f := table.c[n].type.bind_processor(conn.dialect))]
    sql = f"INSERT INTO {table.name} ({columns}) VALUES ({', '.join('?' * len(names))})"  # noqa: S608 - names from the metadata
    for i in range(0, len(rows), CHUNK):
        values = []
        for row in rows[i : i + CHUNK]:
            v = list(get(row)) if len(names) > 1 else [get(row)]
            for j, f in convert:
                v[j] = f(v[j])
            values.append(tuple(v))
        conn.exec_driver_sql(sql, values)


def _j(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


# --- one item, one track -----------------------------------------------------------------------


class ItemSim:
    """One item's state, changed by the same rules as app.services.tracking."""

    def __init__(self, world: World, coop: int, track: int, item: Item):
        self.world, self.coop, self.track, self.item, self.key = world, coop, track, item, item.key
        self.fields: dict[str, Any] = {
            "status": "todo",
            "note": "",
            "na_reason": "",
            "assignee": "",
            "assignee_id": None,  # the simulated histories name people as text only
            "due_date": None,
        }
        self.version = 0
        self.evidence = 0
        self.updated_by: int | None = None
        self.updated_at: datetime | None = None
        self.verified: dict[str, Any] = {"verified_by_id": None, "verified_at": None, "verified_note": ""}
        self.request: dict[str, Any] = {
            "change_request": "",
            "change_requested_by_id": None,
            "change_requested_at": None,
        }

    def _event(self, actor: int, at: datetime, action: str, changes: dict[str, Any]) -> None:
        self.version += action in VERSIONED
        self.world.event(
            at=at,
            actor_id=actor,
            cooperative_id=self.coop,
            track_id=self.track,
            item_key=self.key,
            action=action,
            changes=changes,
        )

    def _unverify(self, diff: dict[str, Any]) -> None:
        if self.verified["verified_at"] is not None:
            diff["verified"] = [True, False]
            self.verified = {"verified_by_id": None, "verified_at": None, "verified_note": ""}

    def update(self, actor: int, at: datetime, **changes: Any) -> None:
        before = dict(self.fields)
        after = {**before, **changes}
        if after["status"] != "na":  # a reason belongs to 해당 없음 only (tracking._validate)
            after["na_reason"] = ""
        diff = {k: [_j(before[k]), _j(after[k])] for k in EDITABLE_FIELDS if before[k] != after[k]}
        if not diff:
            return
        self._unverify(diff)
        if self.request["change_request"] and after["status"] in ("done", "na"):  # 보완 요청 answered
            diff["change_request"] = [self.request["change_request"], None]
            self.request = dict.fromkeys(self.request) | {"change_request": ""}
        self.fields = after
        self.updated_by, self.updated_at = actor, at
        self._event(actor, at, "item_updated", diff)

    def verify(self, actor: int, at: datetime, note: str = "") -> None:
        """확인; a 위탁 전 확인 item needs evidence first (verification.verify_item)."""
        if self.fields["status"] != "done" or self.verified["verified_at"] is not None:
            return
        if self.item.consignment and not self.evidence:
            return
        self.verified = {"verified_by_id": actor, "verified_at": at, "verified_note": note}
        self._event(
            actor, at, "verified", {"verified": [False, True]} | ({"verified_note": note} if note else {})
        )

    def request_changes(self, actor: int, at: datetime, reason: str) -> None:
        """보완 요청: the verifier sends a done item back to 진행 중 (verification.request_changes)."""
        if self.fields["status"] != "done":
            return
        changes: dict[str, Any] = {"status": ["done", "doing"], "change_request": [None, reason]}
        self._unverify(changes)
        self.fields["status"] = "doing"
        self.request = {"change_request": reason, "change_requested_by_id": actor, "change_requested_at": at}
        self.updated_by, self.updated_at = actor, at
        self._event(actor, at, "changes_requested", changes)

    def comment(self, author: int, at: datetime, body: str) -> None:
        self.world.add(
            "comment", track_id=self.track, item_key=self.key, author_id=author, body=body, created_at=at
        )
        self._event(author, at, "comment", {"comment": body})

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
        self.evidence += 1
        self._event(actor, at, "evidence_added", {"evidence": [None, title], "url": url})

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
            **self.verified,
            **self.request,
        }


@dataclass(frozen=True)
class People:
    """The users acting on one cooperative's tracks (None: that organization has no user)."""

    coop: int
    center: int | None
    municipality: int | None

    def lead(self, item: Item) -> int:
        """Who changes an item: its lead; the cooperative (who may change any item) stands in."""
        lead = (
            self.center
            if item.lead == "center"
            else self.municipality
            if item.lead == "municipality"
            else None
        )
        return lead or self.coop

    def verifier(self, item: Item) -> int | None:
        role = verifier_role(item)
        return self.center if role == "center" else self.municipality if role == "municipality" else None

    @property
    def public(self) -> int | None:
        """Who writes the public side of an item's thread."""
        return self.center or self.municipality


@dataclass(frozen=True)
class Step:
    """One planned action; the time is given when the whole track's plan is known."""

    action: str  # update | verify | request | comment | link
    actor: int
    changes: dict[str, Any] = field(default_factory=dict)
    due_in: int | None = None  # days after the action's own date (due dates set while working)
    text: str = ""


def _targets(rng: random.Random, model: BusinessModel, profile: str) -> list[tuple[Item, str | None]]:
    """Where each item ends: done / doing / na, or untouched (None), in guidebook order.

    Work reaches some point of a chosen stage: items before it are finished (a few left open),
    the next one to three are under way, a few later ones started early.
    """
    items = [item for _, item in model.items]
    if profile == "complete":
        cut = len(items)
    elif profile == "early":
        cut = rng.randint(0, 2)
    else:
        stage = rng.choices(model.stages, (0.35, 0.4, 0.25))[0]
        first = next(i for i, (s, _) in enumerate(model.items) if s == stage.key)
        cut = first + rng.randrange(len(stage.items))
    width = rng.randint(1, 3)
    out: list[tuple[Item, str | None]] = []
    for i, item in enumerate(items):
        r = rng.random()
        if i < cut:
            target = "na" if r < 0.06 else "doing" if profile != "complete" and r < 0.1 else "done"
        elif profile != "complete" and (i < cut + width or r < 0.05):
            target = "doing"
        else:
            target = None
        out.append((item, target))
    return out


def _item_steps(rng: random.Random, item: Item, target: str, people: People, today: date) -> list[Step]:
    lead, verifier = people.lead(item), people.verifier(item)
    if target == "na":
        steps = [Step("update", lead, {"status": "doing"})] if rng.random() < 0.4 else []
        return [*steps, Step("update", lead, {"status": "na", "na_reason": rng.choice(NA_REASONS)})]
    first = {"status": "doing", "assignee": rng.choice(ASSIGNEES)}
    steps = [Step("update", lead, first, due_in=rng.randint(14, 90) if rng.random() < 0.6 else None)]
    for note in rng.sample(NOTES, rng.choice((0, 1, 1, 2, 2, 3))):
        steps.append(Step("update", lead, {"note": note}))
    if rng.random() < 0.25:
        steps.append(Step("update", lead, {"assignee": rng.choice(ASSIGNEES)}))
    if rng.random() < 0.3:
        steps.append(Step("update", lead, due_in=rng.randint(7, 45)))
    links = rng.choice((0, 1, 1, 2))
    if item.consignment and rng.random() < 0.9:  # 위탁 전 확인 needs evidence: most have it
        links = max(links, 1)
    steps += [Step("link", people.coop, text=str(n)) for n in range(1, links + 1)]
    for n in range(rng.choice((0, 1, 2, 2, 3, 4))):
        public = n % 2 == 0 and people.public is not None
        author = people.public if public else people.coop
        assert author is not None  # noqa: S101
        steps.append(Step("comment", author, text=rng.choice(PUBLIC_COMMENTS if public else COOP_COMMENTS)))
    can_verify = verifier is not None and (links > 0 or not item.consignment)
    if target == "doing":
        if can_verify and rng.random() < 0.08:  # reported done, sent back: an open 보완 요청
            assert verifier is not None  # noqa: S101
            steps += [
                Step("update", lead, {"status": "done"}),
                Step("request", verifier, text=CHANGE_REQUESTS[0]),
            ]
        r = rng.random()  # an open item's deadline: overdue, due within 14 days, later, or none
        due = (
            today - timedelta(days=rng.randint(1, 45))
            if r < 0.35
            else today + timedelta(days=rng.randint(0, 14))
            if r < 0.6
            else today + timedelta(days=rng.randint(15, 120))
            if r < 0.85
            else None
        )
        if due is not None:
            steps.append(Step("update", lead, {"due_date": due}))
        return steps
    steps.append(Step("update", lead, {"status": "done"}))
    if not can_verify or rng.random() >= 0.8:  # nothing to confirm, or it waits for 확인
        return steps
    assert verifier is not None  # noqa: S101
    if rng.random() < 0.08:  # 보완 요청 first, answered by marking it done again
        steps += [
            Step("request", verifier, text=rng.choice(CHANGE_REQUESTS)),
            Step("comment", people.coop, text=COOP_COMMENTS[1]),
            Step("update", lead, {"status": "done"}),
        ]
    note = rng.choice(VERIFY_NOTES) if rng.random() < 0.3 else ""
    steps.append(Step("verify", verifier, text=note))
    if rng.random() < 0.04:  # reopened after 확인, then done and confirmed again
        steps += [
            Step("update", lead, {"status": "doing"}),
            Step("update", lead, {"status": "done"}),
            Step("verify", verifier),
        ]
    return steps


def _window(rng: random.Random, profile: str, now: datetime) -> tuple[datetime, datetime]:
    """(track started, last activity): stalled tracks went quiet more than 30 days ago."""
    days = timedelta(days=1)
    if profile == "early":
        start = now - rng.uniform(14, 90) * days
        return start, now - rng.uniform(0, 10) * days
    start = now - rng.uniform(150, HISTORY_DAYS) * days
    quiet = {"active": (0, 20), "stalled": (35, 120), "complete": (2, 120)}[profile]
    return start, max(now - rng.uniform(*quiet) * days, start + 30 * days)


def simulate_track(
    *,
    rng: random.Random,
    world: World,
    coop: int,
    track: int,
    model: BusinessModel,
    people: People,
    start: datetime,
    end: datetime,
    profile: str,
    today: date,
) -> list[ItemSim]:
    """The item changes of one track started at ``start``, the last of them at ``end``."""
    sims: list[ItemSim] = []
    plan: list[tuple[ItemSim, Step]] = []
    for item, target in _targets(rng, model, profile):
        sim = ItemSim(world, coop, track, item)
        sims.append(sim)
        if target is not None:
            plan += [(sim, step) for step in _item_steps(rng, item, target, people, today)]
    span = (end - start).total_seconds()
    times = sorted(start + timedelta(seconds=int(span * rng.uniform(0.001, 1))) for _ in plan)
    if times:
        times[-1] = end
    for (sim, step), at in zip(plan, times, strict=True):
        if step.action == "update":
            changes = dict(step.changes)
            if step.due_in:
                changes["due_date"] = at.date() + timedelta(days=step.due_in)
            if "due_date" in changes and changes["due_date"] == sim.fields["due_date"]:
                # Still a change: which steps happen must not depend on the day the seed runs.
                changes["due_date"] += timedelta(days=1)
            sim.update(step.actor, at, **changes)
        elif step.action == "verify":
            sim.verify(step.actor, at, step.text)
        elif step.action == "request":
            sim.request_changes(step.actor, at, step.text)
        elif step.action == "comment":
            sim.comment(step.actor, at, step.text)
        else:
            sim.link(step.actor, at, int(step.text))
    return sims


# --- cooperatives ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoopSpec:
    """One cooperative to create, with its coop user and the public users who act on it."""

    index: int
    name: str
    site: str
    address: str
    municipality_id: int
    center_id: int | None
    approved_on: date
    login: str
    display_name: str
    center_user: int | None
    municipality_user: int | None


@dataclass(frozen=True)
class TrackContext:
    rng: random.Random
    world: World
    spec: CoopSpec
    coop: int
    track: int
    model: BusinessModel
    people: People
    n: int  # 0 or 1: the cooperative's first or second track
    start: datetime
    end: datetime
    now: datetime


# A hook may write a track's history itself (the benchmark's showcase pages): True when it did.
TrackHook = Callable[[TrackContext], bool]


@dataclass
class Written:
    counts: Counter[str] = field(default_factory=Counter)
    coop_ids: dict[int, int] = field(default_factory=dict)  # spec index → cooperative id
    coop_users: dict[int, int] = field(default_factory=dict)  # cooperative id → its user's id
    tracks: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # coop id → [(track, model)]
    events_by_track: Counter[int] = field(default_factory=Counter)
    touched_by_track: dict[int, int] = field(default_factory=dict)


def write_cooperatives(
    *,
    conn: Connection,
    catalog: Catalog,
    ids: Ids,
    specs: Sequence[CoopSpec],
    password_hash: str,
    now: datetime,
    seed: int = SEED,
    hook: TrackHook | None = None,
) -> Written:
    """Each cooperative with its coop user and two tracks of different models, in blocks."""
    out = Written()
    today = today_kst(now)
    for b in range(0, len(specs), BLOCK):
        world = World(ids)
        for spec in specs[b : b + BLOCK]:
            rng = random.Random(f"{seed}:{spec.index}")  # noqa: S311 - a cooperative is the same whatever N is
            coop = world.add(
                "cooperative",
                name=spec.name,
                site=spec.site,
                address=spec.address,
                municipality_id=spec.municipality_id,
                support_center_id=spec.center_id,
                approved_on=spec.approved_on,
                contact="",
            )
            user = world.add(
                "app_user",
                **user_row(
                    login=spec.login,
                    name=spec.display_name,
                    role="coop",
                    password_hash=password_hash,
                    now=now,
                    cooperative_id=coop,
                ),
            )
            out.coop_ids[spec.index], out.coop_users[coop] = coop, user
            people = People(user, spec.center_user, spec.municipality_user)
            for n, model in enumerate(rng.sample(list(catalog.models), 2)):
                profile = rng.choices(PROFILES, PROFILE_WEIGHTS)[0]
                start, end = _window(rng, profile, now)
                track = world.add(
                    "track", cooperative_id=coop, model_key=model.key, created_at=start, created_by_id=user
                )
                out.tracks.setdefault(coop, []).append((track, model.key))
                world.event(
                    at=start,
                    actor_id=user,
                    cooperative_id=coop,
                    track_id=track,
                    item_key=None,
                    action="track_started",
                    changes={"model": model.key},
                )
                ctx = TrackContext(rng, world, spec, coop, track, model, people, n, start, end, now)
                if hook is not None and hook(ctx):
                    continue
                sims = simulate_track(
                    rng=rng,
                    world=world,
                    coop=coop,
                    track=track,
                    model=model,
                    people=people,
                    start=start,
                    end=end,
                    profile=profile,
                    today=today,
                )
                finish_track(world, sims)
        for e in world.rows["event"]:
            out.events_by_track[e["track_id"]] += 1
        for row in world.rows["item_state"]:
            out.touched_by_track[row["track_id"]] = out.touched_by_track.get(row["track_id"], 0) + 1
        world.write(conn)
        out.counts += world.counts()
    return out


def finish_track(world: World, sims: Iterable[ItemSim]) -> None:
    for sim in sims:
        row = sim.state_row()
        if row is not None:
            world.add("item_state", **row)


def user_row(
    *, login: str, name: str, role: str, password_hash: str, now: datetime, **org: int
) -> dict[str, Any]:
    """An app_user row for World.add, with what the ORM would fill in."""
    return {
        "login": login,
        "display_name": name,
        "password_hash": password_hash,
        "role": role,
        "cooperative_id": org.get("cooperative_id"),
        "center_id": org.get("center_id"),
        "municipality_id": org.get("municipality_id"),
        "is_active": True,
        "session_epoch": 0,
        "last_login_at": None,
        "created_at": now - timedelta(days=HISTORY_DAYS + 30),
    }


# --- `maeul demo load --cooperatives N` ----------------------------------------------------------


@dataclass(frozen=True)
class _Region:
    number: int  # synth-gov-NNN
    name: str
    sido: str
    sigungu: str
    center: int  # the number of the center serving it


@dataclass(frozen=True)
class _Center:
    number: int  # synth-center-NNN
    name: str
    regions: tuple[int, ...]


@dataclass(frozen=True)
class _Coop:
    index: int
    village: str
    region: _Region
    center: int | None

    @property
    def name(self) -> str:
        return f"{self.village}마을 마을관리 사회적협동조합 {self.index:04d}"


def _plan() -> tuple[list[_Region], list[_Center]]:
    """The fixed regions and centers: each center serves 1–3 municipalities of one 시·도."""
    regions: list[_Region] = []
    centers: list[_Center] = []
    for sido, districts in REGIONS.items():
        names = [(f"{sido} {d}" if d else sido, d) for d in districts]
        i = group = 0
        while i < len(names):
            size = min(CENTER_GROUPS[group % len(CENTER_GROUPS)], len(names) - i)
            numbers = tuple(range(len(regions) + 1, len(regions) + size + 1))
            zone = names[i][0] if size == 1 else f"{sido} {ZONES[group]}"
            centers.append(_Center(len(centers) + 1, f"{zone} 도시재생지원센터", numbers))
            for name, district in names[i : i + size]:
                regions.append(_Region(len(regions) + 1, name, sido, district, len(centers)))
            i, group = i + size, group + 1
    return regions, centers


def _coops(n: int, regions: list[_Region]) -> list[_Coop]:
    """Cooperative i: the same whatever N is; consecutive ones visit every 시·도 in turn."""
    by_sido: dict[str, list[_Region]] = {}
    for r in regions:
        by_sido.setdefault(r.sido, []).append(r)
    rounds = max(len(v) for v in by_sido.values())
    order = [rs[k] for k in range(rounds) for rs in by_sido.values() if k < len(rs)]
    out = []
    for i in range(1, n + 1):
        region = order[(i - 1) % len(order)]
        center = None if i % 16 == 5 else region.center  # a few cooperatives have no center
        out.append(_Coop(i, VILLAGES[(i * 7) % len(VILLAGES)], region, center))
    return out


@dataclass(frozen=True)
class SyntheticResult:
    added: int  # cooperatives written now
    present: int  # asked for but already there
    organizations: int = 0  # municipalities and centers created now
    users: int = 0
    tracks: int = 0
    events: int = 0


def load_synthetic(
    *, session: Session, catalog: Catalog, cooperatives: int, now: datetime | None = None, seed: int = SEED
) -> SyntheticResult:
    """Add the synthetic cooperatives 1..``cooperatives`` that are missing (by name), each with
    its user and two tracks with their histories, and the regions and centers they need.

    Idempotent: what exists is skipped, so a larger N adds only the new cooperatives.
    Municipalities and centers are found by name first; one user is made with each organization
    made here (the demo's 세종특별자치시 and its center are reused and keep their own users).
    Every user made here has the demo password. Every summary is rebuilt at the end.
    """
    from app.services.auth import hash_password
    from app.services.demo import DEMO_PASSWORD

    if cooperatives < 1:
        return SyntheticResult(0, 0)
    session.flush()
    conn = session.connection()
    lock_for_bulk_insert(conn)
    regions, centers = _plan()
    wanted = _coops(cooperatives, regions)
    existing = _existing(conn, col(Cooperative.name), [c.name for c in wanted])
    todo = [c for c in wanted if c.name not in existing]
    if not todo:
        return SyntheticResult(0, len(wanted))

    now = (now or datetime.now(UTC)).replace(microsecond=0)
    password_hash = hash_password(DEMO_PASSWORD)  # once: argon2 is slow on purpose
    ids = Ids.after_max(conn)
    world = World(ids)
    used_centers = [centers[n - 1] for n in sorted({c.center for c in todo if c.center is not None})]
    served = {n for c in used_centers for n in c.regions}
    used_regions = [regions[n - 1] for n in sorted({c.region.number for c in todo} | served)]
    org_ids = _organizations(
        conn,
        world,
        [(r.name, {"sido": r.sido, "sigungu": r.sigungu}, f"synth-gov-{r.number:03d}") for r in used_regions],
        [(c.name, {}, f"synth-center-{c.number:03d}") for c in used_centers],
        user=lambda **kw: user_row(password_hash=password_hash, now=now, **kw),
    )
    links = {
        (c, m)
        for c, m in conn.execute(
            select(col(CenterMunicipality.center_id), col(CenterMunicipality.municipality_id))
        )
    }
    for center in used_centers:
        for n in center.regions:
            pair = (org_ids["support_center", center.name], org_ids["municipality", regions[n - 1].name])
            if pair not in links:
                world.add("center_municipality", center_id=pair[0], municipality_id=pair[1])
    made = world.counts()
    world.write(conn)
    acting = _acting_users(conn)

    specs = []
    for c in todo:
        muni = org_ids["municipality", c.region.name]
        center_id = org_ids["support_center", centers[c.center - 1].name] if c.center else None
        specs.append(
            CoopSpec(
                index=c.index,
                name=c.name,
                site=f"{c.region.name} {c.village}마을 도시재생사업지",
                address=f"{c.region.name} {c.village}로 {10 + c.index % 90}",
                municipality_id=muni,
                center_id=center_id,
                approved_on=date(2018, 1, 1) + timedelta(days=c.index * 37 % 2500),
                login=f"synth-coop-{c.index:04d}",
                display_name=f"{c.name} 사무국",
                center_user=acting.get(("center", center_id)) if center_id else None,
                municipality_user=acting.get(("municipality", muni)),
            )
        )
    written = write_cooperatives(
        conn=conn, catalog=catalog, ids=ids, specs=specs, password_hash=password_hash, now=now, seed=seed
    )
    move_sequences(conn)
    refresh_all(session=session, catalog=catalog, now=now)
    return SyntheticResult(
        added=len(todo),
        present=len(wanted) - len(todo),
        organizations=made["municipality"] + made["support_center"],
        users=made["app_user"] + written.counts["app_user"],
        tracks=written.counts["track"],
        events=written.counts["event"],
    )


OrgEntry = tuple[str, dict[str, Any], str]  # (name, other columns, login of its user)


def _organizations(
    conn: Connection,
    world: World,
    municipalities: list[OrgEntry],
    centers: list[OrgEntry],
    *,
    user: Callable[..., dict[str, Any]],
) -> dict[tuple[str, str], int]:
    """(table, name) → id: found by name, or added to ``world`` with one user when its login is free."""
    out: dict[tuple[str, str], int] = {}
    for model, table, role, org_column, entries in (
        (Municipality, "municipality", "municipality", "municipality_id", municipalities),
        (SupportCenter, "support_center", "center", "center_id", centers),
    ):
        names = [name for name, _, _ in entries]
        rows = conn.execute(select(col(model.name), col(model.id)).where(col(model.name).in_(names)))
        out |= {(table, name): int(id_ or 0) for name, id_ in rows}
        taken = _existing(conn, col(User.login), [login for _, _, login in entries])
        suffix = "도시재생과" if role == "municipality" else "코디네이터"
        for name, fields, login in entries:
            if (table, name) in out:
                continue
            out[table, name] = world.add(table, name=name, **fields)
            if login not in taken:
                org = {org_column: out[table, name]}
                world.add("app_user", **user(login=login, name=f"{name} {suffix}", role=role, **org))
    return out


def _existing(conn: Connection, column: Any, values: list[str]) -> set[str]:
    """Which of ``values`` a unique text column already holds (in chunks: SQLite's variable limit)."""
    found: set[str] = set()
    for i in range(0, len(values), 500):
        found.update(conn.execute(select(column).where(column.in_(values[i : i + 500]))).scalars())
    return found


def _acting_users(conn: Connection) -> dict[tuple[str, int], int]:
    """(role, organization id) → the first active user of each center and municipality."""
    out: dict[tuple[str, int], int] = {}
    for role, column in (("center", col(User.center_id)), ("municipality", col(User.municipality_id))):
        rows = conn.execute(
            select(column, func.min(col(User.id)))
            .where(col(User.role) == role, col(User.is_active))
            .group_by(column)
        )
        out |= {(role, org): uid for org, uid in rows if org is not None and uid is not None}
    return out
