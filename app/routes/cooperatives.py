"""The cooperatives a person may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from app.deps import CatalogDep, CurrentCooperative, CurrentUser, SessionDep, html_router
from app.services import consultations, tasks
from app.services.dashboard import STAGE_LABELS, track_cards
from app.services.orgs import cooperative_row, cooperative_rows, count_cooperatives
from app.services.tracking import can_start_track, list_events, today_kst
from app.templating import render

router = html_router(tags=["cooperatives"])


PAGE_SIZE = 50


@router.get("/cooperatives", name="coops:list")
def cooperative_list(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    total = count_cooperatives(session=session, principal=user)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    rows = cooperative_rows(session=session, principal=user, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    tracks = track_cards(
        session=session,
        principal=user,
        catalog=catalog,
        cooperative_ids=[r.cooperative.id for r in rows if r.cooperative.id],
    )
    return render(
        request,
        "pages/cooperatives.html",
        {
            "rows": rows,
            "tracks": tracks,
            "pager": {"page": page, "pages": pages, "total": total, "first": (page - 1) * PAGE_SIZE + 1},
        },
        blocks=["coop_table"],
    )


@router.get("/cooperatives/{cooperative_id}", name="coops:detail")
def cooperative_detail(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    catalog: CatalogDep,
    cooperative: CurrentCooperative,
) -> Response:
    assert cooperative.id is not None  # noqa: S101
    summaries = track_cards(
        session=session, principal=user, catalog=catalog, cooperative_ids=[cooperative.id]
    )[cooperative.id]
    followed = {s.track.model_key for s in summaries}
    today = today_kst()
    # The cooperative's own people start their day here: what to do next, then the conversation.
    own = user.role == "coop" and user.cooperative_id == cooperative.id
    next_items = (
        tasks.next_items(session=session, principal=user, catalog=catalog, today=today) if own else []
    )
    return render(
        request,
        "pages/cooperative.html",
        {
            "row": cooperative_row(session=session, cooperative=cooperative),
            "tracks": summaries,
            "can_start": can_start_track(user),
            "startable": [m for m in catalog.models if m.key not in followed],
            "own": own,
            "next_items": next_items,
            "today": today,
            "stage_labels": STAGE_LABELS,
            "consultations": consultations.list_consultations(
                session=session, principal=user, cooperative=cooperative, catalog=catalog, page_size=3
            ),
            "comments": list_events(
                session=session, catalog=catalog, cooperative_id=cooperative.id, action="comment", limit=5
            ),
        },
    )
