"""The person acting in a request, loaded once with the name of their organization."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlmodel import Session, col

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


def _principal_query() -> Select[User, str]:
    org_name = func.coalesce(Cooperative.name, SupportCenter.name, Municipality.name)
    return (
        select(User, org_name)
        .outerjoin(Cooperative, Cooperative.id == User.cooperative_id)  # type: ignore[arg-type]
        .outerjoin(SupportCenter, SupportCenter.id == User.center_id)  # type: ignore[arg-type]
        .outerjoin(Municipality, Municipality.id == User.municipality_id)  # type: ignore[arg-type]
        .where(col(User.is_active))
    )


def principal_from_row(user: User, org_name: str | None) -> Principal:
    assert user.id is not None  # noqa: S101 - loaded rows always have an id
    return Principal(
        id=user.id,
        login=user.login,
        display_name=user.display_name,
        role=user.role,
        cooperative_id=user.cooperative_id,
        center_id=user.center_id,
        municipality_id=user.municipality_id,
        org_name=org_name,
        session_epoch=user.session_epoch,
    )


def load_principal(*, session: Session, user_id: int) -> Principal | None:
    """The active user with this id, or None (deactivated users lose their sessions)."""
    row = session.execute(_principal_query().where(col(User.id) == user_id)).first()
    return principal_from_row(row[0], row[1]) if row else None


def principal_query() -> Select[User, str]:
    """For callers that add their own condition (API tokens)."""
    return _principal_query()
