"""The 현황판 (/dashboard) in a real browser: layout, accessibility, filters with and without
JavaScript, sorting, count links, charts, and a cooperative's change showing up at once.

The live database is shared by the whole session, so every test reads the state it starts from
(counts, rows) instead of assuming what the demo data or an earlier test left behind.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORTS, console_errors, login, no_horizontal_overflow
from tests.browser.test_accessibility import _violations

pytestmark = pytest.mark.browser

SEOUL = "서울 도시재생 사회적협동조합"
SANG4 = "협동조합 상4랑"
MANBU = "인천 만부마을 마을관리 사회적협동조합"
# Who looks at the 현황판 in these tests, and which cooperatives each one sees.
VIEWERS = {"center": ("center-seoul", {SEOUL, SANG4}), "gov": ("gov-namdong", {MANBU})}
STAGES = {"prepare": "준비", "plan": "계획", "execute": "실행", "complete": "완료"}
CHARTS = ("stages", "activity", "roles")
TIMEOUT_MS = 5_000
PAST_DUE = "2020-03-02"


def _open(browser, base_url: str, user: str, viewport: str = "desktop", **options):
    """A new context logged in as ``user``; center, 지자체 and admin land on the 현황판."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="ko-KR", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = console_errors(page)
    login(page, base_url, user)
    return context, page, errors


