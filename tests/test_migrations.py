"""Every migration upgrades and downgrades on both databases, and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import app.models  # noqa: F401 - registers the tables
from app.db import make_engine
from app.migrate import downgrade, upgrade


def test_upgrade_downgrade_upgrade(backend: str, fresh_database_url) -> None:
    url = fresh_database_url(backend)
    upgrade(url)
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(SQLModel.metadata.tables)
    downgrade(url, "base")
    assert set(inspect(engine).get_table_names()) - {"alembic_version"} == set()
    upgrade(url)
    engine.dispose()


def test_models_and_migrations_agree(engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
        )
    assert diff == []
