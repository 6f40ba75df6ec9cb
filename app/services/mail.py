"""The daily e-mail digest: SMTP, what goes into each person's message, and what was sent.

``send_digests`` is a batch job, not a request: it commits once per person (through
app.db.transaction), so that the claim on a person's day is visible to every other host before
the message leaves, and an SMTP failure for one person undoes only that person's claim.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine, and_, delete, exists, or_, update
from sqlmodel import Session, col

from app.catalog import Catalog
from app.config import Settings
from app.db import transaction
from app.models import DigestLog, Notification, NotificationPreference, User
from app.models.base import utcnow
from app.services import notifications
from app.services.consultations import FollowUp
from app.services.inbox import InboxRow, Target, unread_for_digest
from app.services.notifications import ScanResult
from app.services.principal import Principal, principal_from_row, principal_query
from app.services.summary import DUE_SOON_DAYS
from app.services.tasks import TaskItem, load_tasks
from app.templating import TEMPLATE_DIR

log = logging.getLogger("maeul.mail")

MAX_LINES = 50  # per part of one message; the rest is a count and a link
SMTP_TIMEOUT = 30


# --- SMTP ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool  # smtps://
    username: str = ""
    password: str = field(default="", repr=False)


def parse_smtp_url(url: str) -> SmtpTarget:
    """smtp://[user[:password]@]host[:port] (port 25; STARTTLS when offered) or smtps://… (465,
    TLS from the start). User and password are percent-decoded (an @ in a user name is %40)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("MAEUL_SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465")
    implicit = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 25),
        implicit_tls=implicit,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Mailer:
    """One SMTP connection, opened on the first message and reopened after a failure."""

    def __init__(self, target: SmtpTarget, *, timeout: float = SMTP_TIMEOUT):
        self.target = target
        self.timeout = timeout
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        context = ssl.create_default_context()
        conn: smtplib.SMTP
        if t.implicit_tls:
            conn = smtplib.SMTP_SSL(t.host, t.port, timeout=self.timeout, context=context)
        else:
            conn = smtplib.SMTP(t.host, t.port, timeout=self.timeout)
            conn.ehlo()
            if conn.has_extn("starttls"):
                conn.starttls(context=context)
                conn.ehlo()
            elif t.username and not _loopback(t.host):
                conn.close()
                # A password never crosses the network in clear.
                raise smtplib.SMTPNotSupportedError(
                    f"{t.host} offers no STARTTLS: refusing to send the SMTP password in clear "
                    "(use smtps:// or a server with STARTTLS)"
                )
        if t.username:
            conn.login(t.username, t.password)
        return conn

    def send(self, message: EmailMessage) -> None:
        if self._conn is None:
            self._conn = self._connect()
        try:
            self._conn.send_message(message)
        except Exception:
            self.close()  # the next message starts on a fresh connection
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- what one message says -------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    principal: Principal
    address: str
    muted: frozenset[str]


@dataclass(frozen=True)
class Digest:
    recipient: Recipient
    day: date
    notifications: list[InboxRow]
    overdue: list[TaskItem]
    due_soon: list[TaskItem]
    follow_ups: list[FollowUp]

    @property
    def empty(self) -> bool:
        return not (self.notifications or self.overdue or self.due_soon or self.follow_ups)

    @property
    def items(self) -> int:
        return len(self.overdue) + len(self.due_soon)

    @property
    def subject(self) -> str:
        parts = [
            f"{label} {n}건"
            for label, n in (
                ("알림", len(self.notifications)),
                ("기한 지남", len(self.overdue)),
                ("기한 임박", len(self.due_soon)),
                ("후속 조치", len(self.follow_ups)),
            )
            if n
        ]
        return f"[마을길잡이] {' · '.join(parts)} ({self.day.isoformat()})"

    def details(self) -> dict[str, Any]:
        """What the message held, for the log (ids and keys, no text)."""
        return {
            "subject": self.subject,
            "notifications": [r.notification.id for r in self.notifications],
            "overdue": [[t.track_id, t.item_key] for t in self.overdue],
            "due_soon": [[t.track_id, t.item_key] for t in self.due_soon],
            "follow_ups": [f.consultation_id for f in self.follow_ups],
        }


def digest_recipients(*, session: Session, day: date) -> list[Recipient]:
    """Active users with an address who want the digest and have none recorded for ``day``."""
    stmt = (
        principal_query()
        .add_columns(col(User.email), col(NotificationPreference.muted_kinds))
        .outerjoin(NotificationPreference, col(NotificationPreference.user_id) == col(User.id))
        .where(
            col(User.email) != "",
            or_(col(NotificationPreference.user_id).is_(None), col(NotificationPreference.email_digest)),
            ~exists().where(and_(col(DigestLog.user_id) == col(User.id), col(DigestLog.day) == day)),
        )
        .order_by(col(User.id))
    )
    return [
        Recipient(principal_from_row(row), row.email, frozenset(row.muted_kinds or ()))
        for row in session.execute(stmt).all()
    ]


def compose_digest(*, session: Session, catalog: Catalog, recipient: Recipient, day: date) -> Digest:
    """Unread notifications not yet e-mailed, and the person's overdue, due-soon and follow-up
    tasks (the same lists as 내 할 일), less the kinds they muted."""
    p, muted = recipient.principal, recipient.muted
    unread = unread_for_digest(session=session, principal=p, catalog=catalog)
    tasks = load_tasks(session=session, principal=p, catalog=catalog, today=day)
    return Digest(
        recipient=recipient,
        day=day,
        notifications=unread,
        overdue=[] if "overdue" in muted else list(tasks.overdue),
        due_soon=[] if "due_soon" in muted else list(tasks.due_soon),
        follow_ups=[] if "follow_up" in muted else list(tasks.follow_ups),
    )


