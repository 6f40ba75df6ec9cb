"""The stored track summary: one pure function of the item states, and its only writers.

``compute_summary`` is arithmetic over plain data (like app.services.progress, which it uses);
``refresh_track`` stores it in the same transaction as each change (called from
``tracking.append_event``, through which every change passes); ``refresh_all`` rebuilds every
track, and ``ensure_current`` does that at start when the content changed or a track has none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Engine,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.catalog.schema import LEAD_ROLES, STAGE_ORDER, BusinessModel, Item, LeadRole, StageKey
from app.db import Prepared, run_plain
from app.models import (
    ActivityWeek,
    AppMeta,
    Decision,
    Event,
    ItemState,
    Track,
    TrackDueItem,
    TrackSummary,
    User,
)
from app.models.base import utcnow
from app.models.summary import COMPLETE_RANK, STAGE_RANK
from app.services.progress import Progress, Ratio, compute_progress, progress_from_counts

log = logging.getLogger(__name__)
CONTENT_VERSION_KEY = "summary_content_version"
DUE_SOON_DAYS = 14  # "기한 임박": due today or within two weeks
KST = ZoneInfo("Asia/Seoul")
VERIFIER_ROLES = ("center", "municipality")


@dataclass(frozen=True)
class ItemFacts:
    """What the summary needs of one item state."""

    status: str
    due_date: date | None = None
    verified: bool = False
    updated_at: datetime | None = None
    change_requested: bool = False


@dataclass(frozen=True)
class DueItem:
    item_key: str
    due_date: date
    lead: LeadRole


@dataclass(frozen=True)
class SummaryFacts:
    progress: Progress
    started: Mapping[StageKey, bool]
    open_earlier: int
    awaiting: Mapping[str, int]  # verifier role → done items not yet confirmed
    due: tuple[DueItem, ...]  # open items with a due date
    completed_at: Mapping[StageKey, datetime | None]
    consignment: Mapping[str, int]  # applicable / done / verified 위탁 전 확인 items
    change_requests: int  # open 보완 요청, any item
    last_activity_at: datetime | None
    last_activity_role: str | None


def verifier_role(item: Item) -> str | None:
    """Who confirms a done item: its public lead, or the 지자체 for coop-led consignment items."""
    if item.lead in VERIFIER_ROLES:
        return item.lead
    return "municipality" if item.consignment else None


def compute_summary(
    *,
    model: BusinessModel,
    items: Mapping[str, ItemFacts],
    last_activity: tuple[datetime, str | None] | None,
) -> SummaryFacts:
    """The summary of one track from its item states (retired keys are ignored, as in progress)."""
    progress = compute_progress(model=model, statuses={k: f.status for k, f in items.items()})
    started = dict.fromkeys(STAGE_ORDER, False)
    awaiting = dict.fromkeys(VERIFIER_ROLES, 0)
    due: list[DueItem] = []
    last_change: dict[StageKey, datetime | None] = dict.fromkeys(STAGE_ORDER, None)
    consignment = {"applicable": 0, "done": 0, "verified": 0}
    change_requests = 0
    for stage, item in model.items:
        facts = items.get(item.key)
        if item.consignment and (facts is None or facts.status != "na"):
            consignment["applicable"] += 1
            consignment["done"] += bool(facts and facts.status == "done")
            consignment["verified"] += bool(facts and facts.status == "done" and facts.verified)
        if facts is None:
            continue
        change_requests += facts.change_requested
        if facts.status in ("doing", "done"):
            started[stage] = True
        role = verifier_role(item)
        if facts.status == "done" and not facts.verified and role is not None:
            awaiting[role] += 1
        if facts.status not in ("done", "na") and facts.due_date is not None:
            due.append(DueItem(item.key, facts.due_date, item.lead))
        if facts.status in ("done", "na") and facts.updated_at is not None:
            prev = last_change[stage]
            last_change[stage] = facts.updated_at if prev is None else max(prev, facts.updated_at)
    # A complete stage was completed at the last change among its finished items.
    completed_at = {
        s: last_change[s] if progress.by_stage[s].done == progress.by_stage[s].applicable else None
        for s in STAGE_ORDER
    }
    furthest = max((i for i, s in enumerate(STAGE_ORDER) if started[s]), default=0)
    open_earlier = sum(
        progress.by_stage[s].applicable - progress.by_stage[s].done for s in STAGE_ORDER[:furthest]
    )
    return SummaryFacts(
        progress=progress,
        started=started,
        open_earlier=open_earlier,
        awaiting=awaiting,
        due=tuple(due),
        completed_at=completed_at,
        consignment=consignment,
        change_requests=change_requests,
        last_activity_at=last_activity[0] if last_activity else None,
        last_activity_role=last_activity[1] if last_activity else None,
    )


def stage_rank(current_stage: StageKey | None) -> int:
    return COMPLETE_RANK if current_stage is None else STAGE_RANK[current_stage]


def due_counts(due: Sequence[DueItem], today: date) -> tuple[int, int]:
    """(overdue, due soon) among open dated items, as of ``today``."""
    soon = due_soon_until(today)
    return sum(d.due_date < today for d in due), sum(today <= d.due_date <= soon for d in due)


def summary_values(track_id: int, facts: SummaryFacts, now: datetime) -> dict[str, Any]:
    """The track_summary row for ``facts``."""
    p = facts.progress
    today = now.astimezone(KST).date()
    overdue, due_soon = due_counts(facts.due, today)
    values: dict[str, Any] = {"track_id": track_id}
    for s in STAGE_ORDER:
        values[f"{s}_done"] = p.by_stage[s].done
        values[f"{s}_applicable"] = p.by_stage[s].applicable
        values[f"{s}_started"] = facts.started[s]
        values[f"{s}_completed_at"] = facts.completed_at[s]
    for r in LEAD_ROLES:
        values[f"{r}_done"] = p.by_role[r].done
        values[f"{r}_applicable"] = p.by_role[r].applicable
    values |= {
        "done": p.overall.done,
        "applicable": p.overall.applicable,
        "stage_rank": stage_rank(p.current_stage),
        "open_earlier": facts.open_earlier,
        "awaiting_center": facts.awaiting["center"],
        "awaiting_municipality": facts.awaiting["municipality"],
        "consignment_applicable": facts.consignment["applicable"],
        "consignment_done": facts.consignment["done"],
        "consignment_verified": facts.consignment["verified"],
        "change_requests": facts.change_requests,
        "overdue": overdue,
        "due_soon": due_soon,
        "due_as_of": today,
        "last_activity_at": facts.last_activity_at,
        "last_activity_role": facts.last_activity_role,
        "refreshed_at": now,
    }
    return values


def progress_of(row: Any) -> Progress:
    """A stored summary (or any row with its columns) as the same Progress the track page shows."""
    return progress_from_counts(
        by_stage={s: Ratio(getattr(row, f"{s}_done"), getattr(row, f"{s}_applicable")) for s in STAGE_ORDER},
        by_role={r: Ratio(getattr(row, f"{r}_done"), getattr(row, f"{r}_applicable")) for r in LEAD_ROLES},
        started={s: bool(getattr(row, f"{s}_started")) for s in STAGE_ORDER},
    )


_STORED = Prepared(
    select(TrackSummary.__table__).where(  # type: ignore[attr-defined]
        TrackSummary.__table__.c.track_id == bindparam("track_id")  # type: ignore[attr-defined]
    )
)


def stored_summary(session: Session, track_id: int) -> Any | None:
    """One track's stored summary as a row of its columns (progress_of and
    readiness.readiness_of_summary read it), or None if it has none.

    After a change, the row its upsert returned in this unit of work: the answer to a change
    shows the summary the change just stored, without reading it back."""
    written = session.info.get(_WRITTEN)
    if written is not None and track_id in written:
        return written[track_id]
    return run_plain(session, _STORED, {"track_id": track_id}).first()


# session.info key: track id → the summary row this session's last upsert returned. Every other
# write to track_summary (a deleted summary, the bulk rebuild and the nightly counts) drops it.
_WRITTEN = "maeul_written_summaries"


def _forget_written(session: Session, track_id: int | None = None) -> None:
    written = session.info.get(_WRITTEN)
    if written is not None:
        if track_id is None:
            written.clear()
        else:
            written.pop(track_id, None)


# --- writes ------------------------------------------------------------------------------------


# (dialect, columns) → the upsert statement. Built once: constructing an INSERT … ON CONFLICT of
# forty columns (and its `excluded` alias) cost more than executing it, on every change.
_UPSERTS: dict[tuple[str, tuple[str, ...]], Any] = {}


def _upsert_summary(session: Session, values: Mapping[str, Any]) -> None:
    dialect = session.get_bind().dialect.name
    key = (dialect, tuple(values))
    stmt = _UPSERTS.get(key)
    if stmt is None:
        table = TrackSummary.__table__  # type: ignore[attr-defined]
        insert_: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        update = {k: insert_.excluded[k] for k in values if k != "track_id"}
        stmt = _UPSERTS[key] = Prepared(
            insert_.on_conflict_do_update(index_elements=["track_id"], set_=update).returning(*table.c)
        )
    row = run_plain(session, stmt, dict(values)).one()
    session.info.setdefault(_WRITTEN, {})[values["track_id"]] = row


_DUE = TrackDueItem.__table__  # type: ignore[attr-defined]
_DELETE_DUE = delete(_DUE).where(
    _DUE.c.track_id == bindparam("track_id"), _DUE.c.item_key.in_(bindparam("keys", expanding=True))
)
_INSERT_DUE = Prepared(insert(_DUE))


def refresh_track(
    *,
    session: Session,
    track_id: int,
    model: BusinessModel | None,
    last_activity: tuple[datetime, str | None] | None,
    now: datetime | None = None,
) -> None:
    """Recompute one track's summary from its stored item states (call after the change is flushed)."""
    if model is None:  # the model left the content: nothing to count
        _forget_written(session, track_id)
        session.execute(delete(TrackDueItem).where(col(TrackDueItem.track_id) == track_id))
        session.execute(delete(TrackSummary).where(col(TrackSummary.track_id) == track_id))
        return
    rows = run_plain(session, _FACTS_WITH_DUE, {"track_id": track_id}).all()
    items = {r[1]: _facts(r[:7]) for r in rows}
    facts = compute_summary(model=model, items=items, last_activity=last_activity)
    _upsert_summary(session, summary_values(track_id, facts, now or utcnow()))
    # Only the due rows that differ are rewritten: most changes touch none (a status change
    # between todo and doing, an item without a date), and then no statement is sent for them.
    stored = {r[1]: (r[7], r[8]) for r in rows if r[7] is not None}
    wanted = {d.item_key: (d.due_date, d.lead) for d in facts.due}
    stale = [k for k, v in stored.items() if wanted.get(k) != v]
    if stale:
        run_plain(session, _DELETE_DUE, {"track_id": track_id, "keys": stale})
    new = [_due_row(track_id, d) for d in facts.due if stored.get(d.item_key) != (d.due_date, d.lead)]
    if new:
        run_plain(session, _INSERT_DUE, new)


