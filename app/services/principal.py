"""The person acting in a request, loaded once with the name of their organization."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select
from sqlmodel import Session, col

from app.db import Prepared, run_plain
from app.models import Cooperative, Municipality, SupportCenter, User
from app.models.user import ROLE_LABELS


@dataclass(frozen=True)
class Principal:
    """Plain data (no lazy loading): safe to hand to services and templates."""

    id: int
    login: str
    display_name: str
    role: str
    cooperative_id: int | None
    center_id: int | None
    municipality_id: int | None
    org_name: str | None
    session_epoch: int = 0

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def principal_query() -> Select[*tuple[Any, ...]]:
    """The active users as the columns a Principal needs (plain rows, no ORM objects), with their
    organization's name; callers add their own condition (an id, an API token, a calendar secret)."""
    org_name = func.coalesce(Cooperative.name, SupportCenter.name, Municipality.name).label("org_name")
    return (
        select(
            col(User.id),
            col(User.login),
            col(User.display_name),
            col(User.role),
            col(User.cooperative_id),
            col(User.center_id),
            col(User.municipality_id),
            col(User.session_epoch),
            org_name,
        )
        .outerjoin(Cooperative, Cooperative.id == User.cooperative_id)  # type: ignore[arg-type]
        .outerjoin(SupportCenter, SupportCenter.id == User.center_id)  # type: ignore[arg-type]
        .outerjoin(Municipality, Municipality.id == User.municipality_id)  # type: ignore[arg-type]
        .where(col(User.is_active))
    )


def principal_from_row(row: Row[Any]) -> Principal:
    return Principal(
        id=row.id,
        login=row.login,
        display_name=row.display_name,
        role=row.role,
        cooperative_id=row.cooperative_id,
        center_id=row.center_id,
        municipality_id=row.municipality_id,
        org_name=row.org_name,
        session_epoch=row.session_epoch,
    )


# Built once: every page request loads its user with it, and building the statement cost more
# than running it.
_BY_ID = Prepared(principal_query().where(col(User.id) == bindparam("user_id")))


def load_principal(*, session: Session, user_id: int) -> Principal | None:
    """The active user with this id, or None (deactivated users lose their sessions)."""
    row = run_plain(session, _BY_ID, {"user_id": user_id}).first()
    return principal_from_row(row) if row else None
