"""Rules 2-5 at the service level: rights, verification, optimistic versions, the event log."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.config import Settings
from app.models import Event, Track
from app.services import evidence as evidence_service
from app.services import tracking, verification
from app.services.errors import ConflictError, ForbiddenError, FormError
from app.services.readiness import readiness_of_summary, readiness_of_view
from tests.factories import World
from tests.fixtures.tracking_helpers import (
    CENTER_ITEM,
    COOP_CONSIGNMENT,
    COOP_ITEM,
    MUNI_CONSIGNMENT,
    MUNI_ITEM,
    add_evidence_link,
    add_file,
    change,
    event_count,
    events,
    hub,
    start,
    state_of,
    verify,
    version_of,
)

CONFLICT_MESSAGE = "다른 사용자가 먼저 변경했습니다. 최신 내용을 확인하세요."


@pytest.fixture
def model(catalog: Catalog) -> BusinessModel:
    return hub(catalog)


@pytest.fixture
def track(db: Session, world: World, catalog: Catalog) -> Track:
    return start(db, world, catalog)


# --- rule 2: who may change what ----------------------------------------------------------------


def test_coop_users_change_every_item_of_their_own_track(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    for _, item in model.items:
        state = change(db, world, track, model, item.key, status="doing")
        assert (state.status, state.version) == ("doing", 1), item.key


@pytest.mark.parametrize("who", ["center", "municipality"])
def test_public_bodies_change_only_the_items_they_lead(
    db: Session, world: World, track: Track, model: BusinessModel, who: str
) -> None:
    led = [item.key for _, item in model.items if item.lead == who]
    others = [item.key for _, item in model.items if item.lead != who]
    assert led and others
    for key in led:
        assert change(db, world, track, model, key, who=who, status="doing").version == 1
    before = event_count(db, track)
    for key in others:
        with pytest.raises(ForbiddenError):
            change(db, world, track, model, key, who=who, status="doing")
        assert state_of(db, track, key) is None, key
    assert event_count(db, track) == before


def test_admin_changes_no_item(db: Session, world: World, track: Track, model: BusinessModel) -> None:
    before = event_count(db, track)
    for _, item in model.items:
        with pytest.raises(ForbiddenError):
            change(db, world, track, model, item.key, who="admin", status="doing")
    assert all(state_of(db, track, item.key) is None for _, item in model.items)
    assert event_count(db, track) == before


def test_a_refused_change_of_a_touched_item_leaves_it_as_it_was(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, COOP_ITEM, status="doing", note="조합 메모")
    before = event_count(db, track)
    with pytest.raises(ForbiddenError):
        change(db, world, track, model, COOP_ITEM, who="center", status="done", note="센터가 덮어씀")
    state = state_of(db, track, COOP_ITEM)
    assert state is not None
    assert (state.status, state.note, state.version) == ("doing", "조합 메모", 1)
    assert event_count(db, track) == before


@pytest.mark.parametrize("who", ["coop_a", "center", "municipality"])
def test_coop_center_and_municipality_may_comment(
    db: Session, world: World, track: Track, model: BusinessModel, who: str
) -> None:
    comment = tracking.add_comment(
        session=db,
        principal=world.principal(db, who),
        track=track,
        model=model,
        item_key=COOP_ITEM,
        body="  확인 부탁드립니다.  ",
    )
    assert comment.body == "확인 부탁드립니다."
    last = events(db, track)[-1]
    assert (last.action, last.actor_id, last.item_key) == ("comment", world.users[who].id, COOP_ITEM)
    assert last.changes == {"comment": "확인 부탁드립니다."}


def test_admin_may_not_comment(db: Session, world: World, track: Track, model: BusinessModel) -> None:
    before = event_count(db, track)
    with pytest.raises(ForbiddenError):
        tracking.add_comment(
            session=db,
            principal=world.principal(db, "admin"),
            track=track,
            model=model,
            item_key=COOP_ITEM,
            body="관리자 의견",
        )
    assert event_count(db, track) == before


@pytest.mark.parametrize("body", ["", "   ", "가" * (tracking.MAX_COMMENT + 1)])
def test_an_empty_or_too_long_comment_is_refused(
    db: Session, world: World, track: Track, model: BusinessModel, body: str
) -> None:
    before = event_count(db, track)
    with pytest.raises(FormError) as exc:
        tracking.add_comment(
            session=db,
            principal=world.principal(db, "coop_a"),
            track=track,
            model=model,
            item_key=COOP_ITEM,
            body=body,
        )
    assert "의견" in exc.value.errors["body"]
    assert event_count(db, track) == before


@pytest.mark.parametrize("who", ["coop_a", "center", "admin"])
def test_the_coop_its_center_and_admin_may_start_a_track(
    db: Session, world: World, catalog: Catalog, who: str
) -> None:
    track = start(db, world, catalog, who=who)
    assert (track.cooperative_id, track.model_key, track.created_by_id) == (
        world.coop_a.id,
        "hub-facility",
        world.users[who].id,
    )
    (started,) = events(db, track)
    assert (started.action, started.actor_id, started.changes) == (
        "track_started",
        world.users[who].id,
        {"model": "hub-facility"},
    )


def test_the_municipality_may_not_start_a_track(db: Session, world: World, catalog: Catalog) -> None:
    before = event_count(db)
    with pytest.raises(ForbiddenError):
        start(db, world, catalog, who="municipality")
    assert event_count(db) == before


def test_one_track_per_model_per_cooperative(db: Session, world: World, catalog: Catalog) -> None:
    start(db, world, catalog)
    before = event_count(db)
    with pytest.raises(FormError) as exc:
        start(db, world, catalog, who="center")
    assert "이미" in exc.value.errors["model"]
    assert event_count(db) == before
    # The same model for another cooperative is a separate track.
    other = start(db, world, catalog, who="coop_b", coop="b")
    assert other.cooperative_id == world.coop_b.id


def test_an_unknown_model_is_refused(db: Session, world: World, catalog: Catalog) -> None:
    with pytest.raises(FormError) as exc:
        start(db, world, catalog, model_key="no-such-model")
    assert "알 수 없는 사업모델" in exc.value.errors["model"]


# --- rule 3: verification -----------------------------------------------------------------------

VERIFIABLE = [
    # (item, who marks it done, who verifies it)
    (MUNI_ITEM, "municipality", "municipality"),
    (CENTER_ITEM, "center", "center"),
    (MUNI_CONSIGNMENT, "municipality", "municipality"),
    (COOP_CONSIGNMENT, "coop_a", "municipality"),
]
EVERYONE = ("coop_a", "center", "municipality", "admin")


@pytest.mark.parametrize(("key", "doer", "verifier"), VERIFIABLE)
def test_the_verifying_role_confirms_a_done_item(
    db: Session, world: World, track: Track, model: BusinessModel, key: str, doer: str, verifier: str
) -> None:
    change(db, world, track, model, key, who=doer, status="done")
    state = verify(db, world, track, model, key, who=verifier)
    assert state.verified_by_id == world.users[verifier].id
    assert state.verified_at is not None
    assert state.version == 2
    last = events(db, track)[-1]
    assert (last.action, last.actor_id, last.item_key, last.changes) == (
        "verified",
        world.users[verifier].id,
        key,
        {"verified": [False, True]},
    )


@pytest.mark.parametrize(("key", "doer", "verifier"), VERIFIABLE)
def test_no_other_role_may_verify(
    db: Session, world: World, track: Track, model: BusinessModel, key: str, doer: str, verifier: str
) -> None:
    change(db, world, track, model, key, who=doer, status="done")
    if model.item(key).consignment:  # type: ignore[union-attr]
        add_evidence_link(db, world, track, model, key)  # so that only the role can refuse
    before = event_count(db, track)
    for who in EVERYONE:
        if who == verifier:
            continue
        with pytest.raises(ForbiddenError):
            verify(db, world, track, model, key, who=who)
    assert state_of(db, track, key).verified_at is None  # type: ignore[union-attr]
    assert event_count(db, track) == before


def test_a_coop_led_item_outside_consignment_is_verified_by_nobody(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, COOP_ITEM, status="done")
    for who in EVERYONE:
        with pytest.raises(ForbiddenError):
            verify(db, world, track, model, COOP_ITEM, who=who)
    assert tracking.verifier_role(model.item(COOP_ITEM)) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("status", ["doing", "todo", "na"])
def test_an_item_that_is_not_done_cannot_be_verified(
    db: Session, world: World, track: Track, model: BusinessModel, status: str
) -> None:
    extra = {"na_reason": "시설이 없음"} if status == "na" else {}
    change(db, world, track, model, MUNI_ITEM, who="municipality", status="doing")
    if status != "doing":
        change(db, world, track, model, MUNI_ITEM, who="municipality", status=status, **extra)
    before = event_count(db, track)
    with pytest.raises(FormError) as exc:
        verify(db, world, track, model, MUNI_ITEM, who="municipality")
    assert "완료된 항목만" in exc.value.errors["status"]
    assert state_of(db, track, MUNI_ITEM).verified_at is None  # type: ignore[union-attr]
    assert event_count(db, track) == before


def test_a_never_touched_item_cannot_be_verified(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    """Version 0 is the current version of a never-touched item: refused as not done, not as stale."""
    with pytest.raises(FormError) as exc:
        verify(db, world, track, model, MUNI_ITEM, who="municipality")
    assert "완료된 항목만" in exc.value.errors["status"]
    assert state_of(db, track, MUNI_ITEM) is None


def test_an_item_cannot_be_verified_twice(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, MUNI_ITEM, who="municipality", status="done")
    stale = version_of(db, track, MUNI_ITEM)
    first = verify(db, world, track, model, MUNI_ITEM, who="municipality")
    before = event_count(db, track)
    with pytest.raises(FormError) as exc:
        verify(db, world, track, model, MUNI_ITEM, who="municipality")
    assert "이미 확인된" in exc.value.errors["status"]
    with pytest.raises(ConflictError):  # the version read before the first verification
        verification.verify_item(
            session=db,
            principal=world.principal(db, "municipality"),
            track=track,
            model=model,
            item_key=MUNI_ITEM,
            version=stale,
        )
    assert version_of(db, track, MUNI_ITEM) == first.version
    assert event_count(db, track) == before


@pytest.mark.parametrize(
    "changes",
    [{"note": "보완 자료 첨부"}, {"status": "doing"}, {"assignee": "김담당"}, {"due_date": date(2030, 1, 1)}],
    ids=["note", "status", "assignee", "due_date"],
)
def test_changing_a_verified_item_clears_the_verification(
    db: Session, world: World, track: Track, model: BusinessModel, changes: dict
) -> None:
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    verify(db, world, track, model, COOP_CONSIGNMENT, who="municipality")
    state = change(db, world, track, model, COOP_CONSIGNMENT, **changes)
    assert state.verified_at is None
    assert state.verified_by_id is None
    last = events(db, track)[-1]
    assert last.action == "item_updated"
    assert last.changes["verified"] == [True, False]
    assert set(last.changes) == {"verified", *changes}


def test_a_no_op_change_keeps_the_verification(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, MUNI_ITEM, who="municipality", status="done")
    verify(db, world, track, model, MUNI_ITEM, who="municipality")
    state = change(db, world, track, model, MUNI_ITEM, who="municipality", status="done")
    assert state.verified_at is not None


def test_the_track_view_offers_verification_only_to_the_verifier(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")

    def can_verify(who: str) -> bool:
        view = tracking.load_track_view(
            session=db, principal=world.principal(db, who), track=track, cooperative=world.coop_a, model=model
        )
        row = view.row(COOP_CONSIGNMENT)
        assert row is not None
        return row.can_verify

    assert {who: can_verify(who) for who in EVERYONE} == {
        "coop_a": False,
        "center": False,
        "municipality": True,
        "admin": False,
    }
    verify(db, world, track, model, COOP_CONSIGNMENT, who="municipality")
    assert can_verify("municipality") is False


# --- rule 4: optimistic versions ----------------------------------------------------------------


def test_a_never_touched_item_is_version_0(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    view = tracking.load_track_view(
        session=db,
        principal=world.principal(db, "coop_a"),
        track=track,
        cooperative=world.coop_a,
        model=model,
    )
    assert {r.version for r in view.rows} == {0}
    assert {r.status for r in view.rows} == {"todo"}
    assert len(view.rows) == len(model.items)


def test_each_successful_write_increments_the_version_by_one(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    seen = [
        change(db, world, track, model, COOP_CONSIGNMENT, status="doing").version,
        change(db, world, track, model, COOP_CONSIGNMENT, note="메모").version,
        change(db, world, track, model, COOP_CONSIGNMENT, status="done", assignee="이담당").version,
        verify(db, world, track, model, COOP_CONSIGNMENT, who="municipality").version,
        change(db, world, track, model, COOP_CONSIGNMENT, due_date=date(2030, 5, 1)).version,
    ]
    assert seen == [1, 2, 3, 4, 5]


def test_a_stale_version_is_a_conflict_with_the_stored_state(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, COOP_ITEM, status="doing")
    change(db, world, track, model, COOP_ITEM, status="done", note="먼저 저장")
    before = event_count(db, track)
    with pytest.raises(ConflictError) as exc:
        tracking.update_item(
            session=db,
            principal=world.principal(db, "coop_a"),
            track=track,
            model=model,
            item_key=COOP_ITEM,
            version=1,
            changes={"status": "todo", "note": "나중 저장"},
        )
    assert exc.value.message == CONFLICT_MESSAGE
    assert (exc.value.current.status, exc.value.current.note, exc.value.current.version) == (
        "done",
        "먼저 저장",
        2,
    )
    state = state_of(db, track, COOP_ITEM)
    assert (state.status, state.note, state.version) == ("done", "먼저 저장", 2)  # type: ignore[union-attr]
    assert event_count(db, track) == before


@pytest.mark.parametrize("version", [1, 5])
def test_a_version_ahead_of_a_never_touched_item_is_a_conflict(
    db: Session, world: World, track: Track, model: BusinessModel, version: int
) -> None:
    with pytest.raises(ConflictError) as exc:
        tracking.update_item(
            session=db,
            principal=world.principal(db, "coop_a"),
            track=track,
            model=model,
            item_key=COOP_ITEM,
            version=version,
            changes={"status": "doing"},
        )
    assert exc.value.current is None
    assert state_of(db, track, COOP_ITEM) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "todo"},
        {"note": ""},
        {"note": "   "},
        {"assignee": ""},
        {"due_date": None},
        {"status": "todo", "note": "", "assignee": "", "due_date": None, "na_reason": ""},
    ],
)
def test_a_change_to_a_never_touched_item_that_changes_nothing_writes_nothing(
    db: Session, world: World, track: Track, model: BusinessModel, changes: dict
) -> None:
    before = event_count(db, track)
    state = change(db, world, track, model, COOP_ITEM, **changes)
    assert state.version == 0
    assert state_of(db, track, COOP_ITEM) is None
    assert event_count(db, track) == before


def test_repeating_the_same_change_keeps_the_version_and_appends_nothing(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, COOP_ITEM, status="doing", note="메모", due_date=date(2030, 1, 1))
    before = event_count(db, track)
    state = change(
        db, world, track, model, COOP_ITEM, status="doing", note="  메모 ", due_date=date(2030, 1, 1)
    )
    assert state.version == 1
    assert event_count(db, track) == before


# --- rule 4: validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"status": "finished"}, "status", "알 수 없는 상태"),
        ({"status": "na"}, "na_reason", "사유"),
        ({"status": "na", "na_reason": "   "}, "na_reason", "사유"),
        ({"note": "가" * (tracking.MAX_NOTE + 1)}, "note", "자 이하"),
        ({"assignee": "가" * (tracking.MAX_ASSIGNEE + 1)}, "assignee", "자 이하"),
        ({"due_date": "2030-01-01"}, "due_date", "날짜"),
        ({"version": 3}, "version", "바꿀 수 없는"),
    ],
)
def test_invalid_changes_are_refused_with_a_korean_message(
    db: Session, world: World, track: Track, model: BusinessModel, changes: dict, field: str, words: str
) -> None:
    before = event_count(db, track)
    with pytest.raises(FormError) as exc:
        change(db, world, track, model, COOP_ITEM, **changes)
    assert words in exc.value.errors[field]
    assert state_of(db, track, COOP_ITEM) is None
    assert event_count(db, track) == before


def test_leaving_na_clears_the_reason(db: Session, world: World, track: Track, model: BusinessModel) -> None:
    change(db, world, track, model, COOP_ITEM, status="na", na_reason="시설 없음")
    state = change(db, world, track, model, COOP_ITEM, status="doing")
    assert (state.status, state.na_reason) == ("doing", "")
    assert events(db, track)[-1].changes == {"status": ["na", "doing"], "na_reason": ["시설 없음", ""]}


# --- rule 5: one event per successful change ----------------------------------------------------

ITEM_CHANGES = [
    ({"status": "doing"}, {"status": ["todo", "doing"]}),
    ({"note": "회의 예정"}, {"note": ["", "회의 예정"]}),
    ({"due_date": date(2030, 3, 1)}, {"due_date": [None, "2030-03-01"]}),
    ({"assignee": "박담당"}, {"assignee": ["", "박담당"]}),
    (
        {"status": "na", "na_reason": "대상 시설 없음"},
        {"status": ["todo", "na"], "na_reason": ["", "대상 시설 없음"]},
    ),
    (
        {"status": "done", "note": "완료", "assignee": "최담당", "due_date": date(2030, 1, 2)},
        {
            "status": ["todo", "done"],
            "note": ["", "완료"],
            "assignee": ["", "최담당"],
            "due_date": [None, "2030-01-02"],
        },
    ),
]


@pytest.mark.parametrize(
    ("changes", "recorded"), ITEM_CHANGES, ids=["status", "note", "due_date", "assignee", "na", "several"]
)
def test_an_item_change_appends_one_event_with_before_and_after(
    db: Session, world: World, track: Track, model: BusinessModel, changes: dict, recorded: dict
) -> None:
    before = event_count(db, track)
    change(db, world, track, model, COOP_ITEM, **changes)
    assert event_count(db, track) == before + 1
    last = events(db, track)[-1]
    assert (last.action, last.actor_id, last.item_key, last.cooperative_id) == (
        "item_updated",
        world.users["coop_a"].id,
        COOP_ITEM,
        world.coop_a.id,
    )
    assert last.changes == recorded


def test_a_later_change_records_the_previous_value_as_before(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, COOP_ITEM, status="doing", due_date=date(2030, 1, 1))
    change(db, world, track, model, COOP_ITEM, status="done", due_date=None)
    assert events(db, track)[-1].changes == {"status": ["doing", "done"], "due_date": ["2030-01-01", None]}


def test_evidence_added_and_removed_are_one_event_each(
    db: Session, world: World, track: Track, model: BusinessModel, settings: Settings
) -> None:
    before = event_count(db, track)
    file = add_file(db, world, track, model, COOP_ITEM, settings, filename="회의록.pdf")
    assert event_count(db, track) == before + 1
    added = events(db, track)[-1]
    assert (added.action, added.actor_id, added.item_key) == (
        "evidence_added",
        world.users["coop_a"].id,
        COOP_ITEM,
    )
    assert added.changes["evidence"] == [None, "회의록.pdf"]

    evidence_service.add_link(
        session=db,
        principal=world.principal(db, "coop_a"),
        track=track,
        model=model,
        item_key=COOP_ITEM,
        url="https://example.org/minutes",
        title="회의 자료",
    )
    assert event_count(db, track) == before + 2
    assert events(db, track)[-1].changes["evidence"] == [None, "회의 자료"]

    evidence_service.remove_evidence(
        session=db, principal=world.principal(db, "coop_a"), track=track, model=model, evidence=file
    )
    assert event_count(db, track) == before + 3
    removed = events(db, track)[-1]
    assert (removed.action, removed.item_key, removed.changes) == (
        "evidence_removed",
        COOP_ITEM,
        {"evidence": ["회의록.pdf", None]},
    )


def test_evidence_does_not_change_the_item_version(
    db: Session, world: World, track: Track, model: BusinessModel, settings: Settings
) -> None:
    change(db, world, track, model, COOP_ITEM, status="doing")
    add_file(db, world, track, model, COOP_ITEM, settings)
    assert version_of(db, track, COOP_ITEM) == 1


def test_refused_requests_append_no_event(
    db: Session, world: World, track: Track, model: BusinessModel, settings: Settings
) -> None:
    change(db, world, track, model, COOP_ITEM, status="doing")
    before = event_count(db, track)
    attempts = [
        lambda: change(db, world, track, model, COOP_ITEM, who="center", status="done"),
        lambda: change(db, world, track, model, COOP_ITEM, status="bogus"),
        lambda: tracking.update_item(
            session=db,
            principal=world.principal(db, "coop_a"),
            track=track,
            model=model,
            item_key=COOP_ITEM,
            version=0,
            changes={"status": "done"},
        ),
        lambda: verify(db, world, track, model, COOP_ITEM, who="municipality"),
        lambda: add_file(db, world, track, model, COOP_ITEM, settings, who="center"),
        lambda: add_file(db, world, track, model, COOP_ITEM, settings, filename="x.html", body=b"<html>"),
    ]
    for attempt in attempts:
        with pytest.raises((ForbiddenError, FormError, ConflictError)):
            attempt()
    assert event_count(db, track) == before


def test_the_event_log_pages_newest_first(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    for note in ("하나", "둘", "셋", "넷"):
        change(db, world, track, model, COOP_ITEM, note=note)
    ids = [e.id for e in events(db, track)]
    rows = tracking.list_events(session=db, model=model, track_id=track.id)
    assert [r.event.id for r in rows] == sorted(ids, reverse=True)
    page = tracking.list_events(session=db, model=model, track_id=track.id, limit=2, before=ids[-1])
    assert [r.event.id for r in page] == [ids[-2], ids[-3]]
    assert rows[0].actor == world.users["coop_a"].display_name
    assert rows[0].item_text == model.item(COOP_ITEM).text  # type: ignore[union-attr]


# --- rule 5: the log is append-only at the database ---------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["UPDATE event SET action = 'tampered' WHERE id = :id", "DELETE FROM event WHERE id = :id"],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_update_or_delete_an_event(
    db: Session, world: World, track: Track, model: BusinessModel, statement: str
) -> None:
    change(db, world, track, model, COOP_ITEM, status="doing")
    target = events(db, track)[-1]
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text(statement), {"id": target.id})
    db.expire_all()
    kept = db.get(Event, target.id)
    assert kept is not None
    assert (kept.action, kept.changes) == ("item_updated", {"status": ["todo", "doing"]})


def test_the_database_refuses_an_orm_update_of_an_event(db: Session, world: World, track: Track) -> None:
    target = events(db, track)[0]
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        target.action = "tampered"
        db.add(target)
        db.flush()
    db.expire_all()
    assert db.get(Event, target.id).action == "track_started"  # type: ignore[union-attr]


def test_the_database_refuses_a_bulk_delete_of_the_log(db: Session, world: World, track: Track) -> None:
    before = event_count(db)
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text("DELETE FROM event"))
    assert event_count(db) == before


# --- one item's view (the answer to a change) ---------------------------------------------------


def test_an_items_view_shows_the_same_row_progress_and_verdict_as_the_whole_track(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    """The answer to a change builds only that item's row and takes progress and the verdict from
    the stored summary: for every item, every viewer and panel open or not, the same as the track
    page's own row, progress and verdict."""
    change(db, world, track, model, COOP_ITEM, status="doing", note="메모", due_date=date(2026, 1, 5))
    add_evidence_link(db, world, track, model, COOP_ITEM)
    tracking.add_comment(
        session=db,
        principal=world.principal(db, "center"),
        track=track,
        model=model,
        item_key=COOP_ITEM,
        body="의견",
    )
    change(db, world, track, model, COOP_CONSIGNMENT, status="done", assignee_id=world.users["coop_a"].id)
    verify(db, world, track, model, COOP_CONSIGNMENT, who="municipality")
    change(db, world, track, model, MUNI_CONSIGNMENT, who="municipality", status="done")
    verification.request_changes(
        session=db,
        principal=world.principal(db, "municipality"),
        track=track,
        model=model,
        item_key=MUNI_CONSIGNMENT,
        version=version_of(db, track, MUNI_CONSIGNMENT),
        reason="보완해 주세요",
    )
    change(db, world, track, model, CENTER_ITEM, who="center", status="na", na_reason="해당 없음")
    change(db, world, track, model, MUNI_ITEM, who="municipality", status="done")

    def facts(row: tracking.ItemRow, panel: bool) -> tuple[object, ...]:
        # The people to choose from are shown in an open panel only.
        people = row.people if panel else None
        return (row.render_key, [e.id for e in row.evidence], [(c.id, a) for c, a in row.comments], people)

    for who in EVERYONE:
        principal = world.principal(db, who)
        for panels in (set(), None):
            full = tracking.load_track_view(
                session=db,
                principal=principal,
                track=track,
                cooperative=world.coop_a,
                model=model,
                panels=panels,
            )
            for _, item in model.items:
                one = tracking.load_item_view(
                    session=db,
                    principal=principal,
                    track=track,
                    cooperative=world.coop_a,
                    model=model,
                    item_key=item.key,
                    panel=panels is None,
                )
                assert one is not None
                expected = full.row(item.key)
                assert expected is not None
                assert facts(one.row, panels is None) == facts(expected, panels is None), (who, item.key)
                assert one.progress == full.progress
                assert readiness_of_summary(one.summary) == readiness_of_view(full)
                assert [e.event.id for e in one.events] == [e.event.id for e in full.events]
    assert (
        tracking.load_item_view(
            session=db,
            principal=world.principal(db, "coop_a"),
            track=track,
            cooperative=world.coop_a,
            model=model,
            item_key="no-such-item",
            panel=False,
        )
        is None
    )
