"""상담·지원 기록 and 지원 실적 in a real browser: the timeline with its form at both widths, the
HTMX record → resolve flow and the resolution rate it moves, the same without JavaScript, the
statistics page and its target forms, and axe-core on all of it.

The live database is shared by the whole session: every test reads the numbers it starts from.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORTS, console_errors, login, no_horizontal_overflow
from tests.browser.test_accessibility import _violations

pytestmark = pytest.mark.browser

SEOUL = "서울 도시재생 사회적협동조합"
MANBU = "인천 만부마을 마을관리 사회적협동조합"
SEOUL_CENTER = "서울특별시 도시재생지원센터"
TIMEOUT_MS = 10_000


def _open(browser, base_url: str, user: str, viewport: str = "desktop", **options):
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="ko-KR", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = console_errors(page)
    login(page, base_url, user)
    return context, page, errors


def _settled(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def _center_row(page, center: str):
    return page.locator("table.support-table tbody tr").filter(
        has=page.get_by_role("rowheader", name=center, exact=True)
    )


def _numbers(page, center: str) -> tuple[int, int, str]:
    """(consultations, resolved, the rate cell's text) of one center on the statistics page."""
    row = _center_row(page, center)
    held = int(re.match(r"\d+", row.locator('td[data-label="상담"]').inner_text().strip()).group(0))  # type: ignore[union-attr]
    resolved = int(row.locator('td[data-label="해결"]').inner_text().strip())
    rate = " ".join(row.locator('td[data-label^="해결률"]').inner_text().split())
    return held, resolved, rate


def _token() -> str:
    return uuid.uuid4().hex[:6]


# --- done when: record a visit with a follow-up date, see it, resolve it, see the rate move ----------


def test_center_records_and_resolves_and_the_rate_moves(browser, live_server, cooperative_ids) -> None:
    base, coop_id = live_server.url, cooperative_ids[SEOUL]
    context, page, errors = _open(browser, base, "center-seoul")
    page.goto(f"{base}/dashboard")
    page.get_by_role("link", name="지원 실적 (상담·해결률)").click()
    page.wait_for_url(re.compile(r"/dashboard/support$"))
    held0, resolved0, _ = _numbers(page, SEOUL_CENTER)

    page.goto(f"{base}/cooperatives/{coop_id}/consultations")
    topic = f"주민 공용공간 운영 시간 조정 ({_token()})"
    form = page.locator("#consultation-new form")
    form.locator("#f-channel").select_option("visit")
    form.locator("#f-topic").fill(topic)
    form.locator("#f-request").fill("저녁 시간 운영 인력이 부족합니다.")
    form.locator("#f-advice").fill("자원봉사 교대표를 함께 만들기로 했습니다.")
    follow = page.evaluate(
        "() => { const d = new Date(Date.now() + 9 * 864e5 + 7 * 36e5); return d.toISOString().slice(0, 10); }"
    )
    form.locator("#f-follow_up_on").fill(follow)
    page.evaluate("window.__marker = 'same-document'")
    form.get_by_role("button", name="기록하기").click()
    expect(page.get_by_role("status")).to_have_text("상담 기록을 저장했습니다.")
    entry = page.locator("li.consult").filter(has_text=topic)
    expect(entry).to_contain_text("진행 중")
    expect(entry).to_contain_text(f"후속 조치일 {follow}")
    expect(page.locator("#f-topic")).to_have_value("")  # a fresh form
    assert page.evaluate("window.__marker") == "same-document"  # swapped, not reloaded
    _settled(page)

    page.goto(f"{base}/dashboard/support")
    held1, resolved1, rate1 = _numbers(page, SEOUL_CENTER)
    assert (held1, resolved1) == (held0 + 1, resolved0)

    page.go_back()
    entry = page.locator("li.consult").filter(has_text=topic)
    entry_id = entry.get_attribute("id")
    entry.locator("summary", has_text="해결로 표시").click()
    entry.get_by_label("어떻게 해결했는지").fill("교대표를 확정하고 저녁 운영을 다시 시작했습니다.")
    entry.get_by_role("button", name="해결로 표시").click()
    resolved = page.locator(f"#{entry_id}")
    expect(resolved).to_have_class(re.compile(r"\bconsult--resolved\b"))
    expect(resolved.locator(".consult__resolution")).to_contain_text("교대표를 확정하고")
    expect(resolved.get_by_role("button", name="다시 진행 중으로")).to_be_visible()
    _settled(page)

    page.goto(f"{base}/dashboard/support")
    held2, resolved2, rate2 = _numbers(page, SEOUL_CENTER)
    assert (held2, resolved2) == (held1, resolved1 + 1)
    assert rate2 != rate1 and resolved2 / held2 > resolved1 / held1, (rate1, rate2)
    assert errors == [], errors
    context.close()


def test_errors_keep_the_input_and_a_deep_link_finds_the_entry(browser, live_server, cooperative_ids) -> None:
    base, coop_id = live_server.url, cooperative_ids[MANBU]
    context, page, errors = _open(browser, base, "center-namdong")
    page.goto(f"{base}/cooperatives/{coop_id}/consultations")
    form = page.locator("#consultation-new form")
    form.locator("#f-advice").fill("적어 둔 조언은 남아야 합니다")
    form.get_by_role("button", name="기록하기").click()
    expect(page.locator("#e-topic")).to_have_text("상담 주제를 입력하세요.")
    expect(page.locator("#e-channel")).to_contain_text("방식을 고르세요")
    expect(page.locator("#f-advice")).to_have_value("적어 둔 조언은 남아야 합니다")
    expect(page.locator("#f-topic")).to_have_attribute("aria-invalid", "true")
    # The deep link #consultation-{id} of the oldest entry lands on it, highlighted.
    last = page.locator("li.consult").last.get_attribute("id")
    assert last
    page.goto(f"{base}/cooperatives/{coop_id}/consultations?consultation={last.split('-')[1]}#{last}")
    expect(page.locator(f"#{last}")).to_be_in_viewport()
    assert page.evaluate(f"getComputedStyle(document.getElementById('{last}')).outlineStyle") == "solid"
    assert [e for e in errors if "status of 422" not in e] == [], errors
    context.close()


def test_recording_without_javascript(browser, live_server, cooperative_ids) -> None:
    base, coop_id = live_server.url, cooperative_ids[MANBU]
    context, page, _ = _open(browser, base, "gov-namdong", java_script_enabled=False)
    page.goto(f"{base}/cooperatives/{coop_id}/consultations")
    topic = f"공유재산 사용료 납부 일정 ({_token()})"
    form = page.locator("#consultation-new form")
    form.locator("#f-channel").select_option("phone")
    form.locator("#f-topic").fill(topic)
    with page.expect_navigation():
        form.get_by_role("button", name="기록하기").click()
    assert re.search(r"/consultations\?consultation=\d+&saved=true#consultation-\d+$", page.url), page.url
    entry = page.locator(f"#{page.url.rsplit('#', 1)[1]}")
    expect(entry).to_contain_text(topic)
    expect(entry).to_contain_text("인천광역시 남동구")
    expect(page.get_by_role("status")).to_have_text("상담 기록을 저장했습니다.")
    context.close()


# --- screenshots ---------------------------------------------------------------------------------


def test_timeline_screenshots(browser, live_server, cooperative_ids, shot) -> None:
    base, coop_id = live_server.url, cooperative_ids[MANBU]
    context, page, errors = _open(browser, base, "center-namdong")
    overflow = {}
    for viewport in VIEWPORTS:
        page.set_viewport_size(VIEWPORTS[viewport])
        page.goto(f"{base}/cooperatives/{coop_id}/consultations")
        expect(page.locator("li.consult .due--over, li.consult .status").first).to_be_visible()
        # One open entry's resolve form open, so the screenshot shows it too.
        page.locator("li.consult--open summary", has_text="해결로 표시").first.click()
        overflow[viewport] = not no_horizontal_overflow(page)
        shot(page, f"consultations-timeline-{viewport}")
    assert overflow == {"desktop": False, "mobile": False}, f"the timeline scrolls sideways: {overflow}"
    assert errors == [], errors
    context.close()


@pytest.mark.parametrize("user", ["admin", "center-seoul"])
def test_statistics_screenshots(browser, live_server, shot, user: str) -> None:
    context, page, errors = _open(browser, live_server.url, user)
    overflow = {}
    for viewport in VIEWPORTS:
        page.set_viewport_size(VIEWPORTS[viewport])
        page.goto(f"{live_server.url}/dashboard/support")
        expect(page.locator("table.support-table")).to_be_visible()
        table = page.locator(".table-wrap").first.evaluate("w => w.scrollWidth > w.clientWidth")
        overflow[viewport] = not no_horizontal_overflow(page) or table
        shot(page, f"support-stats-{user}-{viewport}")
    assert (page.locator("#targets").count() == 1) is (user == "admin")
    assert overflow == {"desktop": False, "mobile": False}, f"the statistics scroll sideways: {overflow}"
    assert errors == [], errors
    context.close()


def test_admin_sets_a_target_with_htmx(browser, live_server) -> None:
    context, page, errors = _open(browser, live_server.url, "admin")
    page.goto(f"{live_server.url}/dashboard/support")
    form = page.locator("form.target-form").filter(has=page.locator("legend", has_text=SEOUL_CENTER))
    held = int(
        re.match(r"\d+", _center_row(page, SEOUL_CENTER).locator('td[data-label="상담"]').inner_text()).group(
            0
        )
    )  # type: ignore[union-attr]
    form.get_by_label("상담 건수").fill(str(held + 5))
    form.get_by_role("button", name=re.compile("목표 저장")).click()
    expect(page.get_by_role("status")).to_have_text("목표를 저장했습니다.")
    expect(_center_row(page, SEOUL_CENTER).locator('td[data-label="상담"]')).to_contain_text(
        f"목표 {held + 5} · 5 남음"
    )
    form = page.locator("form.target-form").filter(has=page.locator("legend", has_text=SEOUL_CENTER))
    form.get_by_label("상담 건수").fill("")  # blank removes it again
    form.get_by_role("button", name=re.compile("목표 저장")).click()
    expect(_center_row(page, SEOUL_CENTER).locator('td[data-label="상담"] .target')).to_have_count(0)
    assert errors == [], errors
    context.close()


# --- axe-core ------------------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_axe(browser, live_server, cooperative_ids, viewport: str) -> None:
    base = live_server.url
    found = {}
    context, page, _ = _open(browser, base, "center-namdong", viewport, bypass_csp=True)
    page.goto(f"{base}/cooperatives/{cooperative_ids[MANBU]}/consultations")
    for summary in page.locator("li.consult summary").all():
        summary.click()  # every follow-up form open
    found["timeline"] = _violations(page)
    page.goto(f"{base}/dashboard/support")
    found["stats"] = _violations(page)
    context.close()
    context, page, _ = _open(browser, base, "admin", viewport, bypass_csp=True)
    page.goto(f"{base}/dashboard/support?year=1999")
    found["stats-error"] = _violations(page)
    page.goto(f"{base}/dashboard/support")
    found["stats-admin"] = _violations(page)
    context.close()
    assert found == dict.fromkeys(found, []), found
