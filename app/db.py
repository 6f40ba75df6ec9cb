"""Engine and the request session: the one place that commits or rolls back."""

from __future__ import annotations

import functools
import inspect
import os
import re
import time
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import anyio
from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import Engine, Executable, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, MultipleResultsFound, NoResultFound
from sqlalchemy.orm import configure_mappers
from sqlmodel import Session, create_engine
from starlette.concurrency import run_in_threadpool


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the per-backend settings this app relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Request threads share the engine; SQLite's own busy timeout serialises writers.
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # Up to 15 connections a worker, as SQLAlchemy's default, but 10 of them kept open instead of
    # 5: with more requests in flight than that, each extra one connected anew (a PostgreSQL
    # backend started per request): the 32-client benchmark served about 10 % fewer requests.
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 5)
    # No JIT: our statements are short, and on the 현황판 at 20,000 tracks PostgreSQL's JIT
    # compilation alone took ~15 ms of a 50 ms statement (its cost estimate counts the
    # never-run fallback count of each row).
    # One plan per prepared statement (psycopg prepares a statement on its 5th run): by default
    # PostgreSQL plans it anew on every run while a plan for the values at hand looks cheaper than
    # one for any values, which a LIMIT parameter, or a busy track's or user's many rows, always
    # made so (the log, the 알림 count and list). Every statement here filters on indexed keys, and
    # each ran as fast or faster with its one plan on a benchmark database after thousands of
    # changes to a few tracks (the 알림 count 186 → 103 µs, the inbox 177 → 67 µs, the log
    # 258 → 165 µs; none slower).
    # A bounded connect: an unreachable host answers 503 in seconds, not after the OS's
    # TCP timeout (minutes) with every request thread stuck behind it. A URL's own wins.
    connect_args: dict[str, Any] = {"options": "-c jit=off -c plan_cache_mode=force_generic_plan"}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    kwargs.setdefault("connect_args", connect_args)
    engine = create_engine(url, **kwargs)
    # A connection idle in the pool for a while is pinged before use (_ping_if_idle), not every
    # one: after a database restart the first request finds the dead ones (SQLAlchemy then
    # discards the whole stale pool) instead of failing on them, while under load, where each
    # connection comes back within milliseconds, no request pays the ping's round trip.
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "connect", _note_use)
        event.listen(engine, "checkin", _note_use)
        event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


CONNECT_TIMEOUT = 3  # seconds; libpq's minimum is 2
PING_AFTER_IDLE = 1.0  # seconds a pooled connection may rest before it is pinged again
_LAST_USE = "maeul_last_use"


def _note_use(dbapi_conn: Any, record: Any) -> None:
    record.info[_LAST_USE] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_conn: Any, record: Any, proxy: Any) -> None:
    """pool_pre_ping for connections that rested: a dead one is replaced (DisconnectionError
    makes the pool connect anew), any other failure is the request's error, as without a ping.
    One that was in use within PING_AFTER_IDLE saw the server then; a restart since shows as
    the request's own error (a 503), after which the pool discards every older connection."""
    if time.monotonic() - record.info.get(_LAST_USE, 0.0) < PING_AFTER_IDLE:
        return
    try:
        dialect.do_ping(dbapi_conn)
    except dialect.loaded_dbapi.Error as exc:
        if dialect.is_disconnect(exc, dbapi_conn, None):
            raise DisconnectionError(f"a pooled connection was dead: {exc}") from exc
        raise
    record.info[_LAST_USE] = time.monotonic()


class DatabaseNotWritableError(Exception):
    """The SQLite file (or the folder that holds it) cannot be written by this user."""


