"""상담·지원 기록: what a support center or a 지자체 did for a cooperative, and follow-ups due.

A consultation belongs to the organization of the person who recorded it (center or 지자체):
only that organization's users change it. Who may read it is THE visibility rule
(``cooperative_scope``) on its cooperative. The yearly statistics are in app.services.support.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from app.catalog import Catalog
from app.input_guard import parse_iso_date
from app.models import Consultation, Cooperative, Municipality, SupportCenter, Track, User
from app.models.base import utcnow
from app.models.consultation import CHANNEL_LABELS, CONSULTATION_STATUS_LABELS
from app.services.errors import ConflictError, ForbiddenError, FormError
from app.services.principal import Principal
from app.services.tracking import today_kst
from app.services.visibility import cooperative_scope

MAX_TOPIC = 200
MAX_TEXT = 4000  # request, advice and resolution
MAX_ITEM_KEY = 64
PAGE_SIZE = 20
CHANNELS = tuple(CHANNEL_LABELS)
STATUSES = tuple(CONSULTATION_STATUS_LABELS)
RECORDER_ROLES = ("center", "municipality")
EDITABLE = ("status", "resolution", "follow_up_on", "advice")
FIELD_LABELS = {
    "held_on": "상담일",
    "channel": "방식",
    "topic": "주제",
    "request": "조합의 요청",
    "advice": "지원·조언 내용",
    "track_id": "관련 사업",
    "item_key": "관련 항목",
    "follow_up_on": "후속 조치일",
    "status": "상태",
    "resolution": "해결 내용",
    "version": "버전",
}


# --- rights ------------------------------------------------------------------------------------


def can_record(principal: Principal) -> bool:
    """Center staff and 지자체 officers record consultations (on cooperatives they can see)."""
    return (principal.role == "center" and principal.center_id is not None) or (
        principal.role == "municipality" and principal.municipality_id is not None
    )


def can_update(principal: Principal, consultation: Consultation) -> bool:
    """Only the organization that gave the consultation follows it up."""
    if principal.role == "center":
        return principal.center_id is not None and consultation.center_id == principal.center_id
    if principal.role == "municipality":
        return (
            principal.municipality_id is not None
            and consultation.municipality_id == principal.municipality_id
        )
    return False


# --- input -------------------------------------------------------------------------------------

# Dates and ids as a form sends them (text) or as the API has already parsed them.
DateIn = date | str | None
IdIn = int | str | None


@dataclass(frozen=True)
class ConsultationInput:
    held_on: DateIn
    channel: str
    topic: str
    request: str = ""
    advice: str = ""
    track_id: IdIn = None
    item_key: str | None = None
    follow_up_on: DateIn = None


@dataclass(frozen=True)
class Valid:
    """A consultation's fields after validation (what is stored)."""

    held_on: date
    channel: str
    topic: str
    request: str
    advice: str
    track_id: int | None
    item_key: str | None
    follow_up_on: date | None


def _date(value: DateIn, name: str, errors: dict[str, str]) -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return parse_iso_date(text)
    except ValueError:
        errors[name] = "날짜를 YYYY-MM-DD 형식으로 입력하세요."
        return None


def _id(value: IdIn, name: str, errors: dict[str, str]) -> int | None:
    if value is None or isinstance(value, int):
        return value
    text = value.strip()
    if not text:
        return None
    # ASCII digits only, and short: int() of a huge string is slow ('²'.isdigit() is True).
    if text.isascii() and text.isdigit() and len(text) <= 10:
        return int(text)
    errors[name] = "목록에서 고르세요."
    return None


def _text(value: str, name: str, limit: int, errors: dict[str, str]) -> str:
    text = value.strip()
    if len(text) > limit:
        errors[name] = f"{limit}자 이하로 입력하세요."
    return text


