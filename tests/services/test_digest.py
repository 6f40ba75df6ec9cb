"""The e-mail digest against a real SMTP server (aiosmtpd on 127.0.0.1): one message per person
with what their inbox and 내 할 일 hold, nothing twice on one day, and failures retried.

The digest commits once per person (its claim must be visible to other hosts), so these tests use
a fresh migrated database of each backend rather than the rolled-back test transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.config import Settings
from app.db import make_engine, transaction
from app.migrate import upgrade
from app.models import DigestLog, Notification, NotificationPreference, Track, User
from app.routes.notifications import mail_links
from app.services import inbox, mail, notifications, tasks, tracking
from app.services.principal import load_principal
from tests.conftest import CONTENT_DIR
from tests.factories import World, make_world
from tests.fixtures.smtp import Mailbox, SmtpServer, free_port, html_text, plain_text, running_smtp
from tests.fixtures.tracking_helpers import CENTER_ITEM, COOP_CONSIGNMENT, COOP_ITEM, HUB, MUNI_ITEM

TODAY = date(2026, 11, 24)
BASE = "https://maeul.example.kr"
ADDRESSES = {
    "coop_a": "coop-a@example.kr",
    "center": "center-a@example.kr",
    "municipality": "gov-a@example.kr",
}


# --- a real SMTP server --------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp() as server:
        yield server


# --- a committed database ------------------------------------------------------------------------


@pytest.fixture
def fresh_engine(backend: str, fresh_database_url) -> Iterator[Engine]:
    url = fresh_database_url(backend)
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@dataclass
class Scene:
    engine: Engine
    world: World
    track: Track


def _principal(session: Session, user: User):
    assert user.id is not None
    found = load_principal(session=session, user_id=user.id)
    assert found is not None
    return found


@pytest.fixture
def scene(fresh_engine: Engine, catalog: Catalog) -> Scene:
    """Coop A follows hub-facility with comments, a 확인 request, overdue and due-soon items;
    the coop, its center and its 지자체 have addresses; coop B's user has one and nothing to read."""
    model = catalog.model(HUB)
    assert model is not None
    with transaction(fresh_engine) as s:
        world = make_world(s)
        for key, address in ADDRESSES.items():
            world.users[key].email = address
            s.add(world.users[key])
        world.users["coop_b"].email = "coop-b@example.kr"
        s.add(world.users["coop_b"])
        s.flush()
        coop, center, gov = (_principal(s, world.users[k]) for k in ("coop_a", "center", "municipality"))
        track = tracking.start_track(
            session=s, principal=coop, cooperative=world.coop_a, catalog=catalog, model_key=HUB
        )

        def edit(who: Any, key: str, **changes: Any) -> None:
            state = tracking._current_state(s, track.id or 0, key)
            tracking.update_item(
                session=s,
                principal=who,
                track=track,
                model=model,
                item_key=key,
                version=state.version if state else 0,
                changes=changes,
            )

        edit(coop, COOP_ITEM, due_date=TODAY - timedelta(days=2))  # overdue for the coop
        edit(center, CENTER_ITEM, due_date=TODAY + timedelta(days=5))  # due soon for the center
        edit(gov, MUNI_ITEM, due_date=TODAY + timedelta(days=40))  # far: nobody's digest
        for who, body in ((center, "@coop-a 운영계획 초안 공유 부탁드립니다"), (coop, "내일 올리겠습니다.")):
            tracking.add_comment(
                session=s, principal=who, track=track, model=model, item_key=COOP_ITEM, body=body
            )
        edit(coop, COOP_CONSIGNMENT, status="done")  # awaits the 지자체's 확인
    return Scene(fresh_engine, world, track)


def settings_for(server: SmtpServer) -> Settings:
    return Settings(
        smtp_url=server.url,
        mail_from="마을길잡이 <noreply@maeul.example.kr>",
        base_url=BASE,
        content_dir=CONTENT_DIR,
        secret_key="digest-secret-" + "x" * 32,
    )


