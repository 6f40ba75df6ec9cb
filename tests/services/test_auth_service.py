"""Passwords, the login throttle and API tokens, at the service level (explicit clocks)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from app.models import ApiToken, LoginFailure
from app.services.auth import (
    LOCKOUT,
    MAX_FAILURES,
    InvalidCredentialsError,
    LoginLockedError,
    PasswordTooShortError,
    authenticate,
    create_token,
    hash_password,
    principal_for_token,
    revoke_tokens,
)
from tests.factories import PASSWORD, World

# Far enough in the future that no row written "now" by another path can interfere.
T0 = datetime(2100, 1, 1, 9, 0, tzinfo=UTC)
WRONG = "not-the-password"


def fail(db: Session, login: str, at: datetime) -> None:
    with pytest.raises(InvalidCredentialsError):
        authenticate(session=db, login=login, password=WRONG, now=at)


def fail_times(db: Session, login: str, start: datetime, count: int, step: timedelta) -> datetime:
    """``count`` failures ``step`` apart from ``start``; returns the time of the last one."""
    at = start
    for i in range(count):
        at = start + i * step
        fail(db, login, at)
    return at


# --- passwords --------------------------------------------------------------------------------


def test_password_is_an_argon2_hash_never_the_clear_text() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2")
    assert PASSWORD not in hashed
    assert hash_password(PASSWORD) != hashed  # salted


def test_short_password_is_refused() -> None:
    with pytest.raises(PasswordTooShortError):
        hash_password("123456789")  # 9 characters
    assert hash_password("1234567890").startswith("$argon2")  # 10 is enough


def test_authenticate_returns_the_user_and_records_the_login(db: Session, world: World) -> None:
    user = authenticate(session=db, login="coop-a", password=PASSWORD, now=T0)
    assert user.id == world.users["coop_a"].id
    assert user.last_login_at == T0


@pytest.mark.parametrize(
    ("login", "password"),
    [("coop-a", WRONG), ("nobody-here", PASSWORD), ("gone", PASSWORD)],
    ids=["wrong-password", "unknown-login", "inactive-user"],
)
def test_bad_credentials_are_refused(db: Session, world: World, login: str, password: str) -> None:
    with pytest.raises(InvalidCredentialsError):
        authenticate(session=db, login=login, password=password, now=T0)


# --- throttle ---------------------------------------------------------------------------------


def failures(db: Session, login: str) -> int:
    return len(db.exec(select(LoginFailure).where(LoginFailure.login == login)).all())


def test_sixth_attempt_is_locked_even_with_the_right_password(db: Session, world: World) -> None:
    last = fail_times(db, "coop-a", T0, MAX_FAILURES, timedelta(minutes=2))
    with pytest.raises(LoginLockedError) as locked:
        authenticate(session=db, login="coop-a", password=PASSWORD, now=last + timedelta(seconds=1))
    assert locked.value.until == last + LOCKOUT


def test_fewer_failures_than_the_limit_do_not_lock(db: Session, world: World) -> None:
    last = fail_times(db, "coop-a", T0, MAX_FAILURES - 1, timedelta(minutes=1))
    user = authenticate(session=db, login="coop-a", password=PASSWORD, now=last + timedelta(seconds=1))
    assert user.login == "coop-a"


def test_lock_of_one_account_leaves_others_alone(db: Session, world: World) -> None:
    last = fail_times(db, "coop-a", T0, MAX_FAILURES, timedelta(seconds=10))
    after = last + timedelta(seconds=1)
    with pytest.raises(LoginLockedError):
        authenticate(session=db, login="coop-a", password=PASSWORD, now=after)
    assert authenticate(session=db, login="coop-b", password=PASSWORD, now=after).login == "coop-b"
    # coop-b's own failures start from zero
    fail_times(db, "coop-b", after, MAX_FAILURES - 1, timedelta(seconds=1))
    assert authenticate(session=db, login="coop-b", password=PASSWORD, now=after + timedelta(minutes=1))


def test_login_works_again_after_the_lock_expires(db: Session, world: World) -> None:
    last = fail_times(db, "coop-a", T0, MAX_FAILURES, timedelta(seconds=10))
    with pytest.raises(LoginLockedError):
        authenticate(session=db, login="coop-a", password=PASSWORD, now=last + LOCKOUT - timedelta(seconds=1))
    user = authenticate(
        session=db, login="coop-a", password=PASSWORD, now=last + LOCKOUT + timedelta(seconds=1)
    )
    assert user.login == "coop-a"
    assert failures(db, "coop-a") == 0


def test_a_wrong_password_after_the_lock_expires_starts_a_new_count(db: Session, world: World) -> None:
    last = fail_times(db, "coop-a", T0, MAX_FAILURES, timedelta(seconds=10))
    later = last + LOCKOUT + timedelta(seconds=1)
    fail(db, "coop-a", later)  # one failure, not the sixth of a series
    assert authenticate(session=db, login="coop-a", password=PASSWORD, now=later + timedelta(seconds=1))


def test_success_resets_the_counter(db: Session, world: World) -> None:
    step = timedelta(seconds=10)
    last = fail_times(db, "coop-a", T0, MAX_FAILURES - 1, step)
    authenticate(session=db, login="coop-a", password=PASSWORD, now=last + step)
    assert failures(db, "coop-a") == 0
    # MAX_FAILURES - 1 more failures: without the reset this would be far past the limit
    last = fail_times(db, "coop-a", last + 2 * step, MAX_FAILURES - 1, step)
    assert authenticate(session=db, login="coop-a", password=PASSWORD, now=last + step)


def test_failures_older_than_the_window_do_not_count(db: Session, world: World) -> None:
    fail_times(db, "coop-a", T0, MAX_FAILURES - 1, timedelta(seconds=1))
    later = T0 + timedelta(minutes=16)
    fail(db, "coop-a", later)  # the fifth failure overall, the first within 15 minutes
    assert authenticate(session=db, login="coop-a", password=PASSWORD, now=later + timedelta(seconds=1))


def test_five_failures_within_any_fifteen_minutes_lock(db: Session, world: World) -> None:
    fail(db, "coop-a", T0)  # opens a window ending at T0+15m
    fail_times(db, "coop-a", T0 + timedelta(minutes=14), 3, timedelta(seconds=10))
    fail_times(db, "coop-a", T0 + timedelta(minutes=16), 2, timedelta(seconds=10))
    # 5 failures between T0+14m and T0+16m10s: the next attempt must be refused
    with pytest.raises(LoginLockedError):
        authenticate(session=db, login="coop-a", password=PASSWORD, now=T0 + timedelta(minutes=17))


def test_unknown_logins_are_throttled_too(db: Session, world: World) -> None:
    last = fail_times(db, "nobody-here", T0, MAX_FAILURES, timedelta(seconds=1))
    with pytest.raises(LoginLockedError):
        authenticate(session=db, login="nobody-here", password=WRONG, now=last + timedelta(seconds=1))


# --- API tokens -------------------------------------------------------------------------------


def test_token_plaintext_is_not_stored(db: Session, world: World) -> None:
    new = create_token(session=db, user=world.users["center"])
    assert new.record.token_hash == hashlib.sha256(new.token.encode()).hexdigest()
    rows = db.execute(text("SELECT * FROM api_token")).all()
    assert len(rows) == 1
    for value in rows[0]:
        assert new.token not in str(value)
    principal = principal_for_token(session=db, token=new.token)
    assert principal is not None and principal.login == "center-a"


def test_two_tokens_differ(db: Session, world: World) -> None:
    user = world.users["center"]
    assert create_token(session=db, user=user).token != create_token(session=db, user=user).token


@pytest.mark.parametrize("token", ["", "mgl_", "mgl_wrong", "Bearer", "not-even-prefixed"])
def test_unknown_tokens_are_nobody(db: Session, world: World, token: str) -> None:
    create_token(session=db, user=world.users["admin"])
    assert principal_for_token(session=db, token=token) is None


def test_revoked_token_stops_working(db: Session, world: World) -> None:
    user = world.users["coop_a"]
    first, second = create_token(session=db, user=user), create_token(session=db, user=user)
    other = create_token(session=db, user=world.users["coop_b"])
    assert revoke_tokens(session=db, user=user, now=T0) == 2
    assert principal_for_token(session=db, token=first.token) is None
    assert principal_for_token(session=db, token=second.token) is None
    assert principal_for_token(session=db, token=other.token) is not None
    stamps = db.exec(select(ApiToken.revoked_at).where(ApiToken.user_id == user.id)).all()
    assert stamps == [T0, T0]


def test_token_of_a_deactivated_user_stops_working(db: Session, world: World) -> None:
    user = world.users["municipality"]
    new = create_token(session=db, user=user)
    assert principal_for_token(session=db, token=new.token) is not None
    user.is_active = False
    db.add(user)
    db.flush()
    assert principal_for_token(session=db, token=new.token) is None
