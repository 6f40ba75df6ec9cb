"""JSON API (/api/v1) for integrations and scripts, authenticated by bearer tokens.

The same visibility rule as the pages: what a token's user may not see is a 404.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from app.catalog import Catalog
from app.catalog.schema import Item
from app.deps import (
    MAX_ID,
    ApiUser,
    CatalogDep,
    CurrentCooperative,
    CurrentTrack,
    SessionDep,
    SettingsDep,
    api_router,
)
from app.input_guard import IsoDate, StrictVersion
from app.models import Track
from app.models.tracking import Status
from app.services import dashboard, tracking, verification
from app.services.errors import ConflictError, ForbiddenError
from app.services.orgs import CooperativeRow, cooperative_row, cooperative_rows
from app.services.progress import Progress, compute_progress
from app.templating import cached_page

router = api_router()


class CooperativeOut(BaseModel):
    id: int
    name: str
    site: str
    address: str
    municipality: str
    support_center: str | None
    approved_on: date | None
    contact: str

    @classmethod
    def of(cls, row: CooperativeRow) -> CooperativeOut:
        c = row.cooperative
        assert c.id is not None  # noqa: S101
        return cls(
            id=c.id,
            name=c.name,
            site=c.site,
            address=c.address,
            municipality=row.municipality,
            support_center=row.support_center,
            approved_on=c.approved_on,
            contact=c.contact,
        )


@router.get("/cooperatives", name="api:cooperatives", response_model=list[CooperativeOut])
def list_cooperatives(session: SessionDep, user: ApiUser) -> list[CooperativeOut]:
    """The cooperatives the token's user may see."""
    return [CooperativeOut.of(r) for r in cooperative_rows(session=session, principal=user)]


@router.get("/cooperatives/{cooperative_id}", name="api:cooperative", response_model=CooperativeOut)
def get_cooperative(session: SessionDep, cooperative: CurrentCooperative) -> CooperativeOut:
    """One cooperative; 404 when it does not exist or is not visible to the token's user."""
    return CooperativeOut.of(cooperative_row(session=session, cooperative=cooperative))


# --- the catalog -------------------------------------------------------------------------------


class StageOut(BaseModel):
    key: str
    title: str
    subtitle: str | None


class CatalogItemOut(BaseModel):
    key: str
    stage: str
    text: str
    note: str | None
    lead: str
    support: list[str]
    consignment: bool


class ModelOut(BaseModel):
    key: str
    number: int
    title: str
    stages: list[StageOut]
    items: list[CatalogItemOut]


def _models_out(catalog: Catalog) -> list[ModelOut]:
    return [
        ModelOut(
            key=m.key,
            number=m.number,
            title=m.title,
            stages=[StageOut(key=s.key, title=s.title, subtitle=s.subtitle) for s in m.stages],
            items=[
                CatalogItemOut(
                    key=i.key,
                    stage=stage,
                    text=i.text,
                    note=i.note,
                    lead=i.lead,
                    support=list(i.support),
                    consignment=i.consignment,
                )
                for stage, i in m.items
            ],
        )
        for m in catalog.models
    ]


_MODELS_ADAPTER = TypeAdapter(list[ModelOut])
# catalog.version → (JSON body, ETag). The content never changes while the process runs, so the
# catalog is serialized once, not on every request (it was ~3 ms over the floor each time).
_MODELS_JSON: dict[str, tuple[bytes, str]] = {}


def models_json(catalog: Catalog) -> tuple[bytes, str]:
    """The catalog as the API's JSON body, and its ETag (the content's fingerprint)."""
    cached = _MODELS_JSON.get(catalog.version) if catalog.version else None
    if cached is None:
        cached = (_MODELS_ADAPTER.dump_json(_models_out(catalog)), f'"models-{catalog.version}"')
        if catalog.version:
            _MODELS_JSON[catalog.version] = cached
    return cached


@router.get(
    "/models",
    name="api:models",
    response_model=list[ModelOut],
    responses={304: {"description": "Not modified: the If-None-Match ETag is still the catalog's"}},
)
def list_models(request: Request, catalog: CatalogDep) -> Response:
    """The six business models and their checklist items, as the content files define them."""
    body, etag = models_json(catalog)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    # Prebuilt bytes: response_model above documents the schema, nothing re-validates them.
    return Response(body, media_type="application/json", headers=headers)