def validate(
    data: ConsultationInput, *, session: Session, cooperative: Cooperative, catalog: Catalog, today: date
) -> Valid:
    """Every problem at once, in Korean, naming the field."""
    errors: dict[str, str] = {}
    held_on = _date(data.held_on, "held_on", errors)
    if held_on is None and "held_on" not in errors:
        errors["held_on"] = "상담일을 입력하세요."
    elif held_on is not None and held_on > today:
        errors["held_on"] = "상담일은 오늘 이후일 수 없습니다."
    if data.channel not in CHANNELS:
        errors["channel"] = "방식을 고르세요 (방문, 전화, 온라인, 교육 중 하나)."
    topic = _text(data.topic, "topic", MAX_TOPIC, errors)
    if not topic:
        errors["topic"] = "상담 주제를 입력하세요."
    request = _text(data.request, "request", MAX_TEXT, errors)
    advice = _text(data.advice, "advice", MAX_TEXT, errors)
    follow_up_on = _date(data.follow_up_on, "follow_up_on", errors)
    if follow_up_on is not None and held_on is not None and follow_up_on < held_on:
        errors["follow_up_on"] = "후속 조치일은 상담일보다 앞설 수 없습니다."
    track_id = _id(data.track_id, "track_id", errors)
    item_key = (data.item_key or "").strip() or None
    track = None
    if track_id is not None:
        track = (
            session.execute(
                select(Track).where(col(Track.id) == track_id, col(Track.cooperative_id) == cooperative.id)
            )
            .scalars()
            .first()
        )
        if track is None:
            errors["track_id"] = "이 조합이 추진하는 사업을 고르세요."
    if item_key is not None:
        if len(item_key) > MAX_ITEM_KEY:
            errors["item_key"] = "체크리스트 항목을 목록에서 고르세요."
        elif track_id is None and "track_id" not in errors:
            errors["item_key"] = "항목을 고르려면 관련 사업도 골라야 합니다."
        elif track is not None:
            model = catalog.model(track.model_key)
            if model is None or model.item(item_key) is None:
                errors["item_key"] = "고른 사업의 체크리스트에 없는 항목입니다."
    if errors:
        raise FormError(errors)
    assert held_on is not None  # noqa: S101 - an error above otherwise
    return Valid(held_on, data.channel, topic, request, advice, track_id, item_key, follow_up_on)


# --- recording and following up ------------------------------------------------------------------


def record_consultation(
    *,
    session: Session,
    principal: Principal,
    cooperative: Cooperative,
    catalog: Catalog,
    data: ConsultationInput,
    today: date | None = None,
    now: datetime | None = None,
) -> Consultation:
    """Record a consultation given by the principal's organization on a cooperative it can see.

    Raises ForbiddenError (cooperative users, admin) before looking at the input, then FormError.
    """
    if not can_record(principal):
        raise ForbiddenError("상담·지원 기록은 도시재생지원센터와 지자체 담당자가 남깁니다.")
    valid = validate(
        data, session=session, cooperative=cooperative, catalog=catalog, today=today or today_kst()
    )
    assert cooperative.id is not None  # noqa: S101
    now = now or utcnow()
    consultation = Consultation(
        cooperative_id=cooperative.id,
        track_id=valid.track_id,
        item_key=valid.item_key,
        center_id=principal.center_id if principal.role == "center" else None,
        municipality_id=principal.municipality_id if principal.role == "municipality" else None,
        author_id=principal.id,
        held_on=valid.held_on,
        channel=valid.channel,
        topic=valid.topic,
        request=valid.request,
        advice=valid.advice,
        follow_up_on=valid.follow_up_on,
        created_at=now,
        updated_at=now,
    )
    session.add(consultation)
    session.flush()
    return consultation


def update_consultation(
    *,
    session: Session,
    principal: Principal,
    consultation: Consultation,
    version: int,
    changes: Mapping[str, Any],
    today: date | None = None,
    now: datetime | None = None,
) -> Consultation:
    """Resolve, reopen, or change the follow-up date, the advice or the resolution note, if
    ``version`` is still the stored one.

    Resolving needs a resolution note and stamps today (Asia/Seoul) and the person; reopening
    clears both (the note stays, to start from when it is resolved again).
    Raises ForbiddenError, FormError, or ConflictError (with the stored consultation).
    """
    if not can_update(principal, consultation):
        raise ForbiddenError("상담 기록은 기록한 기관(센터 또는 지자체)의 담당자만 바꿀 수 있습니다.")
    if version != consultation.version:
        raise ConflictError(consultation)
    errors: dict[str, str] = {}
    for unknown in sorted(set(changes) - set(EDITABLE)):
        errors[unknown] = "바꿀 수 없는 항목입니다."
    status = changes.get("status", consultation.status)
    if status not in STATUSES:
        errors["status"] = "상태는 진행 중(open) 또는 해결(resolved)이어야 합니다."
    resolution = consultation.resolution
    if "resolution" in changes:
        resolution = _text(changes["resolution"] or "", "resolution", MAX_TEXT, errors)
    advice = consultation.advice
    if "advice" in changes:
        advice = _text(changes["advice"] or "", "advice", MAX_TEXT, errors)
    follow_up_on = consultation.follow_up_on
    if "follow_up_on" in changes:
        follow_up_on = _date(changes["follow_up_on"], "follow_up_on", errors)
        if follow_up_on is not None and follow_up_on < consultation.held_on:
            errors["follow_up_on"] = "후속 조치일은 상담일보다 앞설 수 없습니다."
    if status == "resolved" and not resolution and "resolution" not in errors:
        errors["resolution"] = "해결로 바꾸려면 어떻게 해결했는지 적어야 합니다."
    if errors:
        raise FormError(errors)
    values: dict[str, Any] = {
        k: v
        for k, v in (
            ("status", status),
            ("resolution", resolution),
            ("advice", advice),
            ("follow_up_on", follow_up_on),
        )
        if getattr(consultation, k) != v
    }
    if status == "resolved" and consultation.status != "resolved":
        values |= {"resolved_on": today or today_kst(), "resolved_by_id": principal.id}
    elif status == "open" and consultation.status == "resolved":
        values |= {"resolved_on": None, "resolved_by_id": None}
    if not values:
        return consultation
    values |= {"version": version + 1, "updated_at": now or utcnow()}
    # UPDATE … WHERE version = the one read: of two writers holding one version, one wins.
    result = session.execute(
        update(Consultation)
        .where(col(Consultation.id) == consultation.id, col(Consultation.version) == version)
        .values(**values)
    )
    session.expire(consultation)
    if getattr(result, "rowcount", 1) != 1:
        raise ConflictError(session.get(Consultation, consultation.id))
    session.refresh(consultation)
    return consultation


