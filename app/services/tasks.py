"""내 할 일: the items and follow-ups that wait for one person, across every track they may see.

The checklist items live in the content files, not the database, so the catalog's items are
joined in as a small VALUES list (about 70 rows): every group is then filtered, sorted, counted
and paged in SQL, under THE visibility rule (``cooperative_scope``), whatever the number of
cooperatives.

Groups (an item may fall in several; the page shows it once, in the most urgent one):
overdue and due soon (open items I lead or that are assigned to me, by their due date), 보완 요청
on items I lead, items awaiting my 확인, items assigned to me, and open items my role leads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    column,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlmodel import Session, col

from app.catalog import Catalog
from app.models import Cooperative, ItemState, Track, TrackSummary
from app.models.summary import STAGE_RANK
from app.services.consultations import FollowUp, follow_ups_due
from app.services.principal import Principal
from app.services.summary import DUE_SOON_DAYS, due_soon_until, verifier_role
from app.services.tracking import can_edit_item
from app.services.visibility import cooperative_scope

# Most urgent first: the page shows each item in the first group it belongs to.
GROUPS: dict[str, str] = {
    "overdue": "기한 지남",
    "change_requests": "보완 요청",
    "awaiting_my_verification": "내 확인 대기",
    "due_soon": f"{DUE_SOON_DAYS}일 안에 기한",
    "assigned_to_me": "나에게 배정",
    "lead_open": "우리 주관 미완료",
}
GROUP_HELP: dict[str, str] = {
    "overdue": "우리가 주관하거나 나에게 배정된 열린 항목 중 기한이 지난 것",
    "change_requests": "우리가 주관하는 항목에 확인 기관이 남긴 보완 요청",
    "awaiting_my_verification": "완료로 표시되어 우리 기관의 확인을 기다리는 항목",
    "due_soon": f"오늘부터 {DUE_SOON_DAYS}일 안에 기한이 오는 열린 항목",
    "assigned_to_me": "담당자로 나를 지정한 열린 항목",
    "lead_open": "우리 역할이 주관하는 아직 끝나지 않은 항목",
}
PAGE_SIZE = 20  # per group on the page; "더 보기" pages through one group
OPEN = ("todo", "doing")


@dataclass(frozen=True)
class TaskItem:
    track_id: int
    cooperative_id: int
    cooperative: str
    model_key: str
    model_title: str
    item_key: str
    text: str
    stage: str
    status: str
    version: int
    due_date: date | None
    lead: str
    change_request: str = ""
    editable: bool = False  # the viewer may change its status (app.services.tracking.can_edit_item)


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    total: int
    items: list[TaskItem]


@dataclass(frozen=True)
class Tasks:
    """Every list the API names, each complete, in the page's order (an item may be in several)."""

    lead_open: list[TaskItem] = field(default_factory=list)
    awaiting_my_verification: list[TaskItem] = field(default_factory=list)
    change_requests: list[TaskItem] = field(default_factory=list)
    assigned_to_me: list[TaskItem] = field(default_factory=list)
    overdue: list[TaskItem] = field(default_factory=list)
    due_soon: list[TaskItem] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)


def _sql_literal(value: str | int) -> str:
    return str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"


@lru_cache(maxsize=4)
def _catalog_items(rows: tuple[tuple[str, str, str, int, int, str, str], ...]) -> Any:
    """The catalog's items as a CTE of literal rows, built once per content: as bound VALUES the
    statement took ~15 ms to compile on every request, because its cache key held ~500 values."""
    names = ("model_key", "item_key", "stage", "stage_rank", "position", "lead", "verifier")
    # VALUES names its columns column1, column2, … on both SQLite and PostgreSQL; one VALUES
    # list plans much faster on PostgreSQL than ~70 SELECTs joined by UNION ALL.
    rendered = ", ".join("(" + ", ".join(_sql_literal(v) for v in row) + ")" for row in rows)
    aliases = ", ".join(f"column{i} AS {n}" for i, n in enumerate(names, start=1))
    types = (String, String, String, Integer, Integer, String, String)
    return (
        text(f"SELECT {aliases} FROM (VALUES {rendered}) AS v")  # noqa: S608 - slugs, enums, ints
        .columns(*(column(n, t) for n, t in zip(names, types, strict=True)))
        .cte("catalog_item")
    )


