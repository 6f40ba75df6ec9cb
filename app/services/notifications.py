"""알림: who is told about a change, the inbox, preferences and the daily scans.

(Being built: see issue 9. ``on_event`` is called by app.services.tracking.append_event for
every change, in the same transaction.)
"""

from __future__ import annotations

from sqlmodel import Session

from app.catalog.schema import BusinessModel
from app.models import Event, Track
from app.services.principal import Principal


def on_event(
    *, session: Session, event: Event, principal: Principal | None, track: Track, model: BusinessModel
) -> None:
    """Notify the people an event concerns."""
    return None
