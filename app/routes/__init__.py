"""Routers grouped by what the user sees."""

from fastapi import APIRouter

from app.routes import catalog, health

all_routers: list[APIRouter] = [health.router, catalog.router]
