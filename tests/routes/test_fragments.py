"""The render caches (app.templating.RenderCache): cached rows and pages come out exactly as
rendered afresh, for every viewer, and every kind of change is on the next page."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import Markup
from sqlmodel import Session

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.models import Track
from app.services import dashboard, evidence, tracking, verification
from app.services.auth import create_token
from app.templating import RenderCache
from tests.factories import World, login
from tests.fixtures.tracking_helpers import (
    CENTER_ITEM,
    COOP_CONSIGNMENT,
    COOP_ITEM,
    EXEC_ITEM,
    MUNI_ITEM,
    add_evidence_link,
    change,
    start,
    verify,
    version_of,
)

VIEWERS = ("coop-a", "center-a", "gov-a", "admin")
CSRF_IN_FORMS = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- the cache itself ------------------------------------------------------------------------


def test_one_render_per_key_and_none_without_a_key() -> None:
    cache = RenderCache[Markup](max_entries=10)
    renders: list[int] = []

    def body() -> Markup:
        renders.append(1)
        return Markup("<p>%d</p>") % len(renders)

    assert cache(("row", 1), caller=body) == cache(("row", 1), caller=body) == Markup("<p>1</p>")
    assert cache(("row", 2), caller=body) == Markup("<p>2</p>")
    assert cache(False, caller=body) == Markup("<p>3</p>")
    assert cache(False, caller=body) == Markup("<p>4</p>")  # no key: rendered every time
    assert len(cache) == 2


def test_the_least_recently_used_entry_goes_first() -> None:
    cache = RenderCache[Markup](max_entries=2)
    cache("a", caller=lambda: Markup("A"))
    cache("b", caller=lambda: Markup("B"))
    cache("a", caller=lambda: Markup("A again"))  # a hit: "a" is now the most recent
    cache("c", caller=lambda: Markup("C"))
    assert len(cache) == 2
    assert cache("a", caller=lambda: Markup("new A")) == Markup("A")
    assert cache("b", caller=lambda: Markup("new B")) == Markup("new B")  # "b" had gone


# --- pages -------------------------------------------------------------------------------------


@pytest.fixture
def track(db: Session, world: World, catalog: Catalog, model: BusinessModel) -> Track:
    """Rows in every state a viewer can act on: done and awaiting 확인, doing with evidence."""
    track = start(db, world, catalog)
    change(db, world, track, model, COOP_ITEM, status="doing", note="조합 메모", due_date=date(2020, 1, 1))
    add_evidence_link(db, world, track, model, COOP_ITEM)
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    change(db, world, track, model, CENTER_ITEM, status="done", who="center")
    change(db, world, track, model, MUNI_ITEM, status="doing", who="municipality")
    return track


def _page(app: FastAPI, login_name: str, path: str, *, cache: bool) -> tuple[str, str]:
    """(body, session CSRF token) of a fresh session's page, with or without the app's caches."""
    kept = app.state.fragments, app.state.pages
    with TestClient(app) as client:
        token = login(client, login_name)
        if not cache:
            app.state.fragments = app.state.pages = None
        try:
            r = client.get(path)
            again = client.get(path)  # from the page cache, when it is on
        finally:
            app.state.fragments, app.state.pages = kept
    assert r.status_code == again.status_code == 200, r.text[:300]
    assert again.text == r.text
    return r.text, token


@pytest.mark.parametrize("path_kind", ["track", "dashboard"])
def test_every_viewer_gets_what_a_fresh_render_gives(app: FastAPI, track: Track, path_kind: str) -> None:
    path = f"/tracks/{track.id}" if path_kind == "track" else "/dashboard"
    app.state.fragments.clear()
    app.state.pages.clear()
    for _ in range(2):  # the second round reads only cached rows, filled by every viewer
        for viewer in VIEWERS:
            if path_kind == "track" or viewer != "coop-a":  # a cooperative has no 현황판
                cached, token = _page(app, viewer, path, cache=True)
                fresh, fresh_token = _page(app, viewer, path, cache=False)
                assert cached.replace(token, "TOKEN") == fresh.replace(fresh_token, "TOKEN"), viewer
    assert len(app.state.fragments) > 0


def test_a_dashboard_row_from_the_fragment_cache_costs_no_arithmetic(
    app: FastAPI, track: Track, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress and the verdict are worked out of a 현황판 row only when the row is rendered:
    with the page cache off (as after a change elsewhere), a row the fragment cache holds needs
    neither."""
    worked: list[object] = []
    real_progress, real_readiness = dashboard.progress_of, dashboard.readiness_of_summary
    monkeypatch.setattr(dashboard, "progress_of", lambda row: worked.append(row) or real_progress(row))
    monkeypatch.setattr(
        dashboard, "readiness_of_summary", lambda row: worked.append(row) or real_readiness(row)
    )
    app.state.fragments.clear()
    kept = app.state.pages
    app.state.pages = None
    try:
        with TestClient(app) as client:
            login(client, "admin")
            first = client.get("/dashboard").text
            assert worked  # rendered afresh: each row's arithmetic once
            worked.clear()
            assert client.get("/dashboard").text == first
    finally:
        app.state.pages = kept
    assert worked == []


def test_each_session_gets_its_own_csrf_token_in_cached_rows(app: FastAPI, track: Track) -> None:
    first, first_token = _page(app, "coop-a", f"/tracks/{track.id}", cache=True)
    second, second_token = _page(app, "coop-a", f"/tracks/{track.id}", cache=True)
    assert first_token != second_token
    assert set(CSRF_IN_FORMS.findall(first)) == {first_token}
    assert set(CSRF_IN_FORMS.findall(second)) == {second_token}


