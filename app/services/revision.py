"""Revisions: the key the page cache (app.templating.cached_page) keeps a page under.

What a page shows changes only with an event (every change to a track appends one:
tracking.append_event, its item states and summary changing in the same transaction) or an
admin change (renames, moves, deactivation: the audit log). Both ids follow commit order (a
track's writers take turns on its row, audit entries on an advisory lock; SQLite's writers take
turns anyway), so (the last event in view, the last admin change) moves with every change a
reader can see. Equal revisions, equal data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ScalarSelect, func, select
from sqlmodel import Session, col

from app.db import Prepared, run_plain
from app.models import Cooperative, Event, Track
from app.models.audit import AuditEntry
from app.models.user import ROLES
from app.services.principal import Principal
from app.services.visibility import role_scope, scope_params

_LAST_ADMIN_CHANGE = select(func.max(AuditEntry.id)).scalar_subquery()


def _of(last_event: ScalarSelect[Any]) -> Any:
    return select(last_event, _LAST_ADMIN_CHANGE)


def _read(session: Session, stmt: Any, params: dict[str, Any]) -> tuple[int, int]:
    return of_columns(*run_plain(session, stmt, params).one())


# A track's revision, as two columns of a statement that selects the track: every track route
# looks its track up (tracking.get_visible_track), so its page and its API answer get the
# revision in the same round trip, read in the same transaction as what they show.
TRACK_COLUMNS = (
    select(func.max(Event.id)).where(col(Event.track_id) == col(Track.id)).correlate(Track).scalar_subquery(),
    _LAST_ADMIN_CHANGE,
)


def of_columns(last_event: int | None, last_admin_change: int | None) -> tuple[int, int]:
    """The revision from TRACK_COLUMNS' values."""
    return int(last_event or 0), int(last_admin_change or 0)


# Per visible cooperative its newest event, one index lookup each (ix_event_cooperative_id):
# PostgreSQL answered "max over event where cooperative in (…)" by reading every event (10 ms).
_COOPERATIVE_LAST_EVENT = (
    select(func.max(Event.id))
    .where(col(Event.cooperative_id) == col(Cooperative.id))
    .correlate(Cooperative)
    .scalar_subquery()
)
_VIEWER: dict[str, Any] = {
    role: Prepared(
        _of(
            (
                select(func.max(_COOPERATIVE_LAST_EVENT)).select_from(Cooperative).where(role_scope(role))
                if role != "admin"
                else select(func.max(Event.id))  # every event: the newest one, straight from the key
            ).scalar_subquery()
        )
    )
    for role in ROLES
}


def viewer(*, session: Session, principal: Principal) -> tuple[int, int]:
    """The revision of everything ``principal`` sees: for the 현황판 (at a given minute)."""
    return _read(session, _VIEWER[principal.role], scope_params(principal))
