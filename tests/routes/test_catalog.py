"""Public catalog pages: every item verbatim, role filter with and without HTMX."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from app.catalog import Catalog


def _text(body: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", body))


def test_home_lists_the_six_models_and_the_actors(client: TestClient, catalog: Catalog) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert '<html lang="ko">' in r.text
    body = _text(r.text)
    for model in catalog.models:
        assert f'href="/models/{model.key}"' in r.text
        assert model.title in body
    for actor in catalog.actors:
        assert actor.name in body and actor.role in body
    assert "우리 지역은 우리 스스로 관리해요" in body


def test_model_pages_show_every_item_and_note_verbatim(client: TestClient, catalog: Catalog) -> None:
    seen = 0
    for model in catalog.models:
        r = client.get(f"/models/{model.key}")
        assert r.status_code == 200
        body = _text(r.text)
        assert model.why in body
        assert model.case.name in body
        for chapter in model.guidebook.chapters:
            assert chapter.title in body
        for _, item in model.items:
            assert item.text in body
            if item.note:
                assert item.note in body
            seen += 1
    assert seen == 68


def test_consignment_items_are_marked(client: TestClient, catalog: Catalog) -> None:
    model = catalog.model("hub-facility")
    assert model is not None
    marked = sum(1 for _, i in model.items if i.consignment)
    r = client.get("/models/hub-facility")
    assert r.text.count('class="mark-consign"') == marked > 0


ROLE_CASES = ["municipality", "center", "coop"]


@pytest.mark.parametrize("role", ROLE_CASES)
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_role_filter(client: TestClient, catalog: Catalog, role: str, htmx: bool) -> None:
    model = catalog.model("hub-facility")
    assert model is not None
    headers = {"HX-Request": "true"} if htmx else {}
    r = client.get(f"/models/hub-facility?role={role}", headers=headers)
    assert r.status_code == 200
    assert "HX-Request" in r.headers["vary"]
    body = _text(r.text)
    for _, item in model.items:
        concerned = item.lead == role or role in item.support
        assert (item.text in body) == concerned, item.text
    if htmx:
        assert "<html" not in r.text
        assert r.text.lstrip().startswith('<section id="checklist"')
    else:
        assert "<html" in r.text and model.why in body
    assert 'aria-current="true"' in r.text


def test_history_restore_gets_the_whole_page(client: TestClient) -> None:
    r = client.get(
        "/models/solar?role=coop", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in r.text


def test_unknown_role_is_a_clear_error(client: TestClient) -> None:
    r = client.get("/models/solar?role=mayor")
    assert r.status_code == 400
    assert "알 수 없는 역할 필터입니다: 'mayor'" in html.unescape(r.text)


def test_unknown_model_is_404_page(client: TestClient) -> None:
    r = client.get("/models/no-such-model")
    assert r.status_code == 404
    assert "사업모델을 찾을 수 없습니다." in r.text
    assert '<html lang="ko">' in r.text


def test_security_headers_on_every_response(client: TestClient) -> None:
    for path in ["/", "/models/solar", "/static/app.css", "/no-such-page"]:
        r = client.get(path)
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"]
