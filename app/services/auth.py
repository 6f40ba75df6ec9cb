"""Passwords, the login throttle and API tokens."""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, bindparam, or_, text
from sqlmodel import Session, col, delete, select, update

from app.db import Prepared, run_plain
from app.models import ApiToken, LoginFailure, User
from app.models.base import utcnow
from app.services.principal import Principal, principal_from_row, principal_query

MIN_PASSWORD_LENGTH = 10
# The throttle (see authenticate): failures within THROTTLE_WINDOW, each limit locking for LOCKOUT.
MAX_FAILURES = 5  # one login from one client
CLIENT_MAX_FAILURES = 20  # one client, all logins together
# One login, all clients together: at most 25 per 15 minutes, so no more than 100 failed
# guesses an hour at one account (ASVS 4.0 V2.2.1).
ACCOUNT_MAX_FAILURES = 25
THROTTLE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
# Failures older than this can no longer lock anything.
_HORIZON = THROTTLE_WINDOW + LOCKOUT
PRUNE_BATCH = 100
CLIENT_MAX_LENGTH = 64  # LoginFailure.client
TOKEN_PREFIX = "mgl_"  # noqa: S105 - a public prefix, not a secret

_hasher = PasswordHasher()
# Verified against when the login is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))

# What a lock covers: every login from this client; this login from this client; this login
# from everywhere.
LockScope = Literal["client", "login_from_client", "login"]


class PasswordTooShortError(ValueError):
    pass


class LoginLockedError(Exception):
    def __init__(self, until: datetime, *, scope: LockScope, retry_after: int):
        self.until = until
        self.scope: LockScope = scope
        self.retry_after = retry_after  # whole seconds, for the Retry-After header
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


# --- who is knocking ----------------------------------------------------------------------------


def _parse_ip(value: str) -> IPv4Address | IPv6Address | None:
    value = value.strip()
    if value.startswith("["):  # "[2001:db8::1]:443"
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # "203.0.113.5:4711"
        value = value.partition(":")[0]
    try:
        ip = ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:  # a dual-stack socket's IPv4 peer
        return ip.ipv4_mapped
    return ip


def client_address(
    *,
    peer: str | None,
    forwarded_for: Sequence[str],
    trusted_proxies: Sequence[IPv4Network | IPv6Network],
) -> str | None:
    """The client a login attempt is counted against.

    The socket peer, unless it is a trusted proxy: then X-Forwarded-For is read from the right
    (the hops trusted proxies appended), skipping trusted proxies, and the first other address
    is the client. Entries further left are whatever the client sent, so they are never used.
    An IPv6 client counts as its /64, which one host usually holds whole.
    """
    if peer is None:
        return None

    def trusted(value: str) -> bool:
        ip = _parse_ip(value)
        return ip is not None and any(ip in network for network in trusted_proxies)

    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    address = peer
    while hops and trusted(address):
        address = hops.pop()
    ip = _parse_ip(address)
    if isinstance(ip, IPv6Address):
        return str(IPv6Network((int(ip), 64), strict=False))  # int(): without a "%zone"
    return str(ip) if ip is not None else address.strip()[:CLIENT_MAX_LENGTH]


# --- the throttle -------------------------------------------------------------------------------


def _same_client(client: str | None) -> ColumnElement[bool]:
    return col(LoginFailure.client).is_(None) if client is None else col(LoginFailure.client) == client


def _lock_end(times: Sequence[datetime], limit: int, now: datetime) -> datetime | None:
    """A sliding window over sorted failure times: any ``limit`` of them no more than
    THROTTLE_WINDOW apart lock for LOCKOUT from the last of them. The end, if still in force."""
    until = None
    for i in range(limit - 1, len(times)):
        if times[i] - times[i - limit + 1] <= THROTTLE_WINDOW:
            end = times[i] + LOCKOUT
            if end > now and (until is None or end > until):
                until = end
    return until


