"""The track page (사업 추진) and every change made from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.datastructures import FormData

from app.catalog.schema import LEAD_ROLES
from app.deps import (
    CatalogDep,
    CurrentCooperative,
    CurrentTrack,
    CurrentUser,
    FormDep,
    PathId,
    QueryId,
    SessionDep,
    SettingsDep,
    TrackContext,
    form_version,
    html_router,
)
from app.input_guard import parse_iso_date
from app.models.tracking import STATUSES
from app.services import evidence as evidence_service
from app.services import exports, tracking, verification
from app.services.errors import ConflictError, FormError
from app.services.principal import Principal
from app.services.readiness import readiness_of_view
from app.storage import StorageError, download, request_storage
from app.templating import cached_page, is_htmx, redirect, render, with_query

router = html_router(tags=["tracks"])

ITEM_BLOCKS = ["item_row", "progress_oob"]
# The blocks that show one item and what changes around it (the others show the whole checklist).
ITEM_LEVEL_BLOCKS = frozenset({*ITEM_BLOCKS, "item_panel"})
EVENTS_PAGE = 50


# ?show= narrows the checklist to what a count on the 현황판 or the cooperative page stands for.
SHOW_FILTERS = {
    "consignment": "위탁 전 확인 항목",
    "open": "미완료 항목",
    "overdue": "기한 지난 항목",
    "due_soon": "14일 안에 기한인 항목",
    "awaiting": "확인을 기다리는 항목",
}


def _check_filters(role: str, status: str, show: str = "") -> None:
    """Unknown filter values are a clear 400, not silently ignored."""
    if show and show not in SHOW_FILTERS:
        raise HTTPException(status_code=400, detail=f"알 수 없는 보기 필터입니다: '{show}'.")
    if role and role not in LEAD_ROLES:
        raise HTTPException(status_code=400, detail=f"알 수 없는 역할 필터입니다: '{role}'.")
    if status and status not in STATUSES:
        raise HTTPException(status_code=400, detail=f"알 수 없는 상태 필터입니다: '{status}'.")


def _track_page(
    request: Request,
    session: SessionDep,
    user: Principal,
    ctx: CurrentTrack,
    *,
    blocks: list[str] | None = None,
    status_code: int = 200,
    focus: str | None = None,
    message: str | None = None,
    errors: dict[str, str] | None = None,
    role: str = "",
    status: str = "",
    show: str = "",
    open_details: bool = False,
    focus_result: bool = False,
    open_key: str = "",
) -> Response:
    catalog = request.app.state.catalog
    # Item panels (세부 정보: the editor, evidence, comments) are rendered only where they are
    # shown open: the item just edited from its panel, or the one a link asked for (?open=).
    # The others load on demand (tracks:item_panel), which keeps the page a fraction of its size.
    panels = {key for key in (focus if open_details else None, open_key) if key}
    view: tracking.TrackView | tracking.ItemView | None = None
    if focus and blocks and ITEM_LEVEL_BLOCKS.issuperset(blocks) and is_htmx(request):
        # An answer about one item renders only that item's row (or panel) and what changes
        # around it, built without the track's other rows.
        view = tracking.load_item_view(
            session=session,
            principal=user,
            track=ctx.track,
            cooperative=ctx.cooperative,
            model=ctx.model,
            item_key=focus,
            panel=focus in panels,
        )
    if view is None:
        view = tracking.load_track_view(
            session=session,
            principal=user,
            track=ctx.track,
            cooperative=ctx.cooperative,
            model=ctx.model,
            panels=panels,
        )
    if isinstance(view, tracking.ItemView):
        row: tracking.ItemRow | None = view.row
    else:
        row = view.row(focus) if focus else None
    return render(
        request,
        "pages/track.html",
        {
            "view": view,
            "readiness": readiness_of_view(view),
            "row": row,
            "focus": focus,
            "message": message,
            "errors": errors or {},
            "filters": {"role": role, "status": status, "show": show},
            "show_labels": SHOW_FILTERS,
            "stages_by_key": {s.key: s for s in ctx.model.stages},
            "catalog": catalog,
            "open_details": open_details,
            "panels": panels,
            # After 확인, 보완 요청 or 확인 취소 the row's outcome takes the keyboard focus.
            "focus_result": focus_result,
        },
        blocks=blocks or [],
        status_code=status_code,
    )


def _after_item_change(
    request: Request,
    session: SessionDep,
    user: Principal,
    ctx: CurrentTrack,
    item_key: str,
    *,
    status_code: int = 200,
    message: str | None = None,
    errors: dict[str, str] | None = None,
    open_details: bool = False,
    focus_result: bool = False,
) -> Response:
    """HTMX: the item row plus out-of-band progress bars. Plain forms: back to the page."""
    if is_htmx(request) or status_code >= 400:
        return _track_page(
            request,
            session,
            user,
            ctx,
            blocks=ITEM_BLOCKS,
            status_code=status_code,
            focus=item_key,
            message=message,
            errors=errors,
            open_details=open_details or bool(errors),
            focus_result=focus_result,
        )
    url = str(request.app.url_path_for("tracks:detail", track_id=str(ctx.track.id)))
    # A change made in the item's panel comes back with that panel open (it loads lazily).
    return redirect(request, f"{with_query(url, open=item_key) if open_details else url}#item-{item_key}")


def _item_action(
    request: Request,
    session: SessionDep,
    user: Principal,
    ctx: CurrentTrack,
    item_key: str,
    action: Callable[[], object],
    *,
    open_details: bool = False,
    focus_result: bool = False,
) -> Response:
    """Run one change to an item and answer with the row: 409 for a stale version, 422 for bad input."""
    try:
        action()
    except ConflictError as exc:
        return _after_item_change(
            request,
            session,
            user,
            ctx,
            item_key,
            status_code=409,
            message=exc.message,
            open_details=open_details,
            focus_result=focus_result,
        )
    except FormError as exc:
        return _after_item_change(
            request,
            session,
            user,
            ctx,
            item_key,
            status_code=422,
            errors=exc.errors,
            focus_result=focus_result,
        )
    return _after_item_change(
        request, session, user, ctx, item_key, open_details=open_details, focus_result=focus_result
    )


@router.post("/cooperatives/{cooperative_id}/tracks", name="tracks:start")
def start_track(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    cooperative: CurrentCooperative,
    model: Annotated[str, Form()] = "",
) -> Response:
    track = tracking.start_track(
        session=session, principal=user, cooperative=cooperative, catalog=catalog, model_key=model
    )
    return redirect(request, str(request.app.url_path_for("tracks:detail", track_id=str(track.id))))


@router.get("/tracks/{track_id}", name="tracks:detail")
def track_detail(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    ctx: CurrentTrack,
    role: str = "",
    status: str = "",
    show: str = "",
    open_key: Annotated[str, Query(alias="open", max_length=64)] = "",
) -> Response:
    _check_filters(role, status, show)

    def page() -> Response:
        return _track_page(
            request,
            session,
            user,
            ctx,
            blocks=["checklist"],
            role=role,
            status=status,
            show=show,
            open_key=open_key,
        )

    if open_key:  # a panel's evidence and comments are not part of the revision's key
        return page()
    assert ctx.track.id is not None  # noqa: S101
    # Dates on the page count from today (overdue, due soon).
    key = ("track-page", ctx.track.id, ctx.revision, tracking.today_kst(), role, status, show)
    return cached_page(request, key, page)


@router.get("/tracks/{track_id}/items/{item_key}", name="tracks:item_panel")
def item_panel(
    request: Request, session: SessionDep, user: CurrentUser, ctx: CurrentTrack, item_key: str
) -> Response:
    """An item's 세부 정보 panel, fetched by HTMX when its row is first opened; without HTMX,
    the page with that panel open (the same block either way)."""
    if ctx.model.item(item_key) is None:
        raise HTTPException(status_code=404, detail="체크리스트 항목을 찾을 수 없습니다.")
    if not is_htmx(request):
        url = str(request.app.url_path_for("tracks:detail", track_id=str(ctx.track.id)))
        return redirect(request, f"{with_query(url, open=item_key)}#item-{item_key}")
    return _track_page(request, session, user, ctx, blocks=["item_panel"], focus=item_key, open_key=item_key)


def _form_changes(form: FormData) -> dict[str, Any]:
    """Only the fields the form sent are changes; a blank date clears the due date."""
    changes: dict[str, Any] = {}
    for name in tracking.EDITABLE_FIELDS:
        value = form.get(name)
        if isinstance(value, str):
            changes[name] = value
    if "assignee_id" in changes:
        raw_id = changes["assignee_id"].strip()
        if raw_id and not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 9):
            raise FormError({"assignee_id": "담당자로 지정할 사용자를 목록에서 고르세요."})
        changes["assignee_id"] = int(raw_id) if raw_id else None
    if "due_date" in changes:
        raw = changes["due_date"].strip()
        try:
            changes["due_date"] = parse_iso_date(raw) if raw else None
        except ValueError as exc:
            raise FormError({"due_date": f"'{raw}'은(는) 날짜 형식(YYYY-MM-DD)이 아닙니다."}) from exc
    return changes


@router.post("/tracks/{track_id}/items/{item_key}", name="tracks:update_item")
def update_item(
    request: Request, session: SessionDep, user: CurrentUser, ctx: CurrentTrack, form: FormDep, item_key: str
) -> Response:
    return _item_action(
        request,
        session,
        user,
        ctx,
        item_key,
        lambda: tracking.update_item(
            session=session,
            principal=user,
            track=ctx.track,
            model=ctx.model,
            item_key=item_key,
            version=form_version(form),
            changes=_form_changes(form),
        ),
        open_details=form.get("from_details") == "1",
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _verification(
    request: Request,
    session: SessionDep,
    user: Principal,
    ctx: CurrentTrack,
    form: FormData,
    item_key: str,
    action: Callable[..., object],
    **text: str,
) -> Response:
    """확인, 보완 요청 or 확인 취소 from the item row; ``text`` maps the service's argument to a form field."""
    return _item_action(
        request,
        session,
        user,
        ctx,
        item_key,
        lambda: action(
            session=session,
            principal=user,
            track=ctx.track,
            model=ctx.model,
            item_key=item_key,
            version=form_version(form),
            **{arg: _text(form, field) for arg, field in text.items()},
        ),
        focus_result=True,
    )


