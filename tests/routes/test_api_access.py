"""The JSON API: bearer tokens and the visibility rule per role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models import Cooperative
from app.services.auth import create_token, revoke_tokens
from tests.factories import World, login

LIST = "/api/v1/cooperatives"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def coops(db: Session, world: World) -> dict[str, Cooperative]:
    """Adds coop_c (region B, supported by center A) and coop_d (region A, no center)."""
    coop_c = Cooperative(
        name="다 마을조합", municipality_id=world.muni_b.id, support_center_id=world.center_a.id
    )
    coop_d = Cooperative(name="라 마을조합", municipality_id=world.muni_a.id)
    db.add_all([coop_c, coop_d])
    db.flush()
    return {"a": world.coop_a, "b": world.coop_b, "c": coop_c, "d": coop_d}


def token_for(db: Session, world: World, key: str) -> str:
    return create_token(session=db, user=world.users[key]).token


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer mgl_not-a-real-token"},
        {"Authorization": "Bearer not-even-prefixed"},
        {"Authorization": "Basic YWRtaW46cGFzc3dvcmQ="},
    ],
    ids=["none", "empty", "wrong", "unprefixed", "basic"],
)
def test_missing_or_wrong_token_is_401(client: TestClient, world: World, headers: dict[str, str]) -> None:
    r = client.get(LIST, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"].startswith("application/json")
    assert "가 마을조합" not in r.text


def test_detail_without_a_token_is_401(client: TestClient, world: World) -> None:
    r = client.get(f"{LIST}/{world.coop_a.id}")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_scheme_is_case_insensitive(client: TestClient, db: Session, world: World) -> None:
    token = token_for(db, world, "admin")
    assert client.get(LIST, headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_revoked_token_is_401(client: TestClient, db: Session, world: World) -> None:
    token = token_for(db, world, "center")
    assert client.get(LIST, headers=bearer(token)).status_code == 200
    revoke_tokens(session=db, user=world.users["center"])
    db.flush()
    r = client.get(LIST, headers=bearer(token))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_deactivated_users_token_stops_working(client: TestClient, db: Session, world: World) -> None:
    token = token_for(db, world, "municipality")
    assert client.get(LIST, headers=bearer(token)).status_code == 200
    user = world.users["municipality"]
    user.is_active = False
    db.add(user)
    db.flush()
    r = client.get(LIST, headers=bearer(token))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_session_cookie_does_not_open_the_api(client: TestClient, world: World) -> None:
    login(client, "admin")
    assert client.get(LIST).status_code == 401


# --- visibility per role ----------------------------------------------------------------------

EXPECTED = {
    "coop_a": {"a"},
    "coop_b": {"b"},
    "center": {"a", "c"},
    "center_b": {"b"},
    "municipality": {"a", "d"},
    "municipality_b": {"b", "c"},
    "admin": {"a", "b", "c", "d"},
}


@pytest.mark.parametrize("user_key", sorted(EXPECTED))
def test_list_shows_exactly_the_visible_cooperatives(
    client: TestClient, db: Session, world: World, coops: dict[str, Cooperative], user_key: str
) -> None:
    r = client.get(LIST, headers=bearer(token_for(db, world, user_key)))
    assert r.status_code == 200
    body = r.json()
    assert sorted(c["id"] for c in body) == sorted(coops[k].id for k in EXPECTED[user_key])
    assert len(body) == len(EXPECTED[user_key])  # no duplicates from the joins


@pytest.mark.parametrize("user_key", sorted(EXPECTED))
def test_detail_is_404_for_what_a_role_may_not_see(
    client: TestClient, db: Session, world: World, coops: dict[str, Cooperative], user_key: str
) -> None:
    headers = bearer(token_for(db, world, user_key))
    for key, coop in coops.items():
        r = client.get(f"{LIST}/{coop.id}", headers=headers)
        if key in EXPECTED[user_key]:
            assert r.status_code == 200, (user_key, coop.name)
            assert r.json()["name"] == coop.name
        else:
            assert r.status_code == 404, (user_key, coop.name)
            assert coop.name not in r.text
            if coop.site:
                assert coop.site not in r.text


def test_detail_of_a_missing_cooperative_looks_like_an_invisible_one(
    client: TestClient, db: Session, world: World
) -> None:
    headers = bearer(token_for(db, world, "coop_a"))
    missing = client.get(f"{LIST}/999999", headers=headers)
    hidden = client.get(f"{LIST}/{world.coop_b.id}", headers=headers)
    assert missing.status_code == hidden.status_code == 404
    assert missing.json() == hidden.json()


def test_cooperative_fields(client: TestClient, db: Session, world: World) -> None:
    r = client.get(f"{LIST}/{world.coop_a.id}", headers=bearer(token_for(db, world, "center")))
    assert r.json() == {
        "id": world.coop_a.id,
        "name": "가 마을조합",
        "site": "가 사업지",
        "address": "",
        "municipality": "서울특별시 용산구",
        "support_center": "서울특별시 도시재생지원센터",
        "approved_on": None,
        "contact": "",
    }
