"""THE visibility rule: which cooperatives a person may see. Every list, lookup,
export and API call goes through here; what is invisible answers 404."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, bindparam, false, true
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from app.models import Cooperative
from app.services.principal import Principal

# Per role: the Cooperative column that must equal the viewer's organization, and the
# principal's field holding it. An admin sees every cooperative; anyone else without an
# organization sees none.
_SCOPE: dict[str, tuple[Any, str]] = {
    "coop": (Cooperative.id, "cooperative_id"),
    "center": (Cooperative.support_center_id, "center_id"),
    "municipality": (Cooperative.municipality_id, "municipality_id"),
}
SCOPE_PARAM = "scope_org"


def _organization(principal: Principal) -> int | None:
    scope = _SCOPE.get(principal.role)
    return getattr(principal, scope[1]) if scope else None


def cooperative_scope(principal: Principal) -> ColumnElement[bool]:
    """A WHERE condition on Cooperative for what ``principal`` may see."""
    if principal.role == "admin":
        return true()
    scope, org = _SCOPE.get(principal.role), _organization(principal)
    return false() if scope is None or org is None else scope[0] == org


def role_scope(role: str) -> ColumnElement[bool]:
    """The same condition for any viewer of ``role``, their organization a bind parameter
    (scope_params): for statements built once per role instead of once per request."""
    if role == "admin":
        return true()
    scope = _SCOPE.get(role)
    return false() if scope is None else scope[0] == bindparam(SCOPE_PARAM)


def scope_params(principal: Principal) -> dict[str, Any]:
    """role_scope's parameter for ``principal`` (None matches nothing, like cooperative_scope)."""
    return {SCOPE_PARAM: _organization(principal)}


def visible_cooperatives(principal: Principal) -> SelectOfScalar[Cooperative]:
    return select(Cooperative).where(cooperative_scope(principal))


def get_visible_cooperative(
    *, session: Session, principal: Principal, cooperative_id: int
) -> Cooperative | None:
    return session.exec(visible_cooperatives(principal).where(Cooperative.id == cooperative_id)).first()
