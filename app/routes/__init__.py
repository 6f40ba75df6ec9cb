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

all_routers: list[APIRouter] = [
    health.router,
    docs.router,
    catalog.router,
    auth.router,
    cooperatives.router,
    dashboard.router,
    tracks.router,
    readiness.router,
    tasks.router,
    tasks.feeds,
    notifications.router,
    consultations.router,
    admin.router,
    api.router,
    readiness.api,
    tasks.api,
    notifications.api,
    consultations.api,
]
