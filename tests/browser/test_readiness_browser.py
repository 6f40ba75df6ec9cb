"""위탁 준비도 in a real browser: the 지자체's 보완 요청 → the cooperative's fix → 확인, the report
page with its PDF and evidence bundle, the 위탁 결정 it records, and how all of it looks and reads.

The live database is shared by the whole session: every test reads the state it starts from (which
위탁 전 확인 items are done, confirmed, carry a request) and puts back what it only borrowed.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import uuid
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, VIEWPORTS, console_errors, login, no_horizontal_overflow
from tests.browser.test_accessibility import _violations

pytestmark = pytest.mark.browser

MANBU = "인천 만부마을 마을관리 사회적협동조합"
MODEL = "거점시설 기반 마을식당"
GOV, COOP = "gov-namdong", "coop-manbu"
GOV_NAME = "인천광역시 남동구 도시재생과"
VERDICTS = {"위탁 준비 완료", "조건부", "미비", "해당 없음"}
RULES = (
    "위탁 준비 완료: 해당되는 위탁 전 확인 항목이 모두 완료되고 지자체(또는 주관 기관)가 확인했으며",
    "조건부: 위탁 전 확인 항목은 모두 완료했지만",
    "미비: 완료되지 않은 위탁 전 확인 항목(보완 요청으로 되돌아간 항목 포함)이 있습니다.",
    "해당 없음: 이 사업모델에는 적용되는 위탁 전 확인 항목이 없습니다.",
)
NEEDS_EVIDENCE = "위탁 전 확인 항목은 증빙이 한 개 이상 있어야 확인할 수 있습니다."
TIMEOUT_MS = 10_000
DOWNLOAD_MS = 30_000  # WeasyPrint renders the report on request
READINESS_COUNTS = re.compile(
    r"위탁 전 확인 (\d+)개 중 (\d+)개 확인됨 · (\d+)개 자체 완료\(미확인\) · (\d+)개 미완료 · 보완 요청 (\d+)건"
)
PRINT_STUB = "window.__printed = 0; window.print = () => { window.__printed += 1; };"


# --- helpers ------------------------------------------------------------------------------------


def _open(browser, base_url: str, user: str, viewport: str = "desktop", **options):
    """A new context logged in as ``user``, with bounded timeouts and its console collected."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="ko-KR", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = console_errors(page)
    login(page, base_url, user)
    return context, page, errors


def _open_track(page, base_url: str, coop_id: int) -> None:
    """From the cooperative page to 만부's track page, as a person would."""
    page.goto(f"{base_url}/cooperatives/{coop_id}")
    page.locator(".track-card__title").get_by_role("link", name=MODEL, exact=True).click()
    page.wait_for_url(re.compile(r"/tracks/\d+$"))
    expect(page.locator("h1")).to_have_text(MODEL)


def _unexpected(errors: list[str], *statuses: int) -> list[str]:
    """Console errors other than the browser's note about an expected 4xx answer htmx swaps."""
    allowed = "|".join(map(str, statuses)) or "none"
    return [e for e in errors if not re.search(rf"status of ({allowed})\b", e)]