def _as_admin(app: FastAPI, path: str, data: dict[str, str]) -> None:
    """An admin's change through the admin pages (so it is audited, as every admin change is)."""
    with TestClient(app) as admin:
        csrf = login(admin, "admin")
        r = admin.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)
        assert r.status_code == 303, r.text


def test_a_change_is_on_the_next_page(
    app: FastAPI, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    row = re.compile(
        rf'<li class="trow trow--(\w+)" id="item-{COOP_ITEM}">.*?name="version" value="(\d+)"', re.S
    )
    with TestClient(app) as client:
        login(client, "coop-a")
        assert row.findall(client.get(f"/tracks/{track.id}").text) == [("doing", "1")]
        change(db, world, track, model, COOP_ITEM, status="done")
        assert row.findall(client.get(f"/tracks/{track.id}").text) == [("done", "2")]
        tracking.add_comment(
            session=db, principal=world.principal(db, "center"), track=track, model=model,
            item_key=COOP_ITEM, body="확인 부탁드립니다",
        )  # fmt: skip
        assert "의견 1" in client.get(f"/tracks/{track.id}").text
        # A name shown in a row is read with the row: renaming the verifier shows on the next page.
        verify(db, world, track, model, CENTER_ITEM, who="center")
        verified = re.compile(
            rf'id="item-{CENTER_ITEM}">.*?<p class="verified".*?<span class="muted">([^<]*)</span>', re.S
        )
        recent = re.compile(r'<section class="panel" id="recent-events".*?</section>', re.S)
        shown = client.get(f"/tracks/{track.id}").text
        assert verified.findall(shown) == ["center-a"]
        assert "<strong>center-a</strong>" in recent.findall(shown)[0]  # who 확인, in 최근 활동
        _as_admin(
            app,
            f"/admin/users/{world.users['center'].id}",
            {"display_name": "새 이름 코디네이터", "org_id": f"center:{world.center_a.id}"},
        )
        shown = client.get(f"/tracks/{track.id}").text
        assert verified.findall(shown) == ["새 이름 코디네이터"]
        # The events are cached by what they read: the actor's name is the current one.
        assert "<strong>center-a</strong>" not in recent.findall(shown)[0]
        assert "<strong>새 이름 코디네이터</strong>" in recent.findall(shown)[0]


def test_every_kind_of_change_is_on_the_next_cached_page(
    app: FastAPI,
    db: Session,
    world: World,
    track: Track,
    model: BusinessModel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The page cache's key is the track's revision (its last event, the last admin change),
    today, the viewer and their session: each change below moves one of them."""
    gov = world.principal(db, "municipality")
    with TestClient(app) as client:
        login(client, "coop-a")

        def page() -> str:
            r = client.get(f"/tracks/{track.id}")
            assert r.status_code == 200
            return r.text

        assert "증빙 1 · 의견 0" in page()
        link = add_evidence_link(db, world, track, model, COOP_ITEM)
        assert "증빙 2 · 의견 0" in page()
        evidence.remove_evidence(
            session=db, principal=world.principal(db, "coop_a"), track=track, model=model, evidence=link
        )
        assert "증빙 1 · 의견 0" in page()

        # The 지자체 asks for changes: the row shows the request, and the 알림 it sends to the
        # cooperative changes the header's count (the viewer's count is part of the key).
        unread = re.compile(r'id="inbox-link"[^>]*?aria-label="([^"]*)"')
        before = unread.findall(page())
        verification.request_changes(
            session=db, principal=gov, track=track, model=model, item_key=COOP_CONSIGNMENT,
            version=version_of(db, track, COOP_CONSIGNMENT), reason="사진을 더 올려 주세요",
        )  # fmt: skip
        shown = page()
        assert "사진을 더 올려 주세요" in shown
        assert unread.findall(shown) != before
        # Reading every 알림 changes nothing of the track, only the viewer's count.
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', shown)
        assert csrf is not None
        assert client.post("/notifications/read-all", data={"csrf_token": csrf[1]}).status_code in (200, 303)
        assert unread.findall(page()) == ["알림, 읽지 않은 알림 없음"]

        # An admin renames the cooperative: the breadcrumb and heading follow.
        _as_admin(
            app,
            f"/admin/cooperatives/{world.coop_a.id}",
            {"name": "새 이름 마을조합", "municipality_id": str(world.muni_a.id)},
        )
        assert "새 이름 마을조합" in page()

        # The next day: an item due today becomes overdue.
        today = tracking.today_kst()
        change(db, world, track, model, EXEC_ITEM, status="doing", due_date=today)
        assert "기한 지남 · 기한" not in re.findall(rf'id="item-{EXEC_ITEM}">.*?</li>', page(), re.S)[0]
        monkeypatch.setattr(tracking, "today_kst", lambda now=None: today + timedelta(days=1))
        assert "기한 지남 · 기한" in re.findall(rf'id="item-{EXEC_ITEM}">.*?</li>', page(), re.S)[0]


def test_the_api_track_answer_follows_every_change(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    token = create_token(session=db, user=world.users["coop_a"]).token
    bearer = {"Authorization": f"Bearer {token}"}

    def item(key: str) -> dict[str, object]:
        r = client.get(f"/api/v1/tracks/{track.id}", headers=bearer)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        return next(i for i in r.json()["items"] if i["key"] == key)

    first = item(COOP_ITEM)
    assert item(COOP_ITEM) == first  # the second answer comes from the cache
    r = client.patch(
        f"/api/v1/tracks/{track.id}/items/{COOP_ITEM}",
        headers=bearer,
        json={"status": "done", "version": first["version"]},
    )
    assert r.status_code == 200, r.text
    assert item(COOP_ITEM)["status"] == "done"
    verify(db, world, track, model, CENTER_ITEM, who="center")
    assert item(CENTER_ITEM)["verified_by"] == "center-a"
