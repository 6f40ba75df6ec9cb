"""A committed world, HTTP clients that read and write it, and the checks that nothing was lost.

Shared by the load-integrity test (many clients, no faults) and the fault tests (a few clients
while the database stops or a worker dies). Every write carries a note no other write has, so
the log can be matched write by write with what the clients were told.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
from sqlalchemy import func
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from app.catalog import Catalog
from app.db import make_engine, transaction
from app.migrate import upgrade
from app.models import Event, ItemState, TrackSummary
from app.services import summary as summary_service
from app.services import tracking
from app.services.auth import create_token
from tests.factories import PASSWORD, make_world
from tests.fixtures.tracking_helpers import COOP_CONSIGNMENT, COOP_ITEM, EXEC_ITEM, HUB

# Cooperative-led items of hub-facility, so the cooperative's own users may change them; one is a
# 위탁 전 확인 item, which the summary counts separately.
SHARED_ITEMS = (COOP_ITEM, EXEC_ITEM, COOP_CONSIGNMENT)
STATUSES = ("todo", "doing", "done")
CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@dataclass(frozen=True)
class Seeded:
    """Two cooperatives with one hub-facility track each, and each cooperative user's token."""

    url: str
    tokens: dict[int, str]  # track id → bearer token of its cooperative's user
    logins: dict[int, str]  # track id → that user's login

    @property
    def targets(self) -> list[tuple[int, str]]:
        return [(t, i) for t in sorted(self.tokens) for i in SHARED_ITEMS]


def seed(url: str, catalog: Catalog) -> Seeded:
    """Migrate ``url`` and commit the world (as tests/test_concurrency.py does)."""
    upgrade(url)
    engine = make_engine(url)
    tokens: dict[int, str] = {}
    logins: dict[int, str] = {}
    try:
        with transaction(engine) as session:
            world = make_world(session)
            for key, coop in (("coop_a", world.coop_a), ("coop_b", world.coop_b)):
                track = tracking.start_track(
                    session=session,
                    principal=world.principal(session, key),
                    cooperative=coop,
                    catalog=catalog,
                    model_key=HUB,
                )
                assert track.id is not None
                tokens[track.id] = create_token(session=session, user=world.users[key]).token
                logins[track.id] = world.users[key].login
    finally:
        engine.dispose()
    return Seeded(url, tokens, logins)


