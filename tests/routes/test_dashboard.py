"""현황판: every tile, row and count equals an independent recomputation, for each kind of viewer.

The data is generated through the services (a seeded random history over nine cooperatives in
two regions, one without a center and one supported across regions), the clock is frozen, and
the expectations are computed here from the raw item states, events and organisation ids —
not through the summary table or the visibility rule the app uses.
"""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.catalog.schema import STAGE_ORDER, BusinessModel
from app.models import Cooperative, Event, ItemState, Track, User
from app.services import dashboard as dashboard_service
from app.services import summary as summary_service
from app.services import tracking, verification
from app.services.auth import create_token
from app.services.errors import ConflictError, ForbiddenError, FormError
from tests.factories import PASSWORD_HASH, World, login
from tests.test_queries import count_statements

KST = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 12:00 KST
TODAY = date(2026, 11, 23)
STALLED_DAYS = 30
VIEWERS = ("admin", "center", "center_b", "municipality", "municipality_b")


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> dict[str, datetime]:
    """The dashboard's clock, movable by the test."""
    clock = {"now": NOW}
    monkeypatch.setattr(dashboard_service, "utcnow", lambda: clock["now"])
    return clock


def _coop(db: Session, name: str, municipality_id: int | None, center_id: int | None) -> Cooperative:
    coop = Cooperative(name=name, municipality_id=municipality_id or 0, support_center_id=center_id)
    db.add(coop)
    db.flush()
    user = User(
        login=f"u-{coop.id}",
        display_name=name,
        password_hash=PASSWORD_HASH,
        role="coop",
        cooperative_id=coop.id,
    )
    db.add(user)
    db.flush()
    return coop


def generate(
    db: Session, world: World, catalog: Catalog, *, seed: int = 7, extra: int = 0, prefix: str = ""
) -> None:
    """Seven more cooperatives next to the world's two, each with one or two random histories."""
    a, b = world.muni_a.id, world.muni_b.id
    ca, cb = world.center_a.id, world.center_b.id
    coops = [] if prefix else [world.coop_a, world.coop_b]  # a second call adds only new ones
    specs = [("다 마을조합", a, ca), ("라 마을조합", a, ca), ("마 마을조합", b, cb), ("바 마을조합", a, None)]
    specs += [("사 마을조합", a, cb), ("아 마을조합", b, cb), ("자 마을조합", a, ca)]
    specs += [(f"추가 마을조합 {i}", a if i % 2 else b, ca if i % 2 else cb) for i in range(extra)]
    coops += [_coop(db, prefix + n, m, c) for n, m, c in specs]
    rng = random.Random(seed)
    users = {
        "center": {ca: world.users["center"], cb: world.users["center_b"]},
        "municipality": {a: world.users["municipality"], b: world.users["municipality_b"]},
    }
    for i, coop in enumerate(coops):
        coop_user = db.exec(select(User).where(User.cooperative_id == coop.id, col(User.is_active))).first()
        assert coop_user is not None
        models = rng.sample(list(catalog.models), 1 + i % 2)
        # Some histories end long ago (stalled), most recently.
        end = NOW - timedelta(days=rng.choice([1, 3, 12, 45, 90]))
        for model in models:
            people = {
                "coop": _principal(db, coop_user),
                "center": _principal(db, users["center"].get(coop.support_center_id or -1)),
                "municipality": _principal(db, users["municipality"][coop.municipality_id]),
            }
            t = tracking.start_track(
                session=db,
                principal=people["coop"] or _principal(db, world.users["admin"]),
                cooperative=coop,
                catalog=catalog,
                model_key=model.key,
            )
            if i < 9:  # the extra cooperatives only add rows (paging, statement counts)
                _history(db, rng, t, model, people, end)


def _principal(db: Session, user: User | None) -> Any:
    from app.services.principal import load_principal

    return load_principal(session=db, user_id=user.id) if user and user.id else None


