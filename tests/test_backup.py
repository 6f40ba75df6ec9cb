"""`maeul backup` / `maeul restore`: a round trip SQLite → PostgreSQL → SQLite gives identical API
output for every track and identical event and audit logs; refusals are clear and change nothing."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.config import Settings
from app.db import make_engine, transaction
from app.main import create_app
from app.migrate import upgrade
from app.models import Event, Track, User
from app.models.audit import AuditEntry
from app.services import audit, consultations, decisions, evidence, readiness, tracking
from app.services.auth import create_token
from app.services.backup import BackupError, backup, restore
from app.storage import DatabaseStorage, LocalStorage, Storage
from tests.factories import make_world

MINUTES = b"%PDF-1.4 minutes" + bytes(range(256)) * 2048  # 512 KiB: several database chunks


def _seed(engine: Engine, catalog: Catalog, storage: Storage) -> None:
    with transaction(engine) as s:
        world = make_world(s)
        coop, gov, center = (world.principal(s, k) for k in ("coop_a", "municipality", "center"))
        model = catalog.model("hub-facility")
        assert model is not None
        t = tracking.start_track(
            session=s, principal=coop, cooperative=world.coop_a, catalog=catalog, model_key=model.key
        )
        tracking.update_item(
            session=s, principal=coop, track=t, model=model, item_key="manual", version=0,
            changes={"status": "doing", "due_date": date(2026, 12, 1), "note": "첫 메모 \U0001f600"},
        )  # fmt: skip
        tracking.add_comment(
            session=s, principal=center, track=t, model=model, item_key="manual", body="@coop-a 확인 부탁"
        )
        evidence.add_file(
            session=s, principal=coop, track=t, model=model, item_key="manual", filename="회의록.pdf",
            stream=io.BytesIO(MINUTES), storage=storage, max_bytes=1_000_000,
        )  # fmt: skip
        tracking.update_item(
            session=s, principal=gov, track=t, model=model, item_key="management-method", version=0,
            changes={"status": "done"},
        )  # fmt: skip
        report = readiness.load_report(
            session=s, principal=gov, catalog=catalog, track=t, cooperative=world.coop_a, model=model
        )
        decisions.record_decision(
            session=s, principal=gov, track=t, cooperative=world.coop_a, model=model,
            data=decisions.DecisionInput("deferred", date(2026, 11, 20), "도시재생과-1", reason="보완 후 재검토"),
            report=report, report_pdf=b"%PDF-1.4 \x00\xff binary", document=None, today=date(2026, 11, 23),
        )  # fmt: skip
        consultations.record_consultation(
            session=s, principal=center, cooperative=world.coop_a, catalog=catalog,
            data=consultations.ConsultationInput(held_on="2026-11-20", channel="visit", topic="정관 상담", follow_up_on="2026-12-01"),
            today=date(2026, 11, 23),
        )  # fmt: skip
        audit.record(
            session=s,
            actor=None,
            action="token_create",
            kind="users",
            obj=world.users["coop_a"],
            extra={"token": [None, "mgl_x"]},
        )


def _api_view(engine: Engine, settings: Settings, catalog: Catalog) -> dict[str, Any]:
    """What the API shows for every track, plus the raw logs."""
    with transaction(engine) as s:
        admin = s.exec(select(User).where(User.login == "admin")).one()
        token = create_token(session=s, user=admin).token
        tracks = [t.id for t in s.exec(select(Track).order_by(col(Track.id))).all()]
        events = [
            (e.id, e.action, e.item_key, e.changes, e.at.isoformat())
            for e in s.exec(select(Event).order_by(col(Event.id)))
        ]
        logged = [
            (a.id, a.action, a.target, a.changes)
            for a in s.exec(select(AuditEntry).order_by(col(AuditEntry.id)))
        ]
    app = create_app(settings, catalog=catalog, engine=engine)
    out: dict[str, Any] = {"events": events, "audit": logged}
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        for tid in tracks:
            for path in (
                f"/api/v1/tracks/{tid}",
                f"/api/v1/tracks/{tid}/events",
                f"/api/v1/tracks/{tid}/decisions",
            ):
                r = client.get(path, headers=headers)
                assert r.status_code == 200, (path, r.text[:300])
                out[path] = r.json()
            readiness_view = client.get(f"/api/v1/tracks/{tid}/readiness", headers=headers).json()
            readiness_view.pop("generated_at")
            readiness_view.pop("report_number")
            out[f"readiness {tid}"] = readiness_view
        out["consultations"] = client.get("/api/v1/cooperatives/1/consultations", headers=headers).json()
    return out


def _fresh(fresh_database_url: Any, backend: str) -> str:
    url = fresh_database_url(backend)
    upgrade(url)
    return url


def test_round_trip_sqlite_postgresql_sqlite(
    fresh_database_url: Any, catalog: Catalog, tmp_path: Path, settings: Settings
) -> None:
    urls = [_fresh(fresh_database_url, b) for b in ("sqlite", "postgresql", "sqlite")]
    uploads = [tmp_path / f"uploads{i}" for i in range(3)]
    engines = [make_engine(u) for u in urls]
    try:
        _seed(engines[0], catalog, LocalStorage(uploads[0]))
        views = []
        for i, engine in enumerate(engines):
            if i:
                restore(engine=engine, storage=LocalStorage(uploads[i]), source=tmp_path / f"b{i - 1}.zip")
            views.append(_api_view(engine, settings.model_copy(update={"upload_dir": uploads[i]}), catalog))
            backup(engine=engine, storage=LocalStorage(uploads[i]), target=tmp_path / f"b{i}.zip")
        assert views[1] == views[0]
        assert views[2] == views[0]
        # The evidence file came along, byte for byte, and new rows get new ids after restore.
        assert [p.read_bytes() for p in uploads[2].iterdir()] == [
            p.read_bytes() for p in uploads[0].iterdir()
        ]
        with transaction(engines[1]) as s:
            s.add(AuditEntry(actor="test", action="update", target_kind="users", target="x", changes={}))
            s.flush()
        with zipfile.ZipFile(tmp_path / "b0.zip") as z:
            manifest = json.loads(z.read("manifest.json"))
        assert manifest["rows"]["event"] == len(views[0]["events"]) and manifest["files"] == 1
    finally:
        for e in engines:
            e.dispose()


def test_refusals_are_clear_and_change_nothing(
    fresh_database_url: Any, catalog: Catalog, tmp_path: Path
) -> None:
    src, dst = _fresh(fresh_database_url, "sqlite"), _fresh(fresh_database_url, "sqlite")
    source, target = make_engine(src), make_engine(dst)
    try:
        _seed(source, catalog, LocalStorage(tmp_path / "up"))
        archive = tmp_path / "b.zip"
        backup(engine=source, storage=LocalStorage(tmp_path / "up"), target=archive)
        with pytest.raises(BackupError, match="already exists"):
            backup(engine=source, storage=LocalStorage(tmp_path / "up"), target=archive)
        with pytest.raises(BackupError, match="not empty"):
            restore(engine=source, storage=LocalStorage(tmp_path / "up2"), source=archive)
        # A backup from a newer version: a schema revision this code does not know.
        newer = tmp_path / "newer.zip"
        with zipfile.ZipFile(archive) as z, zipfile.ZipFile(newer, "w") as out:
            for item in z.namelist():
                data = z.read(item)
                if item == "manifest.json":
                    m = json.loads(data)
                    m["revision"] = "9999"
                    data = json.dumps(m).encode()
                out.writestr(item, data)
        with pytest.raises(BackupError, match="newer than this version knows"):
            restore(engine=target, storage=LocalStorage(tmp_path / "up3"), source=newer)
        not_zip = tmp_path / "x.zip"
        not_zip.write_bytes(b"hello")
        with pytest.raises(BackupError, match="not a maeul backup"):
            restore(engine=target, storage=LocalStorage(tmp_path / "up3"), source=not_zip)
        with target.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM event")).scalar_one() == 0
        # And the real one loads.
        restore(engine=target, storage=LocalStorage(tmp_path / "up3"), source=archive)
        with Session(target) as s:
            assert len(s.exec(select(Event)).all()) > 0
    finally:
        source.dispose()
        target.dispose()


def test_database_storage_travels_as_files_and_restores_into_either_storage(
    fresh_database_url: Any, catalog: Catalog, tmp_path: Path
) -> None:
    """Files kept in PostgreSQL go into the archive as files/, not as rows, and come back into
    whichever storage the target uses."""
    urls = [_fresh(fresh_database_url, b) for b in ("postgresql", "sqlite", "sqlite")]
    engines = [make_engine(u) for u in urls]
    try:
        source = DatabaseStorage(engines[0])
        _seed(engines[0], catalog, source)
        assert not (tmp_path / "never-used").exists()
        archive = tmp_path / "b.zip"
        m = backup(engine=engines[0], storage=source, target=archive)
        with zipfile.ZipFile(archive) as z:
            members = z.namelist()
            (name,) = [n for n in members if n.startswith("files/")]
            assert z.read(name) == MINUTES
        assert not any("stored_file" in n for n in members) and "stored_file" not in m.rows

        local = tmp_path / "restored"
        restore(engine=engines[1], storage=LocalStorage(local), source=archive)
        assert (local / Path(name).name).read_bytes() == MINUTES
        into_database = DatabaseStorage(engines[2])
        restore(engine=engines[2], storage=into_database, source=archive)
        assert b"".join(into_database.read(Path(name).name)) == MINUTES
        # A target whose file tables are not empty is refused like any other.
        with pytest.raises(BackupError, match="not empty"):
            restore(engine=engines[2], storage=into_database, source=archive)
    finally:
        for e in engines:
            e.dispose()


def test_a_restore_that_cannot_store_its_files_leaves_nothing(
    fresh_database_url: Any, catalog: Catalog, tmp_path: Path
) -> None:
    src, dst = _fresh(fresh_database_url, "sqlite"), _fresh(fresh_database_url, "sqlite")
    source, target = make_engine(src), make_engine(dst)
    try:
        _seed(source, catalog, LocalStorage(tmp_path / "up"))
        archive = tmp_path / "b.zip"
        backup(engine=source, storage=LocalStorage(tmp_path / "up"), target=archive)
        blocker = tmp_path / "blocker"
        blocker.write_bytes(b"not a folder")
        with pytest.raises(BackupError, match="could not store files/"):
            restore(engine=target, storage=LocalStorage(blocker), source=archive)
        with target.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM event")).scalar_one() == 0
    finally:
        source.dispose()
        target.dispose()
