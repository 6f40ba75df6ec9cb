"""/cooperatives pages through many cooperatives in a fixed number of queries."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models import Cooperative
from tests.factories import World, login


def _names(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/cooperatives/\d+">([^<]+)</a>', html)


def test_fifty_per_page_with_a_pager(client: TestClient, db: Session, world: World) -> None:
    for i in range(60):
        db.add(
            Cooperative(
                name=f"조합 {i:03d}", municipality_id=world.muni_a.id, support_center_id=world.center_a.id
            )
        )
    db.flush()
    login(client, "admin")
    first = client.get("/cooperatives")
    assert first.status_code == 200
    assert len(_names(first.text)) == 50
    assert "62개 조합 중 1–50" in first.text
    second = client.get("/cooperatives?page=2", headers={"HX-Request": "true"})
    assert "<html" not in second.text and 'id="coop-table"' in second.text
    names = _names(second.text)
    assert len(names) == 12
    assert not set(names) & set(_names(first.text))
    assert "62개 조합 중 51–62" in second.text


def test_a_page_past_the_end_shows_the_last_page(client: TestClient, world: World) -> None:
    login(client, "admin")
    r = client.get("/cooperatives?page=99")
    assert r.status_code == 200
    assert _names(r.text) == ["가 마을조합", "나 마을조합"]


def test_a_bad_page_number_is_a_clear_error(client: TestClient, world: World) -> None:
    login(client, "admin")
    r = client.get("/cooperatives?page=zero")
    assert r.status_code == 422
    assert "page" in r.text


def test_the_pager_obeys_visibility(client: TestClient, world: World) -> None:
    login(client, "center-a")
    r = client.get("/cooperatives")
    assert _names(r.text) == ["가 마을조합"]
    assert 'class="pager"' not in r.text
