"""Rule 8: the tracking part of the JSON API (/api/v1), with bearer tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.models import Track
from app.services.auth import create_token
from tests.factories import World
from tests.fixtures.tracking_helpers import (
    CENTER_ITEM,
    COOP_CONSIGNMENT,
    COOP_ITEM,
    EXEC_ITEM,
    MUNI_ITEM,
    change,
    event_count,
    events,
    start,
    state_of,
    verify,
)

CONFLICT_MESSAGE = "다른 사용자가 먼저 변경했습니다. 최신 내용을 확인하세요."
ITEM_FIELDS = {
    "key",
    "stage",
    "lead",
    "status",
    "version",
    "note",
    "na_reason",
    "assignee",
    "assignee_id",
    "due_date",
    "verified_by",
    "verified_at",
    "updated_at",
}
Headers = Callable[[str], dict[str, str]]


@pytest.fixture
def auth(db: Session, world: World) -> Headers:
    """Bearer headers for a world user, one token per user."""
    tokens: dict[str, str] = {}

    def headers(who: str) -> dict[str, str]:
        if who not in tokens:
            tokens[who] = create_token(session=db, user=world.users[who]).token
        return {"Authorization": f"Bearer {tokens[who]}"}

    return headers


@pytest.fixture
def track(db: Session, world: World, catalog: Catalog) -> Track:
    return start(db, world, catalog)


def patch(
    client: TestClient, auth: Headers, track: Track, key: str, body: dict[str, Any], who: str = "coop_a"
):
    return client.patch(f"/api/v1/tracks/{track.id}/items/{key}", json=body, headers=auth(who))


# --- the catalog --------------------------------------------------------------------------------


def test_models_lists_six_models_and_68_items(client: TestClient, world: World, auth: Headers) -> None:
    r = client.get("/api/v1/models", headers=auth("coop_a"))
    assert r.status_code == 200
    models = r.json()
    assert len(models) == 6
    assert [m["number"] for m in models] == [1, 2, 3, 4, 5, 6]
    items = [i for m in models for i in m["items"]]
    assert len(items) == 68
    assert {frozenset(i) for i in items} == {
        frozenset({"key", "stage", "text", "note", "lead", "support", "consignment"})
    }
    first = models[0]["items"][0]
    assert first == {
        "key": "governance",
        "stage": "prepare",
        "text": "지자체, 설계자, 예비조합, 지역주민 등 거버넌스 구성",
        "note": first["note"],
        "lead": "municipality",
        "support": first["support"],
        "consignment": False,
    }
    assert {i["stage"] for i in items} == {"prepare", "plan", "execute"}
    assert {i["lead"] for i in items} == {"municipality", "center", "coop"}


def test_models_needs_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/models").status_code == 401


# --- tracks of a cooperative --------------------------------------------------------------------


@pytest.mark.parametrize("who", ["coop_a", "center", "admin"])
def test_starting_a_track_answers_201(
    client: TestClient, db: Session, world: World, auth: Headers, who: str
) -> None:
    r = client.post(
        f"/api/v1/cooperatives/{world.coop_a.id}/tracks", json={"model": "solar"}, headers=auth(who)
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["model"], body["cooperative"]) == ("solar", world.coop_a.id)
    assert body["progress"]["overall"] == {"done": 0, "applicable": 11, "percent": 0}
    assert body["progress"]["current_stage"] == "prepare"
    listed = client.get(f"/api/v1/cooperatives/{world.coop_a.id}/tracks", headers=auth(who)).json()
    assert [t["id"] for t in listed] == [body["id"]]


def test_the_municipality_may_not_start_a_track(
    client: TestClient, db: Session, world: World, auth: Headers
) -> None:
    before = event_count(db)
    r = client.post(
        f"/api/v1/cooperatives/{world.coop_a.id}/tracks",
        json={"model": "solar"},
        headers=auth("municipality"),
    )
    assert r.status_code == 403
    assert client.get(f"/api/v1/cooperatives/{world.coop_a.id}/tracks", headers=auth("coop_a")).json() == []
    assert event_count(db) == before


@pytest.mark.parametrize(
    ("body", "words"),
    [({"model": "no-such-model"}, "알 수 없는 사업모델"), ({"model": "hub-facility"}, "이미")],
    ids=["unknown", "duplicate"],
)
def test_an_unknown_or_duplicate_model_is_422(
    client: TestClient, db: Session, world: World, auth: Headers, track: Track, body: dict, words: str
) -> None:
    before = event_count(db)
    r = client.post(f"/api/v1/cooperatives/{world.coop_a.id}/tracks", json=body, headers=auth("coop_a"))
    assert r.status_code == 422
    assert words in r.json()["detail"]["model"]
    assert event_count(db) == before


@pytest.mark.parametrize("body", [{}, {"model": "solar", "extra": 1}])
def test_a_malformed_start_is_422(client: TestClient, world: World, auth: Headers, body: dict) -> None:
    r = client.post(f"/api/v1/cooperatives/{world.coop_a.id}/tracks", json=body, headers=auth("coop_a"))
    assert r.status_code == 422


@pytest.mark.parametrize("who", ["coop_b", "center_b", "municipality_b"])
def test_tracks_of_an_invisible_cooperative_are_404(
    client: TestClient, world: World, auth: Headers, track: Track, who: str
) -> None:
    url = f"/api/v1/cooperatives/{world.coop_a.id}/tracks"
    assert client.get(url, headers=auth(who)).status_code == 404
    assert client.post(url, json={"model": "solar"}, headers=auth(who)).status_code == 404


def test_the_track_list_carries_each_tracks_progress(
    client: TestClient,
    db: Session,
    world: World,
    catalog: Catalog,
    auth: Headers,
    track: Track,
    model: BusinessModel,
) -> None:
    change(db, world, track, model, COOP_ITEM, status="done")
    solar = start(db, world, catalog, model_key="solar")
    listed = client.get(f"/api/v1/cooperatives/{world.coop_a.id}/tracks", headers=auth("municipality")).json()
    assert [(t["id"], t["model"]) for t in listed] == [(track.id, "hub-facility"), (solar.id, "solar")]
    assert listed[0]["progress"]["overall"] == {"done": 1, "applicable": 12, "percent": 8}


# --- one track ----------------------------------------------------------------------------------


def test_a_track_lists_every_item_with_its_state_and_the_progress(
    client: TestClient, db: Session, world: World, auth: Headers, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, COOP_CONSIGNMENT, status="done", note="수익 계획", assignee="김담당")
    verify(db, world, track, model, COOP_CONSIGNMENT, who="municipality")
    change(db, world, track, model, CENTER_ITEM, who="center", status="na", na_reason="이미 개최함")
    change(db, world, track, model, EXEC_ITEM, status="doing")

    r = client.get(f"/api/v1/tracks/{track.id}", headers=auth("center"))
    assert r.status_code == 200
    body = r.json()
    assert (body["id"], body["model"], body["cooperative"]) == (track.id, "hub-facility", world.coop_a.id)
    assert [i["key"] for i in body["items"]] == [item.key for _, item in model.items]
    assert all(set(i) == ITEM_FIELDS for i in body["items"])
    items = {i["key"]: i for i in body["items"]}

    untouched = items[MUNI_ITEM]
    assert (untouched["status"], untouched["version"], untouched["updated_at"]) == ("todo", 0, None)
    assert (untouched["stage"], untouched["lead"]) == ("prepare", "municipality")

    verified = items[COOP_CONSIGNMENT]
    assert (verified["status"], verified["version"], verified["note"], verified["assignee"]) == (
        "done",
        2,
        "수익 계획",
        "김담당",
    )
    assert verified["verified_by"] == world.users["municipality"].display_name
    assert verified["verified_at"] is not None
    assert items[CENTER_ITEM]["na_reason"] == "이미 개최함"

    progress = body["progress"]
    assert progress["overall"] == {"done": 1, "applicable": 11, "percent": 9}
    assert progress["by_stage"]["prepare"] == {"done": 0, "applicable": 3, "percent": 0}
    assert progress["by_stage"]["plan"] == {"done": 1, "applicable": 6, "percent": 16}
    assert progress["by_role"]["coop"] == {"done": 1, "applicable": 4, "percent": 25}
    assert progress["by_role"]["center"] == {"done": 0, "applicable": 4, "percent": 0}
    assert progress["current_stage"] == "prepare"


def test_the_track_progress_flags_open_earlier_items(
    client: TestClient, db: Session, world: World, auth: Headers, track: Track, model: BusinessModel
) -> None:
    url = f"/api/v1/tracks/{track.id}"
    assert client.get(url, headers=auth("coop_a")).json()["progress"]["open_earlier"] == []
    change(db, world, track, model, EXEC_ITEM, status="doing")
    change(db, world, track, model, MUNI_ITEM, who="municipality", status="done")
    assert client.get(url, headers=auth("coop_a")).json()["progress"]["open_earlier"] == [
        {"stage": "execute", "earlier": "prepare", "count": 3},
        {"stage": "execute", "earlier": "plan", "count": 6},
    ]


@pytest.mark.parametrize("who", ["coop_b", "center_b", "municipality_b"])
def test_an_invisible_track_is_404(client: TestClient, auth: Headers, track: Track, who: str) -> None:
    assert client.get(f"/api/v1/tracks/{track.id}", headers=auth(who)).status_code == 404
    assert client.get(f"/api/v1/tracks/{track.id}/events", headers=auth(who)).status_code == 404


def test_an_unknown_track_is_404(client: TestClient, auth: Headers, track: Track) -> None:
    assert client.get(f"/api/v1/tracks/{(track.id or 0) + 1000}", headers=auth("admin")).status_code == 404


# --- PATCH an item ------------------------------------------------------------------------------


def test_patch_answers_the_new_item(
    client: TestClient, db: Session, world: World, auth: Headers, track: Track
) -> None:
    r = patch(
        client,
        auth,
        track,
        COOP_ITEM,
        {"status": "doing", "version": 0, "note": "초안 작성", "due_date": "2030-02-01"},
    )
    assert r.status_code == 200, r.text
    item = r.json()
    assert set(item) == ITEM_FIELDS
    assert (item["key"], item["status"], item["version"], item["note"], item["due_date"]) == (
        COOP_ITEM,
        "doing",
        1,
        "초안 작성",
        "2030-02-01",
    )
    assert item["updated_at"] is not None
    last = events(db, track)[-1]
    assert (last.action, last.actor_id, last.item_key) == (
        "item_updated",
        world.users["coop_a"].id,
        COOP_ITEM,
    )
    assert last.changes == {
        "status": ["todo", "doing"],
        "note": ["", "초안 작성"],
        "due_date": [None, "2030-02-01"],
    }


def test_patch_leaves_fields_it_does_not_send(client: TestClient, auth: Headers, track: Track) -> None:
    patch(
        client,
        auth,
        track,
        COOP_ITEM,
        {"status": "doing", "version": 0, "note": "메모", "assignee": "김담당"},
    )
    item = patch(client, auth, track, COOP_ITEM, {"status": "done", "version": 1}).json()
    assert (item["status"], item["note"], item["assignee"], item["version"]) == ("done", "메모", "김담당", 2)


def test_patch_without_a_status_keeps_the_status(client: TestClient, auth: Headers, track: Track) -> None:
    """Fields left out stay as they are, the status included (a note-only PATCH)."""
    patch(client, auth, track, COOP_ITEM, {"status": "doing", "version": 0})
    r = patch(client, auth, track, COOP_ITEM, {"version": 1, "note": "메모만"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["note"], r.json()["version"]) == ("doing", "메모만", 2)


def test_patch_with_a_null_status_is_422(
    client: TestClient, db: Session, auth: Headers, track: Track
) -> None:
    r = patch(client, auth, track, COOP_ITEM, {"status": None, "version": 0})
    assert r.status_code == 422
    assert state_of(db, track, COOP_ITEM) is None


def test_patch_with_null_clears_a_field(client: TestClient, auth: Headers, track: Track) -> None:
    patch(
        client,
        auth,
        track,
        COOP_ITEM,
        {"status": "doing", "version": 0, "note": "메모", "due_date": "2030-01-01"},
    )
    item = patch(
        client, auth, track, COOP_ITEM, {"status": "doing", "version": 1, "note": None, "due_date": None}
    ).json()
    assert (item["note"], item["due_date"], item["version"]) == ("", None, 2)


def test_patch_that_changes_nothing_keeps_the_version_and_appends_nothing(
    client: TestClient, db: Session, auth: Headers, track: Track
) -> None:
    patch(client, auth, track, COOP_ITEM, {"status": "doing", "version": 0})
    before = event_count(db, track)
    r = patch(client, auth, track, COOP_ITEM, {"status": "doing", "version": 1})
    assert r.status_code == 200
    assert r.json()["version"] == 1
    assert event_count(db, track) == before


def test_a_stale_patch_is_409_with_the_stored_item(
    client: TestClient, db: Session, auth: Headers, track: Track
) -> None:
    patch(client, auth, track, COOP_ITEM, {"status": "doing", "version": 0, "note": "먼저"})
    before = event_count(db, track)
    r = patch(client, auth, track, COOP_ITEM, {"status": "done", "version": 0, "note": "나중"})
    assert r.status_code == 409
    body = r.json()
    assert body["detail"] == CONFLICT_MESSAGE
    assert set(body["current"]) == ITEM_FIELDS
    assert (body["current"]["status"], body["current"]["note"], body["current"]["version"]) == (
        "doing",
        "먼저",
        1,
    )
    assert event_count(db, track) == before


def test_a_stale_patch_of_a_never_touched_item_is_409_with_version_0(
    client: TestClient, auth: Headers, track: Track
) -> None:
    r = patch(client, auth, track, COOP_ITEM, {"status": "done", "version": 3})
    assert r.status_code == 409
    assert (r.json()["current"]["status"], r.json()["current"]["version"]) == ("todo", 0)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "finished", "version": 0},
        {"status": "na", "version": 0},
        {"status": "na", "version": 0, "na_reason": "  "},
        {"status": "doing", "version": 0, "due_date": "2030-13-45"},
        {"status": "doing", "version": 0, "due_date": "next week"},
        {"status": "doing", "version": 0, "verified_by": "me"},
        {"status": "doing", "version": 0, "evil": True},
        {"status": "doing", "version": -1},
        {"status": "doing"},
        {"status": "doing", "version": 0, "note": "가" * 5001},
    ],
    ids=[
        "unknown-status",
        "na-without-reason",
        "na-blank-reason",
        "invalid-date",
        "not-a-date",
        "read-only-field",
        "unknown-field",
        "negative-version",
        "missing-version",
        "note-too-long",
    ],
)
def test_invalid_patches_are_422_and_change_nothing(
    client: TestClient, db: Session, auth: Headers, track: Track, body: dict
) -> None:
    before = event_count(db, track)
    r = patch(client, auth, track, COOP_ITEM, body)
    assert r.status_code == 422, r.text
    assert state_of(db, track, COOP_ITEM) is None
    assert event_count(db, track) == before


def test_na_without_a_reason_names_the_field_in_korean(
    client: TestClient, auth: Headers, track: Track
) -> None:
    r = patch(client, auth, track, COOP_ITEM, {"status": "na", "version": 0})
    assert "사유" in r.json()["detail"]["na_reason"]


@pytest.mark.parametrize(
    ("who", "key", "expected"),
    [
        ("center", COOP_ITEM, 403),
        ("municipality", COOP_ITEM, 403),
        ("admin", COOP_ITEM, 403),
        ("center", MUNI_ITEM, 403),
        ("coop_b", COOP_ITEM, 404),
        ("center_b", CENTER_ITEM, 404),
        ("municipality_b", MUNI_ITEM, 404),
        ("coop_a", "no-such-item", 404),
    ],
)
def test_patches_that_are_not_allowed_change_nothing(
    client: TestClient, db: Session, auth: Headers, track: Track, who: str, key: str, expected: int
) -> None:
    before = event_count(db, track)
    r = patch(client, auth, track, key, {"status": "doing", "version": 0}, who=who)
    assert r.status_code == expected
    assert state_of(db, track, key) is None
    assert event_count(db, track) == before


@pytest.mark.parametrize(("who", "key"), [("center", CENTER_ITEM), ("municipality", MUNI_ITEM)])
def test_public_bodies_patch_the_items_they_lead(
    client: TestClient, auth: Headers, track: Track, who: str, key: str
) -> None:
    r = patch(client, auth, track, key, {"status": "done", "version": 0}, who=who)
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["version"]) == ("done", 1)


def test_patch_needs_a_valid_token(client: TestClient, track: Track) -> None:
    r = client.patch(
        f"/api/v1/tracks/{track.id}/items/{COOP_ITEM}",
        json={"status": "doing", "version": 0},
        headers={"Authorization": "Bearer mgl_not-a-token"},
    )
    assert r.status_code == 401


# --- events ---------------------------------------------------------------------------------------


def test_events_are_newest_first_and_page_with_limit_and_before(
    client: TestClient, db: Session, auth: Headers, track: Track
) -> None:
    for version, note in enumerate(["하나", "둘", "셋", "넷", "다섯"]):
        assert (
            patch(
                client, auth, track, COOP_ITEM, {"status": "doing", "version": version, "note": note}
            ).status_code
            == 200
        )
    url = f"/api/v1/tracks/{track.id}/events"
    everything = client.get(url, headers=auth("municipality")).json()
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True)
    assert len(everything) == 6  # track started + five changes
    assert everything[-1]["action"] == "track_started"
    newest = everything[0]
    assert (newest["actor"], newest["action"], newest["item_key"], newest["item_retired"]) == (
        "coop-a",
        "item_updated",
        COOP_ITEM,
        False,
    )
    assert newest["changes"] == {"note": ["넷", "다섯"]}

    first = client.get(url, params={"limit": 2}, headers=auth("municipality")).json()
    assert [e["id"] for e in first] == ids[:2]
    second = client.get(
        url, params={"limit": 2, "before": first[-1]["id"]}, headers=auth("municipality")
    ).json()
    assert [e["id"] for e in second] == ids[2:4]
    rest = client.get(url, params={"before": second[-1]["id"]}, headers=auth("municipality")).json()
    assert [e["id"] for e in rest] == ids[4:]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"before": 0}, {"limit": "many"}])
def test_invalid_event_paging_is_422(client: TestClient, auth: Headers, track: Track, params: dict) -> None:
    assert (
        client.get(f"/api/v1/tracks/{track.id}/events", params=params, headers=auth("coop_a")).status_code
        == 422
    )


def test_patch_assigns_a_person_and_refuses_an_outsider(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    from tests.fixtures.tracking_helpers import start

    t = start(db, world, catalog)
    headers = {"Authorization": f"Bearer {create_token(session=db, user=world.users['coop_a']).token}"}
    url = f"/api/v1/tracks/{t.id}/items/operating-plan"
    r = client.patch(url, json={"version": 0, "assignee_id": world.users["center"].id}, headers=headers)
    assert r.status_code == 422 and "assignee_id" in r.text  # the center does not lead this item
    r = client.patch(url, json={"version": 0, "assignee_id": world.users["coop_a"].id}, headers=headers)
    assert r.status_code == 200 and r.json()["assignee_id"] == world.users["coop_a"].id
    r = client.patch(url, json={"version": 1, "assignee_id": None}, headers=headers)
    assert r.status_code == 200 and r.json()["assignee_id"] is None


def test_a_changes_answer_is_the_item_as_a_later_read_shows_it(
    client: TestClient, db: Session, world: World, catalog: Catalog, auth: Headers, track: Track
) -> None:
    """The answer is made from what the change wrote (no read back): it must be what is stored."""
    model = catalog.model(track.model_key)
    assert model is not None

    def stored(key: str) -> dict[str, Any]:
        r = client.get(f"/api/v1/tracks/{track.id}", headers=auth("coop_a"))
        return next(i for i in r.json()["items"] if i["key"] == key)

    def answered(key: str, body: dict[str, Any]) -> dict[str, Any]:
        r = patch(client, auth, track, key, {**body, "version": stored(key)["version"]})
        assert r.status_code == 200, r.text
        assert r.json() == stored(key)
        return dict(r.json())

    # The first change creates the state; the next ones update it.
    assert answered(COOP_ITEM, {"status": "doing"})["version"] == 1
    assert answered(COOP_ITEM, {"note": " 메모 ", "due_date": "2026-12-01"})["note"] == "메모"
    assert answered(COOP_ITEM, {"status": "na", "na_reason": "해당 없음"})["due_date"] == "2026-12-01"
    # A verified item: its change clears the 확인 (and the answer says so)…
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    verify(db, world, track, model, COOP_CONSIGNMENT, who="municipality")
    assert answered(COOP_CONSIGNMENT, {"note": "고침"})["verified_by"] is None
    # …and a change that changes nothing keeps it, with the verifier's name.
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    verify(db, world, track, model, COOP_CONSIGNMENT, who="municipality")
    assert answered(COOP_CONSIGNMENT, {"status": "done"})["verified_by"] == "gov-a"
