"""Tracking a business model in a real browser: status, details, evidence, conflicts, verification.

All tests use 인천 만부마을 (거점시설 기반 마을식당) from the demo data; each one reads the state it
starts from instead of assuming what an earlier test left behind.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORTS, console_errors, login, no_horizontal_overflow

pytestmark = pytest.mark.browser

MANBU = "인천 만부마을 마을관리 사회적협동조합"
MODEL = "거점시설 기반 마을식당"
CENTER_NAME = "인천광역시 남동구 도시재생지원센터 코디네이터"
CONFLICT = "다른 사용자가 먼저 변경했습니다. 최신 내용을 확인하세요."
LABELS = {"todo": "미착수", "doing": "진행 중", "done": "완료"}
NUM = re.compile(r"(\d+)% \((\d+)/(\d+)\)")


def _new_page(browser, viewport: str = "desktop"):
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="ko-KR")
    return context, context.new_page()


def _open_track(page, base_url: str) -> None:
    """From the list, through the cooperative page, to the track page, as a person would."""
    page.goto(base_url + "/cooperatives")
    page.get_by_role("link", name=MANBU, exact=True).click()
    page.wait_for_url(re.compile(r"/cooperatives/\d+$"))
    page.locator(".track-card__title").get_by_role("link", name=MODEL, exact=True).click()
    page.wait_for_url(re.compile(r"/tracks/\d+$"))
    expect(page.locator("h1")).to_have_text(MODEL)


def _numbers(page, bar_id: str) -> tuple[int, int, int]:
    """(percent, done, applicable) of a progress bar, read from its visible text."""
    text = page.locator(f"#{bar_id} .bar__num").inner_text()
    match = NUM.search(text)
    assert match, f"unexpected progress text in #{bar_id}: {text!r}"
    percent, done, applicable = (int(g) for g in match.groups())
    return percent, done, applicable


def _pressed(row) -> str:
    """The status whose button is pressed in a row's segmented control."""
    for status in LABELS:
        if row.locator(f".seg__btn--{status}").get_attribute("aria-pressed") == "true":
            return status
    return "na"


def _click_status(row, status: str) -> None:
    row.locator(f".seg__btn--{status}").click()


def _unexpected(errors: list[str], *allowed_statuses: int) -> list[str]:
    """Console errors other than the browser's own note about an expected 409/422 answer."""
    allowed = "|".join(str(s) for s in allowed_statuses) or "none"
    return [e for e in errors if not re.search(rf"status of ({allowed})\b", e)]


def test_status_change_updates_row_progress_and_events_in_place(browser, live_server, shot) -> None:
    context, page = _new_page(browser)
    errors = console_errors(page)
    login(page, live_server.url, "coop-manbu")
    _open_track(page, live_server.url)

    row = page.locator("#item-opening")
    item_text = row.locator(".item__text").inner_text()
    before = _pressed(row)
    target = "doing" if before == "done" else "done"
    overall = _numbers(page, "progress-overall")
    stage = _numbers(page, "progress-stage-execute")
    coop = _numbers(page, "progress-role-coop")
    first_event = page.locator("#recent-events .timeline__item").first.inner_text()

    page.evaluate("window.__marker = 'same-document'")
    _click_status(row, target)

    row = page.locator("#item-opening")
    expect(row.locator(f".seg__btn--{target}")).to_have_attribute("aria-pressed", "true")
    expect(row.locator(f".seg__btn--{before}")).to_have_attribute("aria-pressed", "false")
    expect(row).to_have_class(re.compile(rf"\btrow--{target}\b"))

    # Out-of-band swaps: the overall, stage and role bars count the change.
    delta = 1 if target == "done" else -1
    done, applicable = overall[1] + delta, overall[2]
    expect(page.locator("#progress-overall .bar__num")).to_contain_text(f"({done}/{applicable})")
    assert _numbers(page, "progress-overall") != overall
    expect(page.locator("#progress-stage-execute .bar__num")).to_contain_text(
        f"({stage[1] + delta}/{stage[2]})"
    )
    expect(page.locator("#progress-role-coop .bar__num")).to_contain_text(f"({coop[1] + delta}/{coop[2]})")
    expect(page.locator("#progress-overall progress")).to_have_attribute("value", str(done))

    # The newest event is this change, by this user.
    newest = page.locator("#recent-events .timeline__item").first
    expect(newest).not_to_have_text(first_event)
    expect(newest).to_contain_text(item_text)
    expect(newest).to_contain_text(f"{MANBU} 사무국")
    expect(newest.locator(".timeline__changes")).to_contain_text(f"{LABELS[before]} → {LABELS[target]}")

    assert page.evaluate("window.__marker") == "same-document", "the page reloaded"
    assert errors == [], errors
    context.close()


