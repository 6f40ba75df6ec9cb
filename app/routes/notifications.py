"""알림: the inbox, preferences (pages and JSON API)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.routing import Router

from app.deps import (
    MAX_ID,
    ApiUser,
    CatalogDep,
    CurrentNotification,
    CurrentUser,
    FormDep,
    QueryId,
    SessionDep,
    api_router,
    html_router,
)
from app.models.notify import NOTIFICATION_KINDS
from app.services import inbox
from app.services.errors import FormError
from app.services.mail import Links
from app.services.principal import Principal
from app.templating import is_htmx, redirect, render, with_query

router = html_router(tags=["notifications"])
api = api_router()

INBOX_BLOCKS = ["inbox", "badge_oob"]


def _index_url(request: Request, unread_only: bool) -> str:
    return with_query(str(request.app.url_path_for("notifications:index")), unread="1" if unread_only else "")


def _inbox_page(
    request: Request,
    session: SessionDep,
    user: Principal,
    catalog: CatalogDep,
    *,
    unread_only: bool,
    before: int | None = None,
    blocks: list[str] | None = None,
    message: str | None = None,
) -> Response:
    page = inbox.list_inbox(
        session=session, principal=user, catalog=catalog, unread_only=unread_only, before=before
    )
    # Named unread_now: "unread_count" is the header's, set by the context processor.
    unread_now = (
        request.state.unread_count
        if getattr(request.state, "unread_count", None) is not None
        else inbox.unread_count(session=session, principal=user)
    )
    return render(
        request,
        "pages/notifications.html",
        {
            "rows": page.rows,
            "next_before": page.next_before,
            "unread_only": unread_only,
            "before": before,
            "unread_now": unread_now,
            "message": message,
            "focus": None,
        },
        blocks=blocks or ["inbox"],
    )


@router.get("/notifications", name="notifications:index")
def index(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    unread: bool = False,
    before: QueryId = None,
) -> Response:
    return _inbox_page(request, session, user, catalog, unread_only=unread, before=before)


@router.post("/notifications/read-all", name="notifications:read_all")
def read_all(
    request: Request, session: SessionDep, user: CurrentUser, catalog: CatalogDep, form: FormDep
) -> Response:
    inbox.mark_all_read(session=session, principal=user)
    unread_only = form.get("unread") == "1"
    if not is_htmx(request):
        return redirect(request, _index_url(request, unread_only))
    return _inbox_page(
        request,
        session,
        user,
        catalog,
        unread_only=unread_only,
        blocks=INBOX_BLOCKS,
        message="모든 알림을 읽음으로 표시했습니다.",
    )


@router.post("/notifications/{notification_id}/read", name="notifications:read")
def read_one(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    notification: CurrentNotification,
    form: FormDep,
) -> Response:
    assert notification.id is not None  # noqa: S101
    inbox.mark_read(session=session, principal=user, ids=[notification.id])
    if not is_htmx(request):
        return redirect(request, _index_url(request, form.get("unread") == "1"))
    row = inbox.inbox_row(session=session, principal=user, catalog=catalog, notification_id=notification.id)
    return render(
        request,
        "pages/notifications.html",
        {
            "r": row,
            "focus": notification.id,
            "unread_now": inbox.unread_count(session=session, principal=user),
        },
        blocks=["notification_row", "badge_oob"],
    )


def _settings_page(
    request: Request,
    prefs: inbox.Preferences,
    *,
    saved: bool = False,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "pages/notification_settings.html",
        {"prefs": prefs, "kinds": NOTIFICATION_KINDS, "saved": saved, "errors": errors or {}},
        status_code=status_code,
    )


@router.get("/notifications/settings", name="notifications:settings")
def settings_page(request: Request, session: SessionDep, user: CurrentUser, saved: bool = False) -> Response:
    prefs = inbox.load_preferences(session=session, principal=user)
    return _settings_page(request, prefs, saved=saved)


@router.post("/notifications/settings", name="notifications:save_settings")
def save_settings(request: Request, session: SessionDep, user: CurrentUser, form: FormDep) -> Response:
    kinds = [k for k in form.getlist("kinds") if isinstance(k, str)]
    email = form.get("email")
    digest = form.get("email_digest") == "1"
    try:
        inbox.save_preferences(
            session=session,
            principal=user,
            kinds=kinds,
            email_digest=digest,
            email=email if isinstance(email, str) else "",
        )
    except FormError as exc:
        # Show what the person chose and typed, with the errors.
        typed = inbox.Preferences(
            frozenset(k for k in NOTIFICATION_KINDS if k not in kinds),
            digest,
            email if isinstance(email, str) else "",
        )
        # A full page after a POST: the header's count is made here (load_user counts for GETs).
        request.state.unread_count = inbox.unread_count(session=session, principal=user)
        return _settings_page(request, typed, errors=exc.errors, status_code=422)
    url = with_query(str(request.app.url_path_for("notifications:settings")), saved="1")
    return redirect(request, url)


# --- links in e-mail --------------------------------------------------------------------------------


def mail_links(base_url: str) -> Links:
    """Absolute links for the digest, from the app's own route table (no app instance needed)."""
    from app.routes import all_routers

    table = Router(routes=[route for r in all_routers for route in r.routes])
    return Links(base_url, lambda name, **params: str(table.url_path_for(name, **params)))


