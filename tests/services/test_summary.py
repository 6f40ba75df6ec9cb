"""The stored track summary equals a recomputation from the item states, whatever the history.

Random histories run through the services (status, due dates, 해당 없음, verification) on both
backends; half-way the content changes (an item retired, one added) the way an editor would,
and the summaries are rebuilt as at start. After every history the stored row and its due items
must equal ``compute_summary`` over the states read back, and the progress it yields must equal
the track page's own ``compute_progress``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.models import AppMeta, Event, ItemState, Track, TrackDueItem, TrackSummary, User
from app.services import summary as summary_service
from app.services import tracking, verification
from app.services.errors import ConflictError, ForbiddenError, FormError
from app.services.progress import compute_progress
from tests.factories import World
from tests.fixtures.tracking_helpers import HUB, add_evidence_link, hub, start, version_of

TODAY = date(2026, 11, 23)
RETIRED = "operating-plan"  # plan, coop-led: leaves the content half-way
ADDED = {"key": "community-survey", "text": "주민 수요조사 실시", "lead": "center"}


def edited_catalog(catalog: Catalog) -> Catalog:
    """The same content with RETIRED removed from hub-facility and ADDED appended to its plan."""
    model = hub(catalog)
    data = model.model_dump(mode="json")
    for stage in data["stages"]:
        stage["items"] = [i for i in stage["items"] if i["key"] != RETIRED]
        if stage["key"] == "plan":
            stage["items"].append(dict(ADDED))
    changed = BusinessModel.model_validate(data)
    return Catalog.build(
        catalog.about, [changed if m.key == HUB else m for m in catalog.models], catalog.actors
    )


def stored_facts(db: Session, track: Track, model: BusinessModel) -> dict[str, Any]:
    """The stored row and due items, next to what recomputation from the states gives."""
    db.expire_all()
    row = db.get(TrackSummary, track.id)
    assert row is not None
    due = db.exec(select(TrackDueItem).where(TrackDueItem.track_id == track.id)).all()
    states = db.exec(select(ItemState).where(ItemState.track_id == track.id)).all()
    items = {
        s.item_key: summary_service.ItemFacts(
            s.status, s.due_date, s.verified_at is not None, s.updated_at, bool(s.change_request)
        )
        for s in states
    }
    expected = summary_service.compute_summary(
        model=model, items=items, last_activity=(row.last_activity_at, row.last_activity_role)
    )
    stored = row.model_dump(exclude={"refreshed_at", "decision"})  # decision: kept by the decisions service
    recomputed = summary_service.summary_values(track.id or 0, expected, row.refreshed_at)
    recomputed.pop("refreshed_at")
    return {
        "stored": stored,
        "recomputed": recomputed,
        "stored_due": sorted((d.item_key, d.due_date, d.lead) for d in due),
        "recomputed_due": sorted((d.item_key, d.due_date, d.lead) for d in expected.due),
        "stored_progress": summary_service.progress_of(row),
        "page_progress": compute_progress(model=model, statuses={s.item_key: s.status for s in states}),
    }


def reference(model: BusinessModel, states: list[ItemState]) -> dict[str, Any]:
    """The summary's counts written out independently, item by item, from the guidebook rules."""
    by_key = {s.item_key: s for s in states}
    out: dict[str, Any] = {}
    stages = ("prepare", "plan", "execute")
    for name in (*stages, "coop", "center", "municipality"):
        out[f"{name}_done"] = out[f"{name}_applicable"] = 0
    out |= {"awaiting_center": 0, "awaiting_municipality": 0}
    out |= {
        "consignment_applicable": 0,
        "consignment_done": 0,
        "consignment_verified": 0,
        "change_requests": 0,
    }
    started = dict.fromkeys(stages, False)
    due = []
    for stage, item in model.items:
        st_ = by_key.get(item.key)
        status = st_.status if st_ else "todo"
        started[stage] = started[stage] or status in ("doing", "done")
        if status != "na":
            for name in (stage, item.lead):
                out[f"{name}_applicable"] += 1
                out[f"{name}_done"] += status == "done"
        if st_ and status == "done" and st_.verified_at is None:
            if item.lead in ("center", "municipality"):
                out[f"awaiting_{item.lead}"] += 1
            elif item.consignment:
                out["awaiting_municipality"] += 1
        if item.consignment and status != "na":
            out["consignment_applicable"] += 1
            out["consignment_done"] += status == "done"
            out["consignment_verified"] += bool(status == "done" and st_ and st_.verified_at)
        out["change_requests"] += bool(st_ and st_.change_request)
        if st_ and status in ("todo", "doing") and st_.due_date:
            due.append((item.key, st_.due_date, item.lead))
    incomplete = [s for s in stages if out[f"{s}_done"] < out[f"{s}_applicable"]]
    out["stage_rank"] = stages.index(incomplete[0]) if incomplete else 3
    furthest = max([i for i, s in enumerate(stages) if started[s]], default=0)
    out["open_earlier"] = sum(out[f"{s}_applicable"] - out[f"{s}_done"] for s in stages[:furthest])
    out |= {f"{s}_started": started[s] for s in stages}
    out["done"] = sum(out[f"{s}_done"] for s in stages)
    out["applicable"] = sum(out[f"{s}_applicable"] for s in stages)
    return {"row": out, "due": sorted(due)}


