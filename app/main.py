"""create_app(): settings, catalog, engine, middleware, static files and routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware

from app.catalog import Catalog, load_catalog
from app.config import Settings, get_settings
from app.db import make_engine
from app.deps import FORM_OVERHEAD
from app.errors import install as install_error_handlers
from app.head import HeadAsGetMiddleware
from app.routes import all_routers
from app.security import SecurityHeadersMiddleware
from app.templating import FRAGMENTS_MAX, PAGES_MAX, RenderCache

STATIC_DIR = Path(__file__).parent / "static"
# Third-party assets kept out of the app package (Swagger UI for /docs).
SWAGGER_DIR = Path(__file__).resolve().parent.parent / "vendor" / "swagger-ui"
SESSION_COOKIE = "maeul_session"


def create_app(
    settings: Settings | None = None,
    *,
    catalog: Catalog | None = None,
    engine: Engine | None = None,
) -> FastAPI:
    """Build the app. Raises ContentError on invalid content, so the server refuses to start."""
    settings = settings or get_settings()
    app = FastAPI(
        title="마을길잡이 API",
        version="1",
        description="마을관리 사회적협동조합 사업모델 단계별 추진 현황",
        # Backstop for bodies without a Content-Length (its 413 is plain text, from outside our
        # error handlers); declared sizes meet app.deps.limit_body first, which has the lower limit.
        max_body_size=settings.max_upload_bytes + 4 * FORM_OVERHEAD,
        # /docs is served by app.routes.docs from vendored files (no CDN); no ReDoc.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.catalog = catalog or load_catalog(settings.content_dir)
    app.state.engine = engine or make_engine(settings.database_url)
    app.state.fragments = RenderCache[Markup](max_entries=FRAGMENTS_MAX)
    app.state.pages = RenderCache[tuple[bytes, dict[str, str]]](max_entries=PAGES_MAX)

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        same_site="lax",
        https_only=settings.is_production,
        max_age=60 * 60 * 12,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(HeadAsGetMiddleware)
    # Before /static, which would otherwise match these paths first.
    app.mount("/static/swagger", StaticFiles(directory=SWAGGER_DIR), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app)
    for router in all_routers:
        app.include_router(router)
    return app