@router.post("/tracks/{track_id}/items/{item_key}/verify", name="tracks:verify")
def verify_item(
    request: Request, session: SessionDep, user: CurrentUser, ctx: CurrentTrack, form: FormDep, item_key: str
) -> Response:
    return _verification(request, session, user, ctx, form, item_key, verification.verify_item, note="note")


@router.post("/tracks/{track_id}/items/{item_key}/request-changes", name="tracks:request_changes")
def request_changes(
    request: Request, session: SessionDep, user: CurrentUser, ctx: CurrentTrack, form: FormDep, item_key: str
) -> Response:
    return _verification(
        request, session, user, ctx, form, item_key, verification.request_changes, reason="reason"
    )


@router.post("/tracks/{track_id}/items/{item_key}/unverify", name="tracks:unverify")
def unverify_item(
    request: Request, session: SessionDep, user: CurrentUser, ctx: CurrentTrack, form: FormDep, item_key: str
) -> Response:
    return _verification(
        request, session, user, ctx, form, item_key, verification.unverify_item, reason="reason"
    )


@router.post("/tracks/{track_id}/items/{item_key}/comments", name="tracks:comment")
def add_comment(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    ctx: CurrentTrack,
    item_key: str,
    body: Annotated[str, Form()] = "",
) -> Response:
    return _item_action(
        request,
        session,
        user,
        ctx,
        item_key,
        lambda: tracking.add_comment(
            session=session, principal=user, track=ctx.track, model=ctx.model, item_key=item_key, body=body
        ),
        open_details=True,
    )


