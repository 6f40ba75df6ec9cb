"""The browser console stays empty: every page kind, as every kind of user, and the HTMX swaps that
replace parts of those pages. Any console error, uncaught script error or CSP violation fails.

The CSP is strict (style-src 'self', no 'unsafe-inline'), so an inline style written by a template
or by script shows up here. The live database is shared by the whole session: the one item changed
here is put back as it was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORTS, login

pytestmark = pytest.mark.browser

MANBU = "인천 만부마을 마을관리 사회적협동조합"
MODEL_KEY = "village-restaurant"  # 거점시설 기반 마을식당, which 만부 follows
TIMEOUT_MS = 10_000
# securitypolicyviolation events reach the test through a binding, so a violation that Chromium
# might log only as a report (or not at all) still fails the test.
CSP_WATCH = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolation([e.effectiveDirective, e.blockedURI || '', e.sample || ''].join(' '));
});
"""


@dataclass
class Watch:
    """What went wrong in the browser, each entry prefixed with the page's path."""

    found: list[str]

    def take(self) -> list[str]:
        taken, self.found[:] = list(self.found), []
        return taken


def _open(browser, base_url: str, user: str | None):
    """A new context (logged in as ``user`` unless None) whose console and CSP reports are watched."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="ko-KR")
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    found: list[str] = []

    def where(url: str) -> str:
        return urlsplit(url).path or "/"

    context.expose_binding(
        "__cspViolation", lambda source, text: found.append(f"{where(source['page'].url)}: CSP {text}")
    )
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    page.on("console", lambda m: found.append(f"{where(page.url)}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: found.append(f"{where(page.url)}: {exc}"))
    if user:
        login(page, base_url, user)
    return context, page, Watch(found)


def _settled(page) -> None:
    """htmx has requested, swapped and settled, and the browser has had time to report."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )
    # Violation events and console messages are queued as tasks: let them run before checking.
    page.evaluate("() => new Promise((done) => setTimeout(done, 100))")


@pytest.fixture(scope="module")
def ids(live_server, cooperative_ids) -> dict[str, int]:
    """The ids the page paths need: 만부, its 마을식당 track, a user and a cooperative to edit."""
    from sqlmodel import Session, select

    from app.models import Track, User

    coop = cooperative_ids[MANBU]
    with Session(live_server.app.state.engine) as session:
        track = session.exec(
            select(Track).where(Track.cooperative_id == coop, Track.model_key == MODEL_KEY)
        ).one()
        user = session.exec(select(User).where(User.login == "coop-manbu")).one()
    assert track.id is not None and user.id is not None
    return {"coop": coop, "track": track.id, "user": user.id}


# --- every page kind, as every kind of user -----------------------------------------------------

PUBLIC = ["/", f"/models/{MODEL_KEY}", "/login", "/docs"]
SIGNED_IN = [
    "/",
    f"/models/{MODEL_KEY}",
    "/tasks",
    "/notifications",
    "/notifications/settings",
    "/cooperatives/{coop}",
    "/tracks/{track}",
    "/tracks/{track}/events",
    "/tracks/{track}/readiness",
    "/docs",
]
PUBLIC_BODY = [
    "/cooperatives",
    "/cooperatives/{coop}/consultations",
    "/dashboard",
    "/dashboard/charts",
    "/dashboard/support",
]
ADMIN = [
    "/admin",
    "/admin/municipalities/new",
    "/admin/centers/new",
    "/admin/cooperatives/new",
    "/admin/cooperatives/{coop}/edit",
    "/admin/users/new",
    "/admin/users/{user}/edit",
]
PAGES = {
    None: PUBLIC,
    "coop-manbu": SIGNED_IN,
    "center-namdong": SIGNED_IN + PUBLIC_BODY,
    "gov-namdong": SIGNED_IN + PUBLIC_BODY,
    "admin": SIGNED_IN + PUBLIC_BODY + ADMIN,
}


@pytest.mark.parametrize("user", list(PAGES), ids=lambda u: u or "anonymous")
def test_every_page_kind_has_a_clean_console(browser, live_server, ids, user: str | None) -> None:
    context, page, watch = _open(browser, live_server.url, user)
    statuses = {}
    for path in PAGES[user]:
        response = page.goto(live_server.url + path.format(**ids))
        assert response is not None
        statuses[path] = response.status
        page.wait_for_load_state("networkidle")  # lazy parts (the 현황판 charts) load and swap in
        _settled(page)
    context.close()
    assert statuses == dict.fromkeys(PAGES[user], 200), statuses
    assert watch.take() == []