def _settled(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def _counts(page) -> tuple[int, int, int, int, int]:
    """(total, verified, self-reported, open, 보완 요청) from the track page's readiness line."""
    text = " ".join(page.locator("#readiness-line").inner_text().split())
    match = READINESS_COUNTS.search(text)
    assert match, f"unexpected readiness line: {text!r}"
    total, verified, self_reported, open_, requests = (int(g) for g in match.groups())
    return total, verified, self_reported, open_, requests


def _consignment_rows(page):
    return page.locator("#checklist .trow").filter(has=page.locator(".mark-consign"))


def _requestable(page):
    """위탁 전 확인 rows this 지자체 may send back: done, with the 보완 요청 form."""
    return _consignment_rows(page).filter(has=page.locator('form[action$="/request-changes"]'))


def _coop_marks_done(browser, base_url: str, coop_id: int, key: str | None = None) -> str:
    """As the cooperative (its own context): mark ``key`` — or the first coop-led 위탁 전 확인
    item that is not done — 완료, adding a link first if it has no evidence. Returns the row id."""
    context, page, errors = _open(browser, base_url, COOP)
    try:
        _open_track(page, base_url, coop_id)
        if key is None:
            rows = (
                _consignment_rows(page)
                .filter(has=page.locator(".seg"))
                .filter(has_not=page.locator('.seg__btn--done[aria-pressed="true"]'))
            )
            assert rows.count(), "no coop-led 위탁 전 확인 item on 만부's track to finish"
            key = rows.first.get_attribute("id")
            assert key
        row = page.locator(f"#{key}")
        item = key.removeprefix("item-")
        if re.search(r"증빙 0\b", row.locator(".trow__details > summary").inner_text()):
            _add_link(page, item, f"https://example.org/maeul-demo/readiness/{item}", "보완 자료 (예시 링크)")
        page.locator(f"#{key} .seg__btn--done").click()
        expect(page.locator(f"#{key} .seg__btn--done")).to_have_attribute("aria-pressed", "true")
        expect(page.locator(f"#{key} .change-request")).to_have_count(0)
        assert errors == [], errors
    finally:
        context.close()
    return key


def _add_link(page, item: str, url: str, title: str) -> None:
    row = page.locator(f"#item-{item}")
    details = row.locator(".trow__details")
    if details.get_attribute("open") is None:
        details.locator("> summary").click()
    row.locator(f"#url-{item}").fill(url)
    row.locator(f"#title-{item}").fill(title)
    row.get_by_role("button", name="증빙 올리기").click()
    expect(page.locator(f"#item-{item} .evidence").get_by_role("link", name=title)).to_be_visible()


def _done_consignment_key(browser, page, base_url: str, coop_id: int) -> str:
    """A 위탁 전 확인 item the 지자체 can send back now; the cooperative finishes one if none is."""
    rows = _requestable(page)
    if rows.count() == 0:
        _coop_marks_done(browser, base_url, coop_id)
        page.reload()
        rows = _requestable(page)
    assert rows.count(), "no done 위탁 전 확인 item on 만부's track"
    # A confirmed one if there is one: 보완 요청 then also withdraws the 확인.
    verified = rows.filter(has=page.locator(".verified"))
    key = (verified.first if verified.count() else rows.first).get_attribute("id")
    assert key
    return key


def _request_changes(page, key: str, reason: str) -> None:
    row = page.locator(f"#{key}")
    row.locator("details.verify-more > summary").click()
    row.locator(f"#cr-{key.removeprefix('item-')}").fill(reason)
    row.get_by_role("button", name="보완 요청 보내기").click()
    row = page.locator(f"#{key}")
    expect(row.locator(".change-request")).to_contain_text(f"보완 요청 {reason}")
    expect(row).to_have_class(re.compile(r"\btrow--doing\b"))
    _settled(page)


def _confirm(page, key: str, note: str = "") -> None:
    row = page.locator(f"#{key}")
    if note:
        row.locator('form[action$="/verify"] details.mini-details > summary').click()
        row.locator(f"#vn-{key.removeprefix('item-')}").fill(note)
    row.get_by_role("button", name="확인하기").click()
    row = page.locator(f"#{key}")
    expect(row.locator(".verified")).to_contain_text("✓ 확인됨")
    expect(row.locator(".verified")).to_contain_text(GOV_NAME)
    if note:
        expect(row.locator(".verified__note")).to_have_text(f"“{note}”")
    _settled(page)


def _put_back(browser, page, base_url: str, coop_id: int, key: str) -> None:
    """Undo a 보완 요청 a test only borrowed: the cooperative finishes the item, the 지자체 confirms.
    Nothing to undo if the request never went through."""
    page.reload()
    if page.locator(f"#{key} .change-request").count() == 0:
        return
    _coop_marks_done(browser, base_url, coop_id, key)
    page.reload()
    _confirm(page, key)


def _download(page, link_name: str) -> tuple[bytes, str]:
    with page.expect_download(timeout=DOWNLOAD_MS) as info:
        page.get_by_role("link", name=link_name, exact=True).click()
    download = info.value
    assert download.failure() is None, download.failure()
    return Path(download.path()).read_bytes(), download.suggested_filename


def _pdf_pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages]


def _token() -> str:
    return uuid.uuid4().hex[:6]


