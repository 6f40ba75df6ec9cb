"""현황판: every visible track with what waits on it, filtered, sorted, counted and paged in SQL.

Reads the stored track summaries (app.services.summary) under THE visibility rule
(``role_scope``: ``cooperative_scope`` with the viewer's organization a parameter). Overdue and
due-soon are as of today in Asia/Seoul: the stored copy in track_summary when it is of today,
else counted from track_due_item at query time, so an item turns overdue the day after its due
date whether or not the midnight refresh has run.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlmodel import Session, col

from app.catalog import Catalog
from app.catalog.schema import LEAD_ROLES, STAGE_ORDER, BusinessModel, LeadRole, StageKey
from app.db import Prepared, run_plain, stream
from app.models import ActivityWeek, Cooperative, Event, Municipality, Track, TrackSummary
from app.models.base import UTCDateTime, utcnow
from app.models.decision import OUTCOME_LABELS
from app.models.summary import COMPLETE_RANK, STAGE_RANK
from app.services.errors import FormError
from app.services.principal import Principal
from app.services.progress import Progress, Ratio
from app.services.readiness import Consignment, readiness_of_summary
from app.services.summary import (
    ACTIVITY_WEEKS,
    due_soon_count,
    due_soon_until,
    monday,
    monday_of,
    overdue_count,
    progress_of,
    rolled_until,
    week_start,
)
from app.services.tracking import today_kst
from app.services.visibility import role_scope, scope_params

PAGE_SIZE = 50
STAGE_FILTERS = (*STAGE_ORDER, "complete")
STAGE_LABELS = {"prepare": "준비", "plan": "계획", "execute": "실행", "complete": "완료"}
ROLE_LABELS = {"municipality": "지자체", "center": "지원센터", "coop": "조합"}
# Sort keys people can choose (and their column headers); "-key" sorts descending.
SORT_LABELS = {
    "cooperative": "조합",
    "region": "지역",
    "model": "사업모델",
    "stage": "현재 단계",
    "progress": "진행률",
    "lead_open": "우리 주관 미완료",
    "overdue": "기한 지남",
    "due_soon": "14일 내 기한",
    "awaiting": "확인 대기",
    "last_activity": "마지막 활동",
    "stalled": "정체",
}
DEFAULT_SORT = "-overdue"
VIEWER_ROLES = ("center", "municipality", "admin")
DECISION_FILTERS = {**OUTCOME_LABELS, "none": "결정 없음"}
RANK_TO_STAGE = {v: k for k, v in STAGE_RANK.items()} | {COMPLETE_RANK: "complete"}


@dataclass(frozen=True)
class Filters:
    region: str = ""  # a 시·도 ("서울특별시") or a whole municipality name ("서울특별시 용산구")
    model: str = ""
    stage: str = ""
    overdue: bool = False
    awaiting: bool = False
    stalled: bool = False
    q: str = ""
    decision: str = ""  # an outcome, or "none" for tracks without a 위탁 결정
    sort: str = DEFAULT_SORT
    page: int = 1

    def query(self, **override: Any) -> dict[str, Any]:
        """The filters as URL parameters (defaults left out), e.g. for links and exports."""
        values = {**self.__dict__, **override}
        out: dict[str, Any] = {}
        for k, v in values.items():
            if k == "sort" and v == DEFAULT_SORT or k == "page" and v == 1:
                continue
            if v in ("", False, None):
                continue
            out[k] = "1" if v is True else v
        return out

    @property
    def active(self) -> dict[str, str]:
        """The filters that narrow the rows, with Korean labels (for the export's second sheet)."""
        out = {}
        if self.region:
            out["지역"] = self.region
        if self.model:
            out["사업모델"] = self.model
        if self.stage:
            out["현재 단계"] = STAGE_LABELS[self.stage]
        if self.overdue:
            out["기한 지남"] = "있음"
        if self.awaiting:
            out["확인 대기"] = "있음"
        if self.stalled:
            out["정체"] = "정체만"
        if self.q:
            out["조합 이름"] = self.q
        if self.decision:
            out["위탁 결정"] = DECISION_FILTERS[self.decision]
        return out


def parse_filters(params: Mapping[str, str], catalog: Catalog) -> Filters:
    """Filters from query parameters: unknown values are a clear error, never silently ignored."""
    errors: dict[str, str] = {}

    def flag(name: str) -> bool:
        raw = params.get(name, "")
        if raw in ("", "0", "false"):
            return False
        if raw in ("1", "true", "on"):
            return True
        errors[name] = f"'{raw}'은(는) 켜기/끄기 값이 아닙니다 (1 또는 0)."
        return False

    model = params.get("model", "")
    if model and catalog.model(model) is None:
        errors["model"] = f"'{model}'은(는) 알 수 없는 사업모델입니다."
    stage = params.get("stage", "")
    if stage and stage not in STAGE_FILTERS:
        errors["stage"] = f"'{stage}'은(는) 알 수 없는 단계입니다 (prepare, plan, execute, complete 중 하나)."
    sort = params.get("sort", "") or DEFAULT_SORT
    if sort.removeprefix("-") not in SORT_LABELS:
        errors["sort"] = f"'{sort}'(으)로는 정렬할 수 없습니다."
    decision = params.get("decision", "")
    if decision and decision not in DECISION_FILTERS:
        errors["decision"] = (
            f"'{decision}'은(는) 알 수 없는 위탁 결정입니다 (approved, conditional, deferred, none 중 하나)."
        )
    raw_page = params.get("page", "") or "1"
    page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and len(raw_page) <= 6 else 0
    if page < 1:
        errors["page"] = f"'{raw_page}'은(는) 쪽 번호가 아닙니다."
    region, q = params.get("region", "").strip(), params.get("q", "").strip()
    for name, value in (("region", region), ("q", q)):
        if len(value) > 100:
            errors[name] = "100자 이하로 입력하세요."
    filters = Filters(
        region=region,
        model=model,
        stage=stage,
        overdue=flag("overdue"),
        awaiting=flag("awaiting"),
        stalled=flag("stalled"),
        q=q,
        decision=decision,
        sort=sort,
        page=max(page, 1),
    )
    if errors:
        raise FormError(errors)
    return filters


# --- the query ---------------------------------------------------------------------------------


def minute_now() -> datetime:
    """Now, to the minute: the 현황판 of one minute is one page (the route caches it by revision)."""
    return utcnow().replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Clock:
    """Today in Asia/Seoul and the stalled cut-off: the only times the dashboard depends on."""

    now: datetime
    today: date
    stalled_before: datetime

    @classmethod
    def at(cls, now: datetime | None, stalled_days: int) -> Clock:
        now = now or utcnow()
        return cls(now=now, today=today_kst(now), stalled_before=now - timedelta(days=stalled_days))


# The day and the viewer's organization are bind parameters (_Query.params), so a statement is
# one per viewer role, filter shape and sort: built and compiled once (Prepared), where building
# and compiling it anew cost more than running it (a center's 현황판: 10 ms, 2 of them the SQL).
TODAY = bindparam("today", type_=Date())
SOON = bindparam("soon", type_=Date())
STALLED_BEFORE = bindparam("stalled_before", type_=UTCDateTime())
OFFSET = bindparam("offset", type_=Integer())
STATEMENTS_MAX = 2_000  # filter shapes × sorts × roles actually used; past it, built per request


class _Query:
    """The columns and conditions every dashboard statement shares, for one viewer role and the
    catalog's models; the day and the viewer's organization come as parameters (params)."""

    def __init__(self, role: str, model_keys: tuple[str, ...]):
        self.role = role
        ts = TrackSummary
        # Stored counts when they are of today (always, after each midnight's refresh); counted
        # from track_due_item otherwise, so the answer never depends on that refresh having run.
        self.overdue = overdue_count(TODAY)
        self.due_soon = due_soon_count(TODAY, SOON)
        self.awaiting: ColumnElement[int] = (
            getattr(ts, f"awaiting_{role}")
            if role in ("center", "municipality")
            else col(ts.awaiting_center) + col(ts.awaiting_municipality)
        )
        self.lead_open: ColumnElement[int] = (
            getattr(ts, f"{role}_applicable") - getattr(ts, f"{role}_done")
            if role in LEAD_ROLES
            else col(ts.applicable) - col(ts.done)
        )
        self.stalled: ColumnElement[bool] = and_(
            col(ts.stage_rank) < COMPLETE_RANK,
            or_(col(ts.last_activity_at).is_(None), col(ts.last_activity_at) < STALLED_BEFORE),
        )
        self.percent = case(
            (col(ts.applicable) > 0, col(ts.done) * 1000 / col(ts.applicable)), else_=literal(0)
        )
        # Written into the statement: slugs (the content schema's pattern), fixed for the
        # process, and a list of values would be an expanding parameter, compiled per run.
        self.in_catalog = col(Track.model_key).in_([literal_column(f"'{k}'") for k in model_keys])
        self.statements: dict[Hashable, Prepared] = {}

    @staticmethod
    def params(principal: Principal, clock: Clock, f: Filters | None = None) -> dict[str, Any]:
        """The values of a statement's parameters: the viewer's, the day's and the filters'."""
        out = {
            "today": clock.today,
            "soon": due_soon_until(clock.today),
            "stalled_before": clock.stalled_before,
            **scope_params(principal),
        }
        if f is not None:
            out |= {
                "region": f.region,
                "model": f.model,
                "stage_rank": COMPLETE_RANK if f.stage == "complete" else STAGE_RANK.get(f.stage),
                "decision": f.decision,
                "q_pattern": "%" + f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
                "offset": (f.page - 1) * PAGE_SIZE,
            }
        return out

    def prepared(self, key: Hashable, build: Callable[[], Any]) -> Prepared:
        """The statement ``build`` makes for ``key`` (its filter shape and sort), made once."""
        found = self.statements.get(key)
        if found is None:
            found = Prepared(build())
            if len(self.statements) < STATEMENTS_MAX:
                self.statements[key] = found
        return found

    def base(
        self, *columns: Any, f: Filters | None = None, names: bool = False, sort: str = ""
    ) -> Select[Any]:
        """The visible tracks with their summaries. Cooperative and municipality are joined only
        when the viewer's scope, the filters ``f`` or the ``names`` shown need them: an admin's
        totals over every track then read two tables instead of four (half the time at 20,000)."""
        region = bool(f and f.region) or sort.removeprefix("-") == "region"
        need_muni = names or region
        # Every sort breaks ties by the cooperative's name.
        need_coop = need_muni or bool(sort) or self.role != "admin" or bool(f and f.q)
        stmt = (
            select(*columns)
            .select_from(TrackSummary)
            .join(Track, col(Track.id) == col(TrackSummary.track_id))
        )
        if need_coop:
            stmt = stmt.join(Cooperative, col(Cooperative.id) == col(Track.cooperative_id)).where(
                role_scope(self.role)
            )
        if need_muni:
            stmt = stmt.join(Municipality, col(Municipality.id) == col(Cooperative.municipality_id))
        return stmt.where(self.in_catalog)

    def where(self, stmt: Select[Any], f: Filters) -> Select[Any]:
        if f.region:
            region: Any = bindparam("region")
            stmt = stmt.where(or_(col(Municipality.sido) == region, col(Municipality.name) == region))
        if f.model:
            stmt = stmt.where(col(Track.model_key) == bindparam("model"))
        if f.stage:
            stmt = stmt.where(col(TrackSummary.stage_rank) == bindparam("stage_rank"))
        if f.overdue:
            stmt = stmt.where(self.overdue > 0)
        if f.awaiting:
            stmt = stmt.where(self.awaiting > 0)
        if f.stalled:
            stmt = stmt.where(self.stalled)
        if f.decision == "none":
            stmt = stmt.where(col(TrackSummary.decision).is_(None))
        elif f.decision:
            stmt = stmt.where(col(TrackSummary.decision) == bindparam("decision"))
        if f.q:
            stmt = stmt.where(col(Cooperative.name).ilike(bindparam("q_pattern"), escape="\\"))
        return stmt

    def order(self, sort: str) -> list[Any]:
        key, desc = sort.removeprefix("-"), sort.startswith("-")
        column: Any = {
            "cooperative": col(Cooperative.name),
            "region": col(Municipality.name),
            "model": col(Track.model_key),
            "stage": col(TrackSummary.stage_rank),
            "progress": self.percent,
            "lead_open": self.lead_open,
            "overdue": self.overdue,
            "due_soon": self.due_soon,
            "awaiting": self.awaiting,
            # Never-active tracks sort as the oldest activity.
            "last_activity": func.coalesce(col(TrackSummary.last_activity_at), literal(datetime(1970, 1, 1))),
            "stalled": case((self.stalled, 1), else_=0),
        }[key]
        return [column.desc() if desc else column.asc(), col(Cooperative.name).asc(), col(Track.id).asc()]


def shape(f: Filters) -> tuple[Any, ...]:
    """What of the filters changes a statement's text (not its parameters' values)."""
    decision = "none" if f.decision == "none" else bool(f.decision)
    return (
        bool(f.region),
        bool(f.model),
        bool(f.stage),
        f.overdue,
        f.awaiting,
        f.stalled,
        decision,
        bool(f.q),
    )


_QUERIES: dict[tuple[str, tuple[str, ...]], _Query] = {}


def query_for(principal: Principal, catalog: Catalog) -> _Query:
    """The viewer role's statements over the catalog's models (one per app: its catalog is fixed)."""
    key = (principal.role, tuple(m.key for m in catalog.models))
    q = _QUERIES.get(key)
    if q is None:
        q = _QUERIES[key] = _Query(*key)
    return q


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    track_id: int
    cooperative_id: int
    cooperative: str
    sido: str
    sigungu: str
    municipality: str
    model: BusinessModel
    lead_open: int
    overdue: int
    due_soon: int
    awaiting: int  # for the viewer: its own role's, or both for admin
    awaiting_by_role: Mapping[str, int]
    last_activity_at: datetime | None
    last_activity_role: str | None
    stalled: bool
    decision: str | None
    # The summary row it was made from (its columns and the joined values): progress and the
    # verdict are worked out of it when first read, so a row the fragment cache answers (most
    # rows of a 현황판 shown again after a change elsewhere) costs none of that arithmetic.
    summary: Any = field(compare=False, repr=False)

    @cached_property
    def render_key(self) -> tuple[Any, ...]:
        """Equal keys, equal rows: app.templating's fragment cache keys the rendered row by it."""
        return tuple(self.summary)

    @cached_property
    def progress(self) -> Progress:
        return progress_of(self.summary)

    @cached_property
    def _readiness(self) -> tuple[str, Consignment]:
        return readiness_of_summary(self.summary)

    @property
    def verdict(self) -> str:
        return self._readiness[0]

    @property
    def consignment(self) -> Consignment:
        return self._readiness[1]

    @property
    def current_stage(self) -> StageKey | None:
        return self.progress.current_stage


@dataclass(frozen=True)
class Totals:
    cooperatives: int = 0
    tracks: int = 0
    by_stage: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(STAGE_FILTERS, 0))
    overdue_items: int = 0
    due_soon_items: int = 0
    awaiting_verification: int = 0
    stalled_tracks: int = 0
    by_role: Mapping[LeadRole, Ratio] = field(default_factory=lambda: {r: Ratio(0, 0) for r in LEAD_ROLES})

    def as_dict(self) -> dict[str, Any]:
        return {
            "cooperatives": self.cooperatives,
            "tracks": self.tracks,
            "by_stage": dict(self.by_stage),
            "overdue_items": self.overdue_items,
            "awaiting_verification": self.awaiting_verification,
            "stalled_tracks": self.stalled_tracks,
        }


