"""위탁 결정 기록: the cooperative's 지자체 records its decision, with the report it was based on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select, update

from app.catalog.schema import BusinessModel
from app.models import Cooperative, Decision, Track, TrackSummary
from app.models.base import utcnow
from app.models.decision import OUTCOME_LABELS, OUTCOMES
from app.services.errors import ForbiddenError, FormError, NotFoundError
from app.services.evidence import StoredFile
from app.services.principal import Principal
from app.services.readiness import Report
from app.services.tracking import append_event

MAX_DOCUMENT_NUMBER = 100
MAX_TEXT = 2000


def can_decide(principal: Principal, cooperative: Cooperative) -> bool:
    """Only the cooperative's own 지자체 decides on consigning to it."""
    return principal.role == "municipality" and principal.municipality_id == cooperative.municipality_id


@dataclass(frozen=True)
class DecisionInput:
    outcome: str
    decided_on: date | None
    document_number: str
    conditions: str = ""
    reason: str = ""


def validate(data: DecisionInput, *, today: date) -> DecisionInput:
    """Every problem at once, in Korean, naming the field."""
    errors: dict[str, str] = {}
    if data.outcome not in OUTCOMES:
        errors["outcome"] = "결정을 고르세요 (승인, 조건부 승인, 보류 중 하나)."
    if data.decided_on is None:
        errors["decided_on"] = "결정일을 YYYY-MM-DD 형식으로 입력하세요."
    elif data.decided_on > today:
        errors["decided_on"] = "결정일은 오늘 이후일 수 없습니다."
    number = data.document_number.strip()
    if not number:
        errors["document_number"] = "결재 문서번호를 입력하세요."
    elif len(number) > MAX_DOCUMENT_NUMBER:
        errors["document_number"] = f"문서번호는 {MAX_DOCUMENT_NUMBER}자 이하로 입력하세요."
    conditions, reason = data.conditions.strip(), data.reason.strip()
    if data.outcome == "conditional" and not conditions:
        errors["conditions"] = "조건부 승인에는 조건을 적어야 합니다."
    if data.outcome == "deferred" and not reason:
        errors["reason"] = "보류에는 사유를 적어야 합니다."
    for name, value in (("conditions", conditions), ("reason", reason)):
        if len(value) > MAX_TEXT:
            errors[name] = f"{MAX_TEXT}자 이하로 입력하세요."
    if errors:
        raise FormError(errors)
    return DecisionInput(data.outcome, data.decided_on, number, conditions, reason)


def record_decision(
    *,
    session: Session,
    principal: Principal,
    track: Track,
    cooperative: Cooperative,
    model: BusinessModel,
    data: DecisionInput,
    report: Report,
    report_pdf: bytes,
    document: StoredFile | None = None,
    today: date,
    now: datetime | None = None,
) -> Decision:
    """Append a decision (a later one supersedes it; none is ever changed) with the report as it
    stood at this moment, byte for byte, and one event."""
    if not can_decide(principal, cooperative):
        raise ForbiddenError("위탁 결정은 이 조합을 관할하는 지자체 담당자만 기록할 수 있습니다.")
    data = validate(data, today=today)
    assert track.id is not None and cooperative.id is not None and data.decided_on is not None  # noqa: S101
    decision = Decision(
        track_id=track.id,
        cooperative_id=cooperative.id,
        municipality_id=cooperative.municipality_id,
        outcome=data.outcome,
        decided_on=data.decided_on,
        document_number=data.document_number,
        conditions=data.conditions,
        reason=data.reason,
        verdict=report.verdict,
        report_number=report.number,
        report_pdf=report_pdf,
        report_sha256=hashlib.sha256(report_pdf).hexdigest(),
        created_by_id=principal.id,
        created_at=now or utcnow(),
    )
    if document is not None:
        decision.document_name = document.name
        decision.document_stored_name = document.stored_name
        decision.document_content_type = document.content_type
        decision.document_size = document.size
        decision.document_sha256 = document.sha256
    session.add(decision)
    session.flush()
    changes: dict[str, Any] = {
        "outcome": OUTCOME_LABELS[data.outcome],
        "decided_on": data.decided_on.isoformat(),
        "document_number": data.document_number,
        "verdict": report.verdict,
        "report_number": report.number,
    }
    if data.conditions:
        changes["conditions"] = data.conditions
    if data.reason:
        changes["reason"] = data.reason
    append_event(
        session, principal=principal, track=track, model=model, action="decision", changes=changes, now=now
    )
    # The 현황판 shows the newest decision; item changes leave this column alone.
    session.execute(
        update(TrackSummary).where(col(TrackSummary.track_id) == track.id).values(decision=data.outcome)
    )
    return decision


def get_decision(*, session: Session, track: Track, decision_id: int) -> Decision:
    found = session.exec(
        select(Decision).where(Decision.id == decision_id, Decision.track_id == track.id)
    ).first()
    if found is None:
        raise NotFoundError("위탁 결정 기록을 찾을 수 없습니다.")
    return found