def assert_summary_is_recomputation(db: Session, track: Track, model: BusinessModel) -> None:
    facts = stored_facts(db, track, model)
    assert facts["stored"] == facts["recomputed"]
    assert facts["stored_due"] == facts["recomputed_due"]
    assert facts["stored_progress"] == facts["page_progress"]
    states = db.exec(select(ItemState).where(ItemState.track_id == track.id)).all()
    ref = reference(model, list(states))
    assert {k: facts["stored"][k] for k in ref["row"]} == ref["row"]
    assert facts["stored_due"] == ref["due"]
    newest = db.exec(
        select(Event.at, User.role)
        .outerjoin(User, col(User.id) == col(Event.actor_id))
        .where(Event.track_id == track.id)
        .order_by(col(Event.id).desc())
    ).first()
    assert newest is not None
    assert (facts["stored"]["last_activity_at"], facts["stored"]["last_activity_role"]) == tuple(newest)


# One step of a history: (item index, action, argument, acting as someone without the right).
# Few items, so that the same item is changed, finished and verified within one history.
STEP = st.tuples(
    st.integers(min_value=0, max_value=9),
    st.sampled_from(["status", "status", "due", "na", "verify", "verify", "comment", "request", "unverify"]),
    st.sampled_from(["todo", "doing", "done", "done"]) | st.integers(min_value=-30, max_value=30),
    st.sampled_from([False] * 9 + [True]),
)
USER_OF = {"coop": "coop_a", "center": "center", "municipality": "municipality"}


def apply(db: Session, world: World, track: Track, model: BusinessModel, step: tuple[Any, ...]) -> None:
    index, action, arg, wrong = step
    # Spread over the stages: every 4th item, so that later stages get work while earlier ones are open.
    items = [item for _, item in model.items]
    item = items[(index * 4) % len(items)]
    key = item.key
    verifying = action in ("verify", "request", "unverify")
    role = (summary_service.verifier_role(item) or item.lead) if verifying else item.lead
    if wrong:
        role = {"coop": "center", "center": "municipality", "municipality": "coop"}[role]
    principal = world.principal(db, USER_OF[role])
    version = version_of(db, track, key)
    try:
        with db.begin_nested():
            if action == "verify":
                if item.consignment and not verification.current_evidence_count(db, track.id or 0, key):
                    add_evidence_link(db, world, track, model, key)
                    version = version_of(db, track, key)
                verification.verify_item(
                    session=db, principal=principal, track=track, model=model, item_key=key, version=version
                )
            elif action in ("request", "unverify"):
                act = verification.request_changes if action == "request" else verification.unverify_item
                act(
                    session=db,
                    principal=principal,
                    track=track,
                    model=model,
                    item_key=key,
                    version=version,
                    reason="보완 필요",
                )
            elif action == "comment":
                tracking.add_comment(
                    session=db, principal=principal, track=track, model=model, item_key=key, body="확인 부탁"
                )
            else:
                if action == "status":
                    changes: dict[str, Any] = {"status": arg if isinstance(arg, str) else "doing"}
                elif action == "na":
                    changes = {"status": "na", "na_reason": "해당 시설 없음"}
                else:
                    offset = arg if isinstance(arg, int) else 3
                    changes = {"due_date": TODAY + timedelta(days=offset)}
                tracking.update_item(
                    session=db,
                    principal=principal,
                    track=track,
                    model=model,
                    item_key=key,
                    version=version,
                    changes=changes,
                )
    except (ForbiddenError, FormError, ConflictError):
        pass  # refused steps change nothing, as for a person


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(before=st.lists(STEP, max_size=30), after=st.lists(STEP, max_size=15))
def test_summary_equals_recomputation_over_random_histories(
    db: Session, world: World, catalog: Catalog, before: list[Any], after: list[Any]
) -> None:
    example = db.begin_nested()  # each example starts from the same world
    try:
        model = hub(catalog)
        track = start(db, world, catalog)
        for step in before:
            apply(db, world, track, model, step)
        assert_summary_is_recomputation(db, track, model)

        # The content changes: rebuilt as at start, retired item no longer counted, new one open.
        changed = edited_catalog(catalog)
        new_model = hub(changed)
        assert summary_service.needs_refresh(session=db, catalog=changed)
        summary_service.refresh_all(session=db, catalog=changed)
        assert not summary_service.needs_refresh(session=db, catalog=changed)
        assert_summary_is_recomputation(db, track, new_model)
        for step in after:
            apply(db, world, track, new_model, step)
        assert_summary_is_recomputation(db, track, new_model)
    finally:
        example.rollback()


