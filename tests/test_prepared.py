"""app.db.Prepared: statements run on the driver's cursor give what SQLAlchemy's execution gives."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError, NoResultFound
from sqlmodel import Session, col

from app.catalog import Catalog
from app.db import PlainResult, Prepared, run_plain
from app.models import Cooperative, Event, ItemState, Track, TrackDueItem
from app.services import auth, notifications, principal, revision, summary, tracking
from app.services.errors import ConflictError
from app.services.visibility import scope_params
from tests.factories import World
from tests.fixtures.tracking_helpers import COOP_ITEM, EXEC_ITEM, change, hub, start


def _both(session: Session, stmt: Prepared, params: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The rows through Prepared and through SQLAlchemy's own execution of the same statement."""
    mine = run_plain(session, stmt, params)
    assert isinstance(mine, PlainResult)  # not a fallback: the test would compare SQLAlchemy with itself
    theirs = session.connection().execute(stmt.statement, params).all()
    return mine.all(), theirs


def _tracked(db: Session, world: World, catalog: Catalog) -> Any:
    track = start(db, world, catalog)
    change(db, world, track, hub(catalog), COOP_ITEM, status="doing", note="메모", due_date=date(2026, 12, 1))
    change(db, world, track, hub(catalog), EXEC_ITEM, status="done")
    coop = world.principal(db, "coop_a")
    tracking.add_comment(
        session=db, principal=coop, track=track, model=hub(catalog), item_key=COOP_ITEM, body="의견"
    )
    return track


def test_reads_give_the_same_rows_values_and_names_as_sqlalchemy(
    db: Session, world: World, catalog: Catalog
) -> None:
    track = _tracked(db, world, catalog)
    coop = world.principal(db, "coop_a")
    cases = [
        (principal._BY_ID, {"user_id": world.users["center"].id}),
        (tracking._STATE_COLUMNS_ALL, {"track_id": track.id}),  # dates, aware datetimes, names
        (tracking._STATE_COLUMNS_ONE, {"track_id": track.id, "item_key": COOP_ITEM}),
        (tracking._PANEL_COUNTS, {"track_id": track.id}),  # a literal of the statement's own
        (tracking._events_statement(("track_id", "limit")), {"track_id": track.id, "limit": 10}),  # JSON
        (summary._STORED, {"track_id": track.id}),
        (summary._FACTS_WITH_DUE, {"track_id": track.id}),
        (revision._VIEWER[coop.role], {"user_id": coop.id, **scope_params(coop)}),
        (notifications._AUDIENCE[False], {"cooperative_id": world.coop_a.id}),
    ]
    for stmt, params in cases:
        mine, theirs = _both(db, stmt, params)
        assert mine, stmt.statement  # something to compare
        assert [tuple(r) for r in mine] == [tuple(r) for r in theirs]
        assert [type(v) for v in mine[0]] == [type(v) for v in theirs[0]]
        assert [r._asdict() for r in mine] == [r._asdict() for r in theirs]
    assert mine[0].login == theirs[0].login  # columns by name, as on a Row


def test_writes_return_rowcount_and_returning_and_insert_many(
    db: Session, world: World, catalog: Catalog
) -> None:
    track = _tracked(db, world, catalog)
    values = {
        "at": tracking.utcnow(),
        "actor_id": None,
        "cooperative_id": track.cooperative_id,
        "track_id": track.id,
        "item_key": None,
        "action": "note",
        "changes": {"키": ["전", "후"]},
    }
    new_id = run_plain(db, tracking._INSERT_EVENT, values).scalar_one()
    stored = db.get(Event, new_id)
    assert stored is not None and stored.changes == {"키": ["전", "후"]} and stored.at == values["at"]

    rows = [
        {"track_id": track.id, "item_key": k, "due_date": date(2027, 1, 2), "lead": "coop"}
        for k in ("a", "b")
    ]
    assert run_plain(db, summary._INSERT_DUE, rows).rowcount in (2, -1)  # executemany: as the driver counts
    due = (
        db.connection().execute(select(TrackDueItem.item_key).where(TrackDueItem.track_id == track.id)).all()
    )
    assert {"a", "b"} <= {r[0] for r in due}

    state = tracking._current_state(db, track.id, COOP_ITEM)
    assert state is not None
    with pytest.raises(ConflictError):  # the versioned UPDATE's rowcount says nobody matched
        tracking._versioned_update(db, state, version=state.version + 5, values={"note": "x"})
    tracking._versioned_update(db, state, version=state.version, values={"note": "y"})
    assert tracking._current_state(db, track.id, COOP_ITEM).note == "y"  # type: ignore[union-attr]


