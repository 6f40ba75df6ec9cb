"""상담·지원 기록 and 지원 실적 through the pages and the API: forms with and without HTMX,
Korean field errors that keep what was typed, 404/403/409, the xlsx, and the statement counts."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.models import CenterTarget, Consultation, Cooperative, SupportCenter
from app.services import consultations as svc
from app.services import support
from app.services.auth import create_token
from app.services.consultations import ConsultationInput
from app.services.tracking import today_kst
from tests.factories import World, login
from tests.fixtures.tracking_helpers import start
from tests.test_queries import statements_for

HTMX = {"HX-Request": "true"}


def _record(
    db: Session, world: World, catalog: Catalog, *, who: str = "center", **fields: Any
) -> Consultation:
    today = today_kst()
    data = {"held_on": today - timedelta(days=2), "channel": "phone", "topic": "회계 프로그램 문의", **fields}
    coop = data.pop("coop", world.coop_a)
    return svc.record_consultation(
        session=db,
        principal=world.principal(db, who),
        cooperative=coop,
        catalog=catalog,
        data=ConsultationInput(**data),
    )


def _form(csrf: str, **fields: str) -> dict[str, str]:
    today = today_kst()
    return {
        "csrf_token": csrf,
        "held_on": today.isoformat(),
        "channel": "visit",
        "topic": "마을식당 위생 점검",
        "request": "점검표 양식이 필요합니다.",
        "advice": "보건소 양식을 전달했습니다.",
        "follow_up_on": (today + timedelta(days=7)).isoformat(),
        **fields,
    }


def _url(world: World) -> str:
    return f"/cooperatives/{world.coop_a.id}/consultations"


# --- the page per role -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "form"), [("center", True), ("municipality", True), ("coop_a", False), ("admin", False)]
)
def test_the_timeline_for_each_role(
    client: TestClient, db: Session, world: World, catalog: Catalog, who: str, form: bool
) -> None:
    c = _record(db, world, catalog, follow_up_on=today_kst() - timedelta(days=1), request="요청 내용입니다.")
    login(client, world.users[who].login)
    r = client.get(_url(world))
    assert r.status_code == 200 and "HX-Request" in r.headers["vary"]
    assert f'id="consultation-{c.id}"' in r.text
    assert "회계 프로그램 문의" in r.text and "요청 내용입니다." in r.text and "전화" in r.text
    assert "기한 지남" in r.text  # open with its follow-up date passed
    assert world.center_a.name in r.text  # the author's organization
    assert ('id="consultation-new"' in r.text) is form
    # Only the recording center follows up: its resolve form, nobody else's.
    assert (f"res-{c.id}" in r.text) is (who == "center")


def test_the_invisible_cooperative_is_a_404(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    c = _record(db, world, catalog)
    csrf = login(client, "coop-b")
    assert client.get(_url(world)).status_code == 404
    r = client.post(f"/consultations/{c.id}", data={"csrf_token": csrf, "version": "1", "status": "open"})
    assert r.status_code == 404 and world.coop_a.name not in r.text
    login(client, "center-b")
    assert client.get(_url(world)).status_code == 404
    assert client.post(_url(world), data=_form(csrf_of_page(client))).status_code == 404


def csrf_of_page(client: TestClient) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert match
    return match.group(1)


# --- recording -------------------------------------------------------------------------------------


def test_recording_with_a_plain_form_redirects_to_the_entry(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    track = start(db, world, catalog)
    csrf = login(client, "center-a")
    r = client.post(
        _url(world), data=_form(csrf, track_id=str(track.id), item_key="governance"), follow_redirects=False
    )
    assert r.status_code == 303
    stored = db.exec(select(Consultation)).one()
    assert (
        r.headers["location"] == f"{_url(world)}?consultation={stored.id}&saved=true#consultation-{stored.id}"
    )
    assert (stored.center_id, stored.track_id, stored.item_key, stored.channel) == (
        world.center_a.id,
        track.id,
        "governance",
        "visit",
    )
    page = client.get(r.headers["location"])
    assert "상담 기록을 저장했습니다." in page.text and "마을식당 위생 점검" in page.text
    assert f'href="/tracks/{track.id}#item-governance"' in page.text


def test_recording_with_htmx_swaps_the_block(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    csrf = login(client, "gov-a")
    r = client.post(_url(world), data=_form(csrf, topic="공유재산 사용료 문의"), headers=HTMX)
    assert r.status_code == 200 and "HX-Request" in r.headers["vary"]
    assert r.text.lstrip().startswith('<div id="consultations"') and "<html" not in r.text
    assert "공유재산 사용료 문의" in r.text and "상담 기록을 저장했습니다." in r.text
    assert 'name="topic" type="text" value=""' in r.text  # an empty form for the next one
    stored = db.exec(select(Consultation)).one()
    assert (stored.municipality_id, stored.center_id) == (world.muni_a.id, None)


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_errors_are_korean_and_keep_the_typed_input(
    client: TestClient, db: Session, world: World, htmx: bool
) -> None:
    csrf = login(client, "center-a")
    future = (today_kst() + timedelta(days=3)).isoformat()
    r = client.post(
        _url(world),
        data=_form(csrf, held_on=future, topic="", follow_up_on="2026-02-30", advice="적어 둔 조언"),
        headers=HTMX if htmx else {},
    )
    assert r.status_code == 422
    assert ("<html" in r.text) is not htmx
    assert "상담일은 오늘 이후일 수 없습니다." in r.text
    assert "상담 주제를 입력하세요." in r.text
    assert "날짜를 YYYY-MM-DD 형식으로 입력하세요." in r.text
    assert f'value="{future}"' in r.text and "적어 둔 조언" in r.text and 'value="2026-02-30"' in r.text
    assert 'aria-invalid="true" aria-describedby="e-topic"' in r.text
    assert db.exec(select(Consultation)).first() is None


@pytest.mark.parametrize("who", ["coop-a", "admin"])
def test_cooperatives_and_admin_may_not_record(
    client: TestClient, db: Session, world: World, who: str
) -> None:
    csrf = login(client, who)
    r = client.post(_url(world), data=_form(csrf))
    assert r.status_code == 403 and "도시재생지원센터와 지자체 담당자가 남깁니다" in r.text


# --- following up ----------------------------------------------------------------------------------


def test_resolving_with_htmx_answers_with_the_entry(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    c = _record(db, world, catalog, follow_up_on=today_kst() + timedelta(days=3))
    csrf = login(client, "center-a")
    url = f"/consultations/{c.id}"
    empty = client.post(
        url, data={"csrf_token": csrf, "version": "1", "status": "resolved", "resolution": " "}, headers=HTMX
    )
    assert empty.status_code == 422
    assert empty.text.lstrip().startswith(f'<li class="consult consult--open" id="consultation-{c.id}"')
    assert "해결로 바꾸려면 어떻게 해결했는지 적어야 합니다." in empty.text
    assert '<details class="mini-details" open>' in empty.text  # the form stays open with its error

    done = client.post(
        url,
        data={
            "csrf_token": csrf,
            "version": "1",
            "status": "resolved",
            "resolution": "양식을 함께 작성했습니다.",
        },
        headers=HTMX,
    )
    assert done.status_code == 200
    assert f'id="consultation-{c.id}"' in done.text and "consult--resolved" in done.text
    assert "양식을 함께 작성했습니다." in done.text and today_kst().isoformat() in done.text
    assert "다시 진행 중으로" in done.text

    stale = client.post(url, data={"csrf_token": csrf, "version": "1", "status": "open"}, headers=HTMX)
    assert stale.status_code == 409 and "다른 사용자가 먼저 변경했습니다" in stale.text
    assert 'name="version" value="2"' in stale.text  # the stored entry, ready to retry


def test_plain_update_redirects_and_edits_the_follow_up(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    c = _record(db, world, catalog)
    csrf = login(client, "center-a")
    later = (today_kst() + timedelta(days=10)).isoformat()
    r = client.post(
        f"/consultations/{c.id}",
        data={"csrf_token": csrf, "version": "1", "follow_up_on": later, "advice": "다음 주에 다시 전화"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"{_url(world)}?consultation={c.id}#consultation-{c.id}"
    db.refresh(c)
    assert (c.follow_up_on, c.advice, c.version) == (date.fromisoformat(later), "다음 주에 다시 전화", 2)
    bad = client.post(
        f"/consultations/{c.id}",
        data={"csrf_token": csrf, "version": "2", "follow_up_on": "2000-01-01", "advice": "고친 조언"},
    )
    assert bad.status_code == 422 and "<html" in bad.text
    assert "후속 조치일은 상담일보다 앞설 수 없습니다." in bad.text
    assert "고친 조언" in bad.text and 'value="2000-01-01"' in bad.text
    no_version = client.post(
        f"/consultations/{c.id}", data={"csrf_token": csrf, "status": "open"}, headers=HTMX
    )
    assert no_version.status_code == 422 and "버전이 없습니다" in no_version.text


def test_another_organization_cannot_follow_up(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    c = _record(db, world, catalog)
    csrf = login(client, "gov-a")
    r = client.post(
        f"/consultations/{c.id}",
        data={"csrf_token": csrf, "version": "1", "status": "resolved", "resolution": "x"},
    )
    assert r.status_code == 403 and "기록한 기관" in r.text


def test_a_deep_link_opens_the_page_that_holds_the_entry(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    today = today_kst()
    made = [
        _record(db, world, catalog, held_on=today - timedelta(days=i), topic=f"상담 {i:02d}")
        for i in range(25)
    ]
    login(client, "coop-a")
    first = client.get(_url(world))
    assert "상담 00" in first.text and "상담 24" not in first.text and "1 / 2쪽" in first.text
    oldest = made[-1]
    linked = client.get(_url(world), params={"consultation": oldest.id})
    assert f'id="consultation-{oldest.id}"' in linked.text and "2 / 2쪽" in linked.text


# --- the statement counts -----------------------------------------------------------------------------


def test_the_timeline_query_count_does_not_grow_with_rows(
    client: TestClient, db: Session, world: World, catalog: Catalog, engine: Engine
) -> None:
    track = start(db, world, catalog)
    _record(db, world, catalog, track_id=track.id, item_key="governance")
    login(client, "center-a")
    few = statements_for(client, engine, _url(world))
    for i in range(30):
        c = _record(
            db,
            world,
            catalog,
            who="center" if i % 2 else "municipality",
            track_id=track.id,
            item_key="manual",
        )
        if i % 3 == 0:
            svc.update_consultation(
                session=db,
                principal=world.principal(db, "center" if i % 2 else "municipality"),
                consultation=c,
                version=1,
                changes={"status": "resolved", "resolution": "해결"},
            )
    many = statements_for(client, engine, _url(world))
    assert len(few) == len(many), "\n".join(many)


def test_the_statistics_page_query_count_does_not_grow_with_rows(
    client: TestClient, db: Session, world: World, catalog: Catalog, engine: Engine
) -> None:
    login(client, "admin")
    few = statements_for(client, engine, "/dashboard/support")
    for i in range(12):
        db.add(SupportCenter(name=f"추가 센터 {i:02d}"))
        _record(
            db,
            world,
            catalog,
            who="center_b" if i % 2 else "center",
            coop=world.coop_b if i % 2 else world.coop_a,
        )
    db.flush()
    many = statements_for(client, engine, "/dashboard/support")
    assert len(few) == len(many), "\n".join(many)
    assert (
        client.get("/dashboard/support").text.count('data-label="도시재생지원센터"') == 2 + 12 + 1
    )  # and 합계


# --- statistics pages -------------------------------------------------------------------------------


def _rate_cell(html: str, center: str) -> str:
    row = re.search(
        rf'<th scope="row" data-label="도시재생지원센터">{re.escape(center)}</th>(.*?)</tr>', html, re.S
    )
    assert row, f"no row for {center}"
    cell = re.search(r'<td data-label="해결률[^"]*" class="num">(.*?)</td>', row.group(1), re.S)
    assert cell
    return " ".join(re.sub(r"<[^>]+>", " ", cell.group(1)).split())


def test_the_statistics_page_shows_the_rate_against_the_target(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    for i in range(5):
        c = _record(db, world, catalog, topic=f"상담 {i}")
        if i < 4:
            svc.update_consultation(
                session=db,
                principal=world.principal(db, "center"),
                consultation=c,
                version=1,
                changes={"status": "resolved", "resolution": "해결"},
            )
    _record(db, world, catalog, who="center_b", coop=world.coop_b)
    login(client, "admin")
    html = client.get("/dashboard/support").text
    assert _rate_cell(html, world.center_a.name) == "80% ✓ 목표 달성"
    assert _rate_cell(html, world.center_b.name) == "0% ✗ 목표 미달"
    last_year = client.get("/dashboard/support", params={"year": today_kst().year - 1}).text
    assert _rate_cell(last_year, world.center_a.name) == "— 상담 없음"
    login(client, "center-b")
    own = client.get("/dashboard/support").text
    assert world.center_a.name not in own and _rate_cell(own, world.center_b.name) == "0% ✗ 목표 미달"


@pytest.mark.parametrize("year", ["1999", "twenty", "20266", "２０２６"])
def test_a_wrong_year_is_a_korean_422(client: TestClient, world: World, year: str) -> None:
    login(client, "center-a")
    r = client.get("/dashboard/support", params={"year": year})
    assert r.status_code == 422 and "연도는 2000부터" in r.text and "<html" in r.text
    assert 'aria-invalid="true"' in r.text
    x = client.get("/dashboard/support.xlsx", params={"year": year})
    assert x.status_code == 422 and "연도는 2000부터" in x.text


def test_cooperatives_have_no_statistics(client: TestClient, world: World) -> None:
    login(client, "coop-a")
    assert client.get("/dashboard/support").status_code == 403
    assert client.get("/dashboard/support.xlsx").status_code == 403


def test_the_dashboard_links_to_the_statistics(client: TestClient, world: World) -> None:
    login(client, "center-a")
    assert 'href="/dashboard/support"' in client.get("/dashboard").text


def test_xlsx_equals_the_api_summary(client: TestClient, db: Session, world: World, catalog: Catalog) -> None:
    c = _record(db, world, catalog, follow_up_on=today_kst())
    svc.update_consultation(
        session=db,
        principal=world.principal(db, "center"),
        consultation=c,
        version=1,
        changes={"status": "resolved", "resolution": "해결"},
    )
    _record(db, world, catalog)
    db.add(
        CenterTarget(center_id=world.center_a.id, year=today_kst().year, metric="consultations", target=10)
    )  # type: ignore[arg-type]
    db.flush()
    login(client, "admin")
    r = client.get("/dashboard/support.xlsx")
    assert r.status_code == 200 and "filename*=UTF-8''" in r.headers["content-disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).worksheets[0]
    rows = [[cell.value for cell in row] for row in ws.iter_rows()]
    assert rows[0][:3] == ["도시재생지원센터", "상담 건수", "상담 건수 목표"]
    token = create_token(session=db, user=world.users["admin"]).token
    api = client.get("/api/v1/consultations/summary", headers={"Authorization": f"Bearer {token}"}).json()
    by_center = {row[0]: row for row in rows[1:]}
    assert set(by_center) == {a["center"] for a in api} | {"합계"}
    for a in api:
        row = by_center[a["center"]]
        assert row[1:3] == [a["consultations"], a["targets"]["consultations"]["target"]]
        assert row[3] == a["cooperatives"] and row[5:8] == [
            a["follow_ups_due"],
            a["follow_ups_on_time"],
            a["resolved"],
        ]
        assert row[8] == a["resolution_rate"] and row[9] == 0.8
    assert by_center[world.center_a.name][1:11] == [2, 10, 1, None, 1, 1, 1, 0.5, 0.8, "미달"]


# --- targets through the page ---------------------------------------------------------------------


def test_admin_sets_targets_on_the_page(client: TestClient, db: Session, world: World) -> None:
    csrf = login(client, "admin")
    year = str(today_kst().year)
    data = {
        "csrf_token": csrf,
        "center_id": str(world.center_a.id),
        "year": year,
        "target_consultations": "30",
        "target_reached_execute": "2",
        "target_cooperatives": "",
        "target_stage_completions": "",
    }
    r = client.post("/dashboard/support/targets", data=data, follow_redirects=False)
    assert (
        r.status_code == 303
        and r.headers["location"] == f"/dashboard/support?year={year}#targets-{world.center_a.id}"
    )
    stored = {
        t.metric: t.target
        for t in db.exec(select(CenterTarget).where(col(CenterTarget.center_id) == world.center_a.id))
    }
    assert stored == {"consultations": 30, "reached_execute": 2}
    page = client.get("/dashboard/support").text
    assert "목표 30 · 30 남음" in page and f'id="t-{world.center_a.id}-consultations"' in page

    swapped = client.post(
        "/dashboard/support/targets", data={**data, "target_reached_execute": ""}, headers=HTMX
    )
    assert swapped.status_code == 200 and swapped.text.lstrip().startswith('<div id="support-stats">')
    assert "목표를 저장했습니다." in swapped.text
    stored = {
        t.metric: t.target
        for t in db.exec(select(CenterTarget).where(col(CenterTarget.center_id) == world.center_a.id))
    }
    assert stored == {"consultations": 30}

    bad = client.post(
        "/dashboard/support/targets", data={**data, "target_consultations": "서른"}, headers=HTMX
    )
    assert bad.status_code == 422 and "0부터 100,000 사이의 정수로 입력하세요" in bad.text
    assert 'value="서른"' in bad.text


def test_only_admin_sets_targets(client: TestClient, world: World) -> None:
    csrf = login(client, "center-a")
    r = client.post(
        "/dashboard/support/targets",
        data={
            "csrf_token": csrf,
            "center_id": str(world.center_a.id),
            "year": "2026",
            "target_consultations": "99",
        },
    )
    assert r.status_code == 403


# --- the API -------------------------------------------------------------------------------------


def _bearer(db: Session, world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(session=db, user=world.users[who]).token}"}


def test_api_records_lists_and_resolves(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    track = start(db, world, catalog)
    center = _bearer(db, world, "center")
    today = today_kst()
    body = {
        "held_on": today.isoformat(),
        "channel": "training",
        "topic": "회계 교육",
        "request": "결산 교육 요청",
        "advice": "세무사 연계",
        "track_id": track.id,
        "item_key": "governance",
        "follow_up_on": (today + timedelta(days=14)).isoformat(),
    }
    created = client.post(f"/api/v1/cooperatives/{world.coop_a.id}/consultations", json=body, headers=center)
    assert created.status_code == 201, created.text
    out = created.json()
    assert {k: out[k] for k in body} == body
    assert (out["status"], out["version"], out["author_org"], out["author_role"], out["overdue"]) == (
        "open",
        1,
        world.center_a.name,
        "center",
        False,
    )
    listed = client.get(
        f"/api/v1/cooperatives/{world.coop_a.id}/consultations", headers=_bearer(db, world, "coop_a")
    )
    assert [c["id"] for c in listed.json()] == [out["id"]]

    url = f"/api/v1/consultations/{out['id']}"
    missing = client.patch(url, json={"version": 1, "status": "resolved"}, headers=center)
    assert missing.status_code == 422
    assert missing.json()["detail"] == {"resolution": "해결로 바꾸려면 어떻게 해결했는지 적어야 합니다."}
    done = client.patch(
        url, json={"version": 1, "status": "resolved", "resolution": "교육 완료"}, headers=center
    )
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["resolved_on"], done.json()["version"]) == (
        "resolved",
        today.isoformat(),
        2,
    )
    stale = client.patch(url, json={"version": 1, "status": "open"}, headers=center)
    assert stale.status_code == 409 and stale.json()["current"]["version"] == 2
    cleared = client.patch(url, json={"version": 2, "follow_up_on": None}, headers=center)
    assert cleared.status_code == 200 and cleared.json()["follow_up_on"] is None
    assert (
        client.patch(
            url, json={"version": 3, "status": "open"}, headers=_bearer(db, world, "municipality")
        ).status_code
        == 403
    )
    assert (
        client.patch(
            url, json={"version": 3, "status": "open"}, headers=_bearer(db, world, "coop_b")
        ).status_code
        == 404
    )


def test_api_field_errors_and_roles(client: TestClient, db: Session, world: World, catalog: Catalog) -> None:
    url = f"/api/v1/cooperatives/{world.coop_a.id}/consultations"
    future = (today_kst() + timedelta(days=1)).isoformat()
    bad = client.post(
        url,
        json={"held_on": future, "channel": "visit", "topic": "주제", "item_key": "governance"},
        headers=_bearer(db, world, "municipality"),
    )
    assert bad.status_code == 422
    assert bad.json()["detail"] == {
        "held_on": "상담일은 오늘 이후일 수 없습니다.",
        "item_key": "항목을 고르려면 관련 사업도 골라야 합니다.",
    }
    shape = client.post(
        url,
        json={"held_on": "2026-01-01", "channel": "fax", "topic": ""},
        headers=_bearer(db, world, "center"),
    )
    assert shape.status_code == 422 and {e["loc"][-1] for e in shape.json()["detail"]} == {"channel", "topic"}
    ok = {"held_on": today_kst().isoformat(), "channel": "visit", "topic": "주제"}
    assert client.post(url, json=ok, headers=_bearer(db, world, "coop_a")).status_code == 403
    assert client.post(url, json=ok, headers=_bearer(db, world, "admin")).status_code == 403
    assert client.post(url, json=ok, headers=_bearer(db, world, "coop_b")).status_code == 404
    assert client.get(url, headers=_bearer(db, world, "center_b")).status_code == 404


def test_api_summary(client: TestClient, db: Session, world: World, catalog: Catalog) -> None:
    c = _record(db, world, catalog)
    _record(db, world, catalog)
    svc.update_consultation(
        session=db,
        principal=world.principal(db, "center"),
        consultation=c,
        version=1,
        changes={"status": "resolved", "resolution": "해결"},
    )
    year = today_kst().year
    r = client.get(
        "/api/v1/consultations/summary", params={"year": year}, headers=_bearer(db, world, "municipality")
    )
    assert r.status_code == 200
    (row,) = r.json()
    assert row == {
        "center_id": world.center_a.id,
        "center": world.center_a.name,
        "consultations": 2,
        "cooperatives": 1,
        "follow_ups_due": 0,
        "follow_ups_on_time": 0,
        "resolved": 1,
        "resolution_rate": 0.5,
        "resolution_target": 0.8,
        "stage_completions": 0,
        "reached_execute": 0,
        "targets": {
            m: {"target": None, "actual": row["targets"][m]["actual"]} for m in support.METRIC_ACTUAL
        },
    }
    assert row["targets"]["consultations"]["actual"] == 2
    empty = client.get(
        "/api/v1/consultations/summary", params={"year": year - 3}, headers=_bearer(db, world, "center")
    )
    assert empty.json()[0]["resolution_rate"] is None
    assert (
        client.get(
            "/api/v1/consultations/summary", params={"year": 1999}, headers=_bearer(db, world, "center")
        ).status_code
        == 422
    )
    far = client.get(
        "/api/v1/consultations/summary", params={"year": year + 5}, headers=_bearer(db, world, "center")
    )
    assert far.status_code == 422 and "year" in far.json()["detail"]
    assert (
        client.get("/api/v1/consultations/summary", headers=_bearer(db, world, "coop_a")).status_code == 403
    )


def test_openapi_documents_the_consultation_models(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {
        "ConsultationIn",
        "ConsultationPatch",
        "ConsultationOut",
        "SupportSummaryOut",
        "TargetOut",
    } <= set(schemas)
    patch = spec["paths"]["/api/v1/consultations/{consultation_id}"]["patch"]
    assert {"200", "403", "409", "422"} <= set(patch["responses"])
    assert "201" in spec["paths"]["/api/v1/cooperatives/{cooperative_id}/consultations"]["post"]["responses"]


# --- done when: as center-seoul, log a visit with a follow-up, see it, resolve it, see the rate move ----


def _center_numbers(html: str, center: str) -> tuple[int, int, str]:
    row = re.search(
        rf'<th scope="row" data-label="도시재생지원센터">{re.escape(center)}</th>(.*?)</tr>', html, re.S
    )
    assert row
    cells = dict(re.findall(r'<td data-label="([^"]+)" class="num">(.*?)</td>', row.group(1), re.S))
    held = int(re.sub(r"<[^>]+>.*", "", cells["상담"], flags=re.S).strip())
    resolved = int(cells["해결"].strip())
    return held, resolved, _rate_cell(html, center)


def test_done_when_center_seoul_logs_follows_up_and_resolves(
    client: TestClient, db: Session, catalog: Catalog
) -> None:
    from app.services.demo import DEMO_PASSWORD, load_demo

    load_demo(session=db, catalog=catalog)
    seoul = db.exec(select(Cooperative).where(Cooperative.name == "서울 도시재생 사회적협동조합")).one()
    center = "서울특별시 도시재생지원센터"
    csrf = login(client, "center-seoul", DEMO_PASSWORD)
    held0, resolved0, _ = _center_numbers(client.get("/dashboard/support").text, center)

    # Log a visit with a follow-up date, through the form, and see it on the timeline.
    today = today_kst()
    follow = today + timedelta(days=5)
    url = f"/cooperatives/{seoul.id}/consultations"
    r = client.post(
        url,
        data={
            "csrf_token": csrf,
            "held_on": today.isoformat(),
            "channel": "visit",
            "topic": "주민 공용공간 운영 시간 조정",
            "request": "저녁 시간 운영 인력이 부족합니다.",
            "advice": "자원봉사 교대표를 함께 만들기로 했습니다.",
            "follow_up_on": follow.isoformat(),
        },
    )
    assert r.status_code == 200 and "상담 기록을 저장했습니다." in r.text  # after the 303
    entry = re.search(r'<li class="consult consult--open" id="consultation-(\d+)">(.*?)</li>', r.text, re.S)
    assert entry and "주민 공용공간 운영 시간 조정" in entry.group(2) and follow.isoformat() in entry.group(2)
    cid = int(entry.group(1))
    principal = next(
        f
        for f in svc.follow_ups_due(
            session=db,
            principal=svc_principal(db, "center-seoul"),
            until=follow,
        )
        if f.consultation_id == cid
    )
    assert principal.follow_up_on == follow  # what 내 할 일 and the digest list

    held1, resolved1, rate1 = _center_numbers(client.get("/dashboard/support").text, center)
    assert (held1, resolved1) == (held0 + 1, resolved0)

    # Resolve it with a note; the rate moves up.
    version = re.search(rf'id="consultation-{cid}".*?name="version" value="(\d+)"', r.text, re.S)
    assert version
    done = client.post(
        f"/consultations/{cid}",
        data={
            "csrf_token": csrf,
            "version": version.group(1),
            "status": "resolved",
            "resolution": "교대표 확정, 저녁 운영 재개",
        },
    )
    assert done.status_code == 200 and "교대표 확정, 저녁 운영 재개" in done.text
    held2, resolved2, rate2 = _center_numbers(client.get("/dashboard/support").text, center)
    assert (held2, resolved2) == (held1, resolved1 + 1)
    assert rate1 == f"{resolved1 * 100 // held1}% " + (
        "✓ 목표 달성" if resolved1 / held1 >= 0.8 else "✗ 목표 미달"
    )
    assert rate2 == f"{resolved2 * 100 // held2}% " + (
        "✓ 목표 달성" if resolved2 / held2 >= 0.8 else "✗ 목표 미달"
    )
    assert resolved2 / held2 > resolved1 / held1


def svc_principal(db: Session, login_name: str) -> Any:
    from app.models import User
    from app.services.principal import load_principal

    user = db.exec(select(User).where(User.login == login_name)).one()
    return load_principal(session=db, user_id=user.id or 0)


def test_the_short_list_component_for_the_cooperative_page(
    app: Any, db: Session, world: World, catalog: Catalog
) -> None:
    """What the cooperative page includes: compact entries linking to their place on the timeline."""
    from starlette.requests import Request

    from app.templating import templates

    made = [_record(db, world, catalog, topic=f"짧은 목록 {i}") for i in range(4)]
    listing = svc.list_consultations(
        session=db,
        principal=world.principal(db, "coop_a"),
        cooperative=world.coop_a,
        catalog=catalog,
        page_size=3,
    )
    request = Request({"type": "http", "app": app, "headers": [], "method": "GET", "path": "/"})
    html = templates.env.from_string(
        '{% from "components/consultation_list.html" import consultation_list with context %}'
        "{{ consultation_list(listing.rows, coop.id, listing.total) }}"
    ).render(request=request, listing=listing, coop=world.coop_a, csrf_token="t")
    newest = made[-1]
    assert f'href="{_url(world)}?consultation={newest.id}#consultation-{newest.id}"' in html
    assert html.count('<li class="consult') == 3 and "<form" not in html and 'id="consultation-' not in html
    assert f'href="{_url(world)}">상담·지원 기록 전체 보기 (4건)</a>' in html
