"""알림 in a real browser: the inbox at both widths with read and unread notifications, marking
read through HTMX (the header's count follows, the keyboard stays put), the preferences page with
its Korean error, and axe on both pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from app.db import transaction
from app.models import Cooperative, Notification, Track, User
from app.models.base import utcnow
from tests.browser.conftest import VIEWPORTS, console_errors, login, no_horizontal_overflow
from tests.browser.test_accessibility import _violations

pytestmark = pytest.mark.browser

COOP = "coop-manbu"
TIMEOUT_MS = 10_000
KINDS = [  # (kind, message, excerpt, read)
    ("mention", "인천광역시 남동구 도시재생지원센터 코디네이터님이 ‘{item}’ 의견에서 회원님을 언급했습니다",
     "@coop-manbu 운영계획 초안을 이번 주 안에 공유해 주세요. 주민 설명회 전에 함께 보면 좋겠습니다.", False),
    ("change_request", "인천광역시 남동구 도시재생과님이 ‘{item}’에 보완을 요청했습니다",
     "임대차 계약서 사본의 서명 면이 빠졌습니다.", False),
    ("overdue", "‘{item}’ 기한(2026-11-20)이 지났습니다", "", False),
    ("verification", "인천광역시 남동구 도시재생과님이 ‘{item}’ 항목을 확인했습니다", "", True),
    ("decision", "인천광역시 남동구 도시재생과님이 ‘{model}’ 위탁 결정을 기록했습니다: 조건부 승인",
     "운영규정 보완 후 재제출", True),
]  # fmt: skip


@pytest.fixture(scope="module")
def inbox(live_server, catalog) -> int:
    """Five notifications for coop-manbu (three unread) on its track; returns the unread count."""
    with transaction(live_server.app.state.engine) as s:
        user = s.exec(select(User).where(User.login == COOP)).one()
        coop = s.exec(select(Cooperative).where(Cooperative.id == user.cooperative_id)).one()
        track = s.exec(select(Track).where(Track.cooperative_id == coop.id)).first()
        assert track is not None
        model = catalog.model(track.model_key)
        items = [item for _, item in model.items]
        now = utcnow()
        for n, (kind, message, excerpt, read) in enumerate(KINDS):
            s.add(
                Notification(
                    user_id=user.id,  # type: ignore[arg-type]
                    kind=kind,
                    cooperative_id=coop.id,
                    track_id=track.id,
                    item_key=None if kind == "decision" else items[n].key,
                    message=message.format(item=items[n].text, model=model.title),
                    excerpt=excerpt,
                    created_at=now,
                    read_at=now if read else None,
                )
            )
        unread = sum(
            1
            for n in s.exec(select(Notification).where(Notification.user_id == user.id)).all()
            if n.read_at is None
        )
    return unread


def _open(browser, base_url: str, viewport: str = "desktop", **options):
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="ko-KR", **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = console_errors(page)
    login(page, base_url, COOP)
    return context, page, errors


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_inbox_at_both_widths(browser, live_server, inbox: int, shot, viewport: str) -> None:
    context, page, errors = _open(browser, live_server.url, viewport)
    badge = page.locator("#inbox-link")
    expect(badge).to_have_attribute("aria-label", f"읽지 않은 알림 {inbox}")
    page.goto(live_server.url + "/notifications")
    expect(page.locator("h1")).to_have_text("알림함")
    expect(page.locator(".inbox__item--unread")).to_have_count(inbox)
    expect(page.locator(".inbox__item").first).to_contain_text("위탁 결정을 기록했습니다")
    assert page.locator(".inbox__item:not(.inbox__item--unread)").count() >= 2
    assert no_horizontal_overflow(page)
    shot(page, f"notifications-inbox-{viewport}")
    assert errors == []
    context.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_axe_on_the_inbox_and_preferences(browser, live_server, inbox: int, viewport: str) -> None:
    """While there are unread ones: the header's link then shows a count its label must contain."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], bypass_csp=True)
    page = context.new_page()
    login(page, live_server.url, COOP)
    paths = ["/notifications", "/notifications?unread=1", "/notifications/settings"]
    found = {}
    for path in paths:
        page.goto(live_server.url + path)
        found[path] = _violations(page)
    context.close()
    assert found == dict.fromkeys(paths, [])


