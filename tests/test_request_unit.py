"""The request's unit of work (app.db): where it commits, that it commits once, that it rolls back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, event, literal, select, text, union_all
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app import db as app_db
from app.catalog import Catalog
from app.db import (
    RequestUnitRoute,
    WriteInReadError,
    get_session,
    in_request_thread,
    make_engine,
    session_for,
    stream,
)
from app.services import audit
from app.services.auth import create_token
from tests.factories import World, login
from tests.fixtures.tracking_helpers import COOP_ITEM, start

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

    @router.get("/writes")
    def a_read_that_writes(session: UnitSession) -> Response:
        insert(session, "get")
        return Response("ok")

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


def test_a_read_request_may_not_write(unit_client: TestClient, unit_engine: Engine) -> None:
    """A GET's unit is read-only: on PostgreSQL it has no transaction that could undo a write."""
    with pytest.raises(WriteInReadError, match="read-only request tried to write"):
        unit_client.get("/writes")
    assert bodies(unit_engine) == []


def _in_transaction(session: Session) -> bool:
    """Whether the database connection under ``session`` is inside a transaction, as the driver sees it."""
    dbapi = session.connection().connection.dbapi_connection
    if session.get_bind().dialect.name == "postgresql":
        return dbapi.info.transaction_status == TransactionStatus.INTRANS  # type: ignore[union-attr]
    return bool(dbapi.in_transaction)  # type: ignore[union-attr]


def test_a_reader_runs_without_a_transaction(engine: Engine) -> None:
    """No BEGIN or COMMIT for a read (on PostgreSQL two round trips of a page's five or six); a
    writer's connection, from the same pool, has its transaction again, and another unit of work
    (a command, a service in a test) too."""
    with session_for(engine, write=False) as reader:
        reader.execute(text("SELECT 1")).one()
        assert not _in_transaction(reader)
        reader.commit()
    with session_for(engine, write=True) as writer:
        writer.execute(text("SELECT 1")).one()
        assert _in_transaction(writer)
        writer.rollback()
    with Session(engine) as other:
        other.execute(text("SELECT 1")).one()
        assert _in_transaction(other)
        other.rollback()


def test_a_reader_streams_an_export_in_batches(engine: Engine) -> None:
    """A server-side cursor needs a transaction on PostgreSQL, which a reader has not: the
    exports stream anyway (the 현황판's and the audit log's), every row, in order."""
    numbers = union_all(*(select(literal(n).label("n")) for n in range(5))).order_by(text("n"))
    with session_for(engine, write=False) as reader:
        reader.execute(text("SELECT 1")).one()  # the reader's own connection is in use
        assert [r.n for r in stream(reader, numbers, batch=2)] == [0, 1, 2, 3, 4]
        csv_lines = "".join(audit.entries_csv(session=reader, filters=audit.AuditFilters()))
        reader.commit()
    assert csv_lines.startswith("\ufeff번호,")


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


