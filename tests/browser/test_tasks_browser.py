"""내 할 일 and the cooperative home in a real browser: how they look at both widths, what the
keyboard does after a change, and the track page's stage skip links. The live database is shared
by the whole session: the one item changed here is put back as it was.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORTS, console_errors, login, no_horizontal_overflow
from tests.browser.test_accessibility import _violations

pytestmark = pytest.mark.browser

MANBU = "인천 만부마을 마을관리 사회적협동조합"
MODEL = "거점시설 기반 마을식당"
ITEM_TEXT = "마을식당 개점 및 운영관리 체계화"  # 실행 단계, led by the cooperative
TIMEOUT_MS = 10_000


def _open(browser, base_url: str, user: str, viewport: str = "desktop", **options):
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="ko-KR", **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = console_errors(page)
    login(page, base_url, user)
    return context, page, errors


def _settled(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def _active(page) -> str:
    return str(
        page.evaluate(
            "() => { const a = document.activeElement; return a ? (a.tagName + '#' + (a.id || '') + '|' + "
            "(a.textContent || '').trim().slice(0, 40) + '|' + (a.getAttribute('aria-pressed') || '')) : ''; }"
        )
    )


@pytest.mark.parametrize("user", ["coop-manbu", "center-namdong", "gov-seoul"])
def test_tasks_page_at_both_widths(browser, live_server, shot, user) -> None:
    context, page, errors = _open(browser, live_server.url, user)
    overflow = {}
    for viewport in VIEWPORTS:
        page.set_viewport_size(VIEWPORTS[viewport])
        page.goto(live_server.url + "/tasks")
        expect(page.locator("h1")).to_have_text("내 할 일")
        overflow[viewport] = not no_horizontal_overflow(page)
        shot(page, f"tasks-{user}-{viewport}")
    assert errors == [], errors
    context.close()
    assert overflow == {"desktop": False, "mobile": False}
    assert _axe(browser, live_server.url, user, "/tasks") == []


def _axe(browser, base_url: str, user: str, path: str) -> list[str]:
    # bypass_csp only lets the test inject axe; the page itself stays as served.
    context, page, _ = _open(browser, base_url, user, bypass_csp=True)
    page.goto(base_url + path)
    found = _violations(page)
    context.close()
    return found


def test_a_cooperative_lands_on_its_next_tasks(browser, live_server, shot) -> None:
    for viewport in VIEWPORTS:
        context, page, errors = _open(browser, live_server.url, "coop-manbu", viewport)
        # The login lands on the cooperative's own page, which starts with what to do next.
        expect(page.locator("h1")).to_have_text(MANBU)
        panel = page.locator(".next-tasks")
        expect(panel.get_by_role("heading", name="다음 할 일")).to_be_visible()
        expect(panel.get_by_role("link", name=ITEM_TEXT)).to_be_visible()
        assert no_horizontal_overflow(page)
        shot(page, f"home-coop-manbu-{viewport}")
        home = page.url.removeprefix(live_server.url)
        assert errors == [], errors
        context.close()
    assert _axe(browser, live_server.url, "coop-manbu", home) == []


def test_one_click_change_keeps_the_keyboard_where_it_was(browser, live_server) -> None:
    context, page, errors = _open(browser, live_server.url, "coop-manbu")
    page.goto(live_server.url + "/tasks")
    row = page.locator(".task", has=page.get_by_role("link", name=ITEM_TEXT)).first
    doing = row.get_by_role("button", name="진행 중")
    doing.focus()
    page.keyboard.press("Enter")
    _settled(page)
    # The item is still listed: the pressed button (now 진행 중) keeps the focus.
    assert re.search(r"^BUTTON#\|진행 중\|true$", _active(page)), _active(page)
    # Put it back as it was (미착수) from the track page, with the keyboard as well.
    page.goto(live_server.url + "/tasks")
    page.get_by_role("link", name=ITEM_TEXT).first.click()
    page.wait_for_url(re.compile(r"/tracks/\d+#item-opening$"))
    todo = page.locator("#item-opening").get_by_role("button", name="미착수")
    todo.focus()
    page.keyboard.press("Enter")
    _settled(page)
    assert re.search(r"^BUTTON#\|미착수\|true$", _active(page)), _active(page)
    expect(page.locator("#item-opening .seg__btn--todo")).to_have_attribute("aria-pressed", "true")
    assert errors == [], errors
    context.close()


def test_stage_skip_links_reach_the_first_item(browser, live_server, shot) -> None:
    context, page, errors = _open(browser, live_server.url, "coop-manbu")
    page.locator(".track-card__title").get_by_role("link", name=MODEL, exact=True).click()
    page.wait_for_url(re.compile(r"/tracks/\d+$"))
    link = page.get_by_role("link", name="2. 계획 단계 항목으로")
    link.focus()
    page.keyboard.press("Enter")
    assert _active(page).startswith("OL#items-plan"), _active(page)
    # The next Tab is the first control of the plan stage's first item, not a filter chip.
    page.keyboard.press("Tab")
    inside = page.evaluate("() => !!document.activeElement.closest('#items-plan')")
    assert inside, _active(page)
    shot(page, "track-stage-jump-desktop")
    assert errors == [], errors
    context.close()
