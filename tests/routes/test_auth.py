"""Logging in and out of the pages: redirects, errors, throttle, cookies, CSRF, headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from app.catalog import Catalog
from app.config import Settings
from app.db import get_session, request_unit
from app.main import SESSION_COOKIE, create_app
from app.models import LoginFailure, Municipality, User
from app.routes.auth import safe_next
from app.services import auth
from app.services.auth import CLIENT_MAX_FAILURES, LOCKOUT, MAX_FAILURES, create_token
from app.templating import KST
from tests.conftest import CONTENT_DIR, app_on_transaction
from tests.factories import PASSWORD, PASSWORD_HASH, World, csrf_of, login

WRONG_CREDENTIALS = "아이디 또는 비밀번호가 맞지 않습니다."


def post_login(
    client: TestClient,
    username: str,
    password: str = PASSWORD,
    next_: str | None = "/cooperatives",
    headers: dict[str, str] | None = None,
):
    data = {"username": username, "password": password, "csrf_token": csrf_of(client)}
    if next_ is not None:
        data["next"] = next_
    return client.post("/login", data=data, headers=headers, follow_redirects=False)


def session_cookie_header(response) -> str:
    cookies = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")]
    assert len(cookies) == 1, response.headers.get_list("set-cookie")
    return cookies[0]


def who(html: str) -> str:
    """The header's 'who is logged in' box."""
    match = re.search(r'<div class="who">(.*?)</div>', html, re.S)
    assert match, "no who box in the header"
    return match.group(1)


# --- the form ---------------------------------------------------------------------------------


def test_login_form_carries_the_csrf_token(client: TestClient) -> None:
    r = client.get("/login")
    assert r.status_code == 200
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', r.text)
    hidden = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)">', r.text)
    assert meta and hidden
    assert meta.group(1) == hidden.group(1)
    assert len(meta.group(1)) >= 32


def test_login_form_keeps_a_local_next(client: TestClient) -> None:
    r = client.get("/login", params={"next": "/cooperatives/7"})
    assert '<input type="hidden" name="next" value="/cooperatives/7">' in r.text
    r = client.get("/login", params={"next": "//evil.com"})
    assert '<input type="hidden" name="next" value="">' in r.text


HOME = "(home)"  # the person's landing page: their cooperative, or the 현황판


# --- logging in -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("next_", "expected"),
    [
        ("/cooperatives", "/cooperatives"),
        ("/models/solar?x=1", "/models/solar?x=1"),
        ("/", "/"),
        ("//evil.com", HOME),
        ("http://evil.com", HOME),
        ("https://evil.com/cooperatives", HOME),
        ("/\\evil.com", HOME),
        ("evil.com", HOME),
        ("", HOME),
        (None, HOME),
    ],
)
def test_login_redirects_only_to_local_paths(
    client: TestClient, world: World, next_: str | None, expected: str
) -> None:
    r = post_login(client, "coop-a", next_=next_)
    assert r.status_code == 303
    # Without a safe local target a cooperative lands on its own page.
    home = f"/cooperatives/{world.coop_a.id}"
    assert r.headers["location"] == (home if expected == HOME else expected)


@pytest.mark.parametrize(
    ("who", "landing"), [("center", "/dashboard"), ("municipality", "/dashboard"), ("admin", "/dashboard")]
)
def test_public_bodies_land_on_the_dashboard(
    client: TestClient, world: World, who: str, landing: str
) -> None:
    r = post_login(client, world.users[who].login, next_=None)
    assert r.status_code == 303
    assert r.headers["location"] == landing


@pytest.mark.parametrize("value", ["/\t/evil.com", "/\n/evil.com", "/\r\n/evil.com", "/\x00x"])
def test_next_with_control_characters_is_not_local(value: str) -> None:
    # Browsers drop tabs and newlines while parsing a URL: "/\t/evil.com" becomes "//evil.com".
    assert safe_next(value) == ""


