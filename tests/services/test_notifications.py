"""알림 at the service level: who is told what for every kind of change, mentions that never
reach anyone who cannot see the cooperative, muted kinds, the daily scan, the inbox and preferences."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.models import (
    Consultation,
    Cooperative,
    Event,
    ItemState,
    Notification,
    NotificationPreference,
    Track,
    User,
)
from app.models.base import utcnow
from app.services import decisions, inbox, notifications, readiness, tracking, verification
from app.services.errors import FormError
from app.services.principal import Principal
from app.services.visibility import cooperative_scope
from tests.factories import PASSWORD_HASH, World
from tests.fixtures.tracking_helpers import (
    CENTER_ITEM,
    COOP_CONSIGNMENT,
    COOP_ITEM,
    MUNI_ITEM,
    add_evidence_link,
    change,
    hub,
    start,
    verify,
    version_of,
)

TODAY = date(2026, 11, 24)


@pytest.fixture
def model(catalog: Catalog) -> BusinessModel:
    return hub(catalog)


@pytest.fixture
def track(db: Session, world: World, catalog: Catalog) -> Track:
    return start(db, world, catalog)


def add_user(db: Session, login: str, role: str, display_name: str | None = None, **org: Any) -> User:
    user = User(
        login=login, display_name=display_name or login, password_hash=PASSWORD_HASH, role=role, **org
    )
    db.add(user)
    db.flush()
    return user


def kinds_by_login(db: Session) -> dict[str, set[str]]:
    """login → the kinds of notifications they have (every user, including empty ones)."""
    found: dict[str, set[str]] = {u.login: set() for u in db.exec(select(User)).all()}
    for login, kind in db.exec(
        select(User.login, Notification.kind).join(Notification, col(Notification.user_id) == col(User.id))
    ).all():
        found[login].add(kind)
    return found


def received(db: Session) -> dict[str, set[str]]:
    """Only the users who got something."""
    return {k: v for k, v in kinds_by_login(db).items() if v}


def notes_of(db: Session, user: User) -> list[Notification]:
    return list(
        db.exec(
            select(Notification).where(Notification.user_id == user.id).order_by(col(Notification.id))
        ).all()
    )


def comment(db: Session, world: World, track: Track, model: BusinessModel, key: str, body: str, *, who: str):
    return tracking.add_comment(
        session=db, principal=world.principal(db, who), track=track, model=model, item_key=key, body=body
    )


def mute(db: Session, user: User, *kinds: str, digest: bool = True) -> None:
    db.add(NotificationPreference(user_id=user.id, muted_kinds=list(kinds), email_digest=digest))  # type: ignore[arg-type]
    db.flush()


# --- the one visibility rule, over users -------------------------------------------------------


def test_sees_cooperative_is_the_visibility_rule_for_every_user_and_cooperative(
    db: Session, world: World
) -> None:
    lonely = Cooperative(name="센터 없는 조합", municipality_id=world.muni_b.id)  # type: ignore[arg-type]
    db.add(lonely)
    db.flush()
    pairs = set(
        db.exec(
            select(User.id, Cooperative.id).join(Cooperative, notifications.sees_cooperative())  # type: ignore[call-overload]
        ).all()
    )
    expected = set()
    for user in db.exec(select(User)).all():
        assert user.id is not None
        # The rule is about the organization (being active is checked separately, by the callers).
        principal = Principal(
            id=user.id,
            login=user.login,
            display_name=user.display_name,
            role=user.role,
            cooperative_id=user.cooperative_id,
            center_id=user.center_id,
            municipality_id=user.municipality_id,
            org_name=None,
        )
        for coop_id in db.exec(select(Cooperative.id).where(cooperative_scope(principal))).all():
            expected.add((user.id, coop_id))
    assert pairs == expected
    assert len(expected) > 8  # the world really has several users and cooperatives


# --- comments and mentions ---------------------------------------------------------------------


def test_a_comment_reaches_the_cooperative_the_lead_and_earlier_commenters_never_the_actor(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    colleague = add_user(db, "coop-a-2", "coop", cooperative_id=world.coop_a.id)
    # The 지자체 wrote in the thread of a coop-led item first: it hears the replies.
    comment(db, world, track, model, COOP_ITEM, "일정 알려 주세요.", who="municipality")
    assert received(db) == {"coop-a": {"comment"}, "coop-a-2": {"comment"}}

    comment(db, world, track, model, COOP_ITEM, "다음 주에 올리겠습니다.", who="coop_a")
    got = received(db)
    assert got["gov-a"] == {"comment"}  # earlier commenter
    assert got["coop-a-2"] == {"comment"}
    assert len(notes_of(db, world.users["coop_a"])) == 1  # only the 지자체's comment, not their own
    # Never: the center (not lead, never wrote), other cooperatives' people, the inactive user.
    assert not ({"center-a", "center-b", "coop-b", "gov-b", "gone", "admin"} & got.keys())
    assert colleague.id is not None


def test_a_comment_on_a_center_item_reaches_the_center(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    comment(db, world, track, model, CENTER_ITEM, "워크숍 날짜를 정해 주세요.", who="coop_a")
    assert received(db) == {"center-a": {"comment"}}
    (note,) = notes_of(db, world.users["center"])
    assert note.message == f"coop-a님이 ‘{model.item(CENTER_ITEM).text}’에 의견을 남겼습니다"  # type: ignore[union-attr]
    assert note.excerpt == "워크숍 날짜를 정해 주세요."
    assert (note.cooperative_id, note.track_id, note.item_key) == (world.coop_a.id, track.id, CENTER_ITEM)
    assert note.actor_id == world.users["coop_a"].id and note.read_at is None


def test_a_mention_by_login_wins_over_comment_one_notification_per_person(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    comment(db, world, track, model, COOP_ITEM, "@gov-a @coop-a 확인 부탁드려요", who="center")
    got = received(db)
    assert got == {"gov-a": {"mention"}, "coop-a": {"mention"}}
    assert len(notes_of(db, world.users["coop_a"])) == 1  # mention and comment: one notification
    assert "회원님을 언급했습니다" in notes_of(db, world.users["municipality"])[0].message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("@지자체 확인 부탁드립니다", {"gov-a"}),
        ("@센터 의견 주세요", {"center-a"}),
        ("@지원센터, 부탁드립니다", {"center-a"}),
        ("@조합 확인하세요", {"coop-a"}),
        ("@서울특별시도시재생지원센터 검토 바랍니다", {"center-a"}),
        ("@서울특별시용산구", {"gov-a"}),
    ],
)
def test_an_organization_alias_reaches_only_that_cooperatives_organization(
    db: Session, world: World, track: Track, model: BusinessModel, body: str, expected: set[str]
) -> None:
    author = "center" if "조합" in body else "coop_a"
    comment(db, world, track, model, CENTER_ITEM, body, who=author)
    mentions = {login for login, kinds in received(db).items() if "mention" in kinds}
    assert mentions == expected
    for login in mentions:
        user = next(u for u in world.users.values() if u.login == login)
        assert "소속 기관을 언급했습니다" in notes_of(db, user)[-1].message


@pytest.mark.parametrize(
    "body",
    [
        "@gov-b 보세요",  # another region's 지자체
        "@coop-b 참고",  # another cooperative
        "@center-b 확인",  # another center
        "@인천광역시도시재생지원센터 확인",  # another center by its exact name
        "@나마을조합 참고",
        "@gone 오랜만입니다",  # inactive
        "@없는사람 안녕하세요",
    ],
)
def test_a_mention_of_someone_who_cannot_see_the_cooperative_notifies_nobody(
    db: Session, world: World, track: Track, model: BusinessModel, body: str
) -> None:
    comment(db, world, track, model, MUNI_ITEM, body, who="coop_a")
    got = received(db)
    # Only the ordinary comment audience of a 지자체-led item: the 지자체 A (and no mention at all).
    assert got == {"gov-a": {"comment"}}


def test_display_names_match_conservatively(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    coordinator = add_user(db, "seoul-coord", "center", "서울센터 코디네이터", center_id=world.center_a.id)
    add_user(db, "incheon-coord", "center", "인천센터 코디네이터", center_id=world.center_b.id)  # invisible
    comment(db, world, track, model, COOP_ITEM, "@코디네이터님 확인 부탁드려요", who="coop_a")
    assert received(db)["seoul-coord"] == {"mention"}  # the only one of that name who can see it

    add_user(db, "seoul-coord-2", "center", "서울센터 코디네이터", center_id=world.center_a.id)
    before = len(notes_of(db, coordinator))
    comment(db, world, track, model, COOP_ITEM, "@코디네이터님 다시 봐 주세요", who="coop_a")
    comment(db, world, track, model, COOP_ITEM, "@서울센터코디네이터 다시 봐 주세요", who="coop_a")
    # Two people answer to it now: nobody rather than the wrong one.
    assert len(notes_of(db, coordinator)) == before
    assert "seoul-coord-2" not in received(db)


def test_email_addresses_and_the_actor_are_not_mentions(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    assert notifications.mention_tokens("메일은 gov-a@example.kr 로, @gov-a님, (@센터) “@조합”") == {
        "gov-a",
        "센터",
        "조합",
    }
    comment(db, world, track, model, MUNI_ITEM, "자료는 gov-a@example.kr 로 보냈습니다 @coop-a", who="coop_a")
    assert received(db) == {"gov-a": {"comment"}}


def test_an_admin_can_be_mentioned_as_admin_sees_every_cooperative(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    comment(db, world, track, model, MUNI_ITEM, "@admin 계정 문제입니다", who="coop_a")
    assert received(db)["admin"] == {"mention"}


# --- status changes, verification, decisions ---------------------------------------------------


def test_done_asks_the_verifier_and_only_when_there_is_one(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, COOP_ITEM, status="done")  # a coop item nobody confirms
    change(db, world, track, model, COOP_CONSIGNMENT, status="doing")
    assert received(db) == {}
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")  # confirmed by the 지자체
    assert received(db) == {"gov-a": {"awaiting_verification"}}
    change(db, world, track, model, CENTER_ITEM, who="center", status="done")  # center's own item
    assert received(db) == {"gov-a": {"awaiting_verification"}}  # the actor is the only center user
    colleague = add_user(db, "center-a-2", "center", center_id=world.center_a.id)
    change(db, world, track, model, CENTER_ITEM, who="center", status="doing")
    change(db, world, track, model, CENTER_ITEM, who="center", status="done")
    assert [n.kind for n in notes_of(db, colleague)] == ["awaiting_verification"]
    assert "완료로 표시했습니다" in notes_of(db, colleague)[0].message


def test_change_request_and_verification_reach_the_lead_organization(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    add_evidence_link(db, world, track, model, COOP_CONSIGNMENT)
    gov = world.principal(db, "municipality")
    verification.request_changes(
        session=db,
        principal=gov,
        track=track,
        model=model,
        item_key=COOP_CONSIGNMENT,
        version=version_of(db, track, COOP_CONSIGNMENT),
        reason="수익 추정 근거를 보완해 주세요.",
    )
    (request,) = notes_of(db, world.users["coop_a"])
    assert (request.kind, request.excerpt) == ("change_request", "수익 추정 근거를 보완해 주세요.")
    change(db, world, track, model, COOP_CONSIGNMENT, status="done")
    verify(db, world, track, model, COOP_CONSIGNMENT, who="municipality")
    verification.unverify_item(
        session=db,
        principal=gov,
        track=track,
        model=model,
        item_key=COOP_CONSIGNMENT,
        version=version_of(db, track, COOP_CONSIGNMENT),
        reason="서명 누락",
    )
    kinds = [(n.kind, n.message.split("’ ")[-1], n.excerpt) for n in notes_of(db, world.users["coop_a"])]
    assert kinds[1:] == [
        ("verification", "항목을 확인했습니다", ""),
        ("verification", "항목의 확인을 취소했습니다", "서명 누락"),
    ]
    # The verifier is the actor each time; the center is not concerned by a coop item.
    assert received(db).keys() == {"coop-a", "gov-a"}  # gov-a: awaiting_verification only
    assert kinds_by_login(db)["gov-a"] == {"awaiting_verification"}


def test_a_decision_reaches_the_cooperative_and_its_center(
    db: Session, world: World, catalog: Catalog, track: Track, model: BusinessModel
) -> None:
    gov = world.principal(db, "municipality")
    report = readiness.load_report(
        session=db, principal=gov, catalog=catalog, track=track, cooperative=world.coop_a, model=model
    )
    decisions.record_decision(
        session=db,
        principal=gov,
        track=track,
        cooperative=world.coop_a,
        model=model,
        data=decisions.DecisionInput("conditional", TODAY, "도시재생과-77", conditions="운영규정 보완"),
        report=report,
        report_pdf=b"%PDF-1.4",
        today=TODAY,
    )
    assert received(db) == {"coop-a": {"decision"}, "center-a": {"decision"}}
    note = notes_of(db, world.users["center"])[0]
    assert note.message.endswith("위탁 결정을 기록했습니다: 조건부 승인")
    assert note.excerpt == "운영규정 보완"
    assert inbox.target_of(note).route == "readiness:page"


def test_muted_kinds_and_inactive_users_get_nothing(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    quiet = add_user(db, "coop-a-quiet", "coop", cooperative_id=world.coop_a.id)
    no_mentions = add_user(db, "coop-a-nomention", "coop", cooperative_id=world.coop_a.id)
    mute(db, quiet, "comment", "mention")
    mute(db, no_mentions, "mention")
    comment(db, world, track, model, COOP_ITEM, "@coop-a-nomention @coop-a-quiet @gone 보세요", who="center")
    got = received(db)
    assert "coop-a-quiet" not in got and "gone" not in got
    # Mentions muted, comments not: still told, as a comment.
    assert got["coop-a-nomention"] == {"comment"}


def test_quiet_changes_notify_nobody(db: Session, world: World, track: Track, model: BusinessModel) -> None:
    change(db, world, track, model, COOP_CONSIGNMENT, status="doing", note="메모")
    add_evidence_link(db, world, track, model, COOP_CONSIGNMENT)
    assert received(db) == {}


@contextmanager
def statements(db: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    conn = db.connection()

    def record(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa_event.listen(conn, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa_event.remove(conn, "before_cursor_execute", record)


def test_an_event_costs_one_query_and_one_insert_whatever_the_audience(
    db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    def run(action: str, item_key: str | None, changes: dict[str, Any], who: str = "center") -> list[str]:
        ev = Event(
            actor_id=world.users[who].id,
            cooperative_id=world.coop_a.id,  # type: ignore[arg-type]
            track_id=track.id,
            item_key=item_key,
            action=action,
            changes=changes,
            at=utcnow(),
        )
        actor = world.principal(db, who)
        with statements(db) as seen:
            notifications.on_event(session=db, event=ev, principal=actor, track=track, model=model)
        return seen

    small = run("comment", COOP_ITEM, {"comment": "@gov-a 봐 주세요"})
    for n in range(25):
        add_user(db, f"coop-a-{n}", "coop", cooperative_id=world.coop_a.id)
    large = run("comment", COOP_ITEM, {"comment": "@gov-a 봐 주세요"})
    assert len(small) == len(large) == 2, large
    assert len(run("item_updated", COOP_CONSIGNMENT, {"status": ["doing", "done"]}, who="coop_a")) == 2
    assert run("evidence_added", COOP_ITEM, {"url": "x"}) == []
    assert run("item_updated", COOP_ITEM, {"status": ["todo", "doing"]}) == []


# --- the daily scan ----------------------------------------------------------------------------


def due(
    db: Session, world: World, track: Track, model: BusinessModel, key: str, days: int, **more: Any
) -> None:
    item = model.item(key)
    assert item is not None
    who = {"coop": "coop_a", "center": "center", "municipality": "municipality"}[item.lead]
    change(db, world, track, model, key, who=who, due_date=TODAY + timedelta(days=days), **more)


def scan(db: Session, catalog: Catalog, today: date = TODAY) -> notifications.ScanResult:
    return notifications.scan_due(session=db, catalog=catalog, today=today)


def test_scan_notifies_due_soon_and_overdue_once_per_item_and_date(
    db: Session, world: World, catalog: Catalog, track: Track, model: BusinessModel
) -> None:
    due(db, world, track, model, COOP_ITEM, 2)  # due soon: the cooperative
    due(db, world, track, model, CENTER_ITEM, -1)  # overdue: the center
    due(db, world, track, model, COOP_CONSIGNMENT, 4)  # too far
    due(db, world, track, model, MUNI_ITEM, -5, status="done")  # done: not due
    first = scan(db, catalog)
    assert (first.candidates, first.created) == (2, 2)
    assert received(db) == {"coop-a": {"due_soon"}, "center-a": {"overdue"}}
    (soon,) = notes_of(db, world.users["coop_a"])
    assert soon.dedupe_key == f"due:{track.id}:{COOP_ITEM}:{(TODAY + timedelta(days=2)).isoformat()}"
    assert "기한이 2일 뒤입니다" in soon.message
    assert "이 지났습니다" in notes_of(db, world.users["center"])[0].message

    again = scan(db, catalog)  # the same day, or another host at the same time
    assert (again.candidates, again.created) == (2, 0)
    assert len(notes_of(db, world.users["coop_a"])) == 1

    # Days later the item is overdue: a new kind for the same date; the old notice stays one.
    # And the far item has come within three days.
    later = scan(db, catalog, TODAY + timedelta(days=3))
    assert later.created == 2
    assert sorted((n.kind, n.item_key) for n in notes_of(db, world.users["coop_a"])) == sorted(
        [("due_soon", COOP_CONSIGNMENT), ("due_soon", COOP_ITEM), ("overdue", COOP_ITEM)]
    )
    # A new due date is a new notice.
    due(db, world, track, model, COOP_ITEM, 1)
    assert scan(db, catalog).created == 1


def test_scan_reaches_the_assignee_if_they_can_see_the_cooperative(
    db: Session, world: World, catalog: Catalog, track: Track, model: BusinessModel
) -> None:
    due(db, world, track, model, COOP_ITEM, 0)
    state = db.exec(
        select(ItemState).where(ItemState.track_id == track.id, ItemState.item_key == COOP_ITEM)
    ).one()
    state.assignee_id = world.users["center"].id
    db.add(state)
    db.flush()
    scan(db, catalog)
    assert received(db) == {"coop-a": {"due_soon"}, "center-a": {"due_soon"}}
    assert "기한이 오늘입니다" in notes_of(db, world.users["center"])[0].message

    # Assigned to someone who cannot see the cooperative (moved elsewhere): nothing.
    state.assignee_id = world.users["center_b"].id
    db.add(state)
    db.flush()
    due(db, world, track, model, COOP_ITEM, 1)
    scan(db, catalog)
    assert "center-b" not in received(db)


def test_scan_respects_muted_kinds_and_follows_up_consultations(
    db: Session, world: World, catalog: Catalog, track: Track, model: BusinessModel
) -> None:
    mute(db, world.users["coop_a"], "due_soon")
    due(db, world, track, model, COOP_ITEM, 1)
    center = world.users["center"]

    def consultation(follow_up: date | None, **more: Any) -> Consultation:
        c = Consultation(
            cooperative_id=world.coop_a.id,  # type: ignore[arg-type]
            center_id=world.center_a.id,
            author_id=center.id,
            held_on=TODAY - timedelta(days=10),
            channel="visit",
            topic="운영규정 초안 검토",
            follow_up_on=follow_up,
            **more,
        )
        db.add(c)
        db.flush()
        return c

    soon = consultation(TODAY + timedelta(days=3))
    past = consultation(TODAY - timedelta(days=2))
    consultation(TODAY, status="resolved", resolution="해결", resolved_on=TODAY)
    consultation(TODAY + timedelta(days=9))
    consultation(None)
    scan(db, catalog)
    assert received(db) == {"center-a": {"follow_up"}}
    notes = notes_of(db, center)
    assert {n.consultation_id for n in notes} == {soon.id, past.id}
    assert inbox.target_of(notes[0]).route == "consultations:list"
    assert any("이 지났습니다" in n.message for n in notes)
    assert scan(db, catalog).created == 0


# --- the inbox ---------------------------------------------------------------------------------


def test_inbox_pages_newest_first_counts_unread_and_marks_only_ones_own(
    db: Session, world: World, catalog: Catalog, track: Track, model: BusinessModel
) -> None:
    for n in range(7):
        comment(db, world, track, model, COOP_ITEM, f"의견 {n}", who="center")
    coop = world.principal(db, "coop_a")
    first = inbox.list_inbox(session=db, principal=coop, catalog=catalog, limit=5)
    assert [r.notification.excerpt for r in first.rows] == [f"의견 {n}" for n in range(6, 1, -1)]
    assert first.rows[0].model_title == model.title and first.rows[0].cooperative == world.coop_a.name
    rest = inbox.list_inbox(session=db, principal=coop, catalog=catalog, before=first.next_before)
    assert [r.notification.excerpt for r in rest.rows] == ["의견 1", "의견 0"] and rest.next_before is None
    assert inbox.unread_count(session=db, principal=coop) == 7

    theirs = notes_of(db, world.users["coop_a"])[0]
    center = world.principal(db, "center")
    assert inbox.get_notification(session=db, principal=center, notification_id=theirs.id or 0) is None
    assert inbox.mark_read(session=db, principal=center, ids=[theirs.id or 0]) == 0
    assert inbox.mark_read(session=db, principal=coop, ids=[theirs.id or 0, theirs.id or 0]) == 1
    assert inbox.mark_read(session=db, principal=coop, ids=[theirs.id or 0]) == 0  # already read
    assert inbox.unread_count(session=db, principal=coop) == 6
    unread = inbox.list_inbox(session=db, principal=coop, catalog=catalog, unread_only=True)
    assert len(unread.rows) == 6 and all(r.unread for r in unread.rows)
    assert inbox.mark_all_read(session=db, principal=coop) == 6
    assert inbox.unread_count(session=db, principal=coop) == 0


def test_someone_moved_to_another_organization_no_longer_reads_about_the_old_one(
    db: Session, world: World, catalog: Catalog, track: Track, model: BusinessModel
) -> None:
    comment(db, world, track, model, CENTER_ITEM, "센터에 질문", who="coop_a")
    center = world.users["center"]
    assert inbox.unread_count(session=db, principal=world.principal(db, "center")) == 1
    center.center_id = world.center_b.id
    db.add(center)
    db.flush()
    moved = world.principal(db, "center")
    assert inbox.unread_count(session=db, principal=moved) == 0
    assert inbox.list_inbox(session=db, principal=moved, catalog=catalog).rows == []


# --- preferences -------------------------------------------------------------------------------


def test_preferences_default_save_and_validate(db: Session, world: World) -> None:
    coop = world.principal(db, "coop_a")
    prefs = inbox.load_preferences(session=db, principal=coop)
    assert (prefs.muted, prefs.email_digest, prefs.email) == (frozenset(), True, "")

    saved = inbox.save_preferences(
        session=db,
        principal=coop,
        kinds=["comment", "mention"],
        email_digest=False,
        email=" coop@example.kr ",
    )
    again = inbox.save_preferences(  # a second save updates the same row
        session=db,
        principal=coop,
        kinds=["comment", "mention", "overdue"],
        email_digest=False,
        email=saved.email,
    )
    loaded = inbox.load_preferences(session=db, principal=coop)
    assert loaded == again
    assert loaded.email == "coop@example.kr" and not loaded.email_digest
    assert loaded.wants("overdue") and not loaded.wants("decision")

    for bad in ("coop@", "coop example.kr", "coop@example", "@example.kr", "co..op@example.kr", "a@b@c.kr"):
        with pytest.raises(FormError) as exc:
            inbox.save_preferences(session=db, principal=coop, kinds=[], email_digest=True, email=bad)
        assert exc.value.errors == {"email": "전자우편 주소 형식이 올바르지 않습니다. 예: name@example.kr"}
    with pytest.raises(FormError) as exc:
        inbox.save_preferences(session=db, principal=coop, kinds=["spam"], email_digest=True, email="")
    assert "spam" in exc.value.errors["kinds"]
    assert inbox.load_preferences(session=db, principal=coop) == loaded  # nothing changed
    assert (
        inbox.save_preferences(
            session=db,
            principal=coop,
            kinds=[],
            email_digest=True,
            email="담당@예시.한국".replace("담당", "team"),
        ).email
        == "team@예시.한국"
    )
