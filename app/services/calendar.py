"""The private calendar feed: each person's due dates as an iCalendar file at a secret address.

Only the SHA-256 of the secret is stored (like API tokens), so a database leak gives no working
feed address; resetting replaces the hash and the old address answers 404 at once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.models import User
from app.models.base import utcnow
from app.services.principal import Principal, principal_from_row, principal_query
from app.services.tasks import TaskItem, Tasks

PRODID = "-//마을길잡이//내 할 일//KO"
TIMEZONE = "Asia/Seoul"
STAGE_LABELS = {"prepare": "준비", "plan": "계획", "execute": "실행"}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def reset_feed(*, session: Session, principal: Principal) -> str:
    """A new secret for the principal's feed (the old one, if any, stops working). Shown once."""
    secret = secrets.token_urlsafe(32)
    session.exec(update(User).where(col(User.id) == principal.id).values(calendar_token_hash=_hash(secret)))
    return secret


def remove_feed(*, session: Session, principal: Principal) -> None:
    session.exec(update(User).where(col(User.id) == principal.id).values(calendar_token_hash=None))


def has_feed(*, session: Session, principal: Principal) -> bool:
    stmt = select(col(User.calendar_token_hash).is_not(None)).where(col(User.id) == principal.id)
    return bool(session.exec(stmt).first())


def principal_for_feed(*, session: Session, secret: str) -> Principal | None:
    """The active user whose feed this secret opens, or None."""
    if not 20 <= len(secret) <= 100:
        return None
    row = session.execute(principal_query().where(col(User.calendar_token_hash) == _hash(secret))).first()
    return principal_from_row(row) if row else None


def dated_items(tasks: Tasks) -> list[TaskItem]:
    """Each open item with a due date once (an item may be in several groups)."""
    seen: dict[tuple[int, str], TaskItem] = {}
    for group in (tasks.overdue, tasks.due_soon, tasks.assigned_to_me, tasks.lead_open):
        for t in group:
            if t.due_date is not None and t.status in ("todo", "doing"):
                seen.setdefault((t.track_id, t.item_key), t)
    return sorted(seen.values(), key=lambda t: (t.due_date, t.cooperative, t.item_key))


def build_ics(
    *,
    tasks: Tasks,
    item_url: Callable[[TaskItem], str],
    follow_up_url: Callable[[int, int], str],
    calendar_name: str,
    now: datetime | None = None,
) -> bytes:
    """An all-day event per due date (items) and per follow-up date (consultations), with UIDs
    that stay the same across downloads, so calendar apps update events instead of duplicating."""
    stamp = now or utcnow()
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", calendar_name)
    cal.add("x-wr-timezone", TIMEZONE)
    for t in dated_items(tasks):
        assert t.due_date is not None  # noqa: S101 - dated_items keeps dated ones only
        url = item_url(t)
        cal.add_component(
            _event(
                uid=f"item-{t.track_id}-{t.item_key}@maeul",
                day=t.due_date,
                summary=f"[기한] {t.cooperative} · {t.text}",
                description=f"{t.model_title} · {STAGE_LABELS.get(t.stage, t.stage)} 단계\n{url}",
                url=url,
                stamp=stamp,
            )
        )
    for f in tasks.follow_ups:  # follow_ups_due lists only consultations with a follow-up date
        url = follow_up_url(f.cooperative_id, f.consultation_id)
        cal.add_component(
            _event(
                uid=f"follow-up-{f.consultation_id}@maeul",
                day=f.follow_up_on,
                summary=f"[후속 조치] {f.cooperative} · {f.topic}",
                description=f"상담 {f.held_on.isoformat()}\n{url}",
                url=url,
                stamp=stamp,
            )
        )
    return cal.to_ical()


def _event(*, uid: str, day: date, summary: str, description: str, url: str, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    event.add("url", url)
    event.add("transp", "TRANSPARENT")  # a due date does not make anyone busy
    return event