def _facts_query() -> Any:
    return select(  # type: ignore[call-overload]
        ItemState.track_id,
        ItemState.item_key,
        ItemState.status,
        ItemState.due_date,
        ItemState.verified_at,
        ItemState.updated_at,
        ItemState.change_request,
    )


# One track's facts with the due row stored for each item (if any), so refresh_track can tell
# which due rows changed without reading them separately.
_FACTS_WITH_DUE = Prepared(
    _facts_query()
    .add_columns(TrackDueItem.due_date, TrackDueItem.lead)
    .outerjoin(
        TrackDueItem,
        and_(
            col(TrackDueItem.track_id) == col(ItemState.track_id),
            col(TrackDueItem.item_key) == col(ItemState.item_key),
        ),
    )
    .where(col(ItemState.track_id) == bindparam("track_id"))
)


def _facts(r: Any) -> ItemFacts:
    _, _, status, due, verified_at, updated_at, change_request = r
    return ItemFacts(status, due, verified_at is not None, updated_at, bool(change_request))


def _due_row(track_id: int, d: DueItem) -> dict[str, Any]:
    return {"track_id": track_id, "item_key": d.item_key, "due_date": d.due_date, "lead": d.lead}


def last_activities(
    session: Session, track_ids: Sequence[int] | None = None
) -> dict[int, tuple[datetime, str | None]]:
    """Track id → (time, role of who acted) of its newest event (event ids follow time)."""
    newest = select(col(Event.track_id), func.max(Event.id).label("id")).where(
        col(Event.track_id).is_not(None)
    )
    if track_ids is not None:
        newest = newest.where(col(Event.track_id).in_(track_ids))
    sub = newest.group_by(col(Event.track_id)).subquery()
    stmt = (
        select(col(Event.track_id), col(Event.at), col(User.role))
        .join(sub, sub.c.id == Event.id)
        .outerjoin(User, col(User.id) == col(Event.actor_id))
    )
    return {tid: (at, role) for tid, at, role in session.execute(stmt).all() if tid is not None}