def _history(
    db: Session, rng: random.Random, track: Track, model: BusinessModel, people: dict[str, Any], end: datetime
) -> None:
    items = [item for _, item in model.items]
    # Some tracks finish their first stages (or everything) before the random part.
    finish = rng.choice([0, 0, 1, 2, 3])
    finished = [item for stage, item in model.items if stage in STAGE_ORDER[:finish]]
    for n, item in enumerate(finished):
        if people[item.lead] is not None:
            tracking.update_item(
                session=db,
                principal=people[item.lead],
                track=track,
                model=model,
                item_key=item.key,
                version=0,
                changes={"status": "done"},
                now=end - timedelta(days=2, minutes=len(finished) - n),
            )
    if finish == 3:
        return
    steps = rng.randint(0, 3 * len(items))
    for n in range(steps):
        at = end - timedelta(hours=steps - n)
        # Mostly in guidebook order, so stages complete and later ones start.
        item = items[min(len(items) - 1, int(n / 2.5) + rng.randint(-1, 1))] if n else items[0]
        who = people[item.lead]
        if who is None:
            continue
        roll = rng.random()
        try:
            with db.begin_nested():
                if roll < 0.15 and tracking.verifier_role(item):
                    verifier = people[tracking.verifier_role(item) or "coop"]
                    state = db.exec(
                        select(ItemState).where(
                            ItemState.track_id == track.id, ItemState.item_key == item.key
                        )
                    ).first()
                    verification.verify_item(
                        session=db,
                        principal=verifier,
                        track=track,
                        model=model,
                        item_key=item.key,
                        version=state.version if state else 0,
                        now=at,
                    )
                    continue
                state = db.exec(
                    select(ItemState).where(ItemState.track_id == track.id, ItemState.item_key == item.key)
                ).first()
                changes: dict[str, Any] = {"status": rng.choice(["doing", "done", "done", "done"])}
                if roll > 0.8:
                    changes["due_date"] = TODAY + timedelta(days=rng.randint(-20, 25))
                if roll > 0.97:
                    changes = {"status": "na", "na_reason": "해당 없음"}
                tracking.update_item(
                    session=db,
                    principal=who,
                    track=track,
                    model=model,
                    item_key=item.key,
                    version=state.version if state else 0,
                    changes=changes,
                    now=at,
                )
        except (ForbiddenError, FormError, ConflictError):
            pass


# --- the independent recomputation -----------------------------------------------------------


def visible_ids(db: Session, world: World, who: str) -> set[int]:
    user = world.users[who]
    coops = db.exec(select(Cooperative)).all()
    if user.role == "admin":
        return {c.id for c in coops if c.id}
    if user.role == "center":
        return {c.id for c in coops if c.id and c.support_center_id == user.center_id}
    return {c.id for c in coops if c.id and c.municipality_id == user.municipality_id}


def expected_rows(
    db: Session, world: World, catalog: Catalog, who: str, now: datetime
) -> dict[int, dict[str, Any]]:
    role = world.users[who].role
    today = now.astimezone(KST).date()
    ids = visible_ids(db, world, who)
    out: dict[int, dict[str, Any]] = {}
    for track in db.exec(select(Track).where(col(Track.cooperative_id).in_(ids))).all():
        model = catalog.model(track.model_key)
        assert model is not None and track.id is not None
        states = {
            s.item_key: s for s in db.exec(select(ItemState).where(ItemState.track_id == track.id)).all()
        }
        open_by_stage = dict.fromkeys(STAGE_ORDER, 0)
        overdue = due_soon = lead_open = 0
        awaiting = {"center": 0, "municipality": 0}
        for stage, item in model.items:
            s = states.get(item.key)
            status = s.status if s else "todo"
            if status in ("todo", "doing"):
                open_by_stage[stage] += 1
                if role == "admin" or item.lead == role:
                    lead_open += 1
                if s and s.due_date:
                    overdue += s.due_date < today
                    due_soon += today <= s.due_date <= today + timedelta(days=14)
            if status == "done" and s and s.verified_at is None:
                verifier = (
                    item.lead if item.lead != "coop" else ("municipality" if item.consignment else None)
                )
                if verifier:
                    awaiting[verifier] += 1
        current = next((st for st in STAGE_ORDER if open_by_stage[st]), "complete")
        last = db.exec(
            select(Event.at).where(Event.track_id == track.id).order_by(col(Event.id).desc())
        ).first()
        out[track.id] = {
            "cooperative": track.cooperative_id,
            "stage": current,
            "overdue": overdue,
            "due_soon": due_soon,
            "lead_open": lead_open,
            "awaiting": awaiting,
            "mine": awaiting[role] if role in awaiting else awaiting["center"] + awaiting["municipality"],
            "stalled": current != "complete" and (last is None or last < now - timedelta(days=STALLED_DAYS)),
            "last": last,
        }
    return out


