"""Odd input gets a clear 4xx (never a 500), and sessions end when they should."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.catalog import Catalog
from app.config import Settings
from app.services.auth import create_token
from tests.factories import PASSWORD, World, csrf_of, login
from tests.fixtures.tracking_helpers import COOP_ITEM, start

HUGE = "9" * 30


@pytest.mark.parametrize(
    "path",
    [
        f"/cooperatives/{HUGE}",
        f"/cooperatives/{HUGE}/events",
        f"/tracks/{HUGE}",
        f"/tracks/{HUGE}/events?before=1",
        f"/admin/users/{HUGE}/edit",
        "/cooperatives/0",
    ],
)
def test_absurd_ids_in_pages_are_422_not_500(client: TestClient, world: World, path: str) -> None:
    login(client, "admin")
    assert client.get(path).status_code == 422


def test_absurd_ids_in_the_api_are_422(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    track = start(db, world, catalog)
    token = create_token(session=db, user=world.users["coop_a"]).token
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/tracks/{HUGE}", headers=headers).status_code == 422
    assert client.get(f"/api/v1/tracks/{track.id}/events?before={HUGE}", headers=headers).status_code == 422


@pytest.mark.parametrize("version", ["²", "١", "-1", "1.5", "", HUGE])
def test_a_strange_version_is_a_korean_422(
    client: TestClient, db: Session, world: World, catalog: Catalog, version: str
) -> None:
    track = start(db, world, catalog)
    token = login(client, "coop-a")
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_ITEM}",
        data={"csrf_token": token, "version": version, "status": "doing"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 422
    assert "버전 정보가 없습니다" in r.text


def test_unicode_digits_in_admin_forms_are_field_errors(client: TestClient, world: World) -> None:
    token = login(client, "admin")
    r = client.post(
        "/admin/cooperatives",
        data={"csrf_token": token, "name": "새 조합", "municipality_id": "²"},
    )
    assert r.status_code == 422
    assert "존재하지 않는 항목이 선택되었습니다." in r.text


def test_an_admin_password_reset_ends_the_old_sessions(
    app: FastAPI, client: TestClient, world: World
) -> None:
    with TestClient(app) as victim:
        login(victim, "coop-a")
        assert victim.get("/cooperatives", follow_redirects=False).status_code == 200
        token = login(client, "admin")
        r = client.post(
            f"/admin/users/{world.users['coop_a'].id}",
            data={
                "csrf_token": token,
                "display_name": "coop-a",
                "org_id": str(world.coop_a.id),
                "password": "a-brand-new-password",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert victim.get("/cooperatives", follow_redirects=False).status_code == 303


def test_htmx_login_to_a_korean_address_is_encoded(client: TestClient, world: World) -> None:
    token = csrf_of(client)
    r = client.post(
        "/login",
        data={
            "username": "coop-a",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/cooperatives?q=한글",
        },
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert r.headers["hx-redirect"] == "/cooperatives?q=%ED%95%9C%EA%B8%80"


def test_an_oversized_upload_is_a_korean_413_with_security_headers(
    app: FastAPI, client: TestClient, db: Session, world: World, catalog: Catalog, settings: Settings
) -> None:
    track = start(db, world, catalog)
    token = login(client, "coop-a")
    big = b"%PDF-" + b"0" * (settings.max_upload_bytes + 2 * 1024 * 1024)
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_ITEM}/evidence",
        data={"csrf_token": token},
        files={"file": ("큰파일.pdf", big, "application/pdf")},
    )
    assert r.status_code == 413
    assert "파일 한 개는 20MB 이하여야 합니다" in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_an_expired_session_mid_edit_returns_to_the_page(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    track = start(db, world, catalog)
    token = csrf_of(client)  # an anonymous session: the member session has expired
    page = f"http://testserver/tracks/{track.id}?status=todo"
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_ITEM}",
        data={"csrf_token": token, "version": "0", "status": "done"},
        headers={"Referer": page},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=%2Ftracks%2F{track.id}%3Fstatus%3Dtodo"


def test_a_foreign_referer_is_not_a_return_address(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    track = start(db, world, catalog)
    token = csrf_of(client)
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_ITEM}",
        data={"csrf_token": token, "version": "0", "status": "done"},
        headers={"Referer": "https://evil.example/tracks/1"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/login?next=%2Fcooperatives"


def test_a_thousand_digit_id_in_a_form_is_a_field_error(client: TestClient, world: World) -> None:
    token = login(client, "admin")
    r = client.post(
        "/admin/centers",
        data={"csrf_token": token, "name": "새 센터", "municipality_ids": "1" * 5000},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "존재하지 않는 지자체가 선택되었습니다." in r.text


def test_a_thousand_digit_content_length_is_413(client: TestClient, world: World) -> None:
    token = login(client, "coop-a")
    r = client.post("/logout", data={"csrf_token": token}, headers={"Content-Length": "9" * 5000})
    assert r.status_code in (400, 413)
