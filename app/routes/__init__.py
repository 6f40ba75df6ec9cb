"""Routers grouped by what the user sees."""

from fastapi import APIRouter

from app.routes import admin, api, auth, catalog, cooperatives, dashboard, docs, health, readiness, tracks

all_routers: list[APIRouter] = [
    health.router,
    docs.router,
    catalog.router,
    auth.router,
    cooperatives.router,
    dashboard.router,
    tracks.router,
    readiness.router,
    admin.router,
    api.router,
]
