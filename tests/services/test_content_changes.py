"""Rule 6: the content changes under existing tracks (items added, removed, renamed).

Each test loads a copy of content/ whose hub-facility file was edited with PyYAML, and
serves the same rolled-back database with that catalog.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.catalog import Catalog, load_catalog
from app.catalog.schema import BusinessModel
from app.config import Settings
from app.models import Track
from app.services import evidence as evidence_service
from app.services import tracking
from app.services.auth import create_token
from app.services.errors import NotFoundError
from tests.conftest import CONTENT_DIR
from tests.factories import World, login
from tests.fixtures.tracking_helpers import (
    COOP_ITEM,
    MUNI_ITEM,
    app_for,
    change,
    event_count,
    events,
    hub,
    start,
    state_of,
)

HUB_FILE = "01-hub-facility.yaml"
NEW_ITEM = {"key": "community-survey", "text": "주민 수요조사 실시", "lead": "coop"}
RENAMED = f"{COOP_ITEM}-v2"

Edit = Callable[[dict[str, Any]], None]


def _stage(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in data["stages"] if s["key"] == key)


def add_item(data: dict[str, Any]) -> None:
    _stage(data, "plan")["items"].append(dict(NEW_ITEM))


def remove_item(data: dict[str, Any]) -> None:
    for stage in data["stages"]:
        stage["items"] = [i for i in stage["items"] if i["key"] != COOP_ITEM]


def rename_item(data: dict[str, Any]) -> None:
    for stage in data["stages"]:
        for item in stage["items"]:
            if item["key"] == COOP_ITEM:
                item["key"] = RENAMED


@pytest.fixture
def edited(tmp_path: Path) -> Callable[[Edit], Catalog]:
    """Load a copy of the content with ``edit`` applied to the hub-facility file."""

    def make(edit: Edit) -> Catalog:
        directory = tmp_path / f"content-{edit.__name__}"
        shutil.copytree(CONTENT_DIR, directory)
        path = directory / HUB_FILE
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(data)
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return load_catalog(directory)

    return make


@pytest.fixture
def track(db: Session, world: World, catalog: Catalog) -> Track:
    """Coop A's hub-facility track under the original content: two items touched, one commented."""
    model = hub(catalog)
    t = start(db, world, catalog)
    change(db, world, t, model, COOP_ITEM, status="done", note="운영계획 확정")
    change(db, world, t, model, MUNI_ITEM, who="municipality", status="doing")
    tracking.add_comment(
        session=db,
        principal=world.principal(db, "center"),
        track=t,
        model=model,
        item_key=COOP_ITEM,
        body="잘 정리되었습니다.",
    )
    return t


def view(db: Session, world: World, track: Track, model: BusinessModel) -> tracking.TrackView:
    return tracking.load_track_view(
        session=db,
        principal=world.principal(db, "coop_a"),
        track=track,
        cooperative=world.coop_a,
        model=model,
    )


def client_for(settings: Settings, catalog: Catalog, engine: Engine, db: Session, who: str) -> TestClient:
    client = TestClient(app_for(settings, catalog, engine, db))
    login(client, who)
    return client


# --- a model gains an item ----------------------------------------------------------------------


def test_an_added_item_appears_as_todo_in_existing_tracks(
    db: Session, world: World, track: Track, catalog: Catalog, edited: Callable[[Edit], Catalog]
) -> None:
    before = view(db, world, track, hub(catalog))
    model = hub(edited(add_item))
    after = view(db, world, track, model)
    row = after.row(NEW_ITEM["key"])
    assert row is not None
    assert (row.status, row.version, row.stage, row.state) == ("todo", 0, "plan", None)
    assert after.progress.overall.applicable == before.progress.overall.applicable + 1
    assert after.progress.overall.done == before.progress.overall.done
    assert after.progress.by_stage["plan"].applicable == before.progress.by_stage["plan"].applicable + 1
    assert after.progress.by_role["coop"].applicable == before.progress.by_role["coop"].applicable + 1
    assert after.retired == []