def latest_decisions(session: Session) -> dict[int, str]:
    """Track id → the outcome of its newest 위탁 결정."""
    newest = (
        select(col(Decision.track_id), func.max(Decision.id).label("id"))
        .group_by(col(Decision.track_id))
        .subquery()
    )
    stmt = select(col(Decision.track_id), col(Decision.outcome)).join(newest, newest.c.id == Decision.id)
    return {int(tid): str(outcome) for tid, outcome in session.execute(stmt).all()}


BATCH = 2000


def refresh_all(*, session: Session, catalog: Catalog, now: datetime | None = None) -> int:
    """Rebuild every track's summary (content changed, or `maeul db refresh-summaries`)."""
    now = now or utcnow()
    _forget_written(session)
    session.execute(delete(TrackDueItem))
    session.execute(delete(TrackSummary))
    tracks = session.execute(select(col(Track.id), col(Track.model_key)).order_by(col(Track.id))).all()
    activity = last_activities(session)
    decisions = latest_decisions(session)
    count = 0
    for start in range(0, len(tracks), BATCH):
        chunk = tracks[start : start + BATCH]
        ids = [tid for tid, _ in chunk]
        states: dict[int, dict[str, ItemFacts]] = {tid: {} for tid in ids}
        for r in session.execute(_facts_query().where(col(ItemState.track_id).in_(ids))).all():
            states[r[0]][r[1]] = _facts(r)
        summaries: list[dict[str, Any]] = []
        dues: list[dict[str, Any]] = []
        for tid, model_key in chunk:
            model = catalog.model(model_key)
            if model is None:
                continue
            facts = compute_summary(model=model, items=states[tid], last_activity=activity.get(tid))
            summaries.append(summary_values(tid, facts, now))
            dues.extend(_due_row(tid, d) for d in facts.due)
        for values in summaries:
            values["decision"] = decisions.get(values["track_id"])
        if summaries:
            session.execute(insert(TrackSummary), summaries)
            count += len(summaries)
        if dues:
            session.execute(insert(TrackDueItem), dues)
    reset_activity(session=session, now=now)
    _set_meta(session, CONTENT_VERSION_KEY, catalog.version)
    session.flush()
    return count


