"""Tracks (a cooperative following one business model), item states, evidence,
comments and the append-only event log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow

Status = Literal["todo", "doing", "done", "na"]
STATUSES: tuple[Status, ...] = ("todo", "doing", "done", "na")
STATUS_LABELS: dict[str, str] = {"todo": "미착수", "doing": "진행 중", "done": "완료", "na": "해당 없음"}
FIELD_LABELS: dict[str, str] = {
    "status": "상태",
    "note": "메모",
    "na_reason": "해당 없음 사유",
    "assignee": "담당자(직접 입력)",
    "assignee_id": "담당자",
    "assignee_user": "담당자",
    "due_date": "기한",
    "verified": "확인",
    "evidence": "증빙",
    "comment": "의견",
    "model": "사업모델",
    "file": "파일",
    "url": "링크 주소",
    "body": "의견",
    "version": "버전",
    "reason": "사유",
    "change_request": "보완 요청",
    "verified_note": "확인 메모",
    "outcome": "결정",
    "decided_on": "결정일",
    "document_number": "문서번호",
    "conditions": "조건",
    "verdict": "당시 판정",
    "report_number": "보고서 번호",
    "size": "크기",
}
ACTION_LABELS: dict[str, str] = {
    "track_started": "사업 추진 시작",
    "item_updated": "항목 변경",
    "verified": "확인",
    "comment": "의견",
    "evidence_added": "증빙 추가",
    "evidence_removed": "증빙 삭제",
    "changes_requested": "보완 요청",
    "unverified": "확인 취소",
    "decision": "위탁 결정",
}


class Track(SQLModel, table=True):
    """사업 추진: a cooperative working through one business model's checklist (table).

    The content it follows is ``model_key``; items come from the content files, never the database.
    """

    __table_args__ = (UniqueConstraint("cooperative_id", "model_key", name="uq_track_cooperative_model"),)

    id: int | None = Field(default=None, primary_key=True)
    cooperative_id: int = Field(foreign_key="cooperative.id", index=True, ondelete="CASCADE")
    model_key: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")


class ItemState(SQLModel, table=True):
    """The state of one checklist item in one track (table); absent means 미착수, version 0."""

    __tablename__ = "item_state"
    __table_args__ = (
        UniqueConstraint("track_id", "item_key", name="uq_item_state_track_item"),
        CheckConstraint("status IN ('todo', 'doing', 'done', 'na')", name="ck_item_state_status"),
        CheckConstraint("status <> 'na' OR na_reason <> ''", name="ck_item_state_na_reason"),
    )

    id: int | None = Field(default=None, primary_key=True)
    track_id: int = Field(foreign_key="track.id", ondelete="CASCADE")
    item_key: str = Field(max_length=64)
    status: str = Field(default="todo", max_length=10)
    na_reason: str = Field(default="", max_length=500)
    assignee: str = Field(default="", max_length=100)  # free text: someone outside the app
    # A person in the app: a user of the cooperative or of the item's lead organization.
    assignee_id: int | None = Field(default=None, foreign_key="app_user.id", index=True, ondelete="SET NULL")
    due_date: date | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    version: int = 1  # optimistic concurrency: a write must name the version it read
    updated_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    verified_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    verified_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    verified_note: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # An open 보완 요청 from the verifier: shown on the item until the cooperative marks it done again.
    change_request: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    change_requested_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    change_requested_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class Evidence(SQLModel, table=True):
    """A file or link attached to an item as evidence (table). Removal is recorded, not erased."""

    __table_args__ = (
        Index("ix_evidence_track_item", "track_id", "item_key"),
        CheckConstraint("kind IN ('file', 'link')", name="ck_evidence_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    track_id: int = Field(foreign_key="track.id", ondelete="CASCADE")
    item_key: str = Field(max_length=64)
    kind: str = Field(max_length=10)
    title: str = Field(max_length=200)  # the original file name or the link's label
    url: str = Field(default="", max_length=2000)
    stored_name: str = Field(default="", max_length=64)  # random; never derived from the upload
    content_type: str = Field(default="", max_length=100)
    size: int = 0
    sha256: str = Field(default="", max_length=64)  # of the stored file, for the readiness report
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    removed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class Comment(SQLModel, table=True):
    """One message in an item's thread between the cooperative and the public bodies (table)."""

    __table_args__ = (Index("ix_comment_track_item", "track_id", "item_key"),)

    id: int | None = Field(default=None, primary_key=True)
    track_id: int = Field(foreign_key="track.id", ondelete="CASCADE")
    item_key: str = Field(max_length=64)
    author_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Event(SQLModel, table=True):
    """One successful change (table). Append-only: database triggers refuse UPDATE and DELETE."""

    __table_args__ = (
        Index("ix_event_track_id", "track_id", "id"),
        Index("ix_event_cooperative_id", "cooperative_id", "id"),
        Index("ix_event_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    actor_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="RESTRICT")
    cooperative_id: int = Field(foreign_key="cooperative.id", ondelete="RESTRICT")
    track_id: int | None = Field(default=None, foreign_key="track.id", ondelete="RESTRICT")
    item_key: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=30)
    # {field: [before, after]} for item changes; descriptive fields for the other actions.
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event as written to the log and read back: its columns as plain values (the ORM's
    objects cost more to build than the statements; an event never changes)."""

    id: int
    at: datetime
    actor_id: int | None
    cooperative_id: int
    track_id: int | None
    item_key: str | None
    action: str
    changes: dict[str, Any]
