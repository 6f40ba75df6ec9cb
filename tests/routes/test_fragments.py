"""The fragment cache (app.templating.FragmentCache): rows come out exactly as rendered afresh,
for every viewer, and a change anywhere in a row's data is on the next page."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import Markup
from sqlmodel import Session

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.models import Track
from app.services import tracking
from app.templating import FragmentCache
from tests.factories import World, login
from tests.fixtures.tracking_helpers import (
    CENTER_ITEM,
    COOP_CONSIGNMENT,
    COOP_ITEM,
    MUNI_ITEM,
    add_evidence_link,
    change,
    start,
    verify,
)

VIEWERS = ("coop-a", "center-a", "gov-a", "admin")
CSRF_IN_FORMS = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- the cache itself ------------------------------------------------------------------------


def test_one_render_per_key_and_none_without_a_key() -> None:
    cache = FragmentCache(max_entries=10)
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
    cache = FragmentCache(max_entries=2)
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
    """(body, session CSRF token) of a fresh session's page, with or without the app's cache."""
    kept = app.state.fragments
    with TestClient(app) as client:
        token = login(client, login_name)
        app.state.fragments = kept if cache else None
        try:
            r = client.get(path)
        finally:
            app.state.fragments = kept
    assert r.status_code == 200, r.text[:300]
    return r.text, token


@pytest.mark.parametrize("path_kind", ["track", "dashboard"])
def test_every_viewer_gets_what_a_fresh_render_gives(app: FastAPI, track: Track, path_kind: str) -> None:
    path = f"/tracks/{track.id}" if path_kind == "track" else "/dashboard"
    app.state.fragments.clear()
    for _ in range(2):  # the second round reads only cached rows, filled by every viewer
        for viewer in VIEWERS:
            if path_kind == "track" or viewer != "coop-a":  # a cooperative has no 현황판
                cached, token = _page(app, viewer, path, cache=True)
                fresh, fresh_token = _page(app, viewer, path, cache=False)
                assert cached.replace(token, "TOKEN") == fresh.replace(fresh_token, "TOKEN"), viewer
    assert len(app.state.fragments) > 0


def test_each_session_gets_its_own_csrf_token_in_cached_rows(app: FastAPI, track: Track) -> None:
    first, first_token = _page(app, "coop-a", f"/tracks/{track.id}", cache=True)
    second, second_token = _page(app, "coop-a", f"/tracks/{track.id}", cache=True)
    assert first_token != second_token
    assert set(CSRF_IN_FORMS.findall(first)) == {first_token}
    assert set(CSRF_IN_FORMS.findall(second)) == {second_token}


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
        assert verified.findall(client.get(f"/tracks/{track.id}").text) == ["center-a"]
        world.users["center"].display_name = "새 이름 코디네이터"
        db.flush()
        assert verified.findall(client.get(f"/tracks/{track.id}").text) == ["새 이름 코디네이터"]