# --- 1. done when: 보완 요청 → fix → 확인 → PDF, ZIP → 위탁 결정 ---------------------------------


def test_change_request_fix_confirm_report_and_decision(browser, live_server, cooperative_ids) -> None:
    base, coop_id = live_server.url, cooperative_ids[MANBU]
    token = _token()
    reason = f"급배기 공사 도면이 빠졌습니다. 도면을 올려 주세요 ({token})"
    link_title = f"급배기 공사 도면 {token}"
    note = f"도면 확인, 허가 조건에 반영 ({token})"
    document_number = f"도시재생과-{token}"
    conditions = f"개점 전 소방시설 완비증명서 제출 ({token})"

    gov, page, gov_errors = _open(browser, base, GOV)
    page.on("dialog", lambda d: d.accept())
    _open_track(page, base, coop_id)
    track_url = page.url
    line_before = " ".join(page.locator("#readiness-line").inner_text().split())

    # The report, reached from the track page: the verdict, the rules it follows, the same counts.
    page.get_by_role("link", name="위탁 준비도 보고서", exact=True).click()
    page.wait_for_url(re.compile(r"/tracks/\d+/readiness$"))
    expect(page.locator(".report__title")).to_contain_text(MANBU)
    verdict = page.locator(".report__verdict .verdict").inner_text().strip()
    assert verdict in VERDICTS, verdict
    assert verdict in line_before, (verdict, line_before)
    rules = page.locator(".report__rules")
    expect(rules).to_have_attribute("open", "")
    for rule in RULES:
        expect(rules).to_contain_text(rule)
    expect(rules.locator("li.is-current")).to_have_count(1)
    expect(rules.locator("li.is-current")).to_contain_text(f"{verdict}:")
    summary = " ".join(page.locator(".readiness-summary").inner_text().split())
    assert summary in line_before, (summary, line_before)

    # Back on the track page, only the 위탁 전 확인 items.
    page.locator(".breadcrumb").get_by_role("link", name=MODEL, exact=True).click()
    page.wait_for_url(track_url)
    page.get_by_role("link", name="위탁 전 확인 항목만").click()
    expect(page).to_have_url(re.compile(r"[?&]show=consignment$"))
    expect(page.locator(".show-filter")).to_contain_text("만 보는 중")
    rows = page.locator("#checklist .trow")
    expect(rows.first).to_be_visible()
    expect(rows).to_have_count(_consignment_rows(page).count())

    # 보완 요청 on a done 위탁 전 확인 item, swapped in place.
    key = _done_consignment_key(browser, page, base, coop_id)
    item = key.removeprefix("item-")
    total, _, _, _, requests = _counts(page)
    page.evaluate("window.__marker = 'same-document'")
    _request_changes(page, key, reason)
    row = page.locator(f"#{key}")
    expect(row.locator(".verified")).to_have_count(0)
    expect(row.get_by_role("button", name="확인하기")).to_have_count(0)
    expect(page.locator("#readiness-line .verdict")).to_have_text("미비")  # an open 위탁 전 확인 item
    expect(page.locator("#readiness-line")).to_contain_text(f"보완 요청 {requests + 1}건")
    assert page.evaluate("window.__marker") == "same-document", "the 보완 요청 reloaded the page"

    # The cooperative sees the request, replaces its evidence and finishes the item again.
    coop, coop_page, coop_errors = _open(browser, base, COOP)
    coop_page.on("dialog", lambda d: d.accept())  # hx-confirm on 삭제
    _open_track(coop_page, base, coop_id)
    crow = coop_page.locator(f"#{key}")
    expect(crow.locator(".change-request")).to_contain_text(reason)
    expect(crow.locator(".seg__btn--doing")).to_have_attribute("aria-pressed", "true")
    crow.locator(".trow__details > summary").click()
    # The panel loads when opened: wait for it before counting its evidence.
    expect(crow.locator(".details-grid--pending")).to_have_count(0)
    expect(crow.locator(".evidence li").first).to_be_visible()
    # Remove what was there, so the 지자체 first meets the evidence rule.
    while coop_page.locator(f"#{key} .evidence li").count():
        n = coop_page.locator(f"#{key} .evidence li").count()
        coop_page.locator(f"#{key} .evidence li").first.get_by_role(
            "button", name=re.compile("^삭제")
        ).click()
        expect(coop_page.locator(f"#{key} .evidence li")).to_have_count(n - 1)
    coop_page.locator(f"#{key} .seg__btn--done").click()
    crow = coop_page.locator(f"#{key}")
    expect(crow.locator(".seg__btn--done")).to_have_attribute("aria-pressed", "true")
    expect(crow.locator(".change-request")).to_have_count(0)  # the request closes with 완료
    expect(crow.locator(".verify-wait")).to_have_text("지자체 확인 전")

    # No evidence: the 지자체's 확인 is refused, in Korean, on the row.
    page.reload()
    row = page.locator(f"#{key}")
    expect(row.locator(".change-request")).to_have_count(0)
    row.get_by_role("button", name="확인하기").click()
    expect(page.locator(f"#{key} .alert--error")).to_contain_text(NEEDS_EVIDENCE)
    expect(page.locator(f"#{key} .verified")).to_have_count(0)
    expect(page.locator(f"#{key}").get_by_role("button", name="확인하기")).to_be_visible()

    # The cooperative adds the drawing as a link; now the 지자체 confirms it with a note.
    _add_link(coop_page, item, f"https://example.org/maeul-demo/coop-manbu/{item}/{token}", link_title)
    page.reload()
    _confirm(page, key, note)
    after = _counts(page)
    assert after[0] == total and after[4] == requests, (after, total, requests)

    # The checklist export says the same.
    links = page.locator(".page-head__links")
    expect(links.get_by_role("link", name="체크리스트 엑셀", exact=True)).to_have_attribute(
        "href", re.compile(r"/tracks/\d+/checklist\.xlsx$")
    )
    data, csv_name = _download(page, "체크리스트 CSV")
    assert csv_name.endswith(".csv"), csv_name
    checklist = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    item_text = page.locator(f"#{key} .item__text").inner_text().strip()
    exported = next(r for r in checklist if r["항목"] == item_text)
    assert (exported["위탁 전 확인"], exported["상태"], exported["확인 여부"], exported["확인자"]) == (
        "예",
        "완료",
        "확인됨",
        GOV_NAME,
    ), exported
    assert exported["증빙 수"] == "1", exported

    # The report shows it; PDF and ZIP download.
    page.get_by_role("link", name="위탁 준비도 보고서", exact=True).click()
    page.wait_for_url(re.compile(r"/tracks/\d+/readiness$"))
    report_row = page.locator("#consign-title + table tbody tr").filter(has_text=link_title)
    expect(report_row).to_have_count(1)
    expect(report_row).to_contain_text(note)
    expect(report_row).to_contain_text(GOV_NAME)
    expect(report_row.locator(".report__request")).to_have_count(0)

    pdf, pdf_name = _download(page, "PDF 내려받기")
    assert pdf.startswith(b"%PDF"), pdf[:16]
    assert len(pdf) > 10_000, len(pdf)
    assert pdf_name.endswith(".pdf"), pdf_name
    text = "\n".join(_pdf_pages(pdf))
    assert "위탁 준비도 확인서" in text and token in text, text[:500]

    bundle, zip_name = _download(page, "증빙 묶음(ZIP)")
    assert zip_name.endswith(".zip"), zip_name
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert "manifest.csv" in names, names
        reports = [n for n in names if n.startswith("위탁준비도-") and n.endswith(".pdf")]
        assert len(reports) == 1, names
        assert archive.read(reports[0]).startswith(b"%PDF")
        manifest = list(csv.reader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    assert manifest[0] == ["항목", "파일", "크기(바이트)", "SHA-256", "올린 사람", "올린 시각(KST)"]
    assert all(r[1] in names for r in manifest[1:]), (manifest, names)

    # 위탁 결정: 조건부 승인 with its 문서번호 and 조건.
    form = page.locator("#decision")
    form.get_by_label("조건부 승인", exact=True).check()
    expect(form.locator("#f-decided_on")).not_to_have_value("")  # today, filled in
    form.locator("#f-document_number").fill(document_number)
    form.locator("#f-conditions").fill(conditions)
    with page.expect_navigation(timeout=DOWNLOAD_MS):
        form.get_by_role("button", name="결정 기록하기").click()
    expect(page).to_have_url(re.compile(r"/tracks/\d+/readiness#decision-saved$"))
    current = page.locator("#decisions-title + table tbody tr").first
    expect(current).to_contain_text("조건부 승인 (현재)")
    expect(current).to_contain_text(document_number)
    expect(current).to_contain_text(conditions)
    expect(page.locator("#stored-title + ul")).to_contain_text(document_number)

    # On the cooperative page, for the cooperative and the 지자체 alike, and on the 현황판.
    for p in (coop_page, page):
        p.goto(f"{base}/cooperatives/{coop_id}")
        expect(p.locator(".track-flags")).to_contain_text("위탁 결정: 조건부 승인")
    page.goto(f"{base}/dashboard")
    dash_row = page.locator("#results table.dash-table tbody tr").filter(
        has=page.get_by_role("rowheader", name=MANBU, exact=True)
    )
    expect(dash_row.locator('td[data-label="위탁 준비도"]')).to_contain_text("조건부 승인")

    assert _unexpected(gov_errors, 422) == [], gov_errors
    assert coop_errors == [], coop_errors
    coop.close()
    gov.close()


# --- 2. screenshots: the report at both widths, its PDF, the track page after a 보완 요청 -------


def test_report_screenshots_and_pdf_pages(browser, live_server, cooperative_ids, shot) -> None:
    context, page, errors = _open(browser, live_server.url, GOV)
    _open_track(page, live_server.url, cooperative_ids[MANBU])
    page.get_by_role("link", name="위탁 준비도 보고서", exact=True).click()
    page.wait_for_url(re.compile(r"/tracks/\d+/readiness$"))
    expect(page.locator("#decision")).to_be_visible()  # the 지자체 sees the decision form
    overflow = {}
    for viewport in VIEWPORTS:
        page.set_viewport_size(VIEWPORTS[viewport])
        page.reload()
        panel = page.locator(".report-panel").evaluate("p => p.scrollWidth > p.clientWidth")
        overflow[viewport] = not no_horizontal_overflow(page) or panel
        shot(page, f"readiness-report-{viewport}")
    # What 인쇄 gives: the print stylesheet on an A4-wide page.
    page.set_viewport_size({"width": 794, "height": 1123})
    page.emulate_media(media="print")
    expect(page.locator(".report-actions")).to_be_hidden()
    expect(page.locator("#decision")).to_be_hidden()
    shot(page, "readiness-report-print")
    page.emulate_media(media="screen")

    pdf, _ = _download(page, "PDF 내려받기")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000, len(pdf)
    pages = _pdf_pages(pdf)
    for old in ARTIFACTS.glob("readiness-pdf-*.png"):
        old.unlink()
    (ARTIFACTS / "readiness-report.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "60",
            "-png",
            str(ARTIFACTS / "readiness-report.pdf"),
            str(ARTIFACTS / "readiness-pdf"),
        ],
        check=True,
        timeout=60,
    )
    assert len(list(ARTIFACTS.glob("readiness-pdf-*.png"))) == len(pages)
    # The footer of every page: 보고서 번호, 생성 시각, "k / N 쪽".
    number = re.search(r"MG-\d{5}-\d{8}-\d{6}", pages[0])
    assert number, pages[0][:400]
    for k, text in enumerate(pages, start=1):
        flat = " ".join(text.split())
        assert f"{k} / {len(pages)} 쪽" in flat, (k, flat[-300:])
        assert number.group(0) in flat, (k, flat[-300:])
    assert errors == [], errors
    context.close()
    assert overflow == {"desktop": False, "mobile": False}, f"the report scrolls sideways: {overflow}"


