"""상담·지원 기록 and 지원 실적 as services, on SQLite and PostgreSQL: who records and follows up,
who sees what, follow-ups due, and the yearly statistics against an independent computation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.models import CenterMunicipality, CenterTarget, Consultation, Cooperative, Track, TrackSummary
from app.models.consultation import RESOLUTION_TARGET
from app.services import consultations as svc
from app.services import support
from app.services.consultations import ConsultationInput
from app.services.errors import ConflictError, ForbiddenError, FormError
from tests.factories import World
from tests.fixtures.tracking_helpers import HUB, start

TODAY = date(2027, 1, 15)  # "today" for every write here, so dates in 2025 and 2026 are all past


def rec(
    db: Session,
    world: World,
    catalog: Catalog,
    *,
    who: str = "center",
    coop: Cooperative | None = None,
    held: date = date(2026, 3, 2),
    follow: date | None = None,
    channel: str = "visit",
    topic: str = "운영 상담",
    **more: object,
) -> Consultation:
    return svc.record_consultation(
        session=db,
        principal=world.principal(db, who),
        cooperative=coop or world.coop_a,
        catalog=catalog,
        data=ConsultationInput(held_on=held, channel=channel, topic=topic, follow_up_on=follow, **more),  # type: ignore[arg-type]
        today=TODAY,
    )


def resolve(db: Session, world: World, c: Consultation, on: date, *, who: str = "center") -> Consultation:
    return svc.update_consultation(
        session=db,
        principal=world.principal(db, who),
        consultation=c,
        version=c.version,
        changes={"status": "resolved", "resolution": "해결했습니다."},
        today=on,
    )


# --- recording: who, and the organization stored -----------------------------------------------


def test_center_and_municipality_record_with_their_organization(
    db: Session, world: World, catalog: Catalog
) -> None:
    by_center = rec(db, world, catalog, who="center")
    by_gov = rec(db, world, catalog, who="municipality", channel="training")
    assert (by_center.center_id, by_center.municipality_id) == (world.center_a.id, None)
    assert (by_gov.center_id, by_gov.municipality_id) == (None, world.muni_a.id)
    assert by_center.author_id == world.users["center"].id
    assert by_center.status == "open" and by_center.version == 1


@pytest.mark.parametrize("who", ["coop_a", "admin"])
def test_cooperatives_and_admin_do_not_record(db: Session, world: World, catalog: Catalog, who: str) -> None:
    with pytest.raises(ForbiddenError):
        rec(db, world, catalog, who=who, held=date(2099, 1, 1), topic="")  # refused before validation
    assert db.exec(select(func.count()).select_from(Consultation)).one() == 0


def test_every_invalid_field_is_named_in_korean(db: Session, world: World, catalog: Catalog) -> None:
    with pytest.raises(FormError) as exc:
        svc.record_consultation(
            session=db,
            principal=world.principal(db, "center"),
            cooperative=world.coop_a,
            catalog=catalog,
            data=ConsultationInput(
                held_on=TODAY + timedelta(days=1),
                channel="fax",
                topic="가" * 201,
                request="나" * (svc.MAX_TEXT + 1),
                follow_up_on="2027-13-01",
                item_key="governance",
            ),
            today=TODAY,
        )
    errors = exc.value.errors
    assert errors == {
        "held_on": "상담일은 오늘 이후일 수 없습니다.",
        "channel": "방식을 고르세요 (방문, 전화, 온라인, 교육 중 하나).",
        "topic": "200자 이하로 입력하세요.",
        "request": f"{svc.MAX_TEXT}자 이하로 입력하세요.",
        "follow_up_on": "날짜를 YYYY-MM-DD 형식으로 입력하세요.",
        "item_key": "항목을 고르려면 관련 사업도 골라야 합니다.",
    }


def test_required_fields_and_follow_up_not_before_the_consultation(
    db: Session, world: World, catalog: Catalog
) -> None:
    with pytest.raises(FormError) as exc:
        rec(db, world, catalog, held="", topic="  ")  # type: ignore[arg-type]
    assert exc.value.errors == {"held_on": "상담일을 입력하세요.", "topic": "상담 주제를 입력하세요."}
    with pytest.raises(FormError) as exc:
        rec(db, world, catalog, held=date(2026, 5, 10), follow=date(2026, 5, 9))
    assert exc.value.errors == {"follow_up_on": "후속 조치일은 상담일보다 앞설 수 없습니다."}
    same_day = rec(db, world, catalog, held=date(2026, 5, 10), follow=date(2026, 5, 10))
    assert same_day.follow_up_on == date(2026, 5, 10)


def test_track_must_be_the_cooperatives_and_item_of_its_model(
    db: Session, world: World, catalog: Catalog
) -> None:
    mine = start(db, world, catalog)  # coop A, hub-facility
    other = start(db, world, catalog, who="coop_b", coop="b")
    ok = rec(db, world, catalog, track_id=str(mine.id), item_key="governance")
    assert (ok.track_id, ok.item_key) == (mine.id, "governance")
    with pytest.raises(FormError) as exc:
        rec(db, world, catalog, track_id=other.id)
    assert exc.value.errors == {"track_id": "이 조합이 추진하는 사업을 고르세요."}
    with pytest.raises(FormError) as exc:
        rec(db, world, catalog, track_id=mine.id, item_key="opening")  # a village-restaurant item
    assert exc.value.errors == {"item_key": "고른 사업의 체크리스트에 없는 항목입니다."}
    with pytest.raises(FormError) as exc:
        rec(db, world, catalog, track_id="12abc")
    assert exc.value.errors == {"track_id": "목록에서 고르세요."}


# --- following up --------------------------------------------------------------------------------


def test_resolving_needs_a_note_and_stamps_the_day_and_person(
    db: Session, world: World, catalog: Catalog
) -> None:
    c = rec(db, world, catalog, follow=date(2026, 3, 9))
    center = world.principal(db, "center")
    with pytest.raises(FormError) as exc:
        svc.update_consultation(
            session=db,
            principal=center,
            consultation=c,
            version=1,
            changes={"status": "resolved", "resolution": " "},
        )
    assert exc.value.errors == {"resolution": "해결로 바꾸려면 어떻게 해결했는지 적어야 합니다."}
    db.refresh(c)
    assert (c.status, c.version) == ("open", 1)

    done = resolve(db, world, c, date(2026, 3, 8))
    assert (done.status, done.resolved_on, done.resolved_by_id, done.version) == (
        "resolved",
        date(2026, 3, 8),
        world.users["center"].id,
        2,
    )
    # Reopening clears the day and the person; the note stays to start from.
    reopened = svc.update_consultation(
        session=db, principal=center, consultation=done, version=2, changes={"status": "open"}
    )
    assert (reopened.status, reopened.resolved_on, reopened.resolved_by_id) == ("open", None, None)
    assert reopened.resolution == "해결했습니다." and reopened.version == 3


def test_follow_up_date_and_advice_can_change_but_not_the_rest(
    db: Session, world: World, catalog: Catalog
) -> None:
    c = rec(db, world, catalog, held=date(2026, 4, 1))
    center = world.principal(db, "center")
    changed = svc.update_consultation(
        session=db,
        principal=center,
        consultation=c,
        version=1,
        changes={"follow_up_on": "2026-04-20", "advice": " 회계 담당자와 다시 만나기로 "},
    )
    assert (changed.follow_up_on, changed.advice, changed.version) == (
        date(2026, 4, 20),
        "회계 담당자와 다시 만나기로",
        2,
    )
    cleared = svc.update_consultation(
        session=db, principal=center, consultation=changed, version=2, changes={"follow_up_on": None}
    )
    assert cleared.follow_up_on is None
    with pytest.raises(FormError) as exc:
        svc.update_consultation(
            session=db,
            principal=center,
            consultation=cleared,
            version=3,
            changes={"follow_up_on": date(2026, 3, 1), "topic": "바꾼 주제"},
        )
    assert exc.value.errors == {
        "topic": "바꿀 수 없는 항목입니다.",
        "follow_up_on": "후속 조치일은 상담일보다 앞설 수 없습니다.",
    }
    unchanged = svc.update_consultation(
        session=db,
        principal=center,
        consultation=cleared,
        version=3,
        changes={"advice": "회계 담당자와 다시 만나기로"},
    )
    assert unchanged.version == 3  # nothing changed, nothing written


def test_a_stale_version_is_a_conflict(db: Session, world: World, catalog: Catalog) -> None:
    c = rec(db, world, catalog)
    resolve(db, world, c, date(2026, 3, 5))
    with pytest.raises(ConflictError) as exc:
        svc.update_consultation(
            session=db,
            principal=world.principal(db, "center"),
            consultation=c,
            version=1,
            changes={"status": "open"},
        )
    assert exc.value.current.version == 2 and exc.value.current.status == "resolved"


@pytest.mark.parametrize("who", ["municipality", "coop_a", "admin", "center_b"])
def test_only_the_recording_organization_follows_up(
    db: Session, world: World, catalog: Catalog, who: str
) -> None:
    c = rec(db, world, catalog, who="center")
    with pytest.raises(ForbiddenError):
        resolve(db, world, c, date(2026, 3, 5), who=who)
    by_gov = rec(db, world, catalog, who="municipality")
    with pytest.raises(ForbiddenError):
        resolve(db, world, by_gov, date(2026, 3, 5), who="center")
    assert resolve(db, world, by_gov, date(2026, 3, 5), who="municipality").status == "resolved"


# --- reading -----------------------------------------------------------------------------------------


def test_visibility_follows_the_cooperative(db: Session, world: World, catalog: Catalog) -> None:
    c = rec(db, world, catalog)
    assert c.id is not None
    for who in ("coop_a", "center", "municipality", "admin"):
        found = svc.get_visible_consultation(
            session=db, principal=world.principal(db, who), consultation_id=c.id
        )
        assert found is not None and found[1].id == world.coop_a.id, who
    for who in ("coop_b", "center_b", "municipality_b"):
        p = world.principal(db, who)
        assert svc.get_visible_consultation(session=db, principal=p, consultation_id=c.id) is None, who
        # Even handed coop A directly, the list shows nothing the principal may not see.
        listing = svc.list_consultations(session=db, principal=p, cooperative=world.coop_a, catalog=catalog)
        assert listing.rows == [] and listing.total == 0, who


def test_the_timeline_is_newest_first_paged_and_finds_a_consultation(
    db: Session, world: World, catalog: Catalog
) -> None:
    made = [
        rec(db, world, catalog, held=date(2026, 1, 1) + timedelta(days=i // 2), topic=f"상담 {i}")
        for i in range(7)
    ]
    coop = world.principal(db, "coop_a")
    first = svc.list_consultations(
        session=db, principal=coop, cooperative=world.coop_a, catalog=catalog, page_size=3
    )
    assert (first.total, first.pages, first.page) == (7, 3, 1)
    expected = sorted(made, key=lambda c: (c.held_on, c.id or 0), reverse=True)
    assert [r.id for r in first.rows] == [c.id for c in expected[:3]]
    assert not any(r.can_update for r in first.rows)  # the cooperative reads only
    oldest = expected[-1]
    found = svc.list_consultations(
        session=db, principal=coop, cooperative=world.coop_a, catalog=catalog, page_size=3, showing=oldest.id
    )
    assert found.page == 3 and oldest.id in [r.id for r in found.rows]
    center_rows = svc.list_consultations(
        session=db, principal=world.principal(db, "center"), cooperative=world.coop_a, catalog=catalog
    ).rows
    assert all(r.can_update for r in center_rows)
    assert {r.author_org for r in center_rows} == {world.center_a.name}


def test_rows_name_the_track_item_and_overdue(db: Session, world: World, catalog: Catalog) -> None:
    track = start(db, world, catalog)
    c = rec(
        db,
        world,
        catalog,
        held=date(2026, 3, 1),
        follow=date(2026, 3, 10),
        track_id=track.id,
        item_key="governance",
    )
    assert c.id is not None
    row = svc.consultation_row(
        session=db,
        principal=world.principal(db, "center"),
        catalog=catalog,
        consultation_id=c.id,
        today=date(2026, 3, 11),
    )
    assert row is not None
    model = catalog.model(HUB)
    assert model is not None
    item = model.item("governance")
    assert item is not None
    assert (row.model_title, row.item_text, row.overdue, row.channel_label) == (
        model.title,
        item.text,
        True,
        "방문",
    )
    on_the_day = svc.consultation_row(
        session=db,
        principal=world.principal(db, "center"),
        catalog=catalog,
        consultation_id=c.id,
        today=date(2026, 3, 10),
    )
    assert on_the_day is not None and not on_the_day.overdue


# --- follow-ups due ---------------------------------------------------------------------------------


def test_follow_ups_due_per_role(db: Session, world: World, catalog: Catalog) -> None:
    until = date(2026, 6, 30)
    center_due = rec(db, world, catalog, topic="센터 후속", follow=date(2026, 6, 1))
    gov_due = rec(db, world, catalog, who="municipality", topic="지자체 후속", follow=date(2026, 6, 30))
    rec(db, world, catalog, topic="나중 후속", follow=date(2026, 7, 1))  # after ``until``
    rec(db, world, catalog, topic="후속 없음")
    done = rec(db, world, catalog, topic="해결된 후속", follow=date(2026, 5, 1))
    resolve(db, world, done, date(2026, 5, 1))
    b_due = rec(
        db, world, catalog, who="center_b", coop=world.coop_b, topic="다른 조합", follow=date(2026, 4, 1)
    )

    def due(who: str) -> list[int]:
        return [
            f.consultation_id
            for f in svc.follow_ups_due(session=db, principal=world.principal(db, who), until=until)
        ]

    assert due("center") == [center_due.id]
    assert due("municipality") == [gov_due.id]
    assert due("coop_a") == [center_due.id, gov_due.id]  # earliest date first
    assert due("center_b") == [b_due.id]
    assert due("coop_b") == [b_due.id]
    assert due("admin") == []
    first = svc.follow_ups_due(session=db, principal=world.principal(db, "center"), until=until)[0]
    assert (first.cooperative, first.topic, first.status, first.channel_label) == (
        world.coop_a.name,
        "센터 후속",
        "open",
        "방문",
    )
    assert first.overdue(date(2026, 6, 2)) and not first.overdue(date(2026, 6, 1))


def test_follow_ups_stay_within_what_the_center_sees(db: Session, world: World, catalog: Catalog) -> None:
    c = rec(db, world, catalog, follow=date(2026, 6, 1))
    world.coop_a.support_center_id = world.center_b.id  # coop A moves to another center
    db.add(world.coop_a)
    db.flush()
    assert (
        svc.follow_ups_due(session=db, principal=world.principal(db, "center"), until=date(2026, 12, 31))
        == []
    )
    assert [
        f.consultation_id
        for f in svc.follow_ups_due(
            session=db, principal=world.principal(db, "coop_a"), until=date(2026, 12, 31)
        )
    ] == [c.id]


# --- the arithmetic ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "resolved", "rate"),
    [(0, 0, None), (3, 0, 0.0), (3, 3, 1.0), (3, 2, 2 / 3), (5, 4, 0.8)],
    ids=["none held", "all open", "all resolved", "mixed", "exactly the target"],
)
def test_resolution_rate(held: int, resolved: int, rate: float | None) -> None:
    assert support.resolution_rate(held=held, resolved=resolved) == rate
    row = support.support_row(1, "센터", support.Counts(consultations=held, resolved=resolved), {})
    assert row.resolution_rate == rate
    assert row.resolution_met == (None if rate is None else rate >= RESOLUTION_TARGET)


def test_targets_against_actuals() -> None:
    counts = support.Counts(consultations=12, cooperatives=3, stage_completions=1, reached_execute=0)
    row = support.support_row(1, "센터", counts, {"consultations": 10, "reached_execute": 2})
    t = row.targets
    assert (t["consultations"].met, t["consultations"].remaining) == (True, 0)
    assert (t["reached_execute"].met, t["reached_execute"].remaining, t["reached_execute"].actual) == (
        False,
        2,
        0,
    )
    assert t["cooperatives"].target is None and t["cooperatives"].met is None
    total = support.total_row(
        [row, support.support_row(2, "다른 센터", support.Counts(consultations=3, resolved=3), {})]
    )
    assert total.counts.consultations == 15 and total.resolution_rate == 3 / 15
    assert total.targets["consultations"].target == 10 and total.targets["cooperatives"].target is None


@pytest.mark.parametrize(
    ("raw", "year"), [(None, 2027), ("", 2027), (" 2026 ", 2026), ("2000", 2000), ("2028", 2028)]
)
def test_parse_year(raw: str | None, year: int) -> None:
    assert support.parse_year(raw, today=TODAY) == year


@pytest.mark.parametrize("raw", ["1999", "2029", "26", "２０２６", "2026.5", "abcd", "9" * 5000])
def test_parse_year_refuses_in_korean(raw: str) -> None:
    with pytest.raises(FormError) as exc:
        support.parse_year(raw, today=TODAY)
    assert exc.value.errors["year"].startswith("연도는 2000부터 2028 사이의 네 자리 숫자로 입력하세요")


# --- the statistics equal an independent computation ------------------------------------------------


@dataclass
class Spec:
    who: str
    coop: str
    held: date
    follow: date | None
    resolved_on: date | None


@pytest.fixture
def wide_world(db: Session, world: World) -> World:
    """Center A also serves 남동구 (muni B) where coop C sits, so 지자체 B sees part of A's record."""
    db.add(CenterMunicipality(center_id=world.center_a.id, municipality_id=world.muni_b.id))
    coop_c = Cooperative(
        name="다 마을조합", municipality_id=world.muni_b.id, support_center_id=world.center_a.id
    )
    db.add(coop_c)
    db.flush()
    world.extra["coop_c"] = coop_c
    return world


