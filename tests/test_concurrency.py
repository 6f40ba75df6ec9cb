"""Rule 11: 20 concurrent writers on ONE item, through a real server and a committed database.

Not the rolled-back ``db`` fixture: each backend gets a fresh, migrated database, a uvicorn
server in a thread, and 20 threads with their own HTTP client that read the item's version
and PATCH it, retrying on 409. Optimistic versions must serialise them without losing or
duplicating a write.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
import uvicorn
from sqlalchemy import Engine, func
from sqlmodel import select

from app.catalog import Catalog
from app.config import Settings
from app.db import make_engine, transaction
from app.main import create_app
from app.migrate import upgrade
from app.models import Event, ItemState
from app.services import tracking
from app.services.auth import create_token
from tests.conftest import CONTENT_DIR
from tests.factories import make_world
from tests.fixtures.tracking_helpers import COOP_ITEM, HUB

WRITERS = 20
MAX_TRIES = 50


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """uvicorn serving the app in a daemon thread."""

    def __init__(self, settings: Settings, catalog: Catalog, engine: Engine):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(settings, catalog=catalog, engine=engine)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@dataclass
class Setup:
    engine: Engine
    track_id: int
    token: str


@pytest.fixture
def committed(backend: str, fresh_database_url, catalog: Catalog) -> Iterator[Setup]:
    url = fresh_database_url(backend)
    upgrade(url)
    engine = make_engine(url)
    with transaction(engine) as session:
        world = make_world(session)
        track = tracking.start_track(
            session=session,
            principal=world.principal(session, "coop_a"),
            cooperative=world.coop_a,
            catalog=catalog,
            model_key=HUB,
        )
        token = create_token(session=session, user=world.users["coop_a"]).token
        assert track.id is not None
        track_id = track.id
    try:
        yield Setup(engine, track_id, token)
    finally:
        engine.dispose()


@dataclass
class WriterLog:
    statuses: list[int] = field(default_factory=list)  # every PATCH answer
    written: list[int] = field(default_factory=list)  # versions of the 200 answers
    unexpected: list[str] = field(default_factory=list)


def writer(url: str, setup: Setup, start: threading.Barrier) -> WriterLog:
    log = WriterLog()
    headers = {"Authorization": f"Bearer {setup.token}"}
    with httpx2.Client(base_url=url, headers=headers, timeout=60) as client:
        start.wait()
        for _ in range(MAX_TRIES):
            got = client.get(f"/api/v1/tracks/{setup.track_id}")
            if got.status_code != 200:
                log.unexpected.append(f"GET {got.status_code}: {got.text[:200]}")
                return log
            item = next(i for i in got.json()["items"] if i["key"] == COOP_ITEM)
            # Always the other status, so every accepted PATCH is a real change.
            status = "doing" if item["status"] == "done" else "done"
            r = client.patch(
                f"/api/v1/tracks/{setup.track_id}/items/{COOP_ITEM}",
                json={"status": status, "version": item["version"]},
            )
            log.statuses.append(r.status_code)
            if r.status_code == 200:
                body = r.json()
                if body["version"] != item["version"] + 1 or body["status"] != status:
                    log.unexpected.append(f"200 with {body} after reading {item}")
                log.written.append(body["version"])
                return log
            if r.status_code == 409:
                if r.json()["current"]["version"] == item["version"]:
                    log.unexpected.append(f"409 although version {item['version']} was current")
                continue
            log.unexpected.append(f"PATCH {r.status_code}: {r.text[:200]}")
            return log
    log.unexpected.append(f"no write after {MAX_TRIES} tries")
    return log


def test_concurrent_writers_on_one_item_lose_and_duplicate_nothing(
    committed: Setup, catalog: Catalog, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=str(committed.engine.url.render_as_string(hide_password=False)),
        content_dir=CONTENT_DIR,
        upload_dir=tmp_path / "uploads",
        secret_key="concurrency-secret-" + "x" * 32,
    )
    start = threading.Barrier(WRITERS)
    with Server(settings, catalog, committed.engine) as server, ThreadPoolExecutor(WRITERS) as pool:
        futures = [pool.submit(writer, server.url, committed, start) for _ in range(WRITERS)]
        logs = [f.result(timeout=300) for f in futures]

    problems = [p for log in logs for p in log.unexpected]
    assert problems == []
    statuses = [s for log in logs for s in log.statuses]
    assert set(statuses) <= {200, 409}
    assert 500 not in statuses
    written = sorted(v for log in logs for v in log.written)
    successes = len(written)
    # Each writer retries until it wins; a writer can lose at most once to each other writer.
    assert successes == WRITERS
    assert written == list(range(1, successes + 1))  # every 200 has its own resulting version

    with transaction(committed.engine) as session:
        state = session.exec(
            select(ItemState).where(ItemState.track_id == committed.track_id, ItemState.item_key == COOP_ITEM)
        ).one()
        updates = session.exec(
            select(func.count())
            .select_from(Event)
            .where(
                Event.track_id == committed.track_id,
                Event.item_key == COOP_ITEM,
                Event.action == "item_updated",
            )
        ).one()
        history = session.exec(
            select(Event.changes)
            .where(Event.track_id == committed.track_id, Event.item_key == COOP_ITEM)
            .order_by(Event.id)  # type: ignore[arg-type]
        ).all()
    assert state.version == successes
    assert updates == successes
    # The log chains: each change starts from the status the previous one left.
    assert [h["status"] for h in history] == [
        ["todo", "done"],
        *([["done", "doing"], ["doing", "done"]] * WRITERS)[: successes - 1],
    ]
    assert state.status == history[-1]["status"][1]
