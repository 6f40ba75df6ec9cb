"""Rules 2, 4, 5 and 9 through the HTML routes: the track page, its forms, timelines and CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.models import Event, Track
from app.services import tracking
from tests.factories import World, login
from tests.fixtures.tracking_helpers import (
    CENTER_ITEM,
    COOP_CONSIGNMENT,
    COOP_ITEM,
    EXEC_ITEM,
    MUNI_CONSIGNMENT,
    MUNI_ITEM,
    add_evidence_link,
    change,
    event_count,
    events,
    start,
    state_of,
    version_of,
)

CONFLICT_MESSAGE = "다른 사용자가 먼저 변경했습니다. 최신 내용을 확인하세요."
HTMX = {"HX-Request": "true"}
PLAN_ITEM = COOP_CONSIGNMENT  # a plan-stage item the cooperative leads
LOGINS = {
    "coop_a": "coop-a",
    "coop_b": "coop-b",
    "center": "center-a",
    "center_b": "center-b",
    "municipality": "gov-a",
    "municipality_b": "gov-b",
    "admin": "admin",
}
ROW_RE = re.compile(r'<li class="trow trow--(\w+)" id="item-([a-z0-9-]+)">')


@pytest.fixture
def track(db: Session, world: World, catalog: Catalog) -> Track:
    return start(db, world, catalog)


def rows(html: str) -> dict[str, str]:
    """Checklist rows on a page or fragment: item key → status class."""
    return {key: status for status, key in ROW_RE.findall(html)}


def post_item(
    client: TestClient, csrf: str, track: Track, key: str, data: dict[str, str], *, htmx: bool = False
):
    return client.post(
        f"/tracks/{track.id}/items/{key}",
        data={"csrf_token": csrf, **data},
        headers=HTMX if htmx else {},
        follow_redirects=False,
    )


# --- rule 9: the page ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["coop_a", "center", "municipality", "admin"])
def test_the_track_page_renders_for_every_role_that_sees_it(
    client: TestClient, world: World, track: Track, model: BusinessModel, who: str
) -> None:
    login(client, LOGINS[who])
    r = client.get(f"/tracks/{track.id}")
    assert r.status_code == 200
    assert model.title in r.text
    assert world.coop_a.name in r.text
    assert set(rows(r.text)) == {item.key for _, item in model.items}
    assert "HX-Request" in r.headers["vary"]


@pytest.mark.parametrize("who", ["coop_b", "center_b", "municipality_b"])
def test_the_track_page_is_404_for_those_who_cannot_see_it(
    client: TestClient, world: World, track: Track, who: str
) -> None:
    login(client, LOGINS[who])
    r = client.get(f"/tracks/{track.id}")
    assert r.status_code == 404
    assert world.coop_a.name not in r.text


def test_the_page_offers_edit_forms_only_for_items_the_user_may_change(
    client: TestClient, track: Track, model: BusinessModel
) -> None:
    login(client, "center-a")
    page = client.get(f"/tracks/{track.id}").text
    editable = set(re.findall(rf'action="/tracks/{track.id}/items/([a-z0-9-]+)"', page))
    assert editable == {item.key for _, item in model.items if item.lead == "center"}


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    ("role", "leads"), [("coop", {"coop"}), ("center", {"center"}), ("municipality", {"municipality"})]
)
def test_the_role_filter_shows_only_items_that_role_leads(
    client: TestClient, track: Track, model: BusinessModel, htmx: bool, role: str, leads: set[str]
) -> None:
    login(client, "coop-a")
    r = client.get(f"/tracks/{track.id}", params={"role": role}, headers=HTMX if htmx else {})
    assert r.status_code == 200
    assert set(rows(r.text)) == {item.key for _, item in model.items if item.lead in leads}
    assert "HX-Request" in r.headers["vary"]


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_the_status_filter_shows_only_items_in_that_status(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel, htmx: bool
) -> None:
    change(db, world, track, model, COOP_ITEM, status="done")
    change(db, world, track, model, EXEC_ITEM, status="doing")
    change(db, world, track, model, MUNI_ITEM, who="municipality", status="done")
    login(client, "coop-a")
    headers = HTMX if htmx else {}
    done = client.get(f"/tracks/{track.id}", params={"status": "done"}, headers=headers)
    assert rows(done.text) == {COOP_ITEM: "done", MUNI_ITEM: "done"}
    doing = client.get(f"/tracks/{track.id}", params={"status": "doing"}, headers=headers)
    assert rows(doing.text) == {EXEC_ITEM: "doing"}
    both = client.get(f"/tracks/{track.id}", params={"status": "done", "role": "coop"}, headers=headers)
    assert rows(both.text) == {COOP_ITEM: "done"}
    todo = client.get(f"/tracks/{track.id}", params={"status": "todo"}, headers=headers)
    assert len(rows(todo.text)) == len(model.items) - 3
    assert (
        "조건에 맞는 항목이 없습니다."
        in client.get(f"/tracks/{track.id}", params={"status": "na"}, headers=headers).text
    )


def test_an_htmx_filter_answers_only_the_checklist_section(client: TestClient, track: Track) -> None:
    login(client, "coop-a")
    full = client.get(f"/tracks/{track.id}", params={"role": "coop"})
    fragment = client.get(f"/tracks/{track.id}", params={"role": "coop"}, headers=HTMX)
    assert "<html" in full.text and 'id="summary-title"' in full.text
    assert fragment.text.lstrip().startswith('<section id="checklist"')
    assert "<html" not in fragment.text
    assert 'id="summary-title"' not in fragment.text
    assert 'id="recent-events"' not in fragment.text
    assert "HX-Request" in fragment.headers["vary"]
    assert rows(fragment.text) == rows(full.text)


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    "params", [{"role": "admin"}, {"status": "finished"}, {"role": "coop", "status": "x"}]
)
def test_an_unknown_filter_value_is_400(client: TestClient, track: Track, htmx: bool, params: dict) -> None:
    login(client, "coop-a")
    r = client.get(f"/tracks/{track.id}", params=params, headers=HTMX if htmx else {})
    assert r.status_code == 400
    assert "알 수 없는" in r.text


def test_an_htmx_status_change_answers_the_row_and_out_of_band_progress(
    client: TestClient, db: Session, track: Track
) -> None:
    csrf = login(client, "coop-a")
    r = post_item(client, csrf, track, COOP_ITEM, {"version": "0", "status": "done"}, htmx=True)
    assert r.status_code == 200
    assert rows(r.text) == {COOP_ITEM: "done"}
    assert "<html" not in r.text
    assert re.search(
        r'id="progress-overall" hx-swap-oob="true">.*?8% <span class="muted">\(1/12\)</span>', r.text, re.S
    )
    assert re.search(
        r'id="progress-role-coop" hx-swap-oob="true">.*?25% <span class="muted">\(1/4\)</span>', r.text, re.S
    )
    assert re.search(
        r'id="progress-stage-execute" hx-swap-oob="true">.*?50% <span class="muted">\(1/2\)</span>',
        r.text,
        re.S,
    )
    assert re.search(
        r'id="progress-stage-prepare" hx-swap-oob="true">.*?0% <span class="muted">\(0/4\)</span>',
        r.text,
        re.S,
    )
    assert 'id="current-stage" class="current-stage" hx-swap-oob="true"' in r.text
    assert 'id="recent-events"' in r.text
    # The row carries the new version, so the next click is not stale.
    assert 'name="version" value="1"' in r.text
    assert state_of(db, track, COOP_ITEM).status == "done"  # type: ignore[union-attr]


def test_each_htmx_change_answers_its_own_progress(client: TestClient, db: Session, track: Track) -> None:
    """The out-of-band bars come from the fragment cache by the progress they show: a change
    back and forth shows each state's own numbers, never the previous answer's."""
    csrf = login(client, "coop-a")
    overall = re.compile(
        r'id="progress-overall" hx-swap-oob="true">.*?(\d+)% <span class="muted">\((\d+)/12\)', re.S
    )
    seen = []
    for version, status in enumerate(["done", "doing", "done", "todo", "done"]):
        r = post_item(client, csrf, track, COOP_ITEM, {"version": str(version), "status": status}, htmx=True)
        assert r.status_code == 200, r.text[:300]
        seen.append(overall.findall(r.text))
    assert seen == [[("8", "1")], [("0", "0")], [("8", "1")], [("0", "0")], [("8", "1")]]


def test_a_plain_form_post_redirects_back_to_the_item(client: TestClient, db: Session, track: Track) -> None:
    csrf = login(client, "coop-a")
    r = post_item(client, csrf, track, COOP_ITEM, {"version": "0", "status": "doing"})
    assert r.status_code == 303
    assert r.headers["location"] == f"/tracks/{track.id}#item-{COOP_ITEM}"
    page = client.get(r.headers["location"].split("#")[0]).text
    assert rows(page)[COOP_ITEM] == "doing"


def test_the_details_form_changes_several_fields_in_one_event(
    client: TestClient, db: Session, world: World, track: Track
) -> None:
    csrf = login(client, "coop-a")
    before = event_count(db, track)
    r = post_item(
        client,
        csrf,
        track,
        COOP_ITEM,
        {
            "version": "0",
            "from_details": "1",
            "status": "doing",
            "due_date": "2030-04-30",
            "na_reason": "",
            "assignee": "김담당",
            "note": "초안",
        },
        htmx=True,
    )
    assert r.status_code == 200
    assert event_count(db, track) == before + 1
    last = events(db, track)[-1]
    assert (last.actor_id, last.item_key) == (world.users["coop_a"].id, COOP_ITEM)
    assert last.changes == {
        "status": ["todo", "doing"],
        "due_date": [None, "2030-04-30"],
        "assignee": ["", "김담당"],
        "note": ["", "초안"],
    }
    assert '<details class="trow__details" open>' in r.text


def test_leaving_na_through_the_details_form_clears_the_reason(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    """The details form always sends the (prefilled) reason; a reason belongs to 해당 없음 only."""
    change(db, world, track, model, COOP_ITEM, status="na", na_reason="시설 없음")
    csrf = login(client, "coop-a")
    form = {"version": "1", "from_details": "1", "status": "doing", "na_reason": "시설 없음"}
    r = post_item(client, csrf, track, COOP_ITEM, {**form, "due_date": "", "assignee": "", "note": ""})
    assert r.status_code == 303
    state = state_of(db, track, COOP_ITEM)
    assert (state.status, state.na_reason) == ("doing", "")  # type: ignore[union-attr]
    assert events(db, track)[-1].changes == {"status": ["na", "doing"], "na_reason": ["시설 없음", ""]}


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_an_invalid_due_date_is_422_with_a_korean_message(
    client: TestClient, db: Session, track: Track, htmx: bool
) -> None:
    csrf = login(client, "coop-a")
    r = post_item(client, csrf, track, COOP_ITEM, {"version": "0", "due_date": "2030-02-31"}, htmx=htmx)
    assert r.status_code == 422
    assert "날짜 형식" in r.text
    assert state_of(db, track, COOP_ITEM) is None


def test_na_without_a_reason_is_422_on_the_row(client: TestClient, db: Session, track: Track) -> None:
    csrf = login(client, "coop-a")
    r = post_item(
        client, csrf, track, COOP_ITEM, {"version": "0", "status": "na", "na_reason": ""}, htmx=True
    )
    assert r.status_code == 422
    assert rows(r.text) == {COOP_ITEM: "todo"}
    assert "사유를 적어야 합니다" in r.text
    assert state_of(db, track, COOP_ITEM) is None


def test_a_missing_version_is_422(client: TestClient, db: Session, track: Track) -> None:
    csrf = login(client, "coop-a")
    r = post_item(client, csrf, track, COOP_ITEM, {"status": "doing"}, htmx=True)
    assert r.status_code == 422
    assert "버전 정보가 없습니다" in r.text
    assert state_of(db, track, COOP_ITEM) is None


@pytest.mark.parametrize(
    ("status", "overdue"), [("todo", True), ("doing", True), ("done", False), ("na", False)]
)
def test_past_due_dates_are_highlighted_unless_the_item_is_done(
    client: TestClient,
    db: Session,
    world: World,
    track: Track,
    model: BusinessModel,
    status: str,
    overdue: bool,
) -> None:
    yesterday = tracking.today_kst() - timedelta(days=1)
    tomorrow = tracking.today_kst() + timedelta(days=1)
    extra = {"na_reason": "해당 없음"} if status == "na" else {}
    change(db, world, track, model, COOP_ITEM, due_date=yesterday, status=status, **extra)
    change(db, world, track, model, EXEC_ITEM, due_date=tomorrow, status=status, **extra)
    login(client, "coop-a")
    page = client.get(f"/tracks/{track.id}").text
    row = page[page.index(f'id="item-{COOP_ITEM}"') :]
    row = row[: row.index("</li>")]
    assert ('class="due due--over"' in row) is overdue
    assert (f"기한 지남 · 기한 {yesterday.isoformat()}" in row) is overdue
    later = page[page.index(f'id="item-{EXEC_ITEM}"') :]
    later = later[: later.index("</li>")]
    assert f"기한 {tomorrow.isoformat()}" in later
    assert "due--over" not in later
    assert page.count("due--over") == (1 if overdue else 0)


def test_the_page_flags_open_preparation_items_once_planning_started(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    login(client, "coop-a")
    assert "미완료 항목" not in client.get(f"/tracks/{track.id}").text
    change(db, world, track, model, PLAN_ITEM, status="doing")
    assert "준비 단계 미완료 항목 4개" in client.get(f"/tracks/{track.id}").text
    change(db, world, track, model, MUNI_ITEM, who="municipality", status="done")
    page = client.get(f"/tracks/{track.id}").text
    assert "준비 단계 미완료 항목 3개" in page
    assert "준비 단계 미완료 항목 4개" not in page


def test_an_htmx_change_that_starts_planning_flags_it_out_of_band(client: TestClient, track: Track) -> None:
    csrf = login(client, "coop-a")
    r = post_item(client, csrf, track, PLAN_ITEM, {"version": "0", "status": "doing"}, htmx=True)
    assert re.search(
        r'id="flags-plan" class="stage__flags" hx-swap-oob="true">\s*<p class="flag" role="note">준비 단계 미완료 항목 4개</p>',
        r.text,
    )


# --- rule 2: rights through the routes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "key", "expected"),
    [
        ("coop_a", COOP_ITEM, 303),
        ("coop_a", MUNI_ITEM, 303),
        ("coop_a", CENTER_ITEM, 303),
        ("center", CENTER_ITEM, 303),
        ("center", COOP_ITEM, 403),
        ("center", MUNI_ITEM, 403),
        ("municipality", MUNI_ITEM, 303),
        ("municipality", MUNI_CONSIGNMENT, 303),
        ("municipality", COOP_CONSIGNMENT, 403),
        ("municipality", CENTER_ITEM, 403),
        ("admin", COOP_ITEM, 403),
        ("admin", MUNI_ITEM, 403),
        ("coop_b", COOP_ITEM, 404),
        ("center_b", CENTER_ITEM, 404),
        ("municipality_b", MUNI_ITEM, 404),
        ("coop_a", "no-such-item", 404),
    ],
)
def test_item_changes_follow_the_rights(
    client: TestClient, db: Session, track: Track, who: str, key: str, expected: int
) -> None:
    csrf = login(client, LOGINS[who])
    before = event_count(db, track)
    r = post_item(client, csrf, track, key, {"version": "0", "status": "doing"})
    assert r.status_code == expected
    if expected == 303:
        assert state_of(db, track, key).status == "doing"  # type: ignore[union-attr]
        assert event_count(db, track) == before + 1
    else:
        assert state_of(db, track, key) is None
        assert event_count(db, track) == before


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("coop_a", 303),
        ("center", 303),
        ("municipality", 303),
        ("admin", 403),
        ("coop_b", 404),
        ("center_b", 404),
    ],
)
def test_comments_follow_the_rights(
    client: TestClient, db: Session, world: World, track: Track, who: str, expected: int
) -> None:
    csrf = login(client, LOGINS[who])
    before = event_count(db, track)
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_ITEM}/comments",
        data={"csrf_token": csrf, "body": "일정 공유 부탁드립니다."},
        follow_redirects=False,
    )
    assert r.status_code == expected
    if expected == 303:
        assert event_count(db, track) == before + 1
        last = events(db, track)[-1]
        assert (last.action, last.actor_id) == ("comment", world.users[who].id)
        assert "일정 공유 부탁드립니다." in client.get(f"/tracks/{track.id}").text
    else:
        assert event_count(db, track) == before


@pytest.mark.parametrize(
    ("who", "expected"),
    [("coop_a", 303), ("center", 303), ("admin", 303), ("municipality", 403), ("coop_b", 404)],
)
def test_starting_a_track_follows_the_rights(
    client: TestClient, db: Session, world: World, who: str, expected: int
) -> None:
    csrf = login(client, LOGINS[who])
    r = client.post(
        f"/cooperatives/{world.coop_a.id}/tracks",
        data={"csrf_token": csrf, "model": "solar"},
        follow_redirects=False,
    )
    assert r.status_code == expected
    started = db.exec(select(Track).where(Track.cooperative_id == world.coop_a.id)).all()
    if expected == 303:
        assert r.headers["location"] == f"/tracks/{started[0].id}"
        assert [t.model_key for t in started] == ["solar"]
    else:
        assert started == []


@pytest.mark.parametrize(("model_key", "words"), [("hub-facility", "이미"), ("nope", "알 수 없는 사업모델")])
def test_a_duplicate_or_unknown_model_is_422(
    client: TestClient, db: Session, world: World, track: Track, model_key: str, words: str
) -> None:
    csrf = login(client, "coop-a")
    before = event_count(db)
    r = client.post(
        f"/cooperatives/{world.coop_a.id}/tracks",
        data={"csrf_token": csrf, "model": model_key},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert words in r.text
    assert event_count(db) == before


# --- rule 3 and 4 through the routes: verification and conflicts ---------------------------------


def test_the_municipality_verifies_a_consignment_item_from_the_page(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    add_evidence_link(db, world, track, model, COOP_CONSIGNMENT)  # 위탁 전 확인 needs evidence
    csrf = login(client, "gov-a")
    page = client.get(f"/tracks/{track.id}").text
    assert f'action="/tracks/{track.id}/items/{COOP_CONSIGNMENT}/verify"' in page
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_CONSIGNMENT}/verify",
        data={"csrf_token": csrf, "version": "1"},
        headers=HTMX,
    )
    assert r.status_code == 200
    assert "✓ 확인됨" in r.text
    assert state_of(db, track, COOP_CONSIGNMENT).verified_by_id == world.users["municipality"].id  # type: ignore[union-attr]
    again = client.post(
        f"/tracks/{track.id}/items/{COOP_CONSIGNMENT}/verify",
        data={"csrf_token": csrf, "version": "2"},
        headers=HTMX,
    )
    assert again.status_code == 422
    assert "이미 확인된 항목입니다" in again.text


def test_the_coop_cannot_verify_its_own_consignment_item(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    csrf = login(client, "coop-a")
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_CONSIGNMENT}/verify", data={"csrf_token": csrf, "version": "1"}
    )
    assert r.status_code == 403
    assert state_of(db, track, COOP_CONSIGNMENT).verified_at is None  # type: ignore[union-attr]


def test_an_htmx_stale_change_is_409_with_the_current_row(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    csrf = login(client, "coop-a")
    change(db, world, track, model, COOP_ITEM, status="done", assignee="다른 사람")  # someone else, first
    before = event_count(db, track)
    r = post_item(client, csrf, track, COOP_ITEM, {"version": "0", "status": "doing"}, htmx=True)
    assert r.status_code == 409
    assert CONFLICT_MESSAGE in r.text
    assert rows(r.text) == {COOP_ITEM: "done"}
    assert "담당 다른 사람" in r.text
    assert 'name="version" value="1"' in r.text
    assert event_count(db, track) == before
    assert version_of(db, track, COOP_ITEM) == 1


def test_a_plain_stale_change_is_409_with_the_page(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    csrf = login(client, "coop-a")
    change(db, world, track, model, COOP_ITEM, status="done")
    r = post_item(client, csrf, track, COOP_ITEM, {"version": "0", "status": "doing"})
    assert r.status_code == 409
    assert CONFLICT_MESSAGE in r.text
    assert rows(r.text)[COOP_ITEM] == "done"


def test_a_form_post_that_changes_nothing_appends_no_event(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, COOP_ITEM, status="doing")
    csrf = login(client, "coop-a")
    before = event_count(db, track)
    r = post_item(client, csrf, track, COOP_ITEM, {"version": "1", "status": "doing"}, htmx=True)
    assert r.status_code == 200
    assert event_count(db, track) == before
    assert version_of(db, track, COOP_ITEM) == 1


# --- rule 5: timelines and the CSV export -------------------------------------------------------


@pytest.fixture
def busy(db: Session, world: World, catalog: Catalog, track: Track, model: BusinessModel) -> Track:
    """Coop A: the hub-facility track with a few events, a solar track, and coop B's own track."""
    change(db, world, track, model, COOP_ITEM, status="doing", note='쉼표, "따옴표"\n줄바꿈')
    change(db, world, track, model, MUNI_ITEM, who="municipality", status="done")
    tracking.add_comment(
        session=db,
        principal=world.principal(db, "center"),
        track=track,
        model=model,
        item_key=COOP_ITEM,
        body="좋습니다",
    )
    solar = start(db, world, catalog, model_key="solar")
    solar_model = catalog.model("solar")
    assert solar_model is not None
    change(
        db,
        world,
        solar,
        solar_model,
        solar_model.items[0][1].key,
        who=_lead_user(solar_model.items[0][1].lead),
        status="doing",
    )
    start(db, world, catalog, who="coop_b", coop="b")
    return track


