"""Annotated dependency aliases and load-or-404 dependencies used by the routes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator
from sqlmodel import Session
from starlette.datastructures import FormData

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.config import Settings
from app.db import SAFE_METHODS, RequestUnitRoute, get_session, in_request_thread
from app.input_guard import refuse_hostile_input
from app.models import Cooperative, Notification, Track
from app.services import inbox
from app.services.auth import principal_for_token
from app.services.errors import FormError
from app.services.principal import Principal, load_principal
from app.services.tracking import get_visible_track
from app.services.visibility import get_visible_cooperative
from app.templating import is_htmx

# scope="function": the session commits before the response is sent (see app.db).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_USER = "uid"
SESSION_CSRF = "csrf"
SESSION_EPOCH = "sv"

# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` in the thread pool, and
# that round trip (several per request) cost more than the work itself.


async def get_catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# Database ids in URLs: positive and within a 32-bit integer column, so an absurd number is a
# 422 rather than an overflow in the driver.
MAX_ID = 2**31 - 1


def _canonical_id(value: object) -> object:
    """Ids in paths are written one way only: "+2", "02", "2.0" or " 2" never reach object 2."""
    if isinstance(value, str) and not (
        value.isascii() and value.isdigit() and value[:1] != "0" and len(value) <= 10
    ):
        raise ValueError("id must be written as a plain number")
    return value


PathId = Annotated[int, BeforeValidator(_canonical_id), Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def parse_id(value: object) -> int | None:
    """A form value as a database id, or None (ASCII digits only: '²'.isdigit() is True)."""
    # Length first: int() of thousands of digits raises (Python's int_max_str_digits).
    if (
        isinstance(value, str)
        and value.isascii()
        and value.isdigit()
        and len(value) <= 10
        and 0 < int(value) <= MAX_ID
    ):
        return int(value)
    return None


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_business_model(model_key: str, catalog: CatalogDep) -> BusinessModel:
    model = catalog.model(model_key)
    if model is None:
        raise HTTPException(status_code=404, detail="사업모델을 찾을 수 없습니다.")
    return model


CurrentModel = Annotated[BusinessModel, Depends(get_business_model)]


async def get_form(request: Request) -> FormData:
    """The parsed form, read asynchronously so that handlers can stay plain ``def``
    (run in the thread pool, not blocking the event loop with database work)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(get_form)]


def form_version(form: FormData) -> int:
    """The item version a page's form was rendered with: digits only (no sign, no spaces)."""
    raw = form.get("version")
    if not isinstance(raw, str) or not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise FormError({"version": "버전 정보가 없습니다. 페이지를 새로 고친 뒤 다시 시도하세요."})
    return int(raw)


# --- HTML pages: session cookie, CSRF ------------------------------------------------------


class LoginRequiredError(Exception):
    """Raised for anonymous visitors on member pages; answered with a redirect to /login."""


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return str(token)


FORM_OVERHEAD = 1024 * 1024  # the rest of a multipart form around the file


async def limit_body(request: Request) -> None:
    """Refuse an oversized upload up front, as a Korean page or JSON like every other error.

    FastAPI's own max_body_size stays as the backstop for bodies without a Content-Length;
    its plain-text 413 comes from outside our error handlers.
    """
    settings: Settings = request.app.state.settings
    length = request.headers.get("content-length", "")
    too_long = len(length) > 15  # more than a petabyte: no need to parse it
    if (
        length.isascii()
        and length.isdigit()
        and (too_long or int(length) > settings.max_upload_bytes + FORM_OVERHEAD)
    ):
        raise HTTPException(
            status_code=413,
            detail=f"올린 내용이 너무 큽니다. 파일 한 개는 {settings.max_upload_mb}MB 이하여야 합니다.",
        )