def run_digest(scene: Scene, catalog: Catalog, server: SmtpServer, day: date = TODAY) -> mail.DigestRun:
    settings = settings_for(server)
    with mail.Mailer(mail.parse_smtp_url(settings.smtp_url)) as mailer:
        return mail.send_digests(
            engine=scene.engine,
            catalog=catalog,
            settings=settings,
            day=day,
            links=mail_links(settings.base_url),
            mailer=mailer,
        )


plain, html = plain_text, html_text


def section(text: str, title: str) -> list[str]:
    """The "- " lines under a "■ title" heading of the plain-text part."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("■ "):
            inside = line.startswith(f"■ {title}")
        elif inside and line.startswith("- "):
            lines.append(line[2:])
    return lines


@dataclass(frozen=True)
class Expected:
    notifications: list[str]
    overdue: list[str]
    due_soon: list[str]


def expected_for(engine: Engine, catalog: Catalog, user: User, day: date) -> Expected:
    """An independent reading of what the person's inbox and 내 할 일 hold."""
    with Session(engine) as s:
        p = _principal(s, user)
        unread = [
            f"[{inbox.KIND_TAGS[n.kind]}] {n.message}"
            for n in s.exec(
                select(Notification)
                .where(
                    Notification.user_id == user.id,
                    col(Notification.read_at).is_(None),
                    col(Notification.emailed_at).is_(None),
                )
                .order_by(col(Notification.id).desc())
            ).all()
        ]
        t = tasks.load_tasks(session=s, principal=p, catalog=catalog, today=day)
    return Expected(
        unread,
        [f"{i.text} (기한 {i.due_date.isoformat()})" for i in t.overdue if i.due_date],
        [f"{i.text} (기한 {i.due_date.isoformat()})" for i in t.due_soon if i.due_date],
    )


# --- the tests -----------------------------------------------------------------------------------


def test_one_korean_message_per_person_with_their_inbox_and_tasks_and_none_the_second_time(
    scene: Scene, catalog: Catalog, smtp: SmtpServer
) -> None:
    users = scene.world.users
    # The digest scans for due dates first; scan here so the inbox read below is what it sends.
    with transaction(scene.engine) as s:
        assert (
            notifications.scan_due(session=s, catalog=catalog, today=TODAY).created == 1
        )  # the overdue item
    expected = {key: expected_for(scene.engine, catalog, users[key], TODAY) for key in ADDRESSES}
    # The scene gives each of them something to say, of several kinds.
    assert expected["coop_a"].notifications and expected["coop_a"].overdue
    assert expected["center"].notifications and expected["center"].due_soon
    assert expected["municipality"].notifications

    run = run_digest(scene, catalog, smtp)
    assert (run.sent, run.failed, run.scan.created) == (3, 0, 0)
    assert run.skipped == 1  # coop B: an address, nothing to say
    assert sorted(r[0] for r, _ in smtp.box.messages) == sorted(ADDRESSES.values())

    for key, address in ADDRESSES.items():
        (message,) = smtp.box.to(address)
        exp = expected[key]
        parts = [
            (f"알림 {len(exp.notifications)}건", exp.notifications),
            (f"기한 지남 {len(exp.overdue)}건", exp.overdue),
            (f"기한 임박 {len(exp.due_soon)}건", exp.due_soon),
        ]
        subject = " · ".join(label for label, found in parts if found)
        assert message["Subject"] == f"[마을길잡이] {subject} ({TODAY.isoformat()})"
        assert message["To"].addresses[0].addr_spec == address
        assert message["From"].addresses[0].display_name == "마을길잡이"
        assert message.get_content_type() == "multipart/alternative"
        text = plain(message)
        assert section(text, "읽지 않은 알림") == exp.notifications
        assert section(text, "기한이 지난 항목") == exp.overdue
        assert section(text, "14일 안에 기한") == exp.due_soon
        assert f"{BASE}/notifications/settings" in text
        body = html(message)
        assert f'href="{BASE}/notifications/settings"' in body
        for line in exp.notifications:
            assert line.split("] ", 1)[1] in body
    coop_text = plain(smtp.box.to(ADDRESSES["coop_a"])[0])
    assert f"{BASE}/tracks/{scene.track.id}#item-{COOP_ITEM}" in coop_text

    with Session(scene.engine) as s:
        logs = {log.user_id: log for log in s.exec(select(DigestLog)).all()}
        assert set(logs) == {users[k].id for k in ADDRESSES}
        assert all(log.day == TODAY for log in logs.values())
        assert logs[users["coop_a"].id].notifications == len(expected["coop_a"].notifications)
        assert not s.exec(  # every notification that went out is marked
            select(Notification).where(
                col(Notification.user_id).in_([users[k].id for k in ADDRESSES]),
                col(Notification.emailed_at).is_(None),
            )
        ).all()

    second = run_digest(scene, catalog, smtp)
    assert (second.sent, second.failed, second.skipped) == (0, 0, 1)  # the logged ones are not even read
    assert len(smtp.box.messages) == 3


