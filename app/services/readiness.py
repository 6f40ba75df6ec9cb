"""위탁 준비도: the readiness verdict a 지자체 decides on, and the report it attaches to its 결재.

``verdict`` is a pure function of the consignment counts (as stored in the track summary and
recomputed here for the report, the same arithmetic); ``load_report`` gathers the rest of the
report from the track page's own view, so the report and the page never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.catalog.schema import LEAD_ROLES, STAGE_ORDER, BusinessModel
from app.models import Cooperative, Decision, Municipality, SupportCenter, Track, User
from app.models.base import utcnow
from app.models.decision import OUTCOME_LABELS, VERDICT_LABELS
from app.services.principal import Principal
from app.services.progress import Progress
from app.services.tracking import EventRow, ItemRow, ItemView, TrackView, list_events, load_track_view

# Printed on the page and in the PDF, so the reader sees how the verdict was reached.
VERDICT_RULES = (
    (
        "ready",
        "위탁 준비 완료: 해당되는 위탁 전 확인 항목이 모두 완료되고 지자체(또는 주관 기관)가 확인했으며, 준비·계획 단계가 모두 완료되고, 열린 보완 요청이 없습니다.",
    ),
    (
        "conditional",
        "조건부: 위탁 전 확인 항목은 모두 완료했지만 일부가 조합 자체 완료(미확인)이거나, 준비·계획 단계에 남은 항목 또는 다른 항목의 열린 보완 요청이 있습니다.",
    ),
    ("not_ready", "미비: 완료되지 않은 위탁 전 확인 항목(보완 요청으로 되돌아간 항목 포함)이 있습니다."),
    ("not_applicable", "해당 없음: 이 사업모델에는 적용되는 위탁 전 확인 항목이 없습니다."),
)
RECENT_EVENTS = 20
STAGE_NAMES = {"prepare": "준비", "plan": "계획", "execute": "실행"}


@dataclass(frozen=True)
class Consignment:
    total: int  # applicable 위탁 전 확인 items (해당 없음 and retired items left out)
    verified: int
    self_reported: int  # done, not (yet) confirmed
    open: int  # not done
    change_requests: int  # open 보완 요청 on any item of the track

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "verified": self.verified,
            "self_reported": self.self_reported,
            "open": self.open,
            "change_requests": self.change_requests,
        }


def consignment_of(*, applicable: int, done: int, verified: int, change_requests: int) -> Consignment:
    return Consignment(applicable, verified, done - verified, applicable - done, change_requests)


def verdict(*, consignment: Consignment, earlier_stages_open: int) -> str:
    """The rule table in VERDICT_RULES, in that order of precedence."""
    if consignment.total == 0:
        return "not_applicable"
    if consignment.open:
        return "not_ready"
    if consignment.self_reported or earlier_stages_open or consignment.change_requests:
        return "conditional"
    return "ready"


def earlier_open(progress: Progress) -> int:
    """Open items of the 준비 and 계획 stages, which a consignment should not start with."""
    return sum(progress.by_stage[s].applicable - progress.by_stage[s].done for s in STAGE_ORDER[:2])


def readiness_of_summary(row: Any) -> tuple[str, Consignment]:
    """The verdict from a stored track summary (the 현황판 and the cooperative page)."""
    c = consignment_of(
        applicable=row.consignment_applicable,
        done=row.consignment_done,
        verified=row.consignment_verified,
        change_requests=row.change_requests,
    )
    open_earlier = sum(getattr(row, f"{s}_applicable") - getattr(row, f"{s}_done") for s in STAGE_ORDER[:2])
    return verdict(consignment=c, earlier_stages_open=open_earlier), c


def readiness_of_view(view: TrackView | ItemView) -> tuple[str, Consignment]:
    """The verdict from the track page's own rows (the page, the report, the PDF); for one item's
    view, from the stored summary it was built with."""
    if isinstance(view, ItemView):
        return readiness_of_summary(view.summary)
    applicable = [r for r in view.rows if r.consignment and r.status != "na"]
    c = consignment_of(
        applicable=len(applicable),
        done=sum(r.status == "done" for r in applicable),
        verified=sum(r.status == "done" and bool(r.state and r.state.verified_at) for r in applicable),
        change_requests=sum(bool(r.change_request) for r in view.rows),
    )
    return verdict(consignment=c, earlier_stages_open=earlier_open(view.progress)), c


def reasons(c: Consignment, progress: Progress) -> list[str]:
    """Why the verdict is what it is, in plain Korean."""
    out = []
    if c.open:
        out.append(f"완료되지 않은 위탁 전 확인 항목 {c.open}개")
    if c.self_reported:
        out.append(f"조합 자체 완료(미확인) 위탁 전 확인 항목 {c.self_reported}개")
    for s in STAGE_ORDER[:2]:
        left = progress.by_stage[s].applicable - progress.by_stage[s].done
        if left:
            out.append(f"{STAGE_NAMES[s]} 단계 미완료 항목 {left}개")
    if c.change_requests:
        out.append(f"열린 보완 요청 {c.change_requests}건")
    return out


# --- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionRow:
    decision: Decision
    decided_by: str | None

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS[self.decision.outcome]


@dataclass(frozen=True)
class Report:
    number: str
    generated_at: datetime
    content_version: str
    view: TrackView
    municipality: str
    center: str | None
    verdict: str
    consignment: Consignment
    reasons: list[str]
    items: list[ItemRow]  # the 위탁 전 확인 items
    open_by_stage_role: Mapping[str, Mapping[str, int]]
    events: list[EventRow]
    decisions: list[DecisionRow]  # newest first

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS[self.verdict]

    @property
    def model(self) -> BusinessModel:
        return self.view.model

    @property
    def cooperative(self) -> Cooperative:
        return self.view.cooperative


def report_number(track_id: int, at: datetime) -> str:
    """A number a 결재 can cite: the track and the second it was made (KST)."""
    from app.services.tracking import KST

    return f"MG-{track_id:05d}-{at.astimezone(KST):%Y%m%d-%H%M%S}"


def decisions_of(session: Session, track_id: int) -> list[DecisionRow]:
    rows = session.exec(
        select(Decision, User.display_name)
        .outerjoin(User, col(User.id) == col(Decision.created_by_id))
        .where(Decision.track_id == track_id)
        .order_by(col(Decision.id).desc())
    ).all()
    return [DecisionRow(d, name) for d, name in rows]


def load_report(
    *,
    session: Session,
    principal: Principal,
    catalog: Catalog,
    track: Track,
    cooperative: Cooperative,
    model: BusinessModel,
    now: datetime | None = None,
) -> Report:
    """Everything the readiness report shows, computed from the track page's own view."""
    assert track.id is not None  # noqa: S101
    now = now or utcnow()
    view = load_track_view(
        session=session,
        principal=principal,
        track=track,
        cooperative=cooperative,
        model=model,
        events_limit=0,
    )
    items = [r for r in view.rows if r.consignment]
    verdict_, c = readiness_of_view(view)
    open_by: dict[str, dict[str, int]] = {s: dict.fromkeys(LEAD_ROLES, 0) for s in STAGE_ORDER}
    for r in view.rows:
        if r.item is not None and r.open:
            open_by[r.stage][r.item.lead] += 1
    names = session.exec(
        select(Municipality.name, SupportCenter.name)
        .select_from(Cooperative)
        .join(Municipality, col(Municipality.id) == col(Cooperative.municipality_id))
        .outerjoin(SupportCenter, col(SupportCenter.id) == col(Cooperative.support_center_id))
        .where(Cooperative.id == cooperative.id)
    ).one()
    return Report(
        number=report_number(track.id, now),
        generated_at=now,
        content_version=catalog.version,
        view=view,
        municipality=names[0],
        center=names[1],
        verdict=verdict_,
        consignment=c,
        reasons=reasons(c, view.progress),
        items=items,
        open_by_stage_role=open_by,
        events=list_events(session=session, model=model, track_id=track.id, limit=RECENT_EVENTS),
        decisions=decisions_of(session, track.id),
    )
