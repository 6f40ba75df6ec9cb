"""Each demo role logs in through the form and sees exactly its own cooperatives."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORTS, console_errors, login, no_horizontal_overflow

pytestmark = pytest.mark.browser

SEOUL = "서울 도시재생 사회적협동조합"
SANG4 = "협동조합 상4랑"
ALL_COOPS = [
    SEOUL,
    "인천 만부마을 마을관리 사회적협동조합",
    "청주와우 마을관리 사회적협동조합",
    SANG4,
    "대구 안심에너지협동조합",
    "번암빛돌 마을관리 사회적협동조합",
]


@dataclass(frozen=True)
class Role:
    login: str
    display_name: str
    role_line: str  # role label · organization, as the header shows it
    visible: tuple[str, ...]


ROLES = {
    "coop": Role(
        "coop-seoul",
        f"{SEOUL} 사무국",
        f"조합 사무국 · {SEOUL}",
        (SEOUL,),
    ),
    "center": Role(
        "center-seoul",
        "서울특별시 도시재생지원센터 코디네이터",
        "도시재생지원센터 · 서울특별시 도시재생지원센터",
        (SEOUL, SANG4),
    ),
    "municipality": Role(
        "gov-seoul",
        "서울특별시 도시재생과",
        "지자체 · 서울특별시",
        (SEOUL,),
    ),
    "admin": Role("admin", "마을길잡이 운영팀", "운영 관리자", tuple(ALL_COOPS)),
}


def _listed(page) -> list[str]:
    return page.locator("table.table tbody th[scope=row] a").all_inner_texts()


@pytest.mark.parametrize("role", list(ROLES))
def test_role_sees_its_cooperatives(browser, live_server, shot, cooperative_ids, role: str) -> None:
    spec = ROLES[role]
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="ko-KR")
    page = context.new_page()
    errors = console_errors(page)

    login(page, live_server.url, spec.login)
    # A cooperative lands on its own page, the public bodies on the 현황판.
    if role.startswith("coop"):
        page.wait_for_url(f"**/cooperatives/{cooperative_ids[spec.visible[0]]}")
    else:
        page.wait_for_url("**/dashboard")
    page.goto(live_server.url + "/cooperatives")

    # The header says who is logged in, in which role, for which organization.
    expect(page.locator(".who__name strong")).to_have_text(spec.display_name)
    expect(page.locator(".who__role")).to_have_text(spec.role_line)
    expect(page.locator(".site-nav").get_by_role("link", name="관리", exact=True)).to_have_count(
        1 if role == "admin" else 0
    )

    # Exactly the visible cooperatives, no more and no fewer.
    assert sorted(_listed(page)) == sorted(spec.visible)

    for name, viewport in (("desktop", VIEWPORTS["desktop"]), ("mobile", VIEWPORTS["mobile"])):
        page.set_viewport_size(viewport)
        page.goto(live_server.url + "/cooperatives")
        assert no_horizontal_overflow(page), f"/cooperatives overflows at {viewport['width']} px"
        shot(page, f"roles-{role}-cooperatives-{name}")

    # A cooperative page, reached by its link.
    page.set_viewport_size(VIEWPORTS["desktop"])
    page.goto(live_server.url + "/cooperatives")
    first = spec.visible[0]
    page.get_by_role("link", name=first, exact=True).click()
    page.wait_for_url(f"**/cooperatives/{cooperative_ids[first]}")
    expect(page.locator("h1")).to_have_text(first)
    expect(page.locator(".track-card")).to_have_count(1)
    for name, viewport in (("desktop", VIEWPORTS["desktop"]), ("mobile", VIEWPORTS["mobile"])):
        page.set_viewport_size(viewport)
        assert no_horizontal_overflow(page), f"cooperative page overflows at {viewport['width']} px"
        shot(page, f"roles-{role}-cooperative-{name}")

    # A cooperative outside the person's scope is not found, not merely hidden from the list.
    hidden = [n for n in ALL_COOPS if n not in spec.visible]
    assert errors == [], errors
    if hidden:
        response = page.goto(f"{live_server.url}/cooperatives/{cooperative_ids[hidden[0]]}")
        assert response is not None and response.status == 404
        expect(page.locator(".error-panel")).to_contain_text("조합을 찾을 수 없습니다.")
        errors.clear()  # the browser logs the 404 document load itself

    if role == "admin":
        page.set_viewport_size(VIEWPORTS["desktop"])
        page.goto(live_server.url + "/cooperatives")
        page.locator(".site-nav").get_by_role("link", name="관리", exact=True).click()
        page.wait_for_url("**/admin")
        expect(page.locator("h1")).to_have_text("기관과 사용자 관리")
        coops = page.locator("#cooperatives tbody th[scope=row]").all_inner_texts()
        assert sorted(coops) == sorted(ALL_COOPS)
        for name, viewport in (("desktop", VIEWPORTS["desktop"]), ("mobile", VIEWPORTS["mobile"])):
            page.set_viewport_size(viewport)
            assert no_horizontal_overflow(page), f"/admin overflows at {viewport['width']} px"
            shot(page, f"roles-admin-admin-{name}")
    else:
        response = page.goto(live_server.url + "/admin")
        assert response is not None and response.status == 403
        expect(page.locator(".error-panel")).to_contain_text("운영 관리자만 사용할 수 있는 기능입니다.")
        errors.clear()  # the browser logs the 403 document load itself
        page.goto(live_server.url + "/cooperatives")  # the session survives a refused page
        expect(page.locator(".who__name strong")).to_have_text(spec.display_name)

    assert errors == [], errors
    context.close()


def test_wrong_password_shows_korean_error(browser, live_server) -> None:
    context = browser.new_context(viewport=VIEWPORTS["mobile"], locale="ko-KR")
    page = context.new_page()
    login(page, live_server.url, "coop-sang4", password="not-the-password")  # noqa: S106
    assert page.url.endswith("/login")
    expect(page.locator(".alert--error")).to_have_text("아이디 또는 비밀번호가 맞지 않습니다.")
    expect(page.locator("#username")).to_have_value("coop-sang4")
    expect(page.locator("#password")).to_have_value("")
    expect(page.locator(".who__name")).to_have_count(0)
    assert no_horizontal_overflow(page)
    context.close()


def test_logout_returns_home(browser, live_server) -> None:
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="ko-KR")
    page = context.new_page()
    errors = console_errors(page)
    login(page, live_server.url, "coop-wawoo")
    page.wait_for_url("**/cooperatives/*")  # a cooperative lands on its own page
    expect(page.locator(".who__name strong")).to_have_text("청주와우 마을관리 사회적협동조합 사무국")

    page.get_by_role("button", name="로그아웃").click()
    page.wait_for_url(live_server.url + "/")
    expect(page.locator("h1")).to_have_text("우리 지역은 우리 스스로 관리해요")
    expect(page.locator(".who__name")).to_have_count(0)
    expect(page.locator(".who").get_by_role("link", name="로그인")).to_be_visible()

    # The session is really gone: a member page asks to log in again.
    page.goto(live_server.url + "/cooperatives")
    page.wait_for_url("**/login?next=%2Fcooperatives")
    assert errors == [], errors
    context.close()
