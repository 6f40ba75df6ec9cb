"""상담·지원 기록: what a center or 지자체 did for a cooperative, and yearly targets per center."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlalchemy import CheckConstraint, Column, Index, Text
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow

Channel = Literal["visit", "phone", "online", "training"]
CHANNEL_LABELS = {"visit": "방문", "phone": "전화", "online": "온라인", "training": "교육"}
CONSULTATION_STATUS_LABELS = {"open": "진행 중", "resolved": "해결"}
# Yearly targets an admin may set per center (metric → label).
TARGET_METRICS = {
    "consultations": "상담 건수",
    "cooperatives": "지원한 조합 수",
    "stage_completions": "단계를 마친 조합 수",
    "reached_execute": "실행 단계에 이른 조합 수",
}
RESOLUTION_TARGET = 0.8  # the common target for the share of consultations resolved


class Consultation(SQLModel, table=True):
    """One consultation (table), by a center's or a 지자체's staff; open until resolved.

    ``center_id`` / ``municipality_id`` name the organization that gave it (the author's), so the
    statistics count it for that center even if the cooperative later changes center."""

    __table_args__ = (
        Index("ix_consultation_cooperative", "cooperative_id", "held_on"),
        Index("ix_consultation_center_held", "center_id", "held_on"),
        Index("ix_consultation_follow_up", "status", "follow_up_on"),
        CheckConstraint(
            "channel IN ('visit', 'phone', 'online', 'training')", name="ck_consultation_channel"
        ),
        CheckConstraint("status IN ('open', 'resolved')", name="ck_consultation_status"),
        CheckConstraint("status <> 'resolved' OR resolution <> ''", name="ck_consultation_resolution"),
        CheckConstraint(
            "(center_id IS NOT NULL AND municipality_id IS NULL)"
            " OR (center_id IS NULL AND municipality_id IS NOT NULL)",
            name="ck_consultation_org",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    cooperative_id: int = Field(foreign_key="cooperative.id", ondelete="CASCADE")
    track_id: int | None = Field(default=None, foreign_key="track.id", ondelete="SET NULL")
    item_key: str | None = Field(default=None, max_length=64)
    center_id: int | None = Field(default=None, foreign_key="support_center.id", ondelete="RESTRICT")
    municipality_id: int | None = Field(default=None, foreign_key="municipality.id", ondelete="RESTRICT")
    author_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    held_on: date
    channel: str = Field(max_length=10)
    topic: str = Field(max_length=200)
    request: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    advice: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    follow_up_on: date | None = None
    status: str = Field(default="open", max_length=10)
    resolution: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    resolved_on: date | None = None  # Asia/Seoul day it was resolved: "follow-up done by its date"
    resolved_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class CenterTarget(SQLModel, table=True):
    """An admin's yearly target for one center and one metric (table)."""

    __tablename__ = "center_target"

    center_id: int = Field(foreign_key="support_center.id", primary_key=True, ondelete="CASCADE")
    year: int = Field(primary_key=True)
    metric: str = Field(max_length=30, primary_key=True)
    target: int
