"""A small world for tests: two regions, two centers, two cooperatives, a user of every kind."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models import CenterMunicipality, Cooperative, Municipality, SupportCenter, User
from app.services.principal import Principal, load_principal

PASSWORD = "correct-horse-battery"
# Verification cost follows the hash's own parameters: cheap ones keep login-heavy tests fast.
PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


@dataclass
class World:
    muni_a: Municipality
    muni_b: Municipality
    center_a: SupportCenter
    center_b: SupportCenter
    coop_a: Cooperative
    coop_b: Cooperative
    users: dict[str, User]  # coop_a, coop_b, center, municipality, admin, center_b, inactive
    # Filled by tests that need a track (see tests/routes/test_permissions.py).
    extra: dict[str, Any] = field(default_factory=dict)

    def principal(self, session: Session, key: str) -> Principal:
        user = self.users[key]
        assert user.id is not None
        p = load_principal(session=session, user_id=user.id)
        assert p is not None
        return p


def make_world(session: Session) -> World:
    muni_a = Municipality(name="서울특별시 용산구", sido="서울특별시", sigungu="용산구")
    muni_b = Municipality(name="인천광역시 남동구", sido="인천광역시", sigungu="남동구")
    center_a = SupportCenter(name="서울특별시 도시재생지원센터")
    center_b = SupportCenter(name="인천광역시 도시재생지원센터")
    session.add_all([muni_a, muni_b, center_a, center_b])
    session.flush()
    session.add_all(
        [
            CenterMunicipality(center_id=center_a.id, municipality_id=muni_a.id),
            CenterMunicipality(center_id=center_b.id, municipality_id=muni_b.id),
        ]
    )
    coop_a = Cooperative(
        name="가 마을조합", municipality_id=muni_a.id, support_center_id=center_a.id, site="가 사업지"
    )
    coop_b = Cooperative(
        name="나 마을조합", municipality_id=muni_b.id, support_center_id=center_b.id, site="나 사업지"
    )
    session.add_all([coop_a, coop_b])
    session.flush()

    def user(login: str, role: str, **org: int | None) -> User:
        u = User(login=login, display_name=login, password_hash=PASSWORD_HASH, role=role, **org)  # type: ignore[arg-type]
        session.add(u)
        return u

    users = {
        "coop_a": user("coop-a", "coop", cooperative_id=coop_a.id),
        "coop_b": user("coop-b", "coop", cooperative_id=coop_b.id),
        "center": user("center-a", "center", center_id=center_a.id),
        "center_b": user("center-b", "center", center_id=center_b.id),
        "municipality": user("gov-a", "municipality", municipality_id=muni_a.id),
        "municipality_b": user("gov-b", "municipality", municipality_id=muni_b.id),
        "admin": user("admin", "admin"),
    }
    inactive = user("gone", "coop", cooperative_id=coop_a.id)
    inactive.is_active = False
    users["inactive"] = inactive
    session.flush()
    return World(muni_a, muni_b, center_a, center_b, coop_a, coop_b, users)


CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_of(client: TestClient, path: str = "/login") -> str:
    match = CSRF_RE.search(client.get(path).text)
    assert match, "no csrf meta tag"
    return match.group(1)


def login(client: TestClient, login_name: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the CSRF token of the new session."""
    token = csrf_of(client)
    r = client.post(
        "/login",
        data={"username": login_name, "password": password, "csrf_token": token, "next": "/cooperatives"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return csrf_of(client, "/")
