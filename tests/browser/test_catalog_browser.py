"""The public pages in a real browser, at desktop and phone widths."""

from __future__ import annotations

import pytest

from tests.browser.conftest import VIEWPORTS

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_home_and_model_page(browser, live_server, shot, viewport: str) -> None:
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="ko-KR")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text() == "우리 지역은 우리 스스로 관리해요"
    assert page.locator(".model-card").count() == 6
    # Nothing overflows sideways at 360 px.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"home-{viewport}")

    page.get_by_role("link", name="주민출자형 태양광발전소").first.click()
    page.wait_for_url("**/models/solar")
    assert page.locator(".checklist .item").count() == 11
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"model-solar-{viewport}")

    # The role filter swaps the checklist in place (no reload) and keeps the choice in the URL.
    page.evaluate("window.__marker = 'same-document'")
    page.get_by_role("link", name="지자체", exact=True).click()
    page.wait_for_url("**/models/solar?role=municipality")
    page.wait_for_selector(".filter__status")
    assert page.evaluate("window.__marker") == "same-document"
    filtered = page.locator(".checklist .item").count()
    assert 0 < filtered < 11
    assert page.locator(".chip--on").inner_text() == "지자체"
    shot(page, f"model-solar-municipality-{viewport}")

    page.get_by_role("link", name="전체", exact=True).click()
    page.wait_for_url("**/models/solar")
    page.wait_for_function("document.querySelectorAll('.checklist .item').length === 11")
    assert errors == [], errors  # no CSP violations or script errors
    context.close()


def test_filter_without_javascript(browser, live_server) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    page.goto(live_server.url + "/models/hub-facility")
    page.get_by_role("link", name="조합", exact=True).click()
    page.wait_for_url("**/models/hub-facility?role=coop")
    assert page.locator(".chip--on").inner_text() == "조합"
    context.close()


def test_keyboard_focus_is_visible(browser, live_server) -> None:
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "본문 바로가기"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    context.close()
