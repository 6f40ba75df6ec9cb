"""Run Alembic from the app (the CLI, `serve` and the tests use this)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
# One key for every host and every database: PostgreSQL advisory locks are per database anyway.
MIGRATION_LOCK = "maeul.migrate"


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


@contextmanager
def migration_lock(database_url: str) -> Iterator[None]:
    """Several hosts starting at once against one PostgreSQL migrate one after another: the
    first applies the migrations, the others wait here and then find nothing left to do.

    Without it two `maeul serve` both create alembic_version (or both run one migration) and
    one of them fails. SQLite needs none: it lives on one host, where `maeul serve` migrates
    once before starting its workers.
    """
    if make_url(database_url).get_backend_name() != "postgresql":
        yield
        return
    from app.db import make_engine

    # NullPool: closing the connection ends the database session, which releases the lock
    # even if the unlock below never runs (a killed process, a lost connection).
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": MIGRATION_LOCK})
            conn.commit()  # a session-level lock outlives the transaction; don't sit idle in one
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": MIGRATION_LOCK})
                conn.commit()
    finally:
        engine.dispose()


def upgrade(database_url: str, revision: str = "head") -> None:
    with migration_lock(database_url):
        command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    with migration_lock(database_url):
        command.downgrade(alembic_config(database_url), revision)
