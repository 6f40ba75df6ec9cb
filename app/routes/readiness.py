"""위탁 준비도: the readiness report (page, PDF), the evidence bundle and the 지자체's decisions."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from sqlmodel import Session
from starlette.datastructures import UploadFile as StarletteUpload

from app import pdf
from app.deps import (
    CatalogDep,
    CurrentTrack,
    CurrentUser,
    FormDep,
    PathId,
    SessionDep,
    SettingsDep,
    html_router,
)
from app.models.decision import OUTCOME_LABELS
from app.pdf import report_context
from app.services import bundle, decisions, readiness
from app.services.errors import FormError
from app.services.evidence import store_upload
from app.services.principal import Principal
from app.services.tracking import today_kst
from app.templating import redirect, render

router = html_router(tags=["readiness"])


def _report(session: Session, user: Principal, catalog: CatalogDep, ctx: CurrentTrack) -> readiness.Report:
    return readiness.load_report(
        session=session,
        principal=user,
        catalog=catalog,
        track=ctx.track,
        cooperative=ctx.cooperative,
        model=ctx.model,
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
    settings: SettingsDep,
    user: CurrentUser,
    catalog: CatalogDep,
    ctx: CurrentTrack,
) -> Response:
    report = _report(session, user, catalog, ctx)
    report_file = pdf.readiness_pdf(request, report)
    files, rows = bundle.evidence_entries(report, settings.upload_dir)
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
            date.fromisoformat(values["decided_on"].strip()) if values["decided_on"].strip() else None
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
                upload_dir=settings.upload_dir,
                max_bytes=settings.max_upload_bytes,
                field="document",
            )
        decisions.record_decision(
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
    except FormError as exc:
        return _page(request, report, user, values=values, errors=exc.errors, status_code=422)
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
    session: SessionDep, settings: SettingsDep, user: CurrentUser, ctx: CurrentTrack, decision_id: PathId
) -> Response:
    decision = decisions.get_decision(session=session, track=ctx.track, decision_id=decision_id)
    path = settings.upload_dir / decision.document_stored_name
    if not decision.document_stored_name or not path.is_file():
        raise HTTPException(status_code=404, detail="결정 문서가 없습니다.")
    return FileResponse(
        path,
        media_type=decision.document_content_type,
        filename=decision.document_name,
        content_disposition_type="attachment",
        headers={
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-store",
        },
    )
