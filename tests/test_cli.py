"""The `maeul` command: users, tokens and demo data against a fresh migrated SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from app.db import make_engine, transaction
from app.migrate import upgrade
from app.models import CenterMunicipality, Cooperative, Municipality, SupportCenter, User
from app.services.auth import principal_for_token
from tests.conftest import CONTENT_DIR
from tests.factories import make_world

NEW_PASSWORD = "a-long-enough-password"

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A fresh migrated SQLite file that `maeul` uses through MAEUL_DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("MAEUL_DATABASE_URL", url)
    monkeypatch.setenv("MAEUL_CONTENT_DIR", str(CONTENT_DIR))
    monkeypatch.delenv("MAEUL_ENV", raising=False)
    monkeypatch.delenv("MAEUL_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    engine = make_engine(url)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


@pytest.fixture
def seeded(cli_db: Engine) -> Engine:
    """The test world (two regions, centers, cooperatives and their users) in the CLI's file."""
    with transaction(cli_db) as session:
        make_world(session)
    return cli_db


def invoke(*args: str, input: str | None = None):
    return runner.invoke(cli, list(args), input=input)


def user_named(engine: Engine, login: str) -> User | None:
    with Session(engine) as session:
        return session.exec(select(User).where(User.login == login)).first()


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


# --- user add ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "org", "field", "org_name_of"),
    [
        ("coop", "가 마을조합", "cooperative_id", (Cooperative, "가 마을조합")),
        (
            "center",
            "서울특별시 도시재생지원센터",
            "center_id",
            (SupportCenter, "서울특별시 도시재생지원센터"),
        ),
        ("municipality", "인천광역시 남동구", "municipality_id", (Municipality, "인천광역시 남동구")),
    ],
)
def test_user_add_with_an_organization(
    seeded: Engine, role: str, org: str, field: str, org_name_of: tuple[type, str]
) -> None:
    result = invoke(
        "user", "add", "new-person", "--role", role, "--org", org, "--name", "새 담당자", "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "created user new-person" in result.output
    user = user_named(seeded, "new-person")
    assert user is not None
    model, name = org_name_of
    with Session(seeded) as session:
        org_id = session.exec(select(model.id).where(model.name == name)).one()  # type: ignore[attr-defined]
    assert getattr(user, field) == org_id
    assert user.role == role and user.display_name == "새 담당자" and user.is_active
    assert user.password_hash.startswith("$argon2")
    assert NEW_PASSWORD not in user.password_hash


def test_user_add_admin(seeded: Engine) -> None:
    result = invoke("user", "add", "root2", "--role", "admin", "--password-stdin", input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    user = user_named(seeded, "root2")
    assert user is not None and user.role == "admin"
    assert (user.cooperative_id, user.center_id, user.municipality_id) == (None, None, None)
    assert user.display_name == "root2"  # defaults to the login


def test_user_add_password_works_for_login(seeded: Engine) -> None:
    from app.services.auth import authenticate

    invoke("user", "add", "new-person", "--role", "coop", "--org", "나 마을조합", "--password-stdin",
           input=NEW_PASSWORD + "\r\n")  # fmt: skip
    with transaction(seeded) as session:
        assert authenticate(session=session, login="new-person", password=NEW_PASSWORD).login == "new-person"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "coop", "--org", "없는 조합"], NEW_PASSWORD, "no 조합 named '없는 조합'"),
        (
            ["--role", "center", "--org", "가 마을조합"],  # a cooperative's name for a center user
            NEW_PASSWORD,
            "no 지원센터 named '가 마을조합'",
        ),
        (
            ["--role", "municipality", "--org", "서울특별시 도시재생지원센터"],
            NEW_PASSWORD,
            "no 지자체 named",
        ),
        (["--role", "coop"], NEW_PASSWORD, "needs --org"),
        (["--role", "coop", "--org", "가 마을조합"], "123456789", "10자 이상"),
        (["--role", "admin", "--org", "가 마을조합"], NEW_PASSWORD, "leave out --org"),
        (["--role", "ministry"], NEW_PASSWORD, "role 'ministry' is not one of"),
    ],
    ids=[
        "unknown-org",
        "coop-as-center",
        "center-as-municipality",
        "missing-org",
        "short-password",
        "admin-with-org",
        "unknown-role",
    ],
)
def test_user_add_errors(seeded: Engine, args: list[str], stdin: str, message: str) -> None:
    before = count(seeded, User)
    result = invoke("user", "add", "new-person", *args, "--password-stdin", input=stdin + "\n")
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert count(seeded, User) == before