def test_track_after_change_request_screenshots(browser, live_server, cooperative_ids, shot) -> None:
    base, coop_id = live_server.url, cooperative_ids[MANBU]
    context, page, errors = _open(browser, base, GOV)
    _open_track(page, base, coop_id)
    key = _done_consignment_key(browser, page, base, coop_id)
    _request_changes(
        page, key, f"사용수익허가 조건(원상회복)을 반영한 공간 설계안을 다시 올려 주세요 ({_token()})"
    )
    try:
        overflow = {}
        for viewport in VIEWPORTS:
            page.set_viewport_size(VIEWPORTS[viewport])
            page.locator(f"#{key}").scroll_into_view_if_needed()
            overflow[viewport] = not no_horizontal_overflow(page)
            shot(page, f"readiness-track-change-request-{viewport}")
            page.locator(f"#{key}").screenshot(path=str(ARTIFACTS / f"readiness-track-row-{viewport}.png"))
        assert overflow == {"desktop": False, "mobile": False}, f"the track page scrolls sideways: {overflow}"
        assert errors == [], errors
    finally:
        page.set_viewport_size(VIEWPORTS["desktop"])
        _put_back(browser, page, base, coop_id, key)
        context.close()


# --- 3. axe-core ----------------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_report_axe(browser, live_server, cooperative_ids, viewport: str) -> None:
    # bypass_csp only lets the test inject axe; the page itself stays as served.
    context, page, _ = _open(browser, live_server.url, GOV, viewport, bypass_csp=True)
    _open_track(page, live_server.url, cooperative_ids[MANBU])
    page.get_by_role("link", name="위탁 준비도 보고서", exact=True).click()
    page.wait_for_url(re.compile(r"/tracks/\d+/readiness$"))
    expect(page.locator("#decision form")).to_be_visible()
    found = _violations(page)
    context.close()
    assert found == [], found


