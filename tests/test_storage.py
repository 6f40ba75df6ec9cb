"""MAEUL_STORAGE=database: evidence and decision documents kept as chunks in the database and
streamed back through a real app (committed data, the request session closed before the body
streams), and `maeul storage copy` between the two storages, both ways, safe to re-run."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from app.catalog import Catalog
from app.cli import cli
from app.config import Settings, get_settings
from app.db import make_engine, transaction
from app.main import create_app
from app.migrate import upgrade
from app.models import Decision, Evidence, Track
from app.services import decisions, evidence, readiness, tracking
from app.services.evidence import store_upload
from app.storage import DatabaseStorage, LocalStorage, Storage
from tests.conftest import CONTENT_DIR
from tests.factories import World, login, make_world
from tests.fixtures.tracking_helpers import COOP_ITEM, HUB, PDF, PNG

runner = CliRunner()
BIG = PDF + os.urandom(700 * 1024)  # three database chunks


@dataclass
class Live:
    engine: Engine
    settings: Settings
    world: World
    track_id: int


@pytest.fixture
def live(backend: str, fresh_database_url: Any, catalog: Catalog, tmp_path: Path) -> Iterator[Live]:
    """A migrated database of its own whose writes are committed, like a running site."""
    url = fresh_database_url(backend)
    upgrade(url)
    engine = make_engine(url)
    with transaction(engine) as s:
        world = make_world(s)
        track = tracking.start_track(
            session=s,
            principal=world.principal(s, "coop_a"),
            cooperative=world.coop_a,
            catalog=catalog,
            model_key=HUB,
        )
        assert track.id is not None
    settings = Settings(
        database_url=url,
        content_dir=CONTENT_DIR,
        upload_dir=tmp_path / "uploads",
        secret_key="test-secret-" + "x" * 32,
        storage="database",
    )
    yield Live(engine, settings, world, track.id)
    engine.dispose()


def _read(storage: Storage, name: str) -> bytes:
    return b"".join(storage.read(name))


def _upload_big(client: TestClient, live: Live, content_type: str) -> Evidence:
    """BIG uploaded as the cooperative's evidence through the page's form; its stored row."""
    csrf = login(client, "coop-a")
    r = client.post(
        f"/tracks/{live.track_id}/items/{COOP_ITEM}/evidence",
        data={"csrf_token": csrf},
        files={"file": ("회의록.pdf", BIG, content_type)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    with Session(live.engine) as s:
        return s.exec(select(Evidence).where(Evidence.track_id == live.track_id)).one()


def test_evidence_and_decision_documents_stream_from_the_database(live: Live, catalog: Catalog) -> None:
    tid = live.track_id
    with TestClient(create_app(live.settings, catalog=catalog, engine=live.engine)) as client:
        ev = _upload_big(client, live, "application/octet-stream")
        assert not live.settings.upload_dir.exists()  # nothing on this host's disk
        assert _read(DatabaseStorage(live.engine), ev.stored_name) == BIG

        r = client.get(f"/tracks/{tid}/evidence/{ev.id}")
        assert r.status_code == 200 and r.content == BIG
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-length"] == str(len(BIG))
        assert (
            r.headers["content-disposition"] == "attachment; filename*=utf-8''%ED%9A%8C%EC%9D%98%EB%A1%9D.pdf"
        )
        assert r.headers["content-security-policy"] == "sandbox; default-src 'none'"
        assert r.headers["cache-control"] == "private, no-store"

        bundle = zipfile.ZipFile(io.BytesIO(client.get(f"/tracks/{tid}/evidence.zip").content))
        (member,) = [n for n in bundle.namelist() if n.startswith("증빙/")]
        assert bundle.read(member) == BIG

        csrf = login(client, "gov-a")
        r = client.post(
            f"/tracks/{tid}/decisions",
            data={
                "csrf_token": csrf,
                "outcome": "approved",
                "decided_on": "2026-11-20",
                "document_number": "과-1",
            },
            files={"document": ("결정문.pdf", PDF, "application/pdf")},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        with Session(live.engine) as s:
            decision = s.exec(select(Decision)).one()
        r = client.get(f"/tracks/{tid}/decisions/{decision.id}/document")
        assert r.status_code == 200 and r.content == PDF
        assert r.headers["content-disposition"].startswith("attachment;")
        assert not live.settings.upload_dir.exists()


def test_a_file_missing_from_the_database_is_a_clear_404(live: Live, catalog: Catalog) -> None:
    with transaction(live.engine) as s:
        ev = Evidence(
            track_id=live.track_id, item_key=COOP_ITEM, kind="file", title="없는.pdf", stored_name="0" * 32
        )
        s.add(ev)
        s.flush()
        ev_id = ev.id
    with TestClient(create_app(live.settings, catalog=catalog, engine=live.engine)) as client:
        login(client, "coop-a")
        r = client.get(f"/tracks/{live.track_id}/evidence/{ev_id}")
    assert r.status_code == 404 and "증빙 파일이 저장소에 없습니다" in r.text


# --- `maeul storage copy` -----------------------------------------------------------------------


def _seed_local(live: Live, catalog: Catalog, folder: Path) -> dict[str, bytes]:
    """Two evidence files and a decision document in the folder; stored name → bytes."""
    bodies = [("회의록.pdf", BIG), ("현장.png", PNG + os.urandom(1000))]
    model = catalog.model(HUB)
    assert model is not None
    names: dict[str, bytes] = {}
    with transaction(live.engine) as s:
        track = s.get(Track, live.track_id)
        assert track is not None
        coop, gov = live.world.principal(s, "coop_a"), live.world.principal(s, "municipality")
        for filename, body in bodies:
            ev = evidence.add_file(
                session=s, principal=coop, track=track, model=model, item_key=COOP_ITEM, filename=filename,
                stream=io.BytesIO(body), storage=LocalStorage(folder), max_bytes=10 << 20,
            )  # fmt: skip
            names[ev.stored_name] = body
        document = store_upload(
            session=s,
            filename="결정문.pdf",
            stream=io.BytesIO(PDF),
            storage=LocalStorage(folder),
            max_bytes=10 << 20,
        )
        names[document.stored_name] = PDF
        report = readiness.load_report(
            session=s, principal=gov, catalog=catalog, track=track, cooperative=live.world.coop_a, model=model
        )
        decisions.record_decision(
            session=s, principal=gov, track=track, cooperative=live.world.coop_a, model=model,
            data=decisions.DecisionInput("approved", date(2026, 11, 20), "과-1"), report=report,
            report_pdf=b"%PDF-1.4", document=document, today=date(2026, 11, 23),
        )  # fmt: skip
    return names


def _copy(monkeypatch: pytest.MonkeyPatch, live: Live, folder: Path, to: str) -> Any:
    monkeypatch.setenv("MAEUL_DATABASE_URL", live.settings.database_url)
    monkeypatch.setenv("MAEUL_UPLOAD_DIR", str(folder))
    monkeypatch.setenv("MAEUL_CONTENT_DIR", str(CONTENT_DIR))
    monkeypatch.delenv("MAEUL_ENV", raising=False)
    monkeypatch.delenv("MAEUL_STORAGE", raising=False)
    get_settings.cache_clear()
    try:
        return runner.invoke(cli, ["storage", "copy", "--to", to])
    finally:
        get_settings.cache_clear()


def test_storage_copy_moves_every_file_both_ways_and_is_safe_to_repeat(
    live: Live, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    names = _seed_local(live, catalog, first)
    database = DatabaseStorage(live.engine)

    result = _copy(monkeypatch, live, first, "database")
    assert result.exit_code == 0, result.output
    assert "copied 3 files from upload folder" in result.output and "0 missing, 0 damaged" in result.output
    assert {n: _read(database, n) for n in names} == names
    assert sorted(p.name for p in first.iterdir()) == sorted(names)  # the source is left alone

    again = _copy(monkeypatch, live, first, "database")
    assert again.exit_code == 0, again.output
    assert "copied 0 files" in again.output and "3 already there" in again.output

    back = _copy(monkeypatch, live, second, "local")
    assert back.exit_code == 0, back.output
    assert "copied 3 files from the database" in back.output
    assert {p.name: p.read_bytes() for p in second.iterdir()} == names


def test_storage_copy_reports_missing_and_damaged_files_and_copies_the_rest(
    live: Live, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "uploads"
    names = _seed_local(live, catalog, folder)
    with Session(live.engine) as s:
        png, pdf = (
            s.exec(select(Evidence.stored_name).where(col(Evidence.title) == t)).one()
            for t in ("현장.png", "회의록.pdf")
        )
    (folder / png).unlink()
    tampered = bytearray(names[pdf])
    tampered[-1] ^= 0xFF
    (folder / pdf).write_bytes(bytes(tampered))  # same size, other bytes

    result = _copy(monkeypatch, live, folder, "database")
    assert result.exit_code == 1
    assert "copied 1 files" in result.output and "1 missing, 1 damaged" in result.output
    assert f"missing from upload folder {folder}: {png}" in result.output
    assert f"(not copied): {pdf}" in result.output
    stored = DatabaseStorage(live.engine).sizes(names)
    assert set(stored) == set(names) - {png, pdf}  # the good one went; the bad ones did not

    (folder / pdf).write_bytes(names[pdf])
    fixed = _copy(monkeypatch, live, folder, "database")
    assert "copied 1 files" in fixed.output and "1 already there, 1 missing, 0 damaged" in fixed.output
    assert fixed.exit_code == 1 and png in fixed.output  # still missing, still said


def test_local_storage_refuses_names_that_are_not_ours(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    (tmp_path / "ok").write_bytes(b"x")
    assert storage.sizes(["ok", "../ok", "", ".hidden", "a/b"]) == {"ok": 1}
    with pytest.raises(ValueError, match="not a stored file name"):
        list(storage.read("../etc/passwd"))


# --- byte ranges: a large download resumes where it stopped --------------------------------------


@pytest.mark.parametrize("kind", ["local", "database"])
def test_a_download_serves_one_byte_range_from_either_storage(
    live: Live, catalog: Catalog, kind: str
) -> None:
    settings = live.settings.model_copy(update={"storage": kind})
    tid = live.track_id
    with TestClient(create_app(settings, catalog=catalog, engine=live.engine)) as client:
        ev = _upload_big(client, live, "application/pdf")
        url, size = f"/tracks/{tid}/evidence/{ev.id}", len(BIG)

        whole = client.get(url)
        assert whole.status_code == 200 and whole.content == BIG
        assert whole.headers["accept-ranges"] == "bytes"
        etag, modified = whole.headers["etag"], whole.headers["last-modified"]
        assert etag == f'"{ev.stored_name}"' and modified.endswith(" GMT")

        def part(spec: str, **headers: str) -> Any:
            return client.get(url, headers={"Range": spec, **headers})

        boundary = 256 * 1024  # a database chunk ends here
        for spec, first, last in [
            ("bytes=0-99", 0, 99),
            (f"bytes={boundary - 10}-{boundary + 10}", boundary - 10, boundary + 10),  # across two chunks
            (f"bytes={2 * boundary + 5}-", 2 * boundary + 5, size - 1),  # to the end
            ("bytes=-500", size - 500, size - 1),  # the last 500 bytes
            (f"bytes=100-{size * 10}", 100, size - 1),  # past the end: up to the end
        ]:
            r = part(spec)
            assert r.status_code == 206, spec
            assert r.content == BIG[first : last + 1], spec
            assert r.headers["content-range"] == f"bytes {first}-{last}/{size}", spec
            assert r.headers["content-length"] == str(last - first + 1), spec

        # A download resumed in three pieces is the file.
        pieces = [part("bytes=0-299999"), part("bytes=300000-599999"), part("bytes=600000-")]
        assert b"".join(p.content for p in pieces) == BIG

        r = part(f"bytes={size}-")
        assert r.status_code == 416
        assert r.headers["content-range"] == f"bytes */{size}"
        assert "요청한 범위가 파일 크기" in r.text
        for ignored in ["bytes=0-1,5-6", "bytes=abc", "bytes=9-3", "items=0-9"]:  # the whole file
            r = part(ignored)
            assert (r.status_code, r.content) == (200, BIG), ignored

        # If-Range: the piece only while the file is the one the client has (our names never change).
        assert part("bytes=0-9", **{"If-Range": etag}).status_code == 206
        assert part("bytes=0-9", **{"If-Range": modified}).status_code == 206
        other = part("bytes=0-9", **{"If-Range": '"something-else"'})
        assert (other.status_code, other.content) == (200, BIG)
