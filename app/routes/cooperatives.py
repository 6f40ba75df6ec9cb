"""The cooperatives a person may see."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from app.deps import CatalogDep, CurrentCooperative, CurrentUser, SessionDep, html_router
from app.services.orgs import cooperative_row, cooperative_rows
from app.services.tracking import can_start_track, track_summaries
from app.templating import render

router = html_router(tags=["cooperatives"])


@router.get("/cooperatives", name="coops:list")
def cooperative_list(
    request: Request, session: SessionDep, user: CurrentUser, catalog: CatalogDep
) -> Response:
    rows = cooperative_rows(session=session, principal=user)
    tracks = track_summaries(
        session=session, catalog=catalog, cooperative_ids=[r.cooperative.id for r in rows if r.cooperative.id]
    )
    return render(request, "pages/cooperatives.html", {"rows": rows, "tracks": tracks})


@router.get("/cooperatives/{cooperative_id}", name="coops:detail")
def cooperative_detail(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    cooperative: CurrentCooperative,
) -> Response:
    assert cooperative.id is not None  # noqa: S101
    summaries = track_summaries(session=session, catalog=catalog, cooperative_ids=[cooperative.id])[
        cooperative.id
    ]
    followed = {s.track.model_key for s in summaries}
    return render(
        request,
        "pages/cooperative.html",
        {
            "row": cooperative_row(session=session, cooperative=cooperative),
            "tracks": summaries,
            "can_start": can_start_track(user),
            "startable": [m for m in catalog.models if m.key not in followed],
        },
    )
