"""Test fixtures: every database test runs on SQLite and on PostgreSQL.

Each backend gets a throwaway database migrated once per session; each test runs
inside one outer transaction that is rolled back, so tests never see each other.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app.catalog import Catalog, load_catalog
from app.config import Settings
from app.db import SAFE_METHODS, get_session, make_engine, request_unit
from app.main import create_app
from app.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
CONTENT_DIR = ROOT / "content"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get(
    "MAEUL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgresql"]


def _unavailable(reason: str) -> None:
    """Outside CI a missing service skips; in CI nothing may be skipped."""
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)", pytrace=False)
    pytest.skip(reason)


class ThrowawayPostgres:
    """Creates uniquely named databases on the test server and drops only those."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.created: list[str] = []
        self._admin: Engine | None = None

    def admin(self) -> Engine:
        if self._admin is None:
            self._admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        return self._admin

    def create(self) -> str:
        name = f"maeul_test_{uuid.uuid4().hex[:12]}"
        try:
            with self.admin().connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as exc:
            _unavailable(f"PostgreSQL not reachable at {self.admin_url}: {exc.orig}")
        self.created.append(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        with self.admin().connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin().dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres(POSTGRES_URL)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def fresh_database_url(tmp_path_factory: pytest.TempPathFactory, postgres_server: ThrowawayPostgres):
    """A factory: a new, empty database of the given backend (no migrations)."""

    def make(backend: str) -> str:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("db") / f"{uuid.uuid4().hex[:8]}.db"
            return f"sqlite:///{path}"
        return postgres_server.create()

    return make


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, fresh_database_url) -> str:
    url: str = fresh_database_url(backend)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(CONTENT_DIR)


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        content_dir=CONTENT_DIR,
        upload_dir=tmp_path / "uploads",
        secret_key="test-secret-" + "x" * 32,
    )


def app_on_transaction(settings: Settings, catalog: Catalog, engine: Engine, db: Session) -> FastAPI:
    """An app whose requests run inside the test's rolled-back transaction."""
    application = create_app(settings, catalog=catalog, engine=engine)

    async def test_session(request: Request) -> AsyncIterator[Session]:
        # Like app.db.get_session: each request is its own unit (a savepoint here) that
        # is rolled back when the handler raises, inside the test's outer transaction; a safe
        # method's request may not write, as there.
        request_tx = db.begin_nested()

        def commit() -> None:
            if request_tx.is_active:
                request_tx.commit()

        def rollback() -> None:
            if request_tx.is_active:
                request_tx.rollback()

        async with request_unit(commit=commit, rollback=rollback, read_only=request.method in SAFE_METHODS):
            yield db

    application.dependency_overrides[get_session] = test_session
    return application


@pytest.fixture
def app(settings: Settings, catalog: Catalog, engine: Engine, db: Session) -> FastAPI:
    return app_on_transaction(settings, catalog, engine, db)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=True) as c:
        yield c


@pytest.fixture
def world(db: Session):
    from tests.factories import make_world

    return make_world(db)
