"""API documentation (/docs) served from vendored Swagger UI, under our CSP.

FastAPI's default page loads Swagger UI from a CDN and runs an inline script; here the
files come from /static and the one inline script is allowed by its hash, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from app.db import RequestUnitRoute
from app.security import CSP

router = APIRouter(include_in_schema=False, route_class=RequestUnitRoute)
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


@router.get("/docs", name="docs:swagger")
def swagger_ui(request: Request) -> HTMLResponse:
    static = request.app.url_path_for
    page = get_swagger_ui_html(
        openapi_url=str(static("openapi")),
        title="마을길잡이 API",
        swagger_js_url=str(static("swagger", path="swagger-ui-bundle.js")),
        swagger_css_url=str(static("swagger", path="swagger-ui.css")),
        swagger_favicon_url=str(static("static", path="favicon.svg")),
        oauth2_redirect_url=None,
    )
    body = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in INLINE_SCRIPT.findall(body)
    )
    csp = CSP.replace("script-src 'self'", f"script-src 'self' {hashes}")
    return HTMLResponse(body, headers={"Content-Security-Policy": csp})
