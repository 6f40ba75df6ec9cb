"""The permission matrix: every route of the app × every kind of visitor.

The routes come from the app's own route table, so a route added without an entry
here fails ``test_every_route_is_in_the_matrix``.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session
from starlette.routing import Mount, Route

from app.catalog import Catalog
from app.config import Settings
from app.db import make_engine, transaction
from app.main import create_app
from app.migrate import upgrade
from app.services.auth import create_token
from tests.conftest import CONTENT_DIR
from tests.factories import World, csrf_of, login, make_world
from tests.routes import matrix_consultations, matrix_notifications, matrix_tasks
from tests.routes.conftest import make_tracked
from tests.routes.matrix import (  # noqa: F401 - the vocabulary the entries below use
    ADMIN_ONLY,
    CENTER_ITEM,
    COOP_ITEM,
    DECISION_FORM,
    MUNI_ITEM,
    WHO,
    Case,
    admin_only,
    coop_a,
    everyone,
    members,
    track,
    with_version,
)

# (route name, method) → case. A-side visitors see coop A; coop_b must get 404.
MATRIX: dict[tuple[str, str], Case] = {
    ("health:check", "GET"): Case(everyone(200)),
    ("catalog:home", "GET"): Case(everyone(200)),
    ("catalog:model", "GET"): Case(everyone(200), params=lambda w: {"model_key": "solar"}),
    ("auth:login_form", "GET"): Case(everyone(200)),
    ("auth:login", "POST"): Case(
        everyone(401), data=lambda w, who: {"username": f"nobody-{who}", "password": "wrong-password"}
    ),
    ("auth:logout", "POST"): Case(everyone(303), data=lambda w, who: {}),
    ("coops:list", "GET"): Case(members(200)),
    ("coops:detail", "GET"): Case(members(200, coop_b=404), params=coop_a),
    ("admin:index", "GET"): Case(ADMIN_ONLY),
    ("admin:new", "GET"): Case(ADMIN_ONLY, params=lambda w: {"kind": "municipalities"}),
    ("admin:create", "POST"): Case(
        admin_only(422), params=lambda w: {"kind": "municipalities"}, data=lambda w, who: {}
    ),
    ("admin:edit", "GET"): Case(
        ADMIN_ONLY, params=lambda w: {"kind": "municipalities", "obj_id": w.muni_a.id}
    ),
    ("admin:update", "POST"): Case(
        admin_only(422),
        params=lambda w: {"kind": "municipalities", "obj_id": w.muni_a.id},
        data=lambda w, who: {"name": ""},
    ),
    ("admin:audit", "GET"): Case(ADMIN_ONLY),
    ("admin:audit_csv", "GET"): Case(ADMIN_ONLY),
    ("admin:set_active", "POST"): Case(
        admin_only(303),
        params=lambda w: {"obj_id": w.users["coop_b"].id},
        data=lambda w, who: {"active": "1"},
    ),
    ("api:cooperatives", "GET"): Case(members(200, anon=401), api=True),
    ("api:cooperative", "GET"): Case(members(200, anon=401, coop_b=404), params=coop_a, api=True),
    ("health:favicon", "GET"): Case(everyone(200)),
    # tracking: coop A follows hub-facility; centre and 지자체 may touch only the items they lead.
    ("tracks:start", "POST"): Case(
        {"anon": 303, "coop_a": 303, "coop_b": 404, "center": 303, "municipality": 403, "admin": 303},
        params=coop_a,
        data=lambda w, who: {"model": "solar"},
    ),
    ("tracks:detail", "GET"): Case(members(200, coop_b=404), params=track),
    # Without HTMX an item's panel URL sends the browser to the page with that panel open.
    ("tracks:item_panel", "GET"): Case(
        members(303, coop_b=404), params=lambda w: track(w, item_key=COOP_ITEM)
    ),
    ("tracks:update_item", "POST"): Case(
        {"anon": 303, "coop_a": 303, "coop_b": 404, "center": 403, "municipality": 403, "admin": 403},
        params=lambda w: track(w, item_key=COOP_ITEM),
        data=with_version,
    ),
    ("tracks:verify", "POST"): Case(
        {"anon": 303, "coop_a": 403, "coop_b": 404, "center": 403, "municipality": 303, "admin": 403},
        params=lambda w: track(w, item_key=MUNI_ITEM),
        data=lambda w, who: {"version": "1"},
    ),
    ("tracks:comment", "POST"): Case(
        {"anon": 303, "coop_a": 303, "coop_b": 404, "center": 303, "municipality": 303, "admin": 403},
        params=lambda w: track(w, item_key=COOP_ITEM),
        data=lambda w, who: {"body": "확인 부탁드립니다."},
    ),
    ("tracks:add_evidence", "POST"): Case(
        {"anon": 303, "coop_a": 303, "coop_b": 404, "center": 403, "municipality": 403, "admin": 403},
        params=lambda w: track(w, item_key=COOP_ITEM),
        data=lambda w, who: {"url": "https://example.org/minutes", "title": "회의록"},
    ),
    ("tracks:remove_evidence", "POST"): Case(
        {"anon": 303, "coop_a": 303, "coop_b": 404, "center": 403, "municipality": 403, "admin": 403},
        params=lambda w: track(w, evidence_id=w.extra["file"].id),
        data=lambda w, who: {},
    ),
    ("tracks:download_evidence", "GET"): Case(
        members(200, coop_b=404), params=lambda w: track(w, evidence_id=w.extra["file"].id)
    ),
    ("tracks:events", "GET"): Case(members(200, coop_b=404), params=track),
    ("tracks:events_csv", "GET"): Case(members(200, coop_b=404), params=track),
    ("coops:events", "GET"): Case(members(200, coop_b=404), params=coop_a),
    ("api:models", "GET"): Case(members(200, anon=401), api=True),
    ("api:tracks", "GET"): Case(members(200, anon=401, coop_b=404), params=coop_a, api=True),
    ("api:start_track", "POST"): Case(
        {"anon": 401, "coop_a": 201, "coop_b": 404, "center": 201, "municipality": 403, "admin": 201},
        params=coop_a,
        json=lambda w: {"model": "solar"},
        api=True,
    ),
    ("api:track", "GET"): Case(members(200, anon=401, coop_b=404), params=track, api=True),
    ("api:update_item", "PATCH"): Case(
        {"anon": 401, "coop_a": 200, "coop_b": 404, "center": 403, "municipality": 403, "admin": 403},
        params=lambda w: track(w, item_key=COOP_ITEM),
        json=lambda w: {"status": "doing", "version": 0},
        api=True,
    ),
    ("api:track_events", "GET"): Case(members(200, anon=401, coop_b=404), params=track, api=True),
    # 현황판: public bodies and admin; a cooperative is sent to its own page (303), and through
    # the API refused (403). What each sees is tested in tests/routes/test_dashboard.py.
    ("dashboard:index", "GET"): Case(members(200, coop_a=303, coop_b=303)),
    ("dashboard:charts", "GET"): Case(members(200, coop_a=403, coop_b=403)),
    ("dashboard:chart", "GET"): Case(
        members(200, coop_a=403, coop_b=403), params=lambda w: {"name": "stages"}
    ),
    ("dashboard:csv", "GET"): Case(members(200, coop_a=403, coop_b=403)),
    ("dashboard:xlsx", "GET"): Case(members(200, coop_a=403, coop_b=403)),
    ("api:dashboard", "GET"): Case(members(200, anon=401, coop_a=403, coop_b=403), api=True),
    # 확인 as a conversation: the 지자체 verifies or sends back its own (consignment) item; the
    # center withdraws the confirmation it gave on its item.
    ("tracks:request_changes", "POST"): Case(
        {"anon": 303, "coop_a": 403, "coop_b": 404, "center": 403, "municipality": 303, "admin": 403},
        params=lambda w: track(w, item_key=MUNI_ITEM),
        data=lambda w, who: {"version": "1", "reason": "근거 자료를 보완해 주세요."},
    ),
    ("tracks:unverify", "POST"): Case(
        {"anon": 303, "coop_a": 403, "coop_b": 404, "center": 303, "municipality": 403, "admin": 403},
        params=lambda w: track(w, item_key=CENTER_ITEM),
        data=lambda w, who: {"version": "2", "reason": "확인을 다시 하겠습니다."},
    ),
    ("tracks:checklist_csv", "GET"): Case(members(200, coop_b=404), params=track),
    ("tracks:checklist_xlsx", "GET"): Case(members(200, coop_b=404), params=track),
    ("readiness:page", "GET"): Case(members(200, coop_b=404), params=track),
    ("readiness:pdf", "GET"): Case(members(200, coop_b=404), params=track),
    ("readiness:bundle", "GET"): Case(members(200, coop_b=404), params=track),
    ("readiness:decide", "POST"): Case(
        {"anon": 303, "coop_a": 403, "coop_b": 404, "center": 403, "municipality": 303, "admin": 403},
        params=track,
        data=lambda w, who: DECISION_FORM,
    ),
    ("readiness:decision_pdf", "GET"): Case(
        members(200, coop_b=404), params=lambda w: track(w, decision_id=w.extra["decision"].id)
    ),
    ("readiness:decision_document", "GET"): Case(
        members(200, coop_b=404), params=lambda w: track(w, decision_id=w.extra["decision"].id)
    ),
    ("api:verify", "POST"): Case(
        {"anon": 401, "coop_a": 403, "coop_b": 404, "center": 403, "municipality": 200, "admin": 403},
        params=lambda w: track(w, item_key=MUNI_ITEM),
        json=lambda w: {"version": 1},
        api=True,
    ),
    ("api:request_changes", "POST"): Case(
        {"anon": 401, "coop_a": 403, "coop_b": 404, "center": 403, "municipality": 200, "admin": 403},
        params=lambda w: track(w, item_key=MUNI_ITEM),
        json=lambda w: {"version": 1, "reason": "보완 요청"},
        api=True,
    ),
    ("api:unverify", "POST"): Case(
        {"anon": 401, "coop_a": 403, "coop_b": 404, "center": 200, "municipality": 403, "admin": 403},
        params=lambda w: track(w, item_key=CENTER_ITEM),
        json=lambda w: {"version": 2, "reason": "다시 확인"},
        api=True,
    ),
    ("api:readiness", "GET"): Case(members(200, anon=401, coop_b=404), params=track, api=True),
    ("api:decisions", "GET"): Case(members(200, anon=401, coop_b=404), params=track, api=True),
    ("api:decide", "POST"): Case(
        {"anon": 401, "coop_a": 403, "coop_b": 404, "center": 403, "municipality": 201, "admin": 403},
        params=track,
        json=lambda w: DECISION_FORM,
        api=True,
    ),
    # FastAPI's own documentation routes and the static files are public.
    ("openapi", "GET"): Case(everyone(200)),
    ("docs:swagger", "GET"): Case(everyone(200)),
    ("static", "GET"): Case(everyone(200), params=lambda w: {"path": "app.css"}),
    ("swagger", "GET"): Case(everyone(200), params=lambda w: {"path": "swagger-ui.css"}),
    # Each feature keeps its own part (내 할 일, 알림, 상담·지원 기록), with the set-up it needs.
    **matrix_tasks.MATRIX,
    **matrix_notifications.MATRIX,
    **matrix_consultations.MATRIX,
}


def _flatten(routes: list[Any]) -> list[Any]:
    out = []
    for route in routes:
        # FastAPI keeps included routers as wrappers around the original router.
        inner = getattr(route, "original_router", None)
        out.extend(_flatten(list(inner.routes)) if inner is not None else [route])
    return out


def route_keys(app: FastAPI) -> set[tuple[str, str]]:
    keys = set()
    for route in _flatten(list(app.routes)):
        if isinstance(route, APIRoute | Route):
            for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
                keys.add((route.name, method))
        elif isinstance(route, Mount):
            keys.add((route.name or route.path, "GET"))
    return keys


def test_every_route_is_in_the_matrix(app: FastAPI) -> None:
    keys = route_keys(app)
    missing = keys - MATRIX.keys()
    stale = MATRIX.keys() - keys
    assert not missing, f"routes without a permission-matrix entry: {sorted(missing)}"
    assert not stale, f"matrix entries for routes that no longer exist: {sorted(stale)}"


def _path(app: FastAPI, name: str, params: dict[str, Any]) -> str:
    return str(app.url_path_for(name, **{k: str(v) for k, v in params.items()}))


@pytest.mark.parametrize("key", sorted(MATRIX), ids=lambda k: f"{k[1]} {k[0]}")
def test_matrix(app: FastAPI, db: Session, tracked: World, key: tuple[str, str]) -> None:
    world = tracked
    name, method = key
    case = MATRIX[key]
    tokens = {who: create_token(session=db, user=world.users[who]).token for who in WHO if who != "anon"}
    path = _path(app, name, case.params(world))
    results = {}
    for who in WHO:
        # Each visitor sees the same starting state: their writes are undone before the next one.
        visitor = db.begin_nested()
        with TestClient(app) as client:
            headers = dict(case.extra)
            if case.api:
                if who != "anon":
                    headers["Authorization"] = f"Bearer {tokens[who]}"
                csrf = None
            elif who == "anon":
                csrf = csrf_of(client, "/login")
            else:
                csrf = login(client, world.users[who].login)
            kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
            if case.data is not None:
                kwargs["data"] = {**case.data(world, who), **({"csrf_token": csrf} if csrf else {})}
            if case.json is not None:
                kwargs["json"] = case.json(world)
                if csrf:
                    headers["X-CSRF-Token"] = csrf
            response = client.request(method, path, **kwargs)
            results[who] = response.status_code
            if response.status_code == 404 and name != "catalog:model":
                # An invisible object must not leak through the error page.
                assert world.coop_a.name not in response.text
        visitor.rollback()
    assert results == case.expect, f"{method} {path}"


def test_every_read_answers_the_same_on_the_apps_own_sessions(
    fresh_database_url: Any, catalog: Catalog, tmp_path: Path
) -> None:
    """The matrix's reads once more, for every visitor, through the app's own request sessions
    on committed data, where the tests above run inside the test's transaction. On PostgreSQL a
    read has no transaction of its own (app.db.session_for): whatever a read needs one for (a
    server-side cursor) fails here, not in production."""
    url = fresh_database_url("postgresql")
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(
        database_url=url, content_dir=CONTENT_DIR, upload_dir=tmp_path / "uploads", secret_key="x" * 40
    )
    try:
        with transaction(engine) as session:
            world = make_tracked(session, make_world(session), catalog, settings)
            tokens = {who: create_token(session=session, user=world.users[who]).token for who in WHO[1:]}
        app = create_app(settings, catalog=catalog, engine=engine)
        reads = sorted(key for key, case in MATRIX.items() if key[1] == "GET")
        wrong = {}
        with ExitStack() as stack:
            clients = {who: stack.enter_context(TestClient(app)) for who in WHO}
            for who in WHO[1:]:
                login(clients[who], world.users[who].login)
            for name, method in reads:
                case = MATRIX[(name, method)]
                path = _path(app, name, case.params(world))
                for who, client in clients.items():
                    headers = dict(case.extra)
                    if case.api and who != "anon":
                        headers["Authorization"] = f"Bearer {tokens[who]}"
                    status = client.get(path, headers=headers, follow_redirects=False).status_code
                    if status != case.expect[who]:
                        wrong[(path, who)] = (status, case.expect[who])
        assert not wrong, f"(answered, expected) where they differ: {wrong}"
        assert len(reads) > 40  # every page, fragment, export and API read
    finally:
        engine.dispose()