def test_errors_are_sqlalchemys_and_the_session_goes_on(db: Session, world: World, catalog: Catalog) -> None:
    track = _tracked(db, world, catalog)
    row = {"track_id": track.id, "item_key": "dup", "due_date": date(2027, 1, 2), "lead": "coop"}
    run_plain(db, summary._INSERT_DUE, [row])
    with pytest.raises(IntegrityError), db.begin_nested():
        run_plain(db, summary._INSERT_DUE, [row])  # the same key again
    with pytest.raises(NoResultFound):
        run_plain(db, summary._STORED, {"track_id": -1}).one()
    assert run_plain(db, summary._STORED, {"track_id": track.id}).one().track_id == track.id


def test_cursor_events_see_each_statement(db: Session, world: World, catalog: Catalog) -> None:
    """Statement counts (tests/test_queries.py, the benchmark) and the write refusal of a read
    (app.db.refuse_writes_in_reads) listen to these events."""
    seen: list[tuple[str, bool]] = []

    def record(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, many: bool) -> None:
        seen.append((statement.split()[0].upper(), many))

    conn = db.connection()
    event.listen(conn, "before_cursor_execute", record)
    try:
        run_plain(db, auth._BY_TOKEN, {"token_hash": "none"})
        run_plain(db, principal._BY_ID, {"user_id": world.users["admin"].id})
        rows = [{"track_id": None, "item_key": k, "due_date": None, "lead": "coop"} for k in "xy"]
        with pytest.raises(IntegrityError), db.begin_nested():
            run_plain(db, summary._INSERT_DUE, rows)
    finally:
        event.remove(conn, "before_cursor_execute", record)
    assert seen[:2] == [("SELECT", False), ("SELECT", False)]
    assert ("INSERT", True) in seen


def test_what_it_cannot_run_plainly_goes_through_sqlalchemy(
    db: Session, world: World, catalog: Catalog
) -> None:
    track = _tracked(db, world, catalog)
    expanding = Prepared(
        select(TrackDueItem.item_key).where(
            TrackDueItem.track_id == track.id, col(TrackDueItem.item_key).in_([COOP_ITEM, "none"])
        )
    )
    result = run_plain(db, expanding, {})
    assert not isinstance(result, PlainResult)
    assert [tuple(r) for r in result.all()] == [(COOP_ITEM,)]


def test_objects_built_from_rows_equal_what_the_orm_loads(
    db: Session, world: World, catalog: Catalog
) -> None:
    track = _tracked(db, world, catalog)
    found = tracking.get_visible_track(session=db, principal=world.principal(db, "coop_a"), track_id=track.id)
    assert found is not None
    built_track, built_coop, _ = found
    state = tracking._current_state(db, track.id, COOP_ITEM)
    assert state is not None and state.due_date == date(2026, 12, 1)
    db.expire_all()  # the ORM reads them afresh
    for built, model, key in (
        (built_track, Track, track.id),
        (built_coop, Cooperative, world.coop_a.id),
        (state, ItemState, state.id),
    ):
        loaded = db.get(model, key)
        assert loaded is not None
        assert built.model_dump() == loaded.model_dump()
        assert built not in db  # read-only copies: nothing the session would flush


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True, scope="session")
def test_statements_are_planned_once_not_on_every_run(db: Session, world: World, catalog: Catalog) -> None:
    """PostgreSQL plans a prepared statement anew on every run while a plan for its parameters'
    values looks cheaper than one for any values; the log's (a LIMIT parameter) always did.
    The app's connections use one plan per statement (app.db.make_engine)."""
    track = _tracked(db, world, catalog)
    for _ in range(8):  # the driver prepares a statement on its 5th run
        assert tracking.list_events(session=db, model=hub(catalog), track_id=track.id, limit=7)
    plans = db.execute(
        text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE 'SELECT event.id%' AND statement LIKE '%LIMIT $%'"
        )
    ).all()
    assert plans and all(generic > 0 and custom == 0 for generic, custom in plans), plans


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True, scope="session")
def test_rows_are_read_without_describing_the_result_again(
    db: Session, world: World, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psycopg builds a Python object per column on every read of cursor.description (36 for the
    summary's RETURNING, about 0.08 ms): after the first run, whose description gives the readers,
    a statement's rows are read without it."""
    import psycopg

    track = _tracked(db, world, catalog)
    params = {"track_id": track.id}
    expected = run_plain(db, summary._STORED, params).all()
    described = 0
    original = psycopg.Cursor.description

    def counted(cursor: Any) -> Any:
        nonlocal described
        described += 1
        return original.fget(cursor)  # type: ignore[attr-defined]

    monkeypatch.setattr(psycopg.Cursor, "description", property(counted))
    assert run_plain(db, summary._STORED, params).all() == expected
    assert described == 0