def test_user_add_without_password_stdin_fails(seeded: Engine) -> None:
    result = invoke("user", "add", "new-person", "--role", "admin", input=NEW_PASSWORD + "\n")
    assert result.exit_code == 1
    assert "--password-stdin" in result.output
    assert user_named(seeded, "new-person") is None


def test_user_add_duplicate_login_fails(seeded: Engine) -> None:
    result = invoke("user", "add", "coop-a", "--role", "admin", "--password-stdin", input=NEW_PASSWORD + "\n")
    assert result.exit_code == 1
    assert "'coop-a' 아이디가 이미 있습니다." in result.output


# --- user deactivate --------------------------------------------------------------------------


def test_user_deactivate(seeded: Engine) -> None:
    result = invoke("user", "deactivate", "coop-b")
    assert result.exit_code == 0, result.output
    user = user_named(seeded, "coop-b")
    assert user is not None and user.is_active is False
    other = user_named(seeded, "coop-a")
    assert other is not None and other.is_active is True


def test_user_deactivate_unknown_login(seeded: Engine) -> None:
    result = invoke("user", "deactivate", "nobody-here")
    assert result.exit_code == 1
    assert "no user with login 'nobody-here'" in result.output


# --- tokens -----------------------------------------------------------------------------------


def test_token_create_then_revoke(seeded: Engine) -> None:
    result = invoke("token", "create", "center-a")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("mgl_") and len(token.splitlines()) == 1
    with Session(seeded) as session:
        principal = principal_for_token(session=session, token=token)
    assert principal is not None and principal.login == "center-a"

    result = invoke("token", "revoke", "center-a")
    assert result.exit_code == 0, result.output
    assert "revoked 1 token(s)" in result.output
    with Session(seeded) as session:
        assert principal_for_token(session=session, token=token) is None


def test_token_revoke_leaves_other_users_tokens(seeded: Engine) -> None:
    mine = invoke("token", "create", "center-a").stdout.strip()
    theirs = invoke("token", "create", "center-b").stdout.strip()
    invoke("token", "revoke", "center-a")
    with Session(seeded) as session:
        assert principal_for_token(session=session, token=mine) is None
        assert principal_for_token(session=session, token=theirs) is not None


def test_token_of_a_deactivated_user_stops_working(seeded: Engine) -> None:
    token = invoke("token", "create", "gov-a").stdout.strip()
    invoke("user", "deactivate", "gov-a")
    with Session(seeded) as session:
        assert principal_for_token(session=session, token=token) is None


def test_token_create_unknown_login(seeded: Engine) -> None:
    result = invoke("token", "create", "nobody-here")
    assert result.exit_code == 1
    assert "no user with login" in result.output


# --- demo load --------------------------------------------------------------------------------

DEMO_COOPS = {
    "서울 도시재생 사회적협동조합": "서울특별시",
    "인천 만부마을 마을관리 사회적협동조합": "인천광역시 남동구",
    "청주와우 마을관리 사회적협동조합": "충청북도 청주시",
    "협동조합 상4랑": "서울특별시 동작구",
    "대구 안심에너지협동조합": "대구광역시 동구",
    "번암빛돌 마을관리 사회적협동조합": "세종특별자치시",
}
SEOUL_CENTER = "서울특별시 도시재생지원센터"


