"""Passwords, the login throttle and API tokens, at the service level (explicit clocks)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network

import pytest
from sqlalchemy import Engine, func, text
from sqlmodel import Session, col, select

from app.db import make_engine, transaction
from app.migrate import upgrade
from app.models import ApiToken, LoginFailure
from app.services import auth
from app.services.auth import (
    ACCOUNT_MAX_FAILURES,
    CLIENT_MAX_FAILURES,
    LOCKOUT,
    MAX_FAILURES,
    PRUNE_BATCH,
    THROTTLE_WINDOW,
    InvalidCredentialsError,
    LoginLockedError,
    PasswordTooShortError,
    authenticate,
    client_address,
    create_token,
    hash_password,
    principal_for_token,
    revoke_tokens,
)
from tests.factories import PASSWORD, PASSWORD_HASH, World, make_world

# Far enough in the future that no row written "now" by another path can interfere.
T0 = datetime(2100, 1, 1, 9, 0, tzinfo=UTC)
WRONG = "not-the-password"


def fail(db: Session, login: str, at: datetime, client: str | None = None) -> None:
    with pytest.raises(InvalidCredentialsError):
        authenticate(session=db, login=login, password=WRONG, client=client, now=at)


def fail_times(
    db: Session, login: str, start: datetime, count: int, step: timedelta, client: str | None = None
) -> datetime:
    """``count`` failures ``step`` apart from ``start``; returns the time of the last one."""
    at = start
    for i in range(count):
        at = start + i * step
        fail(db, login, at, client)
    return at


@pytest.fixture
def cheap_unknown_logins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Made-up logins verify against the cheap test hash: many of them stay fast."""
    monkeypatch.setattr(auth, "_DUMMY_HASH", PASSWORD_HASH)


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


# --- where the attempt comes from -------------------------------------------------------------

PROXY = ip_network("10.0.0.1/32")
PROXIES = [PROXY, ip_network("10.1.0.0/16")]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "expected"),
    [
        ("203.0.113.5", [], [], "203.0.113.5"),
        # an untrusted peer's header is whatever it chose to send
        ("203.0.113.5", ["198.51.100.1"], [], "203.0.113.5"),
        ("203.0.113.5", ["198.51.100.1"], PROXIES, "203.0.113.5"),
        # a trusted proxy: the address it appended, never what the client wrote further left
        ("10.0.0.1", ["198.51.100.1"], PROXIES, "198.51.100.1"),
        ("10.0.0.1", ["1.2.3.4, 198.51.100.1"], PROXIES, "198.51.100.1"),
        ("10.0.0.1", ["1.2.3.4", "198.51.100.1"], PROXIES, "198.51.100.1"),  # two header lines
        # a chain of trusted proxies is skipped from the right
        ("10.0.0.1", ["1.2.3.4, 198.51.100.1, 10.1.2.3"], PROXIES, "198.51.100.1"),
        # nothing but proxies: the first hop
        ("10.0.0.1", ["10.1.0.9, 10.1.2.3"], PROXIES, "10.1.0.9"),
        ("10.0.0.1", [], PROXIES, "10.0.0.1"),
        # a trusted hop further left does not make the client's own entries believable
        ("10.0.0.1", ["10.1.0.9, 198.51.100.1"], PROXIES, "198.51.100.1"),
        # ports and brackets, as some proxies write them
        ("10.0.0.1", ["198.51.100.1:4711"], PROXIES, "198.51.100.1"),
        ("10.0.0.1", ["[2001:db8:1:2::7]:443"], PROXIES, "2001:db8:1:2::/64"),
        # an IPv6 client is its /64; an IPv4 peer on a dual-stack socket is the IPv4 address
        ("2001:db8:1:2:aaaa::1", [], [], "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.5", [], [], "203.0.113.5"),
        ("fe80::1%eth0", [], [], "fe80::/64"),
        ("::ffff:10.0.0.1", ["198.51.100.1"], PROXIES, "198.51.100.1"),
        # not an address at all (Starlette's TestClient)
        ("testclient", ["198.51.100.1"], PROXIES, "testclient"),
        (None, ["198.51.100.1"], PROXIES, None),
    ],
)
def test_client_address(
    peer: str | None, forwarded_for: list[str], trusted: list, expected: str | None
) -> None:
    assert client_address(peer=peer, forwarded_for=forwarded_for, trusted_proxies=trusted) == expected


# --- throttle per client and per account --------------------------------------------------------

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.20"