class _Query:
    """The item rows one person's tasks come from, with a flag per group."""

    def __init__(self, *, principal: Principal, catalog: Catalog, today: date):
        self.principal, self.catalog, self.today = principal, catalog, today
        self.items = _catalog_items(
            tuple(
                (m.key, item.key, stage, STAGE_RANK[stage], n, item.lead, verifier_role(item) or "")
                for m in catalog.models
                for n, (stage, item) in enumerate(m.items)
            )
        )
        ci = self.items.c
        role, me = principal.role, principal.id
        status = func.coalesce(col(ItemState.status), literal("todo"))
        is_open = status.in_(OPEN)
        leads = ci.lead == role if role in ("coop", "center", "municipality") else literal(False, Boolean)
        assigned = col(ItemState.assignee_id) == me
        mine = or_(leads, assigned)
        due = col(ItemState.due_date)
        soon = due_soon_until(self.today)
        self.flags: dict[str, ColumnElement[bool]] = {
            "overdue": and_(is_open, mine, due < self.today),
            "change_requests": and_(leads, func.coalesce(col(ItemState.change_request), "") != ""),
            "awaiting_my_verification": and_(
                status == "done", col(ItemState.verified_at).is_(None), ci.verifier == role
            ),
            "due_soon": and_(is_open, mine, due >= self.today, due <= soon),
            "assigned_to_me": and_(is_open, assigned),
            "lead_open": and_(is_open, leads),
        }
        self.bucket = case(*[(cond, literal(key)) for key, cond in self.flags.items()], else_=literal(""))
        self.status, self.is_open = status, is_open

    def base(self, *, current_stage: bool = False) -> Any:
        """Items in any group; with ``current_stage``, every open item of each track's current
        stage (from its stored summary), whoever leads it."""
        ci = self.items.c
        flag_cols = [case((cond, 1), else_=0).label(f"f_{key}") for key, cond in self.flags.items()]
        stmt = (
            select(
                col(Track.id).label("track_id"),
                col(Cooperative.id).label("cooperative_id"),
                col(Cooperative.name).label("cooperative"),
                ci.model_key,
                ci.item_key,
                ci.stage,
                ci.position,
                ci.lead,
                self.status.label("status"),
                func.coalesce(col(ItemState.version), 0).label("version"),
                col(ItemState.due_date).label("due_date"),
                func.coalesce(col(ItemState.change_request), "").label("change_request"),
                self.bucket.label("bucket"),
                *flag_cols,
            )
            .select_from(Track)
            .join(Cooperative, col(Cooperative.id) == col(Track.cooperative_id))
            .join(self.items, ci.model_key == col(Track.model_key))
            .outerjoin(
                ItemState,
                and_(col(ItemState.track_id) == col(Track.id), col(ItemState.item_key) == ci.item_key),
            )
            .where(
                cooperative_scope(self.principal),
                self.is_open if current_stage else or_(*self.flags.values()),
            )
        )
        if current_stage:
            stmt = stmt.join(TrackSummary, col(TrackSummary.track_id) == col(Track.id)).where(
                col(TrackSummary.stage_rank) == ci.stage_rank
            )
        return stmt

    def order(self, q: Any) -> list[Any]:
        # Dated items first, earliest first; then cooperative, model and guidebook order.
        return [
            case((q.due_date.is_(None), 1), else_=0),
            q.due_date,
            q.cooperative,
            q.model_key,
            q.position,
        ]

    def to_item(self, r: Any) -> TaskItem:
        model = self.catalog.model(r.model_key)
        item = model.item(r.item_key) if model else None
        assert model is not None and item is not None  # noqa: S101 - joined from the catalog
        return TaskItem(
            track_id=r.track_id,
            cooperative_id=r.cooperative_id,
            cooperative=r.cooperative,
            model_key=r.model_key,
            model_title=model.title,
            item_key=r.item_key,
            text=item.text,
            stage=r.stage,
            status=r.status,
            version=int(r.version),
            due_date=r.due_date,
            lead=r.lead,
            change_request=r.change_request,
            editable=can_edit_item(self.principal, item),
        )


