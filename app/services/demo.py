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
    consultations = _demo_consultations(session, catalog, coops)
    return {
        "cooperatives": len(coops),
        "municipalities": len(munis),
        "centers": len(centers),
        "tracks_started": tracks,
        "consultations_added": consultations,
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


@dataclass(frozen=True)
class DemoConsultation:
    """One 상담·지원 기록; days are counted back from today (positive: in the past)."""

    coop_login: str
    author: str  # a center's or a 지자체's login
    held_days_ago: int
    channel: str
    topic: str
    request: str
    advice: str
    item_key: str | None = None  # on the cooperative's guidebook track
    follow_up_in: int | None = None  # days from today (negative: already passed)
    resolved_days_ago: int | None = None
    resolution: str = ""


# What a center's year looks like: visits and calls followed up, most resolved (one after its
# follow-up date), one left open past its date, one open with its follow-up a few days away.
CONSULTATIONS = [
    DemoConsultation(
        "coop-seoul",
        "center-seoul",
        40,
        "visit",
        "거점시설 위탁 재계약 준비",
        "3년 위탁이 끝나기 전에 서울시와 재계약하려면 어떤 서류가 필요한지 알려 주세요.",
        "운영 실적 보고서와 다음 3년 운영 계획, 시설별 정산 자료를 준비하기로 했습니다.",
        item_key="operation",
        follow_up_in=-20,
        resolved_days_ago=22,
        resolution="재계약 서류 목록을 확정하고 서울시 담당 부서에 제출 일정을 공유했습니다.",
    ),
    DemoConsultation(
        "coop-seoul",
        "center-seoul",
        12,
        "phone",
        "시설별 운영 인력 배치 문의",
        "주말 운영 시설의 인력이 부족합니다. 인건비 지원 사업이 있을까요?",
        "서울시 마을관리 인력 지원 공모 일정을 안내하고 신청서 초안을 함께 보기로 했습니다.",
        follow_up_in=-2,
    ),
    DemoConsultation(
        "coop-sang4",
        "center-seoul",
        25,
        "training",
        "시설 유지보수 안전교육",
        "새로 들어온 조합원 작업자를 위한 안전교육이 필요합니다.",
        "사다리·전동공구 안전수칙 교육을 진행하고 교육 자료를 전달했습니다.",
        item_key="staff-hiring",
        follow_up_in=-15,
        resolved_days_ago=10,
        resolution="교육 이수자 명단과 안전 점검표를 받았습니다(후속 조치일보다 늦게 완료).",
    ),
    DemoConsultation(
        "coop-sang4",
        "center-seoul",
        3,
        "online",
        "공동주택 관리 계약서 검토",
        "인근 빌라 관리 계약서 초안의 책임 범위를 봐 주세요.",
        "하자 보수 책임과 비용 한도를 계약서에 명시하도록 조언했습니다.",
        follow_up_in=5,
    ),
    DemoConsultation(
        "coop-manbu",
        "center-namdong",
        30,
        "visit",
        "마을식당 주방 설비 점검",
        "급배기와 가스 설비 공사가 허가 조건에 맞는지 봐 주세요.",
        "설비 업체와 함께 현장을 확인하고 보완할 곳 두 군데를 정리했습니다.",
        item_key="permits",
        follow_up_in=-16,
        resolved_days_ago=17,
        resolution="보완 공사를 마치고 준공 사진을 받았습니다.",
    ),
    DemoConsultation(
        "coop-manbu",
        "center-namdong",
        18,
        "phone",
        "사용수익허가 조건 확인",
        "원상회복 조건이 인테리어 공사에 어떤 제약이 되는지 궁금합니다.",
        "허가서의 원상회복 조항을 함께 읽고 남동구에 확인할 질문을 정리했습니다.",
        item_key="use-permit",
        resolved_days_ago=15,
        resolution="남동구 답변으로 철거 가능한 가구 위주로 설계하기로 했습니다.",
    ),
    DemoConsultation(
        "coop-manbu",
        "center-namdong",
        4,
        "visit",
        "개점 전 위생교육 일정",
        "조리 인력의 위생교육을 개점 전에 마치고 싶습니다.",
        "보건소 위생교육 일정과 신청 방법을 안내했습니다. 신청 결과를 다시 확인합니다.",
        item_key="opening",
        follow_up_in=3,
    ),
    DemoConsultation(
        "coop-manbu",
        "gov-namdong",
        9,
        "online",
        "공유재산 사용료 감면 문의",
        "마을기업 사용료 감면 규정이 우리 조합에도 적용되나요?",
        "조례의 감면 대상과 제출 서류를 안내했습니다.",
        resolved_days_ago=6,
        resolution="감면 신청서를 접수했습니다.",
    ),
]


def _demo_consultations(session: Session, catalog: Catalog, coops: dict[str, Cooperative]) -> int:
    """Add the demo consultations that are not there yet (matched by cooperative and topic)."""
    from app.models import Consultation
    from app.services.consultations import ConsultationInput, record_consultation, update_consultation
    from app.services.principal import load_principal

    by_login = {c.login: coops[c.name] for c in COOPS}
    today = today_kst()
    added = 0
    for spec in CONSULTATIONS:
        coop = by_login[spec.coop_login]
        if session.exec(
            select(Consultation).where(
                Consultation.cooperative_id == coop.id, Consultation.topic == spec.topic
            )
        ).first():
            continue
        user = session.exec(select(User).where(User.login == spec.author)).one()
        who = load_principal(session=session, user_id=user.id or 0)
        assert who is not None  # noqa: S101 - demo users are active
        track = session.exec(select(Track).where(Track.cooperative_id == coop.id).order_by(Track.id)).first()  # type: ignore[arg-type]
        consultation = record_consultation(
            session=session,
            principal=who,
            cooperative=coop,
            catalog=catalog,
            data=ConsultationInput(
                held_on=today - timedelta(days=spec.held_days_ago),
                channel=spec.channel,
                topic=spec.topic,
                request=spec.request,
                advice=spec.advice,
                track_id=track.id if track and spec.item_key else None,
                item_key=spec.item_key if track else None,
                follow_up_on=today + timedelta(days=spec.follow_up_in)
                if spec.follow_up_in is not None
                else None,
            ),
            today=today,
        )
        if spec.resolved_days_ago is not None:
            update_consultation(
                session=session,
                principal=who,
                consultation=consultation,
                version=consultation.version,
                changes={"status": "resolved", "resolution": spec.resolution},
                today=today - timedelta(days=spec.resolved_days_ago),
            )
        added += 1
    return added
