"""A bar with nothing to count says so instead of showing 0 %."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.catalog import Catalog
from tests.factories import World, login
from tests.fixtures.tracking_helpers import start


def _bar(html: str, bar_id: str) -> str:
    match = re.search(rf'<div class="bar[^"]*" id="{bar_id}".*?</div>\s*<progress[^>]*>', html, re.S)
    assert match, bar_id
    return match.group(0)


def test_a_role_without_items_reads_none(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    # ⑤ 주민출자형 태양광발전소 has no item led by the 지원센터.
    model = catalog.model("solar")
    assert model is not None and not any(i.lead == "center" for _, i in model.items)
    track = start(db, world, catalog, model_key="solar")
    login(client, "coop-a")
    html = client.get(f"/tracks/{track.id}").text
    assert "해당 항목 없음" in _bar(html, "progress-role-center")
    assert "0%" in _bar(html, "progress-role-coop")