def test_later_notifications_wait_for_the_next_day_and_old_ones_are_not_repeated(
    scene: Scene, catalog: Catalog, smtp: SmtpServer
) -> None:
    run_digest(scene, catalog, smtp)
    model = catalog.model(HUB)
    assert model is not None
    with transaction(scene.engine) as s:
        gov = _principal(s, scene.world.users["municipality"])
        tracking.add_comment(
            session=s, principal=gov, track=scene.track, model=model, item_key=COOP_ITEM, body="새 의견입니다"
        )
    assert run_digest(scene, catalog, smtp).sent == 0  # the same day: nothing new goes out
    tomorrow = run_digest(scene, catalog, smtp, TODAY + timedelta(days=1))
    coop_mails = smtp.box.to(ADDRESSES["coop_a"])
    assert len(coop_mails) == 2 and tomorrow.sent >= 1
    assert section(plain(coop_mails[1]), "읽지 않은 알림") == [
        f"[의견] {scene.world.users['municipality'].display_name}님이 ‘{model.item(COOP_ITEM).text}’에 의견을 남겼습니다"  # type: ignore[union-attr]
    ]


def test_an_smtp_failure_for_one_person_is_retried_next_run_without_stopping_the_others(
    scene: Scene, catalog: Catalog, smtp: SmtpServer
) -> None:
    center = scene.world.users["center"]
    smtp.box.refuse.add(ADDRESSES["center"])
    first = run_digest(scene, catalog, smtp)
    assert (first.sent, first.failed) == (2, 1)
    assert smtp.box.to(ADDRESSES["center"]) == []
    with Session(scene.engine) as s:
        assert s.get(DigestLog, (center.id, TODAY)) is None  # not recorded: tried again
        assert s.exec(
            select(Notification).where(
                Notification.user_id == center.id, col(Notification.emailed_at).is_(None)
            )
        ).all()

    smtp.box.refuse.clear()
    second = run_digest(scene, catalog, smtp)
    assert (second.sent, second.failed) == (1, 0)
    assert len(smtp.box.to(ADDRESSES["center"])) == 1
    assert len(smtp.box.messages) == 3  # the two others got theirs once


def test_no_address_no_wish_or_nothing_to_say_is_no_message(
    scene: Scene, catalog: Catalog, smtp: SmtpServer
) -> None:
    users = scene.world.users
    with transaction(scene.engine) as s:
        s.add(NotificationPreference(user_id=users["municipality"].id, muted_kinds=[], email_digest=False))  # type: ignore[arg-type]
        user = s.get(User, users["center"].id)
        assert user is not None
        user.email = ""
        s.add(user)
    run = run_digest(scene, catalog, smtp)
    assert [r for r, _ in smtp.box.messages] == [[ADDRESSES["coop_a"]]]
    assert (run.sent, run.skipped) == (1, 1)  # coop B had nothing; the other two are not recipients


def test_muted_task_kinds_leave_their_part_out(scene: Scene, catalog: Catalog, smtp: SmtpServer) -> None:
    with transaction(scene.engine) as s:
        s.add(NotificationPreference(user_id=scene.world.users["coop_a"].id, muted_kinds=["overdue"]))  # type: ignore[arg-type]
    run_digest(scene, catalog, smtp)
    (message,) = smtp.box.to(ADDRESSES["coop_a"])
    assert "기한 지남" not in message["Subject"]
    assert section(plain(message), "기한이 지난 항목") == []


