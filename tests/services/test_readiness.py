"""The readiness verdict: every rule, table-driven, and the same verdict from every path
(the pure rule, the track page's rows, the stored summary)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.models import TrackSummary
from app.services import readiness, tracking, verification
from app.services.readiness import Consignment, consignment_of, verdict
from tests.factories import World
from tests.fixtures.tracking_helpers import add_evidence_link, change, hub, start, verify

# (what the consignment items are, open items in 준비·계획, expected verdict)
CASES: list[tuple[str, dict[str, int], int, str]] = [
    (
        "no consignment item applies",
        {"applicable": 0, "done": 0, "verified": 0, "change_requests": 0},
        0,
        "not_applicable",
    ),
    (
        "none applies, other work open",
        {"applicable": 0, "done": 0, "verified": 0, "change_requests": 2},
        3,
        "not_applicable",
    ),
    ("one not done", {"applicable": 3, "done": 2, "verified": 2, "change_requests": 0}, 0, "not_ready"),
    (
        "sent back (보완 요청 → 진행 중)",
        {"applicable": 3, "done": 2, "verified": 2, "change_requests": 1},
        0,
        "not_ready",
    ),
    ("nothing done", {"applicable": 3, "done": 0, "verified": 0, "change_requests": 0}, 5, "not_ready"),
    (
        "all done, one self-reported",
        {"applicable": 3, "done": 3, "verified": 2, "change_requests": 0},
        0,
        "conditional",
    ),
    (
        "all verified, 계획 still open",
        {"applicable": 3, "done": 3, "verified": 3, "change_requests": 0},
        1,
        "conditional",
    ),
    (
        "all verified, a request open elsewhere",
        {"applicable": 3, "done": 3, "verified": 3, "change_requests": 1},
        0,
        "conditional",
    ),
    (
        "all verified, stages done, no request",
        {"applicable": 3, "done": 3, "verified": 3, "change_requests": 0},
        0,
        "ready",
    ),
]


@pytest.mark.parametrize(("why", "counts", "earlier", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_verdict_rules(why: str, counts: dict[str, int], earlier: int, expected: str) -> None:
    c = consignment_of(**counts)
    assert verdict(consignment=c, earlier_stages_open=earlier) == expected
    assert (
        c.self_reported == counts["done"] - counts["verified"]
        and c.open == counts["applicable"] - counts["done"]
    )


def test_every_verdict_has_its_rule_printed() -> None:
    assert {key for key, _ in readiness.VERDICT_RULES} == {c[3] for c in CASES}


def _verdicts(
    db: Session, world: World, catalog: Catalog, track: Any, model: BusinessModel
) -> set[tuple[str, Consignment]]:
    """The verdict as the report computes it and as the stored summary gives it: must be one."""
    report = readiness.load_report(
        session=db,
        principal=world.principal(db, "municipality"),
        catalog=catalog,
        track=track,
        cooperative=world.coop_a,
        model=model,
    )
    db.expire_all()
    stored = db.get(TrackSummary, track.id)
    return {(report.verdict, report.consignment), readiness.readiness_of_summary(stored)}


def finish(db: Session, world: World, track: Any, model: BusinessModel, stages: tuple[str, ...]) -> None:
    for stage, item in model.items:
        if stage in stages:
            who = {"coop": "coop_a", "center": "center", "municipality": "municipality"}[item.lead]
            change(db, world, track, model, item.key, who=who, status="done")


def test_the_verdict_moves_with_the_work_on_every_path(db: Session, world: World, catalog: Catalog) -> None:
    model = hub(catalog)
    track = start(db, world, catalog)
    consignment = [item for _, item in model.items if item.consignment]
    assert consignment, "hub-facility has 위탁 전 확인 items"

    (only,) = _verdicts(db, world, catalog, track, model)
    assert only[0] == "not_ready" and only[1].open == only[1].total == len(consignment)

    finish(db, world, track, model, ("prepare", "plan"))
    (only,) = _verdicts(db, world, catalog, track, model)
    assert only[0] == "conditional" and only[1].self_reported == len(consignment)

    for item in consignment:
        verify(db, world, track, model, item.key, who=tracking.verifier_role(item) or "municipality")
    (only,) = _verdicts(db, world, catalog, track, model)
    assert only[0] == "ready" and only[1].verified == len(consignment)

    # 보완 요청 sends one back: not ready until the cooperative answers and it is confirmed again.
    first = consignment[0]
    verifier = tracking.verifier_role(first) or "municipality"
    verification.request_changes(
        session=db,
        principal=world.principal(db, verifier),
        track=track,
        model=model,
        item_key=first.key,
        version=_version(db, track, first.key),
        reason="근거 서류가 빠졌습니다.",
    )
    (only,) = _verdicts(db, world, catalog, track, model)
    assert only[0] == "not_ready" and only[1].change_requests == 1 and only[1].open == 1

    doer = {"coop": "coop_a", "center": "center", "municipality": "municipality"}[first.lead]
    change(db, world, track, model, first.key, who=doer, status="done")
    (only,) = _verdicts(db, world, catalog, track, model)
    assert only[0] == "conditional" and only[1].change_requests == 0

    verify(db, world, track, model, first.key, who=verifier)
    (only,) = _verdicts(db, world, catalog, track, model)
    assert only[0] == "ready"

    # 해당 없음 takes an item out of the count; nothing applicable is 해당 없음 as a verdict.
    for item in consignment:
        doer = {"coop": "coop_a", "center": "center", "municipality": "municipality"}[item.lead]
        change(db, world, track, model, item.key, who=doer, status="na", na_reason="위탁하지 않음")
    (only,) = _verdicts(db, world, catalog, track, model)
    assert only[0] == "not_applicable" and only[1].total == 0


def _version(db: Session, track: Any, key: str) -> int:
    from tests.fixtures.tracking_helpers import version_of

    return version_of(db, track, key)


def test_a_retired_consignment_item_no_longer_counts(db: Session, world: World, catalog: Catalog) -> None:
    from app.services import summary
    from tests.services.test_summary import edited_catalog

    model = hub(catalog)
    track = start(db, world, catalog)
    before = _verdicts(db, world, catalog, track, model)
    changed = edited_catalog(catalog)
    # Retire a consignment item the same way the content would.
    retired = next(item for _, item in model.items if item.consignment)
    data = hub(changed).model_dump(mode="json")
    for stage in data["stages"]:
        stage["items"] = [i for i in stage["items"] if i["key"] != retired.key]
    new_model = BusinessModel.model_validate(data)
    new_catalog = Catalog.build(
        changed.about, [new_model if m.key == model.key else m for m in changed.models], changed.actors
    )
    summary.refresh_all(session=db, catalog=new_catalog)
    (after,) = _verdicts(db, world, new_catalog, track, new_model)
    (old,) = before
    assert after[1].total == old[1].total - 1


def test_verification_needs_evidence_on_consignment_items_and_requests_need_a_reason(
    db: Session, world: World, catalog: Catalog
) -> None:
    from app.services.errors import FormError
    from tests.fixtures.tracking_helpers import COOP_CONSIGNMENT, events, state_of, version_of

    model = hub(catalog)
    track = start(db, world, catalog)
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    gov = world.principal(db, "municipality")
    with pytest.raises(FormError) as exc:
        verification.verify_item(
            session=db, principal=gov, track=track, model=model, item_key=COOP_CONSIGNMENT, version=1
        )
    assert "증빙" in exc.value.errors["evidence"]
    with pytest.raises(FormError) as exc:
        verification.request_changes(
            session=db,
            principal=gov,
            track=track,
            model=model,
            item_key=COOP_CONSIGNMENT,
            version=1,
            reason="  ",
        )
    assert "reason" in exc.value.errors
    count = len(events(db, track))
    add_evidence_link(db, world, track, model, COOP_CONSIGNMENT)
    verification.verify_item(
        session=db,
        principal=gov,
        track=track,
        model=model,
        item_key=COOP_CONSIGNMENT,
        version=1,
        note="원본 대조 완료",
    )
    state = state_of(db, track, COOP_CONSIGNMENT)
    assert state is not None and state.verified_note == "원본 대조 완료"
    verification.unverify_item(
        session=db,
        principal=gov,
        track=track,
        model=model,
        item_key=COOP_CONSIGNMENT,
        version=version_of(db, track, COOP_CONSIGNMENT),
        reason="날인 누락",
    )
    log = events(db, track)[count:]
    assert [e.action for e in log] == ["evidence_added", "verified", "unverified"]
    assert log[1].changes == {"verified": [False, True], "verified_note": "원본 대조 완료"}
    assert log[2].changes == {"verified": [True, False], "reason": "날인 누락"}
    state = state_of(db, track, COOP_CONSIGNMENT)
    assert (
        state is not None
        and state.status == "done"
        and state.verified_at is None
        and state.verified_note == ""
    )