def test_track_verification_forms_axe(browser, live_server, cooperative_ids) -> None:
    base, coop_id = live_server.url, cooperative_ids[MANBU]
    context, page, _ = _open(browser, base, GOV, bypass_csp=True)
    _open_track(page, base, coop_id)
    withdrawn = None
    found, overflow = {}, {}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        if page.get_by_role("button", name="확인하기").count() == 0:
            # Withdraw one 확인 so that a 확인하기 form shows beside the 보완 요청 · 확인 취소 ones.
            withdrawn = _done_consignment_key(browser, page, base, coop_id)
            if page.locator(f"#{withdrawn} .verified").count():
                _unverify(page, withdrawn, "접근성 검사를 위해 잠시 취소합니다")
            else:
                withdrawn = None
        for details in page.locator("details.mini-details").all():
            details.locator("> summary").click()
        for form in ("verify", "request-changes", "unverify"):
            expect(page.locator(f'form[action$="/{form}"] textarea').first).to_be_visible()
        forms = page.locator(".trow").filter(has=page.locator("details.mini-details[open]"))
        for viewport in VIEWPORTS:
            page.set_viewport_size(VIEWPORTS[viewport])
            found[viewport] = _violations(page)
            overflow[viewport] = not no_horizontal_overflow(page)
            for i in range(forms.count()):
                forms.nth(i).screenshot(path=str(ARTIFACTS / f"readiness-track-forms-{i + 1}-{viewport}.png"))
    finally:
        if withdrawn:
            page.reload()
            _confirm(page, withdrawn)
        context.close()
    assert found == dict.fromkeys(VIEWPORTS, []), found
    assert overflow == dict.fromkeys(VIEWPORTS, False), f"the open forms scroll sideways: {overflow}"