def expected_totals(rows: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        "cooperatives": len({r["cooperative"] for r in rows.values()}),
        "tracks": len(rows),
        "by_stage": {s: sum(r["stage"] == s for r in rows.values()) for s in (*STAGE_ORDER, "complete")},
        "overdue_items": sum(r["overdue"] for r in rows.values()),
        "awaiting_verification": sum(r["mine"] for r in rows.values()),
        "stalled_tracks": sum(r["stalled"] for r in rows.values()),
    }


# --- through the API ---------------------------------------------------------------------------


@pytest.fixture
def data(db: Session, world: World, catalog: Catalog) -> World:
    generate(db, world, catalog)
    return world


def api_for(client: TestClient, db: Session, world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(session=db, user=world.users[who]).token}"}


def all_rows(
    client: TestClient, headers: dict[str, str], **params: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    first = client.get("/api/v1/dashboard", params=params, headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    rows = list(body["rows"])
    for page in range(2, body["pages"] + 1):
        rows += client.get("/api/v1/dashboard", params={**params, "page": page}, headers=headers).json()[
            "rows"
        ]
    assert len(rows) == body["total_rows"] == body["totals"]["tracks"]
    return body, rows


def test_every_total_and_row_equals_an_independent_recomputation(
    client: TestClient, db: Session, data: World, catalog: Catalog, frozen: dict[str, datetime]
) -> None:
    for who in VIEWERS:
        check_viewer(client, db, data, catalog, who)


def check_viewer(client: TestClient, db: Session, data: World, catalog: Catalog, who: str) -> None:
    expected = expected_rows(db, data, catalog, who, NOW)
    body, rows = all_rows(client, api_for(client, db, data, who))
    assert body["totals"] == expected_totals(expected), who
    assert {r["track_id"] for r in rows} == set(expected), "exactly the visible tracks"
    for r in rows:
        e = expected[r["track_id"]]
        assert r["cooperative"]["id"] == e["cooperative"]
        assert (r["current_stage"] or "complete") == e["stage"]
        assert r["progress"]["current_stage"] == r["current_stage"]
        assert (r["overdue"], r["due_soon"], r["lead_open"]) == (e["overdue"], e["due_soon"], e["lead_open"])
        assert r["awaiting_verification"] == e["awaiting"]
        assert r["stalled"] == e["stalled"]
        assert r["last_activity_at"] == (e["last"].isoformat().replace("+00:00", "Z") if e["last"] else None)


def test_the_generated_data_has_something_of_every_kind(
    db: Session, data: World, catalog: Catalog, frozen: dict[str, datetime]
) -> None:
    """Guards the other tests against passing on empty data."""
    rows = expected_rows(db, data, catalog, "admin", NOW).values()
    assert sum(r["overdue"] for r in rows) and sum(r["due_soon"] for r in rows)
    assert sum(r["mine"] for r in rows) and sum(r["stalled"] for r in rows)
    assert len({r["stage"] for r in rows}) >= 3


def test_a_municipality_never_counts_another_municipalitys_cooperatives(
    client: TestClient, db: Session, data: World, frozen: dict[str, datetime]
) -> None:
    for who, other in (("municipality", "municipality_b"), ("center", "center_b")):
        _, mine = all_rows(client, api_for(client, db, data, who))
        _, theirs = all_rows(client, api_for(client, db, data, other))
        assert mine and theirs
        assert not {r["track_id"] for r in mine} & {r["track_id"] for r in theirs}
        visible = visible_ids(db, data, who)
        assert {r["cooperative"]["id"] for r in mine} <= visible


FILTERS: list[dict[str, Any]] = [
    {"stage": "plan"},
    {"stage": "complete"},
    {"overdue": "true"},
    {"awaiting": "true"},
    {"stalled": "true"},
    {"region": "서울특별시"},
    {"region": "인천광역시 남동구", "overdue": "true"},
    {"q": "마을"},
    {"q": "다 마을"},
    {"model": "hub-facility", "stage": "prepare"},
    {"stage": "execute", "awaiting": "true", "stalled": "false"},
]


def _matches(
    r: dict[str, Any], coop: Cooperative, region: tuple[str, str], model: str, f: dict[str, Any]
) -> bool:
    return (
        (not f.get("stage") or r["stage"] == f["stage"])
        and (f.get("overdue") != "true" or r["overdue"] > 0)
        and (f.get("awaiting") != "true" or r["mine"] > 0)
        and (f.get("stalled") != "true" or r["stalled"])
        and (not f.get("region") or f["region"] in region)
        and (not f.get("q") or f["q"] in coop.name)
        and (not f.get("model") or model == f["model"])
    )


def test_filters_combine(
    client: TestClient, db: Session, data: World, catalog: Catalog, frozen: dict[str, datetime]
) -> None:
    from app.models import Municipality

    coops = {c.id: c for c in db.exec(select(Cooperative)).all()}
    munis = {m.id: (m.sido, m.name) for m in db.exec(select(Municipality)).all()}
    tracks = {t.id: t for t in db.exec(select(Track)).all()}
    for who in ("admin", "center"):
        expected = expected_rows(db, data, catalog, who, NOW)
        headers = api_for(client, db, data, who)
        for f in FILTERS:
            wanted = {
                tid
                for tid, r in expected.items()
                if _matches(
                    r,
                    coops[r["cooperative"]],
                    munis[coops[r["cooperative"]].municipality_id],
                    tracks[tid].model_key,
                    f,
                )
            }
            body, rows = all_rows(client, headers, **f)
            assert {r["track_id"] for r in rows} == wanted, (who, f)
            assert body["totals"] == expected_totals({tid: expected[tid] for tid in wanted}), (who, f)
    # Guard against filters that match everything or nothing in this data.
    assert any(len(all_rows(client, headers, **f)[1]) not in (0, len(tracks)) for f in FILTERS)


SORTS: list[tuple[str, Any]] = [
    ("-overdue", lambda r: -r["overdue"]),
    ("overdue", lambda r: r["overdue"]),
    ("-due_soon", lambda r: -r["due_soon"]),
    ("-lead_open", lambda r: -r["lead_open"]),
    (
        "-awaiting",
        lambda r: -(r["awaiting_verification"]["center"] + r["awaiting_verification"]["municipality"]),
    ),
    ("stage", lambda r: ["prepare", "plan", "execute", None].index(r["current_stage"])),
    ("-progress", lambda r: -r["progress"]["overall"]["percent"]),
    ("cooperative", lambda r: r["cooperative"]["name"]),
    ("region", lambda r: r["region"]),
    ("model", lambda r: r["model"]),
    ("last_activity", lambda r: r["last_activity_at"] or ""),
    ("-stalled", lambda r: -int(r["stalled"])),
]


def test_rows_sort_on_every_column_across_pages(
    client: TestClient, db: Session, data: World, frozen: dict[str, datetime]
) -> None:
    headers = api_for(client, db, data, "admin")
    assert {s.lstrip("-") for s, _ in SORTS} == set(dashboard_service.SORT_LABELS)
    for sort, key in SORTS:
        _, rows = all_rows(client, headers, sort=sort)
        assert [key(r) for r in rows] == sorted(key(r) for r in rows), sort


def test_paging_and_totals_cover_all_rows_not_the_page(
    client: TestClient, db: Session, world: World, catalog: Catalog, frozen: dict[str, datetime]
) -> None:
    generate(db, world, catalog, extra=60)
    body, rows = all_rows(client, api_for(client, db, world, "admin"))
    assert body["pages"] >= 2 and len(body["rows"]) == dashboard_service.PAGE_SIZE
    assert body["totals"]["tracks"] == len(rows) == len({r["track_id"] for r in rows})


# --- time: overdue flips with no write --------------------------------------------------------


def test_overdue_flips_the_day_after_the_due_date_with_no_write(
    client: TestClient, db: Session, world: World, catalog: Catalog, frozen: dict[str, datetime]
) -> None:
    model = catalog.model("hub-facility")
    assert model is not None
    track = tracking.start_track(
        session=db,
        principal=world.principal(db, "coop_a"),
        cooperative=world.coop_a,
        catalog=catalog,
        model_key=model.key,
    )
    tracking.update_item(
        session=db,
        principal=world.principal(db, "coop_a"),
        track=track,
        model=model,
        item_key="operating-plan",
        version=0,
        changes={"status": "doing", "due_date": TODAY},
    )
    headers = api_for(client, db, world, "center")

    def counts() -> tuple[int, int]:
        row = next(
            r
            for r in client.get("/api/v1/dashboard", headers=headers).json()["rows"]
            if r["track_id"] == track.id
        )
        return row["overdue"], row["due_soon"]

    frozen["now"] = datetime(2026, 11, 23, 14, 59, tzinfo=UTC)  # 23:59 KST on the due date
    assert counts() == (0, 1)
    frozen["now"] = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # midnight in Seoul
    assert counts() == (1, 0)


def test_a_due_date_set_by_the_cooperative_shows_on_the_centers_dashboard_at_once(
    client: TestClient, db: Session, world: World, catalog: Catalog, frozen: dict[str, datetime]
) -> None:
    model = catalog.model("hub-facility")
    assert model is not None
    track = tracking.start_track(
        session=db,
        principal=world.principal(db, "coop_a"),
        cooperative=world.coop_a,
        catalog=catalog,
        model_key=model.key,
    )
    csrf = login(client, "coop-a")
    r = client.post(
        f"/tracks/{track.id}/items/operating-plan",
        data={"csrf_token": csrf, "version": "0", "status": "doing", "due_date": "2026-11-01"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    client.post("/logout", data={"csrf_token": csrf})
    login(client, "center-a")
    page = client.get("/dashboard")
    assert page.status_code == 200
    row = re.search(rf'href="/tracks/{track.id}\?show=overdue">(\d+)</a>', page.text)
    assert row and row.group(1) == "1"


def test_the_cached_dashboard_follows_changes_moves_and_the_clock(
    client: TestClient, db: Session, world: World, catalog: Catalog, frozen: dict[str, datetime]
) -> None:
    """The page cache keeps a 현황판 while the viewer's revision and the minute stay the same:
    a cooperative's change, an admin moving a cooperative and time passing each show at once."""
    model = catalog.model("hub-facility")
    assert model is not None
    coop = world.principal(db, "coop_a")
    track = tracking.start_track(
        session=db, principal=coop, cooperative=world.coop_a, catalog=catalog, model_key=model.key
    )
    login(client, "center-a")
    overdue = re.compile(rf'href="/tracks/{track.id}\?show=overdue">(\d+)</a>')

    def page() -> str:
        r = client.get("/dashboard")
        assert r.status_code == 200
        return r.text

    assert f"/tracks/{track.id}" in page() and not overdue.search(page())
    tracking.update_item(
        session=db, principal=coop, track=track, model=model, item_key="operating-plan", version=0,
        changes={"status": "doing", "due_date": TODAY - timedelta(days=1)},
    )  # fmt: skip
    found = overdue.search(page())
    assert found and found.group(1) == "1"

    # Nothing written, only the clock: weeks later the track is stalled.
    assert "정체</span>" not in page()
    frozen["now"] = NOW + timedelta(days=STALLED_DAYS + 3)
    assert '<span class="flag-inline">정체</span>' in page()

    # An admin renames the cooperative, then moves it to the other center (both audited): the
    # new name shows, then it leaves this 현황판.
    def edit(**fields: str) -> None:
        with TestClient(client.app) as admin:
            csrf = login(admin, "admin")
            data = {"csrf_token": csrf, "name": "새 이름 마을조합", "municipality_id": str(world.muni_a.id)}
            r = admin.post(
                f"/admin/cooperatives/{world.coop_a.id}", data=data | fields, follow_redirects=False
            )
            assert r.status_code == 303, r.text

    edit(support_center_id=str(world.center_a.id))
    assert "새 이름 마을조합" in page()
    edit(support_center_id=str(world.center_b.id))
    assert f"/tracks/{track.id}" not in page()


# --- the page, its fragment and its exports ------------------------------------------------------


def tiles(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'class="tile__num">(\d+)<', html)]


def test_page_tiles_equal_the_api_totals(
    client: TestClient, db: Session, data: World, frozen: dict[str, datetime]
) -> None:
    for who in ("center", "municipality", "admin"):
        body, _ = all_rows(client, api_for(client, db, data, who))
        login(client, data.users[who].login)
        html = client.get("/dashboard").text
        t = body["totals"]
        assert tiles(html) == [
            t["cooperatives"],
            t["overdue_items"],
            t["awaiting_verification"],
            t["stalled_tracks"],
        ]
        for stage, n in t["by_stage"].items():
            assert re.search(rf"stage={stage}[^>]*><span>[^<]+</span> <strong>{n}</strong>", html), stage


def test_an_htmx_filter_change_answers_the_results_fragment(
    client: TestClient, data: World, frozen: dict[str, datetime]
) -> None:
    login(client, "admin")
    r = client.get("/dashboard", params={"stage": "plan"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "HX-Request" in r.headers["Vary"]
    assert r.text.lstrip().startswith('<div id="results"') and "<html" not in r.text
    full = client.get("/dashboard", params={"stage": "plan"})
    assert "<html" in full.text and 'id="results"' in full.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"stage": "done"}, "stage"),
        ({"sort": "name; drop"}, "sort"),
        ({"overdue": "maybe"}, "overdue"),
        ({"model": "x"}, "model"),
        ({"page": "0"}, "page"),
    ],
)
def test_bad_filters_are_a_clear_error(
    client: TestClient, db: Session, world: World, params: dict[str, str], field: str
) -> None:
    login(client, "admin")
    r = client.get("/dashboard", params=params)
    assert r.status_code == 400
    assert "현황판 조건이 올바르지 않습니다" in r.text and field in r.text
    api = client.get("/api/v1/dashboard", params=params, headers=api_for(client, db, world, "admin"))
    assert api.status_code == 422


def test_a_cooperative_user_is_sent_to_its_own_page(client: TestClient, db: Session, world: World) -> None:
    login(client, "coop-a")
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/cooperatives/{world.coop_a.id}"
    assert client.get("/api/v1/dashboard", headers=api_for(client, db, world, "coop_a")).status_code == 403
    assert client.get("/dashboard.csv").status_code == 403


def test_csv_and_xlsx_equal_the_api_under_the_same_filters(
    client: TestClient, db: Session, data: World, frozen: dict[str, datetime]
) -> None:
    params = {"region": "서울특별시", "sort": "-progress"}
    _, rows = all_rows(client, api_for(client, db, data, "center"), **params)
    assert rows
    login(client, "center-a")
    raw = client.get("/dashboard.csv", params=params)
    assert raw.headers["content-type"].startswith("text/csv")
    assert raw.content.startswith("\ufeff".encode())
    assert "attachment" in raw.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(raw.content.decode("utf-8-sig"))))
    header, body = table[0], table[1:]
    assert header[:6] == ["조합", "시·도", "시·군·구", "사업모델", "현재 단계", "진행률"]
    labels = {"prepare": "준비", "plan": "계획", "execute": "실행", None: "완료"}

    def api_cells(r: dict[str, Any]) -> list[Any]:
        aw = r["awaiting_verification"]
        return [
            r["cooperative"]["name"],
            labels[r["current_stage"]],
            r["progress"]["overall"]["percent"],
            r["lead_open"],
            r["overdue"],
            r["due_soon"],
            aw["center"],
            aw["municipality"],
            "정체" if r["stalled"] else "",
        ]

    csv_cells = [
        [
            b[0],
            b[4],
            int(b[5]) if b[5] else 0,
            int(b[9]),
            int(b[10]),
            int(b[11]),
            int(b[12]),
            int(b[13]),
            b[15],
        ]
        for b in body
    ]
    assert csv_cells == [api_cells(r) for r in rows]

    xlsx = client.get("/dashboard.xlsx", params=params)
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    ws = wb["현황판"]
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref
    assert ws["A1"].font.bold and ws["F2"].number_format == "0%"
    sheet = list(ws.iter_rows(min_row=2, values_only=True))
    xlsx_cells = [
        [
            s[0],
            s[4],
            int(round((s[5] or 0) * 100 - 0.5 + 1e-9)) if s[5] is not None else 0,
            s[9],
            s[10],
            s[11],
            s[12],
            s[13],
            s[15] or "",
        ]
        for s in sheet
    ]
    assert xlsx_cells == [api_cells(r) for r in rows]
    about = {row[0]: row[1] for row in wb["조건"].iter_rows(min_row=2, values_only=True)}
    assert about["지역"] == "서울특별시" and about["행 수"] == len(rows)
    assert about["생성 시각(KST)"].startswith("2026-11-23 12:00")