def test_an_added_item_can_be_changed_from_version_0(
    db: Session, world: World, track: Track, edited: Callable[[Edit], Catalog]
) -> None:
    model = hub(edited(add_item))
    state = change(db, world, track, model, NEW_ITEM["key"], status="done")
    assert state.version == 1
    assert view(db, world, track, model).progress.overall.done == 2


def test_the_api_lists_an_added_item_as_todo(
    db: Session,
    world: World,
    track: Track,
    settings: Settings,
    engine: Engine,
    edited: Callable[[Edit], Catalog],
) -> None:
    modified = edited(add_item)
    client = TestClient(app_for(settings, modified, engine, db))
    token = create_token(session=db, user=world.users["coop_a"]).token
    body = client.get(f"/api/v1/tracks/{track.id}", headers={"Authorization": f"Bearer {token}"}).json()
    items = {i["key"]: i for i in body["items"]}
    assert (items[NEW_ITEM["key"]]["status"], items[NEW_ITEM["key"]]["version"]) == ("todo", 0)
    assert body["progress"]["overall"] == {"done": 1, "applicable": 13, "percent": 7}


# --- an item leaves the model -------------------------------------------------------------------


def test_a_removed_item_keeps_its_state_and_events_but_leaves_progress(
    db: Session, world: World, track: Track, catalog: Catalog, edited: Callable[[Edit], Catalog]
) -> None:
    before = view(db, world, track, hub(catalog))
    logged = event_count(db, track)
    model = hub(edited(remove_item))
    after = view(db, world, track, model)

    assert after.row(COOP_ITEM) is None
    assert [r.key for r in after.retired] == [COOP_ITEM]
    retired = after.retired[0]
    assert retired.item is None
    assert (retired.status, retired.state.note) == ("done", "운영계획 확정")  # type: ignore[union-attr]
    assert [c.body for c, _ in retired.comments] == ["잘 정리되었습니다."]
    assert after.progress.overall.applicable == before.progress.overall.applicable - 1
    assert after.progress.overall.done == before.progress.overall.done - 1
    assert after.progress.by_role["coop"].done == 0

    assert event_count(db, track) == logged
    rows = tracking.list_events(session=db, model=model, track_id=track.id)
    assert {r.retired for r in rows if r.event.item_key == COOP_ITEM} == {True}
    assert {r.retired for r in rows if r.event.item_key != COOP_ITEM} == {False}


def test_a_removed_item_cannot_be_changed(
    db: Session, world: World, track: Track, settings: Settings, edited: Callable[[Edit], Catalog]
) -> None:
    model = hub(edited(remove_item))
    coop = world.principal(db, "coop_a")
    logged = event_count(db, track)
    with pytest.raises(NotFoundError):
        tracking.update_item(
            session=db,
            principal=coop,
            track=track,
            model=model,
            item_key=COOP_ITEM,
            version=1,
            changes={"status": "doing"},
        )
    with pytest.raises(NotFoundError):
        tracking.add_comment(
            session=db, principal=coop, track=track, model=model, item_key=COOP_ITEM, body="의견"
        )
    with pytest.raises(NotFoundError):
        evidence_service.add_link(
            session=db,
            principal=coop,
            track=track,
            model=model,
            item_key=COOP_ITEM,
            url="https://example.org",
            title="",
        )
    assert state_of(db, track, COOP_ITEM).status == "done"  # type: ignore[union-attr]
    assert event_count(db, track) == logged


def test_the_track_page_lists_a_removed_item_under_retired(
    db: Session,
    world: World,
    track: Track,
    settings: Settings,
    catalog: Catalog,
    engine: Engine,
    edited: Callable[[Edit], Catalog],
) -> None:
    original = client_for(settings, catalog, engine, db, "coop-a").get(f"/tracks/{track.id}").text
    assert "폐지된 항목" not in original

    client = client_for(settings, edited(remove_item), engine, db, "coop-a")
    page = client.get(f"/tracks/{track.id}")
    assert page.status_code == 200
    assert '<h2 id="retired-title">폐지된 항목</h2>' in page.text
    assert f"<code>{COOP_ITEM}</code> · 마지막 상태 완료" in page.text
    assert f'id="item-{COOP_ITEM}"' not in page.text  # not among the checklist rows