def _unverify(page, key: str, reason: str) -> None:
    row = page.locator(f"#{key}")
    row.locator("details.verify-more > summary").click()
    row.locator(f"#uv-{key.removeprefix('item-')}").fill(reason)
    row.get_by_role("button", name="확인 취소").click()
    row = page.locator(f"#{key}")
    expect(row.locator(".verified")).to_have_count(0)
    expect(row.locator(".verify-wait")).to_have_text("지자체 확인 전")
    expect(row.get_by_role("button", name="확인하기")).to_be_visible()
    _settled(page)


# --- 4. console: the CSP holds on the report, 인쇄 and the verification swaps ----------------------


def test_no_console_errors_on_print_and_verification_swaps(browser, live_server, cooperative_ids) -> None:
    base, coop_id = live_server.url, cooperative_ids[MANBU]
    context, page, errors = _open(browser, base, GOV)
    context.add_init_script(PRINT_STUB)  # record window.print instead of opening the dialog
    _open_track(page, base, coop_id)
    page.get_by_role("link", name="위탁 준비도 보고서", exact=True).click()
    page.wait_for_url(re.compile(r"/tracks/\d+/readiness$"))
    page.get_by_role("button", name="인쇄").click()
    page.wait_for_function("() => window.__printed === 1")

    # 확인 취소, then 확인 again with a note: two HTMX swaps that leave the item as it was.
    page.locator(".breadcrumb").get_by_role("link", name=MODEL, exact=True).click()
    page.wait_for_url(re.compile(r"/tracks/\d+$"))
    key = _done_consignment_key(browser, page, base, coop_id)
    if page.locator(f"#{key} .verified").count() == 0:
        _confirm(page, key)
    page.evaluate("window.__marker = 'same-document'")
    _unverify(page, key, f"증빙 재검토 ({_token()})")
    _confirm(page, key, "재검토 완료")
    assert page.evaluate("window.__marker") == "same-document"
    assert errors == [], errors
    context.close()