SPECS = [
    Spec("center", "a", date(2026, 1, 1), date(2026, 1, 10), date(2026, 1, 10)),  # on time, on the day
    Spec("center", "a", date(2026, 2, 1), date(2026, 2, 10), date(2026, 2, 11)),  # resolved late
    Spec("center", "a", date(2026, 3, 1), date(2026, 3, 10), None),  # open, follow-up passed
    Spec("center", "a", date(2026, 3, 2), None, date(2026, 3, 3)),  # resolved, no follow-up date
    Spec("center", "c", date(2026, 12, 31), None, None),  # last day of the year
    Spec("center", "c", date(2026, 6, 1), date(2026, 6, 5), date(2026, 6, 4)),  # early
    Spec("center", "a", date(2025, 12, 31), date(2026, 1, 5), date(2026, 1, 2)),  # the year before
    Spec("center", "c", date(2027, 1, 1), None, date(2027, 1, 2)),  # the year after
    Spec("center_b", "b", date(2026, 5, 5), date(2026, 5, 6), None),  # center B: all open
    Spec("center_b", "b", date(2026, 7, 7), None, None),
    Spec("municipality", "a", date(2026, 4, 4), None, date(2026, 4, 5)),  # a 지자체's: no center counts it
]


def _load(db: Session, w: World, catalog: Catalog) -> list[tuple[Spec, Consultation]]:
    coops = {"a": w.coop_a, "b": w.coop_b, "c": w.extra["coop_c"]}
    out = []
    for s in SPECS:
        c = rec(db, w, catalog, who=s.who, coop=coops[s.coop], held=s.held, follow=s.follow)
        if s.resolved_on:
            resolve(db, w, c, s.resolved_on, who=s.who)
        out.append((s, c))
    return out


