"""Hostile input, generated from the permission matrix (every route) and the OpenAPI schema
(every JSON field): never a 5xx, and a refused request stores nothing.

Each case sends what an attacker would — NUL, lone surrogates, NaN / Infinity / 1e400, invalid
UTF-8, true for a number, 0 or 20260101 for a date, non-canonical ids — as the visitor who is
allowed to make the request, so the input (not the permission check) is what is tested.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from app.models import Comment, Consultation, Decision, Event, Evidence, ItemState, Notification, User
from app.services.auth import create_token
from app.storage import LocalStorage
from tests.factories import World, login
from tests.routes.test_permissions import MATRIX, WHO, _flatten, _path

TABLES = (Event, ItemState, Comment, Evidence, Decision, Consultation, Notification, User)
HOSTILE_TEXT = ["a\x00b", "\x00", "\u202egnp.exe", "가" * 100_000]
# Raw JSON tokens: what json.dumps can never produce, written as text.
HOSTILE_JSON = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    '"\\ud800"',
    '"a\\u0000b"',
    "true",
    "0",
    '"20260101"',
]


def _counts(db: Session) -> dict[str, int]:
    db.expire_all()
    return {t.__name__: db.exec(select(func.count()).select_from(t)).one() for t in TABLES}


def _allowed(expect: dict[str, int]) -> str | None:
    """A visitor whose request the matrix expects to succeed (so the input decides the answer)."""
    return next((who for who in WHO if who != "anon" and (expect[who] < 400 or expect[who] == 422)), None)


FORM_CASES = sorted(k for k, c in MATRIX.items() if c.data is not None and not c.api)
JSON_CASES = sorted(k for k, c in MATRIX.items() if c.json is not None and c.api)


@pytest.mark.parametrize("key", FORM_CASES, ids=lambda k: f"{k[1]} {k[0]}")
def test_forms_refuse_hostile_text_and_store_nothing(
    app: FastAPI, db: Session, tracked: World, key: tuple[str, str]
) -> None:
    case = MATRIX[key]
    who = _allowed(case.expect)
    if who is None:
        pytest.skip("nobody may post here")
    path = _path(app, key[0], case.params(tracked))
    assert case.data is not None
    fields = case.data(tracked, who) or {"name": "x"}
    with TestClient(app, raise_server_exceptions=False) as client:
        csrf = login(client, tracked.users[who].login)
        for field in fields:
            for hostile in HOSTILE_TEXT[:3]:
                before = _counts(db)
                data = {**fields, field: hostile, "csrf_token": csrf}
                r = client.post(path, data=data, follow_redirects=False)
                assert r.status_code < 500, (key, field, repr(hostile), r.status_code)
                if r.status_code >= 400:
                    assert _counts(db) == before, (key, field, repr(hostile))
            # Invalid UTF-8, percent-encoded in a form body.
            before = _counts(db)
            body = "&".join(f"{k}={v}" for k, v in {**fields, "csrf_token": csrf}.items() if k != field)
            r = client.post(
                path,
                content=f"{body}&{field}=%ff%fe".encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
                follow_redirects=False,
            )
            assert r.status_code == 422, (key, field, r.status_code)
            assert "UTF-8" in r.text and _counts(db) == before


@pytest.mark.parametrize("key", JSON_CASES, ids=lambda k: f"{k[1]} {k[0]}")
def test_json_refuses_hostile_values_and_stores_nothing(
    app: FastAPI, db: Session, tracked: World, key: tuple[str, str]
) -> None:
    case = MATRIX[key]
    who = _allowed(case.expect)
    assert who is not None and case.json is not None
    token = create_token(session=db, user=tracked.users[who]).token
    path = _path(app, key[0], case.params(tracked))
    base: dict[str, Any] = case.json(tracked)
    schema = app.openapi()
    operation = schema["paths"][_template(app, key[0])][key[1].lower()]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    fields = list(schema["components"]["schemas"][ref]["properties"]) + ["unknown_field"]
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    with TestClient(app, raise_server_exceptions=False) as client:
        for field in fields:
            for raw in HOSTILE_JSON:
                rest = {k: v for k, v in base.items() if k != field}
                text = json.dumps(rest)[:-1] + (", " if rest else "") + f'"{field}": {raw}' + "}"
                before = _counts(db)
                r = client.request(key[1], path, content=text.encode(), headers=headers)
                assert r.status_code < 500, (key, field, raw, r.status_code, r.text[:200])
                if r.status_code >= 400:
                    assert r.headers["content-type"].startswith("application/json")
                    assert _counts(db) == before, (key, field, raw)


def _template(app: FastAPI, name: str) -> str:
    for route in _flatten(list(app.routes)):
        if getattr(route, "name", None) == name:
            return str(route.path)
    raise KeyError(name)


@pytest.mark.parametrize("raw", ["+{id}", "0{id}", "{id}.0", "%20{id}", "{id}%20"])
def test_ids_in_paths_have_one_written_form(client: TestClient, tracked: World, raw: str) -> None:
    login(client, "center-a")  # sees coop A, whose name its own header does not show
    track_id = tracked.extra["track"].id
    assert client.get(f"/tracks/{track_id}").status_code == 200
    r = client.get("/tracks/" + raw.format(id=track_id))
    assert r.status_code in (404, 422), r.status_code
    assert tracked.coop_a.name not in r.text


@pytest.mark.parametrize("query", ["q=%00", "q=%ff", "region=%00", "page=%00"])
def test_query_strings_refuse_what_no_database_stores(client: TestClient, tracked: World, query: str) -> None:
    login(client, "center-a")
    r = client.get(f"/dashboard?{query}")
    assert r.status_code == 422 and "입력에 쓸 수 없는" in r.text


@pytest.mark.parametrize("path", ["/", "/models/solar", "/login", "/healthz", "/static/app.css"])
def test_head_answers_like_get_without_a_body(client: TestClient, path: str) -> None:
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_the_422_answer_never_fails_on_what_it_echoes(
    client: TestClient, tracked: World, db: Session
) -> None:
    token = create_token(session=db, user=tracked.users["coop_a"]).token
    r = client.post(
        f"/api/v1/cooperatives/{tracked.coop_a.id}/tracks",
        content=json.dumps({"model": "x" * 100_000, "extra": "\ud7ff"}).encode(),
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert r.status_code == 422
    assert len(r.content) < 2000  # a short echo, not the 100,000 characters sent


@pytest.mark.parametrize("field", ["username", "password"])
@pytest.mark.parametrize("hostile", ["admin\x00", "%ff"])
def test_the_login_form_refuses_hostile_text_before_authentication(
    client: TestClient, world: World, db: Session, field: str, hostile: str
) -> None:
    from tests.factories import csrf_of

    csrf = csrf_of(client)
    before = _counts(db)
    data = {"username": "admin", "password": "wrong-password", "csrf_token": csrf}
    if hostile == "%ff":  # invalid UTF-8, as a browser with a wrong charset would send it
        body = "&".join(f"{k}={v}" for k, v in data.items() if k != field) + f"&{field}=%ff"
        r = client.post(
            "/login", content=body.encode(), headers={"content-type": "application/x-www-form-urlencoded"}
        )
    else:
        r = client.post("/login", data={**data, field: hostile})
    assert r.status_code == 422, r.status_code
    assert _counts(db) == before  # not even a failed-login row


def test_file_names_lose_their_bidirectional_controls(tmp_path: Any, db: Session) -> None:
    import io

    from app.services.evidence import store_upload

    stored = store_upload(
        session=db,
        filename="invoice\u202efdp.exe.pdf",
        stream=io.BytesIO(b"%PDF-1.4 minimal"),
        storage=LocalStorage(tmp_path),
        max_bytes=1_000_000,
    )
    assert stored.name == "invoicefdp.exe.pdf"


@pytest.mark.parametrize(("kind", "field"), [("municipalities", "name"), ("users", "display_name")])
def test_admin_fields_have_length_caps(
    client: TestClient, world: World, db: Session, kind: str, field: str
) -> None:
    csrf = login(client, "admin")
    before = _counts(db)
    data = {"name": "x", "sido": "서울특별시", "login": "long-one", "display_name": "x", "role": "admin"}
    data[field] = "가" * 100_000
    r = client.post(f"/admin/{kind}", data={**data, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 422 and "100자 이하로 입력하세요" in r.text
    assert _counts(db) == before