def test_charts_are_svg_images_with_their_own_narrow_csp(
    client: TestClient, data: World, frozen: dict[str, datetime]
) -> None:
    login(client, "center-a")
    for name in ("stages", "activity", "roles"):
        r = client.get(f"/dashboard/charts/{name}.svg", params={"stage": "plan"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        assert r.text.startswith("<svg")
    assert client.get("/dashboard/charts/other.svg").status_code == 404
    # The 현황판 loads its charts after the rows (HTMX), with a link for browsers without it.
    page = client.get("/dashboard").text
    assert 'hx-get="/dashboard/charts"' in page and 'href="/dashboard/charts"' in page
    charts = client.get("/dashboard/charts")
    assert "<html" in charts.text and charts.text.count("<figure") == 3
    assert charts.text.count("<table") >= 3  # each chart's numbers stand beside it
    fragment = client.get("/dashboard/charts", params={"stage": "plan"}, headers={"HX-Request": "true"})
    assert (
        fragment.text.lstrip().startswith('<section class="charts" id="charts"')
        and "<html" not in fragment.text
    )
    assert "stage=plan" in fragment.text


def test_activity_per_week_counts_the_visible_events_of_the_last_twelve_weeks(
    db: Session, data: World, catalog: Catalog, frozen: dict[str, datetime]
) -> None:
    principal = data.principal(db, "center")
    filters = dashboard_service.Filters()
    totals = dashboard_service.load_totals(
        session=db, principal=principal, catalog=catalog, filters=filters, stalled_days=STALLED_DAYS, now=NOW
    )
    charts = dashboard_service.load_charts(
        session=db,
        principal=principal,
        catalog=catalog,
        filters=filters,
        totals=totals,
        stalled_days=STALLED_DAYS,
        now=NOW,
    )
    ids = visible_ids(db, data, "center")
    events = db.exec(
        select(Event.at).where(col(Event.cooperative_id).in_(ids), col(Event.track_id).is_not(None))
    ).all()
    # Calendar weeks in Korea, Monday to Sunday: this one (up to now) and the eleven before it.
    this_monday = TODAY - timedelta(days=TODAY.weekday())
    mondays = [this_monday - timedelta(weeks=i) for i in reversed(range(12))]
    expected = [0] * 12
    for at in events:
        local = at.astimezone(KST).date()
        week = local - timedelta(days=local.weekday())
        if week in mondays and at <= NOW:
            expected[mondays.index(week)] += 1
    assert [n for _, n in charts.weeks] == expected
    assert sum(expected) > 0
    assert [w for w, _ in charts.weeks] == mondays

    # The finished weeks' stored counts give the same chart, for a filtered and an unfiltered view.
    def chart(who: str, f: dashboard_service.Filters) -> list[tuple[date, int]]:
        p = data.principal(db, who)
        t = dashboard_service.load_totals(
            session=db, principal=p, catalog=catalog, filters=f, stalled_days=STALLED_DAYS, now=NOW
        )
        return dashboard_service.load_charts(
            session=db, principal=p, catalog=catalog, filters=f, totals=t, stalled_days=STALLED_DAYS, now=NOW
        ).weeks

    views = [("center", filters), ("admin", filters), ("admin", dashboard_service.Filters(stage="plan"))]
    before = [chart(who, f) for who, f in views]
    assert summary_service.roll_activity(session=db, now=NOW) > 0
    assert summary_service.rolled_until(db) == mondays[-1]
    assert summary_service.roll_activity(session=db, now=NOW) == 0
    assert [chart(who, f) for who, f in views] == before
    by_model = {m.key: counts for m, counts in charts.stage_by_model}
    assert sum(sum(c.values()) for c in by_model.values()) == totals.tracks


# --- statements per request ---------------------------------------------------------------------

# savepoint, the session's user, the header's unread 알림 count, totals, rows, regions, release:
# the same for 9 or 69 cooperatives (the charts load separately). Update only after reading the
# statements a failure lists.
# +1: the viewer's revision (the last event they may see, the last admin change), the page
# cache's key; the page the cache answers reads only who asks, their count and that revision.
DASHBOARD_STATEMENTS = 8
CACHED_DASHBOARD_STATEMENTS = 5
API_STATEMENTS = 5  # savepoint, the token's user, totals, rows, release


def test_dashboard_statements_do_not_grow_with_cooperatives(
    client: TestClient,
    db: Session,
    engine: Engine,
    world: World,
    catalog: Catalog,
    frozen: dict[str, datetime],
) -> None:
    generate(db, world, catalog)
    headers = api_for(client, db, world, "admin")
    login(client, "admin")

    def count(path: str, *, cached: bool = False, **kw: Any) -> list[str]:
        client.get(path, **kw)  # warm-up
        if not cached:
            client.app.state.pages.clear()  # type: ignore[attr-defined]
        with count_statements(engine) as statements:
            assert client.get(path, **kw).status_code == 200
        return statements

    small = (
        count("/dashboard"),
        count("/dashboard?overdue=1&sort=-progress"),
        count("/api/v1/dashboard", headers=headers),
    )
    generate(db, world, catalog, seed=8, extra=60, prefix="둘째 ")
    large = (
        count("/dashboard"),
        count("/dashboard?overdue=1&sort=-progress"),
        count("/api/v1/dashboard", headers=headers),
    )
    for before, after, expected in zip(
        small, large, (DASHBOARD_STATEMENTS, DASHBOARD_STATEMENTS, API_STATEMENTS), strict=True
    ):
        assert len(before) == len(after) == expected, "\n".join(after)
    cached = count("/dashboard", cached=True)
    assert len(cached) == CACHED_DASHBOARD_STATEMENTS, "\n".join(cached)


def test_a_filter_shape_is_built_once_whatever_its_values(
    client: TestClient, db: Session, data: World, catalog: Catalog, frozen: dict[str, datetime]
) -> None:
    """The day, the viewer's organization and the filters' values are parameters: another value
    of the same filters reuses the statements (and still gets its own rows, test_filters_combine)."""
    principal = _principal(db, data.users["center"])
    statements = dashboard_service.query_for(principal, catalog).statements
    headers = api_for(client, db, data, "center")
    all_rows(client, headers, q="마을", sort="cooperative")
    built = dict(statements)
    assert any(key[0] == "page" and key[-1] == "cooperative" for key in built)
    for q in ("다 마을", "없는 이름", "마"):
        all_rows(client, headers, q=q, sort="cooperative")
    all_rows(client, api_for(client, db, data, "center_b"), q="마을", sort="cooperative")
    assert statements == built
