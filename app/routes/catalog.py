"""Public guidebook pages: the home page and one page per business model."""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import Response

from app.deps import CatalogDep, CurrentModel, html_router
from app.services.catalog import UnknownRoleError, filter_stages, parse_role
from app.templating import render

router = html_router(tags=["catalog"])


@router.get("/", name="catalog:home")
def home(request: Request, catalog: CatalogDep) -> Response:
    return render(request, "pages/home.html", {"catalog": catalog})


@router.get("/models/{model_key}", name="catalog:model")
def model_page(request: Request, catalog: CatalogDep, model: CurrentModel, role: str = "") -> Response:
    try:
        lead_role = parse_role(role)
    except UnknownRoleError as exc:
        raise HTTPException(
            status_code=400,
            detail=f"알 수 없는 역할 필터입니다: '{exc.value}'. 전체, 지자체, 지원센터, 조합 중에서 고르세요.",
        ) from exc
    return render(
        request,
        "pages/model.html",
        {
            "catalog": catalog,
            "model": model,
            "role": lead_role,
            "stages": filter_stages(model=model, role=lead_role),
        },
        blocks=["checklist"],
    )
