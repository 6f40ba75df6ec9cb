"""Liveness and readiness for load balancers and the Docker HEALTHCHECK."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from app.db import RequestUnitRoute
from app.deps import CatalogDep
from app.errors import RETRY_AFTER

router = APIRouter(tags=["health"], route_class=RequestUnitRoute)
FAVICON = Path(__file__).resolve().parent.parent / "static" / "favicon.svg"


@router.get("/favicon.ico", name="health:favicon", include_in_schema=False)
def favicon() -> FileResponse:
    """Browsers ask for /favicon.ico whatever the page links; answer with the same icon."""
    return FileResponse(FAVICON, media_type="image/svg+xml")


@router.get("/healthz", name="health:check")
def healthz(request: Request, catalog: CatalogDep) -> JSONResponse:
    engine: Engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError:
        database = "unreachable"
    ok = database == "ok"
    # Answers within make_engine's connect timeout; recovers by itself once the database is back
    # (the pool pings and replaces connections the outage killed).
    return JSONResponse(
        {"status": "ok" if ok else "error", "database": database, "models": len(catalog.models)},
        status_code=200 if ok else 503,
        headers=None if ok else {"Retry-After": RETRY_AFTER},
    )
