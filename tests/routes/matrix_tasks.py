"""Permission-matrix entries for 내 할 일, the calendar feed and assignees (merged by tests/routes/test_permissions.py)."""

from __future__ import annotations

from sqlmodel import Session

from app.catalog import Catalog
from app.config import Settings
from app.services import calendar
from tests.factories import World
from tests.routes.matrix import COOP_ITEM, Case, everyone, members, track

MATRIX: dict[tuple[str, str], Case] = {
    ("tasks:index", "GET"): Case(members(200)),
    # The one-click change has the track page's rights: only who may edit the item.
    ("tasks:update", "POST"): Case(
        {"anon": 303, "coop_a": 303, "coop_b": 404, "center": 403, "municipality": 403, "admin": 403},
        params=lambda w: track(w, item_key=COOP_ITEM),
        data=lambda w, who: {"version": "0", "status": "doing"},
    ),
    ("tasks:calendar", "POST"): Case(members(200), data=lambda w, who: {}),
    ("tasks:calendar_delete", "POST"): Case(members(200), data=lambda w, who: {}),
    # The feed's secret is its key: calendar apps carry no session.
    ("calendar:feed", "GET"): Case(everyone(200), params=lambda w: {"secret": w.extra["calendar_secret"]}),
    ("api:my_tasks", "GET"): Case(members(200, anon=401), api=True),
}


def setup(db: Session, world: World, catalog: Catalog, settings: Settings) -> None:
    """Coop A has a calendar feed."""
    world.extra["calendar_secret"] = calendar.reset_feed(session=db, principal=world.principal(db, "coop_a"))
