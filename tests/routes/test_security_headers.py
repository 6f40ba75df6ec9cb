"""HSTS on every answer in production, never in development; the other headers in both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.catalog import Catalog
from app.config import Settings
from tests.conftest import app_on_transaction

HSTS = "max-age=31536000; includeSubDomains"
# One of each kind of answer: a page, a redirect, a static file, /docs (which sets its own CSP),
# a Korean 404, a JSON 401, a refused CSRF post, and the health check.
ANSWERS = [
    ("GET", "/", 200),
    ("GET", "/login", 200),
    ("GET", "/cooperatives", 303),
    ("GET", "/static/app.css", 200),
    ("GET", "/docs", 200),
    ("GET", "/no-such-page", 404),
    ("GET", "/api/v1/cooperatives", 401),
    ("POST", "/logout", 403),
    ("GET", "/healthz", 200),
]


def _app(settings: Settings, env: str, catalog: Catalog, engine: Engine, db: Session) -> FastAPI:
    configured = Settings(
        env=env,
        database_url=settings.database_url,
        content_dir=settings.content_dir,
        upload_dir=settings.upload_dir,
        secret_key=settings.secret_key,
    )
    return app_on_transaction(configured, catalog, engine, db)


@pytest.fixture(params=["development", "production"])
def env_client(
    request: pytest.FixtureRequest, settings: Settings, catalog: Catalog, engine: Engine, db: Session
) -> Iterator[tuple[str, TestClient]]:
    env = str(request.param)
    # https: production session cookies are Secure, and HSTS is only meaningful over TLS.
    with TestClient(_app(settings, env, catalog, engine, db), base_url="https://testserver") as c:
        yield env, c


@pytest.mark.parametrize(("method", "path", "status"), ANSWERS)
def test_hsts_only_in_production(
    env_client: tuple[str, TestClient], method: str, path: str, status: int
) -> None:
    env, client = env_client
    r = client.request(method, path, follow_redirects=False)
    assert r.status_code == status
    if env == "production":
        assert r.headers["strict-transport-security"] == HSTS
    else:
        assert "strict-transport-security" not in r.headers
    # The rest do not depend on the environment.
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("env", ["development", "production"])
def test_hsts_on_an_unexpected_error(
    settings: Settings, catalog: Catalog, engine: Engine, db: Session, env: str
) -> None:
    app = _app(settings, env, catalog, engine, db)

    def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/boom-for-test", boom)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        r = c.get("/boom-for-test")
    assert r.status_code == 500
    assert (r.headers.get("strict-transport-security") == HSTS) is (env == "production")