# --- one worker-thread trip per request ----------------------------------------------------------


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each function sent to a worker thread (every trip goes through anyio)."""
    import anyio.to_thread

    sent: list[str] = []
    real = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return sent


def test_a_page_with_its_user_and_its_track_takes_one_trip(
    client: TestClient, db: Session, world: World, catalog: Catalog, trips: list[str]
) -> None:
    track = start(db, world, catalog)
    login(client, "coop-a")
    trips.clear()
    r = client.get(f"/tracks/{track.id}")
    assert r.status_code == 200
    assert "가 마을조합" in r.text  # the user, the track and the page: all of it in that one trip
    assert len(trips) == 1, trips


def test_an_api_change_with_its_token_and_its_track_takes_one_trip(
    client: TestClient, db: Session, world: World, catalog: Catalog, trips: list[str]
) -> None:
    track = start(db, world, catalog)
    token = create_token(session=db, user=world.users["coop_a"]).token
    trips.clear()
    r = client.patch(
        f"/api/v1/tracks/{track.id}/items/{COOP_ITEM}",
        json={"status": "doing", "version": 0},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "doing"
    assert len(trips) == 1, trips


def test_a_bad_field_still_answers_who_may_ask_first(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    """The token and the track are checked in the trip, after FastAPI validated the fields: a
    request refused for its fields still answers 401 / 404 first, as when they were checked first."""
    track = start(db, world, catalog)
    path = f"/api/v1/tracks/{track.id}/items/{COOP_ITEM}"
    bad = {"status": "doing", "version": "many"}
    assert client.patch(path, json=bad).status_code == 401
    other = create_token(session=db, user=world.users["coop_b"]).token
    r = client.patch(path, json=bad, headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 404, r.text  # not 422: whether the track exists is not told either
    own = create_token(session=db, user=world.users["coop_a"]).token
    r = client.patch(path, json=bad, headers={"Authorization": f"Bearer {own}"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "version"]
    # Pages: a visitor who is not logged in is sent to log in, whatever the query.
    r = client.get(f"/tracks/{track.id}?open=" + "x" * 500, follow_redirects=False)
    assert r.status_code in (303, 307) and "/login" in r.headers["location"], r.status_code


# Module level: FastAPI evaluates the handlers' annotations in this module's namespace.
MADE: list[str] = []


def plain(request: Request) -> int:
    return 1


@in_request_thread
def blocking(request: Request) -> int:
    return 1


async def reads(value: Annotated[int, Depends(blocking)]) -> int:
    return value  # would be the noted call, not its value


@in_request_thread
def first(session: UnitSession) -> str:
    MADE.append("first")
    return "a"


@in_request_thread
def second(value: Annotated[str, Depends(first)], fail: bool = False) -> str:
    MADE.append("second")
    if fail:
        raise HTTPException(status_code=404, detail="none")
    return value + "b"


@in_request_thread
def third(value: Annotated[str, Depends(second)]) -> str:
    MADE.append("third")
    return value + "c"


@in_request_thread
def sessionless(request: Request) -> str:
    MADE.append("sessionless")
    return request.url.path


def test_a_noted_dependency_without_a_request_unit_runs_in_a_trip_of_its_own() -> None:
    router = APIRouter(route_class=RequestUnitRoute)

    @router.get("/bare")
    async def bare(path: Annotated[str, Depends(sessionless)]) -> dict[str, str]:
        return {"path": path}

    app = FastAPI()
    app.include_router(router)
    MADE.clear()
    with TestClient(app) as client:
        assert client.get("/bare").json() == {"path": "/bare"}
    assert MADE == ["sessionless"]


def test_a_dependency_that_blocks_must_say_so() -> None:
    router = APIRouter(route_class=RequestUnitRoute)
    with pytest.raises(TypeError, match="plain def"):

        @router.get("/plain")
        def uses_plain(value: Annotated[int, Depends(plain)]) -> int:
            return value


def test_an_async_dependency_cannot_take_a_noted_one() -> None:
    router = APIRouter(route_class=RequestUnitRoute)
    with pytest.raises(TypeError, match="in_request_thread too"):

        @router.get("/reads")
        def uses_reads(value: Annotated[int, Depends(reads)]) -> int:
            return value


def test_noted_calls_are_made_in_order_once_and_stop_at_the_first_error(unit_engine: Engine) -> None:
    router = APIRouter(route_class=RequestUnitRoute, dependencies=[Depends(first)])

    @router.get("/sync")
    def sync_endpoint(
        value: Annotated[str, Depends(third)], again: Annotated[str, Depends(first)]
    ) -> dict[str, str]:
        MADE.append("endpoint")
        return {"value": value, "again": again}

    @router.get("/async")
    async def async_endpoint(value: Annotated[str, Depends(third)]) -> dict[str, str]:
        MADE.append("endpoint")
        return {"value": value}

    app = FastAPI()
    app.state.engine = unit_engine
    app.include_router(router)
    with TestClient(app) as client:
        for path in ("/sync", "/async"):
            MADE.clear()
            r = client.get(path)
            assert r.status_code == 200, r.text
            assert r.json()["value"] == "abc"
            assert MADE == ["first", "second", "third", "endpoint"]
            MADE.clear()
            assert client.get(path, params={"fail": "true"}).status_code == 404
            assert MADE == ["first", "second"]  # nothing after the error, the handler not at all
