"""render(): one place that decides between a full page and an HTMX fragment."""

from __future__ import annotations

import string
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from jinja2 import pass_context
from jinja2_fragments.fastapi import Jinja2Blocks
from markupsafe import Markup
from starlette.routing import Route

from app.models.decision import OUTCOME_LABELS, VERDICT_LABELS
from app.models.tracking import ACTION_LABELS, FIELD_LABELS, STATUS_LABELS

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
KST = ZoneInfo("Asia/Seoul")
V = TypeVar("V")


def _base_context(request: Request) -> dict[str, Any]:
    # Set by the auth dependencies; pages without them still render the header.
    return {
        "current_user": getattr(request.state, "user", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        # Counted once per page by app.deps.load_user; None where no count was made.
        "unread_count": getattr(request.state, "unread_count", None),
    }


def kst(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Timestamps are stored in UTC; people in Korea read them in KST."""
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite hands back naive values; they are UTC by construction
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(KST).strftime(fmt)


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in whole days as people in Korea count them ("오늘", "어제", "23일 전")."""
    if value is None:
        return ""
    now = now or datetime.now(KST)
    days = (now.astimezone(KST).date() - value.astimezone(KST).date()).days
    if days <= 0:
        return "오늘"
    if days == 1:
        return "어제"
    if days < 100:
        return f"{days}일 전"
    return f"{days // 30}개월 전"


def filesize(value: int | None) -> str:
    """Bytes as people read them (1.2 MB, 340 KB)."""
    size = value or 0
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _ymd(value: date | None) -> str:
    return value.isoformat() if value else ""


def _path_formats(app: Any) -> dict[str, tuple[str, frozenset[str]]]:
    """Route name → (path format such as "/tracks/{track_id}", its parameters), for plain routes.

    The 현황판 builds a few hundred links per page and Starlette's url_path_for walks every
    route for each (a quarter of the page's time). Mounts (static files) keep the slow path.
    """
    formats: dict[str, tuple[str, frozenset[str]]] | None = getattr(app.state, "path_formats", None)
    if formats is None:
        formats = {}
        pending = list(app.routes)
        while pending:
            route = pending.pop()
            inner = getattr(route, "original_router", None)  # FastAPI's wrapper of an included router
            if inner is not None:
                pending.extend(inner.routes)
            elif isinstance(route, APIRoute | Route) and route.name:
                fields = frozenset(f for _, f, _, _ in string.Formatter().parse(route.path_format) if f)
                formats.setdefault(route.name, (route.path_format, fields))
        app.state.path_formats = formats
    return formats


@pass_context
def _url_for(context: Mapping[str, Any], name: str, /, **params: Any) -> str:
    """Paths, not absolute URLs: correct behind any proxy whatever Host/scheme it forwards."""
    request: Request = context["request"]
    found = _path_formats(request.app).get(name)
    if found is not None and found[1] == params.keys():
        return found[0].format(**{k: quote(str(v), safe="") for k, v in params.items()})
    return str(request.app.url_path_for(name, **params))


def with_query(path: str, **params: Any) -> str:
    """A path with the non-empty parameters as its query string (filters kept in the URL)."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{path}?{query}" if query else path


class RenderCache(Generic[V]):
    """Rendered output by a key of everything it shows, so an entry is never stale: a change
    anywhere in the data makes another key. Least recently used entries go first.

    Two per app (create_app; its catalog is part of everything shown): ``fragments`` for the
    many rows of a page that stay the same between requests (현황판 rows, checklist items;
    rendering them was most of a page's time), ``pages`` for whole answers keyed by their data's
    revision (cached_page). Keys must hold every value the output reads that is not fixed for
    the process (templates and content files are read at start).
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()  # pages render in the thread pool

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __call__(self, key: Hashable, *, caller: Callable[[], V]) -> V:
        """In a template: ``{% call cached(key) %}…{% endcall %}``; a false key renders without
        the cache (a row with an open panel or an error message)."""
        if not key:
            return caller()
        found = self.get(key)
        if found is None:
            found = caller()  # the call block, already escaped (a Markup) by the environment
            self.put(key, found)
        return found

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# 20,000 rows of 1–4 KB: at most about 60 MB per worker, reached only by that many distinct rows.
FRAGMENTS_MAX = 20_000
# Whole pages of up to ~50 KB, one per page, viewer and session: at most about 25 MB per worker.
PAGES_MAX = 500


def cached_page(request: Request, key: Hashable, build: Callable[[], Response]) -> Response:
    """The answer ``build`` makes, from the app's page cache when it was made before for ``key``.

    ``key`` must change with everything the answer shows (today too, where dates count); the
    viewer's part (who they are, their 알림 count, their session's CSRF token) and whether it is an
    HTMX swap are added here. Only 200s are kept.
    """
    pages: RenderCache[tuple[bytes, dict[str, str]]] | None = getattr(request.app.state, "pages", None)
    if pages is None:
        return build()
    full_key = (
        key,
        getattr(request.state, "user", None),
        getattr(request.state, "unread_count", None),
        getattr(request.state, "csrf_token", ""),
        is_htmx(request),
    )
    found = pages.get(full_key)
    if found is not None:
        body, headers = found
        return Response(body, headers=headers)
    response = build()
    if response.status_code == 200 and not isinstance(response, StreamingResponse):
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        pages.put(full_key, (bytes(response.body), headers))
    return response


@pass_context
def _cached(context: Mapping[str, Any], key: Hashable, *, caller: Callable[[], Markup]) -> Markup:
    """The app's own cache (create_app): its catalog is part of what every fragment shows."""
    request: Request | None = context.get("request")
    cache: RenderCache[Markup] | None = getattr(request.app.state, "fragments", None) if request else None
    return cache(key, caller=caller) if cache is not None else caller()


templates = Jinja2Blocks(directory=str(TEMPLATE_DIR), context_processors=[_base_context])
templates.env.globals["url_for"] = _url_for
templates.env.globals["with_query"] = with_query
templates.env.globals["cached"] = _cached
templates.env.filters["kst"] = kst
templates.env.filters["ymd"] = _ymd
templates.env.filters["ago"] = ago
templates.env.filters["filesize"] = filesize
templates.env.globals.update(
    verdict_labels=VERDICT_LABELS,
    outcome_labels=OUTCOME_LABELS,
    status_labels=STATUS_LABELS,
    field_labels=FIELD_LABELS,
    action_labels=ACTION_LABELS,
    role_names={"municipality": "지자체", "center": "지원센터", "coop": "조합"},
)
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True
# Templates are read once, like the code (`maeul serve` restarts for either): Jinja would
# otherwise stat each template file on every use, some twenty times a page.
templates.env.auto_reload = False


def compile_templates() -> int:
    """Compile every template now (at a worker's start) instead of at its first use: their code is
    then part of what start-up made (app.asgi freezes it). Returns how many."""
    names = templates.env.list_templates()
    for name in names:
        templates.env.get_template(name)
    return len(names)


def is_htmx(request: Request) -> bool:
    """An HTMX swap, but not a history restore (which needs the whole page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    blocks: Sequence[str] = (),
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render ``name`` as a page, or only ``blocks`` of it for an HTMX request.

    The same URL answers with two bodies, so every answer carries ``Vary: HX-Request``.
    """
    ctx = dict(context or {})
    if blocks and is_htmx(request):
        response = templates.TemplateResponse(
            request, name, ctx, status_code=status_code, headers=headers, block_names=list(blocks)
        )
    else:
        response = templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)
    response.headers["Vary"] = "HX-Request"
    return response


def redirect(request: Request, url: str) -> Response:
    """Navigate after a POST: HX-Redirect for HTMX (never a 3xx it would swap), 303 otherwise."""
    # Headers are Latin-1: percent-encode like Starlette's RedirectResponse (Korean in a query).
    url = quote(url, safe=":/%#?=@[]!$&'()*+,;")
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url, "Vary": "HX-Request"})
    return RedirectResponse(url, status_code=303, headers={"Vary": "HX-Request"})