# --- tracks ------------------------------------------------------------------------------------


class RatioOut(BaseModel):
    done: int
    applicable: int
    percent: int


class OpenEarlierOut(BaseModel):
    stage: str = Field(description="A stage with items under way (doing or done)")
    earlier: str = Field(description="An earlier stage that still has open items")
    count: int = Field(description="How many applicable items of the earlier stage are not done")


class ProgressOut(BaseModel):
    overall: RatioOut
    by_stage: dict[str, RatioOut]
    by_role: dict[str, RatioOut]
    current_stage: str | None = Field(description="prepare | plan | execute; null when every item is done")
    # The pages flag these ("준비 단계 미완료 항목 N개"); the API left them out.
    open_earlier: list[OpenEarlierOut]

    @classmethod
    def of(cls, progress: Progress) -> ProgressOut:
        return cls.model_validate(progress.as_dict())


class TrackSummaryOut(BaseModel):
    id: int
    model: str
    cooperative: int
    progress: ProgressOut | None


class StartTrackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="A business model key from GET /api/v1/models")


class ItemOut(BaseModel):
    key: str
    stage: str
    lead: str
    status: str
    version: int
    note: str
    na_reason: str
    assignee: str
    assignee_id: int | None = Field(
        description="The assigned user's id; `assignee` is free text for someone outside the app"
    )
    due_date: date | None
    verified_by: str | None
    verified_at: datetime | None
    updated_at: datetime | None


class TrackOut(BaseModel):
    id: int
    model: str
    cooperative: int
    items: list[ItemOut]
    progress: ProgressOut


class ItemPatch(BaseModel):
    """Fields left out stay as they are; ``version`` is the one you read (0 for a never-touched item)."""

    model_config = ConfigDict(extra="forbid")
    # Optional like every other field: a PATCH that leaves it out keeps the stored status
    # (it was required, contradicting the docstring above); an explicit null is still a 422.
    status: Status | None = None
    version: StrictVersion = Field(ge=0)
    note: str | None = Field(default=None, max_length=tracking.MAX_NOTE)
    na_reason: str | None = Field(default=None, max_length=tracking.MAX_NA_REASON)
    assignee: str | None = Field(default=None, max_length=tracking.MAX_ASSIGNEE)
    assignee_id: int | None = Field(
        default=None,
        ge=1,
        description="A user of the cooperative or of the item's lead organization; null clears",
    )
    due_date: IsoDate | None = None


class EventOut(BaseModel):
    id: int
    at: datetime
    actor: str | None
    action: str
    item_key: str | None
    item_retired: bool
    changes: dict[str, Any]


def item_out(stage: str, item: Item, state: Any | None, verified_by: str | None = None) -> ItemOut:
    """ItemOut from an ItemState or a row of ``tracking.state_rows`` (None: never touched)."""
    return ItemOut(
        key=item.key,
        stage=stage,
        lead=item.lead,
        status=state.status if state else "todo",
        version=state.version if state else 0,
        note=state.note if state else "",
        na_reason=state.na_reason if state else "",
        assignee=state.assignee if state else "",
        assignee_id=state.assignee_id if state else None,
        due_date=state.due_date if state else None,
        verified_by=verified_by,
        verified_at=state.verified_at if state else None,
        updated_at=state.updated_at if state else None,
    )


def item_out_row(stage: str, item: Item, row: Any | None) -> ItemOut:
    return item_out(stage, item, row, row.verified_by if row else None)


def _json(model: BaseModel) -> Response:
    """The model as JSON, the same bytes FastAPI's response_model path makes (pydantic's JSON):
    returning a Response skips FastAPI validating the value again, in a thread hop of its own."""
    return Response(model.model_dump_json(), media_type="application/json")


def _summary(track: Track, summary: dashboard.TrackCard) -> TrackSummaryOut:
    assert track.id is not None  # noqa: S101
    return TrackSummaryOut(
        id=track.id,
        model=track.model_key,
        cooperative=track.cooperative_id,
        progress=ProgressOut.of(summary.progress) if summary.progress else None,
    )


@router.get("/cooperatives/{cooperative_id}/tracks", name="api:tracks", response_model=list[TrackSummaryOut])
def list_tracks(
    session: SessionDep, catalog: CatalogDep, user: ApiUser, cooperative: CurrentCooperative
) -> list[TrackSummaryOut]:
    """The cooperative's tracks with their progress."""
    assert cooperative.id is not None  # noqa: S101
    summaries = dashboard.track_cards(
        session=session, principal=user, catalog=catalog, cooperative_ids=[cooperative.id]
    )
    return [_summary(s.track, s) for s in summaries[cooperative.id]]


