"""The request's unit of work (app.db): where it commits, that it commits once, that it rolls back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app import db as app_db
from app.db import RequestUnitRoute, get_session, make_engine

UnitSession = Annotated[Session, Depends(get_session, scope="function")]


@pytest.fixture
def unit_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    yield engine
    engine.dispose()


@pytest.fixture
def seen() -> dict[str, Any]:
    return {"commits": [], "endpoint_thread": None, "hops": 0}


@pytest.fixture
def unit_client(
    unit_engine: Engine, seen: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    router = APIRouter(route_class=RequestUnitRoute)

    def insert(session: Session, body: str) -> None:
        seen["endpoint_thread"] = threading.get_ident()
        session.execute(text("INSERT INTO note (body) VALUES (:b)"), {"b": body})

    @router.post("/response")
    def answers_response(session: UnitSession) -> Response:
        insert(session, "response")
        return Response("ok")

    @router.post("/model")
    def answers_model(session: UnitSession) -> dict[str, str]:
        insert(session, "model")
        return {"ok": "yes"}

    @router.post("/raises")
    def raises(session: UnitSession) -> Response:
        insert(session, "raises")
        raise HTTPException(status_code=409, detail="conflict")

    @router.post("/async")
    async def answers_async(session: UnitSession) -> Response:
        await run_in_threadpool(insert, session, "async")
        return Response("ok")

    app = FastAPI()
    app.state.engine = unit_engine
    app.include_router(router)

    @event.listens_for(Session, "after_commit")
    def record(session: Session) -> None:
        seen["commits"].append(threading.get_ident())

    real_hop = app_db.run_in_threadpool

    async def counted_hop(func: Any, *args: Any) -> Any:
        seen["hops"] += 1
        return await real_hop(func, *args)

    monkeypatch.setattr(app_db, "run_in_threadpool", counted_hop)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        event.remove(Session, "after_commit", record)


def bodies(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT body FROM note ORDER BY id"))]


def test_a_response_commits_in_the_endpoints_own_thread(
    unit_client: TestClient, unit_engine: Engine, seen: dict[str, Any]
) -> None:
    assert unit_client.post("/response").status_code == 200
    assert bodies(unit_engine) == ["response"]
    assert seen["commits"] == [seen["endpoint_thread"]]
    assert seen["hops"] == 0  # the unit's exit had nothing left to do


def test_a_model_still_to_serialize_commits_at_the_units_end(
    unit_client: TestClient, unit_engine: Engine, seen: dict[str, Any]
) -> None:
    assert unit_client.post("/model").json() == {"ok": "yes"}
    assert bodies(unit_engine) == ["model"]
    assert len(seen["commits"]) == 1
    assert seen["hops"] == 1


def test_an_async_endpoint_commits_at_the_units_end(
    unit_client: TestClient, unit_engine: Engine, seen: dict[str, Any]
) -> None:
    assert unit_client.post("/async").status_code == 200
    assert bodies(unit_engine) == ["async"]
    assert len(seen["commits"]) == 1
    assert seen["hops"] == 1


def test_an_endpoint_that_raises_stores_nothing(
    unit_client: TestClient, unit_engine: Engine, seen: dict[str, Any]
) -> None:
    assert unit_client.post("/raises").status_code == 409
    assert bodies(unit_engine) == []
    assert seen["commits"] == []
    # The next request is a unit of its own: nothing left over from the failed one.
    assert unit_client.post("/response").status_code == 200
    assert bodies(unit_engine) == ["response"]


def test_every_route_of_the_app_is_a_request_unit_route(app: FastAPI) -> None:
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    pending = list(app.routes)
    while pending:  # included routers
        route = pending.pop()
        inner = getattr(route, "original_router", None)
        if inner is not None:
            pending.extend(inner.routes)
        elif isinstance(route, APIRoute):
            routes.append(route)
    assert len(routes) > 80
    assert [r.path for r in routes if not isinstance(r, RequestUnitRoute)] == []
