"""Tables, one module each. Importing this package registers them all on SQLModel.metadata."""

from app.models.audit import AuditEntry
from app.models.consultation import CenterTarget, Consultation
from app.models.decision import Decision
from app.models.notify import DigestLog, Notification, NotificationPreference
from app.models.org import CenterMunicipality, Cooperative, Municipality, SupportCenter
from app.models.storage import FileBlob, FileChunk
from app.models.summary import ActivityWeek, AppMeta, TrackDueItem, TrackSummary
from app.models.tracking import Comment, Event, Evidence, ItemState, LoggedEvent, Track
from app.models.user import ApiToken, LoginFailure, User

__all__ = [
    "ActivityWeek",
    "AuditEntry",
    "ApiToken",
    "AppMeta",
    "CenterMunicipality",
    "CenterTarget",
    "Comment",
    "Consultation",
    "Cooperative",
    "Decision",
    "DigestLog",
    "Event",
    "LoggedEvent",
    "Evidence",
    "FileBlob",
    "FileChunk",
    "ItemState",
    "LoginFailure",
    "Municipality",
    "Notification",
    "NotificationPreference",
    "SupportCenter",
    "Track",
    "TrackDueItem",
    "TrackSummary",
    "User",
]
