"""The admin audit log: every admin change appended with before → after (by name, never a
password), refused UPDATE and DELETE in the database, a filtered page and a CSV."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, col, select

from app.models.audit import AuditEntry
from tests.factories import World, login


def entries(db: Session) -> list[AuditEntry]:
    db.expire_all()
    return list(db.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all())


def post(client: TestClient, path: str, token: str, data: dict[str, object]):
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def test_moving_a_cooperative_is_recorded_by_name(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    r = post(
        client,
        f"/admin/cooperatives/{world.coop_a.id}",
        token,
        {
            "name": "가 마을조합",
            "municipality_id": str(world.muni_a.id),
            "support_center_id": str(world.center_b.id),
            "site": "가 사업지",
        },
    )
    assert r.status_code == 303
    [entry] = entries(db)
    assert (entry.action, entry.target_kind, entry.target_id, entry.target) == (
        "update",
        "cooperatives",
        world.coop_a.id,
        "가 마을조합",
    )
    assert entry.changes == {"support_center": ["서울특별시 도시재생지원센터", "인천광역시 도시재생지원센터"]}
    assert entry.actor_id == world.users["admin"].id and entry.actor.startswith("admin")
    # Saving again without a change records nothing.
    post(
        client,
        f"/admin/cooperatives/{world.coop_a.id}",
        token,
        {
            "name": "가 마을조합",
            "municipality_id": str(world.muni_a.id),
            "support_center_id": str(world.center_b.id),
            "site": "가 사업지",
        },
    )
    assert len(entries(db)) == 1


def test_users_roles_activation_and_password_resets(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    r = post(
        client,
        "/admin/users",
        token,
        {
            "login": "new-gov",
            "display_name": "새 담당자",
            "role": "municipality",
            "org_id": f"municipality:{world.muni_a.id}",
            "password": "a-long-secret-1",
        },
    )
    assert r.status_code == 303, r.text[:500]
    created = entries(db)[-1]
    assert created.action == "create" and created.changes["organization"] == [None, "서울특별시 용산구"]
    assert "a-long-secret-1" not in str(created.changes)
    user_id = created.target_id
    same = {"display_name": "새 담당자", "org_id": f"municipality:{world.muni_a.id}"}
    r = post(client, f"/admin/users/{user_id}", token, {**same, "password": "another-secret-2"})
    assert r.status_code == 303
    reset = entries(db)[-1]
    assert reset.changes == {"password": [None, "변경함"]}
    post(client, f"/admin/users/{user_id}/active", token, {"active": "0"})
    assert (entries(db)[-1].action, entries(db)[-1].changes) == ("deactivate", {"is_active": [True, False]})
    post(client, f"/admin/users/{user_id}/active", token, {"active": "0"})  # already off: nothing new
    assert entries(db)[-1].action == "deactivate" and len(entries(db)) == 3


def test_the_log_is_append_only_in_the_database(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    post(
        client,
        f"/admin/municipalities/{world.muni_a.id}",
        token,
        {"name": "서울특별시 용산구", "sido": "서울", "sigungu": "용산구"},
    )
    [entry] = entries(db)
    for statement in ("UPDATE audit_log SET actor = 'someone'", "DELETE FROM audit_log"):
        nested = db.begin_nested()
        with pytest.raises(DatabaseError):
            db.execute(text(statement))
        nested.rollback()
    assert entries(db)[0].actor == entry.actor


def test_the_page_filters_and_the_csv_matches(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    post(
        client,
        f"/admin/municipalities/{world.muni_a.id}",
        token,
        {"name": "서울특별시 용산구", "sido": "서울", "sigungu": ""},
    )
    post(
        client,
        f"/admin/centers/{world.center_a.id}",
        token,
        {"name": "=서울 센터", "municipality_ids": [str(world.muni_a.id)]},
    )
    page = client.get("/admin/audit").text
    assert "기록 2건" in page and "시·도: 서울특별시 → 서울" in page
    only_centers = client.get("/admin/audit", params={"kind": "centers"}).text
    assert "기록 1건" in only_centers and "=서울 센터" in only_centers
    assert client.get("/admin/audit", params={"kind": "nope"}).status_code == 422
    assert client.get("/admin/audit", params={"since": "20260101"}).status_code == 422
    rows = list(csv.reader(io.StringIO(client.get("/admin/audit.csv").text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["번호", "시각(KST)", "누가", "동작"]
    assert len(rows) == 3 and rows[1][5] == "'=서울 센터"  # newest first; no formula in a spreadsheet


def test_the_command_line_is_recorded_too(db: Session, world: World) -> None:
    from app.services import audit

    user = world.users["coop_b"]
    audit.record(
        session=db,
        actor=None,
        action="token_create",
        kind="users",
        obj=user,
        extra={"token": [None, "mgl_abcd1234"]},
    )
    [entry] = entries(db)
    assert entry.actor == "maeul 명령" and entry.actor_id is None and entry.target == "coop-b"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("조합", "조합을"),
        ("지원센터", "지원센터를"),
        ("마을조합", "마을조합을"),
        ("사용자", "사용자를"),
        ("API", "API를"),
    ],
)
def test_object_particles_follow_the_word(word: str, expected: str) -> None:
    from app.korean import eul_reul

    assert eul_reul(word) == expected


def test_saving_says_so(client: TestClient, world: World) -> None:
    token = login(client, "admin")
    r = post(
        client,
        f"/admin/centers/{world.center_a.id}",
        token,
        {"name": "서울 센터", "municipality_ids": [str(world.muni_a.id)]},
    )
    assert r.headers["location"] == "/admin?saved=centers#centers"
    assert "도시재생지원센터를 저장했습니다." in client.get(r.headers["location"]).text
    assert "을(를)" not in client.get("/admin/centers/99999/edit").text