def _lead_user(lead: str) -> str:
    return {"coop": "coop_a", "center": "center", "municipality": "municipality"}[lead]


def test_the_csv_export_has_a_bom_a_header_and_one_row_per_event(
    client: TestClient, db: Session, busy: Track
) -> None:
    login(client, "gov-a")
    r = client.get(f"/tracks/{busy.id}/events.csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert (
        r.headers["content-disposition"] == f'attachment; filename="track-{busy.id}-hub-facility-events.csv"'
    )
    assert r.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8")[1:])))
    assert table[0] == ["번호", "일시(KST)", "한 사람", "활동", "항목 키", "항목", "폐지된 항목", "변경 내용"]
    body = table[1:]
    logged = events(db, busy)
    assert len(body) == len(logged) == 4
    assert [int(row[0]) for row in body] == sorted((e.id for e in logged), reverse=True)
    comment = body[0]
    assert (comment[2], comment[3], comment[4]) == ("center-a", "의견", COOP_ITEM)
    first_change = next(row for row in body if row[3] == "항목 변경" and row[4] == COOP_ITEM)
    assert '쉼표, "따옴표"\n줄바꿈' in first_change[7]
    assert "상태: 미착수 → 진행 중" in first_change[7]


def test_the_cooperative_timeline_lists_the_events_of_all_its_tracks(
    client: TestClient, db: Session, world: World, busy: Track, catalog: Catalog
) -> None:
    login(client, "center-a")
    r = client.get(f"/cooperatives/{world.coop_a.id}/events")
    assert r.status_code == 200
    coop_events = db.exec(
        select(func.count()).select_from(Event).where(Event.cooperative_id == world.coop_a.id)
    ).one()
    assert r.text.count('class="timeline__item"') == coop_events == 6
    assert "거점시설 운영관리" in r.text
    assert catalog.model("solar").title in r.text  # type: ignore[union-attr]
    assert world.coop_b.name not in r.text