def test_refresh_all_rebuilds_what_was_lost_and_records_the_content(
    db: Session, world: World, catalog: Catalog
) -> None:
    model = hub(catalog)
    track = start(db, world, catalog)
    tracking.update_item(
        session=db,
        principal=world.principal(db, "coop_a"),
        track=track,
        model=model,
        item_key=RETIRED,
        version=0,
        changes={"status": "doing", "due_date": TODAY},
    )
    before = stored_facts(db, track, model)
    db.exec(TrackDueItem.__table__.delete())  # type: ignore[attr-defined]
    db.exec(TrackSummary.__table__.delete())  # type: ignore[attr-defined]
    assert summary_service.needs_refresh(session=db, catalog=catalog)
    assert summary_service.refresh_all(session=db, catalog=catalog) >= 1
    after = stored_facts(db, track, model)
    assert after["stored"] == before["stored"]
    assert after["stored_due"] == before["stored_due"] == [(RETIRED, TODAY, "coop")]
    meta = db.get(AppMeta, summary_service.CONTENT_VERSION_KEY)
    assert meta is not None and meta.value == catalog.version


def test_a_model_leaving_the_content_takes_its_summary_with_it(
    db: Session, world: World, catalog: Catalog
) -> None:
    track = start(db, world, catalog)
    without_hub = Catalog.build(catalog.about, [m for m in catalog.models if m.key != HUB], catalog.actors)
    summary_service.refresh_all(session=db, catalog=without_hub)
    assert db.get(TrackSummary, track.id) is None
    assert not db.exec(select(TrackDueItem).where(col(TrackDueItem.track_id) == track.id)).all()


@pytest.mark.parametrize(
    ("lead", "consignment", "expected"),
    [
        ("coop", False, None),
        ("coop", True, "municipality"),
        ("center", False, "center"),
        ("municipality", True, "municipality"),
    ],
)
def test_who_verifies(catalog: Catalog, lead: str, consignment: bool, expected: str | None) -> None:
    item = next(
        i for m in catalog.models for _, i in m.items if i.lead == lead and i.consignment == consignment
    )
    assert summary_service.verifier_role(item) == expected


def test_stage_completion_time_is_the_last_change_of_a_finished_item(catalog: Catalog) -> None:
    from datetime import UTC, datetime

    model = hub(catalog)
    prepare = [item.key for stage, item in model.items if stage == "prepare"]
    times = [datetime(2026, 1, d + 1, tzinfo=UTC) for d in range(len(prepare))]
    items = {k: summary_service.ItemFacts("done", None, True, t) for k, t in zip(prepare, times, strict=True)}
    facts = summary_service.compute_summary(model=model, items=items, last_activity=None)
    assert facts.completed_at["prepare"] == max(times)
    assert facts.completed_at["plan"] is None
    # Reopening one item un-completes the stage.
    items[prepare[0]] = summary_service.ItemFacts("doing", None, False, times[0])
    assert (
        summary_service.compute_summary(model=model, items=items, last_activity=None).completed_at["prepare"]
        is None
    )