def _params(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _filters(page) -> dict[str, str]:
    """The URL's non-empty parameters other than the default sort (htmx sends the whole form)."""
    return {k: v[-1] for k, v in _params(page).items() if v[-1] and (k, v[-1]) != ("sort", "-overdue")}


def _export_filters(page) -> dict[str, dict[str, list[str]]]:
    """The query of the CSV and 엑셀 download links."""
    return {
        name: parse_qs(urlsplit(page.get_by_role("link", name=name).get_attribute("href") or "").query)
        for name in ("CSV 내려받기", "엑셀 내려받기")
    }


def _rows(page):
    return page.locator("#results table.dash-table tbody tr")


def _names(page) -> list[str]:
    return [n.strip() for n in _rows(page).locator("th[scope=row]").all_inner_texts()]


def _cells(page, label: str) -> list[str]:
    return [c.strip() for c in _rows(page).locator(f'td[data-label="{label}"]').all_inner_texts()]


def _row(page, name: str):
    return _rows(page).filter(has=page.get_by_role("rowheader", name=name, exact=True))


def _count(row, label: str) -> int:
    return int(row.locator(f'td[data-label="{label}"]').inner_text().strip())


def _settled(page) -> None:
    """Wait until htmx has finished requesting, swapping and settling."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def _charts_loaded(page) -> dict[str, int]:
    """Scroll each (lazy) chart into view, wait for it, and return its naturalWidth by name."""
    widths = {}
    for name in CHARTS:
        img = page.locator(f'#results img[src*="/dashboard/charts/{name}.svg"]')
        expect(img).to_have_count(1)
        img.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete", arg=img.element_handle())
        widths[name] = int(img.evaluate("img => img.naturalWidth"))
    page.evaluate("window.scrollTo(0, 0)")
    return widths


# --- 1. layout and screenshots ------------------------------------------------------------------


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("who", list(VIEWERS))
def test_dashboard_layout(browser, live_server, shot, who: str, viewport: str) -> None:
    user, coops = VIEWERS[who]
    context, page, errors = _open(browser, live_server.url, user, viewport)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("h1")).to_have_text("현황판")
    assert set(_names(page)) == coops
    assert all(w > 0 for w in _charts_loaded(page).values()), "a chart image did not load"
    assert no_horizontal_overflow(page), f"/dashboard overflows at {VIEWPORTS[viewport]['width']} px"
    shot(page, f"dashboard-{who}-{viewport}")
    assert errors == [], errors
    context.close()


# --- 2. axe-core -------------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("who", list(VIEWERS))
def test_dashboard_axe(browser, live_server, who: str, viewport: str) -> None:
    user, _ = VIEWERS[who]
    # bypass_csp only lets the test inject axe; the page itself stays as served.
    context, page, _ = _open(browser, live_server.url, user, viewport, bypass_csp=True)
    found = {"page": _violations(page)}

    # After an HTMX swap: one municipality of the region list, then nothing matching at all.
    region = page.locator("#dash-region option").last.get_attribute("value")
    assert region
    page.select_option("#dash-region", region)
    expect(page).to_have_url(re.compile(r"region="))
    expect(page.locator("#results .filter__status")).to_contain_text(region)
    _settled(page)
    found["region"] = _violations(page)

    page.locator("#dash-q").fill("없는 조합 이름")
    expect(page.locator("#results")).to_contain_text("조건에 맞는 사업 추진이 없습니다.")
    _settled(page)
    found["empty"] = _violations(page)
    context.close()
    assert found == dict.fromkeys(found, [])


FOCUS_SEEN = """() => {
    const a = document.activeElement, r = a.getClientRects()[0] || a.getBoundingClientRect();  // first line
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return {text: a.textContent.trim().slice(0, 30), inResults: !!a.closest('#results'),
            seen: r.width > 0 && r.height > 0 && !!hit && (a === hit || a.contains(hit))};
}"""


@pytest.mark.parametrize(
    "viewport",
    [
        "desktop",
        pytest.param(
            "mobile",
        ),
    ],
)
def test_every_focus_stop_in_the_results_is_visible(browser, live_server, viewport: str) -> None:
    context, page, _ = _open(browser, live_server.url, "center-seoul", viewport)
    page.get_by_role("link", name="조건 지우기").focus()
    hidden = []
    for _ in range(30):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUS_SEEN)
        if not stop["inResults"]:
            break
        if not stop["seen"]:
            hidden.append(stop["text"])
    context.close()
    assert hidden == [], f"focused but not visible at {VIEWPORTS[viewport]['width']} px: {hidden}"


# --- 3. filters with JavaScript ----------------------------------------------------------------


def test_filters_update_results_in_place_and_back_restores(browser, live_server) -> None:
    context, page, errors = _open(browser, live_server.url, "admin")
    before = dict(zip(_names(page), _cells(page, "현재 단계"), strict=True))
    overdue_before = dict(zip(_names(page), map(int, _cells(page, "기한 지남")), strict=True))
    assert len(before) == 6
    # The stage with the most tracks short of all of them, so the filter narrows the list.
    counts = {key: list(before.values()).count(label) for key, label in STAGES.items()}
    stage = max((k for k in counts if counts[k] < len(before)), key=lambda k: counts[k])
    expected = {n for n, s in before.items() if s == STAGES[stage]}
    assert expected
    page.evaluate("window.__marker = 'same-document'")

    page.select_option("#dash-stage", stage)
    expect(page).to_have_url(re.compile(rf"[?&]stage={stage}(&|$)"))
    expect(_rows(page)).to_have_count(len(expected))
    assert set(_names(page)) == expected
    assert set(_cells(page, "현재 단계")) == {STAGES[stage]}
    expect(page.locator("#results .filter__status")).to_contain_text(f"현재 단계 {STAGES[stage]}")

    page.get_by_label("기한 지남", exact=True).check()
    expect(page).to_have_url(re.compile(r"[?&]overdue=1(&|$)"))
    assert _params(page)["stage"] == [stage]
    matching = {n for n in expected if overdue_before[n] > 0}
    if matching:
        expect(_rows(page)).to_have_count(len(matching))
        assert set(_names(page)) == matching
    else:
        expect(page.locator("#results")).to_contain_text("조건에 맞는 사업 추진이 없습니다.")
    assert page.evaluate("window.__marker") == "same-document", "the filter reloaded the page"

    # Back: the stage-only list again, and the form says so.
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"overdue=1"))
    assert _filters(page) == {"stage": stage}
    expect(_rows(page)).to_have_count(len(expected))
    assert set(_names(page)) == expected
    expect(page.get_by_label("기한 지남", exact=True)).not_to_be_checked()
    expect(page.locator("#dash-stage")).to_have_value(stage)

    # Back again: everything.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(_rows(page)).to_have_count(len(before))
    expect(page.locator("#dash-stage")).to_have_value("")
    assert page.evaluate("window.__marker") == "same-document"
    assert errors == [], errors
    context.close()


def test_name_search_filters_as_you_type(browser, live_server) -> None:
    context, page, errors = _open(browser, live_server.url, "center-seoul")
    page.evaluate("window.__marker = 'same-document'")
    page.locator("#dash-q").fill("상4")
    expect(page).to_have_url(re.compile(r"[?&]q=%EC%83%814(&|$)"))
    expect(_rows(page)).to_have_count(1)
    assert _names(page) == [SANG4]
    assert page.evaluate("window.__marker") == "same-document"
    assert errors == [], errors
    context.close()


# --- 4. filters without JavaScript -------------------------------------------------------------


def test_filters_work_without_javascript(browser, live_server) -> None:
    context, page, _ = _open(browser, live_server.url, "admin", java_script_enabled=False)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    before = dict(zip(_names(page), _cells(page, "현재 단계"), strict=True))
    regions = dict(zip(_names(page), _cells(page, "지역"), strict=True))
    seoul = {n for n, r in regions.items() if r.startswith("서울특별시")}
    assert seoul == {SEOUL, SANG4}

    page.select_option("#dash-region", "서울특별시")
    with page.expect_navigation():
        page.get_by_role("button", name="조건 적용").click()
    assert _params(page)["region"] == ["서울특별시"]
    assert set(_names(page)) == seoul
    assert _export_filters(page) == dict.fromkeys(
        ("CSV 내려받기", "엑셀 내려받기"), {"region": ["서울특별시"]}
    )
    expect(page.locator("#dash-region")).to_have_value("서울특별시")

    # A stage as well: both conditions hold, and the form keeps them.
    stage = next(k for k, label in STAGES.items() if label == before[SEOUL])
    page.select_option("#dash-stage", stage)
    with page.expect_navigation():
        page.get_by_role("button", name="조건 적용").click()
    params = _params(page)
    assert params["region"] == ["서울특별시"] and params["stage"] == [stage]
    assert set(_names(page)) == {n for n in seoul if before[n] == before[SEOUL]}
    assert set(_cells(page, "현재 단계")) == {before[SEOUL]}

    # A sort header is a plain link too.
    with page.expect_navigation():
        page.locator("thead").get_by_role("link", name="조합").click()
    assert _params(page)["sort"] == ["cooperative"] and _params(page)["stage"] == [stage]
    expect(page.locator("thead th[aria-sort]")).to_have_attribute("aria-sort", "ascending")

    # 조건 지우기 is a link back to everything.
    with page.expect_navigation():
        page.get_by_role("link", name="조건 지우기").first.click()
    expect(_rows(page)).to_have_count(len(before))
    context.close()


# --- 5. sorting --------------------------------------------------------------------------------


def test_sorting_by_column_headers(browser, live_server) -> None:
    context, page, errors = _open(browser, live_server.url, "admin")
    head = page.locator("table.dash-table thead")
    expect(head.locator("th[aria-sort]")).to_have_count(1)
    expect(head.locator("th[aria-sort]")).to_contain_text("기한 지남")  # the default: most overdue first
    names = _names(page)
    assert len(names) == 6
    page.evaluate("window.__marker = 'same-document'")

    head.get_by_role("link", name="조합").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=cooperative(&|$)"))
    sorted_th = head.locator("th[aria-sort]")
    expect(sorted_th).to_have_count(1)
    expect(sorted_th).to_have_attribute("aria-sort", "ascending")
    expect(sorted_th).to_contain_text("조합")
    ascending = _names(page)
    assert ascending == sorted(names)

    head.get_by_role("link", name="조합").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=-cooperative(&|$)"))
    expect(head.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    expect(_rows(page).first.locator("th")).to_have_text(ascending[-1])
    assert _names(page) == ascending[::-1]

    # A count column sorts largest first.
    head.get_by_role("link", name=re.compile("^단계별 진행")).click()
    expect(page).to_have_url(re.compile(r"[?&]sort=-progress(&|$)"))
    expect(head.locator("th[aria-sort]")).to_contain_text("단계별 진행")
    expect(head.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    overall = page.evaluate(
        """() => [...document.querySelectorAll('#results tbody tr')].map(tr =>
            [...tr.querySelectorAll('.cell-bars progress:not(.progress--none)')].reduce((s, p) => s + Number(p.value), 0) /
            Math.max(1, [...tr.querySelectorAll('.cell-bars progress:not(.progress--none)')].reduce((s, p) => s + Number(p.max), 0)))"""
    )
    assert overall == sorted(overall, reverse=True), overall

    assert page.evaluate("window.__marker") == "same-document"
    assert errors == [], errors
    context.close()


def test_a_filter_change_keeps_the_chosen_sort(browser, live_server) -> None:
    context, page, _ = _open(browser, live_server.url, "admin")
    page.locator("table.dash-table thead").get_by_role("link", name="조합").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=cooperative(&|$)"))
    page.select_option("#dash-region", "서울특별시")
    expect(page).to_have_url(re.compile(r"region="))
    try:
        assert _params(page)["sort"] == ["cooperative"], page.url
        expect(page.locator("table.dash-table th[aria-sort]")).to_contain_text("조합", timeout=1_000)
    finally:
        context.close()


# --- 6. a count leads to the track page, filtered ----------------------------------------------


def _follow_awaiting_count(page, name: str) -> int:
    """Click the 확인 대기 count of ``name``'s row; return the count (0: there is no link)."""
    row = _row(page, name)
    awaiting = _count(row, "확인 대기")
    if awaiting:
        link = row.locator('td[data-label="확인 대기"] a')
        assert re.search(r"/tracks/\d+\?show=awaiting$", link.get_attribute("href") or "")
        link.click()
        page.wait_for_url(re.compile(r"/tracks/\d+\?show=awaiting$"))
    return awaiting


def test_awaiting_count_links_to_the_filtered_track_page(browser, live_server) -> None:
    context, page, errors = _open(browser, live_server.url, "center-seoul")
    awaiting = _follow_awaiting_count(page, SEOUL)
    if awaiting == 0:
        pytest.skip("nothing awaits the center's confirmation on 서울 도시재생 any more")

    note = page.locator(".show-filter")
    expect(note).to_contain_text("확인을 기다리는 항목만 보는 중")
    shown = page.locator("#checklist .trow")
    # Only done, unconfirmed items; the ones this center confirms are what the count counted.
    for i in range(shown.count()):
        expect(shown.nth(i)).to_have_class(re.compile(r"\btrow--done\b"))
        expect(shown.nth(i).locator(".verify-wait")).to_have_count(1)
    expect(shown.filter(has=page.get_by_role("button", name="확인하기"))).to_have_count(awaiting)
    filtered = shown.count()

    note.get_by_role("link", name="모든 항목 보기").click()
    expect(page).to_have_url(re.compile(r"/tracks/\d+$"))
    expect(page.locator(".show-filter")).to_have_count(0)
    assert page.locator("#checklist .trow").count() > filtered
    assert errors == [], errors
    context.close()


def test_awaiting_count_matches_the_items_it_links_to(browser, live_server) -> None:
    context, page, _ = _open(browser, live_server.url, "center-seoul")
    try:
        awaiting = _follow_awaiting_count(page, SEOUL)
        assert awaiting, "nothing awaits the center's confirmation on 서울 도시재생"
        expect(page.locator("#checklist .trow")).to_have_count(awaiting, timeout=1_000)
    finally:
        context.close()


# --- 7. console and charts after a swap --------------------------------------------------------


def test_no_console_errors_and_charts_follow_the_filters(browser, live_server) -> None:
    context, page, errors = _open(browser, live_server.url, "center-seoul")
    assert all(w > 0 for w in _charts_loaded(page).values()), "a chart image did not load"
    for name in CHARTS:
        src = page.locator(f'#results img[src*="/{name}.svg"]').get_attribute("src")
        assert src == f"/dashboard/charts/{name}.svg"

    page.select_option("#dash-region", "서울특별시 동작구")
    expect(page).to_have_url(re.compile(r"region="))
    expect(_rows(page)).to_have_count(1)
    _settled(page)
    assert all(w > 0 for w in _charts_loaded(page).values()), "a chart image did not load after the swap"
    for name in CHARTS:
        src = page.locator(f'#results img[src*="/{name}.svg"]').get_attribute("src") or ""
        assert parse_qs(urlsplit(src).query) == {"region": ["서울특별시 동작구"]}, src
    # The chart's data table follows the filter too.
    expect(page.locator(".chart").first.locator("tbody tr")).to_have_count(1)
    expect(page.locator(".chart").first.locator("tbody")).to_contain_text("시설물·주거환경")

    assert errors == [], errors
    context.close()


def test_export_links_follow_an_htmx_filter_change(browser, live_server) -> None:
    context, page, _ = _open(browser, live_server.url, "center-seoul")
    try:
        page.select_option("#dash-region", "서울특별시 동작구")
        expect(_rows(page)).to_have_count(1)
        _settled(page)
        assert _export_filters(page) == dict.fromkeys(
            ("CSV 내려받기", "엑셀 내려받기"), {"region": ["서울특별시 동작구"]}
        )
    finally:
        context.close()


# --- 8. done when: a cooperative's overdue item shows on the center's 현황판 at once ------------


def test_a_past_due_date_shows_on_the_center_dashboard_at_once(
    browser, live_server, cooperative_ids, shot
) -> None:
    center, center_page, center_errors = _open(browser, live_server.url, "center-namdong")
    expect(center_page).to_have_url(re.compile(r"/dashboard$"))
    manbu_row = _row(center_page, MANBU)
    overdue_before = _count(manbu_row, "기한 지남")
    tile = center_page.locator(".tile").filter(has_text="기한 지난 항목").locator(".tile__num")
    tile_before = int(tile.inner_text())

    coop, coop_page, coop_errors = _open(browser, live_server.url, "coop-manbu")
    expect(coop_page).to_have_url(re.compile(rf"/cooperatives/{cooperative_ids[MANBU]}$"))
    coop_page.locator(".track-card__title a").first.click()
    coop_page.wait_for_url(re.compile(r"/tracks/\d+$"))
    # An open item without a due date if there is one (the least likely to be touched elsewhere),
    # else any open item that is not overdue yet.
    open_rows = coop_page.locator(".trow:not(.trow--done):not(.trow--na)").filter(
        has_not=coop_page.locator(".due--over")
    )
    no_due = open_rows.filter(has_not=coop_page.locator(".due"))
    target = no_due.first if no_due.count() else open_rows.first
    assert open_rows.count(), "no open, not yet overdue item on 만부's track"
    key = target.get_attribute("id")
    assert key
    row = coop_page.locator(f"#{key}")
    row.locator(".trow__details > summary").click()
    row.locator(f"#due-{key.removeprefix('item-')}").fill(PAST_DUE)
    row.get_by_role("button", name="저장", exact=True).click()
    expect(coop_page.locator(f"#{key} .due--over")).to_have_text(f"기한 지남 · 기한 {PAST_DUE}")

    center_page.reload()
    expect(_row(center_page, MANBU).locator('td[data-label="기한 지남"]')).to_have_text(
        str(overdue_before + 1)
    )
    expect(tile).to_have_text(str(tile_before + 1))
    shot(center_page, "dashboard-center-after-overdue-desktop")
    # The new count links to the track's overdue items, the changed one among them.
    _row(center_page, MANBU).locator('td[data-label="기한 지남"] a').click()
    center_page.wait_for_url(re.compile(r"/tracks/\d+\?show=overdue$"))
    expect(center_page.locator(f"#checklist #{key}")).to_be_visible()
    expect(center_page.locator("#checklist .trow")).to_have_count(overdue_before + 1)

    assert center_errors == [], center_errors
    assert coop_errors == [], coop_errors
    coop.close()
    center.close()