def test_the_track_timeline_lists_only_that_tracks_events(
    client: TestClient, db: Session, busy: Track
) -> None:
    login(client, "coop-a")
    r = client.get(f"/tracks/{busy.id}/events")
    assert r.status_code == 200
    assert r.text.count('class="timeline__item"') == len(events(db, busy)) == 4
    assert "좋습니다" in r.text
    assert "상태: 미착수 → 진행 중" in r.text


def test_the_timeline_pages_by_fifty(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    for i in range(54):
        change(db, world, track, model, COOP_ITEM, note=f"메모 {i}")
    login(client, "coop-a")
    first = client.get(f"/tracks/{track.id}/events")
    assert first.text.count('class="timeline__item"') == 50
    more = re.search(r'href="(/tracks/\d+/events\?before=\d+)"', first.text)
    assert more
    second = client.get(more.group(1))
    assert second.text.count('class="timeline__item"') == 5  # 4 older notes + track started
    assert "사업 추진 시작" in second.text
    assert "이전 기록 더 보기" not in second.text


@pytest.mark.parametrize("path", ["/tracks/{id}/events", "/tracks/{id}/events.csv"])
def test_timelines_are_404_for_those_who_cannot_see_the_track(
    client: TestClient, busy: Track, path: str
) -> None:
    login(client, "coop-b")
    assert client.get(path.format(id=busy.id)).status_code == 404