def test_marking_read_with_htmx_updates_the_row_and_the_header(browser, live_server, inbox: int) -> None:
    context, page, errors = _open(browser, live_server.url)
    page.goto(live_server.url + "/notifications")
    first = page.locator(".inbox__item--unread").first
    row_id = first.get_attribute("id")
    first.get_by_role("button").click()
    row = page.locator(f"#{row_id}")
    expect(row).not_to_have_class(re.compile("inbox__item--unread"))
    expect(page.locator("#inbox-link")).to_have_attribute("aria-label", f"읽지 않은 알림 {inbox - 1}")
    # The button went away: the keyboard is on the row's link, not lost at the top of the page.
    assert page.evaluate("document.activeElement.closest('.inbox__item')?.id") == row_id
    assert page.url.endswith("/notifications")  # swapped in place, no navigation

    page.get_by_role("button", name="모두 읽음으로 표시").click()
    expect(page.locator(".alert--info")).to_have_text("모든 알림을 읽음으로 표시했습니다.")
    expect(page.locator(".inbox__item--unread")).to_have_count(0)
    expect(page.locator("#inbox-link")).to_have_attribute("aria-label", "알림, 읽지 않은 알림 없음")
    expect(page.locator(".inbox-link__count")).to_have_count(0)
    assert errors == []
    context.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_preferences_page(browser, live_server, shot, viewport: str) -> None:
    context, page, errors = _open(browser, live_server.url, viewport)
    page.goto(live_server.url + "/notifications")
    page.get_by_role("link", name="알림 설정").click()
    expect(page.locator("h1")).to_have_text("알림 설정")
    page.get_by_label("상담 후속 조치 예정일").uncheck()
    page.fill("#f-email", "manbu@example")
    with page.expect_navigation():
        page.get_by_role("button", name="저장").click()
    expect(page.locator("#e-email")).to_have_text(
        "전자우편 주소 형식이 올바르지 않습니다. 예: name@example.kr"
    )
    expect(page.get_by_label("상담 후속 조치 예정일")).not_to_be_checked()  # what was chosen stays
    assert no_horizontal_overflow(page)
    shot(page, f"notification-settings-error-{viewport}")

    page.fill("#f-email", "manbu@example.kr")
    with page.expect_navigation():
        page.get_by_role("button", name="저장").click()
    expect(page.locator(".alert--info")).to_have_text("알림 설정을 저장했습니다.")
    expect(page.locator("#f-email")).to_have_value("manbu@example.kr")
    shot(page, f"notification-settings-{viewport}")
    # Put back what the other browser tests expect of this user.
    page.get_by_label("상담 후속 조치 예정일").check()
    page.fill("#f-email", "")
    with page.expect_navigation():
        page.get_by_role("button", name="저장").click()
    assert errors == [e for e in errors if "422" in e]  # only the browser's note on the 422 page
    context.close()


def test_opening_an_unread_notification_marks_it_read(browser, live_server) -> None:
    with transaction(live_server.app.state.engine) as s:
        user = s.exec(select(User).where(User.login == COOP)).one()
        track = s.exec(select(Track).where(Track.cooperative_id == user.cooperative_id)).first()
        assert track is not None
        note = Notification(
            user_id=user.id,  # type: ignore[arg-type]
            kind="comment",
            cooperative_id=user.cooperative_id,
            track_id=track.id,
            item_key="opening",
            message="열어 보면 읽음이 되는 알림",
        )
        s.add(note)
        s.flush()
        note_id = note.id
    context, page, errors = _open(browser, live_server.url)
    page.goto(live_server.url + "/notifications")
    page.get_by_role("link", name="열어 보면 읽음이 되는 알림").click()
    page.wait_for_url(re.compile(r"/tracks/\d+#item-opening$"))

    def read_at() -> object:
        with transaction(live_server.app.state.engine) as s:
            found = s.get(Notification, note_id)
            return found.read_at if found else None

    for _ in range(50):  # the beacon is sent as the page leaves: give the server a moment
        if read_at() is not None:
            break
        page.wait_for_timeout(100)
    assert read_at() is not None
    assert errors == [], errors
    context.close()
