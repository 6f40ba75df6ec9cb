"""THE visibility rule: which cooperatives a person may see. Every list, lookup,
export and API call goes through here; what is invisible answers 404."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, true
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from app.models import Cooperative
from app.services.principal import Principal


def cooperative_scope(principal: Principal) -> ColumnElement[bool]:
    """A WHERE condition on Cooperative for what ``principal`` may see."""
    match principal.role:
        case "admin":
            return true()
        case "coop" if principal.cooperative_id is not None:
            return Cooperative.id == principal.cooperative_id  # type: ignore[return-value]
        case "center" if principal.center_id is not None:
            return Cooperative.support_center_id == principal.center_id  # type: ignore[return-value]
        case "municipality" if principal.municipality_id is not None:
            return Cooperative.municipality_id == principal.municipality_id  # type: ignore[return-value]
    return false()


def visible_cooperatives(principal: Principal) -> SelectOfScalar[Cooperative]:
    return select(Cooperative).where(cooperative_scope(principal))


def get_visible_cooperative(
    *, session: Session, principal: Principal, cooperative_id: int
) -> Cooperative | None:
    return session.exec(visible_cooperatives(principal).where(Cooperative.id == cooperative_id)).first()
