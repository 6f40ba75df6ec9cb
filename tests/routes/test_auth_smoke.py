from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import login


def test_login_then_list(client: TestClient, world) -> None:
    login(client, "center-a")
    r = client.get("/cooperatives")
    assert r.status_code == 200
    assert "가 마을조합" in r.text and "나 마을조합" not in r.text