def test_awaiting_counts_follow_done_and_verification(db: Session, world: World, catalog: Catalog) -> None:
    from tests.fixtures.tracking_helpers import CENTER_ITEM, COOP_CONSIGNMENT, change, verify

    model = hub(catalog)
    track = start(db, world, catalog)
    change(db, world, track, model, CENTER_ITEM, who="center", status="done")
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    row = stored_facts(db, track, model)["stored"]
    assert (row["awaiting_center"], row["awaiting_municipality"]) == (1, 1)
    verify(db, world, track, model, COOP_CONSIGNMENT, who="municipality")
    row = stored_facts(db, track, model)["stored"]
    assert (row["awaiting_center"], row["awaiting_municipality"]) == (1, 0)
    assert row["last_activity_role"] == "municipality"


# --- the stored overdue / due-soon copy ------------------------------------------------------------


def _page_counts(db: Session, world: World, catalog: Catalog, now: Any) -> list[tuple[int, int, int]]:
    from app.services import dashboard

    page = dashboard.load_page(
        session=db,
        principal=world.principal(db, "admin"),
        catalog=catalog,
        filters=dashboard.Filters(),
        stalled_days=30,
        now=now,
    )
    return [(r.track_id, r.overdue, r.due_soon) for r in page.rows] + [
        (0, page.totals.overdue_items, page.totals.due_soon_items)
    ]


def test_the_stored_due_counts_are_a_copy_readers_never_need(
    db: Session, world: World, catalog: Catalog
) -> None:
    """A change stores today's counts; on a later day readers count from track_due_item until the
    midnight refresh, and both give the same answer; the refresh is idempotent."""
    from datetime import UTC, datetime

    from tests.fixtures.tracking_helpers import change

    model = hub(catalog)
    track = start(db, world, catalog)
    today = tracking.today_kst()
    change(db, world, track, model, "operating-plan", due_date=today + timedelta(days=3))
    change(db, world, track, model, "manual", status="doing", due_date=today - timedelta(days=1))
    change(db, world, track, model, "operation", due_date=today + timedelta(days=20))
    row = db.get(TrackSummary, track.id)
    assert row is not None
    db.refresh(row)
    assert (row.overdue, row.due_soon, row.due_as_of) == (1, 1, today)

    later = datetime.combine(today + timedelta(days=10), datetime.min.time(), tzinfo=UTC) + timedelta(hours=3)
    stale = _page_counts(db, world, catalog, later)
    assert (track.id, 2, 1) in stale  # counted: the copy is of another day
    assert summary_service.refresh_due_counts(session=db, today=today + timedelta(days=10)) >= 1
    assert summary_service.refresh_due_counts(session=db, today=today + timedelta(days=10)) == 0
    db.refresh(row)
    assert (row.overdue, row.due_soon, row.due_as_of) == (2, 1, today + timedelta(days=10))
    assert _page_counts(db, world, catalog, later) == stale


def test_the_summary_a_change_stored_is_the_one_read_back(
    db: Session, world: World, catalog: Catalog
) -> None:
    """The answer to a change shows the row its upsert returned (no read back): the same values, of
    the same types, as the stored row; any other write to the summaries makes it read anew."""
    from app.db import run_plain
    from tests.fixtures.tracking_helpers import change
    from tests.test_queries import count_statements

    model = hub(catalog)
    track = start(db, world, catalog)
    assert track.id is not None
    change(db, world, track, model, model.items[0][1].key, status="doing", due_date=TODAY)

    def read_back() -> Any:
        return run_plain(db, summary_service._STORED, {"track_id": track.id}).first()

    with count_statements(db.get_bind()) as statements:  # type: ignore[arg-type]
        returned = summary_service.stored_summary(db, track.id)
    assert not statements  # the upsert's own row, not a read
    stored = read_back()
    assert returned._asdict() == stored._asdict()
    assert [type(v) for v in returned] == [type(v) for v in stored]

    summary_service.refresh_due_counts(session=db, today=TODAY + timedelta(days=400))
    assert summary_service.stored_summary(db, track.id).overdue == read_back().overdue == 1
