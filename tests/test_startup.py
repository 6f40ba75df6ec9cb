"""Start-up on several hosts: concurrent migrations against one PostgreSQL, the worker count.

Real `maeul` processes, as several app hosts (or containers) starting together would run them.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlmodel import SQLModel
from typer.testing import CliRunner

import app.models  # noqa: F401 - registers the tables
from app.cli import cli
from app.db import make_engine
from app.migrate import MIGRATION_LOCK, alembic_config
from tests.servers import MAEUL, ServerProcess, server_env


def _head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _upgrade_process(url: str, tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(MAEUL), "db", "upgrade"],
        env=server_env(url, tmp_path / "uploads"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


def test_hosts_migrating_a_fresh_postgres_database_at_once_all_succeed(
    fresh_database_url, tmp_path: Path
) -> None:
    url = fresh_database_url("postgresql")
    procs = [_upgrade_process(url, tmp_path) for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n---\n".join(outputs)
    assert _revision(url) == _head()
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) - {"alembic_version"} == set(SQLModel.metadata.tables)
    finally:
        engine.dispose()


def test_upgrade_waits_while_another_host_holds_the_migration_lock(
    fresh_database_url, tmp_path: Path
) -> None:
    url = fresh_database_url("postgresql")
    holder = make_engine(url)
    try:
        with holder.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": MIGRATION_LOCK})
            conn.commit()
            proc = _upgrade_process(url, tmp_path)
            time.sleep(3)  # long enough to import the app and reach the lock
            assert proc.poll() is None, proc.communicate()[0]
            assert _revision(url) is None  # nothing migrated while the lock is held
            conn.execute(text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": MIGRATION_LOCK})
            conn.commit()
        out = proc.communicate(timeout=120)[0]
        assert proc.returncode == 0, out
    finally:
        holder.dispose()
    assert _revision(url) == _head()


def test_serve_takes_the_worker_count_from_the_environment(fresh_database_url, tmp_path: Path) -> None:
    url = fresh_database_url("sqlite")
    env = server_env(url, tmp_path / "uploads", MAEUL_WORKERS="2")
    with ServerProcess(env, workers=None, log_path=tmp_path / "serve.log") as server:
        deadline = time.monotonic() + 30
        while len(server.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(server.worker_pids()) == 2, server.log()
        # SQLite with several workers is fine on one host; the log says several hosts are not.
        assert "several hosts need PostgreSQL" in server.log()


@pytest.mark.parametrize("value", ["0", "many"])
def test_serve_refuses_a_worker_count_that_is_not_a_positive_number(value: str) -> None:
    result = CliRunner().invoke(cli, ["serve"], env={"MAEUL_WORKERS": value})
    assert result.exit_code == 2
    assert "MAEUL_WORKERS" in result.output or "--workers" in result.output


def test_a_worker_keeps_what_start_up_made_out_of_the_collectors_sight(
    fresh_database_url, tmp_path: Path
) -> None:
    """app.asgi (what each uvicorn worker imports) freezes the objects start-up made, so a full
    collection under load walks only what requests left behind."""
    url = fresh_database_url("sqlite")
    code = "import gc, app.asgi; print(gc.get_freeze_count())"
    python = MAEUL.parent / "python"
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [str(python), "-c", code],
        env=server_env(url, tmp_path / "uploads"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 50_000, done.stdout
