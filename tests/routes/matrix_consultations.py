"""Permission-matrix entries for 상담·지원 기록 and the support statistics (merged by tests/routes/test_permissions.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session

from app.catalog import Catalog
from app.config import Settings
from app.services import consultations
from app.services.tracking import today_kst
from tests.factories import World
from tests.routes.matrix import Case, admin_only, coop_a, members


def _new(w: World, who: str) -> dict[str, Any]:
    today = today_kst()
    return {
        "held_on": today.isoformat(),
        "channel": "visit",
        "topic": "마을식당 위생 점검",
        "follow_up_on": (today + timedelta(days=7)).isoformat(),
    }


def _consultation(w: World) -> dict[str, Any]:
    return {"consultation_id": w.extra["consultation"].id}


# Center and 지자체 record on coop A; only the recording organization (coop A's center here)
# changes an entry; everyone who sees coop A reads; coop B gets 404 for all of it.
MATRIX: dict[tuple[str, str], Case] = {
    ("consultations:list", "GET"): Case(members(200, coop_b=404), params=coop_a),
    ("consultations:create", "POST"): Case(
        {"anon": 303, "coop_a": 403, "coop_b": 404, "center": 303, "municipality": 303, "admin": 403},
        params=coop_a,
        data=_new,
    ),
    ("consultations:update", "POST"): Case(
        {"anon": 303, "coop_a": 403, "coop_b": 404, "center": 303, "municipality": 403, "admin": 403},
        params=_consultation,
        data=lambda w, who: {
            "version": "1",
            "status": "resolved",
            "resolution": "점검표를 함께 작성했습니다.",
        },
    ),
    # 지원 실적: public bodies and admin; cooperatives have none (403, not 404: the page exists).
    ("consultations:stats", "GET"): Case(members(200, coop_a=403, coop_b=403)),
    ("consultations:stats_xlsx", "GET"): Case(members(200, coop_a=403, coop_b=403)),
    ("consultations:set_target", "POST"): Case(
        admin_only(303),
        data=lambda w, who: {
            "center_id": str(w.center_a.id),
            "year": str(today_kst().year),
            "target_consultations": "12",
        },
    ),
    ("api:consultations", "GET"): Case(members(200, anon=401, coop_b=404), params=coop_a, api=True),
    ("api:create_consultation", "POST"): Case(
        {"anon": 401, "coop_a": 403, "coop_b": 404, "center": 201, "municipality": 201, "admin": 403},
        params=coop_a,
        json=lambda w: {"held_on": today_kst().isoformat(), "channel": "phone", "topic": "정산 자료 문의"},
        api=True,
    ),
    ("api:update_consultation", "PATCH"): Case(
        {"anon": 401, "coop_a": 403, "coop_b": 404, "center": 200, "municipality": 403, "admin": 403},
        params=_consultation,
        json=lambda w: {"version": 1, "status": "resolved", "resolution": "해결"},
        api=True,
    ),
    ("api:consultation_summary", "GET"): Case(members(200, anon=401, coop_a=403, coop_b=403), api=True),
}


def setup(db: Session, world: World, catalog: Catalog, settings: Settings) -> None:
    """What these entries need besides the shared set-up (its objects go in ``world.extra``)."""
    # One open consultation on coop A by its center, with a follow-up date.
    today = today_kst()
    world.extra["consultation"] = consultations.record_consultation(
        session=db,
        principal=world.principal(db, "center"),
        cooperative=world.coop_a,
        catalog=catalog,
        data=consultations.ConsultationInput(
            held_on=today - timedelta(days=3),
            channel="visit",
            topic="운영 규약 검토",
            request="규약 초안을 봐 주세요.",
            advice="총회 의결 절차를 먼저 정리하기로 했습니다.",
            follow_up_on=today + timedelta(days=4),
        ),
    )
