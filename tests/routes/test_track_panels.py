"""The track page's item panels (세부 정보): rendered where shown open, fetched on demand elsewhere."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.models import Track
from app.services import tracking
from tests.factories import World, login
from tests.fixtures.tracking_helpers import (
    CENTER_ITEM,
    COOP_ITEM,
    add_evidence_link,
    change,
    start,
)

HTMX = {"HX-Request": "true"}
PANEL_RE = re.compile(r'<div class="details-grid" id="panel-([a-z0-9-]+)">')
PENDING_RE = re.compile(r'<div class="details-grid details-grid--pending" id="panel-([a-z0-9-]+)">')


@pytest.fixture
def track(db: Session, world: World, catalog: Catalog, model: BusinessModel) -> Track:
    track = start(db, world, catalog)
    change(db, world, track, model, COOP_ITEM, status="doing", note="조합 메모")
    add_evidence_link(db, world, track, model, COOP_ITEM)
    tracking.add_comment(
        session=db,
        principal=world.principal(db, "coop_a"),
        track=track,
        model=model,
        item_key=COOP_ITEM,
        body="운영계획 초안 공유합니다.",
    )
    return track


def _panel(html: str, key: str) -> str:
    """The rendered panel of ``key``: from its opening div to the end of its details element."""
    start = html.index(f'<div class="details-grid" id="panel-{key}">')
    return html[start : html.index("</details>", start)]


def test_the_page_renders_no_panel_but_every_row_can_fetch_its_own(
    client: TestClient, track: Track, model: BusinessModel
) -> None:
    login(client, "coop-a")
    page = client.get(f"/tracks/{track.id}").text
    assert PANEL_RE.findall(page) == []
    keys = [item.key for _, item in model.items]
    assert PENDING_RE.findall(page) == keys
    # Progressive enhancement: a real link to the page with the panel open, and the fetch on first open.
    assert f'href="/tracks/{track.id}?open={COOP_ITEM}#item-{COOP_ITEM}"' in page
    assert f'hx-get="/tracks/{track.id}/items/{COOP_ITEM}"' in page
    assert 'hx-trigger="toggle once from:closest details, click"' in page
    # The counts are on the summary without the panel.
    assert "세부 정보 · 증빙 1 · 의견 1" in page
    assert "운영계획 초안 공유합니다." not in page.split('id="recent-events"')[0]


def test_open_renders_that_panel_open_and_only_that_one(client: TestClient, track: Track) -> None:
    login(client, "coop-a")
    page = client.get(f"/tracks/{track.id}", params={"open": COOP_ITEM}).text
    assert PANEL_RE.findall(page) == [COOP_ITEM]
    assert (
        '<details class="trow__details" open>\n                <summary>세부 정보 · 증빙 1 · 의견 1' in page
    )
    panel = _panel(page, COOP_ITEM)
    assert "운영계획 초안 공유합니다." in panel
    assert "증빙 자료" in panel
    assert f'action="/tracks/{track.id}/items/{COOP_ITEM}/comments"' in panel
    assert "조합 메모" in panel


def test_an_unknown_open_key_opens_nothing(client: TestClient, track: Track) -> None:
    login(client, "coop-a")
    r = client.get(f"/tracks/{track.id}", params={"open": "no-such-item"})
    assert r.status_code == 200
    assert PANEL_RE.findall(r.text) == []


def test_the_htmx_panel_is_the_same_block_as_on_the_page(client: TestClient, track: Track) -> None:
    login(client, "coop-a")
    page = client.get(f"/tracks/{track.id}", params={"open": COOP_ITEM}).text
    r = client.get(f"/tracks/{track.id}/items/{COOP_ITEM}", headers=HTMX)
    assert r.status_code == 200
    assert "HX-Request" in r.headers["vary"]
    assert "<html" not in r.text
    assert PANEL_RE.findall(r.text) == [COOP_ITEM]
    fragment = r.text.strip()
    assert fragment.endswith("</div>")
    assert " ".join(fragment.split()) in " ".join(_panel(page, COOP_ITEM).split())


def test_without_htmx_the_panel_url_goes_to_the_page_with_it_open(client: TestClient, track: Track) -> None:
    login(client, "coop-a")
    r = client.get(f"/tracks/{track.id}/items/{COOP_ITEM}", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/tracks/{track.id}?open={COOP_ITEM}#item-{COOP_ITEM}"
    assert PANEL_RE.findall(client.get(r.headers["location"].split("#")[0]).text) == [COOP_ITEM]


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_panel_of_an_unknown_item_or_an_invisible_track_is_404(
    client: TestClient, track: Track, htmx: bool
) -> None:
    login(client, "coop-a")
    headers = HTMX if htmx else {}
    assert client.get(f"/tracks/{track.id}/items/no-such-item", headers=headers).status_code == 404
    login(client, "coop-b")
    r = client.get(f"/tracks/{track.id}/items/{COOP_ITEM}", headers=headers, follow_redirects=False)
    assert r.status_code == 404
    assert "운영계획 초안" not in r.text


def test_the_panel_offers_the_editor_only_to_those_who_may_edit(client: TestClient, track: Track) -> None:
    login(client, "center-a")
    coop_panel = client.get(f"/tracks/{track.id}/items/{COOP_ITEM}", headers=HTMX).text
    assert f'id="st-{COOP_ITEM}"' not in coop_panel  # the cooperative's item: read only
    assert "운영계획 초안 공유합니다." in coop_panel
    assert f'id="cm-{COOP_ITEM}"' in coop_panel  # a center may still comment
    own_panel = client.get(f"/tracks/{track.id}/items/{CENTER_ITEM}", headers=HTMX).text
    assert f'id="st-{CENTER_ITEM}"' in own_panel


def test_an_htmx_comment_answers_the_row_with_its_panel_open(client: TestClient, track: Track) -> None:
    csrf = login(client, "coop-a")
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_ITEM}/comments",
        data={"csrf_token": csrf, "body": "두 번째 의견"},
        headers=HTMX,
    )
    assert r.status_code == 200
    assert PANEL_RE.findall(r.text) == [COOP_ITEM]
    assert "세부 정보 · 증빙 1 · 의견 2" in r.text
    assert "두 번째 의견" in _panel(r.text, COOP_ITEM)


def test_an_htmx_status_change_answers_the_row_without_its_panel(client: TestClient, track: Track) -> None:
    csrf = login(client, "coop-a")
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_ITEM}",
        data={"csrf_token": csrf, "version": "1", "status": "done"},
        headers=HTMX,
    )
    assert r.status_code == 200
    assert PANEL_RE.findall(r.text) == []
    assert PENDING_RE.findall(r.text) == [COOP_ITEM]


def test_a_422_from_the_panel_renders_it_open_with_the_error(client: TestClient, track: Track) -> None:
    csrf = login(client, "coop-a")
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_ITEM}",
        data={"csrf_token": csrf, "version": "1", "from_details": "1", "status": "na", "na_reason": ""},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "<html" in r.text  # a plain post: the whole page, this panel open
    assert PANEL_RE.findall(r.text) == [COOP_ITEM]
    assert "사유를 적어야 합니다" in r.text


def test_the_view_counts_what_it_does_not_load(db: Session, world: World, track: Track, model) -> None:
    coop = world.coop_a
    full = tracking.load_track_view(
        session=db, principal=world.principal(db, "coop_a"), track=track, cooperative=coop, model=model
    )
    lazy = tracking.load_track_view(
        session=db,
        principal=world.principal(db, "coop_a"),
        track=track,
        cooperative=coop,
        model=model,
        panels=set(),
    )
    assert [(r.key, r.evidence_count, r.comment_count) for r in full.rows] == [
        (r.key, r.evidence_count, r.comment_count) for r in lazy.rows
    ]
    assert sum(r.evidence_count for r in full.rows) == sum(len(r.evidence) for r in full.rows) == 1
    assert all(not r.evidence and not r.comments for r in lazy.rows)