def test_an_attackers_failures_lock_the_account_only_for_the_attacker(db: Session, world: World) -> None:
    last = fail_times(db, "admin", T0, MAX_FAILURES, timedelta(seconds=5), client=ATTACKER)
    after = last + timedelta(seconds=1)
    with pytest.raises(LoginLockedError) as locked:
        authenticate(session=db, login="admin", password=PASSWORD, client=ATTACKER, now=after)
    assert locked.value.scope == "login_from_client"
    assert locked.value.until == last + LOCKOUT
    assert locked.value.retry_after == int((LOCKOUT - timedelta(seconds=1)).total_seconds())
    # the owner, elsewhere, is let in, and that does not lift the attacker's lock
    assert (
        authenticate(session=db, login="admin", password=PASSWORD, client=OWNER, now=after).login == "admin"
    )
    with pytest.raises(LoginLockedError):
        authenticate(session=db, login="admin", password=PASSWORD, client=ATTACKER, now=after)


def test_one_client_guessing_many_logins_is_stopped(
    db: Session, world: World, cheap_unknown_logins: None
) -> None:
    # Password spraying: every guess at a different login, none of them near its own limit.
    for i in range(CLIENT_MAX_FAILURES):
        fail(db, f"guess-{i:02d}", T0 + i * timedelta(seconds=5), client=ATTACKER)
    after = T0 + CLIENT_MAX_FAILURES * timedelta(seconds=5)
    # locked for every login, even one it never tried, whatever the password
    with pytest.raises(LoginLockedError) as locked:
        authenticate(session=db, login="coop-b", password=PASSWORD, client=ATTACKER, now=after)
    assert locked.value.scope == "client"
    # others are not affected
    assert authenticate(session=db, login="coop-b", password=PASSWORD, client=OWNER, now=after)


def test_fewer_failures_than_the_client_limit_do_not_lock_the_client(
    db: Session, world: World, cheap_unknown_logins: None
) -> None:
    for i in range(CLIENT_MAX_FAILURES - 1):
        fail(db, f"guess-{i:02d}", T0 + i * timedelta(seconds=5), client=ATTACKER)
    after = T0 + CLIENT_MAX_FAILURES * timedelta(seconds=5)
    assert authenticate(session=db, login="coop-b", password=PASSWORD, client=ATTACKER, now=after)


def test_many_clients_guessing_one_account_lock_it_everywhere(db: Session, world: World) -> None:
    # A distributed guess: each client stays under its own limits, the account's ceiling holds.
    per_client = MAX_FAILURES - 1
    step = timedelta(seconds=1)
    for i in range(ACCOUNT_MAX_FAILURES):
        fail(db, "admin", T0 + i * step, client=f"203.0.113.{i // per_client}")
    last = T0 + (ACCOUNT_MAX_FAILURES - 1) * step
    with pytest.raises(LoginLockedError) as locked:
        authenticate(session=db, login="admin", password=PASSWORD, client=OWNER, now=last + step)
    assert locked.value.scope == "login"
    assert locked.value.until == last + LOCKOUT
    # other accounts, from any of those clients, are not affected
    assert authenticate(session=db, login="coop-a", password=PASSWORD, client="203.0.113.0", now=last + step)
    # and the ceiling ends like the other locks
    assert authenticate(session=db, login="admin", password=PASSWORD, client=OWNER, now=last + LOCKOUT + step)


def test_one_fewer_than_the_ceiling_does_not_lock_the_account(db: Session, world: World) -> None:
    per_client = MAX_FAILURES - 1
    for i in range(ACCOUNT_MAX_FAILURES - 1):
        fail(db, "admin", T0 + i * timedelta(seconds=1), client=f"203.0.113.{i // per_client}")
    now = T0 + ACCOUNT_MAX_FAILURES * timedelta(seconds=1)
    assert authenticate(session=db, login="admin", password=PASSWORD, client=OWNER, now=now)


def test_the_lock_that_ends_last_is_reported(db: Session, world: World) -> None:
    step = timedelta(seconds=1)
    attacker_last = fail_times(db, "admin", T0, MAX_FAILURES, step, client=ATTACKER)
    # later, other clients bring the account to its ceiling: that lock ends after the attacker's
    start = T0 + timedelta(minutes=5)
    per_client = MAX_FAILURES - 1
    for i in range(ACCOUNT_MAX_FAILURES - MAX_FAILURES):
        fail(db, "admin", start + i * step, client=f"192.0.2.{i // per_client}")
    ceiling_last = start + (ACCOUNT_MAX_FAILURES - MAX_FAILURES - 1) * step
    with pytest.raises(LoginLockedError) as locked:
        authenticate(session=db, login="admin", password=PASSWORD, client=ATTACKER, now=ceiling_last + step)
    assert attacker_last + LOCKOUT < ceiling_last + LOCKOUT
    assert (locked.value.scope, locked.value.until) == ("login", ceiling_last + LOCKOUT)


