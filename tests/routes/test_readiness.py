"""위탁 준비도 through the pages and the API: the 지자체's whole job, end to end.

보완 요청 → the cooperative fixes it → 확인; the report page, its PDF (text read back with pypdf)
and the evidence bundle agree; a decision stores the report as it was, and nothing changes it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from typing import Any

import pypdf
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.models import Decision, Track
from app.services.auth import create_token
from tests.factories import World, login
from tests.fixtures.tracking_helpers import (
    COOP_CONSIGNMENT,
    PDF,
    add_file,
    change,
    start,
    state_of,
    version_of,
)

HTMX = {"HX-Request": "true"}


@pytest.fixture
def track(db: Session, world: World, catalog: Catalog, model: BusinessModel) -> Track:
    return start(db, world, catalog)


def _numbers(text_: str) -> str:
    """The readiness line, whitespace folded (it wraps differently in HTML and PDF)."""
    folded = re.sub(r"\s+", " ", text_)
    match = re.search(
        r"위탁 전 확인 \d+개 중 \d+개 확인됨 · \d+개 자체 완료\(미확인\) · \d+개 미완료 · 보완 요청 \d+건",
        folded,
    )
    assert match, folded[:2000]
    return match.group(0)


def test_request_changes_fix_and_verify_through_the_pages(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel, settings: Any
) -> None:
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    csrf = login(client, "gov-a")
    url = f"/tracks/{track.id}/items/{COOP_CONSIGNMENT}"
    # 보완 요청 needs a reason; then the item is back to 진행 중 with the request on it.
    empty = client.post(
        f"{url}/request-changes", data={"csrf_token": csrf, "version": "1", "reason": " "}, headers=HTMX
    )
    assert empty.status_code == 422 and "보완이 필요한 내용을 적어 주세요" in empty.text
    sent = client.post(
        f"{url}/request-changes",
        data={"csrf_token": csrf, "version": "1", "reason": "임대료 산정 근거를 붙여 주세요."},
        headers=HTMX,
    )
    assert sent.status_code == 200
    assert "보완 요청" in sent.text and "임대료 산정 근거를 붙여 주세요." in sent.text
    state = state_of(db, track, COOP_CONSIGNMENT)
    assert state is not None and state.status == "doing" and state.change_request
    # A stale version is a 409, as for every other change.
    stale = client.post(
        f"{url}/request-changes", data={"csrf_token": csrf, "version": "1", "reason": "x"}, headers=HTMX
    )
    assert stale.status_code == 409

    client.post("/logout", data={"csrf_token": csrf})
    csrf = login(client, "coop-a")
    add_file(db, world, track, model, COOP_CONSIGNMENT, settings, filename="임대료 산정표.pdf", body=PDF)
    fixed = client.post(
        url,
        data={"csrf_token": csrf, "version": str(version_of(db, track, COOP_CONSIGNMENT)), "status": "done"},
        headers=HTMX,
    )
    assert fixed.status_code == 200 and 'class="change-request"' not in fixed.text
    state = state_of(db, track, COOP_CONSIGNMENT)
    assert state is not None and state.change_request == ""

    client.post("/logout", data={"csrf_token": csrf})
    csrf = login(client, "gov-a")
    ok = client.post(
        f"{url}/verify",
        data={
            "csrf_token": csrf,
            "version": str(version_of(db, track, COOP_CONSIGNMENT)),
            "note": "원본 확인",
        },
        headers=HTMX,
    )
    assert ok.status_code == 200 and "✓ 확인됨" in ok.text and "원본 확인" in ok.text


def test_the_report_page_pdf_and_api_tell_the_same_numbers(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel, settings: Any
) -> None:
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    add_file(db, world, track, model, COOP_CONSIGNMENT, settings, filename="수익금 활용계획.pdf", body=PDF)
    login(client, "gov-a")
    page = client.get(f"/tracks/{track.id}/readiness")
    assert page.status_code == 200
    assert "결재" in page.text and "담당" in page.text and "과장" in page.text
    page_numbers = _numbers(page.text)
    verdict = re.search(r'class="verdict verdict--(\w+)"', page.text)
    assert verdict

    pdf = client.get(f"/tracks/{track.id}/readiness.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    pdf_text = "\n".join(p.extract_text() for p in reader.pages)
    assert _numbers(pdf_text) == page_numbers
    assert "수익금 활용계획.pdf" in pdf_text and hashlib.sha256(PDF).hexdigest()[:12] in pdf_text
    assert f"1 / {len(reader.pages)} 쪽" in pdf_text  # the footer's page numbers
    for stage in model.stages:
        assert stage.title in pdf_text

    api = client.get(
        f"/api/v1/tracks/{track.id}/readiness",
        headers={
            "Authorization": f"Bearer {create_token(session=db, user=world.users['municipality']).token}"
        },
    ).json()
    c = api["consignment"]
    assert page_numbers == (
        f"위탁 전 확인 {c['total']}개 중 {c['verified']}개 확인됨 · {c['self_reported']}개 자체 완료(미확인) · "
        f"{c['open']}개 미완료 · 보완 요청 {c['change_requests']}건"
    )
    assert api["verdict"] == verdict.group(1)
    item = next(i for i in api["items"] if i["key"] == COOP_CONSIGNMENT)
    assert item["evidence"][0]["sha256"] == hashlib.sha256(PDF).hexdigest()


def test_the_evidence_bundle_holds_the_report_the_files_and_a_true_manifest(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel, settings: Any
) -> None:
    bodies = {"회의록 (1차).pdf": PDF, "현장 사진.png": b"\x89PNG\r\n\x1a\n" + b"\x01" * 500}
    for name, body in bodies.items():
        add_file(db, world, track, model, COOP_CONSIGNMENT, settings, filename=name, body=body)
    login(client, "center-a")
    r = client.get(f"/tracks/{track.id}/evidence.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[0].startswith("위탁준비도-MG-") and names[0].endswith(".pdf") and names[1] == "manifest.csv"
    assert all(info.flag_bits & 0x800 for info in archive.infolist() if not info.filename.isascii())
    files = [n for n in names if n.startswith("증빙/")]
    assert len(files) == 2 and all(n.startswith("증빙/2_계획/") for n in files)
    manifest = list(csv.reader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    assert manifest[0][:4] == ["항목", "파일", "크기(바이트)", "SHA-256"]
    for row in manifest[1:]:
        data = archive.read(row[1])
        assert int(row[2]) == len(data) and row[3] == hashlib.sha256(data).hexdigest()
        assert row[4] == world.users["coop_a"].display_name
    assert sorted(len(archive.read(n)) for n in files) == sorted(len(b) for b in bodies.values())
    assert archive.read(names[0]).startswith(b"%PDF")


def test_a_decision_keeps_the_report_as_it_was(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel, catalog: Catalog
) -> None:
    csrf = login(client, "gov-a")
    # Every problem at once, in Korean, and nothing stored.
    bad = client.post(
        f"/tracks/{track.id}/decisions",
        data={
            "csrf_token": csrf,
            "outcome": "conditional",
            "decided_on": "2026-13-01",
            "document_number": "",
        },
    )
    assert bad.status_code == 422
    for message in ("결정일을 YYYY-MM-DD", "결재 문서번호를 입력하세요", "조건부 승인에는 조건을 적어야"):
        assert message in bad.text
    assert not db.exec(select(Decision)).all()

    ok = client.post(
        f"/tracks/{track.id}/decisions",
        data={
            "csrf_token": csrf,
            "outcome": "conditional",
            "decided_on": "2026-11-20",
            "document_number": "도시재생과-1234",
            "conditions": "운영규정 보완 후 재확인",
        },
        files={"document": ("결정문.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert ok.status_code == 303, ok.text
    decision = db.exec(select(Decision)).one()
    assert (
        decision.report_pdf.startswith(b"%PDF")
        and decision.document_sha256 == hashlib.sha256(PDF).hexdigest()
    )
    stored = client.get(f"/tracks/{track.id}/decisions/{decision.id}/report.pdf").content
    assert hashlib.sha256(stored).hexdigest() == decision.report_sha256

    # Later work changes the live report, never the stored one.
    change(db, world, track, model, "governance", who="municipality", status="done")
    assert client.get(f"/tracks/{track.id}/decisions/{decision.id}/report.pdf").content == stored
    assert client.get(f"/tracks/{track.id}/decisions/{decision.id}/document").content == PDF
    with pytest.raises(DBAPIError), db.begin_nested():
        db.execute(text("UPDATE decision SET outcome = 'approved'"))

    page = client.get(f"/tracks/{track.id}/readiness").text
    assert "조건부 승인 (현재)" in page and "도시재생과-1234" in page
    assert "위탁 결정: 조건부 승인" in client.get(f"/cooperatives/{world.coop_a.id}").text
    token = {"Authorization": f"Bearer {create_token(session=db, user=world.users['center']).token}"}
    rows = client.get("/api/v1/dashboard", params={"decision": "conditional"}, headers=token).json()["rows"]
    assert [r["track_id"] for r in rows] == [track.id] and rows[0]["decision"] == "conditional"
    assert client.get("/api/v1/dashboard", params={"decision": "none"}, headers=token).json()["rows"] == []
    api = client.get(f"/api/v1/tracks/{track.id}/decisions", headers=token).json()
    assert (
        api[0]["outcome"] == "conditional"
        and api[0]["current"]
        and api[0]["report_sha256"] == decision.report_sha256
    )


def test_a_new_decision_supersedes_the_last_through_the_api(
    client: TestClient, db: Session, world: World, track: Track
) -> None:
    gov = {"Authorization": f"Bearer {create_token(session=db, user=world.users['municipality']).token}"}
    first = client.post(
        f"/api/v1/tracks/{track.id}/decisions",
        json={
            "outcome": "deferred",
            "decided_on": "2026-11-01",
            "document_number": "A-1",
            "reason": "준비 미비",
        },
        headers=gov,
    )
    assert first.status_code == 201, first.text
    missing = client.post(
        f"/api/v1/tracks/{track.id}/decisions",
        json={"outcome": "deferred", "decided_on": "2026-11-02", "document_number": "A-2"},
        headers=gov,
    )
    assert missing.status_code == 422 and "reason" in missing.json()["detail"]
    second = client.post(
        f"/api/v1/tracks/{track.id}/decisions",
        json={"outcome": "approved", "decided_on": "2026-11-20", "document_number": "A-3"},
        headers=gov,
    )
    assert second.status_code == 201
    listed = client.get(f"/api/v1/tracks/{track.id}/decisions", headers=gov).json()
    assert [(d["outcome"], d["current"]) for d in listed] == [("approved", True), ("deferred", False)]


@pytest.mark.parametrize(
    "path",
    [
        "/tracks/{id}/readiness",
        "/tracks/{id}/readiness.pdf",
        "/tracks/{id}/evidence.zip",
        "/tracks/{id}/checklist.xlsx",
    ],
)
def test_reports_are_invisible_to_other_regions(
    client: TestClient, db: Session, world: World, track: Track, path: str
) -> None:
    login(client, "gov-b")
    r = client.get(path.format(id=track.id))
    assert r.status_code == 404 and world.coop_a.name not in r.text


def test_only_the_cooperatives_own_municipality_decides(
    client: TestClient, db: Session, world: World, track: Track
) -> None:
    body = {"outcome": "approved", "decided_on": "2026-11-20", "document_number": "X-1"}
    for who, expected in (("center", 403), ("coop_a", 403), ("admin", 403), ("municipality_b", 404)):
        token = {"Authorization": f"Bearer {create_token(session=db, user=world.users[who]).token}"}
        assert (
            client.post(f"/api/v1/tracks/{track.id}/decisions", json=body, headers=token).status_code
            == expected
        ), who
        assert client.get(f"/api/v1/tracks/{track.id}/readiness", headers=token).status_code == (
            404 if who == "municipality_b" else 200
        )
    assert not db.exec(select(Decision)).all()


def test_the_checklist_exports_are_in_korean(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    import openpyxl

    change(db, world, track, model, COOP_CONSIGNMENT, status="done", assignee="사무국장", due_date=None)
    login(client, "coop-a")
    raw = client.get(f"/tracks/{track.id}/checklist.csv")
    assert raw.status_code == 200 and raw.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "단계",
        "항목",
        "주관",
        "지원",
        "위탁 전 확인",
        "상태",
        "확인 여부",
        "확인자",
        "확인일",
        "담당자",
        "기한",
        "메모",
        "증빙 수",
    ]
    assert len(rows) - 1 == len(model.items)
    row = next(r for r in rows if r[1] == model.item(COOP_CONSIGNMENT).text)  # type: ignore[union-attr]
    assert (row[2], row[4], row[5], row[6], row[9]) == ("조합", "예", "완료", "확인 대기", "사무국장")
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/tracks/{track.id}/checklist.xlsx").content))
    sheet = book["체크리스트"]
    assert [c.value for c in sheet[1]] == rows[0] and sheet.max_row == len(rows)


def test_the_verification_api_answers_409_for_a_stale_version_and_422_without_a_reason(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    from tests.fixtures.tracking_helpers import add_evidence_link

    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    add_evidence_link(db, world, track, model, COOP_CONSIGNMENT)
    gov = {"Authorization": f"Bearer {create_token(session=db, user=world.users['municipality']).token}"}
    url = f"/api/v1/tracks/{track.id}/items/{COOP_CONSIGNMENT}"
    assert client.post(f"{url}/request-changes", json={"version": 1}, headers=gov).status_code == 422
    assert (
        client.post(f"{url}/request-changes", json={"version": 1, "reason": ""}, headers=gov).status_code
        == 422
    )
    ok = client.post(f"{url}/verify", json={"version": 1, "note": "원본 확인"}, headers=gov)
    assert ok.status_code == 200 and ok.json()["verified_at"] and ok.json()["version"] == 2
    stale = client.post(f"{url}/unverify", json={"version": 1, "reason": "다시 보기"}, headers=gov)
    assert stale.status_code == 409 and stale.json()["current"]["version"] == 2
    back = client.post(f"{url}/request-changes", json={"version": 2, "reason": "도장 누락"}, headers=gov)
    assert back.status_code == 200 and back.json()["status"] == "doing" and back.json()["verified_at"] is None
