"""알림: the inbox, preferences (pages and JSON API)."""

from __future__ import annotations

from app.deps import api_router, html_router

router = html_router(tags=["notifications"])
api = api_router()
