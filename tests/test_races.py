"""Races that only show on a real, committed database with several sessions at once
(PostgreSQL runs them truly in parallel; SQLite serialises writers)."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select

from app.catalog import Catalog
from app.db import make_engine, transaction
from app.migrate import upgrade
from app.models import Event, LoginFailure, Track
from app.services import evidence, tracking
from app.services.auth import MAX_FAILURES, InvalidCredentialsError, LoginLockedError, authenticate
from app.services.errors import NotFoundError
from app.services.principal import load_principal
from app.storage import LocalStorage
from tests.factories import make_world

ATTEMPTS = 30


@pytest.fixture
def committed(backend: str, fresh_database_url) -> Iterator[Engine]:
    url = fresh_database_url(backend)
    upgrade(url)
    engine = make_engine(url, pool_size=ATTEMPTS + 5) if backend == "postgresql" else make_engine(url)
    with transaction(engine) as session:
        make_world(session)
    yield engine
    engine.dispose()


def _all_at_once(n: int, work: Callable[[], Any]) -> list[Any]:
    """Run ``work`` in n threads released together; return each result or exception."""
    barrier = threading.Barrier(n)

    def one() -> Any:
        barrier.wait()
        try:
            return work()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            return exc

    with ThreadPoolExecutor(n) as pool:
        return [f.result() for f in [pool.submit(one) for _ in range(n)]]


def test_parallel_wrong_passwords_are_all_counted(committed: Engine) -> None:
    def attempt() -> str:
        # Like the login route: the failure is caught inside the unit of work, so it commits.
        with transaction(committed) as session:
            try:
                authenticate(session=session, login="coop-a", password="wrong-password")
            except InvalidCredentialsError:
                return "refused"
            except LoginLockedError:
                return "locked"
        return "accepted"

    outcomes = _all_at_once(ATTEMPTS, attempt)
    assert outcomes.count("refused") == MAX_FAILURES  # exactly five guesses were checked
    assert outcomes.count("locked") == ATTEMPTS - MAX_FAILURES
    with transaction(committed) as session:
        assert session.exec(select(func.count()).select_from(LoginFailure)).one() == MAX_FAILURES


def test_parallel_removals_of_one_file_log_one_event(
    committed: Engine, catalog: Catalog, tmp_path: Path
) -> None:
    model = catalog.model("hub-facility")
    assert model is not None
    with transaction(committed) as session:
        coop_user = session.exec(select(Track)).first()  # none yet: start one
        assert coop_user is None
        from app.models import User

        user = session.exec(select(User).where(User.login == "coop-a")).one()
        principal = load_principal(session=session, user_id=user.id or 0)
        assert principal is not None
        from app.models import Cooperative

        coop = session.get(Cooperative, principal.cooperative_id)
        track = tracking.start_track(
            session=session, principal=principal, cooperative=coop, catalog=catalog, model_key=model.key
        )
        ev = evidence.add_file(
            session=session,
            principal=principal,
            track=track,
            model=model,
            item_key="operating-plan",
            filename="회의록.pdf",
            stream=io.BytesIO(b"%PDF-1.4 x"),
            storage=LocalStorage(tmp_path),
            max_bytes=1024 * 1024,
        )
        ids = (track.id, ev.id)

    def remove() -> None:
        with transaction(committed) as session:
            t = session.get(Track, ids[0])
            e = evidence.get_evidence(session=session, track=t, evidence_id=ids[1])
            evidence.remove_evidence(session=session, principal=principal, track=t, model=model, evidence=e)

    outcomes = _all_at_once(8, remove)
    assert sum(o is None for o in outcomes) == 1
    assert all(isinstance(o, NotFoundError) for o in outcomes if o is not None)
    with transaction(committed) as session:
        removed = session.exec(select(Event).where(Event.action == "evidence_removed")).all()
    assert len(removed) == 1


def test_a_rolled_back_upload_leaves_no_file(committed: Engine, catalog: Catalog, tmp_path: Path) -> None:
    from app.models import Cooperative, User

    model = catalog.model("hub-facility")
    assert model is not None
    with transaction(committed) as session:
        user = session.exec(select(User).where(User.login == "coop-a")).one()
        principal = load_principal(session=session, user_id=user.id or 0)
        assert principal is not None
        coop = session.get(Cooperative, principal.cooperative_id)
        track = tracking.start_track(
            session=session, principal=principal, cooperative=coop, catalog=catalog, model_key=model.key
        )
    with pytest.raises(RuntimeError), transaction(committed) as session:
        evidence.add_file(
            session=session,
            principal=principal,
            track=session.get(Track, track.id),
            model=model,
            item_key="operating-plan",
            filename="회의록.pdf",
            stream=io.BytesIO(b"%PDF-1.4 x"),
            storage=LocalStorage(tmp_path),
            max_bytes=1024 * 1024,
        )
        assert len(list(tmp_path.iterdir())) == 1  # written…
        raise RuntimeError("the commit never happens")
    assert list(tmp_path.iterdir()) == []  # …and gone with the rollback