@router.post("/tracks/{track_id}/items/{item_key}/evidence", name="tracks:add_evidence")
def add_evidence(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    ctx: CurrentTrack,
    item_key: str,
    file: UploadFile | None = None,
    url: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
) -> Response:
    def add() -> object:
        if file is not None and file.filename:
            return evidence_service.add_file(
                session=session,
                principal=user,
                track=ctx.track,
                model=ctx.model,
                item_key=item_key,
                filename=file.filename,
                stream=file.file,
                storage=request_storage(request),
                max_bytes=settings.max_upload_bytes,
            )
        if url.strip():
            return evidence_service.add_link(
                session=session,
                principal=user,
                track=ctx.track,
                model=ctx.model,
                item_key=item_key,
                url=url,
                title=title,
            )
        raise FormError({"file": "올릴 파일을 고르거나 링크 주소를 입력하세요."})

    try:
        return _item_action(request, session, user, ctx, item_key, add, open_details=True)
    except StorageError as exc:
        # The server's fault, not the file's: a 503. Nothing was stored (no row, no event, no
        # bytes). htmx swaps no 5xx, so there the error page's message goes to the page's alert
        # region (app.js); without script the page shows it in the item like its other errors.
        if is_htmx(request):
            raise HTTPException(status_code=503, detail=exc.message) from exc
        return _after_item_change(
            request,
            session,
            user,
            ctx,
            item_key,
            status_code=503,
            errors={"file": exc.message},
            open_details=True,
        )