# --- JSON API ---------------------------------------------------------------------------------------


class NotificationCooperativeOut(BaseModel):
    id: int
    name: str


class NotificationOut(BaseModel):
    id: int
    kind: str = Field(description=", ".join(NOTIFICATION_KINDS))
    kind_label: str
    message: str
    excerpt: str
    cooperative: NotificationCooperativeOut | None
    track_id: int | None
    item_key: str | None
    consultation_id: int | None
    url: str = Field(description="The page it is about (a path on this site)")
    created_at: datetime
    read_at: datetime | None


class NotificationsOut(BaseModel):
    notifications: list[NotificationOut] = Field(description="Newest first")
    unread: int = Field(description="All unread notifications, not only this page's")
    next_before: int | None = Field(description="Pass as ?before= for the next (older) page; null at the end")


def _out(request: Request, row: inbox.InboxRow) -> NotificationOut:
    n, t = row.notification, row.target
    assert n.id is not None  # noqa: S101
    path = str(request.app.url_path_for(t.route, **{k: str(v) for k, v in t.params.items()}))
    return NotificationOut(
        id=n.id,
        kind=n.kind,
        kind_label=row.kind_label,
        message=n.message,
        excerpt=n.excerpt,
        cooperative=NotificationCooperativeOut(id=n.cooperative_id, name=row.cooperative)
        if n.cooperative_id is not None and row.cooperative is not None
        else None,
        track_id=n.track_id,
        item_key=n.item_key,
        consultation_id=n.consultation_id,
        url=path + (f"#{t.fragment}" if t.fragment else ""),
        created_at=n.created_at,
        read_at=n.read_at,
    )


@api.get("/notifications", name="api:notifications", response_model=NotificationsOut)
def list_notifications(
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    user: ApiUser,
    unread: Annotated[bool, Query(description="Only unread notifications")] = False,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only notifications with a smaller id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> NotificationsOut:
    """The token's user's notifications, newest first, a page at a time."""
    page = inbox.list_inbox(
        session=session, principal=user, catalog=catalog, unread_only=unread, before=before, limit=limit
    )
    return NotificationsOut(
        notifications=[_out(request, r) for r in page.rows],
        unread=inbox.unread_count(session=session, principal=user),
        next_before=page.next_before,
    )


class ReadIn(BaseModel):
    """Either ``ids`` or ``all``."""

    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, max_length=1000, description="Ids of your notifications; others' ids are ignored"
    )
    all: bool = Field(default=False, description="Mark every notification read")

    @model_validator(mode="after")
    def _one_of(self) -> ReadIn:
        if (self.ids is not None) == self.all:
            raise ValueError('send either {"ids": [...]} or {"all": true}')
        return self


class ReadOut(BaseModel):
    marked: int = Field(description="How many changed from unread to read")
    unread: int


@api.post(
    "/notifications/read",
    name="api:read_notifications",
    response_model=ReadOut,
    responses={422: {"description": "Neither ids nor all, or both"}},
)
def read_notifications(body: ReadIn, session: SessionDep, user: ApiUser) -> ReadOut:
    """Mark notifications read. Ids of other people's notifications (or unknown ids) are ignored,
    as are ids already read: ``marked`` counts only what changed."""
    marked = (
        inbox.mark_all_read(session=session, principal=user)
        if body.all
        else inbox.mark_read(session=session, principal=user, ids=body.ids or [])
    )
    return ReadOut(marked=marked, unread=inbox.unread_count(session=session, principal=user))
