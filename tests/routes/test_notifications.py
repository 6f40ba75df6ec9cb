"""알림 through the pages and the JSON API: the inbox, marking read (plain forms and HTMX), the
header's count, preferences, the admin's e-mail field, and the issue's "done when" with demo data."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.models import Cooperative, Notification, NotificationPreference, Track, User
from app.services import tracking
from app.services.auth import create_token
from app.services.demo import DEMO_PASSWORD, load_demo
from tests.factories import World, login
from tests.fixtures.tracking_helpers import CENTER_ITEM, COOP_ITEM, start

HTMX = {"HX-Request": "true"}
ROW_RE = re.compile(r'<li class="inbox__item( inbox__item--unread)?" id="notification-(\d+)">')
BADGE_RE = re.compile(r'<a class="inbox-link[^"]*" id="inbox-link"[^>]*>')


@pytest.fixture
def track(db: Session, world: World, catalog: Catalog) -> Track:
    return start(db, world, catalog)


def comments(
    db: Session, world: World, track: Track, model: BusinessModel, n: int, *, who: str = "center"
) -> None:
    for i in range(n):
        tracking.add_comment(
            session=db,
            principal=world.principal(db, who),
            track=track,
            model=model,
            item_key=COOP_ITEM,
            body=f"의견 {i}",
        )


def ids_of(db: Session, user: User, **where: Any) -> list[int]:
    stmt = select(Notification.id).where(Notification.user_id == user.id).order_by(col(Notification.id))
    if where.get("unread"):
        stmt = stmt.where(col(Notification.read_at).is_(None))
    return [i for i in db.exec(stmt).all() if i is not None]


def badge(html: str) -> str:
    match = BADGE_RE.search(html)
    assert match, "no inbox link in the header"
    return match.group(0)


# --- the inbox -----------------------------------------------------------------------------------


def test_the_inbox_lists_newest_first_unread_highlighted_linking_to_the_item(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    comments(db, world, track, model, 3)
    first, *_ = ids_of(db, world.users["coop_a"])
    db.exec(select(Notification).where(Notification.id == first)).one().read_at = tracking.utcnow()
    db.flush()
    login(client, "coop-a")
    r = client.get("/notifications")
    assert r.status_code == 200 and "HX-Request" in r.headers["vary"]
    rows = ROW_RE.findall(r.text)
    assert [int(i) for _, i in rows] == sorted(ids_of(db, world.users["coop_a"]), reverse=True)
    assert [bool(u) for u, _ in rows] == [True, True, False]
    assert f'href="/tracks/{track.id}#item-{COOP_ITEM}"' in r.text
    assert "center-a님이 ‘" in r.text and "의견 2" in r.text and world.coop_a.name in r.text
    assert r.text.count("새 알림") == 2

    unread = client.get("/notifications", params={"unread": "1"})
    assert len(ROW_RE.findall(unread.text)) == 2


def test_the_inbox_is_paged_in_sql(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    comments(db, world, track, model, 33)
    login(client, "coop-a")
    page = client.get("/notifications").text
    shown = [int(i) for _, i in ROW_RE.findall(page)]
    assert len(shown) == 30
    more = re.search(r'href="(/notifications\?before=(\d+))"', page)
    assert more and int(more.group(2)) == shown[-1]
    rest = [int(i) for _, i in ROW_RE.findall(client.get(more.group(1)).text)]
    assert len(rest) == 3 and max(rest) < min(shown)
    fragment = client.get(more.group(1), headers=HTMX)
    assert fragment.text.lstrip().startswith('<section class="panel" id="inbox"')


@pytest.mark.parametrize("htmx", [False, True])
def test_mark_one_read(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel, htmx: bool
) -> None:
    comments(db, world, track, model, 2)
    target, other = ids_of(db, world.users["coop_a"])
    csrf = login(client, "coop-a")
    r = client.post(
        f"/notifications/{target}/read",
        data={"csrf_token": csrf},
        headers=HTMX if htmx else {},
        follow_redirects=False,
    )
    assert ids_of(db, world.users["coop_a"], unread=True) == [other]
    if htmx:
        assert r.status_code == 200 and "HX-Request" in r.headers["vary"]
        assert ROW_RE.findall(r.text) == [("", str(target))]  # the row, now read
        assert 'hx-swap-oob="true"' in badge(r.text) and 'aria-label="읽지 않은 알림 1"' in r.text
        assert "autofocus" in r.text  # the keyboard stays on the row whose button went away
        assert "<html" not in r.text
    else:
        assert (r.status_code, r.headers["location"]) == (303, "/notifications")


def test_someone_elses_notification_is_a_404(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    comments(db, world, track, model, 1)
    (theirs,) = ids_of(db, world.users["coop_a"])
    csrf = login(client, "gov-a")
    r = client.post(f"/notifications/{theirs}/read", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 404
    assert ids_of(db, world.users["coop_a"], unread=True) == [theirs]


@pytest.mark.parametrize("htmx", [False, True])
def test_mark_all_read(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel, htmx: bool
) -> None:
    comments(db, world, track, model, 3)
    comments(db, world, track, model, 1, who="coop_a")  # the center's, untouched
    csrf = login(client, "coop-a")
    r = client.post(
        "/notifications/read-all",
        data={"csrf_token": csrf, "unread": "1"},
        headers=HTMX if htmx else {},
        follow_redirects=False,
    )
    assert ids_of(db, world.users["coop_a"], unread=True) == []
    assert len(ids_of(db, world.users["center"], unread=True)) == 1
    if htmx:
        assert r.text.lstrip().startswith('<section class="panel" id="inbox"')
        assert "모든 알림을 읽음으로 표시했습니다." in r.text
        assert 'aria-label="알림, 읽지 않은 알림 없음"' in r.text and 'hx-swap-oob="true"' in r.text
    else:
        assert (r.status_code, r.headers["location"]) == (303, "/notifications?unread=1")


# --- the header's count ----------------------------------------------------------------------------


def test_every_page_shows_the_unread_count_in_the_header(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    assert 'id="inbox-link"' not in client.get("/").text  # anonymous: no inbox
    login(client, "coop-a")
    assert badge(client.get("/").text).endswith('aria-label="알림, 읽지 않은 알림 없음">')
    comments(db, world, track, model, 3)
    for path in ("/", "/cooperatives", f"/tracks/{track.id}", "/notifications/settings"):
        html = client.get(path).text
        assert 'aria-label="읽지 않은 알림 3"' in badge(html), path
        assert '<span class="inbox-link__count" aria-hidden="true">3</span>' in html
    assert 'aria-current="page"' in badge(client.get("/notifications").text)
    comments(db, world, track, model, 100)
    assert '<span class="inbox-link__count" aria-hidden="true">99+</span>' in client.get("/").text
    assert 'aria-label="읽지 않은 알림 99+ (모두 103건)"' in client.get("/").text


# --- preferences -----------------------------------------------------------------------------------


def test_preferences_page_saves_kinds_digest_and_address(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    csrf = login(client, "coop-a")
    page = client.get("/notifications/settings").text
    assert page.count('type="checkbox" name="kinds"') == 9 and page.count(" checked") == 10
    r = client.post(
        "/notifications/settings",
        data={"csrf_token": csrf, "kinds": ["mention", "overdue"], "email": "coop-a@example.kr"},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/notifications/settings?saved=1")
    pref = db.get(NotificationPreference, world.users["coop_a"].id)
    assert pref is not None and pref.email_digest is False
    assert set(pref.muted_kinds) == {"comment", "awaiting_verification", "change_request", "verification",
                                     "decision", "due_soon", "follow_up"}  # fmt: skip
    db.refresh(world.users["coop_a"])
    assert world.users["coop_a"].email == "coop-a@example.kr"
    saved = client.get("/notifications/settings?saved=1").text
    assert "알림 설정을 저장했습니다." in saved and 'value="coop-a@example.kr"' in saved

    comments(db, world, track, model, 1)  # a comment: muted now
    assert ids_of(db, world.users["coop_a"]) == []


def test_an_invalid_address_is_a_clear_korean_error_and_nothing_is_saved(
    client: TestClient, db: Session, world: World
) -> None:
    csrf = login(client, "coop-a")
    r = client.post(
        "/notifications/settings",
        data={"csrf_token": csrf, "kinds": ["comment"], "email": "coop-a@example", "email_digest": "1"},
    )
    assert r.status_code == 422
    assert "전자우편 주소 형식이 올바르지 않습니다. 예: name@example.kr" in r.text
    assert 'aria-invalid="true"' in r.text and 'value="coop-a@example"' in r.text
    assert db.get(NotificationPreference, world.users["coop_a"].id) is None


def test_admin_sets_and_validates_a_users_address(client: TestClient, db: Session, world: World) -> None:
    csrf = login(client, "admin")
    user = world.users["center"]
    form = {"csrf_token": csrf, "display_name": "센터 담당", "org_id": f"center:{world.center_a.id}"}
    assert 'name="email" type="email"' in client.get(f"/admin/users/{user.id}/edit").text
    bad = client.post(f"/admin/users/{user.id}", data={**form, "email": "센터@"}, follow_redirects=False)
    assert bad.status_code == 422 and "전자우편 주소 형식이 올바르지 않습니다" in bad.text
    ok = client.post(
        f"/admin/users/{user.id}", data={**form, "email": "center-a@example.kr"}, follow_redirects=False
    )
    assert ok.status_code == 303
    db.refresh(user)
    assert user.email == "center-a@example.kr"
    assert "center-a@example.kr" in client.get("/admin").text


# --- JSON API --------------------------------------------------------------------------------------


def api(client: TestClient, db: Session, world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(session=db, user=world.users[who]).token}"}


def test_api_lists_pages_and_filters(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    comments(db, world, track, model, 5)
    headers = api(client, db, world, "coop_a")
    r = client.get("/api/v1/notifications", params={"limit": 2}, headers=headers)
    assert r.status_code == 200
    body = r.json()
    ids = sorted(ids_of(db, world.users["coop_a"]), reverse=True)
    assert [n["id"] for n in body["notifications"]] == ids[:2]
    assert body["unread"] == 5 and body["next_before"] == ids[1]
    first = body["notifications"][0]
    assert first["kind"] == "comment" and first["kind_label"] == "의견" and first["excerpt"] == "의견 4"
    assert first["url"] == f"/tracks/{track.id}#item-{COOP_ITEM}"
    assert first["cooperative"] == {"id": world.coop_a.id, "name": world.coop_a.name}
    assert first["read_at"] is None and first["item_key"] == COOP_ITEM
    rest = client.get("/api/v1/notifications", params={"before": body["next_before"]}, headers=headers).json()
    assert [n["id"] for n in rest["notifications"]] == ids[2:] and rest["next_before"] is None

    client.post("/api/v1/notifications/read", json={"ids": ids[:3]}, headers=headers)
    unread = client.get("/api/v1/notifications", params={"unread": 1}, headers=headers).json()
    assert [n["id"] for n in unread["notifications"]] == ids[3:] and unread["unread"] == 2
    assert client.get("/api/v1/notifications").status_code == 401


def test_api_marks_read_ignores_other_peoples_ids_and_wants_ids_or_all(
    client: TestClient, db: Session, world: World, track: Track, model: BusinessModel
) -> None:
    comments(db, world, track, model, 2)
    comments(db, world, track, model, 1, who="coop_a")
    mine = ids_of(db, world.users["coop_a"])
    (theirs,) = ids_of(db, world.users["center"])
    headers = api(client, db, world, "coop_a")
    r = client.post("/api/v1/notifications/read", json={"ids": [mine[0], theirs, 2_000_000]}, headers=headers)
    assert r.status_code == 200 and r.json() == {"marked": 1, "unread": 1}
    assert ids_of(db, world.users["center"], unread=True) == [theirs]  # ignored, not an error
    assert client.post("/api/v1/notifications/read", json={"ids": [mine[0]]}, headers=headers).json() == {
        "marked": 0,
        "unread": 1,
    }
    for bad in (
        {},
        {"all": False},
        {"ids": [mine[1]], "all": True},
        {"ids": [0]},
        {"ids": "x"},
        {"every": True},
    ):
        assert client.post("/api/v1/notifications/read", json=bad, headers=headers).status_code == 422, bad
    assert client.post("/api/v1/notifications/read", json={"all": True}, headers=headers).json() == {
        "marked": 1,
        "unread": 0,
    }


# --- the "done when", with the demo data ------------------------------------------------


def test_done_when_the_center_mentions_the_coop_and_sees_its_reply(
    app: Any, db: Session, catalog: Catalog
) -> None:
    load_demo(session=db, catalog=catalog)
    manbu = db.exec(select(Cooperative).where(col(Cooperative.name).contains("만부"))).one()
    track = db.exec(select(Track).where(Track.cooperative_id == manbu.id)).first()
    assert track is not None
    model = catalog.model(track.model_key)
    assert model is not None
    key = next(item.key for _, item in model.items if item.lead == "coop")
    coop_user = db.exec(select(User).where(User.login == "coop-manbu")).one()
    before = set(ids_of(db, coop_user))

    with TestClient(app) as center, TestClient(app) as coop:
        center_csrf = login(center, "center-namdong", DEMO_PASSWORD)
        coop_csrf = login(coop, "coop-manbu", DEMO_PASSWORD)
        r = center.post(
            f"/tracks/{track.id}/items/{key}/comments",
            data={"csrf_token": center_csrf, "body": "@coop-manbu 운영계획 초안을 이번 주에 공유해 주세요."},
            follow_redirects=False,
        )
        assert r.status_code == 303

        inbox = coop.get("/notifications").text
        (new,) = set(ids_of(db, coop_user)) - before
        assert f'id="notification-{new}"' in inbox
        assert (
            "인천광역시 남동구 도시재생지원센터 코디네이터님이 ‘" in inbox
            and "회원님을 언급했습니다" in inbox
        )
        assert "운영계획 초안을 이번 주에 공유해 주세요." in inbox
        assert f'href="/tracks/{track.id}#item-{key}"' in inbox

        coop.post(
            f"/tracks/{track.id}/items/{key}/comments",
            data={"csrf_token": coop_csrf, "body": "네, 금요일까지 올리겠습니다."},
            follow_redirects=False,
        )
        center_inbox = center.get("/notifications").text
        assert "인천 만부마을 마을관리 사회적협동조합 사무국님이 ‘" in center_inbox
        assert "네, 금요일까지 올리겠습니다." in center_inbox
        # The center is told because it wrote in the thread (the item is the cooperative's).
        assert 'aria-label="읽지 않은 알림 ' in badge(center_inbox)
        # Another cooperative's user was told nothing.
        other = db.exec(select(User).where(User.login == "coop-seoul")).one()
        assert not any(
            "금요일까지" in n.excerpt
            for n in db.exec(select(Notification).where(Notification.user_id == other.id))
        )


def test_a_comment_on_a_center_item_reaches_the_center_through_the_page(
    client: TestClient, db: Session, world: World, track: Track
) -> None:
    csrf = login(client, "coop-a")
    client.post(
        f"/tracks/{track.id}/items/{CENTER_ITEM}/comments",
        data={"csrf_token": csrf, "body": "@센터 워크숍 일정 알려 주세요"},
        headers=HTMX,
    )
    (note,) = db.exec(select(Notification).where(Notification.user_id == world.users["center"].id)).all()
    assert (note.kind, note.excerpt) == ("mention", "@센터 워크숍 일정 알려 주세요")


def test_a_follow_up_links_to_the_consultation(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    from datetime import date

    from app.models import Consultation
    from app.services import notifications

    c = Consultation(
        cooperative_id=world.coop_a.id,  # type: ignore[arg-type]
        center_id=world.center_a.id,
        author_id=world.users["center"].id,
        held_on=date(2026, 11, 10),
        channel="phone",
        topic="정관 개정 상담",
        follow_up_on=date(2026, 11, 25),
    )
    db.add(c)
    db.flush()
    notifications.scan_due(session=db, catalog=catalog, today=date(2026, 11, 24))
    login(client, "center-a")
    page = client.get("/notifications").text
    assert f'href="/cooperatives/{world.coop_a.id}/consultations#consultation-{c.id}"' in page
    assert "‘정관 개정 상담’ 상담의 후속 조치 예정일이 1일 뒤입니다 (2026-11-25)" in page
    assert '<span class="tag tag--follow_up">후속 조치</span>' in page