def _expected(
    made: list[tuple[Spec, Consultation]], center_id: int | None, year: int, coop_ids: set[int]
) -> dict[str, int]:
    held = [
        (s, c)
        for s, c in made
        if c.center_id == center_id and c.held_on.year == year and c.cooperative_id in coop_ids
    ]
    return {
        "consultations": len(held),
        "cooperatives": len({c.cooperative_id for _, c in held}),
        "follow_ups_due": sum(1 for s, _ in held if s.follow),
        "follow_ups_on_time": sum(
            1 for s, _ in held if s.follow and s.resolved_on and s.resolved_on <= s.follow
        ),
        "resolved": sum(1 for s, _ in held if s.resolved_on),
    }


def _actual(row: support.SupportRow) -> dict[str, int]:
    n = row.counts
    return {
        "consultations": n.consultations,
        "cooperatives": n.cooperatives,
        "follow_ups_due": n.follow_ups_due,
        "follow_ups_on_time": n.follow_ups_on_time,
        "resolved": n.resolved,
    }


def test_statistics_equal_an_independent_computation(
    db: Session, wide_world: World, catalog: Catalog
) -> None:
    w = wide_world
    made = _load(db, w, catalog)
    all_coops = {c.id for c in (w.coop_a, w.coop_b, w.extra["coop_c"]) if c.id}
    for year in (2025, 2026, 2027):
        stats = support.support_stats(session=db, principal=w.principal(db, "admin"), year=year)
        assert [r.center for r in stats.rows] == sorted([w.center_a.name, w.center_b.name])
        for row in stats.rows:
            assert _actual(row) == _expected(made, row.center_id, year, all_coops), (year, row.center)
            held, resolved = row.counts.consultations, row.counts.resolved
            assert row.resolution_rate == (resolved / held if held else None)
    stats = support.support_stats(session=db, principal=w.principal(db, "admin"), year=2026)
    a = next(r for r in stats.rows if r.center_id == w.center_a.id)
    b = next(r for r in stats.rows if r.center_id == w.center_b.id)
    # Spelled out once: 6 held in 2026 by center A on 2 cooperatives; 4 with a follow-up date,
    # 2 of them done by it (one late, one still open); 4 resolved → 4/6. Center B: 2 held, none resolved → 0 %, not "—".
    assert _actual(a) == {
        "consultations": 6,
        "cooperatives": 2,
        "follow_ups_due": 4,
        "follow_ups_on_time": 2,
        "resolved": 4,
    }
    assert a.resolution_rate == 4 / 6 and a.resolution_met is False
    assert b.resolution_rate == 0.0 and b.resolution_met is False
    assert stats.total is not None and stats.total.counts.consultations == 8
    nothing = support.support_stats(session=db, principal=w.principal(db, "admin"), year=2024)
    assert all(r.resolution_rate is None and r.counts.consultations == 0 for r in nothing.rows)