def require_writable_database(url: str) -> None:
    """Refuse to start on a SQLite database this process cannot write, with one clear sentence.

    Otherwise the first migration or request fails deep inside SQLite ("attempt to write a
    readonly database") as a traceback. The folder matters too: SQLite writes its -wal and
    -shm files next to the database. PostgreSQL decides its own permissions (nothing to check).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database).resolve()
    if path.exists() and not os.access(path, os.W_OK):
        raise DatabaseNotWritableError(
            f"SQLite database {path} is read-only for this user; the server must be able to write it"
        )
    folder = path.parent
    while not folder.exists():  # created at start (make_engine): the nearest existing one decides
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseNotWritableError(
            f"SQLite database {path}: folder {folder} is read-only for this user "
            "(SQLite writes its -wal and -shm files next to the database)"
        )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Take over transaction control from pysqlite (see the "begin" listener).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # A writer takes the write lock up front (BEGIN IMMEDIATE) so it waits for the busy
    # timeout instead of failing to upgrade a stale read snapshot; other units stay deferred,
    # and a request's reader begins none (session_for).
    options = conn.get_execution_options()
    if options.get(_STATEMENT_READS):
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION, False) else "BEGIN")


WRITE_OPTION = "maeul_write"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def run_plain(
    session: Session,
    stmt: Executable | Prepared,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> Any:  # a CursorResult or a PlainResult; rows typed as loosely as session.execute's
    """Run a statement on tables and plain columns (no ORM entities: a read, or a write the
    session need not know of) in ``session``'s transaction, on its connection: about half the
    cost of ``session.execute`` for a short statement, which adds the ORM's per-statement
    bookkeeping (for an INSERT of an entity, its bulk-insert machinery). A ``Prepared``
    statement costs a third of that again (see there). Pending ORM changes are flushed first,
    as autoflush would."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    conn = session.connection()
    if isinstance(stmt, Prepared):
        return stmt.run(conn, params)
    return conn.execute(stmt, params)