# --- reading -------------------------------------------------------------------------------------


def get_visible_consultation(
    *, session: Session, principal: Principal, consultation_id: int
) -> tuple[Consultation, Cooperative] | None:
    """The consultation with its cooperative, when the cooperative is visible to ``principal``."""
    stmt = (
        select(Consultation, Cooperative)
        .join(Cooperative, col(Cooperative.id) == col(Consultation.cooperative_id))
        .where(col(Consultation.id) == consultation_id, cooperative_scope(principal))
    )
    row = session.execute(stmt).first()
    return (row[0], row[1]) if row else None


@dataclass(frozen=True)
class ConsultationRow:
    """A consultation as the timeline shows it (plain data: names resolved, flags computed)."""

    consultation: Consultation
    author: str | None
    author_org: str
    author_role: str  # center | municipality
    resolved_by: str | None
    model_key: str | None
    model_title: str | None
    item_text: str | None
    overdue: bool  # open and its follow-up date has passed (Asia/Seoul)
    can_update: bool

    @property
    def id(self) -> int:
        return self.consultation.id or 0

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS.get(self.consultation.channel, self.consultation.channel)

    @property
    def status_label(self) -> str:
        return CONSULTATION_STATUS_LABELS.get(self.consultation.status, self.consultation.status)

    @property
    def resolved(self) -> bool:
        return self.consultation.status == "resolved"


@dataclass(frozen=True)
class ConsultationPage:
    rows: list[ConsultationRow]
    page: int
    pages: int
    total: int
    page_size: int

    @property
    def first(self) -> int:
        return (self.page - 1) * self.page_size + 1


Author = aliased(User, name="author")
Resolver = aliased(User, name="resolver")
NEWEST_FIRST = (col(Consultation.held_on).desc(), col(Consultation.id).desc())


def _rows_query(principal: Principal) -> Select[Consultation, str, str, str, str]:
    return (
        select(
            Consultation,
            col(Author.display_name),
            func.coalesce(col(SupportCenter.name), col(Municipality.name)),
            col(Resolver.display_name),
            col(Track.model_key),
        )
        .join(Cooperative, col(Cooperative.id) == col(Consultation.cooperative_id))
        .outerjoin(SupportCenter, col(SupportCenter.id) == col(Consultation.center_id))
        .outerjoin(Municipality, col(Municipality.id) == col(Consultation.municipality_id))
        .outerjoin(Author, col(Author.id) == col(Consultation.author_id))
        .outerjoin(Resolver, col(Resolver.id) == col(Consultation.resolved_by_id))
        .outerjoin(Track, col(Track.id) == col(Consultation.track_id))
        .where(cooperative_scope(principal))
    )


def _to_row(r: Any, principal: Principal, catalog: Catalog, today: date) -> ConsultationRow:
    c: Consultation = r[0]
    model = catalog.model(r[4]) if r[4] else None
    item = model.item(c.item_key) if model and c.item_key else None
    return ConsultationRow(
        consultation=c,
        author=r[1],
        author_org=r[2] or "",
        author_role="center" if c.center_id is not None else "municipality",
        resolved_by=r[3],
        model_key=r[4],
        model_title=model.title if model else None,
        item_text=item.text if item else None,
        overdue=c.status == "open" and c.follow_up_on is not None and c.follow_up_on < today,
        can_update=can_update(principal, c),
    )


def _page_of(session: Session, cooperative_id: int, consultation_id: int, page_size: int) -> int | None:
    """The timeline page that shows one consultation (for links to ``#consultation-{id}``)."""
    target = session.get(Consultation, consultation_id)
    if target is None or target.cooperative_id != cooperative_id:
        return None
    before = session.execute(
        select(func.count())
        .select_from(Consultation)
        .where(
            col(Consultation.cooperative_id) == cooperative_id,
            or_(
                col(Consultation.held_on) > target.held_on,
                (col(Consultation.held_on) == target.held_on) & (col(Consultation.id) > consultation_id),
            ),
        )
    ).scalar_one()
    return int(before) // page_size + 1


