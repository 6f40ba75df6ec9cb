"""The inbox: one person's notifications (listed, counted, marked read) and their preferences.

What a person reads follows the visibility rule as it stands now, not as it stood when the
notification was made: someone moved to another organization no longer reads about the old one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, or_, select, update
from sqlmodel import Session, col

from app.catalog import Catalog
from app.db import run_plain
from app.models import Cooperative, Notification, NotificationPreference, Track, User
from app.models.base import utcnow
from app.models.notify import NOTIFICATION_KINDS
from app.models.user import ROLES
from app.services.errors import FormError
from app.services.notifications import dialect_insert
from app.services.orgs import clean_email
from app.services.principal import Principal
from app.services.visibility import cooperative_scope, role_scope, scope_params

INBOX_PAGE = 30
# Short names for the inbox and the mail (the preferences page uses NOTIFICATION_KINDS' sentences).
KIND_TAGS: dict[str, str] = {
    "comment": "의견",
    "mention": "언급",
    "awaiting_verification": "확인 요청",
    "change_request": "보완 요청",
    "verification": "확인",
    "decision": "위탁 결정",
    "due_soon": "기한 임박",
    "overdue": "기한 지남",
    "follow_up": "후속 조치",
}


def _visible_within(scope: ColumnElement[bool]) -> ColumnElement[bool]:
    """A notification (outer-joined with its Cooperative) the principal may still see: someone
    moved to another organization no longer reads what was said about their former cooperatives."""
    return or_(col(Notification.cooperative_id).is_(None), scope)


def _visible_to(principal: Principal) -> ColumnElement[bool]:
    return _visible_within(cooperative_scope(principal))


# --- listing and marking -------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a notification leads: a route, its parameters and the fragment (for pages and mail)."""

    route: str
    params: dict[str, Any]
    fragment: str = ""


def target_of(n: Notification) -> Target:
    if n.consultation_id is not None and n.cooperative_id is not None:
        return Target(
            "consultations:list", {"cooperative_id": n.cooperative_id}, f"consultation-{n.consultation_id}"
        )
    if n.track_id is not None and n.item_key:
        return Target("tracks:detail", {"track_id": n.track_id}, f"item-{n.item_key}")
    if n.track_id is not None:
        return Target("readiness:page", {"track_id": n.track_id})
    if n.cooperative_id is not None:
        return Target("coops:detail", {"cooperative_id": n.cooperative_id})
    return Target("notifications:index", {})


@dataclass(frozen=True)
class InboxRow:
    notification: Notification
    cooperative: str | None
    model_title: str | None
    target: Target

    @property
    def unread(self) -> bool:
        return self.notification.read_at is None

    @property
    def kind_label(self) -> str:
        return KIND_TAGS.get(self.notification.kind, self.notification.kind)


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    next_before: int | None  # the id to page on from, when there are older ones


def _inbox_query(principal: Principal) -> Any:
    return (
        select(Notification, col(Cooperative.name), col(Track.model_key))
        .outerjoin(Cooperative, col(Cooperative.id) == col(Notification.cooperative_id))
        .outerjoin(Track, col(Track.id) == col(Notification.track_id))
        .where(col(Notification.user_id) == principal.id, _visible_to(principal))
    )


def _rows(catalog: Catalog, found: Iterable[Any]) -> list[InboxRow]:
    out = []
    for n, coop, model_key in found:
        model = catalog.model(model_key) if model_key else None
        out.append(InboxRow(n, coop, model.title if model else None, target_of(n)))
    return out


def list_inbox(
    *,
    session: Session,
    principal: Principal,
    catalog: Catalog,
    unread_only: bool = False,
    before: int | None = None,
    limit: int = INBOX_PAGE,
) -> InboxPage:
    """Newest first, ``limit`` a page (``before``: an id from the previous page), in one query."""
    stmt = _inbox_query(principal)
    if unread_only:
        stmt = stmt.where(col(Notification.read_at).is_(None))
    if before is not None:
        stmt = stmt.where(col(Notification.id) < before)
    found = session.execute(stmt.order_by(col(Notification.id).desc()).limit(limit + 1)).all()
    rows = _rows(catalog, found[:limit])
    return InboxPage(rows, rows[-1].notification.id if len(found) > limit else None)