@router.post("/tracks/{track_id}/evidence/{evidence_id}/remove", name="tracks:remove_evidence")
def remove_evidence(
    request: Request, session: SessionDep, user: CurrentUser, ctx: CurrentTrack, evidence_id: PathId
) -> Response:
    evidence = evidence_service.get_evidence(session=session, track=ctx.track, evidence_id=evidence_id)
    return _item_action(
        request,
        session,
        user,
        ctx,
        evidence.item_key,
        lambda: evidence_service.remove_evidence(
            session=session, principal=user, track=ctx.track, model=ctx.model, evidence=evidence
        ),
        open_details=True,
    )


@router.get("/tracks/{track_id}/evidence/{evidence_id}", name="tracks:download_evidence")
def download_evidence(
    request: Request, session: SessionDep, user: CurrentUser, ctx: CurrentTrack, evidence_id: PathId
) -> Response:
    evidence = evidence_service.get_evidence(session=session, track=ctx.track, evidence_id=evidence_id)
    if evidence.kind != "file":
        raise HTTPException(status_code=404, detail="링크 증빙은 내려받을 파일이 없습니다.")
    # Streams after the request's session is committed and closed.
    return download(
        request_storage(request),
        evidence.stored_name,
        filename=evidence.title,
        content_type=evidence.content_type,
        missing="증빙 파일이 저장소에 없습니다. 관리자에게 문의하세요.",
        request=request,
        modified=evidence.created_at,
    )


@router.get("/tracks/{track_id}/events", name="tracks:events")
def track_events(
    request: Request, session: SessionDep, user: CurrentUser, ctx: CurrentTrack, before: QueryId = None
) -> Response:
    events = tracking.list_events(
        session=session, model=ctx.model, track_id=ctx.track.id, limit=EVENTS_PAGE + 1, before=before
    )
    return render(
        request,
        "pages/timeline.html",
        {
            "title": f"{ctx.cooperative.name} · {ctx.model.title}",
            "cooperative": ctx.cooperative,
            "track": ctx.track,
            "model": ctx.model,
            "events": events[:EVENTS_PAGE],
            "next_before": events[EVENTS_PAGE - 1].event.id if len(events) > EVENTS_PAGE else None,
        },
        blocks=["timeline"],
    )


@router.get("/tracks/{track_id}/events.csv", name="tracks:events_csv")
def track_events_csv(session: SessionDep, user: CurrentUser, ctx: CurrentTrack) -> Response:
    events = tracking.list_events(session=session, model=ctx.model, track_id=ctx.track.id)
    filename = f"track-{ctx.track.id}-{ctx.model.key}-events.csv"
    return Response(
        exports.events_csv(events),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _checklist_name(ctx: TrackContext, suffix: str) -> dict[str, str]:
    from urllib.parse import quote

    korean = quote(f"체크리스트-{ctx.cooperative.name}-{ctx.model.title}.{suffix}")
    return {
        "Content-Disposition": f"attachment; filename=\"track-{ctx.track.id}-checklist.{suffix}\"; filename*=UTF-8''{korean}"
    }


@router.get("/tracks/{track_id}/checklist.csv", name="tracks:checklist_csv")
def checklist_csv(session: SessionDep, user: CurrentUser, ctx: CurrentTrack) -> Response:
    view = tracking.load_track_view(
        session=session,
        principal=user,
        track=ctx.track,
        cooperative=ctx.cooperative,
        model=ctx.model,
        events_limit=0,
    )
    return Response(
        exports.checklist_csv(view), media_type="text/csv; charset=utf-8", headers=_checklist_name(ctx, "csv")
    )


@router.get("/tracks/{track_id}/checklist.xlsx", name="tracks:checklist_xlsx")
def checklist_xlsx(session: SessionDep, user: CurrentUser, ctx: CurrentTrack) -> Response:
    view = tracking.load_track_view(
        session=session,
        principal=user,
        track=ctx.track,
        cooperative=ctx.cooperative,
        model=ctx.model,
        events_limit=0,
    )
    return Response(
        exports.checklist_xlsx(view),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=_checklist_name(ctx, "xlsx"),
    )


@router.get("/cooperatives/{cooperative_id}/events", name="coops:events")
def cooperative_events(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    cooperative: CurrentCooperative,
    before: QueryId = None,
) -> Response:
    events = tracking.list_events(
        session=session, catalog=catalog, cooperative_id=cooperative.id, limit=EVENTS_PAGE + 1, before=before
    )
    return render(
        request,
        "pages/timeline.html",
        {
            "title": cooperative.name,
            "cooperative": cooperative,
            "track": None,
            "model": None,
            "events": events[:EVENTS_PAGE],
            "next_before": events[EVENTS_PAGE - 1].event.id if len(events) > EVENTS_PAGE else None,
        },
        blocks=["timeline"],
    )
