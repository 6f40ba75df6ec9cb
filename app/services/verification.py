"""확인 as a conversation: the verifier confirms a done item (with a note), sends it back with a
보완 요청, or withdraws a confirmation. Each is one versioned write and one event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.catalog.schema import BusinessModel, Item
from app.models import Evidence, ItemState, Track
from app.models.base import utcnow
from app.services.errors import ConflictError, ForbiddenError, FormError
from app.services.principal import Principal
from app.services.summary import verifier_role
from app.services.tracking import _current_state, _item_or_404, _versioned_update, append_event

MAX_VERIFY_NOTE = 1000


def _verifier_state(
    session: Session, principal: Principal, track: Track, model: BusinessModel, item_key: str, version: int
) -> tuple[Item, ItemState | None]:
    """The item and its state, when ``principal`` is its verifier and ``version`` is current."""
    assert track.id is not None  # noqa: S101
    item = _item_or_404(model, item_key)
    role = verifier_role(item)
    if role is None:
        raise ForbiddenError("이 항목은 확인 대상이 아닙니다 (조합 자체 보고 항목).")
    if principal.role != role:
        who = "지자체" if role == "municipality" else "도시재생지원센터"
        raise ForbiddenError(f"이 항목은 {who}가 확인합니다.")
    state = _current_state(session, track.id, item_key)
    # A never-touched item is version 0: only another version is stale; at 0 it is simply not done.
    if (state.version if state else 0) != version:
        raise ConflictError(state)
    return item, state


def _reason(value: str, *, field: str, required: str) -> str:
    value = (value or "").strip()
    if not value:
        raise FormError({field: required})
    if len(value) > MAX_VERIFY_NOTE:
        raise FormError({field: f"{MAX_VERIFY_NOTE}자 이하로 입력하세요."})
    return value


def current_evidence_count(session: Session, track_id: int, item_key: str) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Evidence)
            .where(
                Evidence.track_id == track_id,
                Evidence.item_key == item_key,
                col(Evidence.removed_at).is_(None),
            )
        ).one()
    )


def verify_item(
    *,
    session: Session,
    principal: Principal,
    track: Track,
    model: BusinessModel,
    item_key: str,
    version: int,
    note: str = "",
    now: datetime | None = None,
) -> ItemState:
    """확인: the verifier confirms a done item, with an optional note. A 위탁 전 확인 item needs
    evidence first: the 지자체 decides on what it can see."""
    item, state = _verifier_state(session, principal, track, model, item_key, version)
    if state is None or state.status != "done":
        raise FormError({"status": "완료된 항목만 확인할 수 있습니다."})
    if state.verified_at is not None:
        raise FormError({"status": "이미 확인된 항목입니다."})
    note = (note or "").strip()
    if len(note) > MAX_VERIFY_NOTE:
        raise FormError({"verified_note": f"확인 메모는 {MAX_VERIFY_NOTE}자 이하로 입력하세요."})
    if item.consignment and not current_evidence_count(session, state.track_id, item_key):
        raise FormError(
            {
                "evidence": "위탁 전 확인 항목은 증빙이 한 개 이상 있어야 확인할 수 있습니다. 조합에 증빙 등록을 요청하세요."
            }
        )
    now = now or utcnow()
    _versioned_update(
        session,
        state,
        version=version,
        values={
            "verified_by_id": principal.id,
            "verified_at": now,
            "verified_note": note,
            "version": version + 1,
        },
    )
    changes: dict[str, Any] = {"verified": [False, True]}
    if note:
        changes["verified_note"] = note
    append_event(
        session,
        principal=principal,
        track=track,
        model=model,
        item_key=item_key,
        action="verified",
        changes=changes,
        now=now,
    )
    return state


def request_changes(
    *,
    session: Session,
    principal: Principal,
    track: Track,
    model: BusinessModel,
    item_key: str,
    version: int,
    reason: str,
    now: datetime | None = None,
) -> ItemState:
    """보완 요청: the verifier sends a done item back to 진행 중 with a reason, shown on the item
    until the cooperative marks it done again (a confirmation it had is withdrawn with it)."""
    _, state = _verifier_state(session, principal, track, model, item_key, version)
    if state is None or state.status != "done":
        raise FormError({"status": "완료로 표시된 항목에만 보완을 요청할 수 있습니다."})
    reason = _reason(reason, field="reason", required="보완이 필요한 내용을 적어 주세요.")
    now = now or utcnow()
    changes: dict[str, Any] = {"status": ["done", "doing"], "change_request": [None, reason]}
    if state.verified_at is not None:
        changes["verified"] = [True, False]
    _versioned_update(
        session,
        state,
        version=version,
        values={
            "status": "doing",
            "change_request": reason,
            "change_requested_by_id": principal.id,
            "change_requested_at": now,
            "verified_by_id": None,
            "verified_at": None,
            "verified_note": "",
            "updated_by_id": principal.id,
            "updated_at": now,
            "version": version + 1,
        },
    )
    append_event(
        session,
        principal=principal,
        track=track,
        model=model,
        item_key=item_key,
        action="changes_requested",
        changes=changes,
        now=now,
    )
    return state


def unverify_item(
    *,
    session: Session,
    principal: Principal,
    track: Track,
    model: BusinessModel,
    item_key: str,
    version: int,
    reason: str,
    now: datetime | None = None,
) -> ItemState:
    """확인 취소: the verifier withdraws a confirmation, saying why; the item stays done."""
    _, state = _verifier_state(session, principal, track, model, item_key, version)
    if state is None or state.verified_at is None:
        raise FormError({"status": "확인된 항목만 확인을 취소할 수 있습니다."})
    reason = _reason(reason, field="reason", required="확인을 취소하는 사유를 적어 주세요.")
    now = now or utcnow()
    _versioned_update(
        session,
        state,
        version=version,
        values={"verified_by_id": None, "verified_at": None, "verified_note": "", "version": version + 1},
    )
    append_event(
        session,
        principal=principal,
        track=track,
        model=model,
        item_key=item_key,
        action="unverified",
        changes={"verified": [True, False], "reason": reason},
        now=now,
    )
    return state