# --- without JavaScript: the same forms post and come back to the item ----------------------------


def test_unverify_and_confirm_without_javascript(browser, live_server, cooperative_ids) -> None:
    base, coop_id = live_server.url, cooperative_ids[MANBU]
    context, page, _ = _open(browser, base, GOV, java_script_enabled=False)
    _open_track(page, base, coop_id)
    key = _done_consignment_key(browser, page, base, coop_id)
    item = key.removeprefix("item-")
    try:
        if page.locator(f"#{key} .verified").count():
            row = page.locator(f"#{key}")
            row.locator("details.verify-more > summary").click()
            row.locator(f"#uv-{item}").fill("자바스크립트 없이 취소")
            with page.expect_navigation():
                row.get_by_role("button", name="확인 취소").click()
            expect(page).to_have_url(re.compile(rf"/tracks/\d+#{key}$"))
            expect(page.locator(f"#{key} .verified")).to_have_count(0)
        row = page.locator(f"#{key}")
        row.locator('form[action$="/verify"] details.mini-details > summary').click()
        row.locator(f"#vn-{item}").fill("자바스크립트 없이 확인")
        with page.expect_navigation():
            row.get_by_role("button", name="확인하기").click()
        expect(page).to_have_url(re.compile(rf"/tracks/\d+#{key}$"))
        expect(page.locator(f"#{key} .verified")).to_contain_text("✓ 확인됨")
        expect(page.locator(f"#{key} .verified__note")).to_have_text("“자바스크립트 없이 확인”")
    finally:
        context.close()


# --- 5. keyboard: where focus goes after a 보완 요청 ------------------------------------------------


FOCUS = """() => {
    const a = document.activeElement;
    return {tag: a.tagName, id: a.id, text: (a.textContent || '').trim().slice(0, 40),
            row: a.closest('.trow') ? a.closest('.trow').id : null};
}"""


class FocusLost(AssertionError):
    """Focus left the row after an HTMX swap (the known bug below); anything else fails plainly."""


def test_focus_stays_in_the_row_after_a_change_request(browser, live_server, cooperative_ids) -> None:
    base, coop_id = live_server.url, cooperative_ids[MANBU]
    context, page, errors = _open(browser, base, GOV)
    _open_track(page, base, coop_id)
    key = _done_consignment_key(browser, page, base, coop_id)
    item = key.removeprefix("item-")
    try:
        # Keyboard only: open the <details>, type the reason, send it.
        page.locator(f"#{key} details.verify-more > summary").focus()
        page.keyboard.press("Enter")
        expect(page.locator(f"#{key} details.verify-more")).to_have_attribute("open", "")
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUS)["id"] == f"cr-{item}", page.evaluate(FOCUS)
        page.keyboard.insert_text(f"키보드로 보낸 보완 요청 ({_token()})")
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUS)["text"] == "보완 요청 보내기", page.evaluate(FOCUS)
        page.keyboard.press("Enter")
        expect(page.locator(f"#{key} .change-request")).to_contain_text("키보드로 보낸 보완 요청")
        _settled(page)
        focus = page.evaluate(FOCUS)
        page.keyboard.press("Tab")  # where a keyboard user goes on from there
        next_stop = page.evaluate(FOCUS)
        assert errors == [], errors
    finally:
        _put_back(browser, page, base, coop_id, key)
        context.close()
    if focus["tag"] == "BODY" or focus["row"] != key:
        raise FocusLost(f"focus went to {focus} after the swap; the next Tab lands on {next_stop}")
