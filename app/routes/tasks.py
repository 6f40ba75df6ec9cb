"""내 할 일 and the private calendar feed (pages and JSON API)."""

from __future__ import annotations

from app.deps import api_router, html_router

router = html_router(tags=["tasks"])
api = api_router()
