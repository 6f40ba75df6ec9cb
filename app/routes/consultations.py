"""상담·지원 기록 and the support statistics (pages and JSON API)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from app.db import in_request_thread
from app.deps import (
    MAX_ID,
    Actor,
    AdminUser,
    ApiUser,
    CatalogDep,
    CurrentCooperative,
    CurrentUser,
    FormDep,
    PathId,
    QueryId,
    SessionDep,
    api_router,
    html_router,
    parse_id,
)
from app.input_guard import IsoDate, StrictVersion
from app.models import Consultation, Cooperative
from app.models.consultation import CHANNEL_LABELS, RESOLUTION_TARGET, TARGET_METRICS
from app.services import consultations, support
from app.services.errors import ConflictError, ForbiddenError, FormError
from app.services.principal import Principal
from app.services.tracking import today_kst
from app.templating import is_htmx, redirect, render

router = html_router(tags=["consultations"])
api = api_router()

FORM_FIELDS = ("held_on", "channel", "topic", "request", "advice", "track_id", "item_key", "follow_up_on")
UPDATE_FIELDS = consultations.EDITABLE


# --- load-or-404 ---------------------------------------------------------------------------------


@in_request_thread
def get_current_consultation(
    consultation_id: PathId, session: SessionDep, principal: Actor
) -> tuple[Consultation, Cooperative]:
    found = consultations.get_visible_consultation(
        session=session, principal=principal, consultation_id=consultation_id
    )
    if found is None:
        raise HTTPException(status_code=404, detail="상담 기록을 찾을 수 없습니다.")
    return found


CurrentConsultation = Annotated[tuple[Consultation, Cooperative], Depends(get_current_consultation)]


# --- the timeline page ---------------------------------------------------------------------------


def _texts(form: Any, names: tuple[str, ...]) -> dict[str, str]:
    return {k: v if isinstance(v := form.get(k), str) else "" for k in names}


def _list_url(request: Request, cooperative_id: int, consultation_id: int | None = None, **more: str) -> str:
    url = str(request.app.url_path_for("consultations:list", cooperative_id=str(cooperative_id)))
    if consultation_id is None:
        return url
    query = "&".join([f"consultation={consultation_id}", *(f"{k}={quote(v)}" for k, v in more.items())])
    return f"{url}?{query}#consultation-{consultation_id}"


def _page(
    request: Request,
    session: Session,
    user: Principal,
    catalog: CatalogDep,
    cooperative: Cooperative,
    *,
    page: int = 1,
    showing: int | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    focus: int | None = None,
    entry: consultations.ConsultationRow | None = None,
    entry_values: dict[str, str] | None = None,
    entry_errors: dict[str, str] | None = None,
    message: str | None = None,
    blocks: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    today = today_kst()
    listing = consultations.list_consultations(
        session=session,
        principal=user,
        cooperative=cooperative,
        catalog=catalog,
        page=page,
        showing=showing if showing is not None else focus,
        today=today,
    )
    recorder = consultations.can_record(user)
    tracks = (
        consultations.track_choices(session=session, cooperative=cooperative, catalog=catalog)
        if recorder
        else []
    )
    return render(
        request,
        "pages/consultations.html",
        {
            "coop": cooperative,
            "listing": listing,
            "can_record": recorder,
            # The form's selects: the cooperative's tracks, and their items grouped by track.
            "track_options": [("", "선택 안 함"), *((str(t.track_id), t.title) for t in tracks)]
            if tracks
            else [],
            "item_groups": {t.title: t.items for t in tracks},
            "channel_labels": CHANNEL_LABELS,
            "today": today,
            "values": values or {"held_on": today.isoformat()},
            "errors": errors or {},
            "saved": saved,
            "focus": focus,
            # The entry an HTMX update answers with (its block renders alone).
            "c": entry,
            "entry_values": entry_values or {},
            "entry_errors": entry_errors or {},
            "message": message,
            "field_labels": consultations.FIELD_LABELS,
        },
        blocks=blocks or [],
        status_code=status_code,
    )


@router.get("/cooperatives/{cooperative_id}/consultations", name="consultations:list")
def consultation_list(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    cooperative: CurrentCooperative,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    consultation: QueryId = None,
    saved: Annotated[bool, Query()] = False,
) -> Response:
    """The timeline; ``consultation`` opens the page that holds it (links to ``#consultation-{id}``)."""
    return _page(request, session, user, catalog, cooperative, page=page, showing=consultation, saved=saved)


@router.post("/cooperatives/{cooperative_id}/consultations", name="consultations:create")
def create_consultation(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    cooperative: CurrentCooperative,
    form: FormDep,
) -> Response:
    values = _texts(form, FORM_FIELDS)
    data = consultations.ConsultationInput(
        held_on=values["held_on"],
        channel=values["channel"],
        topic=values["topic"],
        request=values["request"],
        advice=values["advice"],
        track_id=values["track_id"],
        item_key=values["item_key"],
        follow_up_on=values["follow_up_on"],
    )
    try:
        created = consultations.record_consultation(
            session=session, principal=user, cooperative=cooperative, catalog=catalog, data=data
        )
    except FormError as exc:
        return _page(
            request,
            session,
            user,
            catalog,
            cooperative,
            values=values,
            errors=exc.errors,
            blocks=["consultations"],
            status_code=422,
        )
    assert created.id is not None and cooperative.id is not None  # noqa: S101
    if is_htmx(request):
        # The block again: an empty form, the timeline with the new entry, a status message.
        return _page(
            request,
            session,
            user,
            catalog,
            cooperative,
            showing=created.id,
            saved=True,
            blocks=["consultations"],
        )
    return redirect(request, _list_url(request, cooperative.id, created.id, saved="true"))


@router.post("/consultations/{consultation_id}", name="consultations:update")
def update_consultation(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    current: CurrentConsultation,
    form: FormDep,
) -> Response:
    """Resolve, reopen, or change the follow-up date and advice (the fields the form sends)."""
    consultation, cooperative = current
    assert consultation.id is not None and cooperative.id is not None  # noqa: S101
    values = {k: v for k in UPDATE_FIELDS if isinstance(v := form.get(k), str)}
    version = parse_id(form.get("version"))

    def again(status_code: int, **kwargs: Any) -> Response:
        entry = consultations.consultation_row(
            session=session, principal=user, catalog=catalog, consultation_id=consultation.id or 0
        )
        return _page(
            request,
            session,
            user,
            catalog,
            cooperative,
            focus=consultation.id,
            entry=entry,
            blocks=["entry"],
            status_code=status_code,
            **kwargs,
        )

    try:
        if version is None:
            raise FormError(
                {"version": "고칠 기록의 버전이 없습니다. 페이지를 새로 고친 뒤 다시 시도하세요."}
            )
        consultations.update_consultation(
            session=session, principal=user, consultation=consultation, version=version, changes=values
        )
    except ConflictError as exc:
        return again(409, message=exc.message)
    except FormError as exc:
        return again(422, entry_values=values, entry_errors=exc.errors)
    if is_htmx(request):
        return again(200)
    return redirect(request, _list_url(request, cooperative.id, consultation.id))


# --- support statistics ------------------------------------------------------------------------------


def _stats_viewer(user: Principal) -> None:
    if not support.can_view(user):
        raise HTTPException(status_code=403, detail=support.FORBIDDEN)


def _stats_page(
    request: Request,
    session: Session,
    user: Principal,
    *,
    year_text: str | None,
    target_values: dict[str, str] | None = None,
    target_errors: dict[str, str] | None = None,
    target_center: int | None = None,
    saved_center: int | None = None,
    status_code: int = 200,
) -> Response:
    today = today_kst()
    year_error = None
    try:
        year = support.parse_year(year_text, today=today)
    except FormError as exc:
        year, year_error = today.year, exc.errors["year"]
    stats = None if year_error else support.support_stats(session=session, principal=user, year=year)
    return render(
        request,
        "pages/support_stats.html",
        {
            "stats": stats,
            "year": year,
            "year_text": year_text if year_error else str(year),
            "year_error": year_error,
            "min_year": support.MIN_YEAR,
            "max_year": support.max_year(today),
            "target_metrics": TARGET_METRICS,
            "resolution_target": RESOLUTION_TARGET,
            "target_values": target_values or {},
            "target_errors": target_errors or {},
            "target_center": target_center,
            "saved_center": saved_center,
        },
        blocks=["stats"],
        status_code=422 if year_error else status_code,
    )


@router.get("/dashboard/support", name="consultations:stats")
def support_stats_page(
    request: Request, session: SessionDep, user: CurrentUser, year: str | None = None
) -> Response:
    _stats_viewer(user)
    return _stats_page(request, session, user, year_text=year)


@router.get("/dashboard/support.xlsx", name="consultations:stats_xlsx")
def support_stats_xlsx(
    request: Request, session: SessionDep, user: CurrentUser, year: str | None = None
) -> Response:
    _stats_viewer(user)
    parsed = support.parse_year(year)  # a wrong year: the 422 page, with the message
    stats = support.support_stats(session=session, principal=user, year=parsed)
    ascii_name = f"support-{parsed}.xlsx"
    korean = quote(f"지원실적-{parsed}.xlsx")
    return Response(
        support.support_xlsx(stats, viewer=user),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{korean}",
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/dashboard/support/targets", name="consultations:set_target")
def set_target(request: Request, session: SessionDep, user: AdminUser, form: FormDep) -> Response:
    """Admin: a center's yearly targets; a blank field removes that target."""
    values = _texts(form, ("center_id", "year", *(f"target_{m}" for m in TARGET_METRICS)))
    center_id = parse_id(values["center_id"])
    try:
        support.set_targets(
            session=session,
            principal=user,
            center_id=center_id,
            year=values["year"],
            targets={m: values[f"target_{m}"] for m in TARGET_METRICS if f"target_{m}" in form},
        )
    except FormError as exc:
        return _stats_page(
            request,
            session,
            user,
            year_text=values["year"] if "year" not in exc.errors else None,
            target_values=values,
            target_errors=exc.errors,
            target_center=center_id,
            status_code=422,
        )
    if is_htmx(request):
        return _stats_page(request, session, user, year_text=values["year"], saved_center=center_id)
    url = str(request.app.url_path_for("consultations:stats"))
    return redirect(request, f"{url}?year={values['year']}#targets-{center_id}")


# --- JSON API --------------------------------------------------------------------------------------


ChannelKey = Literal["visit", "phone", "online", "training"]


class ConsultationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    held_on: IsoDate = Field(description="The day it took place (not in the future, Asia/Seoul)")
    channel: ChannelKey = Field(description="visit (방문) | phone (전화) | online (온라인) | training (교육)")
    topic: str = Field(min_length=1, max_length=consultations.MAX_TOPIC)
    request: str = Field(
        default="", max_length=consultations.MAX_TEXT, description="What the cooperative asked"
    )
    advice: str = Field(default="", max_length=consultations.MAX_TEXT, description="The advice given")
    track_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="One of the cooperative's tracks")
    item_key: str | None = Field(
        default=None, max_length=consultations.MAX_ITEM_KEY, description="An item of that track's model"
    )
    follow_up_on: IsoDate | None = Field(default=None, description="Not before held_on")


class ConsultationPatch(BaseModel):
    """Fields left out stay as they are; ``version`` is the one you read."""

    model_config = ConfigDict(extra="forbid")
    version: StrictVersion = Field(ge=1, le=MAX_ID)
    status: Literal["open", "resolved"] | None = Field(
        default=None, description="resolved needs a resolution (sent now or stored)"
    )
    resolution: str | None = Field(default=None, max_length=consultations.MAX_TEXT)
    follow_up_on: IsoDate | None = Field(default=None, description="null removes the follow-up date")
    advice: str | None = Field(default=None, max_length=consultations.MAX_TEXT)


class ConsultationOut(BaseModel):
    id: int
    cooperative_id: int
    track_id: int | None
    item_key: str | None
    item_text: str | None
    held_on: date
    channel: str
    topic: str
    request: str
    advice: str
    follow_up_on: date | None
    overdue: bool = Field(description="Open and its follow-up date has passed (Asia/Seoul)")
    status: Literal["open", "resolved"]
    resolution: str
    resolved_on: date | None
    resolved_by: str | None
    author: str | None
    author_org: str = Field(description="The center or 지자체 that gave it")
    author_role: Literal["center", "municipality"]
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: consultations.ConsultationRow) -> ConsultationOut:
        c = row.consultation
        return cls(
            id=row.id,
            cooperative_id=c.cooperative_id,
            track_id=c.track_id,
            item_key=c.item_key,
            item_text=row.item_text,
            held_on=c.held_on,
            channel=c.channel,
            topic=c.topic,
            request=c.request,
            advice=c.advice,
            follow_up_on=c.follow_up_on,
            overdue=row.overdue,
            status=c.status,
            resolution=c.resolution,
            resolved_on=c.resolved_on,
            resolved_by=row.resolved_by,
            author=row.author,
            author_org=row.author_org,
            author_role=row.author_role,
            version=c.version,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


def _out(session: Session, user: Principal, catalog: CatalogDep, consultation_id: int) -> ConsultationOut:
    row = consultations.consultation_row(
        session=session, principal=user, catalog=catalog, consultation_id=consultation_id
    )
    assert row is not None  # noqa: S101 - visible: it was just loaded or written
    return ConsultationOut.of(row)


@api.get(
    "/cooperatives/{cooperative_id}/consultations",
    name="api:consultations",
    response_model=list[ConsultationOut],
)
def api_list_consultations(
    session: SessionDep,
    catalog: CatalogDep,
    user: ApiUser,
    cooperative: CurrentCooperative,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ConsultationOut]:
    """The cooperative's 상담·지원 기록, newest first (by date held), one page."""
    listing = consultations.list_consultations(
        session=session,
        principal=user,
        cooperative=cooperative,
        catalog=catalog,
        page=page,
        page_size=per_page,
    )
    if page > listing.pages:
        return []
    return [ConsultationOut.of(r) for r in listing.rows]


@api.post(
    "/cooperatives/{cooperative_id}/consultations",
    name="api:create_consultation",
    response_model=ConsultationOut,
    status_code=201,
    responses={
        403: {"description": "Only support center staff and 지자체 officers record consultations"},
        422: {"description": "Invalid input: `detail` maps each field to a Korean message"},
    },
)
def api_create_consultation(
    body: ConsultationIn,
    session: SessionDep,
    catalog: CatalogDep,
    user: ApiUser,
    cooperative: CurrentCooperative,
) -> ConsultationOut:
    """Record a consultation given by the caller's center or 지자체."""
    created = consultations.record_consultation(
        session=session,
        principal=user,
        cooperative=cooperative,
        catalog=catalog,
        data=consultations.ConsultationInput(**body.model_dump()),
    )
    assert created.id is not None  # noqa: S101
    return _out(session, user, catalog, created.id)


@api.patch(
    "/consultations/{consultation_id}",
    name="api:update_consultation",
    response_model=ConsultationOut,
    responses={
        403: {"description": "Only the organization that recorded it"},
        409: {"description": "Stale version: `current` holds the stored consultation"},
        422: {"description": "Invalid input, e.g. resolved without a resolution"},
    },
)
def api_update_consultation(
    patch: ConsultationPatch,
    session: SessionDep,
    catalog: CatalogDep,
    user: ApiUser,
    current: CurrentConsultation,
) -> ConsultationOut | JSONResponse:
    """Resolve (with a resolution), reopen, or change the follow-up date or advice."""
    consultation, _ = current
    assert consultation.id is not None  # noqa: S101
    try:
        consultations.update_consultation(
            session=session,
            principal=user,
            consultation=consultation,
            version=patch.version,
            changes=patch.model_dump(exclude_unset=True, exclude={"version"}),
        )
    except ConflictError as exc:
        stored = _out(session, user, catalog, consultation.id)
        return JSONResponse(
            {"detail": exc.message, "current": stored.model_dump(mode="json")}, status_code=409
        )
    return _out(session, user, catalog, consultation.id)


class TargetOut(BaseModel):
    target: int | None = Field(description="The admin's target for the year; null when none is set")
    actual: int


class SupportSummaryOut(BaseModel):
    center_id: int
    center: str
    consultations: int = Field(description="Consultations held in the year")
    cooperatives: int = Field(description="Distinct cooperatives among them")
    follow_ups_due: int = Field(description="Of those, with a follow-up date")
    follow_ups_on_time: int = Field(description="Of those, resolved on or before the follow-up date")
    resolved: int = Field(description="Of the consultations held in the year, resolved")
    resolution_rate: float | None = Field(description="resolved ÷ consultations (0..1); null when none held")
    resolution_target: float = Field(description="The target rate (0.8)")
    stage_completions: int = Field(description="Cooperatives it serves that completed a stage in the year")
    reached_execute: int = Field(description="Cooperatives it serves that reached 실행 in the year")
    targets: dict[str, TargetOut] = Field(description=", ".join(TARGET_METRICS))


@api.get(
    "/consultations/summary",
    name="api:consultation_summary",
    response_model=list[SupportSummaryOut],
    responses={403: {"description": "Cooperative users have no support statistics"}},
)
def api_consultation_summary(
    session: SessionDep,
    user: ApiUser,
    year: Annotated[
        int | None, Query(ge=support.MIN_YEAR, le=9999, description="Default: this year (KST)")
    ] = None,
) -> list[SupportSummaryOut]:
    """지원 실적: one row per center the caller may see, for one year."""
    if not support.can_view(user):
        raise ForbiddenError(support.FORBIDDEN)
    parsed = support.parse_year(None if year is None else str(year))
    stats = support.support_stats(session=session, principal=user, year=parsed)
    return [
        SupportSummaryOut(
            center_id=r.center_id or 0,
            center=r.center,
            consultations=r.counts.consultations,
            cooperatives=r.counts.cooperatives,
            follow_ups_due=r.counts.follow_ups_due,
            follow_ups_on_time=r.counts.follow_ups_on_time,
            resolved=r.counts.resolved,
            resolution_rate=r.resolution_rate,
            resolution_target=RESOLUTION_TARGET,
            stage_completions=r.counts.stage_completions,
            reached_execute=r.counts.reached_execute,
            targets={m: TargetOut(target=t.target, actual=t.actual) for m, t in r.targets.items()},
        )
        for r in stats.rows
    ]
