"""내 할 일: every group equals an independent computation, for every role; the page's grouping,
paging and 다음 할 일; assignees as people."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from app.catalog import Catalog
from app.models import Cooperative, Event, ItemState, Track
from app.services import tasks, tracking
from app.services.errors import FormError
from app.services.summary import verifier_role
from tests.factories import World
from tests.fixtures.tracking_helpers import (
    CENTER_ITEM,
    COOP_ITEM,
    MUNI_CONSIGNMENT,
    change,
    hub,
    start,
    verify,
)

TODAY = date(2026, 11, 24)


def _scatter(db: Session, world: World, catalog: Catalog, seed: int) -> list[Track]:
    """Tracks in both cooperatives with item states of every kind, chosen at random."""
    rnd = random.Random(seed)
    tracks = [
        start(db, world, catalog),
        start(db, world, catalog, model_key="solar"),
        start(db, world, catalog, who="coop_b", coop="b"),
    ]
    for t in tracks:
        model = catalog.model(t.model_key)
        assert model is not None
        coop_who = "coop_a" if t.cooperative_id == world.coop_a.id else "coop_b"
        suffix = "" if coop_who == "coop_a" else "_b"
        for _, item in model.items:
            who = coop_who if item.lead == "coop" else f"{item.lead}{suffix}"
            roll = rnd.random()
            if roll < 0.25:
                continue  # never touched: 미착수 without a state row
            status = rnd.choice(["todo", "doing", "done", "done", "na"])
            changes: dict[str, object] = {"status": status}
            if status == "na":
                changes["na_reason"] = "해당 없음"
            if rnd.random() < 0.6:
                changes["due_date"] = TODAY + timedelta(days=rnd.randint(-20, 30))
            if rnd.random() < 0.3:
                changes["assignee_id"] = world.users[coop_who].id
            change(db, world, t, model, item.key, who=who, **changes)
            verifier = verifier_role(item)
            if status == "done" and verifier and rnd.random() < 0.4:
                verify(db, world, t, model, item.key, who=f"{verifier}{suffix}")
    db.flush()
    return tracks


def _expected(db: Session, world: World, catalog: Catalog, who: str) -> dict[str, set[tuple[int, str]]]:
    """The groups computed the slow way: every visible track, every catalog item, in Python."""
    p = world.principal(db, who)
    visible = {
        "coop_a": {world.coop_a.id},
        "coop_b": {world.coop_b.id},
        "center": {world.coop_a.id},
        "center_b": {world.coop_b.id},
        "municipality": {world.coop_a.id},
        "municipality_b": {world.coop_b.id},
        "admin": {world.coop_a.id, world.coop_b.id},
    }[who]
    out: dict[str, set[tuple[int, str]]] = {k: set() for k in tasks.GROUPS}
    for t in db.exec(select(Track)).all():
        if t.cooperative_id not in visible:
            continue
        model = catalog.model(t.model_key)
        assert model is not None and t.id is not None
        states = {s.item_key: s for s in db.exec(select(ItemState).where(ItemState.track_id == t.id)).all()}
        for _, item in model.items:
            s = states.get(item.key)
            status = s.status if s else "todo"
            is_open = status in ("todo", "doing")
            leads = item.lead == p.role
            assigned = bool(s and s.assignee_id == p.id)
            due = s.due_date if s else None
            key = (t.id, item.key)
            if is_open and (leads or assigned) and due and due < TODAY:
                out["overdue"].add(key)
            if is_open and (leads or assigned) and due and TODAY <= due <= TODAY + timedelta(days=14):
                out["due_soon"].add(key)
            if leads and s and s.change_request:
                out["change_requests"].add(key)
            if status == "done" and s and s.verified_at is None and verifier_role(item) == p.role:
                out["awaiting_my_verification"].add(key)
            if is_open and assigned:
                out["assigned_to_me"].add(key)
            if is_open and leads:
                out["lead_open"].add(key)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_group_equals_an_independent_computation(
    db: Session, world: World, catalog: Catalog, seed: int
) -> None:
    _scatter(db, world, catalog, seed)
    for who in ("coop_a", "coop_b", "center", "center_b", "municipality", "municipality_b", "admin"):
        got = tasks.load_tasks(session=db, principal=world.principal(db, who), catalog=catalog, today=TODAY)
        expected = _expected(db, world, catalog, who)
        for key in tasks.GROUPS:
            found = {(t.track_id, t.item_key) for t in getattr(got, key)}
            assert found == expected[key], (who, key)


def test_a_change_request_is_a_task_of_the_lead_and_leaves_with_the_redo(
    db: Session, world: World, catalog: Catalog
) -> None:
    from app.services import verification

    model = hub(catalog)
    t = start(db, world, catalog)
    change(db, world, t, model, MUNI_CONSIGNMENT, who="municipality", status="done")
    state = db.exec(select(ItemState).where(ItemState.item_key == MUNI_CONSIGNMENT)).one()
    verification.request_changes(
        session=db,
        principal=world.principal(db, "municipality"),
        track=t,
        model=model,
        item_key=MUNI_CONSIGNMENT,
        version=state.version,
        reason="근거를 보완해 주세요",
    )
    gov = tasks.load_tasks(
        session=db, principal=world.principal(db, "municipality"), catalog=catalog, today=TODAY
    )
    assert [(x.item_key, x.change_request) for x in gov.change_requests] == [
        (MUNI_CONSIGNMENT, "근거를 보완해 주세요")
    ]
    # Nobody else leads it, so nobody else is asked.
    coop = tasks.load_tasks(session=db, principal=world.principal(db, "coop_a"), catalog=catalog, today=TODAY)
    assert coop.change_requests == []


def test_the_page_shows_each_item_once_in_its_most_urgent_group(
    db: Session, world: World, catalog: Catalog
) -> None:
    _scatter(db, world, catalog, 7)
    p = world.principal(db, "coop_a")
    full = tasks.load_tasks(session=db, principal=p, catalog=catalog, today=TODAY)
    page = tasks.load_page(session=db, principal=p, catalog=catalog, today=TODAY, page_size=1000)
    seen: set[tuple[int, str]] = set()
    for group in page.groups:
        keys = [(t.track_id, t.item_key) for t in group.items]
        assert len(keys) == group.total
        # In this group, and in no more urgent one.
        for k in keys:
            assert k in {(t.track_id, t.item_key) for t in getattr(full, group.key)}
            assert k not in seen
        seen.update(keys)
    assert seen == {(t.track_id, t.item_key) for key in tasks.GROUPS for t in getattr(full, key)}


def test_groups_are_limited_and_paged_in_sql(db: Session, world: World, catalog: Catalog) -> None:
    _scatter(db, world, catalog, 11)
    p = world.principal(db, "coop_a")
    full = tasks.load_page(session=db, principal=p, catalog=catalog, today=TODAY, page_size=1000)
    lead_open = next(g for g in full.groups if g.key == "lead_open")
    assert lead_open.total > 3
    first = tasks.load_page(session=db, principal=p, catalog=catalog, today=TODAY, page_size=3)
    assert [len(g.items) for g in first.groups] == [min(g.total, 3) for g in full.groups]
    assert [g.total for g in first.groups] == [g.total for g in full.groups]
    pages = [
        tasks.load_page(
            session=db, principal=p, catalog=catalog, today=TODAY, group="lead_open", page=n, page_size=3
        )
        for n in range(1, -(-lead_open.total // 3) + 1)
    ]
    assert pages[0].pages == len(pages)
    walked = [(t.track_id, t.item_key) for pg in pages for t in pg.groups[0].items]
    assert walked == [(t.track_id, t.item_key) for t in lead_open.items]


def test_dated_items_come_first_earliest_first(db: Session, world: World, catalog: Catalog) -> None:
    model = hub(catalog)
    t = start(db, world, catalog)
    change(db, world, t, model, "operating-plan", status="doing", due_date=TODAY + timedelta(days=3))
    change(db, world, t, model, COOP_ITEM, status="todo", due_date=TODAY - timedelta(days=2))
    got = tasks.load_tasks(session=db, principal=world.principal(db, "coop_a"), catalog=catalog, today=TODAY)
    assert [x.item_key for x in got.lead_open[:2]] == [COOP_ITEM, "operating-plan"]
    assert [x.item_key for x in got.overdue] == [COOP_ITEM]
    assert [x.item_key for x in got.due_soon] == ["operating-plan"]


def test_next_items_are_the_current_stage_overdue_first(db: Session, world: World, catalog: Catalog) -> None:
    model = hub(catalog)
    t = start(db, world, catalog)
    p = world.principal(db, "coop_a")
    prepare = [i.key for s, i in model.items if s == "prepare"]
    nxt = tasks.next_items(session=db, principal=p, catalog=catalog, today=TODAY, limit=50)
    assert [x.item_key for x in nxt] == prepare  # guidebook order when nothing is dated
    late = prepare[-1]
    change(
        db,
        world,
        t,
        model,
        late,
        who="center" if model.item(late).lead == "center" else "municipality",  # type: ignore[union-attr]
        status="doing",
        due_date=TODAY - timedelta(days=1),
    )
    change(db, world, t, model, prepare[0], who="coop_a", status="done")
    nxt = tasks.next_items(session=db, principal=p, catalog=catalog, today=TODAY, limit=50)
    assert nxt[0].item_key == late
    assert [x.item_key for x in nxt] == [late, *prepare[1:-1]]
    # Once the stage is done, the next stage's items are next; the cooperative's own come first.
    for key in prepare:
        change(db, world, t, model, key, who="coop_a", status="done")
    nxt = tasks.next_items(session=db, principal=p, catalog=catalog, today=TODAY, limit=50)
    plan = [i for s, i in model.items if s == "plan"]
    assert [x.item_key for x in nxt] == [i.key for i in plan if i.lead == "coop"] + [
        i.key for i in plan if i.lead != "coop"
    ]


def test_an_admin_leads_nothing(db: Session, world: World, catalog: Catalog) -> None:
    _scatter(db, world, catalog, 5)
    got = tasks.load_tasks(session=db, principal=world.principal(db, "admin"), catalog=catalog, today=TODAY)
    assert all(getattr(got, k) == [] for k in tasks.GROUPS)


# --- assignees as people -------------------------------------------------------------------------


def test_assign_to_a_cooperative_user_and_to_the_lead_organization(
    db: Session, world: World, catalog: Catalog
) -> None:
    model = hub(catalog)
    t = start(db, world, catalog)
    change(db, world, t, model, COOP_ITEM, assignee_id=world.users["coop_a"].id, assignee="외부 세무사")
    state = db.exec(select(ItemState).where(ItemState.item_key == COOP_ITEM)).one()
    assert (state.assignee_id, state.assignee) == (world.users["coop_a"].id, "외부 세무사")
    change(db, world, t, model, CENTER_ITEM, who="center", assignee_id=world.users["center"].id)
    got = tasks.load_tasks(session=db, principal=world.principal(db, "center"), catalog=catalog, today=TODAY)
    assert [x.item_key for x in got.assigned_to_me] == [CENTER_ITEM]
    last = db.exec(select(Event).order_by(Event.id.desc())).first()  # type: ignore[union-attr]
    assert last is not None and last.changes["assignee_user"] == [None, "center-a"]


@pytest.mark.parametrize(
    ("item", "assignee"),
    [
        (COOP_ITEM, "coop_b"),  # another cooperative's user
        (COOP_ITEM, "center"),  # a public body on an item it does not lead
        (CENTER_ITEM, "municipality"),
        (COOP_ITEM, "inactive"),  # deactivated
    ],
)
def test_assigning_someone_else_is_refused_and_changes_nothing(
    db: Session, world: World, catalog: Catalog, item: str, assignee: str
) -> None:
    model = hub(catalog)
    t = start(db, world, catalog)
    with pytest.raises(FormError) as exc:
        change(db, world, t, model, item, assignee_id=world.users[assignee].id)
    assert "assignee_id" in exc.value.errors
    assert db.exec(select(ItemState).where(ItemState.item_key == item)).first() is None


def test_the_track_page_offers_only_assignable_people(db: Session, world: World, catalog: Catalog) -> None:
    model = hub(catalog)
    t = start(db, world, catalog)
    coop = db.get(Cooperative, world.coop_a.id)
    assert coop is not None
    view = tracking.load_track_view(
        session=db, principal=world.principal(db, "coop_a"), track=t, cooperative=coop, model=model
    )
    center_row = view.row(CENTER_ITEM)
    coop_row = view.row(COOP_ITEM)
    assert center_row is not None and coop_row is not None
    assert {p.role for p in coop_row.people} == {"coop"}
    assert {p.role for p in center_row.people} == {"coop", "center"}
    assert "gone" not in {p.name for p in coop_row.people}
