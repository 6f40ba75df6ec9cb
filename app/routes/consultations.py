"""상담·지원 기록 and the support statistics (pages and JSON API)."""

from __future__ import annotations

from app.deps import api_router, html_router

router = html_router(tags=["consultations"])
api = api_router()
