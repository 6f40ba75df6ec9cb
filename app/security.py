"""Response headers every answer carries, whatever route produced it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
# Production only: once a browser sees it over HTTPS it refuses plain HTTP to the host and its
# subdomains for a year, which a development or staging name must not inherit.
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """What every answer carries under these settings, for the middleware and for the 500 handler
    (which Starlette runs outside every middleware)."""
    return [*SECURITY_HEADERS, HSTS] if settings.is_production else SECURITY_HEADERS


class SecurityHeadersMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware) so streaming responses and uploads stay untouched."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        # Starlette puts the application in the scope; create_app() keeps the settings on its state.
        headers = security_headers(scope["app"].state.settings)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k, v) for k, v in headers if k not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
