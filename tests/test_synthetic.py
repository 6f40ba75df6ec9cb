"""Synthetic cooperatives (`maeul demo load --cooperatives N`): the same rules as real use.

Twenty cooperatives are loaded into the test's rolled-back transaction on both backends; the
histories must obey the services' rules, every summary must equal its recomputation, the
dashboard must have something to show in every column, and a second load must add nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.config import get_settings
from app.models import (
    CenterMunicipality,
    Comment,
    Cooperative,
    Event,
    Evidence,
    ItemState,
    Municipality,
    SupportCenter,
    Track,
    TrackDueItem,
    TrackSummary,
    User,
)
from app.models.summary import COMPLETE_RANK
from app.services import summary, synthetic, tracking
from app.services.auth import authenticate
from app.services.demo import DEMO_PASSWORD
from app.services.principal import load_principal
from tests.test_cli import cli_db, count, invoke  # noqa: F401 - cli_db is a fixture

N = 20
NOW = datetime.now(UTC).replace(microsecond=0)
TABLES = (Municipality, SupportCenter, CenterMunicipality, Cooperative, User, Track, ItemState, Event)


@pytest.fixture
def loaded(db: Session, catalog: Catalog) -> synthetic.SyntheticResult:
    return synthetic.load_synthetic(session=db, catalog=catalog, cooperatives=N, now=NOW)


def synthetic_coops(db: Session) -> list[Cooperative]:
    return list(
        db.exec(select(Cooperative).where(col(Cooperative.name).like("%마을 마을관리 사회적협동조합 %")))
    )


def table_counts(db: Session) -> dict[str, int]:
    return {t.__name__: db.exec(select(func.count()).select_from(t)).one() for t in TABLES}


def test_counts_regions_and_users(db: Session, loaded: synthetic.SyntheticResult) -> None:
    coops = synthetic_coops(db)
    assert (loaded.added, loaded.present, len(coops)) == (N, 0, N)
    assert loaded.tracks == 2 * N
    # consecutive cooperatives visit every 시·도 in turn
    sido = db.exec(
        select(Municipality.sido).where(col(Municipality.id).in_([c.municipality_id for c in coops]))
    ).all()
    assert len(set(sido)) == 17
    assert any(c.support_center_id is None for c in coops)

    users = db.exec(select(User).where(col(User.login).like("synth-%"))).all()
    assert loaded.users == len(users)
    coop_users = Counter(u.cooperative_id for u in users if u.role == "coop")
    assert coop_users == Counter({c.id: 1 for c in coops})
    assert {u.login for u in users if u.role == "coop"} == {f"synth-coop-{i:04d}" for i in range(1, N + 1)}
    assert len({u.password_hash for u in users}) == 1  # one argon2 hash, computed once
    # one user per organization created, each center serving 1–3 municipalities
    made_munis = {u.municipality_id for u in users if u.role == "municipality"}
    made_centers = {u.center_id for u in users if u.role == "center"}
    assert len(made_munis) + len(made_centers) == loaded.organizations
    served = Counter(
        db.exec(
            select(CenterMunicipality.center_id).where(col(CenterMunicipality.center_id).in_(made_centers))
        ).all()
    )
    assert set(served) == made_centers and set(served.values()) <= {1, 2, 3}
    assert "부산광역시 사하구" in db.exec(select(Municipality.name)).all()

    for coop in coops:
        tracks = db.exec(select(Track).where(Track.cooperative_id == coop.id)).all()
        assert len({t.model_key for t in tracks}) == 2, coop.name


def test_a_synthetic_user_logs_in_with_the_demo_password(
    db: Session, loaded: synthetic.SyntheticResult
) -> None:
    user = authenticate(session=db, login="synth-coop-0001", password=DEMO_PASSWORD)
    assert user.role == "coop"


def test_every_summary_equals_its_recomputation(
    db: Session, catalog: Catalog, loaded: synthetic.SyntheticResult
) -> None:
    """Stored rows and due items equal compute_summary over the states and the newest event."""
    ids = _synthetic_track_ids(db)
    assert len(ids) == 2 * N
    states: dict[int, dict[str, summary.ItemFacts]] = defaultdict(dict)
    for s in db.exec(select(ItemState).where(col(ItemState.track_id).in_(ids))):
        states[s.track_id][s.item_key] = summary.ItemFacts(
            status=s.status,
            due_date=s.due_date,
            verified=s.verified_at is not None,
            updated_at=s.updated_at,
            change_requested=bool(s.change_request),
        )
    newest: dict[int | None, tuple[datetime, str | None]] = {}
    for at, track_id, role in db.exec(
        select(Event.at, Event.track_id, User.role)
        .outerjoin(User, col(User.id) == col(Event.actor_id))
        .where(col(Event.track_id).in_(ids))
        .order_by(col(Event.id))
    ):
        newest[track_id] = (at, role)
    due: dict[int, list[tuple[str, date, str]]] = defaultdict(list)
    for d in db.exec(select(TrackDueItem).where(col(TrackDueItem.track_id).in_(ids))):
        due[d.track_id].append((d.item_key, d.due_date, d.lead))
    stored = {r.track_id: r for r in db.exec(select(TrackSummary).where(col(TrackSummary.track_id).in_(ids)))}
    for track in db.exec(select(Track).where(col(Track.id).in_(ids))):
        model = catalog.model(track.model_key)
        assert model is not None and track.id is not None
        facts = summary.compute_summary(model=model, items=states[track.id], last_activity=newest[track.id])
        row = stored[track.id]
        assert row.model_dump(exclude={"decision"}) == summary.summary_values(
            track.id, facts, row.refreshed_at
        )
        assert sorted(due[track.id]) == sorted((d.item_key, d.due_date, d.lead) for d in facts.due)


def test_the_dashboard_has_something_in_every_column(db: Session, loaded: synthetic.SyntheticResult) -> None:
    today = tracking.today_kst(NOW)
    due = db.exec(select(TrackDueItem.due_date)).all()
    assert sum(d < today for d in due) > 0  # overdue
    assert sum(today <= d <= today + timedelta(days=14) for d in due) > 0  # due soon
    rows = db.exec(select(TrackSummary)).all()
    stalled_before = NOW - timedelta(days=get_settings().stalled_days)
    assert sum(r.stage_rank == COMPLETE_RANK for r in rows) > 0
    assert sum(r.stage_rank < COMPLETE_RANK and r.last_activity_at < stalled_before for r in rows) > 0  # type: ignore[operator]
    assert sum(r.last_activity_at >= stalled_before for r in rows) > 0  # type: ignore[operator]
    assert sum(r.awaiting_center > 0 for r in rows) > 0
    assert sum(r.awaiting_municipality > 0 for r in rows) > 0
    assert sum(r.change_requests > 0 for r in rows) > 0
    assert sum(r.consignment_verified > 0 for r in rows) > 0
    assert {r.stage_rank for r in rows} == {0, 1, 2, COMPLETE_RANK}
    first = min(e for e in db.exec(select(Event.at).where(col(Event.action) == "track_started")).all())
    assert NOW - first > timedelta(days=365)  # histories reach back over a year


def test_histories_follow_the_services_rules(
    db: Session, catalog: Catalog, loaded: synthetic.SyntheticResult
) -> None:
    track_ids = [t.id for t in db.exec(select(Track).where(col(Track.id).in_(_synthetic_track_ids(db))))]
    models = {
        t.id: catalog.model(t.model_key) for t in db.exec(select(Track).where(col(Track.id).in_(track_ids)))
    }
    roles = dict(db.exec(select(User.id, User.role)).all())
    events = db.exec(select(Event).where(col(Event.track_id).in_(track_ids)).order_by(col(Event.id))).all()
    assert len(events) == loaded.events

    changes: Counter[tuple[int | None, str | None]] = Counter()
    last_at: dict[int | None, datetime] = {}
    evidence_seen: set[tuple[int | None, str | None]] = set()
    for e in events:
        assert e.at >= last_at.get(e.track_id, e.at)  # a track's log: ids follow time
        last_at[e.track_id] = e.at
        if e.action in synthetic.VERSIONED:
            changes[e.track_id, e.item_key] += 1
        if e.action == "evidence_added":
            evidence_seen.add((e.track_id, e.item_key))
        if e.action == "item_updated":
            assert set(e.changes) <= {*tracking.EDITABLE_FIELDS, "verified", "change_request"}
            assert all(len(v) == 2 and v[0] != v[1] for v in e.changes.values())
        if e.action in ("verified", "changes_requested"):  # by the verifier only
            model = models[e.track_id]
            assert model is not None
            item = model.item(e.item_key or "")
            assert item is not None and summary.verifier_role(item) == roles[e.actor_id]
            if e.action == "verified" and item.consignment:  # 위탁 전 확인: evidence first
                assert (e.track_id, e.item_key) in evidence_seen

    states = db.exec(select(ItemState).where(col(ItemState.track_id).in_(track_ids))).all()
    assert states
    for s in states:
        assert s.version == changes[s.track_id, s.item_key], (s.track_id, s.item_key)
        assert (s.status == "na") == bool(s.na_reason)
        if s.verified_at is not None:
            assert s.status == "done" and s.verified_by_id is not None
        if s.change_request:  # an open 보완 요청 keeps the item 진행 중
            assert s.status == "doing" and s.change_requested_by_id is not None
    assert sum(changes.values()) == sum(s.version for s in states)
    # every comment and every piece of evidence has its one event
    comments = db.exec(
        select(func.count()).select_from(Comment).where(col(Comment.track_id).in_(track_ids))
    ).one()
    evidence = db.exec(
        select(func.count()).select_from(Evidence).where(col(Evidence.track_id).in_(track_ids))
    ).one()
    actions = Counter(e.action for e in events)
    assert (actions["comment"], actions["evidence_added"], actions["track_started"]) == (
        comments,
        evidence,
        2 * N,
    )


def test_loading_again_adds_nothing_and_a_larger_n_only_the_new_ones(
    db: Session, catalog: Catalog, loaded: synthetic.SyntheticResult
) -> None:
    before = table_counts(db)
    again = synthetic.load_synthetic(session=db, catalog=catalog, cooperatives=N)
    assert (again.added, again.present) == (0, N)
    assert table_counts(db) == before
    more = synthetic.load_synthetic(session=db, catalog=catalog, cooperatives=N + 3)
    assert (more.added, more.present, more.tracks) == (3, N, 6)
    assert len(synthetic_coops(db)) == N + 3


def test_the_app_writes_after_the_bulk_ids(
    db: Session, catalog: Catalog, loaded: synthetic.SyntheticResult
) -> None:
    """New rows from the services get ids after the synthetic ones (PostgreSQL: sequences moved)."""
    max_event = db.exec(select(func.max(Event.id))).one()
    user = db.exec(select(User).where(User.login == "synth-coop-0002")).one()
    principal = load_principal(session=db, user_id=user.id or 0)
    assert principal is not None
    track = db.exec(select(Track).where(Track.cooperative_id == user.cooperative_id)).first()
    assert track is not None and track.id is not None
    model = catalog.model(track.model_key)
    assert model is not None
    key = model.items[-1][1].key
    current = db.exec(
        select(ItemState).where(ItemState.track_id == track.id, ItemState.item_key == key)
    ).first()
    state = tracking.update_item(
        session=db,
        principal=principal,
        track=track,
        model=model,
        item_key=key,
        version=current.version if current else 0,
        changes={"note": "대량 적재 뒤의 첫 변경"},
    )
    assert state.version == (current.version if current else 0) + 1
    assert db.exec(select(func.max(Event.id))).one() > max_event  # type: ignore[operator]


def test_the_demo_regions_are_reused_with_their_own_users(db: Session, catalog: Catalog) -> None:
    from app.services.demo import load_demo

    load_demo(session=db, catalog=catalog)
    synthetic.load_synthetic(session=db, catalog=catalog, cooperatives=8)  # the 8th is in 세종
    sejong = db.exec(select(Municipality).where(Municipality.name == "세종특별자치시")).one()
    coop = db.exec(select(Cooperative).where(col(Cooperative.name).endswith(" 0008"))).one()
    assert coop.municipality_id == sejong.id
    gov = db.exec(select(User.login).where(User.municipality_id == sejong.id)).all()
    assert gov == ["gov-sejong"]  # no second user for an organization that was there


def test_zero_cooperatives_is_a_no_op(db: Session, catalog: Catalog) -> None:
    before = table_counts(db)
    assert synthetic.load_synthetic(session=db, catalog=catalog, cooperatives=0) == synthetic.SyntheticResult(
        0, 0
    )
    assert table_counts(db) == before


def _synthetic_track_ids(db: Session) -> list[int]:
    coop_ids = [c.id for c in synthetic_coops(db)]
    return [t for t in db.exec(select(Track.id).where(col(Track.cooperative_id).in_(coop_ids))) if t]


# --- the command ---------------------------------------------------------------------------------


def test_demo_load_with_cooperatives_adds_them_once(cli_db: Engine) -> None:  # noqa: F811
    first = invoke("demo", "load", "--cooperatives", "3")
    assert first.exit_code == 0, first.output
    assert "3 synthetic cooperatives added (0 already there)" in first.output
    assert count(cli_db, Cooperative) == 6 + 3
    second = invoke("demo", "load", "--cooperatives", "3")
    assert second.exit_code == 0, second.output
    assert "0 synthetic cooperatives added (3 already there)" in second.output
    assert count(cli_db, Cooperative) == 6 + 3
    assert count(cli_db, TrackSummary) == count(cli_db, Track) == 6 + 2 * 3


def test_synthetic_cooperatives_are_refused_in_production(
    cli_db: Engine,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAEUL_ENV", "production")
    monkeypatch.setenv("MAEUL_SECRET_KEY", "production-secret-" + "p" * 40)
    get_settings.cache_clear()
    result = invoke("demo", "load", "--cooperatives", "5")
    assert result.exit_code == 1
    assert "production" in result.output
    assert "Traceback" not in result.output
    assert count(cli_db, Cooperative) == 0
    assert count(cli_db, User) == 0
