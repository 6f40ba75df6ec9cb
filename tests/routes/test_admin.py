"""Admin pages: only admins; organizations and users created and edited through the forms."""

from __future__ import annotations

import html
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from app.models import CenterMunicipality, Cooperative, Municipality, SupportCenter, User
from tests.factories import PASSWORD, World, login

NEW_PASSWORD = "a-long-enough-password"


def count(db: Session, model: type) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def post(client: TestClient, path: str, token: str, data: dict[str, object]):
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def select_html(page: str, name: str) -> str:
    match = re.search(rf'<select id="f-{name}" name="{name}".*?</select>', page, re.S)
    assert match, f"no select {name}"
    return match.group(0)


def org_option(client: TestClient, group: str, label: str) -> str:
    """The value the user form offers for ``label`` in the org select's ``group``."""
    org_select = select_html(client.get("/admin/users/new").text, "org_id")
    block = re.search(rf'<optgroup label="{group}">(.*?)</optgroup>', org_select, re.S)
    assert block, f"no group {group}"
    for value, text in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', block.group(1)):
        if html.unescape(text) == label:
            return html.unescape(value)
    raise AssertionError(f"no option {label} in {group}")


def selected_labels(select: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<option [^>]*selected[^>]*>([^<]*)</option>", select)]


def field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="field__error" id="e-{name}">([^<]*)</p>', page)
    assert match, f"no error for {name}"
    return html.unescape(match.group(1))


def can_log_in(app: FastAPI, login_name: str, password: str = PASSWORD) -> bool:
    with TestClient(app) as other:
        token = re.search(r'name="csrf-token" content="([^"]+)"', other.get("/login").text)
        assert token
        r = other.post(
            "/login",
            data={"username": login_name, "password": password, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert r.status_code in {303, 401}, r.status_code
        return r.status_code == 303


def coop_list_as(app: FastAPI, login_name: str, password: str = PASSWORD) -> str:
    with TestClient(app) as other:
        login(other, login_name, password)
        r = other.get("/cooperatives")
        assert r.status_code == 200
        return r.text


# --- who may enter ----------------------------------------------------------------------------


@pytest.mark.parametrize("user_key", ["coop_a", "center", "municipality"])
@pytest.mark.parametrize("path", ["/admin", "/admin/users/new", "/admin/cooperatives/new"])
def test_non_admins_get_403_on_admin_pages(
    client: TestClient, world: World, user_key: str, path: str
) -> None:
    login(client, world.users[user_key].login)
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 403
    assert "운영 관리자만" in r.text


def test_non_admins_see_no_admin_link(client: TestClient, world: World) -> None:
    login(client, "center-a")
    assert 'href="/admin"' not in client.get("/cooperatives").text


def test_admin_sees_the_admin_link(client: TestClient, world: World) -> None:
    login(client, "admin")
    assert 'href="/admin"' in client.get("/cooperatives").text


def test_anonymous_admin_page_redirects_to_login(client: TestClient) -> None:
    r = client.get("/admin", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fadmin"


def _admin_posts(world: World) -> list[tuple[str, dict[str, object]]]:
    return [
        ("/admin/municipalities", {"name": "부산광역시 중구", "sido": "부산광역시"}),
        ("/admin/centers", {"name": "부산 센터", "municipality_ids": [str(world.muni_a.id)]}),
        ("/admin/cooperatives", {"name": "새 조합", "municipality_id": str(world.muni_a.id)}),
        (
            "/admin/users",
            {"login": "sneaky", "display_name": "x", "role": "admin", "password": NEW_PASSWORD},
        ),
        (f"/admin/municipalities/{world.muni_a.id}", {"name": "바뀐 이름", "sido": "서울특별시"}),
        (f"/admin/centers/{world.center_a.id}", {"name": "바뀐 센터"}),
        (
            f"/admin/cooperatives/{world.coop_a.id}",
            {"name": "바뀐 조합", "municipality_id": str(world.muni_a.id)},
        ),
        (f"/admin/users/{world.users['admin'].id}", {"display_name": "바뀐 관리자"}),
        (f"/admin/users/{world.users['admin'].id}/active", {"active": "0"}),
    ]


@pytest.mark.parametrize("user_key", ["coop_a", "center", "municipality"])
def test_non_admins_get_403_on_every_admin_post(
    client: TestClient, db: Session, world: World, user_key: str
) -> None:
    token = login(client, world.users[user_key].login)
    before = {m: count(db, m) for m in (Municipality, SupportCenter, Cooperative, User)}
    for path, data in _admin_posts(world):
        r = post(client, path, token, data)
        assert r.status_code == 403, path
        assert "운영 관리자만" in r.text, path  # refused as a non-admin, not for the token
    assert {m: count(db, m) for m in before} == before
    db.expire_all()
    assert db.get(Municipality, world.muni_a.id).name == "서울특별시 용산구"
    assert db.get(SupportCenter, world.center_a.id).name == "서울특별시 도시재생지원센터"
    assert db.get(Cooperative, world.coop_a.id).name == "가 마을조합"
    admin = db.get(User, world.users["admin"].id)
    assert admin.is_active and admin.display_name == "admin"


# --- creating ---------------------------------------------------------------------------------


def test_admin_creates_organizations_and_users(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    assert client.get("/admin/municipalities/new").status_code == 200

    for name, sigungu in [("부산광역시 중구", "중구"), ("부산광역시 동구", "동구")]:
        r = post(
            client, "/admin/municipalities", token, {"name": name, "sido": "부산광역시", "sigungu": sigungu}
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/admin?saved=municipalities#municipalities"
    munis = {m.name: m for m in db.exec(select(Municipality).where(Municipality.sido == "부산광역시")).all()}
    assert munis["부산광역시 중구"].sigungu == "중구"

    r = post(
        client,
        "/admin/centers",
        token,
        {
            "name": "부산광역시 도시재생지원센터",
            "municipality_ids": [str(munis["부산광역시 중구"].id), str(munis["부산광역시 동구"].id)],
        },
    )
    assert r.status_code == 303, r.text
    center = db.exec(select(SupportCenter).where(SupportCenter.name == "부산광역시 도시재생지원센터")).one()
    served = db.exec(
        select(CenterMunicipality.municipality_id).where(CenterMunicipality.center_id == center.id)
    ).all()
    assert set(served) == {munis["부산광역시 중구"].id, munis["부산광역시 동구"].id}

    r = post(
        client,
        "/admin/cooperatives",
        token,
        {
            "name": "부산 중구 마을관리 사회적협동조합",
            "site": "중앙동 도시재생사업지",
            "address": "부산광역시 중구",
            "municipality_id": str(munis["부산광역시 중구"].id),
            "support_center_id": str(center.id),
            "approved_on": "2022-03-04",
            "contact": "051-000-0000",
        },
    )
    assert r.status_code == 303, r.text
    coop = db.exec(select(Cooperative).where(Cooperative.name == "부산 중구 마을관리 사회적협동조합")).one()
    assert coop.support_center_id == center.id
    assert coop.approved_on is not None and coop.approved_on.isoformat() == "2022-03-04"

    users = [
        ("busan-coop", "coop", ("조합", coop.name), "cooperative_id", coop.id),
        ("busan-center", "center", ("지원센터", center.name), "center_id", center.id),
        (
            "busan-gov",
            "municipality",
            ("지자체", "부산광역시 중구"),
            "municipality_id",
            munis["부산광역시 중구"].id,
        ),
        ("busan-admin", "admin", None, None, None),
    ]
    for login_name, role, org, org_field, org_id in users:
        data = {"login": login_name, "display_name": f"{login_name} 담당자", "role": role}
        data["org_id"] = org_option(client, *org) if org else ""
        data["password"] = NEW_PASSWORD
        r = post(client, "/admin/users", token, data)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/admin?saved=users#users"
        user = db.exec(select(User).where(User.login == login_name)).one()
        assert user.role == role
        assert user.password_hash.startswith("$argon2")
        assert NEW_PASSWORD not in user.password_hash
        for f in ("cooperative_id", "center_id", "municipality_id"):
            assert getattr(user, f) == (org_id if f == org_field else None), (login_name, f)

    page = client.get("/admin").text
    for text in [
        "부산광역시 중구",
        "부산광역시 도시재생지원센터",
        "부산광역시 동구, 부산광역시 중구",  # the center's two regions
        "부산 중구 마을관리 사회적협동조합",
        "busan-coop",
        "busan-center",
        "busan-gov",
        "busan-admin",
    ]:
        assert text in page, text

    # each new user can log in and sees what their role allows
    assert "부산 중구 마을관리 사회적협동조합" in coop_list_as(client.app, "busan-center", NEW_PASSWORD)
    assert "부산 중구 마을관리 사회적협동조합" in coop_list_as(client.app, "busan-gov", NEW_PASSWORD)
    coop_page = coop_list_as(client.app, "busan-coop", NEW_PASSWORD)
    assert "부산 중구 마을관리 사회적협동조합" in coop_page and "가 마을조합" not in coop_page


def test_center_may_serve_no_region(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    r = post(client, "/admin/centers", token, {"name": "새 센터"})
    assert r.status_code == 303
    assert db.exec(select(SupportCenter).where(SupportCenter.name == "새 센터")).one()


# --- validation -------------------------------------------------------------------------------


def _duplicates(world: World) -> list[tuple[str, type, dict[str, object], str, str]]:
    return [
        (
            "municipalities",
            Municipality,
            {"name": "서울특별시 용산구", "sido": "서울특별시"},
            "name",
            "'서울특별시 용산구' 지자체가 이미 있습니다.",
        ),
        (
            "centers",
            SupportCenter,
            {"name": "서울특별시 도시재생지원센터", "municipality_ids": [str(world.muni_b.id)]},
            "name",
            "'서울특별시 도시재생지원센터' 지원센터가 이미 있습니다.",
        ),
        (
            "cooperatives",
            Cooperative,
            {"name": "가 마을조합", "municipality_id": str(world.muni_b.id)},
            "name",
            "'가 마을조합' 조합이 이미 있습니다.",
        ),
        (
            "users",
            User,
            {"login": "coop-a", "display_name": "x", "role": "admin", "password": NEW_PASSWORD},
            "login",
            "'coop-a' 아이디가 이미 있습니다.",
        ),
    ]


@pytest.mark.parametrize("index", range(4), ids=["municipality", "center", "cooperative", "user"])
def test_duplicate_names_are_422_and_nothing_is_stored(
    client: TestClient, db: Session, world: World, index: int
) -> None:
    kind, model, data, field, message = _duplicates(world)[index]
    token = login(client, "admin")
    before = count(db, model)
    links = count(db, CenterMunicipality)
    r = post(client, f"/admin/{kind}", token, data)
    assert r.status_code == 422
    assert field_error(r.text, field) == message
    assert "입력값을 확인하세요" in r.text
    assert count(db, model) == before
    assert count(db, CenterMunicipality) == links


def test_renaming_to_an_existing_name_is_422(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    r = post(
        client,
        f"/admin/cooperatives/{world.coop_b.id}",
        token,
        {"name": "가 마을조합", "municipality_id": str(world.muni_b.id)},
    )
    assert r.status_code == 422
    assert field_error(r.text, "name") == "'가 마을조합' 조합이 이미 있습니다."
    db.expire_all()
    assert db.get(Cooperative, world.coop_b.id).name == "나 마을조합"


def test_saving_an_unchanged_name_is_not_a_duplicate(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    r = post(
        client,
        f"/admin/municipalities/{world.muni_a.id}",
        token,
        {"name": "서울특별시 용산구", "sido": "서울특별시", "sigungu": "용산"},
    )
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Municipality, world.muni_a.id).sigungu == "용산"


@pytest.mark.parametrize("role", ["coop", "center", "municipality"])
def test_org_user_without_an_organization_is_422(
    client: TestClient, db: Session, world: World, role: str
) -> None:
    token = login(client, "admin")
    before = count(db, User)
    r = post(
        client,
        "/admin/users",
        token,
        {"login": "orphan", "display_name": "고아", "role": role, "org_id": "", "password": NEW_PASSWORD},
    )
    assert r.status_code == 422
    assert field_error(r.text, "org_id").startswith("소속 ")
    assert count(db, User) == before


def test_organization_of_another_kind_is_422(client: TestClient, db: Session, world: World) -> None:
    # A center user given a cooperative must be refused, not attached to whatever center
    # happens to share the cooperative's id.
    token = login(client, "admin")
    before = count(db, User)
    r = post(
        client,
        "/admin/users",
        token,
        {
            "login": "mixed-up",
            "display_name": "혼동",
            "role": "center",
            "org_id": org_option(client, "조합", "가 마을조합"),
            "password": NEW_PASSWORD,
        },
    )
    assert r.status_code == 422
    assert field_error(r.text, "org_id")
    assert count(db, User) == before


def test_user_form_marks_only_the_users_own_organization(client: TestClient, world: World) -> None:
    login(client, "admin")
    for key, label in [
        ("coop_a", "가 마을조합"),
        ("center", "서울특별시 도시재생지원센터"),
        ("municipality", "서울특별시 용산구"),
    ]:
        page = client.get(f"/admin/users/{world.users[key].id}/edit").text
        assert selected_labels(select_html(page, "org_id")) == [label], key


def test_short_password_is_422(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    r = post(
        client,
        "/admin/users",
        token,
        {"login": "shorty", "display_name": "짧은", "role": "admin", "org_id": "", "password": "123456789"},
    )
    assert r.status_code == 422
    assert field_error(r.text, "password") == "비밀번호는 10자 이상이어야 합니다."
    assert "123456789" not in r.text  # the password is not echoed back
    assert db.exec(select(User).where(User.login == "shorty")).first() is None


def test_short_password_on_edit_is_422(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    user = world.users["coop_b"]
    old_hash = user.password_hash
    r = post(
        client,
        f"/admin/users/{user.id}",
        token,
        {"display_name": "coop-b", "org_id": org_option(client, "조합", "나 마을조합"), "password": "short"},
    )
    assert r.status_code == 422
    db.expire_all()
    assert db.get(User, user.id).password_hash == old_hash


def test_admin_with_an_organization_is_refused(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    r = post(
        client,
        "/admin/users",
        token,
        {
            "login": "admin-two",
            "display_name": "관리자 2",
            "role": "admin",
            "org_id": org_option(client, "조합", "가 마을조합"),
            "password": NEW_PASSWORD,
        },
    )
    assert r.status_code == 422
    assert "운영 관리자는 소속 기관이 없습니다" in r.text
    assert db.exec(select(User).where(User.login == "admin-two")).first() is None


# --- editing ----------------------------------------------------------------------------------


def test_moving_a_cooperative_to_another_center(client: TestClient, db: Session, world: World) -> None:
    assert "가 마을조합" in coop_list_as(client.app, "center-a")
    assert "가 마을조합" not in coop_list_as(client.app, "center-b")
    token = login(client, "admin")
    edit = client.get(f"/admin/cooperatives/{world.coop_a.id}/edit")
    assert edit.status_code == 200
    assert 'value="가 마을조합"' in edit.text
    r = post(
        client,
        f"/admin/cooperatives/{world.coop_a.id}",
        token,
        {
            "name": "가 마을조합",
            "site": "가 사업지",
            "municipality_id": str(world.muni_a.id),
            "support_center_id": str(world.center_b.id),
        },
    )
    assert r.status_code == 303, r.text
    assert "가 마을조합" not in coop_list_as(client.app, "center-a")
    assert "가 마을조합" in coop_list_as(client.app, "center-b")
    assert "가 마을조합" in coop_list_as(client.app, "gov-a")  # the region did not change


def test_editing_a_center_replaces_its_regions(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    r = post(
        client,
        f"/admin/centers/{world.center_a.id}",
        token,
        {"name": "서울특별시 도시재생지원센터", "municipality_ids": [str(world.muni_b.id)]},
    )
    assert r.status_code == 303
    served = db.exec(
        select(CenterMunicipality.municipality_id).where(CenterMunicipality.center_id == world.center_a.id)
    ).all()
    assert served == [world.muni_b.id]


def test_unknown_kind_and_object_are_404(client: TestClient, world: World) -> None:
    token = login(client, "admin")
    assert client.get("/admin/widgets/new").status_code == 404
    assert client.get("/admin/cooperatives/999999/edit").status_code == 404
    assert post(client, "/admin/users/999999/active", token, {"active": "0"}).status_code == 404


# --- deactivating -----------------------------------------------------------------------------


def test_deactivated_user_cannot_log_in(client: TestClient, db: Session, world: World) -> None:
    user = world.users["coop_b"]
    assert can_log_in(client.app, "coop-b")
    token = login(client, "admin")
    r = post(client, f"/admin/users/{user.id}/active", token, {"active": "0"})
    assert r.status_code == 303
    assert r.headers["location"] == "/admin?saved=users#users"
    assert db.exec(select(User.is_active).where(User.id == user.id)).one() is False
    assert not can_log_in(client.app, "coop-b")
    assert "비활성" in client.get("/admin").text

    r = post(client, f"/admin/users/{user.id}/active", token, {"active": "1"})
    assert r.status_code == 303
    assert can_log_in(client.app, "coop-b")


def test_admin_cannot_deactivate_themself(client: TestClient, db: Session, world: World) -> None:
    admin = world.users["admin"]
    token = login(client, "admin")
    r = post(client, f"/admin/users/{admin.id}/active", token, {"active": "0"})
    assert r.status_code == 400
    assert "자기 자신" in r.text
    assert db.exec(select(User.is_active).where(User.id == admin.id)).one() is True
    assert client.get("/admin").status_code == 200


def test_admin_list_shows_everyone(client: TestClient, db: Session, world: World) -> None:
    login(client, "admin")
    page = client.get("/admin").text
    logins = db.exec(select(User.login).order_by(col(User.login))).all()
    for name in logins:
        assert f'<th scope="row">{name}</th>' in page
    assert f"사용자 {len(logins)}" in page


@pytest.mark.parametrize("key", ["coop_a", "center", "municipality"])
def test_editing_a_user_keeps_their_organization(
    client: TestClient, db: Session, world: World, key: str
) -> None:
    user = world.users[key]
    before = (user.cooperative_id, user.center_id, user.municipality_id)
    old_hash = user.password_hash
    token = login(client, "admin")
    org_select = select_html(client.get(f"/admin/users/{user.id}/edit").text, "org_id")
    selected = re.findall(r'<option value="([^"]*)"[^>]*selected', org_select)
    assert len(selected) == 1
    r = post(client, f"/admin/users/{user.id}", token, {"display_name": "새 이름", "org_id": selected[0]})
    assert r.status_code == 303, r.text
    db.expire_all()
    stored = db.get(User, user.id)
    assert stored.display_name == "새 이름"
    assert (stored.cooperative_id, stored.center_id, stored.municipality_id) == before
    assert stored.password_hash == old_hash  # no password given: unchanged