def test_who_sees_which_centers_and_which_part(db: Session, wide_world: World, catalog: Catalog) -> None:
    w = wide_world
    made = _load(db, w, catalog)
    coop_c = w.extra["coop_c"]

    def rows(who: str) -> dict[int | None, dict[str, int]]:
        stats = support.support_stats(session=db, principal=w.principal(db, who), year=2026)
        return {r.center_id: _actual(r) for r in stats.rows}

    everything = {c.id for c in (w.coop_a, w.coop_b, coop_c) if c.id}
    # A center reads its own record in full; a 지자체 the serving centers' work on its cooperatives.
    assert rows("center") == {w.center_a.id: _expected(made, w.center_a.id, 2026, everything)}
    assert rows("center_b") == {w.center_b.id: _expected(made, w.center_b.id, 2026, everything)}
    assert rows("municipality") == {w.center_a.id: _expected(made, w.center_a.id, 2026, {w.coop_a.id})}  # type: ignore[arg-type]
    assert rows("municipality_b") == {
        w.center_a.id: _expected(made, w.center_a.id, 2026, {coop_c.id}),
        w.center_b.id: _expected(made, w.center_b.id, 2026, {w.coop_b.id}),  # type: ignore[arg-type]
    }
    for who in ("coop_a", "coop_b"):
        with pytest.raises(ForbiddenError):
            support.support_stats(session=db, principal=w.principal(db, who), year=2026)