def _set_meta(session: Session, key: str, value: str) -> None:
    found = session.get(AppMeta, key)
    if found is None:
        session.add(AppMeta(key=key, value=value))
    else:
        found.value = value
    session.flush()


def needs_refresh(*, session: Session, catalog: Catalog) -> bool:
    """True when the content changed since the summaries were built, or a track has none."""
    stored = session.get(AppMeta, CONTENT_VERSION_KEY)
    if stored is None or stored.value != catalog.version:
        return True
    missing = session.execute(
        select(func.count())
        .select_from(Track)
        .outerjoin(TrackSummary, col(TrackSummary.track_id) == col(Track.id))
        .where(
            col(TrackSummary.track_id).is_(None), col(Track.model_key).in_([m.key for m in catalog.models])
        )
    ).scalar_one()
    return bool(missing)


def _counted(condition: Any) -> Any:
    """The row's track's open dated items meeting ``condition``, counted from track_due_item."""
    return (
        select(func.count())
        .select_from(TrackDueItem)
        .where(col(TrackDueItem.track_id) == col(TrackSummary.track_id), condition)
        .correlate(TrackSummary)
        .scalar_subquery()
    )


def due_soon_until(today: date) -> date:
    return today + timedelta(days=DUE_SOON_DAYS)


# ``today`` and ``soon`` below are dates, or bind parameters of them (statements built once).


