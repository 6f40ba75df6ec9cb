"""위탁 준비도: the readiness report (page, PDF), the evidence bundle and the 지자체's decisions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.datastructures import UploadFile as StarletteUpload

from app import pdf
from app.deps import (
    ApiUser,
    CatalogDep,
    CurrentTrack,
    CurrentUser,
    FormDep,
    PathId,
    SessionDep,
    SettingsDep,
    api_router,
    html_router,
)
from app.input_guard import IsoDate, parse_iso_date
from app.models.decision import OUTCOME_LABELS, Decision
from app.pdf import report_context
from app.routes.api import ConsignmentOut, ItemOut, ProgressOut, item_out
from app.services import bundle, decisions, readiness, tracking
from app.services.errors import ForbiddenError, FormError
from app.services.evidence import StoredFile, store_upload
from app.services.principal import Principal
from app.services.tracking import today_kst
from app.storage import StorageError, download, request_storage
from app.templating import redirect, render

router = html_router(tags=["readiness"])
api = api_router()


def _report(session: Session, user: Principal, catalog: CatalogDep, ctx: CurrentTrack) -> readiness.Report:
    return readiness.load_report(
        session=session,
        principal=user,
        catalog=catalog,
        track=ctx.track,
        cooperative=ctx.cooperative,
        model=ctx.model,
    )


def _decide(
    request: Request,
    session: Session,
    user: Principal,
    ctx: CurrentTrack,
    data: decisions.DecisionInput,
    report: readiness.Report,
    document: StoredFile | None = None,
) -> Decision:
    """Record a 위탁 결정 with the report of this moment as a PDF (the page and the API alike)."""
    return decisions.record_decision(
        session=session,
        principal=user,
        track=ctx.track,
        cooperative=ctx.cooperative,
        model=ctx.model,
        data=data,
        report=report,
        report_pdf=pdf.readiness_pdf(request, report),
        document=document,
        today=today_kst(),
    )


def _download(filename: str, fallback: str) -> dict[str, str]:
    return {
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "private, no-store",
    }


def _page(
    request: Request,
    report: readiness.Report,
    user: Principal,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "pages/readiness.html",
        {
            **report_context(report),
            "can_decide": decisions.can_decide(user, report.cooperative),
            "outcome_labels": OUTCOME_LABELS,
            "values": values or {"decided_on": today_kst().isoformat()},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/tracks/{track_id}/readiness", name="readiness:page")
def readiness_page(
    request: Request, session: SessionDep, user: CurrentUser, catalog: CatalogDep, ctx: CurrentTrack
) -> Response:
    return _page(request, _report(session, user, catalog, ctx), user)


@router.get("/tracks/{track_id}/readiness.pdf", name="readiness:pdf")
def readiness_pdf_download(
    request: Request, session: SessionDep, user: CurrentUser, catalog: CatalogDep, ctx: CurrentTrack
) -> Response:
    report = _report(session, user, catalog, ctx)
    return Response(
        pdf.readiness_pdf(request, report),
        media_type="application/pdf",
        headers=_download(f"위탁준비도-{report.number}.pdf", f"readiness-{report.number}.pdf"),
    )


@router.get("/tracks/{track_id}/evidence.zip", name="readiness:bundle")
def evidence_bundle(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    ctx: CurrentTrack,
) -> Response:
    report = _report(session, user, catalog, ctx)
    report_file = pdf.readiness_pdf(request, report)
    files, rows = bundle.evidence_entries(report, storage=request_storage(request))
    manifest = bundle.manifest_csv(rows, bundle.uploader_names(session, report))
    entries = [
        bundle.Entry(f"위탁준비도-{report.number}.pdf", data=report_file),
        bundle.Entry("manifest.csv", data=manifest),
        *files,
    ]
    # Everything from the database is read by now; the files stream after the session closes.
    return StreamingResponse(
        bundle.stream_zip(entries, at=report.generated_at),
        media_type="application/zip",
        headers=_download(f"증빙묶음-{report.number}.zip", f"evidence-{report.number}.zip"),
    )


def _decision_input(form: Any) -> tuple[decisions.DecisionInput, dict[str, str]]:
    values = {
        k: v if isinstance(v := form.get(k), str) else ""
        for k in ("outcome", "decided_on", "document_number", "conditions", "reason")
    }
    try:
        decided_on: date | None = (
            parse_iso_date(values["decided_on"].strip()) if values["decided_on"].strip() else None
        )
    except ValueError:
        decided_on = None
    data = decisions.DecisionInput(
        outcome=values["outcome"],
        decided_on=decided_on,
        document_number=values["document_number"],
        conditions=values["conditions"],
        reason=values["reason"],
    )
    return data, values


@router.post("/tracks/{track_id}/decisions", name="readiness:decide")
def record_decision(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    catalog: CatalogDep,
    ctx: CurrentTrack,
    form: FormDep,
) -> Response:
    data, values = _decision_input(form)
    report = _report(session, user, catalog, ctx)
    try:
        decisions.validate(data, today=today_kst())  # before anything is rendered or stored
        upload = form.get("document")
        document = None
        if isinstance(upload, StarletteUpload) and upload.filename:
            document = store_upload(
                session=session,
                filename=upload.filename,
                stream=upload.file,
                storage=request_storage(request),
                max_bytes=settings.max_upload_bytes,
                field="document",
            )
        _decide(request, session, user, ctx, data, report, document)
    except FormError as exc:
        return _page(request, report, user, values=values, errors=exc.errors, status_code=422)
    except StorageError as exc:  # the server's fault; nothing was recorded
        return _page(request, report, user, values=values, errors={"document": exc.message}, status_code=503)
    url = str(request.app.url_path_for("readiness:page", track_id=str(ctx.track.id)))
    return redirect(request, f"{url}#decision-saved")


@router.get("/tracks/{track_id}/decisions/{decision_id}/report.pdf", name="readiness:decision_pdf")
def decision_pdf(session: SessionDep, user: CurrentUser, ctx: CurrentTrack, decision_id: PathId) -> Response:
    decision = decisions.get_decision(session=session, track=ctx.track, decision_id=decision_id)
    return Response(
        decision.report_pdf,
        media_type="application/pdf",
        headers=_download(
            f"위탁준비도-{decision.report_number}.pdf", f"readiness-{decision.report_number}.pdf"
        ),
    )


@router.get("/tracks/{track_id}/decisions/{decision_id}/document", name="readiness:decision_document")
def decision_document(
    request: Request, session: SessionDep, user: CurrentUser, ctx: CurrentTrack, decision_id: PathId
) -> Response:
    decision = decisions.get_decision(session=session, track=ctx.track, decision_id=decision_id)
    return download(
        request_storage(request),
        decision.document_stored_name,
        filename=decision.document_name,
        content_type=decision.document_content_type,
        missing="결정 문서가 없습니다.",
        request=request,
        modified=decision.created_at,
    )


# --- the JSON API -------------------------------------------------------------------


class EvidenceOut(BaseModel):
    id: int
    kind: str
    title: str
    size: int
    sha256: str
    uploaded_at: datetime


class ReadinessItemOut(ItemOut):
    text: str
    change_request: str
    verified_note: str
    evidence: list[EvidenceOut]


class ReadinessOut(BaseModel):
    verdict: Literal["ready", "conditional", "not_ready", "not_applicable"]
    reasons: list[str]
    consignment: ConsignmentOut
    items: list[ReadinessItemOut] = Field(description="The 위탁 전 확인 items")
    progress: ProgressOut
    report_number: str
    generated_at: datetime
    content_version: str


@api.get("/tracks/{track_id}/readiness", name="api:readiness", response_model=ReadinessOut)
def get_readiness(session: SessionDep, catalog: CatalogDep, user: ApiUser, ctx: CurrentTrack) -> ReadinessOut:
    """The readiness verdict (위탁 준비도) and what it rests on, as on the report page."""
    report = readiness.load_report(
        session=session,
        principal=user,
        catalog=catalog,
        track=ctx.track,
        cooperative=ctx.cooperative,
        model=ctx.model,
    )
    items = []
    for row in report.items:
        assert row.item is not None  # noqa: S101 - consignment rows come from the content
        base = item_out(row.stage, row.item, row.state, row.verified_by if row.state else None)
        items.append(
            ReadinessItemOut(
                **base.model_dump(),
                text=row.item.text,
                change_request=row.change_request,
                verified_note=row.state.verified_note if row.state else "",
                evidence=[
                    EvidenceOut(
                        id=e.id or 0,
                        kind=e.kind,
                        title=e.title,
                        size=e.size,
                        sha256=e.sha256,
                        uploaded_at=e.created_at,
                    )
                    for e in row.evidence
                ],
            )
        )
    return ReadinessOut(
        verdict=report.verdict,
        reasons=report.reasons,
        consignment=ConsignmentOut(**report.consignment.as_dict()),
        items=items,
        progress=ProgressOut.of(report.view.progress),
        report_number=report.number,
        generated_at=report.generated_at,
        content_version=report.content_version,
    )


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["approved", "conditional", "deferred"]
    decided_on: IsoDate
    document_number: str = Field(min_length=1, max_length=decisions.MAX_DOCUMENT_NUMBER)
    conditions: str = Field(default="", max_length=decisions.MAX_TEXT, description="Required for conditional")
    reason: str = Field(default="", max_length=decisions.MAX_TEXT, description="Required for deferred")


class DecisionOut(BaseModel):
    id: int
    outcome: str
    decided_on: date
    document_number: str
    conditions: str
    reason: str
    verdict: str = Field(description="The readiness verdict when the decision was recorded")
    report_number: str
    report_sha256: str = Field(description="SHA-256 of the readiness PDF stored with the decision")
    decided_by: str | None
    created_at: datetime
    current: bool = Field(description="The newest decision, which supersedes the earlier ones")


def _decision_out(row: readiness.DecisionRow, current: bool) -> DecisionOut:
    d = row.decision
    return DecisionOut(
        id=d.id or 0,
        outcome=d.outcome,
        decided_on=d.decided_on,
        document_number=d.document_number,
        conditions=d.conditions,
        reason=d.reason,
        verdict=d.verdict,
        report_number=d.report_number,
        report_sha256=d.report_sha256,
        decided_by=row.decided_by,
        created_at=d.created_at,
        current=current,
    )


@api.get("/tracks/{track_id}/decisions", name="api:decisions", response_model=list[DecisionOut])
def list_decisions(session: SessionDep, ctx: CurrentTrack) -> list[DecisionOut]:
    """The track's 위탁 결정, newest (current) first."""
    assert ctx.track.id is not None  # noqa: S101
    rows = readiness.decisions_of(session, ctx.track.id)
    return [_decision_out(r, i == 0) for i, r in enumerate(rows)]


@api.post(
    "/tracks/{track_id}/decisions",
    name="api:decide",
    response_model=DecisionOut,
    status_code=201,
    responses={403: {"description": "Only the cooperative's 지자체"}, 422: {"description": "Invalid input"}},
)
def create_decision(
    body: DecisionIn,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    user: ApiUser,
    ctx: CurrentTrack,
) -> DecisionOut:
    """Record a 위탁 결정; the readiness report of this moment is stored with it (PDF)."""
    if not decisions.can_decide(user, ctx.cooperative):
        raise ForbiddenError("위탁 결정은 이 조합을 관할하는 지자체 담당자만 기록할 수 있습니다.")
    data = decisions.DecisionInput(
        body.outcome, body.decided_on, body.document_number, body.conditions, body.reason
    )
    decisions.validate(data, today=tracking.today_kst())
    decision = _decide(request, session, user, ctx, data, _report(session, user, catalog, ctx))
    return _decision_out(readiness.DecisionRow(decision, user.display_name), True)
