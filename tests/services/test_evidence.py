"""Rule 7: evidence files and links, in the service and through the routes."""

from __future__ import annotations

import errno
import io
import re
import resource
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.config import Settings
from app.models import Decision, Evidence, FileBlob, FileChunk, ItemState, Track
from app.services import evidence as evidence_service
from app.services.errors import ForbiddenError, FormError, NotFoundError
from app.storage import CHUNKS, DatabaseStorage, LocalStorage, StorageError
from tests.factories import World, login
from tests.fixtures.tracking_helpers import (
    CENTER_ITEM,
    COOP_ITEM,
    GIF,
    HTML,
    JPG,
    OLE,
    PDF,
    PNG,
    WEBP,
    ZIP,
    add_file,
    app_for,
    event_count,
    events,
    hub,
    start,
    uploaded_files,
)

ALLOWED = [
    ("계획서.pdf", PDF, "application/pdf"),
    ("현장.png", PNG, "image/png"),
    ("현장.jpg", JPG, "image/jpeg"),
    ("현장.jpeg", JPG, "image/jpeg"),
    ("현장.gif", GIF, "image/gif"),
    ("현장.webp", WEBP, "image/webp"),
    ("공문.hwp", OLE, "application/x-hwp"),
    ("공문.hwpx", ZIP, "application/hwp+zip"),
    ("보고서.doc", OLE, "application/msword"),
    ("보고서.docx", ZIP, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("예산.xls", OLE, "application/vnd.ms-excel"),
    ("예산.xlsx", ZIP, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("발표.ppt", OLE, "application/vnd.ms-powerpoint"),
    ("발표.pptx", ZIP, "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("대문자.PDF", PDF, "application/pdf"),
]

REFUSED = [
    # (file name, body, words the Korean message must contain)
    ("page.html", HTML, "올릴 수 없는 형식"),
    (
        "logo.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "올릴 수 없는 형식",
    ),
    ("app.js", b"alert(1)", "올릴 수 없는 형식"),
    ("setup.exe", b"MZ\x90\x00" + b"\x00" * 60, "올릴 수 없는 형식"),
    ("noextension", PDF, "올릴 수 없는 형식"),
    ("fake.pdf", HTML, "내용이 확장자(.pdf)와 맞지 않습니다"),
    ("fake.png", PDF, "내용이 확장자(.png)와 맞지 않습니다"),
    ("sound.webp", b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 16, "내용이 확장자(.webp)와 맞지 않습니다"),
    ("fake.docx", OLE, "내용이 확장자(.docx)와 맞지 않습니다"),
    ("empty.pdf", b"", "빈 파일"),
    ("empty.png", b"", "빈 파일"),
]


@pytest.fixture
def model(catalog: Catalog) -> BusinessModel:
    return hub(catalog)


@pytest.fixture
def track(db: Session, world: World, catalog: Catalog) -> Track:
    return start(db, world, catalog)


# --- the service: types, sizes, names -----------------------------------------------------------


@pytest.mark.parametrize(("filename", "body", "content_type"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_allowed_types_are_stored_under_a_random_name(
    db: Session,
    world: World,
    track: Track,
    model: BusinessModel,
    settings: Settings,
    filename: str,
    body: bytes,
    content_type: str,
) -> None:
    ev = add_file(db, world, track, model, COOP_ITEM, settings, filename=filename, body=body)
    assert (ev.kind, ev.title, ev.content_type, ev.size) == ("file", filename, content_type, len(body))
    assert re.fullmatch(r"[0-9a-f]{32}", ev.stored_name)
    (stored,) = uploaded_files(settings)
    assert stored.name == ev.stored_name
    assert stored.read_bytes() == body


@pytest.mark.parametrize(("filename", "body", "words"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_files_leave_nothing_behind(
    db: Session,
    world: World,
    track: Track,
    model: BusinessModel,
    settings: Settings,
    filename: str,
    body: bytes,
    words: str,
) -> None:
    before = event_count(db, track)
    with pytest.raises(FormError) as exc:
        add_file(db, world, track, model, COOP_ITEM, settings, filename=filename, body=body)
    assert words in exc.value.errors["file"]
    assert uploaded_files(settings) == []
    assert db.exec(select(Evidence).where(Evidence.track_id == track.id)).all() == []
    assert event_count(db, track) == before


def test_a_file_over_the_limit_is_refused_and_removed(
    db: Session, world: World, track: Track, model: BusinessModel, settings: Settings
) -> None:
    limit = 1024 * 1024
    with pytest.raises(FormError) as exc:
        evidence_service.add_file(
            session=db,
            principal=world.principal(db, "coop_a"),
            track=track,
            model=model,
            item_key=COOP_ITEM,
            filename="큰파일.pdf",
            stream=io.BytesIO(PDF + b"\x00" * (limit + 1 - len(PDF))),
            storage=LocalStorage(settings.upload_dir),
            max_bytes=limit,
        )
    assert "파일이 너무 큽니다" in exc.value.errors["file"]
    assert "1MB" in exc.value.errors["file"]
    assert uploaded_files(settings) == []


def test_a_file_exactly_at_the_limit_is_accepted(
    db: Session, world: World, track: Track, model: BusinessModel, settings: Settings
) -> None:
    limit = 1024 * 1024
    ev = evidence_service.add_file(
        session=db,
        principal=world.principal(db, "coop_a"),
        track=track,
        model=model,
        item_key=COOP_ITEM,
        filename="딱맞음.pdf",
        stream=io.BytesIO(PDF + b"\x00" * (limit - len(PDF))),
        storage=LocalStorage(settings.upload_dir),
        max_bytes=limit,
    )
    assert ev.size == limit


def test_the_stored_name_never_comes_from_the_upload(
    db: Session, world: World, track: Track, model: BusinessModel, settings: Settings
) -> None:
    first = add_file(db, world, track, model, COOP_ITEM, settings, filename="../../etc/passwd.pdf")
    second = add_file(db, world, track, model, COOP_ITEM, settings, filename="../../etc/passwd.pdf")
    assert first.title == "passwd.pdf"  # only the base name is kept, as a label
    assert first.stored_name != second.stored_name
    assert "passwd" not in first.stored_name
    assert {p.name for p in uploaded_files(settings)} == {first.stored_name, second.stored_name}
    assert all(p.parent == settings.upload_dir for p in uploaded_files(settings))


def test_a_missing_file_name_is_refused(
    db: Session, world: World, track: Track, model: BusinessModel, settings: Settings
) -> None:
    with pytest.raises(FormError) as exc:
        add_file(db, world, track, model, COOP_ITEM, settings, filename="")
    assert "파일을 선택" in exc.value.errors["file"]


def test_evidence_follows_the_item_rights(
    db: Session, world: World, track: Track, model: BusinessModel, settings: Settings
) -> None:
    with pytest.raises(ForbiddenError):
        add_file(db, world, track, model, COOP_ITEM, settings, who="center")
    assert add_file(db, world, track, model, CENTER_ITEM, settings, who="center").item_key == CENTER_ITEM
    with pytest.raises(NotFoundError):
        add_file(db, world, track, model, "no-such-item", settings)


@pytest.mark.parametrize("url", ["https://example.org/회의록", "http://example.org/a?b=c"])
def test_link_evidence_accepts_http_and_https(
    db: Session, world: World, track: Track, model: BusinessModel, url: str
) -> None:
    ev = evidence_service.add_link(
        session=db,
        principal=world.principal(db, "coop_a"),
        track=track,
        model=model,
        item_key=COOP_ITEM,
        url=f"  {url} ",
        title="",
    )
    assert (ev.kind, ev.url, ev.title) == ("link", url, "example.org")
    assert events(db, track)[-1].changes == {"evidence": [None, "example.org"], "url": url}


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.org/file",
        "file:///etc/passwd",
        "example.org/no-scheme",
        "https://",
        "//example.org/protocol-relative",
        "https://example.org/" + "a" * 2000,
    ],
)
def test_link_evidence_refuses_anything_but_http_urls(
    db: Session, world: World, track: Track, model: BusinessModel, url: str
) -> None:
    before = event_count(db, track)
    with pytest.raises(FormError) as exc:
        evidence_service.add_link(
            session=db,
            principal=world.principal(db, "coop_a"),
            track=track,
            model=model,
            item_key=COOP_ITEM,
            url=url,
            title="링크",
        )
    assert "http:// 또는 https://" in exc.value.errors["url"]
    assert event_count(db, track) == before


def test_removed_evidence_is_no_longer_found(
    db: Session, world: World, track: Track, model: BusinessModel, settings: Settings
) -> None:
    ev = add_file(db, world, track, model, COOP_ITEM, settings)
    evidence_service.remove_evidence(
        session=db, principal=world.principal(db, "coop_a"), track=track, model=model, evidence=ev
    )
    with pytest.raises(NotFoundError):
        evidence_service.get_evidence(session=db, track=track, evidence_id=ev.id)  # type: ignore[arg-type]


def test_evidence_of_another_track_is_not_found(
    db: Session, world: World, catalog: Catalog, track: Track, model: BusinessModel, settings: Settings
) -> None:
    ev = add_file(db, world, track, model, COOP_ITEM, settings)
    other = start(db, world, catalog, model_key="solar")
    with pytest.raises(NotFoundError):
        evidence_service.get_evidence(session=db, track=other, evidence_id=ev.id)  # type: ignore[arg-type]


# --- the routes: upload, serve, remove ----------------------------------------------------------


def _upload(client: TestClient, csrf: str, track: Track, filename: str, body: bytes, **headers: str):
    return client.post(
        f"/tracks/{track.id}/items/{COOP_ITEM}/evidence",
        data={"csrf_token": csrf},
        files={"file": (filename, body, "application/octet-stream")},
        headers=headers,
        follow_redirects=False,
    )


def test_an_upload_redirects_back_to_the_item(client: TestClient, world: World, track: Track) -> None:
    csrf = login(client, "coop-a")
    r = _upload(client, csrf, track, "회의록.pdf", PDF)
    assert r.status_code == 303
    # Back to the page with the item's panel open, where the evidence was added.
    assert r.headers["location"] == f"/tracks/{track.id}?open={COOP_ITEM}#item-{COOP_ITEM}"
    page = client.get(r.headers["location"]).text
    assert page.count("회의록.pdf") >= 2  # in the open panel's list, and in the activity


def test_an_htmx_upload_answers_the_item_row(
    client: TestClient, world: World, track: Track, settings: Settings
) -> None:
    csrf = login(client, "coop-a")
    r = _upload(client, csrf, track, "회의록.pdf", PDF, **{"HX-Request": "true"})
    assert r.status_code == 200
    assert f'id="item-{COOP_ITEM}"' in r.text
    assert "회의록.pdf" in r.text
    assert "<html" not in r.text
    assert len(uploaded_files(settings)) == 1


@pytest.mark.parametrize(("filename", "body", "words"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_refused_upload_answers_422_with_the_reason(
    client: TestClient, world: World, track: Track, settings: Settings, filename: str, body: bytes, words: str
) -> None:
    csrf = login(client, "coop-a")
    r = _upload(client, csrf, track, filename, body, **{"HX-Request": "true"})
    assert r.status_code == 422
    assert words in r.text
    assert uploaded_files(settings) == []


def test_an_empty_upload_names_the_problem(
    client: TestClient, world: World, track: Track, settings: Settings
) -> None:
    csrf = login(client, "coop-a")
    r = _upload(client, csrf, track, "빈파일.pdf", b"")
    assert r.status_code == 422
    assert "빈 파일은 올릴 수 없습니다" in r.text
    assert uploaded_files(settings) == []


@pytest.fixture
def small_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_upload_mb": 1})


@pytest.fixture
def small_client(small_settings: Settings, catalog: Catalog, engine: Engine, db: Session) -> TestClient:
    return TestClient(app_for(small_settings, catalog, engine, db))


def test_a_file_one_byte_over_the_limit_is_refused(
    small_client: TestClient, world: World, track: Track, small_settings: Settings
) -> None:
    csrf = login(small_client, "coop-a")
    body = PDF + b"\x00" * (1024 * 1024 + 1 - len(PDF))
    r = _upload(small_client, csrf, track, "큰파일.pdf", body)
    assert r.status_code == 422
    assert "파일이 너무 큽니다. 한 파일은 1MB 이하여야 합니다." in r.text
    assert uploaded_files(small_settings) == []


def test_an_over_large_request_body_gets_413(
    small_client: TestClient, world: World, track: Track, small_settings: Settings
) -> None:
    csrf = login(small_client, "coop-a")
    r = _upload(small_client, csrf, track, "아주큰파일.pdf", PDF + b"\x00" * (3 * 1024 * 1024))
    assert r.status_code == 413
    assert uploaded_files(small_settings) == []


def test_an_over_large_api_body_gets_413(
    small_client: TestClient, db: Session, world: World, track: Track
) -> None:
    from app.services.auth import create_token

    token = create_token(session=db, user=world.users["coop_a"]).token
    r = small_client.patch(
        f"/api/v1/tracks/{track.id}/items/{COOP_ITEM}",
        json={"status": "doing", "version": 0, "note": "가" * (3 * 1024 * 1024)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 413


@pytest.fixture
def stored(db: Session, world: World, track: Track, model: BusinessModel, settings: Settings) -> Evidence:
    return add_file(db, world, track, model, COOP_ITEM, settings, filename="회의록.pdf", body=PDF)


@pytest.mark.parametrize("who", ["coop-a", "center-a", "gov-a", "admin"])
def test_evidence_is_served_as_an_attachment_to_everyone_who_sees_the_track(
    client: TestClient, track: Track, stored: Evidence, who: str
) -> None:
    login(client, who)
    r = client.get(f"/tracks/{track.id}/evidence/{stored.id}")
    assert r.status_code == 200
    assert r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("filename", "body", "content_type"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_every_type_is_served_with_our_own_content_type(
    client: TestClient,
    db: Session,
    world: World,
    track: Track,
    model: BusinessModel,
    settings: Settings,
    filename: str,
    body: bytes,
    content_type: str,
) -> None:
    ev = add_file(db, world, track, model, COOP_ITEM, settings, filename=filename, body=body)
    login(client, "coop-a")
    r = client.get(f"/tracks/{track.id}/evidence/{ev.id}")
    assert r.status_code == 200
    served = r.headers["content-type"].split(";")[0]
    assert served == content_type
    assert served not in ("text/html", "image/svg+xml")
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("who", ["coop-b", "center-b", "gov-b"])
def test_evidence_is_hidden_from_those_who_cannot_see_the_track(
    client: TestClient, track: Track, stored: Evidence, who: str
) -> None:
    login(client, who)
    r = client.get(f"/tracks/{track.id}/evidence/{stored.id}")
    assert r.status_code == 404
    assert r.content != PDF


def test_evidence_is_not_served_to_anonymous_visitors(
    client: TestClient, track: Track, stored: Evidence
) -> None:
    r = client.get(f"/tracks/{track.id}/evidence/{stored.id}", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")


def test_removed_evidence_is_no_longer_served_and_its_removal_is_an_event(
    client: TestClient, db: Session, track: Track, stored: Evidence
) -> None:
    csrf = login(client, "coop-a")
    before = event_count(db, track)
    r = client.post(
        f"/tracks/{track.id}/evidence/{stored.id}/remove", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert event_count(db, track) == before + 1
    assert events(db, track)[-1].action == "evidence_removed"
    assert client.get(f"/tracks/{track.id}/evidence/{stored.id}").status_code == 404
    assert "회의록.pdf" not in client.get(f"/tracks/{track.id}").text.split("최근 활동")[0]
    # Removing again is a 404, not a second event.
    again = client.post(f"/tracks/{track.id}/evidence/{stored.id}/remove", data={"csrf_token": csrf})
    assert again.status_code == 404
    assert event_count(db, track) == before + 1


def test_evidence_of_another_track_is_not_served_through_this_one(
    client: TestClient, db: Session, world: World, catalog: Catalog, track: Track, stored: Evidence
) -> None:
    other = start(db, world, catalog, model_key="solar")
    login(client, "coop-a")
    assert client.get(f"/tracks/{other.id}/evidence/{stored.id}").status_code == 404


def test_a_link_is_added_through_the_form_and_not_downloadable(
    client: TestClient, db: Session, track: Track
) -> None:
    csrf = login(client, "coop-a")
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_ITEM}/evidence",
        data={"csrf_token": csrf, "url": "https://example.org/minutes", "title": "회의 자료"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    link = db.exec(select(Evidence).where(Evidence.track_id == track.id)).one()
    assert (link.kind, link.url) == ("link", "https://example.org/minutes")
    assert client.get(f"/tracks/{track.id}/evidence/{link.id}").status_code == 404


def test_a_javascript_link_is_refused_through_the_form(client: TestClient, db: Session, track: Track) -> None:
    csrf = login(client, "coop-a")
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_ITEM}/evidence",
        data={"csrf_token": csrf, "url": "javascript:alert(1)", "title": "x"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 422
    assert "http:// 또는 https://" in r.text
    assert db.exec(select(Evidence).where(Evidence.track_id == track.id)).all() == []


def test_an_empty_evidence_form_is_refused(client: TestClient, track: Track) -> None:
    csrf = login(client, "coop-a")
    r = client.post(f"/tracks/{track.id}/items/{COOP_ITEM}/evidence", data={"csrf_token": csrf})
    assert r.status_code == 422
    assert "올릴 파일을 고르거나 링크 주소를 입력하세요" in r.text


def test_the_center_cannot_upload_to_a_coop_item(
    client: TestClient, track: Track, settings: Settings
) -> None:
    csrf = login(client, "center-a")
    r = _upload(client, csrf, track, "회의록.pdf", PDF)
    assert r.status_code == 403
    assert uploaded_files(settings) == []


# --- storage faults: the server's fault, a clear 503, and nothing left behind -------------------

STORAGE_FAILED = "증빙 파일을 저장하지 못했습니다(저장 공간 부족/쓰기 권한 없음). 관리자에게 알려 주세요."
BIG = PDF + b"\x00" * (600 * 1024)  # several chunks in either storage


def _state(db: Session, track: Track) -> tuple[list[Any], int, int, int]:
    """Everything an upload could leave: item states, evidence rows, events, stored-file rows."""
    db.expire_all()
    items = [
        (s.item_key, s.status, s.version)
        for s in db.exec(
            select(ItemState).where(ItemState.track_id == track.id).order_by(col(ItemState.item_key))
        )
    ]
    evidence_rows = len(db.exec(select(Evidence).where(Evidence.track_id == track.id)).all())
    blobs = db.exec(select(func.count()).select_from(FileBlob)).one()
    chunks = db.exec(select(func.count()).select_from(FileChunk)).one()
    return items, evidence_rows + event_count(db, track), blobs, chunks


class _FullDisk:
    """A file that takes the first write, then the disk is full (ENOSPC), as on a real disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.raw = path.open("wb")
        self.writes = 0

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.raw.close()

    def write(self, data: bytes) -> int:
        self.writes += 1
        if self.writes > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = self.raw.write(data)
        self.raw.flush()
        return n

    def flush(self) -> None:
        self.raw.flush()

    def fileno(self) -> int:
        return self.raw.fileno()


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    opened: list[Path] = []

    def open_full(self: LocalStorage, path: Path) -> _FullDisk:
        opened.append(path)
        return _FullDisk(path)

    monkeypatch.setattr(LocalStorage, "_open", open_full)
    return opened


@pytest.fixture
def failing_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """The database refuses the second chunk of a file (a real error inside the savepoint)."""
    real = DatabaseStorage._insert_chunk

    def insert_chunk(self: DatabaseStorage, session: Session, name: str, seq: int, data: bytes) -> None:
        real(self, session, name, 0 if seq == 1 else seq, data)  # a duplicate key on the second

    monkeypatch.setattr(DatabaseStorage, "_insert_chunk", insert_chunk)


def test_an_upload_folder_that_is_a_file_is_a_storage_error(
    db: Session, world: World, track: Track, model: BusinessModel, tmp_path: Path
) -> None:
    blocker = tmp_path / "uploads"
    blocker.write_bytes(b"not a folder")
    before = _state(db, track)
    with pytest.raises(StorageError) as exc:
        add_file(db, world, track, model, COOP_ITEM, Settings(upload_dir=blocker), body=BIG)
    assert exc.value.message == STORAGE_FAILED
    assert blocker.read_bytes() == b"not a folder"
    assert _state(db, track) == before


def test_a_full_disk_mid_file_leaves_no_partial_file(
    db: Session, world: World, track: Track, model: BusinessModel, settings: Settings, full_disk: list[Path]
) -> None:
    before = _state(db, track)
    with pytest.raises(StorageError) as exc:
        add_file(db, world, track, model, COOP_ITEM, settings, body=BIG)
    assert isinstance(exc.value.__cause__, OSError) and exc.value.__cause__.errno == errno.ENOSPC
    assert full_disk and not full_disk[0].exists()  # the partial file was there, and is gone
    assert uploaded_files(settings) == []
    assert _state(db, track) == before


def test_a_host_file_size_limit_mid_file_leaves_no_partial_file(
    db: Session, world: World, track: Track, model: BusinessModel, settings: Settings
) -> None:
    """A real EFBIG from the kernel: the process may write no file past 64 KiB."""
    principal = world.principal(db, "coop_a")
    before = _state(db, track)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(StorageError) as exc:
            evidence_service.add_file(
                session=db,
                principal=principal,
                track=track,
                model=model,
                item_key=COOP_ITEM,
                filename="큰파일.pdf",
                stream=io.BytesIO(BIG),
                storage=LocalStorage(settings.upload_dir),
                max_bytes=settings.max_upload_bytes,
            )
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert isinstance(exc.value.__cause__, OSError) and exc.value.__cause__.errno == errno.EFBIG
    assert uploaded_files(settings) == []
    assert _state(db, track) == before


def test_database_storage_keeps_the_bytes_in_chunks(
    db: Session, world: World, track: Track, model: BusinessModel, engine: Engine, settings: Settings
) -> None:
    ev = evidence_service.add_file(
        session=db,
        principal=world.principal(db, "coop_a"),
        track=track,
        model=model,
        item_key=COOP_ITEM,
        filename="큰파일.pdf",
        stream=io.BytesIO(BIG),
        storage=DatabaseStorage(engine),
        max_bytes=settings.max_upload_bytes,
    )
    blob = db.get(FileBlob, ev.stored_name)
    assert blob is not None and (blob.size, blob.sha256) == (ev.size, ev.sha256) == (len(BIG), ev.sha256)
    data = db.exec(select(CHUNKS.c.data).where(CHUNKS.c.name == ev.stored_name).order_by(CHUNKS.c.seq)).all()
    assert [len(d) for d in data] == [256 * 1024, 256 * 1024, len(BIG) - 512 * 1024]
    assert b"".join(bytes(d) for d in data) == BIG
    assert uploaded_files(settings) == []


def test_database_storage_failing_mid_file_leaves_no_rows(
    db: Session, world: World, track: Track, model: BusinessModel, engine: Engine, failing_database: None
) -> None:
    before = _state(db, track)
    with pytest.raises(StorageError):
        evidence_service.add_file(
            session=db,
            principal=world.principal(db, "coop_a"),
            track=track,
            model=model,
            item_key=COOP_ITEM,
            filename="큰파일.pdf",
            stream=io.BytesIO(BIG),
            storage=DatabaseStorage(engine),
            max_bytes=10 * 1024 * 1024,
        )
    assert _state(db, track) == before  # and the transaction is still usable


def test_a_too_large_file_leaves_no_rows_in_database_storage(
    db: Session, world: World, track: Track, model: BusinessModel, engine: Engine
) -> None:
    before = _state(db, track)
    with pytest.raises(FormError):
        evidence_service.add_file(
            session=db,
            principal=world.principal(db, "coop_a"),
            track=track,
            model=model,
            item_key=COOP_ITEM,
            filename="큰파일.pdf",
            stream=io.BytesIO(BIG),
            storage=DatabaseStorage(engine),
            max_bytes=300 * 1024,
        )
    assert _state(db, track) == before


def _fault_client(
    settings: Settings, catalog: Catalog, engine: Engine, db: Session, **update: Any
) -> TestClient:
    return TestClient(app_for(settings.model_copy(update=update), catalog, engine, db))


def test_an_unwritable_upload_folder_answers_503_in_the_item_and_changes_nothing(
    settings: Settings,
    catalog: Catalog,
    engine: Engine,
    db: Session,
    world: World,
    track: Track,
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"not a folder")
    client = _fault_client(settings, catalog, engine, db, upload_dir=blocker)
    csrf = login(client, "coop-a")
    before = _state(db, track)
    r = _upload(client, csrf, track, "회의록.pdf", BIG)
    assert r.status_code == 503
    assert STORAGE_FAILED in r.text
    assert f'id="item-{COOP_ITEM}"' in r.text  # shown in the item, like its other errors
    assert blocker.read_bytes() == b"not a folder"
    assert _state(db, track) == before


@pytest.mark.parametrize("storage", ["local", "database"])
def test_a_storage_failure_mid_upload_through_htmx_answers_503_with_the_message(
    settings: Settings,
    catalog: Catalog,
    engine: Engine,
    db: Session,
    world: World,
    track: Track,
    full_disk: list[Path],
    failing_database: None,
    storage: str,
) -> None:
    client = _fault_client(settings, catalog, engine, db, storage=storage)
    csrf = login(client, "coop-a")
    before = _state(db, track)
    r = _upload(client, csrf, track, "회의록.pdf", BIG, **{"HX-Request": "true"})
    assert r.status_code == 503
    # htmx swaps no 5xx: app.js shows the error panel's message in the page's alert region.
    assert "error-panel" in r.text and STORAGE_FAILED in r.text
    assert uploaded_files(settings) == []
    assert _state(db, track) == before


def test_a_decision_document_that_cannot_be_stored_answers_503_and_records_nothing(
    settings: Settings,
    catalog: Catalog,
    engine: Engine,
    db: Session,
    world: World,
    track: Track,
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"not a folder")
    client = _fault_client(settings, catalog, engine, db, upload_dir=blocker)
    csrf = login(client, "gov-a")
    before = _state(db, track)
    r = client.post(
        f"/tracks/{track.id}/decisions",
        data={
            "csrf_token": csrf,
            "outcome": "approved",
            "decided_on": "2026-11-20",
            "document_number": "과-1",
        },
        files={"document": ("결정문.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert r.status_code == 503
    assert STORAGE_FAILED in r.text and 'id="e-document"' in r.text  # beside the file field
    assert db.exec(select(Decision)).all() == []
    assert _state(db, track) == before