# --- HTMX swaps ---------------------------------------------------------------------------------


def test_dashboard_filter_swap(browser, live_server) -> None:
    context, page, watch = _open(browser, live_server.url, "gov-namdong")
    page.goto(live_server.url + "/dashboard")
    page.wait_for_load_state("networkidle")
    page.select_option("#dash-stage", "plan")
    page.wait_for_url(re.compile(r"stage=plan"))
    _settled(page)
    page.select_option("#dash-stage", "")
    page.wait_for_url(re.compile(r"stage=(&|$)"))
    _settled(page)
    expect(page.locator("#results")).to_be_visible()
    context.close()
    assert watch.take() == []


def test_status_change_and_back_after_a_textarea_was_resized(browser, live_server, ids) -> None:
    """A resized textarea carries a style attribute; htmx must not copy it onto the swapped-in row."""
    context, page, watch = _open(browser, live_server.url, "coop-manbu")
    page.goto(f"{live_server.url}/tracks/{ids['track']}")
    # An item the cooperative may change that is not 완료 (완료 would ask the 지자체 to confirm).
    row = (
        page.locator(".trow:has(form.seg)")
        .filter(has=page.locator(".seg__btn--todo[aria-pressed=true], .seg__btn--doing[aria-pressed=true]"))
        .first
    )
    key = row.get_attribute("id")
    assert key
    before = "todo" if row.locator(".seg__btn--todo[aria-pressed=true]").count() else "doing"
    after = "doing" if before == "todo" else "todo"
    # The row's panel, with its text boxes, is fetched when the row is first opened.
    row.locator(".trow__details > summary").click()
    expect(row.locator(".details-grid textarea[id]").first).to_be_attached()
    # What a person dragging the note box's corner leaves behind (CSSOM, which the CSP allows).
    resized = page.evaluate(
        """(key) => {
            const box = document.querySelector(`#${key} textarea[id]`);
            if (!box) return null;
            box.style.height = '12em';
            return box.id;
        }""",
        key,
    )
    assert resized, f"no textarea in #{key}"
    assert page.locator(f"#{resized}").get_attribute("style")
    try:
        page.locator(f"#{key} .seg__btn--{after}").click()
        expect(page.locator(f"#{key} .seg__btn--{after}")).to_have_attribute("aria-pressed", "true")
        _settled(page)
    finally:
        page.locator(f"#{key} .seg__btn--{before}").click()
        expect(page.locator(f"#{key} .seg__btn--{before}")).to_have_attribute("aria-pressed", "true")
        _settled(page)
    context.close()
    assert watch.take() == []


def test_checklist_filter_chip_swap(browser, live_server, ids) -> None:
    context, page, watch = _open(browser, live_server.url, "center-namdong")
    page.goto(f"{live_server.url}/tracks/{ids['track']}")
    status = page.get_by_role("navigation", name="상태로 거르기")
    status.get_by_role("link", name="미착수", exact=True).click()
    page.wait_for_url(re.compile(r"status=todo"))
    _settled(page)
    expect(status.get_by_role("link", name="미착수", exact=True)).to_have_attribute("aria-current", "true")
    status.get_by_role("link", name="전체", exact=True).click()
    page.wait_for_url(re.compile(r"/tracks/\d+$"))
    _settled(page)
    context.close()
    assert watch.take() == []


def test_consultation_form_errors_swap(browser, live_server, ids) -> None:
    context, page, watch = _open(browser, live_server.url, "center-namdong")
    page.goto(f"{live_server.url}/cooperatives/{ids['coop']}/consultations")
    page.locator("#consultation-new form").get_by_role("button", name="기록하기").click()
    expect(page.locator("#e-topic")).to_have_text("상담 주제를 입력하세요.")
    _settled(page)
    context.close()
    # The browser notes the 422 that htmx swaps in on purpose; nothing else may appear.
    found = watch.take()
    expected = [e for e in found if re.search(r"status of 422\b", e)]
    assert len(expected) == 1, found
    assert [e for e in found if e not in expected] == []


def test_the_watch_sees_a_blocked_inline_style(browser, live_server) -> None:
    """The checks above would pass vacuously if violations went unseen: show one is caught."""
    context, page, watch = _open(browser, live_server.url, None)
    page.goto(live_server.url + "/")
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    _settled(page)
    context.close()
    found = watch.take()
    assert any("CSP style-src-attr inline" in e for e in found), found
    assert any("Applying inline style violates" in e for e in found), found
