"""내 할 일 and the private calendar feed (pages and JSON API)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.datastructures import FormData

from app.db import RequestUnitRoute
from app.deps import (
    ApiUser,
    CatalogDep,
    CurrentTrack,
    CurrentUser,
    FormDep,
    SessionDep,
    api_router,
    form_version,
    html_router,
)
from app.models.consultation import CHANNEL_LABELS
from app.models.tracking import STATUS_LABELS
from app.services import calendar, tasks, tracking
from app.services.dashboard import STAGE_LABELS
from app.services.errors import ConflictError, FormError
from app.services.principal import Principal
from app.services.summary import DUE_SOON_DAYS
from app.templating import is_htmx, redirect, render

router = html_router(tags=["tasks"])
api = api_router()
# The calendar feed is fetched by calendar apps: no session, no CSRF; the secret is the key.
feeds = APIRouter(include_in_schema=False, route_class=RequestUnitRoute)

QUICK_STATUSES = ("doing", "done")  # the one-click changes offered on the list


def _page(
    request: Request,
    session: SessionDep,
    user: Principal,
    catalog: CatalogDep,
    *,
    group: str = "",
    page: int = 1,
    focus: str = "",
    message: str = "",
    success: bool = False,
    calendar_url: str = "",
    status_code: int = 200,
    blocks: list[str] | None = None,
) -> Response:
    today = tracking.today_kst()
    view = tasks.load_page(
        session=session, principal=user, catalog=catalog, today=today, group=group, page=page
    )
    # Whether the changed item still shows its buttons (then they keep the focus, not the message).
    listed = any(
        f"{t.track_id}-{t.item_key}" == focus and t.editable and t.status in ("todo", "doing")
        for g in view.groups
        for t in g.items
    )
    return render(
        request,
        "pages/tasks.html",
        {
            "view": view,
            "groups": tasks.GROUPS,
            "group_help": tasks.GROUP_HELP,
            "quick_statuses": QUICK_STATUSES,
            "stage_labels": STAGE_LABELS,
            "channel_labels": CHANNEL_LABELS,
            "due_soon_days": DUE_SOON_DAYS,
            "focus": focus,
            "message": message,
            "success": success,
            "listed": listed,
            "calendar_url": calendar_url,
            "has_calendar": calendar.has_feed(session=session, principal=user),
        },
        blocks=blocks or ["task_groups"],
        status_code=status_code,
    )


@router.get("/tasks", name="tasks:index")
def task_list(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    group: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    if group and group not in tasks.GROUPS:
        raise FormError({"group": f"'{group}'은(는) 알 수 없는 할 일 묶음입니다."})
    return _page(request, session, user, catalog, group=group, page=page)


def _status(form: FormData) -> str:
    value = form.get("status")
    if value not in QUICK_STATUSES:
        raise FormError({"status": "진행 중 또는 완료만 이 목록에서 바꿀 수 있습니다."})
    return str(value)


@router.post("/tasks/{track_id}/items/{item_key}", name="tasks:update")
def quick_update(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    ctx: CurrentTrack,
    form: FormDep,
    item_key: str,
) -> Response:
    """One-click status change from the list: the same service, rights and 409 as the track page."""
    focus = f"{ctx.track.id}-{item_key}"
    try:
        tracking.update_item(
            session=session,
            principal=user,
            track=ctx.track,
            model=ctx.model,
            item_key=item_key,
            version=form_version(form),
            changes={"status": _status(form)},
        )
    except ConflictError as exc:
        return _page(request, session, user, catalog, focus=focus, message=exc.message, status_code=409)
    except FormError as exc:
        message = " ".join(exc.errors.values())
        return _page(request, session, user, catalog, focus=focus, message=message, status_code=422)
    if not is_htmx(request):
        return redirect(request, str(request.app.url_path_for("tasks:index")))
    item = ctx.model.item(item_key)
    label = STATUS_LABELS[_status(form)]
    done = f"‘{item.text if item else item_key}’ 상태를 {label}(으)로 바꿨습니다."
    return _page(request, session, user, catalog, focus=focus, message=done, success=True)


@router.post("/tasks/calendar", name="tasks:calendar")
def create_calendar(
    request: Request, session: SessionDep, user: CurrentUser, catalog: CatalogDep
) -> Response:
    """Create or reset the private calendar address: the old one stops working at once."""
    secret = calendar.reset_feed(session=session, principal=user)
    url = str(request.url_for("calendar:feed", secret=secret))
    return _page(request, session, user, catalog, calendar_url=url, blocks=["calendar"])


@router.post("/tasks/calendar/delete", name="tasks:calendar_delete")
def delete_calendar(
    request: Request, session: SessionDep, user: CurrentUser, catalog: CatalogDep
) -> Response:
    calendar.remove_feed(session=session, principal=user)
    return _page(request, session, user, catalog, blocks=["calendar"])


@feeds.get("/calendar/{secret}.ics", name="calendar:feed")
def calendar_feed(request: Request, session: SessionDep, catalog: CatalogDep, secret: str) -> Response:
    principal = calendar.principal_for_feed(session=session, secret=secret)
    if principal is None:
        raise HTTPException(status_code=404, detail="캘린더 주소가 없거나 새로 만들어져 더는 쓸 수 없습니다.")
    t = tasks.load_tasks(session=session, principal=principal, catalog=catalog, today=tracking.today_kst())
    body = calendar.build_ics(
        tasks=t,
        item_url=lambda i: f"{request.url_for('tracks:detail', track_id=i.track_id)}#item-{i.item_key}",
        follow_up_url=lambda coop, c: (
            f"{request.url_for('consultations:list', cooperative_id=coop)}?consultation={c}#consultation-{c}"
        ),
        calendar_name=f"마을길잡이 · {principal.display_name}",
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Cache-Control": "private, max-age=300",
            "Content-Disposition": 'inline; filename="maeul.ics"',
        },
    )


# --- the JSON API ------------------------------------------------------------------------------


class TaskOut(BaseModel):
    track_id: int
    cooperative: str
    model: str
    item_key: str
    text: str
    status: str
    due_date: date | None
    lead: str

    @classmethod
    def of(cls, t: tasks.TaskItem) -> TaskOut:
        return cls(
            track_id=t.track_id,
            cooperative=t.cooperative,
            model=t.model_key,
            item_key=t.item_key,
            text=t.text,
            status=t.status,
            due_date=t.due_date,
            lead=t.lead,
        )


class FollowUpOut(BaseModel):
    consultation_id: int
    cooperative_id: int
    cooperative: str
    topic: str
    held_on: date
    channel: str
    follow_up_on: date | None
    track_id: int | None
    item_key: str | None


class TasksOut(BaseModel):
    lead_open: list[TaskOut]
    awaiting_my_verification: list[TaskOut]
    change_requests: list[TaskOut]
    assigned_to_me: list[TaskOut]
    overdue: list[TaskOut]
    due_soon: list[TaskOut]
    follow_ups: list[FollowUpOut]


@api.get("/me/tasks", name="api:my_tasks", response_model=TasksOut)
def my_tasks(session: SessionDep, user: ApiUser, catalog: CatalogDep) -> TasksOut:
    """What waits for the token's user: every group of 내 할 일 in full (an item may be in several)."""
    t = tasks.load_tasks(session=session, principal=user, catalog=catalog, today=tracking.today_kst())
    lists: dict[str, Any] = {key: [TaskOut.of(i) for i in getattr(t, key)] for key in tasks.GROUPS}
    follow_ups = [FollowUpOut.model_validate(f, from_attributes=True) for f in t.follow_ups]
    return TasksOut(**lists, follow_ups=follow_ups)