def demo_snapshot(engine: Engine) -> dict[str, object]:
    with Session(engine) as session:
        coops = session.exec(
            select(Cooperative.name, Municipality.name, SupportCenter.name)
            .join(Municipality, Municipality.id == Cooperative.municipality_id)  # type: ignore[arg-type]
            .join(SupportCenter, SupportCenter.id == Cooperative.support_center_id)  # type: ignore[arg-type]
        ).all()
        served = session.exec(
            select(SupportCenter.name, Municipality.name)
            .join(CenterMunicipality, CenterMunicipality.center_id == SupportCenter.id)  # type: ignore[arg-type]
            .join(Municipality, Municipality.id == CenterMunicipality.municipality_id)  # type: ignore[arg-type]
        ).all()
        users = session.exec(select(User.login, User.role)).all()
    return {
        "coops": sorted(coops),
        "served": sorted(served),
        "users": sorted(users),
        "counts": {m.__name__: count(engine, m) for m in (Cooperative, Municipality, SupportCenter, User)},
    }


def test_demo_load_is_idempotent(cli_db: Engine) -> None:
    first = invoke("demo", "load")
    assert first.exit_code == 0, first.output
    snapshot = demo_snapshot(cli_db)
    second = invoke("demo", "load")
    assert second.exit_code == 0, second.output
    assert demo_snapshot(cli_db) == snapshot
    assert snapshot["counts"]["Cooperative"] == 6  # type: ignore[index]


def test_demo_load_creates_the_guidebook_cases(cli_db: Engine) -> None:
    assert invoke("demo", "load").exit_code == 0
    snap = demo_snapshot(cli_db)
    coops = {name: (muni, center) for name, muni, center in snap["coops"]}  # type: ignore[attr-defined]
    assert {name: muni for name, (muni, _) in coops.items()} == DEMO_COOPS

    # the Seoul center supports both Seoul cooperatives and serves 서울시 and 동작구
    assert coops["서울 도시재생 사회적협동조합"][1] == SEOUL_CENTER
    assert coops["협동조합 상4랑"][1] == SEOUL_CENTER
    served: dict[str, set[str]] = {}
    for center, muni in snap["served"]:  # type: ignore[attr-defined]
        served.setdefault(center, set()).add(muni)
    assert served[SEOUL_CENTER] == {"서울특별시", "서울특별시 동작구"}

    # every other region has its own center, which supports that region's cooperative
    others = {muni for muni in DEMO_COOPS.values() if not muni.startswith("서울")}
    for name, muni in DEMO_COOPS.items():
        center = coops[name][1]
        assert muni in served[center], (name, center)
        if muni in others:
            assert center != SEOUL_CENTER
            assert served[center] == {muni}, center
    assert len({coops[n][1] for n, m in DEMO_COOPS.items() if m in others}) == len(others)
    assert len(served) == 1 + len(others)

    # a user for every cooperative, center and region, and one admin
    roles: dict[str, int] = {}
    for _, role in snap["users"]:  # type: ignore[attr-defined]
        roles[role] = roles.get(role, 0) + 1
    assert roles == {"coop": 6, "center": len(served), "municipality": 6, "admin": 1}


def test_demo_users_can_log_in_and_see_their_cooperatives(cli_db: Engine) -> None:
    from app.services.auth import authenticate
    from app.services.demo import DEMO_PASSWORD
    from app.services.orgs import cooperative_rows
    from app.services.principal import load_principal

    assert invoke("demo", "load").exit_code == 0
    with transaction(cli_db) as session:
        user = authenticate(session=session, login="center-seoul", password=DEMO_PASSWORD)
        assert user.id is not None
        principal = load_principal(session=session, user_id=user.id)
        assert principal is not None
        names = {r.cooperative.name for r in cooperative_rows(session=session, principal=principal)}
    assert names == {"서울 도시재생 사회적협동조합", "협동조합 상4랑"}


def test_demo_load_keeps_existing_data(seeded: Engine) -> None:
    before = count(seeded, Cooperative)
    assert invoke("demo", "load").exit_code == 0
    assert count(seeded, Cooperative) == before + 6
    assert user_named(seeded, "coop-a") is not None