@router.post(
    "/cooperatives/{cooperative_id}/tracks",
    name="api:start_track",
    response_model=TrackSummaryOut,
    status_code=201,
    responses={
        403: {"description": "Not allowed to start a track"},
        422: {"description": "Unknown or duplicate model"},
    },
)
def start_track(
    body: StartTrackIn,
    session: SessionDep,
    catalog: CatalogDep,
    user: ApiUser,
    cooperative: CurrentCooperative,
) -> TrackSummaryOut:
    """Start following a business model (the cooperative's users, its support center, admin)."""
    track = tracking.start_track(
        session=session, principal=user, cooperative=cooperative, catalog=catalog, model_key=body.model
    )
    assert track.id is not None  # noqa: S101
    summary = dashboard.track_cards(
        session=session, principal=user, catalog=catalog, cooperative_ids=[track.cooperative_id]
    )
    return _summary(track, next(s for s in summary[track.cooperative_id] if s.track.id == track.id))


@router.get("/tracks/{track_id}", name="api:track", response_model=TrackOut)
def get_track(request: Request, session: SessionDep, ctx: CurrentTrack) -> Response:
    """A track's items (every content item; never-touched ones are todo, version 0) and progress."""
    track_id = ctx.track.id
    assert track_id is not None  # noqa: S101

    def answer() -> Response:
        states = tracking.state_rows(session=session, track_id=track_id)
        progress = compute_progress(model=ctx.model, statuses={k: r.status for k, r in states.items()})
        return _json(
            TrackOut(
                id=track_id,
                model=ctx.model.key,
                cooperative=ctx.track.cooperative_id,
                items=[item_out_row(stage, item, states.get(item.key)) for stage, item in ctx.model.items],
                progress=ProgressOut.of(progress),
            )
        )

    return cached_page(request, ("api-track", track_id, ctx.revision), answer)


@router.patch(
    "/tracks/{track_id}/items/{item_key}",
    name="api:update_item",
    response_model=ItemOut,
    responses={
        403: {"description": "The item's lead is another role"},
        409: {"description": "Stale version: `current` holds the stored item"},
        422: {"description": "Invalid input"},
    },
)
def update_item(
    patch: ItemPatch, session: SessionDep, user: ApiUser, ctx: CurrentTrack, item_key: str
) -> Response:
    """Change an item's status and details if ``version`` is still the stored one."""
    assert ctx.track.id is not None  # noqa: S101
    changes = patch.model_dump(exclude_unset=True, exclude={"version"})
    for text_field in ("note", "na_reason", "assignee"):
        if changes.get(text_field, "") is None:
            changes[text_field] = ""
    try:
        state = tracking.update_item(
            session=session,
            principal=user,
            track=ctx.track,
            model=ctx.model,
            item_key=item_key,
            version=patch.version,
            changes=changes,
        )
    except ConflictError as exc:
        current = _one_item(session, ctx, item_key)
        return JSONResponse(
            {"detail": exc.message, "current": current.model_dump(mode="json")}, status_code=409
        )
    item = ctx.model.item(item_key)
    if item is not None and state.id is not None and state.verified_at is None:
        # The stored item as written (any change clears a 확인, so there is no verifier to name):
        # no need to read it back.
        return _json(item_out(ctx.model.item_stage[item_key], item, state))
    return _json(_one_item(session, ctx, item_key))


def _one_item(session: SessionDep, ctx: CurrentTrack, item_key: str) -> ItemOut:
    assert ctx.track.id is not None  # noqa: S101
    item = ctx.model.item(item_key)
    assert item is not None  # noqa: S101 - update_item raised NotFoundError otherwise
    states = tracking.state_rows(session=session, track_id=ctx.track.id, item_key=item_key)
    return item_out_row(ctx.model.item_stage[item_key], item, states.get(item_key))


