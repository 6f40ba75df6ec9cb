"""위탁 결정: a 지자체's recorded decision on a track, with the readiness report it was based on."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlalchemy import CheckConstraint, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow

Outcome = Literal["approved", "conditional", "deferred"]
OUTCOMES: tuple[Outcome, ...] = ("approved", "conditional", "deferred")
OUTCOME_LABELS = {"approved": "승인", "conditional": "조건부 승인", "deferred": "보류"}
# The readiness verdict (app.services.readiness) a decision was based on.
VERDICT_LABELS = {
    "ready": "위탁 준비 완료",
    "conditional": "조건부",
    "not_ready": "미비",
    "not_applicable": "해당 없음",
}


class Decision(SQLModel, table=True):
    """One decision (table). Append-only: a later one supersedes it, and the database refuses
    UPDATE and DELETE, so the record and the report stored with it never change."""

    __table_args__ = (
        Index("ix_decision_track_id", "track_id", "id"),
        CheckConstraint("outcome IN ('approved', 'conditional', 'deferred')", name="ck_decision_outcome"),
        CheckConstraint("outcome <> 'conditional' OR conditions <> ''", name="ck_decision_conditions"),
        CheckConstraint("outcome <> 'deferred' OR reason <> ''", name="ck_decision_reason"),
    )

    id: int | None = Field(default=None, primary_key=True)
    track_id: int = Field(foreign_key="track.id", ondelete="RESTRICT")
    cooperative_id: int = Field(foreign_key="cooperative.id", ondelete="RESTRICT")
    municipality_id: int = Field(foreign_key="municipality.id", ondelete="RESTRICT")
    outcome: str = Field(max_length=20)
    decided_on: date
    document_number: str = Field(max_length=100)  # 문서번호 of the 결재
    conditions: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # The readiness verdict and report at the moment of decision (the PDF, byte for byte).
    verdict: str = Field(max_length=20)
    report_number: str = Field(max_length=40)
    report_pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    report_sha256: str = Field(max_length=64)
    # An optional attached decision document (stored like evidence files).
    document_name: str = Field(default="", max_length=200)
    document_stored_name: str = Field(default="", max_length=64)
    document_content_type: str = Field(default="", max_length=100)
    document_size: int = 0
    document_sha256: str = Field(default="", max_length=64)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
