"""현황판: the support center's, the 지자체's and the admin's view across cooperatives."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import Response

from app import charts as chart_svg
from app.deps import CatalogDep, CurrentUser, SessionDep, SettingsDep, html_router
from app.services import dashboard, exports, revision
from app.services.errors import FormError
from app.services.principal import Principal
from app.templating import cached_page, redirect, render

router = html_router(tags=["dashboard"])


def _viewer(request: Request, user: Principal) -> None:
    if not dashboard.can_view(user):
        raise HTTPException(status_code=403, detail="현황판은 도시재생지원센터·지자체·운영 관리자가 봅니다.")


def _filters(request: Request, catalog: CatalogDep) -> dashboard.Filters:
    """Filters from the URL; a wrong value is a 400 naming the parameter, in Korean."""
    try:
        return dashboard.parse_filters(request.query_params, catalog)
    except FormError as exc:
        detail = " ".join(f"{name}: {message}" for name, message in exc.errors.items())
        raise HTTPException(status_code=400, detail=f"현황판 조건이 올바르지 않습니다. {detail}") from exc


@router.get("/dashboard", name="dashboard:index")
def dashboard_page(
    request: Request, session: SessionDep, user: CurrentUser, catalog: CatalogDep, settings: SettingsDep
) -> Response:
    if user.role == "coop" and user.cooperative_id is not None:
        # A cooperative's own page is its overview.
        return redirect(
            request, str(request.app.url_path_for("coops:detail", cooperative_id=str(user.cooperative_id)))
        )
    _viewer(request, user)
    filters = _filters(request, catalog)
    # Its times (정체 since, today) are of the minute, so the page cache can keep a page while
    # nothing the viewer sees changes.
    now = dashboard.minute_now()

    def page() -> Response:
        loaded = dashboard.load_page(
            session=session,
            principal=user,
            catalog=catalog,
            filters=filters,
            stalled_days=settings.stalled_days,
            now=now,
        )
        return render(
            request,
            "pages/dashboard.html",
            {
                "page": loaded,
                "f": loaded.filters,
                "regions": dashboard.region_options(session=session, principal=user),
                "models": catalog.models,
                "sort_labels": dashboard.SORT_LABELS,
                "stage_labels": dashboard.STAGE_LABELS,
                "decision_filters": dashboard.DECISION_FILTERS,
                "stalled_days": settings.stalled_days,
            },
            blocks=["results"],
        )

    key = ("dashboard", revision.viewer(session=session, principal=user), now, filters, settings.stalled_days)
    return cached_page(request, key, page)


def _charts(
    request: Request, session: SessionDep, user: Principal, catalog: CatalogDep, settings: SettingsDep
) -> tuple[dashboard.Filters, dashboard.Charts]:
    _viewer(request, user)
    filters = _filters(request, catalog)
    totals = dashboard.load_totals(
        session=session, principal=user, catalog=catalog, filters=filters, stalled_days=settings.stalled_days
    )
    charts = dashboard.load_charts(
        session=session,
        principal=user,
        catalog=catalog,
        filters=filters,
        totals=totals,
        stalled_days=settings.stalled_days,
    )
    return filters, charts


@router.get("/dashboard/charts", name="dashboard:charts")
def dashboard_charts(
    request: Request, session: SessionDep, user: CurrentUser, catalog: CatalogDep, settings: SettingsDep
) -> Response:
    """The charts with their numbers: a page of its own, and the fragment the 현황판 loads after its rows."""
    filters, charts = _charts(request, session, user, catalog, settings)
    return render(
        request,
        "pages/dashboard_charts.html",
        {"f": filters, "charts": charts, "stage_labels": dashboard.STAGE_LABELS},
        blocks=["charts"],
    )


@router.get("/dashboard/charts/{name}.svg", name="dashboard:chart")
def dashboard_chart(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    settings: SettingsDep,
    name: str,
) -> Response:
    if name not in chart_svg.CHART_NAMES:
        raise HTTPException(status_code=404, detail="그런 그래프는 없습니다.")
    _, charts = _charts(request, session, user, catalog, settings)
    return Response(
        chart_svg.render(name, charts),
        media_type="image/svg+xml",
        headers={"Content-Security-Policy": chart_svg.SVG_CSP, "Cache-Control": "private, no-store"},
    )


def _attachment(stem: str, suffix: str, generated: str) -> dict[str, str]:
    ascii_name = f"dashboard-{generated}.{suffix}"
    korean = quote(f"{stem}-{generated}.{suffix}")
    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{korean}",
        "Cache-Control": "private, no-store",
    }


def _export_rows(
    request: Request, session: SessionDep, user: Principal, catalog: CatalogDep, settings: SettingsDep
) -> tuple[dashboard.Filters, dashboard.Clock, Iterator[dashboard.Row]]:
    """Every row the 현황판 shows under the URL's filters, streamed from the database."""
    _viewer(request, user)
    filters = _filters(request, catalog)
    clock = dashboard.Clock.at(None, settings.stalled_days)
    rows = dashboard.iter_rows(
        session=session,
        principal=user,
        catalog=catalog,
        filters=filters,
        stalled_days=settings.stalled_days,
        now=clock.now,
    )
    return filters, clock, rows


@router.get("/dashboard.csv", name="dashboard:csv")
def dashboard_csv(
    request: Request, session: SessionDep, user: CurrentUser, catalog: CatalogDep, settings: SettingsDep
) -> Response:
    _, clock, rows = _export_rows(request, session, user, catalog, settings)
    body = "".join(exports.dashboard_csv(rows, role=user.role))
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers=_attachment("현황판", "csv", clock.today.strftime("%Y%m%d")),
    )


@router.get("/dashboard.xlsx", name="dashboard:xlsx")
def dashboard_xlsx(
    request: Request, session: SessionDep, user: CurrentUser, catalog: CatalogDep, settings: SettingsDep
) -> Response:
    filters, clock, rows = _export_rows(request, session, user, catalog, settings)
    body = exports.dashboard_xlsx(rows, role=user.role, filters=filters, generated_at=clock.now)
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=_attachment("현황판", "xlsx", clock.today.strftime("%Y%m%d")),
    )