@router.get("/tracks/{track_id}/events", name="api:track_events", response_model=list[EventOut])
def track_events(
    session: SessionDep,
    ctx: CurrentTrack,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only events with a smaller id")] = None,
) -> list[EventOut]:
    """All the track's events, newest first; ``limit`` and ``before`` page through them."""
    rows = tracking.list_events(
        session=session, model=ctx.model, track_id=ctx.track.id, limit=limit, before=before
    )
    return [
        EventOut(
            id=r.event.id or 0,
            at=r.event.at,
            actor=r.actor,
            action=r.event.action,
            item_key=r.event.item_key,
            item_retired=r.retired,
            changes=r.event.changes,
        )
        for r in rows
    ]


# --- 현황판 ------------------------------------------------------------------------------------


class DashboardCooperativeOut(BaseModel):
    id: int
    name: str


class AwaitingOut(BaseModel):
    center: int = Field(description="Done items waiting for the support center's 확인")
    municipality: int = Field(description="Done items waiting for the 지자체's 확인")


class ConsignmentOut(BaseModel):
    total: int
    verified: int
    self_reported: int
    open: int
    change_requests: int


class DashboardReadinessOut(BaseModel):
    verdict: Literal["ready", "conditional", "not_ready", "not_applicable"]
    consignment: ConsignmentOut


class DashboardRowOut(BaseModel):
    track_id: int
    cooperative: DashboardCooperativeOut
    region: str = Field(description="The cooperative's 지자체, e.g. 서울특별시 용산구")
    model: str
    current_stage: str | None = Field(description="prepare | plan | execute; null when complete")
    progress: ProgressOut
    lead_open: int = Field(description="Open items led by the caller's role (all open items for admin)")
    overdue: int = Field(description="Open items whose due date is before today (Asia/Seoul)")
    due_soon: int = Field(description="Open items due today or within 14 days")
    awaiting_verification: AwaitingOut
    last_activity_at: datetime | None
    stalled: bool = Field(description="No activity for MAEUL_STALLED_DAYS days and not complete")
    readiness: DashboardReadinessOut
    decision: str | None = Field(description="The newest 위탁 결정: approved | conditional | deferred")


class StageTotalsOut(BaseModel):
    prepare: int
    plan: int
    execute: int
    complete: int


class DashboardTotalsOut(BaseModel):
    cooperatives: int
    tracks: int
    by_stage: StageTotalsOut
    overdue_items: int
    awaiting_verification: int = Field(
        description="Items awaiting the caller's role's 확인 (both roles for admin)"
    )
    stalled_tracks: int


class DashboardOut(BaseModel):
    totals: DashboardTotalsOut = Field(description="Over every row matching the filters, not only this page")
    rows: list[DashboardRowOut]
    page: int
    pages: int
    total_rows: int


SORT_PATTERN = "^-?(" + "|".join(dashboard.SORT_LABELS) + ")$"


