"""Permission-matrix entries for 알림 and their preferences (merged by tests/routes/test_permissions.py)."""

from __future__ import annotations

from sqlmodel import Session

from app.catalog import Catalog
from app.config import Settings
from app.models import Notification
from app.models.base import utcnow
from tests.factories import World
from tests.routes.matrix import Case, members

MATRIX: dict[tuple[str, str], Case] = {
    # Everyone signed in has an inbox and preferences of their own.
    ("notifications:index", "GET"): Case(members(200)),
    ("notifications:settings", "GET"): Case(members(200)),
    ("notifications:save_settings", "POST"): Case(
        members(303), data=lambda w, who: {"kinds": "comment", "email": "", "email_digest": "1"}
    ),
    ("notifications:read_all", "POST"): Case(members(303), data=lambda w, who: {}),
    # A notification belongs to one person (coop A's user here): anyone else's is a 404.
    ("notifications:read", "POST"): Case(
        {"anon": 303, "coop_a": 303, "coop_b": 404, "center": 404, "municipality": 404, "admin": 404},
        params=lambda w: {"notification_id": w.extra["notification"].id},
        data=lambda w, who: {},
    ),
    ("api:notifications", "GET"): Case(members(200, anon=401), api=True),
    ("api:read_notifications", "POST"): Case(members(200, anon=401), json=lambda w: {"all": True}, api=True),
}


def setup(db: Session, world: World, catalog: Catalog, settings: Settings) -> None:
    """One notification of coop A's user."""
    note = Notification(
        user_id=world.users["coop_a"].id,  # type: ignore[arg-type]
        kind="comment",
        cooperative_id=world.coop_a.id,
        track_id=world.extra["track"].id,
        item_key="operating-plan",
        message="center-a님이 ‘운영계획’에 의견을 남겼습니다",
        created_at=utcnow(),
    )
    db.add(note)
    db.flush()
    world.extra["notification"] = note