async def csrf_protect(request: Request) -> None:
    """Every state-changing HTML request carries the session's token (header or form field)."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(SESSION_CSRF)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # cached by Starlette: handlers read the same form
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise HTTPException(
            status_code=403,
            detail="보안 토큰이 없거나 맞지 않습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
        )


@in_request_thread
def load_user(request: Request, session: SessionDep) -> Principal | None:
    """Who is logged in (or None), for every HTML page; also makes sure a CSRF token exists."""
    request.state.csrf_token = csrf_token(request)
    user_id = request.session.get(SESSION_USER)
    principal = load_principal(session=session, user_id=int(user_id)) if user_id else None
    if principal is not None and request.session.get(SESSION_EPOCH) != principal.session_epoch:
        principal = None  # logged out elsewhere (or deactivated): this cookie is dead
    if user_id and principal is None:
        request.session.pop(SESSION_USER, None)
        request.session.pop(SESSION_EPOCH, None)
    request.state.user = principal
    # The header's 알림 badge: one cheap count on every full page (HTMX fragments have no header).
    request.state.unread_count = (
        inbox.unread_count(session=session, principal=principal)
        if principal is not None and request.method == "GET" and not is_htmx(request)
        else None
    )
    return principal


def html_router(**kwargs: object) -> APIRouter:
    """Routers for pages: CSRF checked and the user loaded before any handler runs.

    Pages are not part of the OpenAPI schema, which documents the JSON API only.
    """
    return APIRouter(
        route_class=RequestUnitRoute,
        dependencies=[
            Depends(limit_body),
            Depends(refuse_hostile_input),
            Depends(csrf_protect),
            Depends(load_user),
        ],
        include_in_schema=False,
        **kwargs,  # type: ignore[arg-type]
    )


@in_request_thread
def require_user(request: Request) -> Principal:
    """The principal set by the router's own authentication (a session or a bearer token)."""
    principal: Principal | None = getattr(request.state, "user", None)
    if principal is None:
        raise LoginRequiredError()
    return principal


CurrentUser = Annotated[Principal, Depends(require_user)]


@in_request_thread
def require_admin(user: CurrentUser) -> Principal:
    if not user.is_admin:
        raise HTTPException(status_code=403, detail="운영 관리자만 사용할 수 있는 기능입니다.")
    return user


AdminUser = Annotated[Principal, Depends(require_admin)]


# --- JSON API: bearer tokens ---------------------------------------------------------------


# Declared so OpenAPI documents the scheme (and /docs offers "Authorize"); we answer 401 ourselves.
bearer_scheme = HTTPBearer(auto_error=False, description="`maeul token create LOGIN` prints a token")


@in_request_thread
def api_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    principal = principal_for_token(session=session, token=credentials.credentials) if credentials else None
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail="Missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.user = principal
    return principal


ApiUser = Annotated[Principal, Depends(api_principal)]


def api_router(**kwargs: object) -> APIRouter:
    """Routers for the JSON API (/api/v1): bearer token required, body size limited."""
    return APIRouter(
        route_class=RequestUnitRoute,
        prefix="/api/v1",
        tags=["api"],
        dependencies=[Depends(limit_body), Depends(refuse_hostile_input), Depends(api_principal)],
        **kwargs,  # type: ignore[arg-type]
    )


# The one who acts, for the load-or-404 dependencies of both kinds of router.
Actor = CurrentUser


# --- load-or-404 ---------------------------------------------------------------------------


@in_request_thread
def get_current_cooperative(cooperative_id: PathId, session: SessionDep, principal: Actor) -> Cooperative:
    coop = get_visible_cooperative(session=session, principal=principal, cooperative_id=cooperative_id)
    if coop is None:
        raise HTTPException(status_code=404, detail="조합을 찾을 수 없습니다.")
    return coop


CurrentCooperative = Annotated[Cooperative, Depends(get_current_cooperative)]


@dataclass(frozen=True)
class TrackContext:
    track: Track
    cooperative: Cooperative
    model: BusinessModel
    revision: tuple[int, int]  # when it was looked up (app.services.revision): the page caches' key


@in_request_thread
def get_current_track(
    track_id: PathId, session: SessionDep, principal: Actor, catalog: CatalogDep
) -> TrackContext:
    found = get_visible_track(session=session, principal=principal, track_id=track_id)
    if found is None:
        raise HTTPException(status_code=404, detail="사업 추진 기록을 찾을 수 없습니다.")
    track, cooperative, revision = found
    model = catalog.model(track.model_key)
    if model is None:
        raise HTTPException(
            status_code=404,
            detail=f"이 기록이 따르는 사업모델 '{track.model_key}'이(가) 콘텐츠에서 빠졌습니다. 관리자에게 문의하세요.",
        )
    return TrackContext(track, cooperative, model, revision)


CurrentTrack = Annotated[TrackContext, Depends(get_current_track)]


@in_request_thread
def get_current_notification(notification_id: PathId, session: SessionDep, principal: Actor) -> Notification:
    """One of the principal's own notifications; anyone else's is a 404."""
    found = inbox.get_notification(session=session, principal=principal, notification_id=notification_id)
    if found is None:
        raise HTTPException(status_code=404, detail="알림을 찾을 수 없습니다.")
    return found


CurrentNotification = Annotated[Notification, Depends(get_current_notification)]
