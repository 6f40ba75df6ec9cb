"""Properties every route must have, checked over the app's own route table."""

from __future__ import annotations

import inspect

from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.routes.test_permissions import _flatten


def test_handlers_are_plain_functions(app: FastAPI) -> None:
    """Handlers query the database synchronously: as `async def` they would block the event
    loop for every other request; as `def` they run in the thread pool."""
    coroutines = [
        r.name
        for r in _flatten(list(app.routes))
        if isinstance(r, APIRoute) and inspect.iscoroutinefunction(r.endpoint)
    ]
    assert coroutines == []


def test_every_route_is_named(app: FastAPI) -> None:
    """Templates build URLs with url_for(name): every route has a 'group:action' name."""
    unnamed = [r.path for r in _flatten(list(app.routes)) if isinstance(r, APIRoute) and ":" not in r.name]
    assert unnamed == []