def _follow_ups(session: Session, principal: Principal, today: date) -> list[FollowUp]:
    return list(follow_ups_due(session=session, principal=principal, until=due_soon_until(today)))


def load_tasks(*, session: Session, principal: Principal, catalog: Catalog, today: date) -> Tasks:
    """Every group in full (the API and the digest): one statement for the items."""
    q = _Query(principal=principal, catalog=catalog, today=today)
    sub = q.base().subquery()
    lists: dict[str, list[TaskItem]] = {key: [] for key in GROUPS}
    for r in session.execute(select(sub).order_by(*q.order(sub.c))).all():
        task = q.to_item(r)
        for key in GROUPS:
            if getattr(r, f"f_{key}"):
                lists[key].append(task)
    return Tasks(**lists, follow_ups=_follow_ups(session, principal, today))


@dataclass(frozen=True)
class TasksPage:
    groups: list[Group]  # in GROUPS order, each item in its most urgent group only
    follow_ups: list[FollowUp]
    today: date
    group: str = ""  # when paging through one group
    page: int = 1
    pages: int = 1

    @property
    def total(self) -> int:
        return sum(g.total for g in self.groups) + len(self.follow_ups)


def load_page(
    *,
    session: Session,
    principal: Principal,
    catalog: Catalog,
    today: date,
    group: str = "",
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> TasksPage:
    """The page: the first ``page_size`` items of each group with each group's total, or one page
    of a single group. One statement for the items, counted and limited in SQL by a window."""
    q = _Query(principal=principal, catalog=catalog, today=today)
    sub = q.base().subquery()
    order = q.order(sub.c)
    ranked = select(
        sub,
        func.row_number().over(partition_by=sub.c.bucket, order_by=order).label("rn"),
        func.count().over(partition_by=sub.c.bucket).label("total"),
    ).subquery()
    first = (page - 1) * page_size if group else 0
    stmt = select(ranked).where(ranked.c.rn > first, ranked.c.rn <= first + page_size)
    if group:
        stmt = stmt.where(ranked.c.bucket == group)
    stmt = stmt.order_by(ranked.c.bucket, ranked.c.rn)
    items: dict[str, list[TaskItem]] = {key: [] for key in GROUPS}
    totals: dict[str, int] = dict.fromkeys(GROUPS, 0)
    for r in session.execute(stmt).all():
        items[r.bucket].append(q.to_item(r))
        totals[r.bucket] = int(r.total)
    shown: Sequence[str] = [group] if group else list(GROUPS)
    groups = [Group(key, GROUPS[key], totals[key], items[key]) for key in shown]
    pages = max(1, -(-totals[group] // page_size)) if group else 1
    follow_ups = [] if group else _follow_ups(session, principal, today)
    return TasksPage(groups, follow_ups, today, group, page, pages)


def next_items(
    *, session: Session, principal: Principal, catalog: Catalog, today: date, limit: int = 8
) -> list[TaskItem]:
    """다음 할 일 for a cooperative's home: the open items of each track's current stage, overdue
    first, then the cooperative's own before those it waits for, then by date and guidebook order."""
    q = _Query(principal=principal, catalog=catalog, today=today)
    sub = q.base(current_stage=True).subquery()
    overdue = case((and_(sub.c.due_date.is_not(None), sub.c.due_date < today), 0), else_=1)
    others_first = case((sub.c.lead == principal.role, 0), else_=1)
    stmt = select(sub).order_by(overdue, others_first, *q.order(sub.c)).limit(limit)
    return [q.to_item(r) for r in session.execute(stmt).all()]
