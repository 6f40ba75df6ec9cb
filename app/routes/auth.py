"""Log in and out of the web pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from app.deps import SESSION_CSRF, SESSION_EPOCH, SESSION_USER, SessionDep, csrf_token, html_router
from app.models import User
from app.services.auth import InvalidCredentialsError, LoginLockedError, authenticate, end_sessions
from app.templating import kst, redirect, render

router = html_router(tags=["auth"])


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
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form()] = "",
) -> Response:
    ctx = {"next": safe_next(next), "username": username}
    try:
        user = authenticate(session=session, login=username, password=password)
    except LoginLockedError as exc:
        ctx["error"] = (
            "로그인에 여러 번 실패하여 이 계정의 로그인이 잠시 잠겼습니다. "
            f"{kst(exc.until, '%H:%M')} 이후에 다시 시도하세요."
        )
        return render(request, "pages/login.html", ctx, status_code=429)
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