def test_details_due_date_evidence_and_comment(browser, live_server, shot) -> None:
    context, page = _new_page(browser)
    errors = console_errors(page)
    login(page, live_server.url, "coop-manbu")
    _open_track(page, live_server.url)
    page.evaluate("window.__marker = 'same-document'")

    row = page.locator("#item-use-permit")
    row.locator(".trow__details > summary").click()
    expect(row.locator(".trow__details")).to_have_attribute("open", "")

    # A due date in the past on an unfinished item marks it overdue.
    row.locator("#st-use-permit").select_option("doing")
    row.locator("#due-use-permit").fill("2020-01-15")
    row.get_by_role("button", name="저장", exact=True).click()
    row = page.locator("#item-use-permit")
    expect(row.locator(".due--over")).to_have_text("기한 지남 · 기한 2020-01-15")
    expect(row.locator(".seg__btn--doing")).to_have_attribute("aria-pressed", "true")
    expect(row.locator(".trow__details")).to_have_attribute("open", "")  # stays open after saving

    # A small PDF is accepted and listed.
    evidence = row.locator(".evidence li")
    count = evidence.count()
    row.locator("#file-use-permit").set_input_files(
        files=[{"name": "사용수익허가서.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%test\n"}]
    )
    row.get_by_role("button", name="증빙 올리기").click()
    row = page.locator("#item-use-permit")
    expect(row.locator(".evidence li")).to_have_count(count + 1)
    expect(row.locator(".evidence").get_by_role("link", name="사용수익허가서.pdf")).to_be_visible()
    expect(row.locator(".trow__details > summary")).to_contain_text(f"증빙 {count + 1}")
    shot(page, "track-details-desktop")

    # An HTML file is refused with a Korean message, and nothing is added.
    row.locator("#file-use-permit").set_input_files(
        files=[{"name": "page.html", "mimeType": "text/html", "buffer": b"<html><script>alert(1)</script>"}]
    )
    row.get_by_role("button", name="증빙 올리기").click()
    row = page.locator("#item-use-permit")
    expect(row.locator(".alert--error")).to_contain_text("'page.html'은(는) 올릴 수 없는 형식입니다.")
    expect(row.locator(".evidence li")).to_have_count(count + 1)
    expect(row.get_by_role("link", name="page.html")).to_have_count(0)
    expect(row.locator(".trow__details")).to_have_attribute("open", "")

    # A comment appears under the item with its author.
    body = "사용수익허가 서류를 올렸습니다. 확인 부탁드립니다."
    comments = row.locator(".comments li").count()
    row.locator("#cm-use-permit").fill(body)
    row.get_by_role("button", name="의견 등록").click()
    row = page.locator("#item-use-permit")
    expect(row.locator(".comments li")).to_have_count(comments + 1)
    last = row.locator(".comments li").last
    expect(last.locator(".comments__body")).to_have_text(body)
    expect(last.locator(".comments__head strong")).to_have_text(f"{MANBU} 사무국")
    expect(row.locator(".alert--error")).to_have_count(0)
    expect(page.locator("#recent-events .timeline__item").first).to_contain_text(body)

    assert page.evaluate("window.__marker") == "same-document", "the page reloaded"
    assert _unexpected(errors, 422) == [], errors
    context.close()


