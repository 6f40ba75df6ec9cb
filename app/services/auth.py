"""Passwords, the login throttle and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import text
from sqlmodel import Session, col, delete, select, update

from app.models import ApiToken, LoginFailure, User
from app.models.base import utcnow
from app.services.principal import Principal, principal_from_row, principal_query

MIN_PASSWORD_LENGTH = 10
MAX_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
TOKEN_PREFIX = "mgl_"  # noqa: S105 - a public prefix, not a secret

_hasher = PasswordHasher()
# Verified against when the login is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


class PasswordTooShortError(ValueError):
    pass


class LoginLockedError(Exception):
    def __init__(self, until: datetime):
        self.until = until
        super().__init__(until.isoformat())


class InvalidCredentialsError(Exception):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShortError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def locked_until(*, session: Session, login: str, now: datetime) -> datetime | None:
    """The end of the lock caused by MAX_FAILURES failures within THROTTLE_WINDOW, if still in force.

    A sliding window over the recorded failures: any MAX_FAILURES of them no more than
    THROTTLE_WINDOW apart lock the login for LOCKOUT from the last of them.
    """
    times = session.exec(
        select(LoginFailure.at)
        .where(LoginFailure.login == login, col(LoginFailure.at) > now - (THROTTLE_WINDOW + LOCKOUT))
        .order_by(col(LoginFailure.at))
    ).all()
    until = None
    for i in range(MAX_FAILURES - 1, len(times)):
        if times[i] - times[i - MAX_FAILURES + 1] <= THROTTLE_WINDOW:
            end = times[i] + LOCKOUT
            if end > now and (until is None or end > until):
                until = end
    return until


def authenticate(*, session: Session, login: str, password: str, now: datetime | None = None) -> User:
    """The active user for these credentials, or raise.

    Raises LoginLockedError while the login is locked (whatever the password; attempts then
    are not counted), InvalidCredentialsError otherwise (and records the failure).
    """
    now = now or utcnow()
    login = login.strip()
    if session.get_bind().dialect.name == "postgresql":
        # One attempt per login at a time, across workers: otherwise parallel guesses all pass
        # the lock check before any failure is recorded. (SQLite already runs one writer at a time.)
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:login))"), {"login": login})
    until = locked_until(session=session, login=login, now=now)
    if until is not None:
        raise LoginLockedError(until)

    user = session.exec(select(User).where(User.login == login)).first()
    ok = (
        _verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None and user.is_active
    )
    if ok and user is not None:
        session.exec(delete(LoginFailure).where(col(LoginFailure.login) == login))
        user.last_login_at = now
        session.add(user)
        session.flush()
        return user

    # Insert-only (no read-modify-write), so concurrent failures on several workers all count.
    session.exec(
        delete(LoginFailure).where(
            col(LoginFailure.login) == login, col(LoginFailure.at) <= now - (THROTTLE_WINDOW + LOCKOUT)
        )
    )
    session.add(LoginFailure(login=login, at=now))
    session.flush()
    raise InvalidCredentialsError()


def end_sessions(*, session: Session, user_id: int) -> None:
    """Log the user out everywhere: cookies carrying an older epoch stop working."""
    session.exec(update(User).where(col(User.id) == user_id).values(session_epoch=User.session_epoch + 1))


# --- API tokens -----------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token: str  # shown once; only the digest is stored
    record: ApiToken


def create_token(*, session: Session, user: User) -> NewToken:
    assert user.id is not None  # noqa: S101
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(user_id=user.id, token_hash=_digest(token), prefix=token[:12])
    session.add(record)
    session.flush()
    return NewToken(token=token, record=record)


def revoke_tokens(*, session: Session, user: User, now: datetime | None = None) -> int:
    result = session.exec(
        update(ApiToken)
        .where(col(ApiToken.user_id) == user.id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(result.rowcount or 0)


def principal_for_token(*, session: Session, token: str) -> Principal | None:
    """The active user owning this unrevoked token, in one query."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    stmt = (
        principal_query()
        .join(ApiToken, col(ApiToken.user_id) == col(User.id))
        .where(col(ApiToken.token_hash) == _digest(token), col(ApiToken.revoked_at).is_(None))
    )
    row = session.execute(stmt).first()
    return principal_from_row(row[0], row[1]) if row else None
