"""The statements' own time: what a request costs the database alone, with no Python around it.

A served status change's time is Python (uvicorn, FastAPI, the app, SQLAlchemy, Jinja) plus the
round trips of the SQL it sends. To tell how much of a ratio target the statements leave to the
rest, the benchmark captures the statements of one request of each kind (with their parameters,
through the app in process), then replays them on one raw DB-API connection of the same database
(no SQLAlchemy, no app): ``WARMUP`` times, then ``REPLAYS`` timed, and reports the mean.

* ``GET /healthz``: the floor's own ``SELECT 1``, ended by the pool's ROLLBACK.
* A status change through the API (PATCH) and through the page route as HTMX (with the reads of
  its answer), each ended by its COMMIT.

Each replay sends what the request sent: SQLite's ``BEGIN IMMEDIATE`` is one of the captured
statements, PostgreSQL's BEGIN is the driver's own. A replayed change costs the database no more
than the real one did: its versioned UPDATE matches no row (the version has moved on) and the rest
is written again as it was (an event, the summary's upsert). The change captured is todo ↔ doing on
an item without a due date, so no due row and no 알림 are written: the most common change, and the
cheapest.

The report turns these into each change's **ratio ceiling**: the floor's request time with its
``SELECT 1`` replaced by the change's statements, i.e. the ratio the change would reach if all its
work but the SQL cost no more than /healthz's does (floor ms / (floor ms − SELECT 1 ms + statements
ms)). A ceiling under the target means no rework of the Python can meet it; only fewer round trips
(or a faster database connection) can.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlmodel import col

from app.catalog import Catalog
from app.models import ItemState
from bench.measure import TX_CONTROL, csrf_token
from bench.seed import SeedInfo
from bench.served import API_CHANGE, FLOOR, PAGE_CHANGE, new_token

WARMUP = 30
REPLAYS = 400
# The ratio table's first three cooperatives and the mix's 32 clients keep their own tracks.
UNTOUCHED = 35


@dataclass(frozen=True)
class Sent:
    statement: str
    params: Any
    many: bool


@dataclass(frozen=True)
class Replayed:
    key: str  # the request, as the ratio table names it
    statements: int  # sent by the request, transaction control left out
    ms: float  # the database alone: mean per replay


@contextmanager
def capture(engine: Engine) -> Iterator[list[Sent]]:
    """Every statement sent through ``engine`` inside the block, with its driver-level parameters."""
    sent: list[Sent] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        sent.append(Sent(statement, params, many))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def replay(engine: Engine, sent: list[Sent], *, commit: bool, repeats: int = REPLAYS) -> float:
    """Mean milliseconds to send ``sent`` on one raw driver connection and end the transaction."""
    raw = engine.raw_connection()  # the app's connect hooks (pragmas, plan mode) applied
    try:
        start = perf_counter()
        for n in range(WARMUP + repeats):
            if n == WARMUP:
                start = perf_counter()
            cursor = raw.cursor()
            for s in sent:
                (cursor.executemany if s.many else cursor.execute)(s.statement, s.params)
                if cursor.description is not None:
                    cursor.fetchall()
            cursor.close()
            if commit:
                raw.commit()
            else:
                raw.rollback()
        return (perf_counter() - start) / repeats * 1000
    finally:
        raw.close()


def _queries(sent: list[Sent]) -> int:
    return sum(not s.statement.lstrip().upper().startswith(TX_CONTROL) for s in sent)


def _item(engine: Engine, catalog: Catalog, info: SeedInfo) -> tuple[int, int, str, str, int]:
    """(cooperative, track, item key, status, version): a stored todo or doing item without a
    due date, on a track none of the served measurements use."""
    with engine.connect() as conn:
        for coop in list(info.tracks)[UNTOUCHED:][::-1]:
            for track_id, model_key in info.tracks[coop]:
                model = catalog.model(model_key)
                rows = conn.execute(
                    select(col(ItemState.item_key), col(ItemState.status), col(ItemState.version)).where(
                        col(ItemState.track_id) == track_id,
                        col(ItemState.status).in_(("todo", "doing")),
                        col(ItemState.due_date).is_(None),
                    )
                ).all()
                for key, status, version in sorted(rows):
                    if model is not None and model.item(key) is not None:
                        return coop, track_id, key, status, version
    raise RuntimeError("no stored todo/doing item without a due date to change")


def measure_statements(
    *,
    engine: Engine,
    catalog: Catalog,
    info: SeedInfo,
    client: TestClient,
    login: Callable[[TestClient, str], None],
    repeats: int = REPLAYS,
) -> list[Replayed]:
    """The floor, the API change and the HTMX change, labelled as in the ratio table."""
    coop, track_id, item_key, status, version = _item(engine, catalog, info)
    other = "doing" if status == "todo" else "todo"

    with capture(engine) as floor:
        assert client.get("/healthz").status_code == 200  # noqa: S101

    login(client, info.coop_login[coop])
    csrf = csrf_token(client.get(f"/tracks/{track_id}").text)
    with capture(engine) as htmx:
        r = client.post(
            f"/tracks/{track_id}/items/{item_key}",
            data={"status": other, "version": str(version), "csrf_token": csrf},
            headers={"HX-Request": "true"},
        )
        assert r.status_code == 200, (r.status_code, r.text[:300])  # noqa: S101
    bearer = {"Authorization": f"Bearer {new_token(engine, info.coop_login[coop])}"}
    with capture(engine) as api:
        r = client.patch(
            f"/api/v1/tracks/{track_id}/items/{item_key}",
            json={"status": status, "version": version + 1},
            headers=bearer,
        )
        assert r.status_code == 200, (r.status_code, r.text[:300])  # noqa: S101
    for sent in (htmx, api):
        assert any(s.statement.startswith("INSERT INTO event") for s in sent)  # noqa: S101 - it wrote

    return [
        Replayed(FLOOR, _queries(floor), replay(engine, floor, commit=False, repeats=repeats)),
        Replayed(API_CHANGE, _queries(api), replay(engine, api, commit=True, repeats=repeats)),
        Replayed(PAGE_CHANGE, _queries(htmx), replay(engine, htmx, commit=True, repeats=repeats)),
    ]


def ceiling(*, floor_ms: float, floor_db_ms: float, db_ms: float) -> float:
    """The ratio a request would reach if all but its statements cost what the floor's does."""
    return floor_ms / (floor_ms - floor_db_ms + db_ms)
