"""Tracks and their items: who may do what, the writes, and the page's data in fixed queries.

Every successful change appends exactly one Event; a request that changes nothing appends none.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, bindparam, func, insert, literal, or_, text, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.catalog.schema import STAGE_ORDER, BusinessModel, Item, StageKey
from app.db import Columns, Prepared, run_plain
from app.models import Comment, Cooperative, Event, Evidence, ItemState, LoggedEvent, Track, User
from app.models.base import utcnow
from app.models.tracking import STATUSES
from app.models.user import ROLES
from app.services import notifications, revision
from app.services.errors import ConflictError, ForbiddenError, FormError, NotFoundError
from app.services.principal import Principal
from app.services.progress import Progress, compute_progress
from app.services.summary import (
    due_soon_until,
    progress_of,
    refresh_track,
    stored_summary,
    verifier_role,
)
from app.services.visibility import role_scope, scope_params

KST = ZoneInfo("Asia/Seoul")
MAX_NOTE = 5000
MAX_ASSIGNEE = 100
MAX_NA_REASON = 500
MAX_COMMENT = 2000
EDITABLE_FIELDS = ("status", "note", "na_reason", "assignee", "assignee_id", "due_date")


def today_kst(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(KST).date()


# --- rights ------------------------------------------------------------------------------------


def can_start_track(principal: Principal) -> bool:
    """The cooperative's own users, its support center and admin (visibility already applies)."""
    return principal.role in ("coop", "center", "admin")


def can_edit_item(principal: Principal, item: Item) -> bool:
    if principal.role == "coop":
        return True
    return principal.role in ("center", "municipality") and item.lead == principal.role


def can_comment(principal: Principal) -> bool:
    return principal.role in ("coop", "center", "municipality")


def can_verify(principal: Principal, item: Item, state: ItemState | None) -> bool:
    return (
        state is not None
        and state.status == "done"
        and state.verified_at is None
        and verifier_role(item) == principal.role
    )


# --- tracks ------------------------------------------------------------------------------------


# One statement per role, built once: every track route looks its track up with it.
_TRACK, _COOPERATIVE = Columns(Track), Columns(Cooperative)
_VISIBLE_TRACK: dict[str, Any] = {
    role: Prepared(
        select(*_TRACK.columns, *_COOPERATIVE.columns, *revision.TRACK_COLUMNS)  # type: ignore[call-overload]
        .join(Cooperative, col(Cooperative.id) == col(Track.cooperative_id))
        .where(col(Track.id) == bindparam("track_id"), role_scope(role))
    )
    for role in ROLES
}


def get_visible_track(
    *, session: Session, principal: Principal, track_id: int
) -> tuple[Track, Cooperative, tuple[int, int]] | None:
    """The track with its cooperative and its revision (app.services.revision), when the
    cooperative is visible to ``principal``."""
    stmt = _VISIBLE_TRACK.get(principal.role)
    if stmt is None:
        return None
    row = run_plain(session, stmt, {"track_id": track_id, **scope_params(principal)}).first()
    if row is None:
        return None
    split = len(_TRACK.keys)
    last_event, last_admin_change = row[-2:]
    track, cooperative = _TRACK.build(row[:split]), _COOPERATIVE.build(row[split:-2])
    return track, cooperative, revision.of_columns(last_event, last_admin_change)


_LOCK_TRACK = Prepared(text("SELECT 1 FROM track WHERE id = :id FOR NO KEY UPDATE"))
_INSERT_EVENT = Prepared(insert(Event.__table__).returning(Event.__table__.c.id))  # type: ignore[attr-defined]