def test_a_moved_cooperative_still_counts_for_the_center_that_helped(
    db: Session, world: World, catalog: Catalog
) -> None:
    rec(db, world, catalog, held=date(2026, 3, 3))
    world.coop_a.support_center_id = world.center_b.id
    db.add(world.coop_a)
    db.flush()
    stats = support.support_stats(session=db, principal=world.principal(db, "center"), year=2026)
    assert stats.rows[0].counts.consultations == 1


def _summary(db: Session, world: World, coop: Cooperative, model: str = HUB, **completed: datetime) -> None:
    track = Track(cooperative_id=coop.id, model_key=model, created_by_id=world.users["admin"].id)  # type: ignore[arg-type]
    db.add(track)
    db.flush()
    db.add(TrackSummary(track_id=track.id, **completed))  # type: ignore[arg-type]
    db.flush()


def test_stage_completions_count_cooperatives_by_the_korean_year(db: Session, wide_world: World) -> None:
    w = wide_world
    coop_c = w.extra["coop_c"]
    # 2025-12-31 15:30 UTC is 2026-01-01 00:30 in Seoul: a 2026 completion.
    _summary(db, w, w.coop_a, prepare_completed_at=datetime(2025, 12, 31, 15, 30, tzinfo=UTC))
    # A second track of the same cooperative finishing 계획 in 2026: the cooperative counts once.
    _summary(
        db,
        w,
        w.coop_a,
        "solar",
        prepare_completed_at=datetime(2025, 6, 1, tzinfo=UTC),
        plan_completed_at=datetime(2026, 12, 31, 14, 59, tzinfo=UTC),  # 23:59 in Seoul
    )
    # 2026-12-31 15:00 UTC is already 2027 in Seoul.
    _summary(db, w, coop_c, plan_completed_at=datetime(2026, 12, 31, 15, 0, tzinfo=UTC))
    _summary(db, w, w.coop_b, execute_completed_at=datetime(2026, 3, 1, tzinfo=UTC))

    def counts(year: int, who: str = "admin") -> dict[int | None, tuple[int, int]]:
        stats = support.support_stats(session=db, principal=w.principal(db, who), year=year)
        return {r.center_id: (r.counts.stage_completions, r.counts.reached_execute) for r in stats.rows}

    assert counts(2025) == {w.center_a.id: (1, 0), w.center_b.id: (0, 0)}
    assert counts(2026) == {w.center_a.id: (1, 1), w.center_b.id: (1, 0)}
    assert counts(2027) == {w.center_a.id: (1, 1), w.center_b.id: (0, 0)}
    # A 지자체 counts only its own cooperatives' completions.
    assert counts(2027, "municipality") == {w.center_a.id: (0, 0)}