@dataclass(frozen=True)
class Page:
    filters: Filters
    totals: Totals
    rows: list[Row]
    page: int
    pages: int
    clock: Clock

    @property
    def first(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1


# The summary columns a row reads, as plain columns: building 50 ORM objects a page cost more
# than the statement. The stored overdue/due_soon are left out: the row's own are of today.
_SUMMARY = TrackSummary.__table__  # type: ignore[attr-defined]
_ROW_SUMMARY_COLUMNS = tuple(
    c
    for c in _SUMMARY.columns
    if c.key
    in {
        "track_id",
        *(f"{s}_{part}" for s in STAGE_ORDER for part in ("done", "applicable", "started")),
        *(f"{r}_{part}" for r in LEAD_ROLES for part in ("done", "applicable")),
        "consignment_applicable",
        "consignment_done",
        "consignment_verified",
        "change_requests",
        "awaiting_center",
        "awaiting_municipality",
        "last_activity_at",
        "last_activity_role",
        "decision",
    }
)


def _row_columns(q: _Query) -> tuple[Any, ...]:
    return (
        *_ROW_SUMMARY_COLUMNS,
        col(Track.model_key).label("model_key"),
        col(Cooperative.id).label("cooperative_id"),
        col(Cooperative.name).label("cooperative"),
        col(Municipality.sido).label("sido"),
        col(Municipality.sigungu).label("sigungu"),
        col(Municipality.name).label("municipality"),
        q.lead_open.label("lead_open"),
        q.overdue.label("overdue"),
        q.due_soon.label("due_soon"),
        q.awaiting.label("awaiting"),
        q.stalled.label("stalled"),
    )


def _to_row(r: Any, catalog: Catalog) -> Row:
    """A row of _row_columns (progress_of and readiness_of_summary read the summary's columns)."""
    model = catalog.model(r.model_key)
    assert model is not None  # noqa: S101 - rows are limited to the catalog's models
    return Row(
        track_id=r.track_id,
        cooperative_id=r.cooperative_id,
        cooperative=r.cooperative,
        sido=r.sido,
        sigungu=r.sigungu,
        municipality=r.municipality,
        model=model,
        lead_open=int(r.lead_open),
        overdue=int(r.overdue),
        due_soon=int(r.due_soon),
        awaiting=int(r.awaiting),
        awaiting_by_role={"center": r.awaiting_center, "municipality": r.awaiting_municipality},
        last_activity_at=r.last_activity_at,
        last_activity_role=r.last_activity_role,
        stalled=bool(r.stalled),
        decision=r.decision,
        summary=r,
    )


def _totals_statement(q: _Query, f: Filters) -> Any:
    ts = TrackSummary
    stage_sums = [
        func.sum(case((col(ts.stage_rank) == rank, 1), else_=0))
        for rank in (*STAGE_RANK.values(), COMPLETE_RANK)
    ]
    role_sums = [func.sum(getattr(ts, f"{r}_{part}")) for r in LEAD_ROLES for part in ("done", "applicable")]
    return q.where(
        q.base(
            func.count(func.distinct(col(Track.cooperative_id))),
            func.count(),
            *stage_sums,
            func.sum(q.overdue),
            func.sum(q.due_soon),
            func.sum(q.awaiting),
            func.sum(case((q.stalled, 1), else_=0)),
            *role_sums,
            f=f,
        ),
        f,
    )


def _totals(session: Session, q: _Query, f: Filters, params: Mapping[str, Any]) -> Totals:
    stmt = q.prepared(("totals", shape(f)), lambda: _totals_statement(q, f))
    r = [int(v or 0) for v in run_plain(session, stmt, params).one()]
    roles = r[10:]
    return Totals(
        cooperatives=r[0],
        tracks=r[1],
        by_stage=dict(zip(STAGE_FILTERS, r[2:6], strict=True)),
        overdue_items=r[6],
        due_soon_items=r[7],
        awaiting_verification=r[8],
        stalled_tracks=r[9],
        by_role={role: Ratio(roles[2 * i], roles[2 * i + 1]) for i, role in enumerate(LEAD_ROLES)},
    )


def load_totals(
    *,
    session: Session,
    principal: Principal,
    catalog: Catalog,
    filters: Filters,
    stalled_days: int,
    now: datetime | None = None,
) -> Totals:
    """Only the totals over the filtered rows (one statement)."""
    params = _Query.params(principal, Clock.at(now, stalled_days), filters)
    return _totals(session, query_for(principal, catalog), filters, params)


def _page_statement(q: _Query, f: Filters) -> Any:
    # The page's ids are chosen on narrow rows first, then only those 50 are read in full: the
    # sort over every filtered track then moves ids, not whole summaries (a third faster at 20,000).
    keys = (
        q.where(q.base(col(TrackSummary.track_id), f=f, sort=f.sort), f)
        .order_by(*q.order(f.sort))
        .limit(PAGE_SIZE)
        .offset(OFFSET)
    )
    return (
        q.base(*_row_columns(q), names=True)
        .where(col(TrackSummary.track_id).in_(keys.scalar_subquery()))
        .order_by(*q.order(f.sort))
    )


def load_page(
    *,
    session: Session,
    principal: Principal,
    catalog: Catalog,
    filters: Filters,
    stalled_days: int,
    now: datetime | None = None,
) -> Page:
    """Totals over every filtered row and one page of rows: two statements, whatever the data."""
    clock = Clock.at(now, stalled_days)
    q = query_for(principal, catalog)
    totals = _totals(session, q, filters, _Query.params(principal, clock, filters))
    pages = max(1, -(-totals.tracks // PAGE_SIZE))
    filters = replace(filters, page=min(filters.page, pages))
    stmt = q.prepared(("page", shape(filters), filters.sort), lambda: _page_statement(q, filters))
    rows = [
        _to_row(r, catalog) for r in run_plain(session, stmt, _Query.params(principal, clock, filters)).all()
    ]
    return Page(filters, totals, rows, filters.page, pages, clock)


def iter_rows(
    *,
    session: Session,
    principal: Principal,
    catalog: Catalog,
    filters: Filters,
    stalled_days: int,
    now: datetime | None = None,
    batch: int = 1000,
) -> Iterator[Row]:
    """Every filtered row in the page's order, streamed in batches (the exports)."""
    clock = Clock.at(now, stalled_days)
    q = query_for(principal, catalog)
    stmt = q.where(q.base(*_row_columns(q), f=filters, names=True), filters).order_by(*q.order(filters.sort))
    for r in stream(session, stmt, batch=batch, params=_Query.params(principal, clock, filters)):
        yield _to_row(r, catalog)


@dataclass(frozen=True)
class TrackFlags:
    """What the cooperative list and page show beside a track's bar."""

    current_stage: str  # a STAGE_FILTERS key
    overdue: int
    due_soon: int
    awaiting: int  # for the viewer (see _Query.awaiting)
    verdict: str
    consignment: Consignment
    decision: str | None


@dataclass(frozen=True)
class TrackCard:
    track: Track
    model: BusinessModel | None  # None when the model left the content
    progress: Progress | None
    flags: TrackFlags | None


def track_cards(
    *,
    session: Session,
    principal: Principal,
    catalog: Catalog,
    cooperative_ids: Sequence[int],
    now: datetime | None = None,
) -> dict[int, list[TrackCard]]:
    """The tracks of several (already visible) cooperatives with their stored progress and flags:
    one statement, whatever the number of tracks."""
    if not cooperative_ids:
        return {}
    q = query_for(principal, catalog)
    stmt = (
        select(Track, TrackSummary, q.overdue, q.due_soon, q.awaiting)
        .outerjoin(TrackSummary, col(TrackSummary.track_id) == col(Track.id))
        .where(col(Track.cooperative_id).in_(cooperative_ids))
        .order_by(col(Track.id))
    )
    out: dict[int, list[TrackCard]] = {cid: [] for cid in cooperative_ids}
    params = _Query.params(principal, Clock.at(now, stalled_days=1))
    for track, ts, over, soon, wait in session.execute(stmt, params).all():
        model = catalog.model(track.model_key)
        if model is None or ts is None:  # summaries of removed models are dropped
            out[track.cooperative_id].append(TrackCard(track, model, None, None))
            continue
        verdict, consignment = readiness_of_summary(ts)
        flags = TrackFlags(
            RANK_TO_STAGE[ts.stage_rank], int(over), int(soon), int(wait), verdict, consignment, ts.decision
        )
        out[track.cooperative_id].append(TrackCard(track, model, progress_of(ts), flags))
    return out


# One per viewer role, built once (the viewer's organization a parameter).
_REGIONS = {
    role: Prepared(
        select(col(Municipality.sido), col(Municipality.name))
        .join(Cooperative, col(Cooperative.municipality_id) == col(Municipality.id))
        .where(role_scope(role))
        .distinct()
        .order_by(col(Municipality.sido), col(Municipality.name))
    )
    for role in VIEWER_ROLES
}


def region_options(*, session: Session, principal: Principal) -> list[tuple[str, list[str]]]:
    """The 시·도 of the visible cooperatives, each with its municipalities, for the region filter."""
    stmt = _REGIONS.get(principal.role)
    if stmt is None:
        return []
    out: dict[str, list[str]] = {}
    for sido, name in run_plain(session, stmt, scope_params(principal)).all():
        names = out.setdefault(sido, [])
        if name != sido:
            names.append(name)
    return list(out.items())


# --- charts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Charts:
    stage_by_model: list[tuple[BusinessModel, dict[str, int]]]  # model → stage filter key → tracks
    weeks: list[tuple[date, int]]  # Monday (KST) of this week and the 11 before it → events
    by_role: Mapping[LeadRole, Ratio]


def load_charts(
    *,
    session: Session,
    principal: Principal,
    catalog: Catalog,
    filters: Filters,
    totals: Totals,
    stalled_days: int,
    now: datetime | None = None,
) -> Charts:
    """The three charts, for the same filtered rows as the table: three statements."""
    clock = Clock.at(now, stalled_days)
    q = query_for(principal, catalog)
    params = _Query.params(principal, clock, filters)
    stmt = q.where(
        q.base(col(Track.model_key), col(TrackSummary.stage_rank), func.count(), f=filters), filters
    ).group_by(col(Track.model_key), col(TrackSummary.stage_rank))
    counts: dict[str, dict[str, int]] = {}
    for model_key, rank, n in session.execute(stmt, params).all():
        counts.setdefault(model_key, dict.fromkeys(STAGE_FILTERS, 0))[RANK_TO_STAGE[rank]] = int(n)
    stage_by_model = [(m, counts[m.key]) for m in catalog.models if m.key in counts]

    # Calendar weeks (Monday–Sunday, KST), this one up to now: finished weeks from their stored
    # counts, the rest (this week, and any the nightly roll has not reached) from the log.
    current = monday(clock.today)
    mondays = [current - timedelta(weeks=i) for i in reversed(range(ACTIVITY_WEEKS))]
    split = min(max(rolled_until(session) or mondays[0], mondays[0]), current + timedelta(weeks=1))
    rolled: Any = (
        select(col(ActivityWeek.week).label("week"), func.sum(col(ActivityWeek.events)).label("n"))
        .where(col(ActivityWeek.week) >= mondays[0], col(ActivityWeek.week) < split)
        .group_by(col(ActivityWeek.week))
    )
    week = monday_of(session, col(Event.at))
    live: Any = (
        select(week.label("week"), func.count().label("n"))
        .select_from(Event)
        .where(
            col(Event.at) >= week_start(split), col(Event.at) <= clock.now, col(Event.track_id).is_not(None)
        )
        .group_by(week)
    )
    # Every track, for an admin without filters: no need to test each row against the list.
    if principal.role != "admin" or filters.active:
        tracks = q.where(q.base(col(TrackSummary.track_id), f=filters), filters)
        rolled = rolled.where(col(ActivityWeek.track_id).in_(tracks))
        # Driven by the time index (this week's events) and tested against the tracks: "+ 0"
        # keeps SQLite off the track_id index, which it preferred (2 s at 20,000 tracks).
        live = live.where((col(Event.track_id) + 0).in_(tracks))
    per_week: dict[date, int] = {}
    for w, n in session.execute(union_all(rolled, live), params).all():
        day = w if isinstance(w, date) else date.fromisoformat(str(w))
        per_week[day] = per_week.get(day, 0) + int(n)
    weeks = [(w, per_week.get(w, 0)) for w in mondays]
    return Charts(stage_by_model=stage_by_model, weeks=weeks, by_role=totals.by_role)


def can_view(principal: Principal) -> bool:
    return principal.role in VIEWER_ROLES
