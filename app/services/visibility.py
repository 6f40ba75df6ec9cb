"""THE visibility rule: which cooperatives a person may see. Every list, lookup,
export and API call goes through here; what is invisible answers 404."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, bindparam, false, true
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from app.models import Cooperative
from app.services.principal import Principal

# Per role: the Cooperative column that must equal the viewer's organization. An admin sees
# every cooperative; anyone else without an organization sees none.
_SCOPE_COLUMN: dict[str, Any] = {
    "coop": Cooperative.id,
    "center": Cooperative.support_center_id,
    "municipality": Cooperative.municipality_id,
}
SCOPE_PARAM = "scope_org"


def _organization(principal: Principal) -> int | None:
    return {
        "coop": principal.cooperative_id,
        "center": principal.center_id,
        "municipality": principal.municipality_id,
    }.get(principal.role)


def cooperative_scope(principal: Principal) -> ColumnElement[bool]:
    """A WHERE condition on Cooperative for what ``principal`` may see."""
    if principal.role == "admin":
        return true()
    column, org = _SCOPE_COLUMN.get(principal.role), _organization(principal)
    return false() if column is None or org is None else column == org


def role_scope(role: str) -> ColumnElement[bool]:
    """The same condition for any viewer of ``role``, their organization a bind parameter
    (scope_params): for statements built once per role instead of once per request."""
    if role == "admin":
        return true()
    column = _SCOPE_COLUMN.get(role)
    return false() if column is None else column == bindparam(SCOPE_PARAM)


def scope_params(principal: Principal) -> dict[str, Any]:
    """role_scope's parameter for ``principal`` (None matches nothing, like cooperative_scope)."""
    return {SCOPE_PARAM: _organization(principal)}


def visible_cooperatives(principal: Principal) -> SelectOfScalar[Cooperative]:
    return select(Cooperative).where(cooperative_scope(principal))


def get_visible_cooperative(
    *, session: Session, principal: Principal, cooperative_id: int
) -> Cooperative | None:
    return session.exec(visible_cooperatives(principal).where(Cooperative.id == cooperative_id)).first()
