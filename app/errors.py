"""Errors as Korean pages for people and JSON for the API."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db import SAFE_METHODS
from app.deps import LoginRequiredError
from app.security import security_headers
from app.services.errors import ConflictError, ForbiddenError, FormError, NotFoundError
from app.templating import redirect, render

API_PREFIX = "/api/"
log = logging.getLogger(__name__)

TITLES = {
    400: "요청을 처리할 수 없습니다",
    401: "로그인이 필요합니다",
    403: "권한이 없습니다",
    404: "페이지를 찾을 수 없습니다",
    405: "허용되지 않는 요청입니다",
    409: "다른 변경과 충돌했습니다",
    413: "파일이 너무 큽니다",
    422: "입력값을 확인하세요",
    429: "잠시 후 다시 시도하세요",
    503: "잠시 서비스를 이용할 수 없습니다",
}
DEFAULT_MESSAGES = {
    404: "주소가 바뀌었거나, 볼 수 있는 권한이 없는 페이지입니다.",
    405: "이 주소는 해당 방식의 요청을 받지 않습니다.",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _page(
    request: Request, status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    title = TITLES.get(status_code, "오류가 발생했습니다")
    return render(
        request,
        "pages/error.html",
        {"status_code": status_code, "title": title, "message": message},
        status_code=status_code,
        headers=headers,
    )


# What the framework says in English when it cannot read a request body.
FRAMEWORK_DETAILS = {
    "There was an error parsing the body": "보낸 양식을 읽을 수 없습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
}


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type only
    headers = dict(exc.headers or {})
    if isinstance(exc.detail, str) and exc.detail in FRAMEWORK_DETAILS:
        exc = StarletteHTTPException(exc.status_code, FRAMEWORK_DETAILS[exc.detail], exc.headers)
    if _is_api(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
    detail = (
        exc.detail if isinstance(exc.detail, str) and exc.detail != _default_phrase(exc.status_code) else ""
    )
    return _page(request, exc.status_code, detail or DEFAULT_MESSAGES.get(exc.status_code, ""), headers)


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    if _is_api(request):
        return JSONResponse({"detail": _jsonable(exc.errors())}, status_code=422)
    fields = ", ".join(
        _safe(".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), 60) for e in exc.errors()
    )
    return _page(request, 422, f"다음 입력값이 올바르지 않습니다: {fields}")


def _safe(value: object, limit: int = 100) -> str:
    """A short, always-encodable echo of what was sent (NaN, lone surrogates and megabytes of
    text made the 422 answer itself fail)."""
    text = value if isinstance(value, str) else repr(value)
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def _jsonable(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        item: dict[str, Any] = {"loc": [_safe(p, 60) if isinstance(p, str) else p for p in e.get("loc", ())]}
        item |= {"msg": _safe(e.get("msg", ""), 300), "type": _safe(e.get("type", ""), 60)}
        if "input" in e:
            item["input"] = _safe(e["input"])
        out.append(item)
    return out


def _default_phrase(status_code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return ""


def _return_to(request: Request) -> str:
    """Where to come back after logging in. A POST address would answer 405 to the GET that
    follows login, so an expired session mid-edit returns to the page the form was on."""
    if request.method in SAFE_METHODS:
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    page = urlsplit(request.headers.get("HX-Current-URL") or request.headers.get("Referer") or "")
    if page.netloc == request.url.netloc and page.path:
        return page.path + (f"?{page.query}" if page.query else "")
    return str(request.app.url_path_for("coops:list"))


async def login_required(request: Request, exc: Exception) -> Response:
    target = _return_to(request)
    login = str(request.app.url_path_for("auth:login_form"))
    return redirect(request, f"{login}?{urlencode({'next': target})}")


async def service_error(request: Request, exc: Exception) -> Response:
    """Service errors that a route did not handle itself."""
    if isinstance(exc, FormError):
        status, message = 422, " ".join(exc.errors.values())
        if _is_api(request):
            return JSONResponse({"detail": exc.errors}, status_code=status)
    else:
        status = {NotFoundError: 404, ForbiddenError: 403, ConflictError: 409}[type(exc)]
        message = getattr(exc, "message", str(exc))
        if _is_api(request):
            return JSONResponse({"detail": message}, status_code=status)
    return _page(request, status, message)


# Seconds a client should wait after a 503: a restarting database is usually back by then.
RETRY_AFTER = "5"
UNAVAILABLE = "데이터베이스가 응답하지 않습니다. 잠시 후 다시 시도하세요."
# A commit cut off by the outage may or may not have landed: say so rather than "not saved".
UNAVAILABLE_WRITE = " 방금 저장한 내용은 반영되었는지 다시 확인하세요."


def is_outage(exc: BaseException) -> bool:
    """A database that cannot be reached (stopped, restarting, network gone), not a bug."""
    if isinstance(exc, PoolTimeoutError):  # every pooled connection busy past pool_timeout
        return True
    if isinstance(exc, DBAPIError):
        # OperationalError covers a refused connection, a server that shut down mid-session
        # (psycopg's AdminShutdown), SQLite's busy timeout and the few failures a retry cures
        # (deadlock, serialization failure); InterfaceError a closed connection.
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return False


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """503 with Retry-After while the database is away (the request's transaction is gone)."""
    if not is_outage(exc):
        raise exc  # a real error: ServerErrorMiddleware logs it and answers server_error's 500
    reason = getattr(exc, "orig", None) or exc
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, reason)
    headers = {"Retry-After": RETRY_AFTER}
    if _is_api(request):
        return JSONResponse({"detail": UNAVAILABLE}, status_code=503, headers=headers)
    message = UNAVAILABLE + ("" if request.method in SAFE_METHODS else UNAVAILABLE_WRITE)
    return _page(request, 503, message, headers)


async def server_error(request: Request, exc: Exception) -> Response:
    """Unexpected errors: Starlette sends this from outside every middleware, so the
    security headers are added here too."""
    if _is_api(request):
        response: Response = JSONResponse({"detail": "Internal server error"}, status_code=500)
    else:
        response = _page(request, 500, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도하세요.")
    for name, value in security_headers(request.app.state.settings):
        response.headers[name.decode()] = value.decode()
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(Exception, server_error)
    app.add_exception_handler(LoginRequiredError, login_required)
    for outage in (DBAPIError, PoolTimeoutError):
        app.add_exception_handler(outage, database_unavailable)
    for error in (FormError, NotFoundError, ForbiddenError, ConflictError):
        app.add_exception_handler(error, service_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
