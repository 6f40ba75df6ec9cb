"""Two app hosts, one PostgreSQL: log in on one, act on the other.

Two `maeul serve` processes with nothing in common but the database (each its own upload
folder, as two hosts would have): a session, its CSRF token, a logout, the login throttle, an
optimistic version and an uploaded file made on one must hold on the other. Neither process
keeps state of its own that a request depends on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx2
import pytest
from sqlmodel import col, select

from app.catalog import Catalog
from app.db import make_engine, transaction
from app.migrate import upgrade
from app.models import Evidence
from app.services import tracking
from app.services.auth import create_token
from tests.factories import PASSWORD, make_world
from tests.fixtures.tracking_helpers import COOP_ITEM, HUB, PDF
from tests.servers import ServerProcess, server_env

# The test client stands where a reverse proxy would: its X-Forwarded-For names the client.
PROXY = "127.0.0.1"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass
class Hosts:
    a: str
    b: str
    track_id: int
    token: str  # coop-a's API token
    database_url: str


@pytest.fixture(scope="module")
def hosts(fresh_database_url, tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Iterator[Hosts]:
    url = fresh_database_url("postgresql")
    upgrade(url)
    engine = make_engine(url)
    with transaction(engine) as session:
        world = make_world(session)
        track = tracking.start_track(
            session=session,
            principal=world.principal(session, "coop_a"),
            cooperative=world.coop_a,
            catalog=catalog,
            model_key=HUB,
        )
        token = create_token(session=session, user=world.users["coop_a"]).token
        assert track.id is not None
        track_id = track.id
    engine.dispose()

    tmp = tmp_path_factory.mktemp("two-hosts")
    servers = [
        ServerProcess(
            server_env(url, tmp / f"uploads-{name}", MAEUL_STORAGE="database", MAEUL_TRUSTED_PROXIES=PROXY),
            log_path=tmp / f"{name}.log",
        )
        for name in ("a", "b")
    ]
    try:
        # Started together, as hosts behind one load balancer would be (both migrate at start).
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(ServerProcess.start, servers))
        yield Hosts(servers[0].url, servers[1].url, track_id, token, url)
    finally:
        for server in servers:
            server.stop()


def csrf_of(response: httpx2.Response) -> str:
    found = CSRF_META.search(response.text)
    assert found, response.text[:500]
    return found.group(1)


def log_in(client: httpx2.Client, host: str, login: str, *, client_ip: str | None = None) -> str:
    """Log in through the form on `host`; returns the CSRF token of the new session."""
    headers = {"X-Forwarded-For": client_ip} if client_ip else {}
    token = csrf_of(client.get(f"{host}/login"))
    answer = client.post(
        f"{host}/login",
        data={"username": login, "password": PASSWORD, "csrf_token": token},
        headers=headers,
    )
    assert answer.status_code == 303, answer.text[:500]
    # Login rotates the session, and with it the token.
    return csrf_of(client.get(f"{host}{answer.headers['location']}"))


def try_login(host: str, login: str, password: str, client_ip: str) -> httpx2.Response:
    with httpx2.Client(timeout=30) as client:
        token = csrf_of(client.get(f"{host}/login"))
        return client.post(
            f"{host}/login",
            data={"username": login, "password": password, "csrf_token": token},
            headers={"X-Forwarded-For": client_ip},
        )


def test_a_session_from_one_host_is_a_session_on_the_other(hosts: Hosts) -> None:
    with httpx2.Client(timeout=30) as client:
        page = f"/tracks/{hosts.track_id}"
        assert client.get(f"{hosts.b}{page}").status_code == 303  # anonymous: to the login page
        log_in(client, hosts.a, "coop-a")
        answer = client.get(f"{hosts.b}{page}")
        assert answer.status_code == 200
        assert "coop-a" in answer.text


def test_a_csrf_token_issued_by_one_host_is_accepted_by_the_other(hosts: Hosts) -> None:
    with httpx2.Client(timeout=30) as client:
        token = log_in(client, hosts.a, "coop-a")
        comments = f"/tracks/{hosts.track_id}/items/{COOP_ITEM}/comments"
        answer = client.post(f"{hosts.b}{comments}", data={"body": "B가 받은 댓글", "csrf_token": token})
        assert answer.status_code == 303, answer.text[:500]
        assert "B가 받은 댓글" in client.get(f"{hosts.a}/tracks/{hosts.track_id}").text

        for host in (hosts.a, hosts.b):
            wrong = client.post(f"{host}{comments}", data={"body": "가짜", "csrf_token": "x" * 43})
            assert wrong.status_code == 403
            missing = client.post(f"{host}{comments}", data={"body": "가짜"})
            assert missing.status_code == 403
        assert "가짜" not in client.get(f"{hosts.b}/tracks/{hosts.track_id}").text


def test_logging_out_on_one_host_ends_the_session_on_the_other(hosts: Hosts) -> None:
    page = f"/tracks/{hosts.track_id}"
    with httpx2.Client(timeout=30) as client, httpx2.Client(timeout=30) as copy:
        token = log_in(client, hosts.a, "center-a")
        copy.cookies.update(client.cookies)  # another tab, or a stolen cookie
        assert copy.get(f"{hosts.b}{page}").status_code == 200
        assert client.post(f"{hosts.a}/logout", data={"csrf_token": token}).status_code == 303
        # The copy still carries the user id: the database says that session has ended.
        answer = copy.get(f"{hosts.b}{page}")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login")


def test_the_login_throttle_counts_failures_made_on_the_other_host(hosts: Hosts) -> None:
    # One login from one client: 5 failures on A lock it on B, even with the right password.
    for _ in range(5):
        assert try_login(hosts.a, "gov-a", "wrong-password!", "198.51.100.7").status_code == 401
    locked = try_login(hosts.b, "gov-a", PASSWORD, "198.51.100.7")
    assert locked.status_code == 429
    assert "Retry-After" in locked.headers
    # Another client is not locked out of that account.
    assert try_login(hosts.b, "gov-a", PASSWORD, "198.51.100.8").status_code == 303

    # One client, all logins: 20 failures spread over both hosts lock every login from it.
    logins = ["coop-b", "center-b", "gov-b", "gone", "admin"]
    attempts = [(login, n) for login in logins for n in range(4)]
    for i, (login, _) in enumerate(attempts):
        host = hosts.a if i % 2 == 0 else hosts.b
        assert try_login(host, login, "wrong-password!", "198.51.100.9").status_code == 401
    locked = try_login(hosts.a, "coop-a", PASSWORD, "198.51.100.9")
    assert locked.status_code == 429
    assert "이 접속 위치에서" in locked.text


def test_a_write_on_one_host_makes_the_same_stale_write_on_the_other_a_409(hosts: Hosts) -> None:
    api = {"Authorization": f"Bearer {hosts.token}"}
    item_url = f"/api/v1/tracks/{hosts.track_id}/items/{COOP_ITEM}"
    with httpx2.Client(timeout=30, headers=api) as client:
        items = client.get(f"{hosts.b}/api/v1/tracks/{hosts.track_id}").json()["items"]
        version = next(i for i in items if i["key"] == COOP_ITEM)["version"]
        done = client.patch(f"{hosts.a}{item_url}", json={"status": "doing", "version": version})
        assert done.status_code == 200, done.text
        stale = client.patch(f"{hosts.b}{item_url}", json={"status": "done", "version": version})
        assert stale.status_code == 409
        assert stale.json()["current"]["status"] == "doing"
        assert stale.json()["current"]["version"] == version + 1

    # The page's own form, the same way round.
    with httpx2.Client(timeout=30) as client:
        token = log_in(client, hosts.b, "coop-a")
        form = f"/tracks/{hosts.track_id}/items/{COOP_ITEM}"
        fresh = {"status": "done", "version": str(version + 1), "csrf_token": token}
        assert client.post(f"{hosts.b}{form}", data=fresh).status_code == 303
        again = client.post(f"{hosts.a}{form}", data={**fresh, "status": "todo"})
        assert again.status_code == 409


def test_a_file_uploaded_on_one_host_downloads_byte_identical_on_the_other(hosts: Hosts) -> None:
    # Several chunks' worth, so the database storage streams it in pieces both ways.
    body = PDF + os.urandom(3 * 1024 * 1024 + 123)
    with httpx2.Client(timeout=60) as client:
        token = log_in(client, hosts.a, "coop-a")
        answer = client.post(
            f"{hosts.a}/tracks/{hosts.track_id}/items/{COOP_ITEM}/evidence",
            data={"csrf_token": token},
            files={"file": ("회의록.pdf", body, "application/pdf")},
        )
        assert answer.status_code == 303, answer.text[:500]
        engine = make_engine(hosts.database_url)
        try:
            with transaction(engine) as session:
                evidence_id = session.exec(
                    select(Evidence.id)
                    .where(Evidence.track_id == hosts.track_id)
                    .order_by(col(Evidence.id).desc())
                ).first()
        finally:
            engine.dispose()
        download = client.get(f"{hosts.b}/tracks/{hosts.track_id}/evidence/{evidence_id}")
        assert download.status_code == 200, download.text[:500]
        assert download.content == body