async def dashboard_filters(
    catalog: CatalogDep,
    region: Annotated[str, Query(max_length=100, description="A 시·도, or a 지자체's full name")] = "",
    model: Annotated[str, Query(max_length=64, description="A model key")] = "",
    stage: Annotated[Literal["prepare", "plan", "execute", "complete"] | None, Query()] = None,
    overdue: Annotated[bool, Query(description="Only tracks with overdue items")] = False,
    awaiting: Annotated[bool, Query(description="Only tracks with items awaiting the caller's 확인")] = False,
    stalled: Annotated[bool, Query(description="Only stalled tracks")] = False,
    q: Annotated[str, Query(max_length=100, description="Part of the cooperative's name")] = "",
    decision: Annotated[
        Literal["approved", "conditional", "deferred", "none"] | None,
        Query(description="The newest 위탁 결정, or none"),
    ] = None,
    sort: Annotated[
        str, Query(pattern=SORT_PATTERN, description="A column; '-' first for descending")
    ] = dashboard.DEFAULT_SORT,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> dashboard.Filters:
    return dashboard.parse_filters(
        {
            "region": region,
            "model": model,
            "stage": stage or "",
            "overdue": "1" if overdue else "",
            "awaiting": "1" if awaiting else "",
            "stalled": "1" if stalled else "",
            "q": q,
            "decision": decision or "",
            "sort": sort,
            "page": str(page),
        },
        catalog,
    )


@router.get(
    "/dashboard",
    name="api:dashboard",
    response_model=DashboardOut,
    responses={
        403: {"description": "Cooperative users have no 현황판"},
        422: {"description": "Invalid filter"},
    },
)
def get_dashboard(
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    user: ApiUser,
    filters: Annotated[dashboard.Filters, Depends(dashboard_filters)],
) -> DashboardOut:
    """The 현황판: one row per visible track, filtered and sorted, 50 a page, with totals over all rows."""
    if not dashboard.can_view(user):
        raise ForbiddenError("현황판은 도시재생지원센터·지자체·운영 관리자가 봅니다.")
    result = dashboard.load_page(
        session=session, principal=user, catalog=catalog, filters=filters, stalled_days=settings.stalled_days
    )
    return DashboardOut(
        totals=DashboardTotalsOut.model_validate(result.totals.as_dict()),
        rows=[
            DashboardRowOut(
                track_id=r.track_id,
                cooperative=DashboardCooperativeOut(id=r.cooperative_id, name=r.cooperative),
                region=r.municipality,
                model=r.model.key,
                current_stage=r.current_stage,
                progress=ProgressOut.of(r.progress),
                lead_open=r.lead_open,
                overdue=r.overdue,
                due_soon=r.due_soon,
                awaiting_verification=AwaitingOut.model_validate(r.awaiting_by_role),
                last_activity_at=r.last_activity_at,
                stalled=r.stalled,
                readiness=DashboardReadinessOut(
                    verdict=r.verdict,
                    consignment=ConsignmentOut(**r.consignment.as_dict()),
                ),
                decision=r.decision,
            )
            for r in result.rows
        ],
        page=result.page,
        pages=result.pages,
        total_rows=result.totals.tracks,
    )


# --- verification as a conversation ------------------------------------------------------------


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: StrictVersion = Field(ge=0, description="The item's version you read")
    note: str = Field(default="", max_length=verification.MAX_VERIFY_NOTE, description="Optional 확인 메모")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: StrictVersion = Field(ge=0, description="The item's version you read")
    reason: str = Field(min_length=1, max_length=verification.MAX_VERIFY_NOTE)


VERIFY_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not this item's verifier"},
    409: {"description": "Stale version: `current` holds the stored item"},
    422: {"description": "Invalid input, or the item is not in a state that allows it"},
}


def _verification(
    ctx: CurrentTrack,
    session: SessionDep,
    user: ApiUser,
    item_key: str,
    action: Any,
    version: int,
    **text: str,
) -> ItemOut | JSONResponse:
    """Run 확인, 보완 요청 or 확인 취소 and answer with the item; a stale version is 409 with `current`."""
    try:
        action(
            session=session,
            principal=user,
            track=ctx.track,
            model=ctx.model,
            item_key=item_key,
            version=version,
            **text,
        )
    except ConflictError as exc:
        current = _one_item(session, ctx, item_key)
        return JSONResponse(
            {"detail": exc.message, "current": current.model_dump(mode="json")}, status_code=409
        )
    return _one_item(session, ctx, item_key)


@router.post(
    "/tracks/{track_id}/items/{item_key}/verify",
    name="api:verify",
    response_model=ItemOut,
    responses=VERIFY_RESPONSES,
)
def verify(
    body: VerifyIn, session: SessionDep, user: ApiUser, ctx: CurrentTrack, item_key: str
) -> ItemOut | JSONResponse:
    """확인: confirm a done item (위탁 전 확인 items need at least one piece of evidence)."""
    return _verification(ctx, session, user, item_key, verification.verify_item, body.version, note=body.note)


@router.post(
    "/tracks/{track_id}/items/{item_key}/request-changes",
    name="api:request_changes",
    response_model=ItemOut,
    responses=VERIFY_RESPONSES,
)
def request_changes(
    body: ReasonIn, session: SessionDep, user: ApiUser, ctx: CurrentTrack, item_key: str
) -> ItemOut | JSONResponse:
    """보완 요청: send a done item back to doing with a reason, shown until it is done again."""
    return _verification(
        ctx, session, user, item_key, verification.request_changes, body.version, reason=body.reason
    )


@router.post(
    "/tracks/{track_id}/items/{item_key}/unverify",
    name="api:unverify",
    response_model=ItemOut,
    responses=VERIFY_RESPONSES,
)
def unverify(
    body: ReasonIn, session: SessionDep, user: ApiUser, ctx: CurrentTrack, item_key: str
) -> ItemOut | JSONResponse:
    """확인 취소: withdraw a confirmation, with a reason."""
    return _verification(
        ctx, session, user, item_key, verification.unverify_item, body.version, reason=body.reason
    )