def test_htmx_login_never_hands_htmx_another_host(client: TestClient, world: World) -> None:
    r = post_login(client, "coop-a", next_="/\t/evil.com", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert r.headers["HX-Redirect"] == f"/cooperatives/{world.coop_a.id}"


def test_login_page_shows_the_user_afterwards(client: TestClient, world: World) -> None:
    login(client, "coop-a")
    box = who(client.get("/cooperatives").text)
    assert "coop-a" in box  # display name
    assert "조합 사무국" in box  # role label
    assert "가 마을조합" in box  # organization
    assert "로그아웃" in box


@pytest.mark.parametrize(
    ("key", "label", "org"),
    [
        ("center", "도시재생지원센터", "서울특별시 도시재생지원센터"),
        ("municipality", "지자체", "서울특별시 용산구"),
        ("admin", "운영 관리자", None),
    ],
)
def test_header_names_role_and_organization(
    client: TestClient, world: World, key: str, label: str, org: str | None
) -> None:
    user = world.users[key]
    login(client, user.login)
    box = who(client.get("/").text)
    assert f"<strong>{user.display_name}</strong>" in box
    assert label in box
    if org:
        assert org in box
    else:
        assert "·" not in box


def test_anonymous_header_offers_login(client: TestClient, world: World) -> None:
    box = who(client.get("/").text)
    assert "로그인" in box and "로그아웃" not in box


def test_wrong_password_is_401_with_a_korean_message(client: TestClient, world: World) -> None:
    r = post_login(client, "coop-a", password="wrong-password")
    assert r.status_code == 401
    assert WRONG_CREDENTIALS in r.text
    assert 'value="coop-a"' in r.text  # the login name is kept
    assert "wrong-password" not in r.text
    assert client.get("/cooperatives", follow_redirects=False).status_code == 303


def test_unknown_login_gets_the_same_message(client: TestClient, world: World) -> None:
    r = post_login(client, "nobody-here")
    assert r.status_code == 401
    assert WRONG_CREDENTIALS in r.text


def test_inactive_user_cannot_log_in(client: TestClient, world: World) -> None:
    r = post_login(client, "gone")
    assert r.status_code == 401
    assert WRONG_CREDENTIALS in r.text
    assert client.get("/cooperatives", follow_redirects=False).status_code == 303


def test_login_records_the_time(client: TestClient, db: Session, world: World) -> None:
    login(client, "coop-a")
    stamp = db.exec(select(User.last_login_at).where(User.login == "coop-a")).one()
    assert stamp is not None


# --- throttle over HTTP -----------------------------------------------------------------------


ATTACKER = ("203.0.113.66", 50000)
OWNER = ("198.51.100.20", 50000)
PROXY = ("10.0.0.1", 50000)


def failures(db: Session, **where: str) -> int:
    stmt = select(func.count()).select_from(LoginFailure)
    for column, value in where.items():
        stmt = stmt.where(getattr(LoginFailure, column) == value)
    return db.exec(stmt).one()


def assert_retry_after(r) -> None:
    assert 0 < int(r.headers["Retry-After"]) <= LOCKOUT.total_seconds()


def test_sixth_attempt_is_429_even_with_the_right_password(client: TestClient, world: World) -> None:
    for _ in range(MAX_FAILURES):
        assert post_login(client, "coop-a", password="wrong-password").status_code == 401
    r = post_login(client, "coop-a")
    assert r.status_code == 429
    assert "로그인에 여러 번 실패하여 이 접속 위치에서 이 계정의 로그인이 잠시 잠겼습니다." in r.text
    assert "이후에 다시 시도하세요" in r.text
    assert_retry_after(r)
    assert client.get("/cooperatives", follow_redirects=False).status_code == 303
    # another account is not affected
    assert post_login(client, "coop-b").status_code == 303


def test_the_owner_logs_in_elsewhere_while_the_attackers_client_is_locked(app: FastAPI, world: World) -> None:
    with TestClient(app, client=ATTACKER) as attacker, TestClient(app, client=OWNER) as owner:
        for _ in range(MAX_FAILURES):
            assert post_login(attacker, "admin", password="wrong-password").status_code == 401
        assert post_login(attacker, "admin").status_code == 429
        r = post_login(owner, "admin", next_=None)
        assert r.status_code == 303
        assert r.headers["location"] == "/dashboard"
        # the owner's login does not lift the attacker's lock
        assert post_login(attacker, "admin").status_code == 429


@pytest.fixture
def cheap_unknown_logins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Made-up logins verify against the cheap test hash: many of them stay fast."""
    monkeypatch.setattr(auth, "_DUMMY_HASH", PASSWORD_HASH)


def test_one_client_guessing_across_many_logins_is_stopped(
    app: FastAPI, world: World, cheap_unknown_logins: None
) -> None:
    with TestClient(app, client=ATTACKER) as attacker, TestClient(app, client=OWNER) as other:
        for i in range(CLIENT_MAX_FAILURES):  # one guess per login: each far below its own limit
            assert post_login(attacker, f"guess-{i:02d}", password="wrong-password").status_code == 401
        # now every login is refused from there, even a right password for an untried account
        r = post_login(attacker, "coop-b")
        assert r.status_code == 429
        assert "이 접속 위치에서 로그인에 여러 번 실패하여 잠시 로그인할 수 없습니다." in r.text
        assert_retry_after(r)
        assert attacker.get("/cooperatives", follow_redirects=False).status_code == 303
        # another client is not affected
        assert post_login(other, "coop-b").status_code == 303


@pytest.fixture
def behind_proxy(settings: Settings, catalog: Catalog, engine: Engine, db: Session) -> FastAPI:
    trusting = Settings(
        database_url=settings.database_url,
        content_dir=settings.content_dir,
        upload_dir=settings.upload_dir,
        secret_key=settings.secret_key,
        trusted_proxies=f"{PROXY[0]}, 10.1.0.0/16",
    )
    return app_on_transaction(trusting, catalog, engine, db)


def test_forwarded_for_is_ignored_from_an_untrusted_peer(
    behind_proxy: FastAPI, db: Session, world: World
) -> None:
    with TestClient(behind_proxy, client=ATTACKER) as attacker:
        # a new made-up address on every guess does not escape the lock
        for i in range(MAX_FAILURES):
            r = post_login(
                attacker, "admin", password="wrong-password", headers={"X-Forwarded-For": f"192.0.2.{i}"}
            )
            assert r.status_code == 401
        r = post_login(attacker, "admin", headers={"X-Forwarded-For": "192.0.2.99"})
        assert r.status_code == 429
    assert failures(db, login="admin", client=ATTACKER[0]) == MAX_FAILURES


def test_forwarded_for_is_honoured_from_a_trusted_proxy(
    behind_proxy: FastAPI, db: Session, world: World
) -> None:
    with TestClient(behind_proxy, client=PROXY) as via_proxy:
        # what the client wrote itself (left of the proxy's entry) is not believed
        spoofed = {"X-Forwarded-For": f"192.0.2.1, {ATTACKER[0]}"}
        for _ in range(MAX_FAILURES):
            assert (
                post_login(via_proxy, "admin", password="wrong-password", headers=spoofed).status_code == 401
            )
        assert post_login(via_proxy, "admin", headers={"X-Forwarded-For": ATTACKER[0]}).status_code == 429
        # the owner, through the same proxy (and one more inside), is let in
        owner = {"X-Forwarded-For": f"{OWNER[0]}, 10.1.2.3"}
        assert post_login(via_proxy, "admin", headers=owner).status_code == 303
    assert failures(db, login="admin", client=ATTACKER[0]) == MAX_FAILURES
    assert failures(db, client=PROXY[0]) == 0


def test_failed_logins_are_remembered_across_requests(client: TestClient, db: Session, world: World) -> None:
    post_login(client, "coop-a", password="wrong-password")
    post_login(client, "coop-a", password="wrong-password")
    # TestClient's peer is "testclient": not an address, stored as it is
    assert failures(db, login="coop-a", client="testclient") == 2
    post_login(client, "coop-a")
    assert failures(db) == 0


def test_success_clears_that_clients_failures_for_that_account(
    app: FastAPI, db: Session, world: World
) -> None:
    with TestClient(app, client=ATTACKER) as attacker, TestClient(app, client=OWNER) as owner:
        for _ in range(MAX_FAILURES - 1):
            post_login(attacker, "coop-a", password="wrong-password")
        post_login(owner, "coop-a", password="wrong-password")
        post_login(owner, "coop-b", password="wrong-password")
        assert post_login(owner, "coop-a").status_code == 303
        assert failures(db, login="coop-a", client=OWNER[0]) == 0
        assert failures(db, login="coop-b", client=OWNER[0]) == 1
        assert failures(db, login="coop-a", client=ATTACKER[0]) == MAX_FAILURES - 1
        # the attacker's count was not reset: one more failure locks
        assert post_login(attacker, "coop-a", password="wrong-password").status_code == 401
        assert post_login(attacker, "coop-a").status_code == 429


def test_the_lock_says_when_to_retry_in_kst(client: TestClient, world: World) -> None:
    for _ in range(MAX_FAILURES):
        post_login(client, "coop-a", password="wrong-password")
    before = datetime.now(KST)
    r = post_login(client, "coop-a")
    assert r.status_code == 429
    # the lock ends LOCKOUT after the last failure: a moment ago
    assert LOCKOUT - timedelta(minutes=1) < timedelta(seconds=int(r.headers["Retry-After"])) <= LOCKOUT
    shown = {(before + LOCKOUT - timedelta(minutes=m)).strftime("%H:%M") for m in (0, 1)}
    assert any(f"{hhmm} 이후에 다시 시도하세요" in r.text for hhmm in shown)


# --- the session cookie -----------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax(client: TestClient, world: World) -> None:
    client.get("/login")
    r = post_login(client, "coop-a")
    attrs = [a.strip().lower() for a in session_cookie_header(r).split(";")]
    assert "httponly" in attrs
    assert "samesite=lax" in attrs
    assert "secure" not in attrs  # development over plain http


@pytest.fixture
def production_app(
    tmp_path: Path, database_url: str, catalog: Catalog, engine: Engine, db: Session
) -> FastAPI:
    settings = Settings(
        env="production",
        database_url=database_url,
        content_dir=CONTENT_DIR,
        upload_dir=tmp_path / "uploads",
        secret_key="production-secret-" + "p" * 40,
    )
    application = create_app(settings, catalog=catalog, engine=engine)

    async def test_session() -> AsyncIterator[Session]:
        async with request_unit(commit=db.commit, rollback=db.rollback):
            yield db

    application.dependency_overrides[get_session] = test_session
    return application


def test_session_cookie_is_secure_in_production(production_app: FastAPI, world: World) -> None:
    with TestClient(production_app, base_url="https://testserver") as c:
        r = c.get("/login")
        attrs = [a.strip().lower() for a in session_cookie_header(r).split(";")]
        assert {"secure", "httponly", "samesite=lax"} <= set(attrs)
        r = post_login(c, "coop-a")
        assert r.status_code == 303
        assert "secure" in session_cookie_header(r).lower()


def test_session_is_rotated_at_login(client: TestClient, world: World) -> None:
    before = csrf_of(client, "/login")
    cookie_before = client.cookies[SESSION_COOKIE]
    after = login(client, "coop-a")
    assert after != before
    assert client.cookies[SESSION_COOKIE] != cookie_before
    # the pre-login token is no longer accepted
    r = client.post("/logout", data={"csrf_token": before}, follow_redirects=False)
    assert r.status_code == 403


def test_logout_ends_the_session(client: TestClient, world: World) -> None:
    token = login(client, "coop-a")
    assert client.get("/cooperatives").status_code == 200
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/"
    r = client.get("/cooperatives", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fcooperatives"
    assert "로그아웃" not in who(client.get("/").text)


def test_a_copied_session_cookie_is_dead_after_logout(app: FastAPI, client: TestClient, world: World) -> None:
    token = login(client, "coop-a")
    copied = client.cookies[SESSION_COOKIE]
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    with TestClient(app) as thief:
        r = thief.get(
            "/cooperatives", headers={"Cookie": f"{SESSION_COOKIE}={copied}"}, follow_redirects=False
        )
    assert r.status_code == 303


def test_anonymous_member_page_redirects_to_login(client: TestClient) -> None:
    r = client.get("/cooperatives", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fcooperatives"


def test_anonymous_member_page_keeps_the_query(client: TestClient) -> None:
    r = client.get("/cooperatives?sort=name", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fcooperatives%3Fsort%3Dname"


def test_anonymous_htmx_request_gets_hx_redirect(client: TestClient) -> None:
    r = client.get("/cooperatives", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.status_code == 200
    assert r.headers["HX-Redirect"] == "/login?next=%2Fcooperatives"
    assert "location" not in r.headers


def test_user_deactivated_while_logged_in_loses_access(client: TestClient, db: Session, world: World) -> None:
    login(client, "coop-a")
    assert client.get("/cooperatives").status_code == 200
    user = world.users["coop_a"]
    user.is_active = False
    db.add(user)
    db.flush()
    r = client.get("/cooperatives", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")
    # and reactivating does not bring the old session back
    user.is_active = True
    db.add(user)
    db.flush()
    assert client.get("/cooperatives", follow_redirects=False).status_code == 303


# --- CSRF -------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["missing", "wrong"])
def test_logout_needs_the_csrf_token(client: TestClient, world: World, token: str | None) -> None:
    login(client, "coop-a")
    data = {"csrf_token": token} if token else {}
    r = client.post("/logout", data=data, follow_redirects=False)
    assert r.status_code == 403
    assert "보안 토큰" in r.text
    assert client.get("/cooperatives", follow_redirects=False).status_code == 200  # still logged in


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["missing", "wrong"])
def test_login_needs_the_csrf_token(client: TestClient, db: Session, world: World, token: str | None) -> None:
    client.get("/login")  # a session cookie exists
    data = {"username": "coop-a", "password": PASSWORD, "next": "/cooperatives"}
    if token:
        data["csrf_token"] = token
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/cooperatives", follow_redirects=False).status_code == 303
    assert db.exec(select(User.last_login_at).where(User.login == "coop-a")).one() is None


def test_login_without_any_session_is_refused(client: TestClient, world: World) -> None:
    r = client.post(
        "/login",
        data={"username": "coop-a", "password": PASSWORD, "csrf_token": "made-up"},
        follow_redirects=False,
    )
    assert r.status_code == 403


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["missing", "wrong"])
def test_admin_post_needs_the_csrf_token(
    client: TestClient, db: Session, world: World, token: str | None
) -> None:
    login(client, "admin")
    data = {"name": "부산광역시 중구", "sido": "부산광역시", "sigungu": "중구"}
    if token:
        data["csrf_token"] = token
    r = client.post("/admin/municipalities", data=data, follow_redirects=False)
    assert r.status_code == 403
    assert db.exec(select(Municipality).where(Municipality.name == "부산광역시 중구")).first() is None


def test_csrf_header_is_accepted_instead_of_the_field(client: TestClient, db: Session, world: World) -> None:
    token = login(client, "admin")
    r = client.post(
        "/admin/municipalities",
        data={"name": "부산광역시 중구", "sido": "부산광역시", "sigungu": "중구"},
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert db.exec(select(Municipality).where(Municipality.name == "부산광역시 중구")).first() is not None
    r = client.post("/logout", headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/cooperatives", follow_redirects=False).status_code == 303


def test_wrong_csrf_header_wins_over_a_right_field(client: TestClient, world: World) -> None:
    token = login(client, "admin")
    r = client.post(
        "/logout", data={"csrf_token": token}, headers={"X-CSRF-Token": "wrong"}, follow_redirects=False
    )
    assert r.status_code == 403


# --- security headers -------------------------------------------------------------------------


def _get(client: TestClient, db: Session, world: World, what: str):
    if what == "page":
        return client.get("/")
    if what == "login":
        return client.get("/login")
    if what == "redirect":
        return client.get("/cooperatives", follow_redirects=False)
    if what == "not-found":
        return client.get("/no-such-page")
    if what == "csrf-error":
        client.get("/login")
        return client.post("/logout", follow_redirects=False)
    if what == "api-401":
        return client.get("/api/v1/cooperatives")
    if what == "api-ok":
        token = create_token(session=db, user=world.users["admin"]).token
        return client.get("/api/v1/cooperatives", headers={"Authorization": f"Bearer {token}"})
    raise AssertionError(what)


@pytest.mark.parametrize(
    ("what", "status"),
    [
        ("page", 200),
        ("login", 200),
        ("redirect", 303),
        ("not-found", 404),
        ("csrf-error", 403),
        ("api-401", 401),
        ("api-ok", 200),
    ],
)
def test_security_headers_everywhere(
    client: TestClient, db: Session, world: World, what: str, status: int
) -> None:
    r = _get(client, db, world, what)
    assert r.status_code == status
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] in {"same-origin", "strict-origin-when-cross-origin", "no-referrer"}


def test_security_headers_on_an_unexpected_error(app: FastAPI) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/boom-for-test", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom-for-test")
    assert r.status_code == 500
    assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", "")
    assert r.headers.get("x-content-type-options") == "nosniff"
