"""Routers grouped by what the user sees."""

from fastapi import APIRouter

from app.routes import (
    admin,
    api,
    auth,
    catalog,
    consultations,
    cooperatives,
    dashboard,
    docs,
    health,
    notifications,
    readiness,
    tasks,
    tracks,
)

# Starlette tries routes in this order, one pattern after another, so the routes that most
# requests take come first: the JSON API (all under /api/v1, no pattern shared with a page), then
# the track pages and the 현황판. No two routers share a path, so the order changes no answer.
all_routers: list[APIRouter] = [
    health.router,
    api.router,
    readiness.api,
    tasks.api,
    notifications.api,
    consultations.api,
    tracks.router,
    dashboard.router,
    readiness.router,
    cooperatives.router,
    catalog.router,
    auth.router,
    tasks.router,
    tasks.feeds,
    notifications.router,
    consultations.router,
    admin.router,
    docs.router,
]