def append_event(
    session: Session,
    *,
    principal: Principal | None,
    track: Track,
    model: BusinessModel,
    action: str,
    item_key: str | None = None,
    changes: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> LoggedEvent:
    """Append one entry to the log: the only way events are written (they are never changed).

    Every change passes through here, so this is also where the track's stored summary is
    brought up to date, in the same transaction.
    """
    if session.get_bind().dialect.name == "postgresql":
        # Changes to one track take turns from here to commit: otherwise two writers of different
        # items each recompute the summary from a snapshot without the other's change, and the
        # last to commit stores stale counts (the load-integrity test caught it). Taken before the
        # insert, so event ids also follow commit order. NO KEY UPDATE: foreign-key checks on the
        # track still pass. SQLite's writers already take turns (BEGIN IMMEDIATE).
        run_plain(session, _LOCK_TRACK, {"id": track.id})
    values: dict[str, Any] = {
        "at": now or utcnow(),
        "actor_id": principal.id if principal else None,
        "cooperative_id": track.cooperative_id,
        "track_id": track.id,
        "item_key": item_key,
        "action": action,
        "changes": dict(changes or {}),
    }
    # Written by a built statement, not the ORM (its flush cost more than the insert on every
    # change); an event never changes once written, so a plain record of it is all that follows.
    event = LoggedEvent(id=run_plain(session, _INSERT_EVENT, values).scalar_one(), **values)
    assert track.id is not None  # noqa: S101
    refresh_track(
        session=session,
        track_id=track.id,
        model=model,
        last_activity=(event.at, principal.role if principal else None),
        now=event.at,
    )
    # Tell the people the change waits for or concerns (same transaction: no change, no 알림).
    notifications.on_event(session=session, event=event, principal=principal, track=track, model=model)
    return event


def start_track(
    *, session: Session, principal: Principal, cooperative: Cooperative, catalog: Catalog, model_key: str
) -> Track:
    if not can_start_track(principal):
        raise ForbiddenError(
            "사업 추진을 시작할 권한이 없습니다. 조합, 지원센터, 운영 관리자만 시작할 수 있습니다."
        )
    model = catalog.model(model_key)
    if model is None:
        raise FormError({"model": f"'{model_key}'은(는) 알 수 없는 사업모델입니다."})
    exists = session.exec(
        select(Track.id).where(Track.cooperative_id == cooperative.id, Track.model_key == model_key)
    ).first()
    if exists is not None:
        raise FormError({"model": f"이미 '{model.title}' 사업을 추진 중입니다."})
    assert cooperative.id is not None  # noqa: S101
    track = Track(cooperative_id=cooperative.id, model_key=model_key, created_by_id=principal.id)
    try:
        with session.begin_nested():
            session.add(track)
            session.flush()
    except IntegrityError as exc:  # a concurrent request started the same track
        raise FormError({"model": f"이미 '{model.title}' 사업을 추진 중입니다."}) from exc
    append_event(
        session,
        principal=principal,
        track=track,
        model=model,
        action="track_started",
        changes={"model": model_key},
    )
    return track


# --- the track page's data ---------------------------------------------------------------------


@dataclass
class ItemRow:
    stage: StageKey
    item: Item | None  # None: retired (the key left the content)
    key: str
    state: ItemState | None
    updated_by: str | None = None
    verified_by: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    comments: list[tuple[Comment, str | None]] = field(default_factory=list)
    # Counted for every row; ``evidence`` and ``comments`` are loaded only for the rows whose
    # panel is shown (see load_track_view's ``panels``).
    evidence_count: int = 0
    comment_count: int = 0
    can_edit: bool = False
    can_verify: bool = False
    can_request_changes: bool = False
    can_unverify: bool = False
    verifier_role: str | None = None
    assignee_name: str | None = None  # the assigned person (ItemState.assignee_id), if any
    people: list[Person] = field(default_factory=list)  # whom the viewer may assign it to
    overdue: bool = False
    due_soon: bool = False  # open, due today or within DUE_SOON_DAYS

    @property
    def awaiting_verification(self) -> bool:
        return bool(
            self.state
            and self.state.status == "done"
            and self.state.verified_at is None
            and self.verifier_role
        )

    @property
    def open(self) -> bool:
        return self.status not in ("done", "na")

    @property
    def consignment(self) -> bool:
        return bool(self.item and self.item.consignment)

    @property
    def change_request(self) -> str:
        return self.state.change_request if self.state else ""

    @property
    def status(self) -> str:
        return self.state.status if self.state else "todo"

    @property
    def version(self) -> int:
        return self.state.version if self.state else 0

    @property
    def render_key(self) -> tuple[Any, ...]:
        """Everything the page's row shows but the item's content (fixed while the process runs),
        for app.templating's fragment cache: equal keys, equal rows."""
        state = tuple(getattr(self.state, c) for c in _STATE_FIELDS) if self.state else None
        return (
            self.stage,
            self.key,
            state,
            self.updated_by,
            self.verified_by,
            self.assignee_name,
            self.evidence_count,
            self.comment_count,
            self.can_edit,
            self.can_verify,
            self.can_request_changes,
            self.can_unverify,
            self.verifier_role,
            self.overdue,
            self.due_soon,
        )


_STATE_FIELDS = tuple(ItemState.__table__.columns.keys())  # type: ignore[attr-defined]


@dataclass
class TrackView:
    track: Track
    cooperative: Cooperative
    model: BusinessModel
    rows: list[ItemRow]
    retired: list[ItemRow]
    progress: Progress
    events: list[EventRow]
    can_comment: bool

    def stage_rows(self, stage: str) -> list[ItemRow]:
        return [r for r in self.rows if r.stage == stage]

    def row(self, key: str) -> ItemRow | None:
        return next((r for r in self.rows if r.key == key), None)


_LOGGED_COLUMNS = tuple(Event.__table__.c[f.name] for f in fields(LoggedEvent))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class EventRow:
    event: LoggedEvent
    actor: str | None
    item_text: str | None  # None: not an item event
    retired: bool
    model_title: str | None = None


# Built once: creating aliases per request costs more than the query they join.
_UPDATER, _VERIFIER = aliased(User), aliased(User)


def states_with_names(
    *, session: Session, track_id: int, item_key: str | None = None
) -> dict[str, tuple[ItemState, str | None, str | None]]:
    """Item key → (state, updated by, verified by) for one track (or one of its items), in one query."""
    if item_key is None:
        rows = session.exec(_STATES_WITH_NAMES, params={"track_id": track_id})
    else:
        rows = session.exec(_STATES_WITH_NAMES_ONE, params={"track_id": track_id, "item_key": item_key})
    return {s.item_key: (s, u, v) for s, u, v in rows.all()}


# Statements the track page runs on every render, built once (building one cost about as much as
# running it): the states with names, the panels' counts and the recent events.
_STATES_WITH_NAMES = (
    select(ItemState, _UPDATER.display_name, _VERIFIER.display_name)
    .outerjoin(_UPDATER, col(_UPDATER.id) == col(ItemState.updated_by_id))
    .outerjoin(_VERIFIER, col(_VERIFIER.id) == col(ItemState.verified_by_id))
    .where(col(ItemState.track_id) == bindparam("track_id"))
)
_STATES_WITH_NAMES_ONE = _STATES_WITH_NAMES.where(col(ItemState.item_key) == bindparam("item_key"))


# The columns the JSON API shows of each item state, with the verifier's name: plain rows, no ORM
# objects to build (the API's track read and every change's answer go through it).
_STATE_COLUMNS = (
    select(  # type: ignore[call-overload]
        ItemState.item_key,
        ItemState.status,
        ItemState.version,
        ItemState.note,
        ItemState.na_reason,
        ItemState.assignee,
        ItemState.assignee_id,
        ItemState.due_date,
        ItemState.verified_at,
        ItemState.updated_at,
        _VERIFIER.display_name.label("verified_by"),  # type: ignore[attr-defined]
    )
    .outerjoin(_VERIFIER, col(_VERIFIER.id) == col(ItemState.verified_by_id))
    .where(col(ItemState.track_id) == bindparam("track_id"))
)
_STATE_COLUMNS_ONE = Prepared(_STATE_COLUMNS.where(col(ItemState.item_key) == bindparam("item_key")))
_STATE_COLUMNS_ALL = Prepared(_STATE_COLUMNS)


def state_rows(*, session: Session, track_id: int, item_key: str | None = None) -> dict[str, Any]:
    """Item key → its stored state as a row of plain columns (``verified_by``: the verifier's name),
    for one track or one of its items, in one query."""
    if item_key is None:
        rows = run_plain(session, _STATE_COLUMNS_ALL, {"track_id": track_id}).all()
    else:
        rows = run_plain(session, _STATE_COLUMNS_ONE, {"track_id": track_id, "item_key": item_key}).all()
    return {r.item_key: r for r in rows}


def _counts_statement(*, one_item: bool) -> Any:
    """Live evidence and comments counted per item of a track (or of one item of it)."""
    evidence = [col(Evidence.track_id) == bindparam("track_id"), col(Evidence.removed_at).is_(None)]
    comments = [col(Comment.track_id) == bindparam("track_id")]
    if one_item:
        evidence.append(col(Evidence.item_key) == bindparam("item_key"))
        comments.append(col(Comment.item_key) == bindparam("item_key"))
    return union_all(
        select(literal("e"), col(Evidence.item_key), func.count())
        .where(*evidence)
        .group_by(col(Evidence.item_key)),
        select(literal("c"), col(Comment.item_key), func.count())
        .where(*comments)
        .group_by(col(Comment.item_key)),
    )


_PANEL_COUNTS, _PANEL_COUNTS_ONE = (
    Prepared(_counts_statement(one_item=False)),
    Prepared(_counts_statement(one_item=True)),
)


def _panel_counts(session: Session, track_id: int, item_key: str | None = None) -> dict[tuple[str, str], int]:
    """(kind, item key) → how many live evidence ('e') and comments ('c') the item has (every item
    of the track, or the one given), in one query."""
    if item_key is None:
        rows = run_plain(session, _PANEL_COUNTS, {"track_id": track_id}).all()
    else:
        rows = run_plain(session, _PANEL_COUNTS_ONE, {"track_id": track_id, "item_key": item_key}).all()
    return {(kind, key): int(n) for kind, key, n in rows}


def _panel_statements(track_id: int, keys: Collection[str] | None) -> tuple[Any, Any]:
    """The live evidence and the comments (with their authors' names) of the given items, or of
    every item (None)."""
    evidence = (
        select(Evidence)
        .where(Evidence.track_id == track_id, col(Evidence.removed_at).is_(None))
        .order_by(col(Evidence.id))
    )
    comments = (
        select(Comment, User.display_name)
        .outerjoin(User, col(User.id) == col(Comment.author_id))
        .where(Comment.track_id == track_id)
        .order_by(col(Comment.id))
    )
    if keys is not None:
        evidence = evidence.where(col(Evidence.item_key).in_(list(keys)))
        comments = comments.where(col(Comment.item_key).in_(list(keys)))
    return evidence, comments


@dataclass(frozen=True)
class _RowContext:
    """What every row of one view is built with."""

    principal: Principal
    people: list[Person]
    today: date

    @cached_property
    def names(self) -> dict[int, str]:
        return {p.id: p.name for p in self.people}

    def row(
        self,
        stage: StageKey,
        item: Item | None,
        key: str,
        found: tuple[ItemState, str | None, str | None] | None,
    ) -> ItemRow:
        state, updated_by, verified_by = found or (None, None, None)
        row = ItemRow(
            stage=stage, item=item, key=key, state=state, updated_by=updated_by, verified_by=verified_by
        )
        principal = self.principal
        if item is not None:
            row.can_edit = can_edit_item(principal, item)
            row.can_verify = can_verify(principal, item, state)
            row.verifier_role = verifier_role(item)
            is_verifier = row.verifier_role == principal.role
            row.can_request_changes = bool(is_verifier and state and state.status == "done")
            row.can_unverify = bool(is_verifier and state and state.verified_at is not None)
            if row.can_edit:
                row.people = [p for p in self.people if p.may_lead(item)]
        if state is not None and state.assignee_id is not None:
            row.assignee_name = self.names.get(state.assignee_id, "(다른 기관으로 옮긴 사용자)")
        due = state.due_date if state and state.status not in ("done", "na") else None
        row.overdue = bool(due and due < self.today)
        row.due_soon = bool(due and self.today <= due <= due_soon_until(self.today))
        return row


def _row_context(
    *,
    session: Session,
    principal: Principal,
    cooperative: Cooperative,
    states: Collection[tuple[ItemState, str | None, str | None]],
    panels: bool,
    now: datetime | None,
) -> _RowContext:
    # The people are needed for an open panel's 담당자 choices and for the names of assigned
    # items; a page with neither (most pages: panels load on demand) does without the query.
    wanted = panels or any(s.assignee_id is not None for s, _, _ in states)
    people = assignable_people(session=session, cooperative=cooperative) if wanted else []
    return _RowContext(principal, people, today_kst(now))


def _attach_panels(
    session: Session,
    by_key: Mapping[str, ItemRow],
    track_id: int,
    keys: Collection[str] | None,
    counts: Mapping[tuple[str, str], int] | None,
) -> None:
    """Each row's evidence and comments (the given items', or every item's: None), and its counts
    (``counts``, or those loaded)."""
    if keys is None or keys:
        evidence_stmt, comments_stmt = _panel_statements(track_id, keys)
        for ev in session.exec(evidence_stmt).all():
            if ev.item_key in by_key:
                by_key[ev.item_key].evidence.append(ev)
        for c, author in session.exec(comments_stmt).all():
            if c.item_key in by_key:
                by_key[c.item_key].comments.append((c, author))
    for r in by_key.values():
        if counts is None:
            r.evidence_count, r.comment_count = len(r.evidence), len(r.comments)
        else:
            r.evidence_count, r.comment_count = counts.get(("e", r.key), 0), counts.get(("c", r.key), 0)


def load_track_view(
    *,
    session: Session,
    principal: Principal,
    track: Track,
    cooperative: Cooperative,
    model: BusinessModel,
    events_limit: int = 8,
    now: datetime | None = None,
    panels: Collection[str] | None = None,
) -> TrackView:
    """Everything the track page shows, in a fixed number of queries whatever the row counts.

    ``panels``: the items whose evidence and comments are loaded (the page renders those items'
    panels, the others on demand); the rest get their counts only. None loads every item's
    (the exports and the readiness report).
    """
    assert track.id is not None  # noqa: S101
    states = states_with_names(session=session, track_id=track.id)
    counts = _panel_counts(session, track.id) if panels is not None else None
    rows_with = _row_context(
        session=session,
        principal=principal,
        cooperative=cooperative,
        states=states.values(),
        panels=panels is None or bool(panels),
        now=now,
    )
    rows = [rows_with.row(stage, item, item.key, states.get(item.key)) for stage, item in model.items]
    by_key = {r.key: r for r in rows}
    retired = [rows_with.row(STAGE_ORDER[0], None, k, states[k]) for k in sorted(states) if k not in by_key]
    for r in retired:
        by_key[r.key] = r
    _attach_panels(session, by_key, track.id, panels, counts)

    progress = compute_progress(model=model, statuses={k: s.status for k, (s, _, _) in states.items()})
    return TrackView(
        track=track,
        cooperative=cooperative,
        model=model,
        rows=rows,
        retired=retired,
        progress=progress,
        events=list_events(session=session, model=model, track_id=track.id, limit=events_limit),
        can_comment=can_comment(principal),
    )


@dataclass
class ItemView:
    """What an answer about one item shows: its row, and the track's progress, stored summary
    (for the verdict) and recent events, as on the track page."""

    track: Track
    cooperative: Cooperative
    model: BusinessModel
    row: ItemRow
    summary: Any  # the track's stored summary row (app.services.summary.stored_summary)
    events: list[EventRow]
    can_comment: bool

    @cached_property
    def progress(self) -> Progress:
        return progress_of(self.summary)


def load_item_view(
    *,
    session: Session,
    principal: Principal,
    track: Track,
    cooperative: Cooperative,
    model: BusinessModel,
    item_key: str,
    panel: bool,
    events_limit: int = 8,
    now: datetime | None = None,
) -> ItemView | None:
    """One item's row with what changes around it when it changes (the answer to a change, or its
    panel fetched on its own): the same row as load_track_view's, without building the others.
    Progress and verdict come from the stored summary, which every change brings up to date in its
    own transaction. None for an item not in the content, or a track without a summary."""
    assert track.id is not None  # noqa: S101
    item = model.item(item_key)
    summary = stored_summary(session, track.id)
    if item is None or summary is None:
        return None
    states = states_with_names(session=session, track_id=track.id, item_key=item_key)
    rows_with = _row_context(
        session=session,
        principal=principal,
        cooperative=cooperative,
        states=states.values(),
        panels=panel,
        now=now,
    )
    row = rows_with.row(model.item_stage[item_key], item, item_key, states.get(item_key))
    _attach_panels(
        session,
        {item_key: row},
        track.id,
        [item_key] if panel else [],
        _panel_counts(session, track.id, item_key),
    )
    return ItemView(
        track=track,
        cooperative=cooperative,
        model=model,
        row=row,
        summary=summary,
        events=list_events(session=session, model=model, track_id=track.id, limit=events_limit),
        can_comment=can_comment(principal),
    )


@dataclass(frozen=True)
class Person:
    """Someone an item can be assigned to."""

    id: int
    name: str
    role: str

    def may_lead(self, item: Item) -> bool:
        # The cooperative's own people take any item; a public body's people only the items it leads.
        return self.role == "coop" or self.role == item.lead


# --- item writes -------------------------------------------------------------------------------


def _item_or_404(model: BusinessModel, item_key: str) -> Item:
    item = model.item(item_key)
    if item is None:
        raise NotFoundError("체크리스트 항목을 찾을 수 없습니다. 폐지된 항목은 변경할 수 없습니다.")
    return item


# Built once: constructing the statement cost about as much as running it, on every change.
_STATE = Columns(ItemState)
_CURRENT_STATE = Prepared(
    select(*_STATE.columns).where(
        col(ItemState.track_id) == bindparam("track_id"), col(ItemState.item_key) == bindparam("item_key")
    )
)


def _current_state(session: Session, track_id: int, item_key: str) -> ItemState | None:
    """The stored state, read for a change (not an object of the session: changes are statements)."""
    row = run_plain(session, _CURRENT_STATE, {"track_id": track_id, "item_key": item_key}).first()
    return _STATE.build(row) if row else None


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _validate(changes: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        errors.update(dict.fromkeys(sorted(unknown), "바꿀 수 없는 항목입니다."))
    after = {**before, **{k: v for k, v in changes.items() if k in EDITABLE_FIELDS}}
    for name, limit in (("note", MAX_NOTE), ("assignee", MAX_ASSIGNEE), ("na_reason", MAX_NA_REASON)):
        value = after.get(name)
        if not isinstance(value, str):
            errors[name] = "글자로 입력하세요."
        elif len(value) > limit:
            errors[name] = f"{limit}자 이하로 입력하세요."
        else:
            after[name] = value.strip()
    if after["status"] not in STATUSES:
        errors["status"] = f"'{after['status']}'은(는) 알 수 없는 상태입니다 (todo, doing, done, na 중 하나)."
    if after["assignee_id"] is not None and (
        isinstance(after["assignee_id"], bool) or not isinstance(after["assignee_id"], int)
    ):
        errors["assignee_id"] = "담당자로 지정할 사용자를 목록에서 고르세요."
    if after["due_date"] is not None and not isinstance(after["due_date"], date):
        errors["due_date"] = "날짜 형식(YYYY-MM-DD)으로 입력하세요."
    if after["status"] != "na":
        # A reason belongs to 해당 없음 only, even when sent: the details form always posts the
        # prefilled reason, which kept a stale one after leaving 해당 없음.
        after["na_reason"] = ""
    if after["status"] == "na" and not after.get("na_reason"):
        errors["na_reason"] = "'해당 없음'으로 표시하려면 사유를 적어야 합니다."
    if errors:
        raise FormError(errors)
    return after


# Column names → the UPDATE … WHERE id = … AND version = … setting them. Built once per shape:
# constructing the statement (and the ORM's session synchronisation of an entity UPDATE) cost
# more than running it, on every change. It goes to the table: the state is expired below anyway.
_VERSIONED_UPDATES: dict[tuple[str, ...], Any] = {}


def _versioned_update(session: Session, state: ItemState, *, version: int, values: Mapping[str, Any]) -> None:
    """UPDATE … WHERE version = the one read: atomic on both backends, so of two writers
    holding the same version exactly one succeeds and the other gets ConflictError."""
    keys = tuple(values)
    stmt = _VERSIONED_UPDATES.get(keys)
    if stmt is None:
        table = ItemState.__table__  # type: ignore[attr-defined]
        stmt = _VERSIONED_UPDATES[keys] = Prepared(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
            .values({k: bindparam(k) for k in keys})
        )
    result = run_plain(session, stmt, {"b_id": state.id, "b_version": version, **values})
    # The session may hold its own object of this row (the ORM loaded it earlier in the unit of
    # work): it must not go on showing what was there before.
    held = session.identity_map.get(identity_key(ItemState, state.id))
    if result.rowcount != 1:  # someone else wrote between our read and our update
        if held is not None:
            session.expire(held)
        raise ConflictError(_current_state(session, state.track_id, state.item_key))
    # The state (and the session's object) now hold what was written, without reading it back (a
    # refresh would be one more round trip on every change); nothing marks them changed, so no
    # flush writes them again.
    for target in (state,) if held is None else (state, held):
        for name, value in values.items():
            set_committed_value(target, name, value)


def assignable_people(*, session: Session, cooperative: Cooperative) -> list[Person]:
    """The active users an item of this cooperative may be assigned to: its own users and those of
    its center and 지자체 (each item narrows this to the cooperative and its lead; see ``Person``)."""
    stmt = (
        select(User.id, User.display_name, User.role)
        .where(
            col(User.is_active),
            or_(
                col(User.cooperative_id) == cooperative.id,
                and_(col(User.role) == "center", col(User.center_id) == cooperative.support_center_id),
                and_(
                    col(User.role) == "municipality", col(User.municipality_id) == cooperative.municipality_id
                ),
            ),
        )
        .order_by(col(User.role), col(User.display_name), col(User.id))
    )
    return [Person(int(i or 0), name, role) for i, name, role in session.exec(stmt).all()]


def _assignee_names(
    session: Session, track: Track, item: Item, ids: tuple[int | None, int | None]
) -> dict[int | None, str]:
    """Display names of the old and new assignee; the new one must be assignable for this item."""
    old, new = ids
    cooperative = session.get(Cooperative, track.cooperative_id)
    assert cooperative is not None  # noqa: S101 - a track's cooperative always exists
    people = {
        p.id: p for p in assignable_people(session=session, cooperative=cooperative) if p.may_lead(item)
    }
    if new is not None and new not in people:
        raise FormError(
            {"assignee_id": "이 항목의 담당자는 조합 또는 주관 기관의 사용자 중에서만 고를 수 있습니다."}
        )
    names: dict[int | None, str] = {pid: p.name for pid, p in people.items()}
    if old is not None and old not in names:
        former = session.get(User, old)
        names[old] = former.display_name if former else "(삭제된 사용자)"
    return names


def update_item(
    *,
    session: Session,
    principal: Principal,
    track: Track,
    model: BusinessModel,
    item_key: str,
    version: int,
    changes: Mapping[str, Any],
    now: datetime | None = None,
) -> ItemState:
    """Apply ``changes`` (a subset of EDITABLE_FIELDS) if ``version`` is the stored one.

    Raises ForbiddenError, NotFoundError, FormError, or ConflictError (with the stored state).
    """
    assert track.id is not None  # noqa: S101
    item = _item_or_404(model, item_key)
    if not can_edit_item(principal, item):
        raise ForbiddenError("이 항목을 변경할 권한이 없습니다. 주관 역할이 다른 항목입니다.")
    now = now or utcnow()
    state = _current_state(session, track.id, item_key)
    stored_version = state.version if state else 0
    if version != stored_version:
        raise ConflictError(state)
    before = {
        "status": state.status if state else "todo",
        "note": state.note if state else "",
        "na_reason": state.na_reason if state else "",
        "assignee": state.assignee if state else "",
        "assignee_id": state.assignee_id if state else None,
        "due_date": state.due_date if state else None,
    }
    after = _validate(changes, before)
    diff = {
        k: [_jsonable(before[k]), _jsonable(after[k])]
        for k in EDITABLE_FIELDS
        if before[k] != after[k] and k != "assignee_id"
    }
    if before["assignee_id"] != after["assignee_id"]:
        # The log names people, so it still reads right after an account is renamed or removed.
        old, new = state.assignee_id if state else None, after["assignee_id"]
        names = _assignee_names(session, track, item, (old, new))
        diff["assignee_user"] = [names.get(old), names.get(new)]
    if not diff:
        return state or ItemState(track_id=track.id, item_key=item_key, version=0)
    clears_verification = bool(state and state.verified_at is not None)
    if clears_verification:
        diff["verified"] = [True, False]
    # The cooperative answers a 보완 요청 by marking the item done again (or 해당 없음).
    closes_request = bool(state and state.change_request and after["status"] in ("done", "na"))
    if closes_request:
        assert state is not None  # noqa: S101
        diff["change_request"] = [state.change_request, None]

    if state is None:
        state = ItemState(
            track_id=track.id, item_key=item_key, version=1, updated_by_id=principal.id, updated_at=now
        )
        for k in EDITABLE_FIELDS:
            setattr(state, k, after[k])
        try:
            with session.begin_nested():
                session.add(state)
                session.flush()
        except IntegrityError as exc:  # another writer created it first
            if state in session:
                session.expunge(state)
            raise ConflictError(_current_state(session, track.id, item_key)) from exc
    else:
        values = {k: after[k] for k in EDITABLE_FIELDS} | {
            "version": stored_version + 1,
            "updated_by_id": principal.id,
            "updated_at": now,
        }
        if clears_verification:
            values |= {"verified_by_id": None, "verified_at": None, "verified_note": ""}
        if closes_request:
            values |= {"change_request": "", "change_requested_by_id": None, "change_requested_at": None}
        _versioned_update(session, state, version=stored_version, values=values)

    append_event(
        session,
        principal=principal,
        track=track,
        model=model,
        item_key=item_key,
        action="item_updated",
        changes=diff,
        now=now,
    )
    return state


def add_comment(
    *,
    session: Session,
    principal: Principal,
    track: Track,
    model: BusinessModel,
    item_key: str,
    body: str,
    now: datetime | None = None,
) -> Comment:
    _item_or_404(model, item_key)
    if not can_comment(principal):
        raise ForbiddenError("의견을 남길 권한이 없습니다.")
    body = body.strip()
    if not body:
        raise FormError({"body": "의견 내용을 입력하세요."})
    if len(body) > MAX_COMMENT:
        raise FormError({"body": f"의견은 {MAX_COMMENT}자 이하로 입력하세요."})
    assert track.id is not None  # noqa: S101
    comment = Comment(
        track_id=track.id, item_key=item_key, author_id=principal.id, body=body, created_at=now or utcnow()
    )
    session.add(comment)
    session.flush()
    append_event(
        session,
        principal=principal,
        track=track,
        model=model,
        item_key=item_key,
        action="comment",
        changes={"comment": body},
        now=now,
    )
    return comment


# --- the activity log --------------------------------------------------------------------------


# The filters given → the statement, built once per shape (as _VERSIONED_UPDATES).
_EVENT_STATEMENTS: dict[tuple[str, ...], Any] = {}


def _events_statement(given: tuple[str, ...]) -> Any:
    stmt = _EVENT_STATEMENTS.get(given)
    if stmt is None:
        stmt = (
            select(*_LOGGED_COLUMNS, User.display_name, Track.model_key)  # type: ignore[call-overload]
            .outerjoin(User, col(User.id) == col(Event.actor_id))
            .outerjoin(Track, col(Track.id) == col(Event.track_id))
            .order_by(col(Event.id).desc())
        )
        conditions = {
            "track_id": col(Event.track_id) == bindparam("track_id"),
            "cooperative_id": col(Event.cooperative_id) == bindparam("cooperative_id"),
            "before": col(Event.id) < bindparam("before"),
            "action": col(Event.action) == bindparam("action"),
        }
        stmt = stmt.where(*(conditions[k] for k in given if k in conditions))
        if "limit" in given:
            stmt = stmt.limit(bindparam("limit", type_=Integer))
        stmt = _EVENT_STATEMENTS[given] = Prepared(stmt)
    return stmt


def list_events(
    *,
    session: Session,
    model: BusinessModel | None = None,
    catalog: Catalog | None = None,
    track_id: int | None = None,
    cooperative_id: int | None = None,
    limit: int | None = None,
    before: int | None = None,
    action: str | None = None,
) -> list[EventRow]:
    """Newest first; ``before`` (an event id) and ``limit`` page through the log in one query;
    ``action`` keeps one kind (e.g. "comment" for a cooperative home's recent comments)."""
    given = {
        "track_id": track_id,
        "cooperative_id": cooperative_id,
        "before": before,
        "action": action,
        "limit": limit,
    }
    params = {k: v for k, v in given.items() if v is not None}
    out = []
    # Each row is the event's columns with the actor's name and the track's model.
    for *columns, actor, model_key in run_plain(session, _events_statement(tuple(params)), params).all():
        event = LoggedEvent(*columns)
        m = model if model is not None else (catalog.model(model_key) if catalog and model_key else None)
        item = m.item(event.item_key) if m and event.item_key else None
        out.append(
            EventRow(
                event=event,
                actor=actor,
                item_text=item.text if item else (event.item_key if event.item_key else None),
                retired=bool(event.item_key and m and item is None),
                model_title=m.title if m else model_key,
            )
        )
    return out
