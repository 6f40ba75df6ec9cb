"""Permission-matrix entries for 상담·지원 기록 and the support statistics (merged by tests/routes/test_permissions.py)."""

from __future__ import annotations

from sqlmodel import Session

from app.catalog import Catalog
from app.config import Settings
from tests.factories import World
from tests.routes.matrix import Case

MATRIX: dict[tuple[str, str], Case] = {}


def setup(db: Session, world: World, catalog: Catalog, settings: Settings) -> None:
    """What these entries need besides the shared set-up (its objects go in ``world.extra``)."""
