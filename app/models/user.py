"""People who log in, their API tokens, and the login throttle."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow

Role = Literal["coop", "center", "municipality", "admin"]
ROLES: tuple[Role, ...] = ("coop", "center", "municipality", "admin")
ROLE_LABELS: dict[str, str] = {
    "coop": "조합 사무국",
    "center": "도시재생지원센터",
    "municipality": "지자체",
    "admin": "운영 관리자",
}

# Each role belongs to exactly its own kind of organization (admin to none).
ROLE_ORG_CHECK = (
    "(role = 'coop' AND cooperative_id IS NOT NULL AND center_id IS NULL AND municipality_id IS NULL)"
    " OR (role = 'center' AND center_id IS NOT NULL AND cooperative_id IS NULL AND municipality_id IS NULL)"
    " OR (role = 'municipality' AND municipality_id IS NOT NULL AND cooperative_id IS NULL AND center_id IS NULL)"
    " OR (role = 'admin' AND cooperative_id IS NULL AND center_id IS NULL AND municipality_id IS NULL)"
)


class User(SQLModel, table=True):
    """A person with a login (table). Passwords are argon2 hashes, never stored in clear."""

    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    __table_args__ = (CheckConstraint(ROLE_ORG_CHECK, name="ck_app_user_role_org"),)

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=100)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=20, index=True)  # the 알림 audience finds every admin by it
    cooperative_id: int | None = Field(
        default=None, foreign_key="cooperative.id", index=True, ondelete="RESTRICT"
    )
    center_id: int | None = Field(
        default=None, foreign_key="support_center.id", index=True, ondelete="RESTRICT"
    )
    municipality_id: int | None = Field(
        default=None, foreign_key="municipality.id", index=True, ondelete="RESTRICT"
    )
    is_active: bool = True
    email: str = Field(
        default="", max_length=254, sa_column_kwargs={"server_default": ""}
    )  # optional: the daily digest goes here
    # SHA-256 of the private calendar feed's secret (/calendar/{secret}.ics); None: no feed.
    calendar_token_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)
    # Bumped at logout and deactivation: every session cookie signed with an older epoch is dead.
    session_epoch: int = 0
    last_login_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API (table); only its SHA-256 is stored."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)  # first characters, so a person can tell tokens apart
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class LoginFailure(SQLModel, table=True):
    """One failed login (table): the throttle counts these over a sliding window, per
    (login, client), per client and per login (app.services.auth.lock_for).

    Insert-only, so concurrent failures on several workers never collide; every failure
    prunes a batch of rows too old to lock anything, and a success removes that client's
    failures for that login.
    """

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_login_at", "login", "at"),
        Index("ix_login_failure_client_at", "client", "at"),
        Index("ix_login_failure_at", "at"),  # pruning
    )

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64)
    # The address the attempt came from (an IPv6 client as its /64); None: recorded before
    # clients were (migration 0008), or a caller without one (the CLI).
    client: str | None = Field(default=None, max_length=64)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