def test_stale_status_change_shows_conflict_and_current_state(browser, live_server, shot) -> None:
    ctx_a, page_a = _new_page(browser)
    ctx_b, page_b = _new_page(browser)
    errors_a, errors_b = console_errors(page_a), console_errors(page_b)
    for page in (page_a, page_b):
        login(page, live_server.url, "coop-manbu")
        _open_track(page, live_server.url)

    row_a, row_b = page_a.locator("#item-space-design"), page_b.locator("#item-space-design")
    current = _pressed(row_a)
    assert _pressed(row_b) == current
    a_status = "doing" if current != "doing" else "todo"
    b_status = "done" if a_status != "done" else "todo"

    _click_status(row_a, a_status)
    expect(page_a.locator(f"#item-space-design .seg__btn--{a_status}")).to_have_attribute(
        "aria-pressed", "true"
    )

    # Page B still holds the old version: its change is refused and it now shows A's state.
    _click_status(row_b, b_status)
    row_b = page_b.locator("#item-space-design")
    expect(row_b.locator(".alert--error")).to_have_text(CONFLICT)
    expect(row_b.locator(f".seg__btn--{a_status}")).to_have_attribute("aria-pressed", "true")
    expect(row_b.locator(f".seg__btn--{b_status}")).to_have_attribute("aria-pressed", "false")
    expect(page_b.locator("#progress-overall .bar__num")).to_have_text(
        page_a.locator("#progress-overall .bar__num").inner_text()
    )
    shot(page_b, "track-conflict-desktop")

    # Having seen the latest state, B can make its change.
    _click_status(row_b, b_status)
    row_b = page_b.locator("#item-space-design")
    expect(row_b.locator(f".seg__btn--{b_status}")).to_have_attribute("aria-pressed", "true")
    expect(row_b.locator(".alert--error")).to_have_count(0)

    assert errors_a == [], errors_a
    assert _unexpected(errors_b, 409) == [], errors_b
    ctx_a.close()
    ctx_b.close()


def test_center_verifies_a_done_item(browser, live_server, shot) -> None:
    context, page = _new_page(browser)
    errors = console_errors(page)
    login(page, live_server.url, "center-namdong")
    expect(page.locator(".who__role")).to_have_text("도시재생지원센터 · 인천광역시 남동구 도시재생지원센터")
    _open_track(page, live_server.url)

    # The center edits only the items it leads: a coop-led row has no status buttons.
    expect(page.locator("#item-opening .seg")).to_have_count(0)
    expect(page.locator("#item-opening .status")).to_have_count(1)

    verify = page.locator(".trow").filter(has=page.get_by_role("button", name="확인하기"))
    if verify.count() == 0:
        # Every center-led item is confirmed already: reopen one and finish it again as the center.
        row = page.locator(".trow").filter(has=page.locator(".badge--center.badge--lead")).first
        key = row.get_attribute("id")
        assert key
        _click_status(row, "doing")
        expect(page.locator(f"#{key} .seg__btn--doing")).to_have_attribute("aria-pressed", "true")
        expect(page.locator(f"#{key} .verified")).to_have_count(0)
        _click_status(page.locator(f"#{key}"), "done")
        expect(page.locator(f"#{key} .seg__btn--done")).to_have_attribute("aria-pressed", "true")
    row = page.locator(".trow").filter(has=page.get_by_role("button", name="확인하기")).first
    key = row.get_attribute("id")
    assert key
    row = page.locator(f"#{key}")
    expect(row.locator(".verify-wait")).to_have_text("지원센터 확인 전")
    expect(row.locator(".verified")).to_have_count(0)

    row.get_by_role("button", name="확인하기").click()
    row = page.locator(f"#{key}")
    expect(row.locator(".verified")).to_contain_text("✓ 확인됨")
    expect(row.locator(".verified")).to_contain_text(CENTER_NAME)
    expect(row.get_by_role("button", name="확인하기")).to_have_count(0)
    expect(row.locator(".verify-wait")).to_have_count(0)
    expect(page.locator("#recent-events .timeline__item").first).to_contain_text(CENTER_NAME)
    shot(page, "track-verified-desktop")

    assert errors == [], errors
    context.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_track_page_layout(browser, live_server, shot, viewport: str) -> None:
    context, page = _new_page(browser, viewport)
    errors = console_errors(page)
    login(page, live_server.url, "coop-manbu")
    _open_track(page, live_server.url)

    assert no_horizontal_overflow(page), f"track page overflows at {VIEWPORTS[viewport]['width']} px"
    shot(page, f"track-{viewport}")

    row = page.locator("#item-business-plan")
    row.locator(".trow__details > summary").click()
    expect(row.locator(".details-grid--pending")).to_have_count(0)  # loaded when first opened
    expect(row.locator(".details-grid")).to_be_visible()
    assert no_horizontal_overflow(page), "the open details panel overflows"
    shot(page, f"track-details-open-{viewport}")

    assert errors == [], errors
    context.close()
