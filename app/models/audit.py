"""The admin audit log: every change an admin (or the `maeul` command) makes to organisations,
users and tokens, with what it was before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow

AUDIT_ACTIONS = {
    "create": "추가",
    "update": "수정",
    "activate": "다시 사용",
    "deactivate": "사용 중지",
    "password_reset": "비밀번호 재설정",
    "token_create": "API 토큰 발급",
    "token_revoke": "API 토큰 폐기",
}
AUDIT_KINDS = {
    "municipalities": "지자체",
    "centers": "지원센터",
    "cooperatives": "조합",
    "users": "사용자",
}


class AuditEntry(SQLModel, table=True):
    """One admin change (table). Append-only: database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_target", "target_kind", "target_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    actor_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="RESTRICT")
    actor: str = Field(max_length=120)  # who, as shown then ("admin (운영 관리자)", or "maeul 명령")
    action: str = Field(max_length=30)
    target_kind: str = Field(max_length=30)
    target_id: int | None = None
    target: str = Field(max_length=200)  # its name then
    # {field: [before, after]}, names rather than ids; a password is only ever "변경함".
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