def unread_for_digest(*, session: Session, principal: Principal, catalog: Catalog) -> list[InboxRow]:
    """Unread notifications not yet sent by e-mail, newest first (the digest's first part)."""
    stmt = _inbox_query(principal).where(
        col(Notification.read_at).is_(None), col(Notification.emailed_at).is_(None)
    )
    return _rows(catalog, session.execute(stmt.order_by(col(Notification.id).desc())).all())


def _unread_count_query(role: str) -> Any:
    return (
        select(func.count())
        .select_from(Notification)
        .outerjoin(Cooperative, col(Cooperative.id) == col(Notification.cooperative_id))
        .where(
            col(Notification.user_id) == bindparam("user_id"),
            col(Notification.read_at).is_(None),
            _visible_within(role_scope(role)),
        )
    )


# Built once per role: every full page counts the header's badge with it.
_UNREAD_COUNT: dict[str, Any] = {role: _unread_count_query(role) for role in ROLES}


def unread_count(*, session: Session, principal: Principal) -> int:
    """The header's badge: one statement, the same rows as the inbox's unread ones."""
    stmt = _UNREAD_COUNT.get(principal.role)
    if stmt is None:
        return 0
    return int(run_plain(session, stmt, {"user_id": principal.id, **scope_params(principal)}).scalar_one())


def inbox_row(
    *, session: Session, principal: Principal, catalog: Catalog, notification_id: int
) -> InboxRow | None:
    """One row of the inbox (after marking it read)."""
    found = session.execute(_inbox_query(principal).where(col(Notification.id) == notification_id)).all()
    rows = _rows(catalog, found)
    return rows[0] if rows else None


def get_notification(*, session: Session, principal: Principal, notification_id: int) -> Notification | None:
    """One of the principal's own notifications (None for anyone else's: a 404)."""
    row = session.execute(_inbox_query(principal).where(col(Notification.id) == notification_id)).first()
    return row[0] if row else None


def mark_read(
    *, session: Session, principal: Principal, ids: Collection[int], now: datetime | None = None
) -> int:
    """Mark these of the principal's notifications read (others' ids are ignored); how many changed."""
    if not ids:
        return 0
    return _mark(session, principal, now, col(Notification.id).in_(list(ids)))


def mark_all_read(*, session: Session, principal: Principal, now: datetime | None = None) -> int:
    return _mark(session, principal, now)


def _mark(session: Session, principal: Principal, now: datetime | None, *where: Any) -> int:
    result = session.execute(
        update(Notification)
        .where(col(Notification.user_id) == principal.id, col(Notification.read_at).is_(None), *where)
        .values(read_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- preferences ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    muted: frozenset[str]
    email_digest: bool
    email: str

    def wants(self, kind: str) -> bool:
        return kind not in self.muted


def load_preferences(*, session: Session, principal: Principal) -> Preferences:
    row = session.execute(
        select(
            col(User.email), col(NotificationPreference.muted_kinds), col(NotificationPreference.email_digest)
        )
        .outerjoin(NotificationPreference, col(NotificationPreference.user_id) == col(User.id))
        .where(col(User.id) == principal.id)
    ).one()
    email, muted, digest = row
    # No row: every kind, and the digest once there is an address.
    return Preferences(frozenset(muted or ()), True if digest is None else bool(digest), email or "")


def save_preferences(
    *,
    session: Session,
    principal: Principal,
    kinds: Sequence[str],
    email_digest: bool,
    email: str,
) -> Preferences:
    """Store which kinds the person wants, the digest switch and their own address."""
    errors: dict[str, str] = {}
    unknown = sorted(set(kinds) - NOTIFICATION_KINDS.keys())
    if unknown:
        errors["kinds"] = f"알 수 없는 알림 종류입니다: {', '.join(unknown)}"
    address = ""
    try:
        address = clean_email(email)
    except FormError as exc:
        errors.update(exc.errors)
    if errors:
        raise FormError(errors)
    muted = [k for k in NOTIFICATION_KINDS if k not in kinds]
    insert_ = dialect_insert(session)
    session.execute(
        insert_(NotificationPreference)
        .values(user_id=principal.id, muted_kinds=muted, email_digest=email_digest)
        .on_conflict_do_update(
            index_elements=["user_id"], set_={"muted_kinds": muted, "email_digest": email_digest}
        )
    )
    session.execute(update(User).where(col(User.id) == principal.id).values(email=address))
    return Preferences(frozenset(muted), email_digest, address)
