"""Fixtures shared by the route tests."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlmodel import Session

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.config import Settings
from app.services import decisions, evidence, readiness, tracking, verification
from app.services.evidence import store_upload
from app.storage import LocalStorage
from tests.factories import World
from tests.fixtures.tracking_helpers import hub
from tests.routes import matrix_consultations, matrix_notifications, matrix_tasks
from tests.routes.matrix import CENTER_ITEM, COOP_ITEM, MUNI_ITEM

PARTS = (matrix_tasks, matrix_notifications, matrix_consultations)


@pytest.fixture
def model(catalog: Catalog) -> BusinessModel:
    """The hub-facility model, which the route tests' tracks follow."""
    return hub(catalog)


@pytest.fixture
def tracked(db: Session, world: World, catalog: Catalog, settings: Settings) -> World:
    """Coop A follows hub-facility: the 지자체 has done its item; one file as evidence."""
    return make_tracked(db, world, catalog, settings)


def make_tracked(db: Session, world: World, catalog: Catalog, settings: Settings) -> World:
    """The ``tracked`` world, in any session (the fixture's, or a committed one)."""
    model = catalog.model("hub-facility")
    assert model is not None
    coop = world.principal(db, "coop_a")
    t = tracking.start_track(
        session=db, principal=coop, cooperative=world.coop_a, catalog=catalog, model_key=model.key
    )
    tracking.update_item(
        session=db,
        principal=world.principal(db, "municipality"),
        track=t,
        model=model,
        item_key=MUNI_ITEM,
        version=0,
        changes={"status": "done"},
    )
    evidence.add_link(
        session=db,
        principal=world.principal(db, "municipality"),
        track=t,
        model=model,
        item_key=MUNI_ITEM,
        url="https://example.org/decision",
        title="관리방식 결정 공문",
    )
    center = world.principal(db, "center")
    tracking.update_item(
        session=db,
        principal=center,
        track=t,
        model=model,
        item_key=CENTER_ITEM,
        version=0,
        changes={"status": "done"},
    )
    verification.verify_item(
        session=db, principal=center, track=t, model=model, item_key=CENTER_ITEM, version=1
    )
    gov = world.principal(db, "municipality")
    report = readiness.load_report(
        session=db, principal=gov, catalog=catalog, track=t, cooperative=world.coop_a, model=model
    )
    world.extra["decision"] = decisions.record_decision(
        session=db,
        principal=gov,
        track=t,
        cooperative=world.coop_a,
        model=model,
        data=decisions.DecisionInput("approved", date(2026, 11, 1), "도시재생과-1000"),
        report=report,
        report_pdf=b"%PDF-1.4 stored report",
        document=store_upload(
            session=db,
            filename="결정문.pdf",
            stream=io.BytesIO(b"%PDF-1.4 decision"),
            storage=LocalStorage(settings.upload_dir),
            max_bytes=settings.max_upload_bytes,
        ),
        today=date(2026, 11, 23),
    )
    world.extra["track"] = t
    for part in PARTS:
        part.setup(db, world, catalog, settings)
    world.extra["file"] = evidence.add_file(
        session=db,
        principal=coop,
        track=t,
        model=model,
        item_key=COOP_ITEM,
        filename="회의록.pdf",
        stream=io.BytesIO(b"%PDF-1.4 minimal"),
        storage=LocalStorage(settings.upload_dir),
        max_bytes=settings.max_upload_bytes,
    )
    return world