class PlainResult:
    """The rows of a ``Prepared`` statement, with the part of a CursorResult's API we use."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise (
                NoResultFound("No row was found")
                if not self._rows
                else MultipleResultsFound("Multiple rows were found when exactly one was required")
            )
        return self._rows[0]

    def scalar_one(self) -> Any:
        return self.one()[0]


class _Plan:
    """A statement compiled for one dialect and one set of parameter names (as SQLAlchemy
    compiles it for an execution with those names), and how to bind and read it."""

    __slots__ = ("sql", "positional", "binds", "names", "row", "result_types", "readers")

    def __init__(self, compiled: Any, params: Mapping[str, Any]) -> None:
        compiled.construct_params(params)  # raises as SQLAlchemy would for a missing parameter
        self.sql: str = compiled.string
        self.positional: bool = compiled.positional
        names = list(compiled.positiontup) if compiled.positional else list(compiled.bind_names.values())
        processors = compiled._bind_processors
        escaped = compiled.escaped_bind_names
        # The key a caller gives for each bind; an anonymous one ("%(… param)s") is a value of the
        # statement's own, bound from its default.
        given = {name: bp.key for bp, name in compiled.bind_names.items() if not bp.key.startswith("%(")}
        # In the driver's order: (the given key or None, the default, the bind processor). Named
        # parameters appear once, positional ones per use.
        order = names if compiled.positional else list(dict.fromkeys(names))
        self.binds = [(given.get(name), compiled.binds[name].value, processors.get(name)) for name in order]
        self.names = [escaped.get(name, name) for name in order]
        columns = compiled._result_columns
        self.row: Any = namedtuple("Row", [c[0] for c in columns], rename=True) if columns else None
        self.result_types = [c[3] for c in columns]
        self.readers: list[Any] | None = None  # from the first cursor description, as SQLAlchemy

    def args(self, params: Mapping[str, Any]) -> Any:
        values = []
        for key, default, processor in self.binds:
            value = params.get(key, default) if key is not None else default
            values.append(processor(value) if processor else value)
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


class Prepared:
    """A statement built once (a module constant), run straight on the driver's cursor.

    SQLAlchemy's execution costs 25–40 µs a statement above the driver's own (an execution
    context, a result object, the ORM's session on top), several times what SQLite takes for
    the short statements of a status change. Here the statement is compiled once per dialect
    and parameter names, exactly as SQLAlchemy compiles it, and then each run binds the values
    through the same type processors, runs the cursor, fires the same ``before_`` and
    ``after_cursor_execute`` events (so the write refusal of a read and statement counts hold),
    reads rows through the same result processors, and raises the same wrapped errors (a lost
    connection invalidates the pool as before). What it cannot do the same way (expanding IN
    lists, tuple binds, RETURNING of several rows at once) goes through SQLAlchemy.
    """

    __slots__ = ("statement", "_plans")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._plans: dict[tuple[Any, ...], _Plan | None] = {}

    def _plan(self, dialect: Any, params: Mapping[str, Any], many: bool) -> _Plan | None:
        key = (dialect.name, dialect.driver, tuple(sorted(params)), many)
        try:
            return self._plans[key]
        except KeyError:
            pass
        compiled: Any = self.statement.compile(  # type: ignore[attr-defined]
            dialect=dialect, column_keys=list(key[2]), for_executemany=many
        )
        plain = not (
            compiled.post_compile_params
            or compiled.insert_prefetch  # a column default made in Python: SQLAlchemy's execution makes it
            or compiled.update_prefetch
            or compiled.literal_execute_params
            or any(bp.type._is_tuple_type or bp.callable is not None for bp in compiled.binds.values())
            or (many and compiled.effective_returning)
        )
        plan = self._plans[key] = _Plan(compiled, params) if plain else None
        return plan

    def run(self, conn: Any, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> Any:
        # One set of parameters, or several (executemany); none is one empty set, as in SQLAlchemy.
        sets: Sequence[Mapping[str, Any]] = (
            [params or {}] if params is None or isinstance(params, Mapping) else (params or [{}])
        )
        many = len(sets) > 1
        plan = self._plan(conn.dialect, sets[0], many)
        if plan is None:
            return conn.execute(self.statement, params)
        args: Any = [plan.args(p) for p in sets] if many else plan.args(sets[0])
        sql = plan.sql
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            for fn in conn.dispatch.before_cursor_execute:
                sql, args = fn(conn, cursor, sql, args, None, many)
            if many:
                cursor.executemany(sql, args)
            else:
                cursor.execute(sql, args)
            for fn in conn.dispatch.after_cursor_execute:
                fn(conn, cursor, sql, args, None, many)
            # The compiled statement says whether rows come back: psycopg builds a Python object per
            # column on every read of cursor.description (40 for the summary's RETURNING).
            if plan.row is not None:
                rows = _read_rows(plan, conn.dialect, cursor)
            else:
                rows = cursor.fetchall() if cursor.description is not None else []
            return PlainResult(rows, cursor.rowcount)
        except Exception as exc:  # noqa: BLE001 - wrapped (and the pool invalidated) as SQLAlchemy does
            conn._handle_dbapi_exception(exc, sql, args, cursor, None)
        finally:
            cursor.close()


def _read_rows(plan: _Plan, dialect: Any, cursor: Any) -> list[Any]:
    raw = cursor.fetchall()
    readers = plan.readers
    if readers is None:
        readers = plan.readers = [
            t._cached_result_processor(dialect, d[1])
            for t, d in zip(plan.result_types, cursor.description, strict=True)
        ]
    make = plan.row._make
    if not any(readers):
        return [make(r) for r in raw]
    return [make([f(v) if f else v for f, v in zip(readers, r, strict=True)]) for r in raw]


class Columns:
    """A mapped class's columns to select, and how to build its objects from those values of a
    ``Prepared`` row, without the ORM's loading (about 100 µs a row-and-entity query less).

    The objects are not in the session: reading them is all they are for. Services write with
    statements (``_versioned_update``), so a change made to such an object is never flushed.
    """

    __slots__ = ("model", "columns", "keys")

    def __init__(self, model: type[Any]) -> None:
        configure_mappers()  # the class's attributes work once its mapper is configured
        attrs = sa_inspect(model).column_attrs
        self.model = model
        self.columns = [attr.columns[0] for attr in attrs]
        self.keys = [attr.key for attr in attrs]

    def build(self, values: Sequence[Any]) -> Any:
        obj = self.model._sa_class_manager.new_instance()  # as the ORM makes a loaded object
        obj.__dict__.update(zip(self.keys, values, strict=True))
        return obj


def session_for(engine: Engine, *, write: bool) -> Session:
    """A session for a unit of work that writes, or one that only reads.

    A reader runs without a transaction: on PostgreSQL (autocommit) under READ COMMITTED each
    statement takes its own snapshot either way, so BEGIN and COMMIT only cost two round trips
    (a page read makes three or four statements); SQLite's reader begins none either (the same
    rule on both; a cached page's BEGIN and COMMIT were a tenth of its time). A request with a
    safe method is such a reader, and may not write (``refuse_writes_in_reads``).
    """
    binds = engine.__dict__.get(_BINDS)
    if binds is None:  # made once per engine: making them cost 10–40 µs a request
        reads = (
            engine.execution_options(isolation_level="AUTOCOMMIT", **{_IN_TRANSACTION: engine})
            if engine.dialect.name == "postgresql"
            else engine.execution_options(**{_STATEMENT_READS: True})
        )
        binds = engine.__dict__[_BINDS] = (reads, engine.execution_options(**{WRITE_OPTION: True}))
    return Session(binds[write], expire_on_commit=False)


_BINDS = "_maeul_binds"
_IN_TRANSACTION = "maeul_in_transaction"  # a reader's engine: the same one with transactions
_STATEMENT_READS = "maeul_statement_reads"  # SQLite: no BEGIN, each statement its own snapshot


def stream(
    session: Session, stmt: Any, *, batch: int, params: Mapping[str, Any] | None = None
) -> Iterator[Any]:
    """``stmt``'s results as ``session.exec`` gives them, fetched ``batch`` at a time over a
    server-side cursor (an export of every row, never all in memory).

    PostgreSQL opens such a cursor only inside a transaction, which a reader's session does not
    have (session_for): the rows then come over a connection of the pool's own, in a
    transaction of their own (one statement: one snapshot, as before).
    """
    streamed = stmt.execution_options(yield_per=batch)
    transactional = session.get_bind().get_execution_options().get(_IN_TRANSACTION)
    if transactional is None:
        yield from session.exec(streamed, params=params)
        return
    with Session(transactional) as own, own.begin():
        yield from own.exec(streamed, params=params)


# Files written during a transaction (evidence uploads) are removed if it rolls back, so a
# failed request leaves neither a row nor an orphaned file behind.
WRITTEN_FILES = "maeul_written_files"


def remember_written_file(session: Session, path: Path) -> None:
    session.info.setdefault(WRITTEN_FILES, []).append(path)


@event.listens_for(Session, "after_commit")
def _keep_written_files(session: Session) -> None:
    session.info.pop(WRITTEN_FILES, None)


@event.listens_for(Session, "after_rollback")
def _remove_written_files(session: Session) -> None:
    for path in session.info.pop(WRITTEN_FILES, []):
        path.unlink(missing_ok=True)


# --- one worker-thread trip per request -----------------------------------------------------------
#
# FastAPI runs every plain ``def`` dependency in a worker thread of its own, one trip each, and a
# trip costs more than the short query it makes (about 0.2 ms here: a page with the user, the
# track and the handler took three). Dependencies that block are declared with
# ``in_request_thread`` instead: FastAPI solves them as async dependencies that only note the
# call, and the request's unit makes the noted calls, in the order FastAPI solved them, in the
# worker thread that runs the handler (a plain ``def`` handler) or in one trip before it (an
# ``async def`` one). So the user, the object and the handler cost one trip together.

_DONE = object()


class _Deferred:
    """A noted dependency call; ``value`` is its result once made."""

    __slots__ = ("call", "kwargs", "value")

    def __init__(self, call: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self.call = call
        self.kwargs = kwargs
        self.value: Any = _DONE  # the sentinel until made

    def resolve(self) -> Any:
        if self.value is _DONE:
            self.value = self.call(**_made(self.kwargs))
        return self.value


class _Unit:
    """One request's unit of work: how it commits (at most once), whether it only reads, and its
    noted calls, made at most once each, in order; after one raises, no more."""

    __slots__ = ("commit", "read_only", "noted", "made", "failed")

    def __init__(self, commit: Callable[[], None], read_only: bool = False) -> None:
        self.commit = commit
        self.read_only = read_only
        self.noted: list[_Deferred] = []
        self.made = 0
        self.failed = False

    @property
    def outstanding(self) -> bool:
        return not self.failed and self.made < len(self.noted)

    def make_all(self) -> None:
        if self.failed:
            return
        try:
            while self.made < len(self.noted):
                self.noted[self.made].resolve()
                self.made += 1
        except BaseException:
            self.failed = True
            raise


def _made(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with each noted call replaced by its result (made now if need be)."""
    return {k: v.resolve() if isinstance(v, _Deferred) else v for k, v in kwargs.items()}


# The current request's unit, for RequestUnitRoute (None outside a request).
_UNIT: ContextVar[_Unit | None] = ContextVar("maeul_unit", default=None)
IN_REQUEST_THREAD = "__maeul_in_request_thread__"


def in_request_thread(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Declare a dependency that blocks (database I/O), or that takes one that does: its call is
    made in the request's one worker-thread trip (above). Its parameters are solved by FastAPI as
    usual; outside a request unit (no session in the request) it runs in a trip of its own."""

    @functools.wraps(fn)
    async def noted(**kwargs: Any) -> Any:
        deferred = _Deferred(fn, kwargs)
        unit = _UNIT.get()
        if unit is None:
            return await run_in_threadpool(deferred.resolve)
        unit.noted.append(deferred)
        return deferred

    # FastAPI reads the parameters through __wrapped__ (and evaluates their annotations in fn's
    # module); the wrapper is what it calls, as a coroutine function.
    setattr(noted, IN_REQUEST_THREAD, True)
    return noted


class WriteInReadError(RuntimeError):
    """A request with a safe method (GET, HEAD, OPTIONS) tried to write: a bug, never an answer."""


_WRITE = re.compile(r"\s*(?:INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@event.listens_for(Engine, "before_cursor_execute")
def refuse_writes_in_reads(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    """A read-only unit (a safe method's request) writes nothing: on PostgreSQL it runs without a
    transaction (session_for), where a second write could not be rolled back with the first."""
    unit = _UNIT.get()
    if unit is not None and unit.read_only and _WRITE.match(statement):
        raise WriteInReadError(f"a read-only request tried to write: {statement[:80]!r}")


@asynccontextmanager
async def request_unit(
    *, commit: Callable[[], None], rollback: Callable[[], None], read_only: bool = False
) -> AsyncIterator[None]:
    """A request's unit of work: ``commit`` when the handler returns, ``rollback`` when it raises.
    ``read_only``: a safe method's request, which may not write (refuse_writes_in_reads).

    Both do I/O, so they run in a worker thread, each at most once. A plain ``def`` endpoint that
    returns a finished Response commits in its own worker thread instead (RequestUnitRoute): one
    thread hop fewer, and a thread hop costs more than a short query.

    When the request fails before its noted dependency calls were made (a 422 for a bad field),
    they are made first, in the rollback's trip: an error they raise (401, 로그인 필요, 404) is the
    answer, as it was when they ran before the fields were validated.
    """
    ended = False

    def end(action: Callable[[], None]) -> None:
        nonlocal ended
        if not ended:
            ended = True  # first: a commit that fails is rolled back below, never retried
            action()

    unit = _Unit(functools.partial(end, commit), read_only)

    def settle_and_roll_back(settle: bool) -> BaseException | None:
        try:
            if settle:
                unit.make_all()
        except Exception as earlier:  # noqa: BLE001 - it becomes the request's answer
            return earlier
        finally:
            rollback()  # also after a failed commit; harmless after a good one
        return None

    _UNIT.set(unit)
    try:
        yield
    except BaseException as exc:
        settle = isinstance(exc, Exception) and unit.outstanding
        with anyio.CancelScope(shield=True):  # a client gone mid-request still releases the connection
            earlier = await run_in_threadpool(settle_and_roll_back, settle)
        if earlier is not None:
            raise earlier from None
        raise
    else:
        if not ended:
            await run_in_threadpool(end, commit)
    finally:
        _UNIT.set(None)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; commit when the handler returns, roll back when it raises.

    Used with ``Depends(scope="function")`` so the commit happens before the
    response is sent: a failed commit is a 500, never a 200 for lost work. Opening the session
    does no I/O (it connects at its first statement), so it happens on the event loop.
    """
    engine: Engine = request.app.state.engine
    read_only = request.method in SAFE_METHODS
    session = session_for(engine, write=not read_only)

    def commit() -> None:
        with session:  # closes: the connection goes back to the pool
            session.commit()

    def rollback() -> None:
        with session:
            session.rollback()

    async with request_unit(commit=commit, rollback=rollback, read_only=read_only):
        yield session


def _in_one_trip(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A plain ``def`` endpoint: the noted dependency calls, the handler and (for a finished
    Response) the commit, all in the worker thread FastAPI runs it in."""

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        unit = _UNIT.get()
        if unit is not None:
            unit.make_all()
        result = endpoint(*args, **_made(kwargs))
        # A Response is final; anything else FastAPI still validates and serializes, possibly
        # reading loaded rows, so its commit stays at the unit's end.
        if unit is not None and isinstance(result, Response):
            unit.commit()
        return result

    return run


def _after_one_trip(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """An ``async def`` endpoint: the noted dependency calls in one trip before it (none if none)."""

    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        unit = _UNIT.get()
        if unit is not None and unit.outstanding:
            await run_in_threadpool(unit.make_all)
        return await endpoint(*args, **_made(kwargs))

    return run


def _check_dependencies(path: str, dependant: Dependant) -> None:
    """At start-up, what would cost a request extra worker-thread trips, or reach a handler
    as a noted call instead of its value, refuses to load."""
    for sub in dependant.dependencies:
        call = sub.call
        noted = getattr(call, IN_REQUEST_THREAD, False)
        blocking = not (
            noted
            or inspect.iscoroutinefunction(call)
            or inspect.isasyncgenfunction(call)
            or inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004 - e.g. HTTPBearer
        )
        if blocking:
            raise TypeError(
                f"{path}: dependency {call!r} is a plain def: declare it async (no I/O) or in_request_thread"
            )
        if not noted and any(getattr(s.call, IN_REQUEST_THREAD, False) for s in sub.dependencies):
            raise TypeError(
                f"{path}: {call!r} takes an in_request_thread dependency: declare it in_request_thread too"
            )
        _check_dependencies(path, sub)


class RequestUnitRoute(APIRoute):
    """The route class of every router: a request's blocking work in one worker-thread trip
    (above), and a plain ``def`` endpoint commits the unit in that trip when it returns (see
    request_unit); ``async def`` ones keep the exit."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        wrapped = (
            _after_one_trip(endpoint) if inspect.iscoroutinefunction(endpoint) else _in_one_trip(endpoint)
        )
        super().__init__(path, wrapped, **kwargs)
        _check_dependencies(path, self.dependant)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A unit of work outside a request (CLI, demo loader): commit on success, else roll back."""
    with session_for(engine, write=True) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        else:
            session.commit()