@pytest.mark.parametrize("timeline", ["track", "cooperative"])
def test_timelines_mark_events_of_a_removed_item(
    db: Session,
    world: World,
    track: Track,
    settings: Settings,
    catalog: Catalog,
    engine: Engine,
    edited: Callable[[Edit], Catalog],
    timeline: str,
) -> None:
    path = f"/tracks/{track.id}/events" if timeline == "track" else f"/cooperatives/{world.coop_a.id}/events"
    retired_tag = f'<span class="tag tag--retired">폐지된 항목</span> {COOP_ITEM}'

    original = client_for(settings, catalog, engine, db, "coop-a").get(path).text
    assert "tag--retired" not in original

    page = client_for(settings, edited(remove_item), engine, db, "coop-a").get(path)
    assert page.status_code == 200
    # the comment, the status change: both events of the removed item are marked
    assert page.text.count(retired_tag) == 2
    assert page.text.count("tag--retired") == 2


def test_the_routes_refuse_to_change_a_removed_item(
    db: Session,
    world: World,
    track: Track,
    settings: Settings,
    engine: Engine,
    edited: Callable[[Edit], Catalog],
) -> None:
    modified = edited(remove_item)
    client = TestClient(app_for(settings, modified, engine, db))
    csrf = login(client, "coop-a")
    logged = event_count(db, track)
    r = client.post(
        f"/tracks/{track.id}/items/{COOP_ITEM}",
        data={"csrf_token": csrf, "version": "1", "status": "doing"},
        follow_redirects=False,
    )
    assert r.status_code == 404
    assert "폐지된 항목은 변경할 수 없습니다" in r.text
    token = create_token(session=db, user=world.users["coop_a"]).token
    api = client.patch(
        f"/api/v1/tracks/{track.id}/items/{COOP_ITEM}",
        json={"status": "doing", "version": 1},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 404
    assert state_of(db, track, COOP_ITEM).status == "done"  # type: ignore[union-attr]
    assert event_count(db, track) == logged


def test_the_api_leaves_a_removed_item_out_of_the_items_and_progress(
    db: Session,
    world: World,
    track: Track,
    settings: Settings,
    engine: Engine,
    edited: Callable[[Edit], Catalog],
) -> None:
    client = TestClient(app_for(settings, edited(remove_item), engine, db))
    token = create_token(session=db, user=world.users["coop_a"]).token
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get(f"/api/v1/tracks/{track.id}", headers=headers).json()
    assert COOP_ITEM not in {i["key"] for i in body["items"]}
    assert body["progress"]["overall"] == {"done": 0, "applicable": 11, "percent": 0}
    logged = client.get(f"/api/v1/tracks/{track.id}/events", headers=headers).json()
    assert {e["item_retired"] for e in logged if e["item_key"] == COOP_ITEM} == {True}


# --- a key is renamed ---------------------------------------------------------------------------


def test_a_renamed_key_is_a_new_item_and_the_old_key_is_retired(
    db: Session, world: World, track: Track, catalog: Catalog, edited: Callable[[Edit], Catalog]
) -> None:
    before = view(db, world, track, hub(catalog))
    model = hub(edited(rename_item))
    after = view(db, world, track, model)
    renamed = after.row(RENAMED)
    assert renamed is not None
    assert (renamed.status, renamed.version, renamed.state) == ("todo", 0, None)
    assert [r.key for r in after.retired] == [COOP_ITEM]
    assert after.retired[0].status == "done"
    assert after.progress.overall.applicable == before.progress.overall.applicable
    assert after.progress.overall.done == before.progress.overall.done - 1
    with pytest.raises(NotFoundError):
        change(db, world, track, model, COOP_ITEM, status="doing")
    assert change(db, world, track, model, RENAMED, status="doing").version == 1
    assert [e.item_key for e in events(db, track)][-1] == RENAMED
