"""Demo data: the guidebook's six PLUS cases as cooperatives, with one user per organization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, select

from app.catalog import Catalog
from app.models import CenterMunicipality, Cooperative, Municipality, SupportCenter, Track, User
from app.services.auth import hash_password
from app.services.tracking import today_kst

DEMO_PASSWORD = "maeul-demo-2026"  # noqa: S105 - demo only; the loader refuses production


@dataclass(frozen=True)
class DemoCoop:
    name: str
    municipality: str
    center: str
    model_key: str
    site: str
    login: str
    approved_on: date | None  # 설립인가일; None where the guidebook gives none (협동조합 are not 인가)
    address: str = ""  # defaults to the municipality's name


# (name, 시도, 시군구). 서울 도시재생's 민간위탁 contract is with 서울시 itself, not with 용산구.
MUNICIPALITIES = [
    ("서울특별시", "서울특별시", ""),
    ("서울특별시 동작구", "서울특별시", "동작구"),
    ("인천광역시 남동구", "인천광역시", "남동구"),
    ("충청북도 청주시", "충청북도", "청주시"),
    ("대구광역시 동구", "대구광역시", "동구"),
    ("세종특별자치시", "세종특별자치시", ""),
]
# center → municipalities it serves; the Seoul center is a 광역 center serving 서울시 and 동작구.
CENTERS = {
    "서울특별시 도시재생지원센터": ["서울특별시", "서울특별시 동작구"],
    "인천광역시 남동구 도시재생지원센터": ["인천광역시 남동구"],
    "청주시 도시재생지원센터": ["충청북도 청주시"],
    "대구광역시 동구 도시재생지원센터": ["대구광역시 동구"],
    "세종특별자치시 도시재생지원센터": ["세종특별자치시"],
}
COOPS = [
    DemoCoop(
        "서울 도시재생 사회적협동조합",
        "서울특별시",
        "서울특별시 도시재생지원센터",
        "hub-facility",
        "서울역 일대 도시재생활성화지역",
        "coop-seoul",
        date(2019, 3, 15),
        address="서울특별시 용산구",
    ),
    DemoCoop(
        "인천 만부마을 마을관리 사회적협동조합",
        "인천광역시 남동구",
        "인천광역시 남동구 도시재생지원센터",
        "village-restaurant",
        "만부마을 도시재생사업지",
        "coop-manbu",
        date(2020, 6, 2),
    ),
    DemoCoop(
        "청주와우 마을관리 사회적협동조합",
        "충청북도 청주시",
        "청주시 도시재생지원센터",
        "public-parking",
        "청주시 우암동 도시재생사업지",
        "coop-wawoo",
        date(2020, 9, 21),
    ),
    DemoCoop(
        "협동조합 상4랑",
        "서울특별시 동작구",
        "서울특별시 도시재생지원센터",
        "facility-maintenance",
        "상도4동 도시재생사업지",
        "coop-sang4",
        None,  # 2019년 설립 (the guidebook gives the year only)
    ),
    DemoCoop(
        "대구 안심에너지협동조합",
        "대구광역시 동구",
        "대구광역시 동구 도시재생지원센터",
        "solar",
        "안심마을",
        "coop-ansim",
        None,
    ),
    DemoCoop(
        "번암빛돌 마을관리 사회적협동조합",
        "세종특별자치시",
        "세종특별자치시 도시재생지원센터",
        "elderly-care",
        "조치원읍 번암리 도시재생 뉴딜사업지",
        "coop-beonam",
        date(2021, 4, 28),
    ),
]
MUNICIPALITY_LOGINS = {
    "서울특별시": "gov-seoul",
    "서울특별시 동작구": "gov-dongjak",
    "인천광역시 남동구": "gov-namdong",
    "충청북도 청주시": "gov-cheongju",
    "대구광역시 동구": "gov-daegu-donggu",
    "세종특별자치시": "gov-sejong",
}
CENTER_LOGINS = {
    "서울특별시 도시재생지원센터": "center-seoul",
    "인천광역시 남동구 도시재생지원센터": "center-namdong",
    "청주시 도시재생지원센터": "center-cheongju",
    "대구광역시 동구 도시재생지원센터": "center-daegu-donggu",
    "세종특별자치시 도시재생지원센터": "center-sejong",
}


def _get_or_create(session: Session, model: type, name: str, **fields: object) -> object:
    found = session.exec(select(model).where(model.name == name)).first()  # type: ignore[attr-defined]
    if found is None:
        found = model(name=name, **fields)
        session.add(found)
        session.flush()
    return found


def _user(
    session: Session, login: str, display_name: str, role: str, password_hash: str, **org: int | None
) -> None:
    if session.exec(select(User).where(User.login == login)).first() is None:
        session.add(
            User(login=login, display_name=display_name, password_hash=password_hash, role=role, **org)  # type: ignore[arg-type]
        )


def load_demo(*, session: Session, catalog: Catalog) -> dict[str, int]:
    """Create what is missing; running it twice changes nothing the second time."""
    pw = hash_password(DEMO_PASSWORD)
    munis = {
        name: _get_or_create(session, Municipality, name, sido=sido, sigungu=sgg)
        for name, sido, sgg in MUNICIPALITIES
    }
    centers = {name: _get_or_create(session, SupportCenter, name) for name in CENTERS}
    for cname, served in CENTERS.items():
        for mname in served:
            key = (centers[cname].id, munis[mname].id)  # type: ignore[attr-defined]
            if session.get(CenterMunicipality, key) is None:
                session.add(CenterMunicipality(center_id=key[0], municipality_id=key[1]))
    coops: dict[str, Cooperative] = {}
    for c in COOPS:
        coop = session.exec(select(Cooperative).where(Cooperative.name == c.name)).first()
        if coop is None:
            coop = Cooperative(
                name=c.name,
                site=c.site,
                address=c.address or c.municipality,
                municipality_id=munis[c.municipality].id,  # type: ignore[attr-defined]
                support_center_id=centers[c.center].id,  # type: ignore[attr-defined]
                approved_on=c.approved_on,
                contact="",
            )
            session.add(coop)
            session.flush()
        coops[c.name] = coop
        _user(session, c.login, f"{c.name} 사무국", "coop", pw, cooperative_id=coop.id or 0)
    for mname, login in MUNICIPALITY_LOGINS.items():
        _user(session, login, f"{mname} 도시재생과", "municipality", pw, municipality_id=munis[mname].id)  # type: ignore[attr-defined]
    for cname, login in CENTER_LOGINS.items():
        _user(session, login, f"{cname} 코디네이터", "center", pw, center_id=centers[cname].id)  # type: ignore[attr-defined]
    _user(session, "admin", "마을길잡이 운영팀", "admin", pw)
    session.flush()
    tracks = sum(_demo_track(session, catalog, c, coops[c.name]) for c in COOPS)
    return {
        "cooperatives": len(coops),
        "municipalities": len(munis),
        "centers": len(centers),
        "tracks_started": tracks,
    }


# Per cooperative and stage: how many items (in guidebook order) are done, then how many in progress.
# Drawn from each PLUS case: 서울 runs eight facilities under a 3-year consignment from 서울시, 만부
# has received its 사용수익허가 and has not opened yet, 청주와우 is piloting the market car park,
# 상4랑 has served since 2019, 안심 runs its plant and is negotiating a second, 번암빛돌 is still preparing.
PROGRESS: dict[str, dict[str, tuple[int, int]]] = {
    "coop-seoul": {"prepare": (4, 0), "plan": (6, 0), "execute": (1, 1)},
    "coop-manbu": {"prepare": (5, 0), "plan": (4, 0), "execute": (0, 0)},
    "coop-wawoo": {"prepare": (5, 0), "plan": (2, 2), "execute": (0, 0)},
    "coop-sang4": {"prepare": (5, 0), "plan": (4, 0), "execute": (1, 2)},
    "coop-ansim": {"prepare": (5, 0), "plan": (3, 0), "execute": (2, 1)},
    "coop-beonam": {"prepare": (2, 2), "plan": (0, 1), "execute": (0, 0)},
}
ASSIGNEES = ("사무국장", "이사장", "사업팀장", "회계 담당")
# Where a case leaves its model's usual path: item → (status, note or 해당 없음 reason), written by
# the cooperative and confirmed by nobody. 안심's plant stands on the roof of a public institution
# (신용보증기금), not on 공유재산: there is no 지자체 lease, and nothing of that site for 대구 동구 to confirm.
DEPARTURES: dict[str, dict[str, tuple[str, str]]] = {
    "coop-ansim": {
        "site-search": (
            "done",
            "1호기 부지: 공공기관(신용보증기금) 시설의 옥상. 2호기 부지는 지자체·공공기관과 협의 중",
        ),
        "site-assessment": ("done", "신용보증기금 시설 옥상 기준의 검토(공유재산 아님)"),
        "lease-contract": (
            "na",
            "옥상 부지를 공공기관(신용보증기금)에서 임대했습니다. 지자체 공유재산의 임대가 아닙니다.",
        ),
    },
}


def _demo_track(session: Session, catalog: Catalog, spec: DemoCoop, coop: Cooperative) -> int:
    """Start the cooperative's guidebook model and record realistic progress, once."""
    from app.services.evidence import add_link
    from app.services.principal import Principal, load_principal
    from app.services.tracking import add_comment, start_track, update_item, verifier_role
    from app.services.verification import verify_item

    if session.exec(
        select(Track).where(Track.cooperative_id == coop.id, Track.model_key == spec.model_key)
    ).first():
        return 0
    model = catalog.model(spec.model_key)
    if model is None:
        return 0
    logins = {
        "coop": spec.login,
        "center": CENTER_LOGINS[spec.center],
        "municipality": MUNICIPALITY_LOGINS[spec.municipality],
    }
    people: dict[str, Principal] = {}
    for role, login in logins.items():
        user = session.exec(select(User).where(User.login == login)).one()
        principal = load_principal(session=session, user_id=user.id or 0)
        assert principal is not None  # noqa: S101 - demo users are active
        people[role] = principal
    track = start_track(
        session=session, principal=people["coop"], cooperative=coop, catalog=catalog, model_key=spec.model_key
    )
    today = today_kst()
    departures = DEPARTURES.get(spec.login, {})
    n = 0
    for stage in model.stages:
        done, doing = PROGRESS[spec.login][stage.key]
        for i, item in enumerate(stage.items):
            if i >= done + doing:
                break
            who = people[item.lead]
            status = "done" if i < done else "doing"
            changes: dict[str, object] = {"status": status, "assignee": ASSIGNEES[n % len(ASSIGNEES)]}
            departure = departures.get(item.key)
            if departure is not None:  # the cooperative's own account, with its note or reason
                who, (status, why) = people["coop"], departure
                reason = {"na_reason": why} if status == "na" else {"note": why}
                changes = {**changes, "status": status, **reason}
            if status == "doing":
                # One overdue item per cooperative shows what the center will be chasing.
                changes["due_date"] = (
                    today - timedelta(days=9) if n % 3 == 0 else today + timedelta(days=21 + n)
                )
            state = update_item(
                session=session,
                principal=who,
                track=track,
                model=model,
                item_key=item.key,
                version=0,
                changes=changes,
            )
            verifier = verifier_role(item)
            if status == "done" and verifier and departure is None and n % 4 != 1:  # most, not all
                if item.consignment:  # a 위탁 전 확인 item is confirmed on evidence
                    add_link(
                        session=session,
                        principal=who,
                        track=track,
                        model=model,
                        item_key=item.key,
                        url=f"https://example.org/maeul-demo/{spec.login}/{item.key}",
                        title="데모 증빙 (예시 링크)",
                    )
                verify_item(
                    session=session,
                    principal=people[verifier],
                    track=track,
                    model=model,
                    item_key=item.key,
                    version=state.version,
                )
            if status == "doing" and n % 2 == 0:
                add_comment(
                    session=session,
                    principal=people["center"],
                    track=track,
                    model=model,
                    item_key=item.key,
                    body="진행 상황 공유 부탁드립니다. 필요한 자료가 있으면 센터에서 함께 준비하겠습니다.",
                )
            n += 1
    return 1
