"""알림: in-app notifications, each user's preferences, and the e-mail digests already sent."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow

# Kinds of notification, in the order the preferences page lists them.
NOTIFICATION_KINDS: dict[str, str] = {
    "comment": "내 항목·우리 조합 항목의 의견",
    "mention": "나 또는 우리 기관을 부른 의견(@)",
    "awaiting_verification": "내 확인을 기다리는 항목",
    "change_request": "내 항목의 보완 요청",
    "verification": "확인 또는 확인 취소",
    "decision": "우리 조합의 위탁 결정",
    "due_soon": "3일 안에 기한이 오는 항목",
    "overdue": "기한이 지난 항목",
    "follow_up": "상담 후속 조치 예정일",
}


class Notification(SQLModel, table=True):
    """One thing one user should know about (table). ``dedupe_key`` makes the daily scans for
    due dates idempotent: the same item on the same date notifies once, whatever the workers."""

    __table_args__ = (
        Index("ix_notification_user_unread", "user_id", "read_at", "id"),
        UniqueConstraint("user_id", "dedupe_key", name="uq_notification_user_dedupe"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE")
    kind: str = Field(max_length=30)
    cooperative_id: int | None = Field(default=None, foreign_key="cooperative.id", ondelete="CASCADE")
    track_id: int | None = Field(default=None, foreign_key="track.id", ondelete="CASCADE")
    item_key: str | None = Field(default=None, max_length=64)
    consultation_id: int | None = Field(default=None, foreign_key="consultation.id", ondelete="CASCADE")
    actor_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    message: str = Field(sa_column=Column(Text, nullable=False))  # Korean, one line
    excerpt: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    dedupe_key: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    emailed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class NotificationPreference(SQLModel, table=True):
    """A user's choices (table); no row means every kind, and the digest when there is an e-mail."""

    __tablename__ = "notification_preference"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE")
    muted_kinds: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    email_digest: bool = True


class DigestLog(SQLModel, table=True):
    """One e-mail digest sent to one user on one day (Asia/Seoul) (table): a second run that day
    finds the row and sends nothing."""

    __tablename__ = "digest_log"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE")
    day: date = Field(primary_key=True)
    sent_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    address: str = Field(max_length=254)
    notifications: int = 0
    items: int = 0
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