def lock_for(
    *, session: Session, login: str, client: str | None, now: datetime
) -> tuple[datetime, LockScope] | None:
    """The lock in force on this attempt, if any: the one that ends last, and what it covers."""
    rows = session.exec(
        select(LoginFailure.login, LoginFailure.client, LoginFailure.at)
        .where(
            or_(col(LoginFailure.login) == login, _same_client(client)),
            col(LoginFailure.at) > now - _HORIZON,
        )
        .order_by(col(LoginFailure.at))
    ).all()
    limits: list[tuple[LockScope, int, list[datetime]]] = [
        ("client", CLIENT_MAX_FAILURES, [at for _, c, at in rows if c == client]),
        ("login_from_client", MAX_FAILURES, [at for name, c, at in rows if name == login and c == client]),
        ("login", ACCOUNT_MAX_FAILURES, [at for name, _, at in rows if name == login]),
    ]
    found: tuple[datetime, LockScope] | None = None
    for scope, limit, times in limits:
        until = _lock_end(times, limit, now)
        if until is not None and (found is None or until > found[0]):
            found = (until, scope)
    return found


def authenticate(
    *,
    session: Session,
    login: str,
    password: str,
    client: str | None = None,
    now: datetime | None = None,
) -> User:
    """The active user for these credentials, or raise.

    ``client`` is where the attempt comes from (client_address; None for callers without one,
    such as the CLI, which count together as one client). Failures are counted three ways, each
    over THROTTLE_WINDOW and locking for LOCKOUT:

    - MAX_FAILURES for one login from one client lock that login *for that client only*: a
      stranger guessing ``admin`` locks themselves out, never the owner at another address.
    - CLIENT_MAX_FAILURES from one client lock that client for every login: guessing across
      many usernames from one place stops.
    - ACCOUNT_MAX_FAILURES for one login from all clients lock it everywhere. This bounds a
      distributed guess (many addresses, a few tries each) to 100 an hour, at a price: an
      attacker with ACCOUNT_MAX_FAILURES / MAX_FAILURES = 5 addresses at once (an IPv6 /64
      counting as one) can still lock the owner out, where five requests used to do it. A
      higher ceiling would need more addresses but let more guesses through; ASVS sets the
      bound. Sparing the owner even then needs something only the owner has (a device cookie).

    People behind one address (an office NAT) are one client, and share its limit.

    Raises LoginLockedError while any of these is in force (whatever the password, so a lock
    never confirms a guess; attempts then are not counted), InvalidCredentialsError otherwise
    (and records the failure).
    """
    now = now or utcnow()
    login = login.strip()
    if session.get_bind().dialect.name == "postgresql":
        # One attempt per client and per login at a time, across workers: otherwise parallel
        # guesses all pass the lock check before any failure is recorded. Always the client's
        # lock first, so two attempts never wait on each other crosswise. (SQLite already runs
        # one writer at a time.)
        session.execute(text("SELECT pg_advisory_xact_lock(1, hashtext(:key))"), {"key": client or ""})
        session.execute(text("SELECT pg_advisory_xact_lock(2, hashtext(:key))"), {"key": login})
    lock = lock_for(session=session, login=login, client=client, now=now)
    if lock is not None:
        until, scope = lock
        raise LoginLockedError(
            until, scope=scope, retry_after=max(1, math.ceil((until - now).total_seconds()))
        )

    user = session.exec(select(User).where(User.login == login)).first()
    ok = (
        _verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None and user.is_active
    )
    if ok and user is not None:
        # Only this client's failures: the owner logging in must not lift an attacker's lock.
        session.exec(delete(LoginFailure).where(col(LoginFailure.login) == login, _same_client(client)))
        user.last_login_at = now
        session.add(user)
        session.flush()
        return user

    # Prune a batch of expired rows of any login or client (guesses at made-up logins are never
    # repeated); SKIP LOCKED, so workers pruning at once never wait on each other.
    stale = (
        select(LoginFailure.id)
        .where(col(LoginFailure.at) <= now - _HORIZON)
        .limit(PRUNE_BATCH)
        .with_for_update(skip_locked=True)
    )
    session.exec(delete(LoginFailure).where(col(LoginFailure.id).in_(stale)))
    # Insert-only (no read-modify-write), so concurrent failures on several workers all count.
    session.add(LoginFailure(login=login, client=client, at=now))
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
    row = run_plain(session, _BY_TOKEN, {"token_hash": _digest(token)}).first()
    return principal_from_row(row) if row else None


# Built once: every API request authenticates with it (building it cost more than running it).
_BY_TOKEN = Prepared(
    principal_query()
    .join(ApiToken, col(ApiToken.user_id) == col(User.id))
    .where(col(ApiToken.token_hash) == bindparam("token_hash"), col(ApiToken.revoked_at).is_(None))
)