def list_consultations(
    *,
    session: Session,
    principal: Principal,
    cooperative: Cooperative,
    catalog: Catalog,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    showing: int | None = None,
    today: date | None = None,
) -> ConsultationPage:
    """One cooperative's consultations, newest first, one page: two statements whatever the rows
    (three with ``showing``, which picks the page holding that consultation)."""
    assert cooperative.id is not None  # noqa: S101
    today = today or today_kst()
    base = _rows_query(principal).where(col(Consultation.cooperative_id) == cooperative.id)
    total = int(
        session.execute(
            select(func.count()).select_from(base.with_only_columns(col(Consultation.id)).subquery())
        ).scalar_one()
    )
    pages = max(1, -(-total // page_size))
    if showing is not None:
        page = _page_of(session, cooperative.id, showing, page_size) or page
    page = min(max(page, 1), pages)
    stmt = base.order_by(*NEWEST_FIRST).limit(page_size).offset((page - 1) * page_size)
    rows = [_to_row(r, principal, catalog, today) for r in session.execute(stmt).all()]
    return ConsultationPage(rows, page, pages, total, page_size)


def consultation_row(
    *,
    session: Session,
    principal: Principal,
    catalog: Catalog,
    consultation_id: int,
    today: date | None = None,
) -> ConsultationRow | None:
    """One consultation as the timeline shows it, or None when it is not visible."""
    r = session.execute(_rows_query(principal).where(col(Consultation.id) == consultation_id)).first()
    return _to_row(r, principal, catalog, today or today_kst()) if r else None


# --- follow-ups due (내 할 일, the digest) ------------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    """An open consultation whose follow-up date has come (or will by ``until``)."""

    consultation_id: int
    cooperative_id: int
    cooperative: str
    topic: str
    held_on: date
    channel: str  # visit | phone | online | training
    follow_up_on: date
    track_id: int | None
    item_key: str | None
    status: str  # always "open" here

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS.get(self.channel, self.channel)

    def overdue(self, today: date) -> bool:
        return self.follow_up_on < today


def follow_ups_due(*, session: Session, principal: Principal, until: date) -> list[FollowUp]:
    """Open consultations with a follow-up date on or before ``until`` that ``principal`` follows
    up: a center its center's, a 지자체 its own, a cooperative those on itself; admin none.
    Always within what the principal may see. Earliest date first; one statement."""
    match principal.role:
        case "center" if principal.center_id is not None:
            mine = col(Consultation.center_id) == principal.center_id
        case "municipality" if principal.municipality_id is not None:
            mine = col(Consultation.municipality_id) == principal.municipality_id
        case "coop" if principal.cooperative_id is not None:
            mine = col(Consultation.cooperative_id) == principal.cooperative_id
        case _:
            return []
    stmt = (
        select(Consultation, col(Cooperative.name))
        .join(Cooperative, col(Cooperative.id) == col(Consultation.cooperative_id))
        .where(
            mine,
            cooperative_scope(principal),
            col(Consultation.status) == "open",
            col(Consultation.follow_up_on).is_not(None),
            col(Consultation.follow_up_on) <= until,
        )
        .order_by(col(Consultation.follow_up_on), col(Cooperative.name), col(Consultation.id))
    )
    out = []
    for c, name in session.execute(stmt).all():
        assert c.id is not None and c.follow_up_on is not None  # noqa: S101
        out.append(
            FollowUp(
                consultation_id=c.id,
                cooperative_id=c.cooperative_id,
                cooperative=name,
                topic=c.topic,
                held_on=c.held_on,
                channel=c.channel,
                follow_up_on=c.follow_up_on,
                track_id=c.track_id,
                item_key=c.item_key,
                status=c.status,
            )
        )
    return out


# --- the form's choices ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackChoice:
    track_id: int
    title: str
    items: list[tuple[str, str]]  # (item key, text), in guidebook order


def track_choices(*, session: Session, cooperative: Cooperative, catalog: Catalog) -> list[TrackChoice]:
    """The cooperative's tracks and their checklist items, for the form's two selects."""
    tracks = session.execute(
        select(Track).where(col(Track.cooperative_id) == cooperative.id).order_by(col(Track.id))
    ).scalars()
    out = []
    for t in tracks:
        model = catalog.model(t.model_key)
        if model is not None and t.id is not None:
            out.append(
                TrackChoice(t.id, f"{model.number}. {model.title}", [(i.key, i.text) for _, i in model.items])
            )
    return out