def failures_of(db: Session, login: str, client: str | None) -> int:
    stmt = select(func.count()).select_from(LoginFailure).where(LoginFailure.login == login)
    return db.exec(stmt.where(col(LoginFailure.client).is_not_distinct_from(client))).one()


def test_success_clears_only_this_clients_failures_for_this_account(db: Session, world: World) -> None:
    step = timedelta(seconds=10)
    fail_times(db, "admin", T0, MAX_FAILURES - 1, step, client=ATTACKER)
    fail_times(db, "admin", T0, 2, step, client=OWNER)
    fail(db, "coop-a", T0, client=OWNER)
    now = T0 + MAX_FAILURES * step
    authenticate(session=db, login="admin", password=PASSWORD, client=OWNER, now=now)
    assert failures_of(db, "admin", OWNER) == 0
    assert failures_of(db, "admin", ATTACKER) == MAX_FAILURES - 1
    assert failures_of(db, "coop-a", OWNER) == 1
    # the attacker's count goes on where it was: one more failure locks
    fail(db, "admin", now + step, client=ATTACKER)
    with pytest.raises(LoginLockedError):
        authenticate(session=db, login="admin", password=PASSWORD, client=ATTACKER, now=now + 2 * step)


def test_failures_are_stored_with_their_client(db: Session, world: World) -> None:
    fail(db, "coop-a", T0, client=ATTACKER)
    fail(db, "coop-a", T0 + timedelta(seconds=1))
    clients = db.exec(select(LoginFailure.client).order_by(col(LoginFailure.at))).all()
    assert clients == [ATTACKER, None]


def test_expired_failures_of_any_login_are_pruned(
    db: Session, world: World, cheap_unknown_logins: None
) -> None:
    # Guesses at made-up logins are never repeated: a later failure elsewhere removes them.
    for i in range(3):
        fail(db, f"guess-{i}", T0, client=ATTACKER)
    fail(db, "coop-a", T0 + THROTTLE_WINDOW, client=OWNER)  # still able to count: kept
    later = T0 + THROTTLE_WINDOW + LOCKOUT + timedelta(seconds=1)
    fail(db, "coop-b", later, client="192.0.2.1")
    remaining = db.exec(select(LoginFailure.login).order_by(col(LoginFailure.at))).all()
    assert remaining == ["coop-a", "coop-b"]
    assert PRUNE_BATCH >= 3


# --- throttle under parallel attempts (committed, on both databases) ----------------------------

PARALLEL = 30


@pytest.fixture
def committed(backend: str, fresh_database_url) -> Iterator[Engine]:
    url = fresh_database_url(backend)
    upgrade(url)
    engine = make_engine(url, pool_size=PARALLEL + 5) if backend == "postgresql" else make_engine(url)
    with transaction(engine) as session:
        make_world(session)
    yield engine
    engine.dispose()


def test_parallel_guesses_across_logins_from_one_client_are_all_counted(committed: Engine) -> None:
    # Known logins (cheap hashes), round robin: no login reaches its own limit before the
    # client reaches its limit, so exactly CLIENT_MAX_FAILURES guesses may be checked.
    logins = ["coop-a", "coop-b", "center-a", "center-b", "gov-a", "admin", "gone"]
    barrier = threading.Barrier(PARALLEL)

    def attempt(i: int) -> str:
        barrier.wait()
        with transaction(committed) as session:
            try:
                authenticate(session=session, login=logins[i % len(logins)], password=WRONG, client=ATTACKER)
            except InvalidCredentialsError:
                return "refused"
            except LoginLockedError:
                return "locked"
        return "accepted"

    with ThreadPoolExecutor(PARALLEL) as pool:
        outcomes = list(pool.map(attempt, range(PARALLEL)))
    assert outcomes.count("refused") == CLIENT_MAX_FAILURES
    assert outcomes.count("locked") == PARALLEL - CLIENT_MAX_FAILURES
    with transaction(committed) as session:
        assert session.exec(select(func.count()).select_from(LoginFailure)).one() == CLIENT_MAX_FAILURES


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
