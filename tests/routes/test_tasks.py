"""내 할 일 through the pages and the API, the one-click change, the calendar feed, and the
cooperative home's 다음 할 일."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlmodel import Session, select

from app.catalog import Catalog
from app.models import ItemState, User
from app.services import calendar, tasks, tracking
from app.services.auth import create_token
from tests.factories import PASSWORD, World, csrf_of, login
from tests.fixtures.tracking_helpers import (
    CENTER_ITEM,
    CENTER_ITEM_2,
    COOP_ITEM,
    change,
    hub,
    start,
    version_of,
)


def _today() -> date:
    return tracking.today_kst()


@pytest.fixture
def busy(db: Session, world: World, catalog: Catalog) -> World:
    """Coop A follows hub-facility: one overdue item, one due soon, one later, one center item done."""
    model = hub(catalog)
    t = start(db, world, catalog)
    today = _today()
    change(db, world, t, model, COOP_ITEM, status="doing", due_date=today - timedelta(days=3))
    change(db, world, t, model, "operating-plan", due_date=today + timedelta(days=5))
    change(db, world, t, model, "operation", due_date=today + timedelta(days=40))
    change(db, world, t, model, CENTER_ITEM, who="center", status="done")
    world.extra["track"] = t
    return world


def test_the_page_groups_by_urgency(client: TestClient, busy: World) -> None:
    login(client, "coop-a")
    r = client.get("/tasks")
    assert r.status_code == 200
    html = r.text
    overdue = html.index('id="group-overdue"')
    soon = html.index('id="group-due_soon"')
    lead = html.index('id="group-lead_open"')
    assert overdue < soon < lead
    # The overdue item is listed once, in the most urgent group, linking to its row.
    t = busy.extra["track"]
    assert html.count(f'id="task-{t.id}-{COOP_ITEM}"') == 1
    assert html.index(f'id="task-{t.id}-{COOP_ITEM}"') < soon
    assert f"/tracks/{t.id}#item-{COOP_ITEM}" in html
    assert "기한 지남 3일" in html


def test_center_sees_what_awaits_its_confirmation(client: TestClient, busy: World) -> None:
    t = busy.extra["track"]
    login(client, "center-a")
    html = client.get("/tasks").text
    start_at = html.index('id="group-awaiting_my_verification"')
    section = html[start_at : html.index("</section>", start_at)]
    # The center did its own item; it waits for the center's 확인, with a way to go and give it.
    assert f'id="task-{t.id}-{CENTER_ITEM}"' in section
    assert "확인하러 가기" in section
    # The cooperative's items are not the center's tasks.
    assert f'id="task-{t.id}-{COOP_ITEM}"' not in html


def test_one_click_change_keeps_focus_and_answers_409_when_stale(
    client: TestClient, busy: World, db: Session
) -> None:
    t = busy.extra["track"]
    csrf = login(client, "coop-a")
    v = version_of(db, t, "operating-plan")
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf}
    r = client.post(
        f"/tasks/{t.id}/items/operating-plan", data={"version": str(v), "status": "doing"}, headers=headers
    )
    assert r.status_code == 200
    assert "<html" not in r.text  # a fragment
    # Still listed (open): the pressed button keeps the focus.
    block = r.text[r.text.index(f'id="task-{t.id}-operating-plan"') :]
    assert re.search(r'value="doing"[^>]*aria-pressed="true"[^>]*autofocus', block)
    state = db.exec(select(ItemState).where(ItemState.item_key == "operating-plan")).one()
    db.refresh(state)
    assert state.status == "doing"
    # The same version again is stale: 409 with the service's message, nothing changed.
    r = client.post(
        f"/tasks/{t.id}/items/operating-plan", data={"version": str(v), "status": "done"}, headers=headers
    )
    assert r.status_code == 409
    db.refresh(state)
    assert state.status == "doing"
    # Done leaves the list: the focus goes to the message.
    r = client.post(
        f"/tasks/{t.id}/items/operating-plan",
        data={"version": str(state.version), "status": "done"},
        headers=headers,
    )
    assert r.status_code == 200
    assert re.search(r'role="status" tabindex="-1" autofocus>‘[^’]+’ 상태를 완료\(으\)로 바꿨습니다', r.text)


def test_one_click_change_has_the_track_pages_rights(client: TestClient, busy: World) -> None:
    t = busy.extra["track"]
    csrf = login(client, "gov-a")
    r = client.post(
        f"/tasks/{t.id}/items/{COOP_ITEM}",
        data={"version": "1", "status": "done", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = client.post(
        f"/tasks/{t.id}/items/{COOP_ITEM}",
        data={"version": "1", "status": "na", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code in (403, 422)


def test_plain_form_post_redirects_back(client: TestClient, busy: World, db: Session) -> None:
    t = busy.extra["track"]
    csrf = login(client, "coop-a")
    r = client.post(
        f"/tasks/{t.id}/items/operating-plan",
        data={"version": str(version_of(db, t, "operating-plan")), "status": "doing", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("/tasks")


def test_unknown_group_is_a_clear_error(client: TestClient, busy: World) -> None:
    login(client, "coop-a")
    r = client.get("/tasks?group=nope")
    assert r.status_code == 422
    assert "알 수 없는 할 일 묶음" in r.text


def test_api_lists_equal_the_service(client: TestClient, busy: World, db: Session, catalog: Catalog) -> None:
    token = create_token(session=db, user=busy.users["coop_a"]).token
    r = client.get("/api/v1/me/tasks", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {*tasks.GROUPS, "follow_ups"}
    expected = tasks.load_tasks(
        session=db, principal=busy.principal(db, "coop_a"), catalog=catalog, today=_today()
    )
    for key in tasks.GROUPS:
        assert [(x["track_id"], x["item_key"]) for x in body[key]] == [
            (x.track_id, x.item_key) for x in getattr(expected, key)
        ]
    first = body["overdue"][0]
    assert set(first) == {
        "track_id",
        "cooperative",
        "model",
        "item_key",
        "text",
        "status",
        "due_date",
        "lead",
    }
    assert first["model"] == "hub-facility" and first["item_key"] == COOP_ITEM


# --- the calendar feed ---------------------------------------------------------------------------


def _feed_url(client: TestClient) -> str:
    csrf = login(client, "coop-a")
    r = client.post("/tasks/calendar", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    match = re.search(r'id="calendar-url" class="copy-field" readonly value="([^"]+)"', r.text)
    assert match, r.text
    return match.group(1)


def test_the_feed_parses_and_holds_every_due_date(
    client: TestClient, busy: World, db: Session, catalog: Catalog
) -> None:
    url = _feed_url(client)
    client.cookies.clear()  # calendar apps have no session
    r = client.get(url)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    assert str(cal["X-WR-TIMEZONE"]) == "Asia/Seoul"
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    t = busy.extra["track"]
    expected = tasks.load_tasks(
        session=db, principal=busy.principal(db, "coop_a"), catalog=catalog, today=_today()
    )
    dated = calendar.dated_items(expected)
    assert {f"item-{x.track_id}-{x.item_key}@maeul" for x in dated} == set(events)
    assert {x.item_key for x in dated} == {COOP_ITEM, "operating-plan", "operation"}
    e = events[f"item-{t.id}-{COOP_ITEM}@maeul"]
    due = next(x.due_date for x in dated if x.item_key == COOP_ITEM)
    assert e.decoded("DTSTART") == due  # all-day: a date, not a datetime
    assert e.decoded("DTEND") == due + timedelta(days=1)
    assert "가 마을조합" in str(e["SUMMARY"])
    assert str(e["URL"]).endswith(f"/tracks/{t.id}#item-{COOP_ITEM}")
    # The same UIDs on the next download: calendar apps update instead of duplicating.
    again = Calendar.from_ical(client.get(url).content)
    assert {str(x["UID"]) for x in again.walk("VEVENT")} == set(events)


def test_reset_kills_the_old_address_and_only_a_hash_is_stored(
    client: TestClient, busy: World, db: Session
) -> None:
    first = _feed_url(client)
    secret = first.rsplit("/", 1)[1].removesuffix(".ics")
    user = db.exec(select(User).where(User.login == "coop-a")).one()
    db.refresh(user)
    assert user.calendar_token_hash and secret not in user.calendar_token_hash
    second = _feed_url(client)
    assert second != first
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    csrf = login(client, "coop-a")
    client.post("/tasks/calendar/delete", data={"csrf_token": csrf})
    assert client.get(second).status_code == 404


def test_a_deactivated_users_feed_is_gone(client: TestClient, busy: World, db: Session) -> None:
    url = _feed_url(client)
    user = db.exec(select(User).where(User.login == "coop-a")).one()
    user.is_active = False
    db.add(user)
    db.flush()
    assert client.get(url).status_code == 404
    assert client.get("/calendar/short.ics").status_code == 404


# --- the cooperative home ------------------------------------------------------------------------


def test_a_cooperative_lands_on_its_next_tasks(
    client: TestClient, busy: World, db: Session, catalog: Catalog
) -> None:
    model = hub(catalog)
    t = busy.extra["track"]
    # In 준비 (the current stage) the center's other item is late: it comes first.
    change(db, busy, t, model, CENTER_ITEM_2, who="center", due_date=_today() - timedelta(days=2))
    r = client.post(
        "/login",
        data={"username": "coop-a", "password": PASSWORD, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/cooperatives/{busy.coop_a.id}"  # where a cooperative lands
    html = client.get(r.headers["location"]).text
    panel = html[html.index('id="next-title"') : html.index("</section>", html.index('id="next-title"'))]
    items = re.findall(r'id="task-\d+-([a-z-]+)"', panel)
    prepare = [i.key for s, i in model.items if s == "prepare" and i.key != CENTER_ITEM]
    assert items[0] == CENTER_ITEM_2 and set(items) == set(prepare)
    assert "기한 지남 2일" in panel
    assert COOP_ITEM not in items  # 실행 단계: not yet
    # Other visitors see the cooperative, not its to-do list.
    client.cookies.clear()
    login(client, "center-a")
    assert 'id="next-title"' not in client.get(f"/cooperatives/{busy.coop_a.id}").text


def test_track_page_has_stage_skip_links_and_keeps_focus(
    client: TestClient, busy: World, db: Session
) -> None:
    t = busy.extra["track"]
    csrf = login(client, "coop-a")
    html = client.get(f"/tracks/{t.id}").text
    for stage in ("prepare", "plan", "execute"):
        assert f'href="#items-{stage}"' in html
        assert f'id="items-{stage}"' in html
    r = client.post(
        f"/tracks/{t.id}/items/{COOP_ITEM}",
        data={"version": str(version_of(db, t, COOP_ITEM)), "status": "done"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert r.status_code == 200
    assert re.search(r'value="done"[^>]*aria-pressed="true"[^>]*autofocus', r.text)


def test_follow_ups_are_tasks_and_calendar_events(
    client: TestClient, busy: World, db: Session, catalog: Catalog
) -> None:
    from app.services import consultations

    today = _today()
    c = consultations.record_consultation(
        session=db,
        principal=busy.principal(db, "center"),
        cooperative=busy.coop_a,
        catalog=catalog,
        data=consultations.ConsultationInput(
            held_on=today - timedelta(days=1),
            channel="visit",
            topic="정관 개정 상담",
            follow_up_on=today + timedelta(days=2),
        ),
    )
    db.flush()
    login(client, "center-a")
    html = client.get("/tasks").text
    section = html[html.index('id="group-follow_ups"') :]
    assert "정관 개정 상담" in section and "D-2" in section
    assert f"consultation={c.id}#consultation-{c.id}" in section
    token = create_token(session=db, user=busy.users["center"]).token
    body = client.get("/api/v1/me/tasks", headers={"Authorization": f"Bearer {token}"}).json()
    assert [f["consultation_id"] for f in body["follow_ups"]] == [c.id]
    csrf = login(client, "center-a")
    r = client.post("/tasks/calendar", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    url = re.search(r'readonly value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    cal = Calendar.from_ical(client.get(url).content)
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    e = events[f"follow-up-{c.id}@maeul"]
    assert e.decoded("DTSTART") == today + timedelta(days=2)
    assert "정관 개정 상담" in str(e["SUMMARY"])


def test_quick_update_with_a_malformed_version_is_422_and_changes_nothing(
    client: TestClient, busy: World, db: Session
) -> None:
    """The same rule as the track page's form (app.deps.form_version): digits only, else 422."""
    t = busy.extra["track"]
    csrf = login(client, "coop-a")
    before = version_of(db, t, "operating-plan")
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf}
    for bad in ("", "-1", "+1", " 1", "1.0", "x"):
        r = client.post(
            f"/tasks/{t.id}/items/operating-plan", data={"version": bad, "status": "doing"}, headers=headers
        )
        assert r.status_code == 422, bad
        assert "버전 정보가 없습니다" in r.text
    assert version_of(db, t, "operating-plan") == before