def test_a_claim_is_taken_once(db: Session, world: World, catalog: Catalog) -> None:
    p = world.principal(db, "coop_a")
    recipient = mail.Recipient(p, "coop-a@example.kr", frozenset())
    digest = mail.Digest(recipient, TODAY, [], [], [], [])
    assert mail.claim_digest(session=db, digest=digest) is True
    assert mail.claim_digest(session=db, digest=digest) is False  # another host, the same day
    mail.release_digest(session=db, user_id=p.id, day=TODAY)
    assert mail.claim_digest(session=db, digest=digest) is True


# --- SMTP settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.kr", mail.SmtpTarget("mail.example.kr", 25, False)),
        ("smtp://mail.example.kr:587", mail.SmtpTarget("mail.example.kr", 587, False)),
        ("smtps://mail.example.kr", mail.SmtpTarget("mail.example.kr", 465, True)),
        (
            "smtp://digest%40maeul.kr:p%40ss%3Aw%2Frd@mail.example.kr:587",
            mail.SmtpTarget("mail.example.kr", 587, False, "digest@maeul.kr", "p@ss:w/rd"),
        ),
    ],
)
def test_smtp_url(url: str, expected: mail.SmtpTarget) -> None:
    assert mail.parse_smtp_url(url) == expected
    assert "p@ss" not in repr(mail.parse_smtp_url(url))  # the password stays out of logs


@pytest.mark.parametrize("url", ["http://mail.example.kr", "smtp://", "mail.example.kr:25", "smtp://h:port"])
def test_a_bad_smtp_url_is_refused_at_start(url: str) -> None:
    with pytest.raises(ValueError, match="MAEUL_SMTP_URL"):
        Settings(smtp_url=url)


def test_a_settings_error_does_not_echo_the_password() -> None:
    with pytest.raises(ValueError) as exc:
        Settings(smtp_url="smtp://digest:hunter2-secret@mail.example.kr:smtp")
    assert "hunter2" not in str(exc.value)


def _auth_server(box: Mailbox) -> tuple[Controller, int]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"digest@maeul.kr",
            b"p@ss:w/rd",
        )
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=check, auth_require_tls=False)
    controller.start()
    return controller, port


def _message() -> EmailMessage:
    m = EmailMessage()
    m["Subject"], m["From"], m["To"] = "[마을길잡이] 시험", "noreply@maeul.example.kr", "to@example.kr"
    m.set_content("본문")
    return m


def test_credentials_are_decoded_and_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import smtplib

    box = Mailbox()
    controller, port = _auth_server(box)
    try:
        good = mail.parse_smtp_url(f"smtp://digest%40maeul.kr:p%40ss%3Aw%2Frd@127.0.0.1:{port}")
        with mail.Mailer(good) as mailer:
            mailer.send(_message())
        assert len(box.messages) == 1
        assert box.messages[0][1]["Subject"] == "[마을길잡이] 시험"
        # Over the network (not loopback), a server without STARTTLS never gets the password.
        monkeypatch.setattr(mail, "_loopback", lambda host: False)
        with pytest.raises(smtplib.SMTPNotSupportedError, match="STARTTLS"), mail.Mailer(good) as mailer:
            mailer.send(_message())
        assert len(box.messages) == 1
    finally:
        controller.stop()


def test_the_digest_page_links_come_from_the_route_table() -> None:
    links = mail_links("https://maeul.example.kr/")
    assert links.url("notifications:settings") == "https://maeul.example.kr/notifications/settings"
    target = inbox.Target("tracks:detail", {"track_id": 7}, "item-manual")
    assert links.target(target) == "https://maeul.example.kr/tracks/7#item-manual"


def test_the_base_url_is_a_site_address() -> None:
    assert Settings(base_url="https://maeul.example.kr/").base_url == "https://maeul.example.kr"
    with pytest.raises(ValueError, match="MAEUL_BASE_URL"):
        Settings(base_url="maeul.example.kr")
