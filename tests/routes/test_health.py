from __future__ import annotations

from fastapi.testclient import TestClient

from app.catalog import Catalog
from app.config import Settings
from app.db import make_engine
from app.main import create_app


def test_healthz_ok(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "models": 6}


def test_healthz_503_when_database_is_unreachable(catalog: Catalog, tmp_path) -> None:
    # A PostgreSQL URL on a port nothing listens on.
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    app = create_app(
        Settings(database_url=url, upload_dir=tmp_path), catalog=catalog, engine=make_engine(url)
    )
    with TestClient(app) as c:
        r = c.get("/healthz")
    assert r.status_code == 503
    assert r.json() == {"status": "error", "database": "unreachable", "models": 6}