def test_statistics_take_four_statements_whatever_the_data(
    db: Session, wide_world: World, catalog: Catalog, engine
) -> None:
    from tests.test_queries import count_statements

    w = wide_world
    admin = w.principal(db, "admin")
    support.support_stats(session=db, principal=admin, year=2026)
    with count_statements(engine) as few:
        support.support_stats(session=db, principal=admin, year=2026)
    _load(db, w, catalog)
    _load(db, w, catalog)
    _summary(db, w, w.coop_a, plan_completed_at=datetime(2026, 5, 1, tzinfo=UTC))
    db.add(CenterTarget(center_id=w.center_a.id, year=2026, metric="consultations", target=20))  # type: ignore[arg-type]
    db.flush()
    with count_statements(engine) as many:
        stats = support.support_stats(session=db, principal=admin, year=2026)
    assert len(few) == len(many) == 4, many
    assert stats.rows[0].targets["consultations"].target == 20


# --- targets ---------------------------------------------------------------------------------------


def test_admin_sets_and_removes_targets(db: Session, world: World) -> None:
    admin = world.principal(db, "admin")
    cid = world.center_a.id
    saved = support.set_targets(
        session=db,
        principal=admin,
        center_id=cid,
        year="2026",
        targets={"consultations": "40", "reached_execute": " 2 "},
        today=TODAY,
    )
    assert saved == {"consultations": 40, "reached_execute": 2}

    def stored() -> dict[str, int]:
        rows = db.exec(select(CenterTarget).where(col(CenterTarget.center_id) == cid)).all()
        return {t.metric: t.target for t in rows}

    assert stored() == {"consultations": 40, "reached_execute": 2}
    support.set_targets(
        session=db,
        principal=admin,
        center_id=cid,
        year=2026,
        targets={"consultations": "45", "reached_execute": ""},
        today=TODAY,
    )
    assert stored() == {"consultations": 45}
    stats = support.support_stats(session=db, principal=admin, year=2026)
    row = next(r for r in stats.rows if r.center_id == cid)
    assert row.targets["consultations"].target == 45 and row.targets["reached_execute"].target is None