def _overdue(today: Any) -> Any:
    return col(TrackDueItem.due_date) < today


def _due_soon(today: Any, soon: Any) -> Any:
    return and_(col(TrackDueItem.due_date) >= today, col(TrackDueItem.due_date) <= soon)


def overdue_count(today: Any) -> Any:
    """Overdue items of the row's track, from the stored copy when it is of today, else counted."""
    return case(
        (col(TrackSummary.due_as_of) == today, col(TrackSummary.overdue)), else_=_counted(_overdue(today))
    )


def due_soon_count(today: Any, soon: Any) -> Any:
    """Items due from ``today`` to ``soon`` (due_soon_until), stored or counted as overdue_count."""
    return case(
        (col(TrackSummary.due_as_of) == today, col(TrackSummary.due_soon)),
        else_=_counted(_due_soon(today, soon)),
    )


def refresh_due_counts(*, session: Session, today: date) -> int:
    """Bring every stored overdue / due-soon count to ``today``: one UPDATE, idempotent, so the
    workers that run it at midnight (and at start) never conflict. Returns the rows it changed."""
    _forget_written(session)
    result = session.execute(
        update(TrackSummary)
        .where(or_(col(TrackSummary.due_as_of).is_(None), col(TrackSummary.due_as_of) != today))
        .values(
            overdue=_counted(_overdue(today)),
            due_soon=_counted(_due_soon(today, due_soon_until(today))),
            due_as_of=today,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- events per finished week --------------------------------------------------------------------

ACTIVITY_WEEKS = 12  # the 현황판's activity chart: this week and the eleven before it
ROLLED_KEY = "activity_rolled_until"  # the first Monday whose week is not in activity_week yet
# A week is rolled only this long after it ended, so a change committed just after midnight with
# a time just before it is still counted (the log's times are taken before the commit).
ROLL_MARGIN = timedelta(minutes=10)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_start(week: date) -> datetime:
    """The instant (UTC) a week begins: its Monday 00:00 in Korea."""
    return datetime.combine(week, datetime.min.time(), KST).astimezone(UTC)


def monday_of(session: Session, at: Any) -> Any:
    """The Monday (KST) of a stored time, in the database's own dialect, as a date."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.date_trunc("week", func.timezone("Asia/Seoul", at)))
    # Stored as UTC text: +9 hours is Korea (no daylight saving); back 6 days, then on to a Monday.
    return type_coerce(func.date(at, "+9 hours", "-6 days", "weekday 1"), Date())


def rolled_until(session: Session) -> date | None:
    found = session.get(AppMeta, ROLLED_KEY)
    return date.fromisoformat(found.value) if found else None


def roll_activity(*, session: Session, now: datetime | None = None) -> int:
    """Count the events of every finished week of the chart's window that is not counted yet,
    and forget weeks that left the window. Idempotent; several workers take turns (a lock on
    PostgreSQL, the write lock on SQLite). Returns how many weeks it counted."""
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('maeul.activity_roll'))"))
    current = monday(now.astimezone(KST).date())
    oldest = current - timedelta(weeks=ACTIVITY_WEEKS - 1)
    end = current if now >= week_start(current) + ROLL_MARGIN else current - timedelta(weeks=1)
    start = max(rolled_until(session) or oldest, oldest)
    session.execute(delete(ActivityWeek).where(col(ActivityWeek.week) < oldest))
    if start >= end:
        return 0
    session.execute(delete(ActivityWeek).where(col(ActivityWeek.week) >= start))
    week = monday_of(session, col(Event.at))
    counted = (
        select(col(Event.track_id), week, func.count())
        # Tracks with a summary only: those whose model is in the content (see refresh_all).
        .join(TrackSummary, col(TrackSummary.track_id) == col(Event.track_id))
        .where(
            col(Event.track_id).is_not(None),
            col(Event.at) >= week_start(start),
            col(Event.at) < week_start(end),
        )
        .group_by(col(Event.track_id), week)
    )
    session.execute(insert(ActivityWeek).from_select(["track_id", "week", "events"], counted))
    _set_meta(session, ROLLED_KEY, end.isoformat())
    if session.get_bind().dialect.name == "postgresql":
        # A week's worth of new rows at once: without fresh statistics the planner took the
        # chart's 100,000 rows for 500 and chose nested loops (0.4 s instead of 0.03 s).
        session.execute(text("ANALYZE activity_week"))
    return (end - start).days // 7


def reset_activity(*, session: Session, now: datetime | None = None) -> int:
    """Count again from the log (after events were written with past times, e.g. demo data)."""
    session.execute(delete(ActivityWeek))
    session.execute(delete(AppMeta).where(col(AppMeta.key) == ROLLED_KEY))
    return roll_activity(session=session, now=now)


def keep_copies_current(*, engine: Engine, now: Callable[[], datetime] = utcnow) -> threading.Thread:
    """A daemon thread that, a little after each midnight in Korea, brings the overdue counts to
    the new day and rolls the week that ended (readers stay correct without it, only slower)."""
    from app.db import transaction

    def run() -> None:
        while True:
            current = now().astimezone(KST)
            midnight = datetime.combine(current.date() + timedelta(days=1), datetime.min.time(), KST)
            time.sleep(max(1.0, (midnight + ROLL_MARGIN - current).total_seconds() + 5))
            try:
                with transaction(engine) as session:
                    refresh_due_counts(session=session, today=now().astimezone(KST).date())
                    roll_activity(session=session, now=now())
            except Exception:  # a database outage must not end the thread; the next day retries
                log.exception("could not refresh the 현황판's stored counts")

    thread = threading.Thread(target=run, name="maeul-daily-copies", daemon=True)
    thread.start()
    return thread


def ensure_current(*, engine: Engine, catalog: Catalog) -> int | None:
    """At start: rebuild the summaries if they are stale. Returns how many were rebuilt (None: none).

    Several workers may start at once: on PostgreSQL an advisory lock lets one rebuild while the
    others wait and then find nothing to do; SQLite's write lock (BEGIN IMMEDIATE) does the same.
    """
    from app.db import transaction

    with transaction(engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext('maeul.summary_refresh'))"))
        refreshed = (
            refresh_all(session=session, catalog=catalog)
            if needs_refresh(session=session, catalog=catalog)
            else None
        )
        refresh_due_counts(session=session, today=utcnow().astimezone(KST).date())
        roll_activity(session=session)
        return refreshed
