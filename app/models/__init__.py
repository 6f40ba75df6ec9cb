"""Tables, one module each. Importing this package registers them all on SQLModel.metadata."""

from app.models.decision import Decision
from app.models.org import CenterMunicipality, Cooperative, Municipality, SupportCenter
from app.models.summary import AppMeta, TrackDueItem, TrackSummary
from app.models.tracking import Comment, Event, Evidence, ItemState, Track
from app.models.user import ApiToken, LoginFailure, User

__all__ = [
    "ApiToken",
    "AppMeta",
    "CenterMunicipality",
    "Comment",
    "Cooperative",
    "Decision",
    "Event",
    "Evidence",
    "ItemState",
    "LoginFailure",
    "Municipality",
    "SupportCenter",
    "Track",
    "TrackDueItem",
    "TrackSummary",
    "User",
]