def test_targets_are_validated_in_korean_and_for_admin_only(db: Session, world: World) -> None:
    admin = world.principal(db, "admin")
    with pytest.raises(FormError) as exc:
        support.set_targets(
            session=db,
            principal=admin,
            center_id=999_999,
            year="1999",
            targets={"consultations": "-1", "cooperatives": "열", "bogus": "1", "reached_execute": "1000001"},
            today=TODAY,
        )
    errors = exc.value.errors
    assert set(errors) == {
        "center_id",
        "year",
        "target_consultations",
        "target_cooperatives",
        "target_bogus",
        "target_reached_execute",
    }
    assert errors["target_consultations"].startswith("0부터 100,000 사이의 정수로 입력하세요")
    assert errors["center_id"] == "도시재생지원센터를 목록에서 고르세요."
    assert db.exec(select(func.count()).select_from(CenterTarget)).one() == 0
    for who in ("center", "municipality", "coop_a"):
        with pytest.raises(ForbiddenError):
            support.set_targets(
                session=db,
                principal=world.principal(db, who),
                center_id=world.center_a.id,
                year=2026,
                targets={},
                today=TODAY,
            )


# --- demo data --------------------------------------------------------------------------------------


def test_demo_consultations_are_realistic_and_loaded_once(db: Session, catalog: Catalog) -> None:
    from app.services.demo import CONSULTATIONS, load_demo
    from app.services.tracking import today_kst

    first = load_demo(session=db, catalog=catalog)
    assert first["consultations_added"] == len(CONSULTATIONS)
    again = load_demo(session=db, catalog=catalog)
    assert again["consultations_added"] == 0
    rows = db.exec(select(Consultation)).all()
    assert len(rows) == len(CONSULTATIONS)
    today = today_kst()
    assert any(c.status == "resolved" for c in rows)
    soon = [
        c
        for c in rows
        if c.status == "open" and c.follow_up_on and today <= c.follow_up_on <= today + timedelta(days=7)
    ]
    assert soon, "one open consultation with a follow-up date in the coming days"
    assert any(c.track_id and c.item_key for c in rows)
    assert all(c.follow_up_on is None or c.follow_up_on >= c.held_on for c in rows)