def test_demo_load_is_refused_in_production(cli_db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAEUL_ENV", "production")
    monkeypatch.setenv("MAEUL_SECRET_KEY", "production-secret-" + "p" * 40)
    get_settings.cache_clear()
    result = invoke("demo", "load")
    assert result.exit_code == 1
    assert "production" in result.output
    assert "Traceback" not in result.output
    assert count(cli_db, Cooperative) == 0
    assert count(cli_db, User) == 0


def test_a_weak_production_secret_is_one_clear_line(cli_db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAEUL_ENV", "production")
    monkeypatch.setenv("MAEUL_SECRET_KEY", "too-short")
    get_settings.cache_clear()
    result = invoke("db", "upgrade")
    assert result.exit_code == 1
    assert "MAEUL_SECRET_KEY must be set" in result.output
    assert "Traceback" not in result.output


# --- e-mail addresses and the digest (issue 9) -------------------------------------------------


def test_user_add_with_an_email(seeded: Engine) -> None:
    result = invoke(
        "user", "add", "mailer", "--role", "center", "--org", "서울특별시 도시재생지원센터",
        "--email", "mailer@example.kr", "--password-stdin", input=NEW_PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    user = user_named(seeded, "mailer")
    assert user is not None and user.email == "mailer@example.kr"


def test_user_add_refuses_an_invalid_email(seeded: Engine) -> None:
    before = count(seeded, User)
    result = invoke(
        "user", "add", "mailer", "--role", "admin", "--email", "mailer@localhost", "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "email: 전자우편 주소 형식이 올바르지 않습니다" in result.output
    assert "Traceback" not in result.output and count(seeded, User) == before


def test_notify_digest_without_smtp_says_so(cli_db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAEUL_SMTP_URL", raising=False)
    result = invoke("notify", "digest")
    assert result.exit_code == 1
    assert "MAEUL_SMTP_URL is not set" in result.output and "Traceback" not in result.output


def test_notify_day_must_be_a_date(cli_db: Engine) -> None:
    result = invoke("notify", "scan", "--day", "24.11.2026")
    assert result.exit_code == 1 and "YYYY-MM-DD" in result.output


def test_notify_scan_is_idempotent(seeded: Engine) -> None:
    from app.catalog import load_catalog
    from app.models import Track
    from app.services import tracking
    from app.services.principal import load_principal
    from tests.conftest import CONTENT_DIR as content
    from tests.fixtures.tracking_helpers import COOP_ITEM, HUB

    catalog = load_catalog(content)
    with transaction(seeded) as session:
        coop = session.exec(select(User).where(User.login == "coop-a")).one()
        principal = load_principal(session=session, user_id=coop.id or 0)
        assert principal is not None
        cooperative = session.exec(select(Cooperative).where(Cooperative.name == "가 마을조합")).one()
        track = tracking.start_track(
            session=session, principal=principal, cooperative=cooperative, catalog=catalog, model_key=HUB
        )
        model = catalog.model(HUB)
        assert model is not None
        tracking.update_item(
            session=session, principal=principal, track=track, model=model, item_key=COOP_ITEM, version=0,
            changes={"due_date": date(2026, 11, 20)},
        )  # fmt: skip
        assert session.exec(select(Track)).first() is not None
    first = invoke("notify", "scan", "--day", "2026-11-24")
    assert first.exit_code == 0, first.output
    assert first.output.startswith("scan 2026-11-24: 1 new notifications (1 due)")
    again = invoke("notify", "scan", "--day", "2026-11-24")
    assert "0 new notifications (1 due)" in again.output


def test_notify_digest_with_the_demo_data_against_a_real_smtp_server(
    cli_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's "done when": one Korean e-mail per user with an address, none the second time."""
    from app.catalog import load_catalog
    from app.models import Notification
    from app.services import tracking
    from app.services.principal import load_principal
    from tests.conftest import CONTENT_DIR as content
    from tests.fixtures.smtp import plain_text, running_smtp

    assert invoke("demo", "load").exit_code == 0
    catalog = load_catalog(content)
    addresses = {
        "coop-manbu": "manbu@example.kr",
        "center-namdong": "namdong@example.kr",
        "gov-seoul": "seoul@example.kr",
    }
    with transaction(cli_db) as session:
        for login, address in addresses.items():
            user = session.exec(select(User).where(User.login == login)).one()
            user.email = address
            session.add(user)
        center = session.exec(select(User).where(User.login == "center-namdong")).one()
        principal = load_principal(session=session, user_id=center.id or 0)
        assert principal is not None
        manbu = session.exec(select(Cooperative).where(Cooperative.name.contains("만부"))).one()  # type: ignore[attr-defined]
        from app.models import Track

        track = session.exec(select(Track).where(Track.cooperative_id == manbu.id)).first()
        assert track is not None
        model = catalog.model(track.model_key)
        assert model is not None
        key = next(i.key for _, i in model.items if i.lead == "coop")
        tracking.add_comment(
            session=session, principal=principal, track=track, model=model, item_key=key,
            body="@coop-manbu 이번 주 안에 확인 부탁드립니다",
        )  # fmt: skip

    with running_smtp() as server:
        monkeypatch.setenv("MAEUL_SMTP_URL", server.url)
        monkeypatch.setenv("MAEUL_BASE_URL", "https://maeul.example.kr")
        get_settings.cache_clear()
        first = invoke("notify", "digest")
        assert first.exit_code == 0, first.output
        received = {rcpt[0]: m for rcpt, m in server.box.messages}
        # Everyone with an address and something to say: one message each.
        assert len(server.box.messages) == len(received)
        assert "manbu@example.kr" in received and set(received) <= set(addresses.values())
        message = received["manbu@example.kr"]
        assert message["Subject"].startswith("[마을길잡이] 알림 ")
        body = plain_text(message)
        assert (
            "인천광역시 남동구 도시재생지원센터 코디네이터님이 ‘" in body and "회원님을 언급했습니다" in body
        )
        assert "https://maeul.example.kr/notifications/settings" in body
        assert f"sent {len(received)}, skipped" in first.output and "요약 메일 보냄" in first.output

        second = invoke("notify", "digest")
        assert second.exit_code == 0, second.output
        assert "sent 0," in second.output
        assert len(server.box.messages) == len(received)
    with Session(cli_db) as session:
        manbu_user = session.exec(select(User).where(User.login == "coop-manbu")).one()
        pending = session.exec(
            select(Notification).where(Notification.user_id == manbu_user.id, Notification.emailed_at == None)  # noqa: E711
        ).all()
        assert pending == []


def test_commands_that_change_users_and_tokens_are_in_the_audit_log(seeded: Engine) -> None:
    from app.models.audit import AuditEntry

    assert invoke("token", "create", "center-a").exit_code == 0
    assert invoke("token", "revoke", "center-a").exit_code == 0
    assert invoke("user", "deactivate", "center-a").exit_code == 0
    r = invoke("user", "add", "cli-admin", "--role", "admin", "--password-stdin", input="a-long-password-1\n")
    assert r.exit_code == 0, r.output
    with Session(seeded) as session:
        logged = session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()  # type: ignore[arg-type]
    assert [(e.action, e.target, e.actor, e.actor_id) for e in logged] == [
        ("token_create", "center-a", "maeul 명령", None),
        ("token_revoke", "center-a", "maeul 명령", None),
        ("deactivate", "center-a", "maeul 명령", None),
        ("create", "cli-admin", "maeul 명령", None),
    ]
    assert "a-long-password-1" not in str([e.changes for e in logged])


def test_backup_and_restore_commands(seeded: Engine, tmp_path: Path) -> None:
    archive = tmp_path / "maeul.zip"
    r = invoke("backup", str(archive))
    assert r.exit_code == 0, r.output
    assert archive.is_file() and "backup written" in r.output
    again = invoke("backup", str(archive))
    assert again.exit_code == 1 and "already exists" in again.output
    into_full = invoke("restore", str(archive))  # the same, non-empty database
    assert into_full.exit_code == 1 and "not empty" in into_full.output
