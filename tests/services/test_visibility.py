"""The visibility rule, for every role: who sees which cooperative."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from app.models import Cooperative
from app.services.principal import Principal
from app.services.visibility import (
    cooperative_scope,
    get_visible_cooperative,
    role_scope,
    scope_params,
    visible_cooperatives,
)
from tests.factories import World


@pytest.fixture
def coops(db: Session, world: World) -> dict[str, Cooperative]:
    """The world's two cooperatives plus two that tell the rules apart.

    coop_c lies in region B but is supported by center A (a 광역 center helping elsewhere);
    coop_d lies in region A and has no center at all.
    """
    coop_c = Cooperative(
        name="다 마을조합", municipality_id=world.muni_b.id, support_center_id=world.center_a.id
    )
    coop_d = Cooperative(name="라 마을조합", municipality_id=world.muni_a.id, support_center_id=None)
    db.add_all([coop_c, coop_d])
    db.flush()
    return {"a": world.coop_a, "b": world.coop_b, "c": coop_c, "d": coop_d}


# user key → the cooperatives (keys of ``coops``) that user may see
EXPECTED = {
    "coop_a": {"a"},
    "coop_b": {"b"},
    "center": {"a", "c"},  # those center A supports, wherever they are
    "center_b": {"b"},
    "municipality": {"a", "d"},  # those in region A, whoever supports them
    "municipality_b": {"b", "c"},
    "admin": {"a", "b", "c", "d"},
}


@pytest.mark.parametrize("user_key", sorted(EXPECTED))
def test_visible_cooperatives_per_role(
    db: Session, world: World, coops: dict[str, Cooperative], user_key: str
) -> None:
    principal = world.principal(db, user_key)
    seen = {c.id for c in db.exec(visible_cooperatives(principal)).all()}
    assert seen == {coops[k].id for k in EXPECTED[user_key]}


@pytest.mark.parametrize("user_key", sorted(EXPECTED))
def test_get_visible_cooperative_per_role(
    db: Session, world: World, coops: dict[str, Cooperative], user_key: str
) -> None:
    principal = world.principal(db, user_key)
    for key, coop in coops.items():
        assert coop.id is not None
        found = get_visible_cooperative(session=db, principal=principal, cooperative_id=coop.id)
        if key in EXPECTED[user_key]:
            assert found is not None and found.id == coop.id, f"{user_key} should see {coop.name}"
        else:
            assert found is None, f"{user_key} must not see {coop.name}"


def test_unknown_id_is_none_even_for_admin(db: Session, world: World) -> None:
    admin = world.principal(db, "admin")
    assert get_visible_cooperative(session=db, principal=admin, cooperative_id=10**9) is None


@pytest.mark.parametrize(
    "role",
    ["coop", "center", "municipality", "ministry"],  # an org role without its org, or an unknown role
)
def test_principal_without_organization_sees_nothing(
    db: Session, coops: dict[str, Cooperative], role: str
) -> None:
    nobody = Principal(
        id=1,
        login="x",
        display_name="x",
        role=role,
        cooperative_id=None,
        center_id=None,
        municipality_id=None,
        org_name=None,
    )
    assert db.exec(visible_cooperatives(nobody)).all() == []
    coop_id = coops["a"].id
    assert coop_id is not None
    assert get_visible_cooperative(session=db, principal=nobody, cooperative_id=coop_id) is None


@pytest.mark.parametrize("user_key", sorted(EXPECTED))
def test_the_rule_built_once_per_role_sees_the_same(
    db: Session, world: World, coops: dict[str, Cooperative], user_key: str
) -> None:
    """role_scope + scope_params (the statements built once per role) = cooperative_scope."""
    principal = world.principal(db, user_key)
    bound = set(
        db.execute(
            select(col(Cooperative.id)).where(role_scope(principal.role)), scope_params(principal)
        ).scalars()
    )
    literal = set(db.execute(select(col(Cooperative.id)).where(cooperative_scope(principal))).scalars())
    assert bound == literal == {coops[k].id for k in EXPECTED[user_key]}


@pytest.mark.parametrize("role", ["coop", "center", "municipality", "nobody"])
def test_without_an_organization_nobody_sees_anything(
    db: Session, world: World, coops: dict[str, Cooperative], role: str
) -> None:
    lost = Principal(
        id=0, login="lost", display_name="lost", role=role,
        cooperative_id=None, center_id=None, municipality_id=None, org_name=None,
    )  # fmt: skip
    assert not db.execute(select(col(Cooperative.id)).where(role_scope(role)), scope_params(lost)).all()
    assert not db.execute(select(col(Cooperative.id)).where(cooperative_scope(lost))).all()