def login_cookie(base_url: str, login: str) -> str:
    """Log in through the form once; clients share the (signed, stateless) session cookie."""
    with httpx2.Client(base_url=base_url, timeout=30) as client:
        match = CSRF_RE.search(client.get("/login").text)
        assert match, "no csrf meta tag on /login"
        r = client.post(
            "/login",
            data={"username": login, "password": PASSWORD, "csrf_token": match.group(1), "next": "/"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text[:500]
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


# --- clients ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    kind: str  # "api-get", "api-write", "page"
    status: int  # HTTP status; 0 for a transport error (connection refused, reset or timed out)
    started: float  # time.monotonic()
    ended: float
    body: str = ""  # kept for unexpected answers only
    retry: bool = False  # the one repeat after a transport error


@dataclass(frozen=True)
class Write:
    track_id: int
    item_key: str
    note: str  # unique per write; a repeat after a transport error sends the same one
    status: int  # 0: transport error
    version: int | None  # the version a 200 answered


@dataclass
class ClientLog:
    answers: list[Answer] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)


def run_client(
    *,
    base_url: str,
    seeded: Seeded,
    cookies: dict[int, str],  # track id → Cookie header of its user's session
    name: str,
    stop: threading.Event,
    write_share: float = 0.5,
    page_share: float = 0.15,
    timeout: float = 10.0,
    pause: float = 0.0,
    retry_transport: bool = False,
) -> ClientLog:
    """Until ``stop``: read a track (API or page) or write one of the shared items with the
    version last seen (200, or 409 with the current version to retry from). With
    ``retry_transport``, a request whose connection failed is sent once more (as a browser or a
    proxy would after a worker died); a write is repeated with the same note and version."""
    rng = random.Random(name)  # noqa: S311 - a workload, not a secret
    log = ClientLog()
    known: dict[tuple[int, str], int] = {}  # last version seen per item
    targets = seeded.targets
    with httpx2.Client(base_url=base_url, timeout=timeout) as client:

        def send(kind: str, method: str, url: str, **kwargs: Any) -> httpx2.Response | None:
            for attempt in range(2 if retry_transport else 1):
                started = time.monotonic()
                try:
                    r = client.request(method, url, **kwargs)
                except httpx2.TransportError as exc:
                    log.answers.append(Answer(kind, 0, started, time.monotonic(), repr(exc), attempt > 0))
                    continue
                expected = r.status_code in (200, 409) if kind == "api-write" else r.status_code == 200
                detail = "" if expected else f"{r.headers.get('content-type', '')} {r.text[:300]}"
                log.answers.append(
                    Answer(kind, r.status_code, started, time.monotonic(), detail, attempt > 0)
                )
                return r
            return None

        n = 0
        while not stop.is_set():
            n += 1
            track_id, item_key = rng.choice(targets)
            auth = {"Authorization": f"Bearer {seeded.tokens[track_id]}"}
            roll = rng.random()
            if roll < write_share and (track_id, item_key) in known:
                note = f"{name}-{n}"
                body = {"status": rng.choice(STATUSES), "note": note, "version": known[(track_id, item_key)]}
                url = f"/api/v1/tracks/{track_id}/items/{item_key}"
                before = len(log.answers)
                r = send("api-write", "PATCH", url, json=body, headers=auth)
                # A dropped first attempt may have landed: then the repeat's 409 is not the answer.
                dropped = any(a.status == 0 for a in log.answers[before:])
                version = None
                if r is not None and r.status_code == 200:
                    version = r.json()["version"]
                    known[(track_id, item_key)] = version
                elif r is not None and r.status_code == 409:
                    known[(track_id, item_key)] = r.json()["current"]["version"]
                status = r.status_code if r is not None and not (dropped and r.status_code != 200) else 0
                log.writes.append(Write(track_id, item_key, note, status, version))
            elif roll < write_share + page_share:
                send("page", "GET", f"/tracks/{track_id}", headers={"Cookie": cookies[track_id]})
            else:
                r = send("api-get", "GET", f"/api/v1/tracks/{track_id}", headers=auth)
                if r is not None and r.status_code == 200:
                    for item in r.json()["items"]:
                        if item["key"] in SHARED_ITEMS:
                            known[(track_id, item["key"])] = item["version"]
            if pause:
                stop.wait(pause)
    return log


@contextmanager
def running(threads: int) -> Iterator[tuple[ThreadPoolExecutor, threading.Event]]:
    """A pool for clients and the event that stops them, set however the block ends (a failed
    assertion must not leave the clients running, and the pool waiting for them, forever)."""
    stop = threading.Event()
    with ThreadPoolExecutor(threads) as pool:
        try:
            yield pool, stop
        finally:
            stop.set()


def merged(logs: Iterable[ClientLog]) -> ClientLog:
    out = ClientLog()
    for log in logs:
        out.answers.extend(log.answers)
        out.writes.extend(log.writes)
    return out


def tally(answers: Iterable[Answer]) -> Counter[tuple[str, int]]:
    return Counter((a.kind, a.status) for a in answers)


# --- integrity --------------------------------------------------------------------------------


@dataclass
class Integrity:
    problems: list[str]
    events: int  # item_updated events of the shared items
    acknowledged: int  # writes answered 200
    landed_unacknowledged: int  # writes whose answer was lost (503 or a dropped connection) but that landed


def check_integrity(
    seeded: Seeded, catalog: Catalog, writes: list[Write], *, ambiguous_allowed: bool = False
) -> Integrity:
    """The log, the item states and the stored summaries against what the clients were told.

    - every write answered 200 is in the log exactly once, and nothing else is (unless
      ``ambiguous_allowed``: a write whose answer never came — the database went away during its
      commit — may have landed; it must then be whole, logged and counted);
    - the versions answered per item are unique, and the stored version counts the item's log;
    - the stored state is the last logged write;
    - each track's stored summary equals a recomputation from its item states.
    """
    problems: list[str] = []
    acknowledged = [w for w in writes if w.status == 200]
    unanswered = {w.note for w in writes if w.status not in (200, 409, 403, 422)}
    engine = make_engine(seeded.url)
    try:
        with transaction(engine) as session:
            events = session.exec(
                select(Event.track_id, Event.item_key, Event.changes)
                .where(col(Event.track_id).in_(seeded.tokens), Event.action == "item_updated")
                .order_by(col(Event.id))
            ).all()
            states = {
                (s.track_id, s.item_key): s
                for s in session.exec(select(ItemState).where(col(ItemState.track_id).in_(seeded.tokens)))
            }
            summary_problems = [
                p for track_id in seeded.tokens for p in _summary_problems(session, catalog, track_id)
            ]
            total = session.exec(
                select(func.count()).select_from(Event).where(Event.action == "item_updated")
            ).one()
    finally:
        engine.dispose()

    logged: dict[tuple[int, str], list[str]] = {}
    for track_id, item_key, changes in events:
        assert track_id is not None and item_key is not None
        logged.setdefault((track_id, item_key), []).append(changes.get("note", [None, None])[1])
    landed_unacknowledged = 0
    for target in seeded.targets:
        notes = logged.get(target, [])
        ok = [w for w in acknowledged if (w.track_id, w.item_key) == target]
        ok_notes = {w.note for w in ok}
        if len(set(notes)) != len(notes):
            problems.append(f"{target}: a write logged twice")
        if lost := ok_notes - set(notes):
            problems.append(f"{target}: {len(lost)} writes answered 200 are not in the log")
        extra = set(notes) - ok_notes
        landed_unacknowledged += len(extra & unanswered)
        if not ambiguous_allowed and extra:
            problems.append(f"{target}: {len(extra)} logged writes were not answered 200")
        elif stray := extra - unanswered:
            problems.append(f"{target}: {len(stray)} logged writes were answered neither 200 nor an outage")
        versions = [w.version for w in ok]
        if len(set(versions)) != len(versions):
            problems.append(f"{target}: two writes answered 200 with the same version")
        state = states.get(target)
        version = state.version if state else 0
        if version != len(notes):
            problems.append(f"{target}: stored version {version}, but {len(notes)} logged writes")
        if not ambiguous_allowed and sorted(v or 0 for v in versions) != list(range(1, len(versions) + 1)):
            problems.append(f"{target}: the versions answered are not 1..{len(versions)}")
        if state is not None and notes and state.note != notes[-1]:
            problems.append(f"{target}: stored note {state.note!r} is not the last logged {notes[-1]!r}")
    if total != len(events):
        problems.append(f"{total} item events in the database, {len(events)} on the shared items")
    problems += summary_problems
    return Integrity(problems, len(events), len(acknowledged), landed_unacknowledged)


def watch_summaries(seeded: Seeded, catalog: Catalog, stop: threading.Event, every: float = 0.2) -> list[str]:
    """Until ``stop``: compare each stored summary with a recomputation in one consistent
    snapshot, again and again. A summary written from a stale read is healed by the track's
    next write, so looking only at the end would miss most of them."""
    engine = make_engine(seeded.url, isolation_level="REPEATABLE READ")
    problems: list[str] = []
    try:
        while not stop.wait(every):
            try:
                with transaction(engine) as session:
                    found = [p for t in seeded.tokens for p in _summary_problems(session, catalog, t)]
            except DBAPIError:  # the fault tests stop the database under this loop
                continue
            problems += [f"during the run: {p}" for p in found if f"during the run: {p}" not in problems]
    finally:
        engine.dispose()
    return problems


def _summary_problems(session: Session, catalog: Catalog, track_id: int) -> list[str]:
    """The stored summary row against compute_summary over the stored item states (as
    tests/services/test_summary.py compares them), and its last activity against the log."""
    model = catalog.model(HUB)
    assert model is not None
    row = session.get(TrackSummary, track_id)
    if row is None:
        return [f"track {track_id}: no stored summary"]
    states = session.exec(select(ItemState).where(ItemState.track_id == track_id)).all()
    items = {
        s.item_key: summary_service.ItemFacts(
            s.status, s.due_date, s.verified_at is not None, s.updated_at, bool(s.change_request)
        )
        for s in states
    }
    activity = summary_service.last_activities(session, [track_id]).get(track_id)
    facts = summary_service.compute_summary(model=model, items=items, last_activity=activity)
    expected = summary_service.summary_values(track_id, facts, row.refreshed_at)
    stored = row.model_dump(exclude={"decision"})
    differing = sorted(k for k in expected if stored.get(k) != expected[k])
    if differing:
        pairs = ", ".join(f"{k}: stored {stored.get(k)!r} ≠ {expected[k]!r}" for k in differing[:6])
        return [f"track {track_id}: summary differs from a recomputation ({pairs})"]
    return []
