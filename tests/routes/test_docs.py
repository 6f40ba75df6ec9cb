"""/docs works offline under the CSP; the OpenAPI schema describes the JSON API."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.testclient import TestClient


def test_docs_page_uses_vendored_files_and_hashes_its_inline_script(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert "/static/swagger/swagger-ui-bundle.js" in r.text
    assert "cdn." not in r.text
    (script,) = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = r.headers["content-security-policy"]
    assert f"'sha256-{digest}'" in csp
    assert "unsafe-inline" not in csp


def test_openapi_lists_the_json_api_and_health_only(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {
        "/healthz",
        "/api/v1/cooperatives",
        "/api/v1/cooperatives/{cooperative_id}",
        "/api/v1/models",
        "/api/v1/cooperatives/{cooperative_id}/tracks",
        "/api/v1/tracks/{track_id}",
        "/api/v1/tracks/{track_id}/items/{item_key}",
        "/api/v1/tracks/{track_id}/events",
        "/api/v1/dashboard",
        "/api/v1/tracks/{track_id}/items/{item_key}/verify",
        "/api/v1/tracks/{track_id}/items/{item_key}/request-changes",
        "/api/v1/tracks/{track_id}/items/{item_key}/unverify",
        "/api/v1/tracks/{track_id}/readiness",
        "/api/v1/tracks/{track_id}/decisions",
        "/api/v1/me/tasks",
        "/api/v1/cooperatives/{cooperative_id}/consultations",
        "/api/v1/consultations/{consultation_id}",
        "/api/v1/consultations/summary",
        "/api/v1/notifications",
        "/api/v1/notifications/read",
    }
    patch = paths["/api/v1/tracks/{track_id}/items/{item_key}"]["patch"]
    assert {"200", "403", "409", "422"} <= set(patch["responses"])
    post = paths["/api/v1/cooperatives/{cooperative_id}/tracks"]["post"]
    assert "201" in post["responses"]
