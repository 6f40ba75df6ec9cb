"""Log in and out of the web pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from app.deps import (
    SESSION_CSRF,
    SESSION_EPOCH,
    SESSION_USER,
    SessionDep,
    SettingsDep,
    csrf_token,
    html_router,
)
from app.models import User
from app.services.auth import (
    InvalidCredentialsError,
    LockScope,
    LoginLockedError,
    authenticate,
    client_address,
    end_sessions,
)
from app.templating import kst, redirect, render

router = html_router(tags=["auth"])

# Each names what is locked, so the owner of an account knows whether another place would work.
LOCKED_MESSAGES: dict[LockScope, str] = {
    "client": "이 접속 위치에서 로그인에 여러 번 실패하여 잠시 로그인할 수 없습니다. {until} 이후에 다시 시도하세요.",
    "login_from_client": (
        "로그인에 여러 번 실패하여 이 접속 위치에서 이 계정의 로그인이 잠시 잠겼습니다. "
        "{until} 이후에 다시 시도하세요."
    ),
    "login": (
        "이 계정에 로그인 실패가 너무 많아 모든 접속 위치에서 이 계정의 로그인이 잠시 잠겼습니다. "
        "{until} 이후에 다시 시도하시고, 계속되면 운영 관리자에게 알려 주세요."
    ),
}


def safe_next(value: str | None) -> str:
    """Only same-site paths: never redirect a person to another host after login."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        # Browsers drop tabs/newlines while parsing a URL ("/\t/evil.com" → "//evil.com"),
        # and HX-Redirect hands the value to the browser unquoted: refuse control characters.
        and value.isprintable()
    ):
        return value
    return ""


def home_for(request: Request, user: User) -> str:
    """Where a person lands after login: a cooperative on its own page, everyone else on the 현황판."""
    if user.role == "coop" and user.cooperative_id is not None:
        return str(request.app.url_path_for("coops:detail", cooperative_id=str(user.cooperative_id)))
    return str(request.app.url_path_for("dashboard:index"))


@router.get("/login", name="auth:login_form")
def login_form(request: Request, next: str = "") -> Response:
    return render(request, "pages/login.html", {"next": safe_next(next), "username": ""})


@router.post("/login", name="auth:login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form()] = "",
) -> Response:
    ctx = {"next": safe_next(next), "username": username}
    client = client_address(
        peer=request.client.host if request.client else None,
        forwarded_for=request.headers.getlist("x-forwarded-for"),
        trusted_proxies=settings.trusted_proxies,
    )
    try:
        user = authenticate(session=session, login=username, password=password, client=client)
    except LoginLockedError as exc:
        ctx["error"] = LOCKED_MESSAGES[exc.scope].format(until=kst(exc.until, "%H:%M"))
        return render(
            request,
            "pages/login.html",
            ctx,
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except InvalidCredentialsError:
        # Returned, not raised: the failure count must be committed.
        ctx["error"] = "아이디 또는 비밀번호가 맞지 않습니다."
        return render(request, "pages/login.html", ctx, status_code=401)
    # Rotate: a fresh session (new CSRF token) for the logged-in person.
    request.session.clear()
    request.session[SESSION_USER] = user.id
    request.session[SESSION_EPOCH] = user.session_epoch
    csrf_token(request)
    return redirect(request, safe_next(next) or home_for(request, user))


@router.post("/logout", name="auth:logout")
def logout(request: Request, session: SessionDep) -> Response:
    user = getattr(request.state, "user", None)
    if user is not None:
        # Server-side end: a copy of this cookie (another tab, a stolen one) stops working too.
        end_sessions(session=session, user_id=user.id)
    request.session.pop(SESSION_USER, None)
    request.session.pop(SESSION_EPOCH, None)
    request.session.pop(SESSION_CSRF, None)
    return redirect(request, "/")
