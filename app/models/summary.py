"""The per-track summary the 현황판 filters, sorts and counts in SQL.

A cache of facts derived from item states and the event log (see app.services.summary, the
only writer): kept in the same transaction as every change and rebuilt when the content changes.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow

# Current stage as a number, so "stage" sorts in guidebook order; 3 is 완료.
STAGE_RANK = {"prepare": 0, "plan": 1, "execute": 2}
COMPLETE_RANK = 3


class TrackSummary(SQLModel, table=True):
    """One row per track (table): done / applicable per stage and lead role, and what waits."""

    __tablename__ = "track_summary"
    __table_args__ = (Index("ix_track_summary_last_activity", "last_activity_at"),)

    track_id: int = Field(foreign_key="track.id", primary_key=True, ondelete="CASCADE")
    prepare_done: int = 0
    prepare_applicable: int = 0
    plan_done: int = 0
    plan_applicable: int = 0
    execute_done: int = 0
    execute_applicable: int = 0
    coop_done: int = 0
    coop_applicable: int = 0
    center_done: int = 0
    center_applicable: int = 0
    municipality_done: int = 0
    municipality_applicable: int = 0
    done: int = 0
    applicable: int = 0
    stage_rank: int = Field(default=0, index=True)  # STAGE_RANK, or COMPLETE_RANK
    # A stage is started once any of its items is 진행 중 or 완료 (the "open earlier" flags).
    prepare_started: bool = False
    plan_started: bool = False
    execute_started: bool = False
    open_earlier: int = 0  # open items in stages before the furthest one with work under way
    awaiting_center: int = 0  # done, not yet confirmed, confirmed by the center
    awaiting_municipality: int = 0
    # 위탁 전 확인 (consignment) items that apply, and how far they are; open 보완 요청 on any item.
    consignment_applicable: int = 0
    consignment_done: int = 0
    consignment_verified: int = 0
    change_requests: int = 0
    # Open dated items overdue / due within DUE_SOON_DAYS, counted as of ``due_as_of`` (KST).
    # A copy for speed: readers use it only when due_as_of is today and count track_due_item
    # otherwise, so a stale copy is slow, never wrong (app.services.summary.refresh_due_counts).
    overdue: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    due_soon: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    due_as_of: date | None = None
    # The newest 위탁 결정, kept by app.services.decisions (item changes leave it alone).
    decision: str | None = Field(default=None, max_length=20)
    last_activity_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_activity_role: str | None = Field(default=None, max_length=20)
    prepare_completed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    plan_completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    execute_completed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    refreshed_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class TrackDueItem(SQLModel, table=True):
    """An open item with a due date (table): overdue and due-soon are counted at query time,
    so an item becomes overdue on the day its date passes without any write."""

    __tablename__ = "track_due_item"
    __table_args__ = (Index("ix_track_due_item_due_date", "due_date", "track_id"),)

    track_id: int = Field(foreign_key="track.id", primary_key=True, ondelete="CASCADE")
    item_key: str = Field(max_length=64, primary_key=True)
    due_date: date
    lead: str = Field(max_length=20)


class ActivityWeek(SQLModel, table=True):
    """Events per track in one finished week (Monday–Sunday, Asia/Seoul) (table).

    The log is append-only, so a week that has ended never changes: its counts are kept once
    (app.services.summary.roll_activity) and the 현황판's activity chart sums them instead of
    scanning every event of twelve weeks. Weeks not rolled yet are counted from the log.
    """

    __tablename__ = "activity_week"
    __table_args__ = (Index("ix_activity_week_week", "week", "track_id"),)

    track_id: int = Field(foreign_key="track.id", primary_key=True, ondelete="CASCADE")
    week: date = Field(primary_key=True)  # its Monday
    events: int


class AppMeta(SQLModel, table=True):
    """Small facts about the database itself (table), e.g. the content the summaries follow."""

    __tablename__ = "app_meta"

    key: str = Field(max_length=64, primary_key=True)
    value: str = Field(max_length=200)