# Links in mail are absolute: ``Links`` turns a route into the public address (see MAEUL_BASE_URL).
PathFor = Callable[..., str]


@dataclass(frozen=True)
class Links:
    base_url: str
    path_for: PathFor  # route name, **params → path

    def url(self, route: str, fragment: str = "", **params: Any) -> str:
        path = self.path_for(route, **{k: str(v) for k, v in params.items()})
        return f"{self.base_url.rstrip('/')}{path}{'#' + fragment if fragment else ''}"

    def target(self, target: Target) -> str:
        return self.url(target.route, target.fragment, **target.params)

    def task(self, task: TaskItem) -> str:
        return self.url("tracks:detail", f"item-{task.item_key}", track_id=task.track_id)

    def follow_up(self, f: FollowUp) -> str:
        return self.url(
            "consultations:list", f"consultation-{f.consultation_id}", cooperative_id=f.cooperative_id
        )


_env = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render_digest(digest: Digest, *, links: Links, sender: str) -> EmailMessage:
    """The message: a Korean subject, plain text and HTML alternatives, links to every item,
    the inbox and the preferences page."""
    context = {
        "d": digest,
        "links": links,
        "max_lines": MAX_LINES,
        "inbox_url": links.url("notifications:index"),
        "settings_url": links.url("notifications:settings"),
        "tasks_url": links.url("tasks:index"),
        "due_soon_days": DUE_SOON_DAYS,
    }
    message = EmailMessage()
    message["Subject"] = digest.subject
    name, address = parseaddr(sender)
    message["From"] = formataddr((name, address)) if name else address
    message["To"] = Address(
        display_name=digest.recipient.principal.display_name, addr_spec=digest.recipient.address
    )
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a digest
    message.set_content(_env.get_template("mail/digest.txt").render(context))
    message.add_alternative(_env.get_template("mail/digest.html").render(context), subtype="html")
    return message


# --- what was sent ---------------------------------------------------------------------------------


def claim_digest(*, session: Session, digest: Digest, now: datetime | None = None) -> bool:
    """Take ``digest``'s person and day, or learn that another run (another host) already has."""
    insert_ = notifications.dialect_insert(session)
    p = digest.recipient.principal
    result = session.execute(
        insert_(DigestLog)
        .values(
            user_id=p.id,
            day=digest.day,
            sent_at=now or utcnow(),
            address=digest.recipient.address,
            notifications=len(digest.notifications),
            items=digest.items,
            details=digest.details(),
        )
        .on_conflict_do_nothing(index_elements=["user_id", "day"])
        .returning(col(DigestLog.user_id))
    )
    return result.first() is not None


def release_digest(*, session: Session, user_id: int, day: date) -> None:
    """Undo a claim whose message did not leave: the next run tries again."""
    session.execute(delete(DigestLog).where(col(DigestLog.user_id) == user_id, col(DigestLog.day) == day))


def record_sent(*, session: Session, digest: Digest, now: datetime | None = None) -> None:
    """The message left: its notifications are not e-mailed again."""
    now = now or utcnow()
    ids = [r.notification.id for r in digest.notifications]
    if ids:
        session.execute(
            update(Notification)
            .where(col(Notification.id).in_(ids), col(Notification.emailed_at).is_(None))
            .values(emailed_at=now)
        )
    p = digest.recipient.principal
    session.execute(
        update(DigestLog)
        .where(col(DigestLog.user_id) == p.id, col(DigestLog.day) == digest.day)
        .values(sent_at=now)
    )


@dataclass
class DigestRun:
    day: date
    scan: ScanResult
    sent: int = 0
    skipped: int = 0  # nothing to say, or already sent today (by this host or another)
    failed: int = 0  # SMTP refused or unreachable: retried on the next run

    def summary(self) -> str:
        return (
            f"digest {self.day.isoformat()}: sent {self.sent}, skipped {self.skipped}, failed {self.failed}"
            f" (scan: {self.scan.created} new notifications) · 요약 메일 보냄 {self.sent}건, "
            f"건너뜀 {self.skipped}건, 실패 {self.failed}건"
        )


def send_digests(
    *, engine: Engine, catalog: Catalog, settings: Settings, day: date, links: Links, mailer: Mailer
) -> DigestRun:
    """Scan for due dates, then send each person with an address one message for ``day``."""
    with transaction(engine) as session:
        run = DigestRun(day, notifications.scan_due(session=session, catalog=catalog, today=day))
    with transaction(engine) as session:
        recipients = digest_recipients(session=session, day=day)
    for recipient in recipients:
        p = recipient.principal
        with transaction(engine) as session:
            digest = compose_digest(session=session, catalog=catalog, recipient=recipient, day=day)
            # Nothing to say: no message. Taken by another run: theirs to send.
            claimed = not digest.empty and claim_digest(session=session, digest=digest)
        if not claimed:
            run.skipped += 1
            continue
        try:
            mailer.send(render_digest(digest, links=links, sender=settings.mail_from))
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("digest for %s <%s> not sent (retried next run): %s", p.login, recipient.address, exc)
            with transaction(engine) as session:
                release_digest(session=session, user_id=p.id, day=day)
            run.failed += 1
            continue
        with transaction(engine) as session:
            record_sent(session=session, digest=digest)
        run.sent += 1
    return run
