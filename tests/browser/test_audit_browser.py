"""The admin audit log page in a real browser: both widths, no sideways scroll, axe-clean."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORTS, console_errors, login, no_horizontal_overflow
from tests.browser.test_accessibility import _violations

pytestmark = pytest.mark.browser


def test_audit_log_page(browser, live_server, shot) -> None:
    base = live_server.url
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="ko-KR")
    page = context.new_page()
    errors = console_errors(page)
    login(page, base, "admin")
    # One recorded change: a 지자체's 시·군·구, put back at the end (which is recorded too).
    page.goto(base + "/admin")
    page.locator("#municipalities").get_by_role("link", name="수정").first.click()
    field = page.locator("#f-sigungu")
    original = field.input_value()
    field.fill(original + "구청")
    page.get_by_role("button", name="저장").click()
    page.goto(base + "/admin/audit")
    expect(page.locator("#audit-title")).to_contain_text("기록")
    expect(page.locator("#audit-table tbody tr").first).to_contain_text("시·군·구")
    for viewport in VIEWPORTS:
        page.set_viewport_size(VIEWPORTS[viewport])
        page.reload()
        assert no_horizontal_overflow(page), viewport
        shot(page, f"admin-audit-{viewport}")
    page.goto(base + "/admin")
    page.locator("#municipalities").get_by_role("link", name="수정").first.click()
    page.locator("#f-sigungu").fill(original)
    page.get_by_role("button", name="저장").click()
    assert errors == [], errors
    context.close()
    context = browser.new_context(viewport=VIEWPORTS["desktop"], bypass_csp=True)
    page = context.new_page()
    login(page, base, "admin")
    page.goto(base + "/admin/audit")
    assert _violations(page) == []
    context.close()


def test_admin_actions_on_screen_on_a_phone(browser, live_server, shot) -> None:
    """At 360 px every row's 수정 (and 비활성화) sits inside the viewport without scrolling sideways."""
    context = browser.new_context(viewport=VIEWPORTS["mobile"], locale="ko-KR")
    page = context.new_page()
    errors = console_errors(page)
    login(page, live_server.url, "admin")
    page.goto(live_server.url + "/admin")
    assert no_horizontal_overflow(page)
    actions = page.locator(".admin-table .actions a, .admin-table .actions button")
    assert actions.count() > 20
    width = VIEWPORTS["mobile"]["width"]
    off_screen = [
        actions.nth(i).inner_text()
        for i in range(actions.count())
        if (box := actions.nth(i).bounding_box()) is None or box["x"] < 0 or box["x"] + box["width"] > width
    ]
    assert off_screen == []
    # A row reads as a card: its labels come with it.
    label = page.locator("#users tbody tr td[data-label='역할']").first.evaluate(
        "td => getComputedStyle(td, '::before').content"
    )
    assert "역할" in label
    shot(page, "admin-mobile")
    page.set_viewport_size(VIEWPORTS["desktop"])
    page.reload()
    shot(page, "admin-desktop")
    assert errors == [], errors
    context.close()
