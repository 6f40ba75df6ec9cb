"""Automated WCAG 2 A/AA checks (axe-core, vendored) on every kind of page, at both widths.

axe cannot judge everything (reading order, wording); it does catch missing labels,
contrast below AA, landmark and heading mistakes, duplicate ids and ARIA misuse.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.browser.conftest import VIEWPORTS, login

pytestmark = pytest.mark.browser

VENDOR = Path(__file__).parent / "vendor"
AXE = VENDOR / "axe.min.js"


def test_axe_is_the_recorded_file() -> None:
    record = json.loads((VENDOR / "VENDORED.json").read_text("utf-8"))["axe.min.js"]
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == record["sha256"]


def _violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
            return r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' — ' +
                v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
        }"""
    )
    return list(result)


def test_the_harness_reports_a_real_violation(browser) -> None:
    """A control: an unlabeled field and low-contrast text must be reported."""
    page = browser.new_page()
    page.set_content(
        '<html lang="ko"><body><main><h1>시험</h1><input type="text">'
        '<p style="color:#bbb;background:#fff">흐린 글씨</p></main></body></html>'
    )
    ids = {v.split(" ")[0] for v in _violations(page)}
    page.close()
    assert {"label", "color-contrast"} <= ids


PUBLIC = ["/", "/models/hub-facility", "/models/solar?role=center", "/login"]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_public_pages(browser, live_server, viewport: str) -> None:
    # bypass_csp only lets the test inject axe; the pages themselves stay as served.
    context = browser.new_context(viewport=VIEWPORTS[viewport], bypass_csp=True)
    page = context.new_page()
    found = {}
    for path in PUBLIC:
        page.goto(live_server.url + path)
        found[path] = _violations(page)
    context.close()
    assert found == dict.fromkeys(PUBLIC, [])


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_member_pages(browser, live_server, cooperative_ids, viewport: str) -> None:
    context = browser.new_context(viewport=VIEWPORTS[viewport], bypass_csp=True)
    page = context.new_page()
    login(page, live_server.url, "coop-manbu")
    coop_id = cooperative_ids["인천 만부마을 마을관리 사회적협동조합"]
    page.goto(f"{live_server.url}/cooperatives/{coop_id}")
    track_href = page.locator(".track-card__title a").first.get_attribute("href")
    paths = [
        "/cooperatives",
        f"/cooperatives/{coop_id}",
        track_href,
        f"{track_href}/events",
        f"/cooperatives/{coop_id}/events",
    ]
    found = {}
    for path in paths:
        page.goto(live_server.url + path)
        if path == track_href:
            page.locator(".trow__details > summary").first.click()  # the editor's fields too
        found[path] = _violations(page)
    context.close()
    assert found == dict.fromkeys(paths, [])


def test_admin_pages(browser, live_server) -> None:
    context = browser.new_context(viewport=VIEWPORTS["desktop"], bypass_csp=True)
    page = context.new_page()
    login(page, live_server.url, "admin")
    paths = ["/admin", "/admin/users/new", "/admin/centers/new", "/admin/cooperatives/new"]
    found = {}
    for path in paths:
        page.goto(live_server.url + path)
        found[path] = _violations(page)
    context.close()
    assert found == dict.fromkeys(paths, [])
