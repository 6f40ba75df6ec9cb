"""Measuring tools: server time of one in-process request, SQL statements per request, statistics."""

from __future__ import annotations

import gc
import math
import re
import statistics
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from sqlalchemy import Engine, event
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Transaction control is not a query: SQLite's explicit BEGIN (app.db's "begin" listener)
# goes through the cursor, PostgreSQL's implicit one does not. Leaving these out keeps the
# counts comparable across backends.
TX_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of a page of the app (its meta tag)."""
    match = CSRF_RE.search(html)
    assert match, "no csrf meta tag"  # noqa: S101
    return match.group(1)


class ServerTimer:
    """ASGI wrapper around the whole app: time from the request entering the app (before every
    middleware) to the last body chunk leaving it. This is the server's time, without the
    TestClient's own request building and thread hand-over."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.last: float = math.nan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.last = perf_counter() - start
            await send(message)

        await self.app(scope, receive, timed_send)


class StatementCounter:
    """Counts SQL statements sent through an engine (sqlalchemy `before_cursor_execute`)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.count = 0
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        if statement.lstrip().upper().startswith(TX_CONTROL):
            return
        self.count += 1
        self.statements.append(statement)

    def reset(self) -> None:
        self.count = 0
        self.statements = []

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)


@dataclass(frozen=True)
class Stats:
    n: int
    median_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Stats:
        if not seconds:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        ms = sorted(s * 1000 for s in seconds)
        # p95 by nearest rank: the smallest sample at or above 95 % of all samples.
        rank = max(1, math.ceil(0.95 * len(ms)))
        return cls(len(ms), statistics.median(ms), ms[rank - 1], statistics.fmean(ms), ms[-1])


class GcClock:
    """Time spent in Python's cyclic garbage collector (gc.callbacks), and full collections."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._start: float | None = None
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = perf_counter()
        elif self._start is not None:
            self.seconds += perf_counter() - self._start
            self.full += info.get("generation") == 2
            self._start = None

    def close(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)


GC = GcClock()


class Sampler:
    """Collects server and client (round-trip through TestClient) times of the timed requests,
    and the garbage collector's share of each."""

    def __init__(self, timer: ServerTimer):
        self.timer = timer
        self.server: list[float] = []
        self.client: list[float] = []
        self.gc: list[float] = []
        self.full_gc: list[int] = []

    def timed(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        self.timer.last = math.nan
        gc_before, full_before = GC.seconds, GC.full
        start = perf_counter()
        response = call(*args, **kwargs)
        self.client.append(perf_counter() - start)
        self.server.append(self.timer.last)
        self.gc.append(GC.seconds - gc_before)
        self.full_gc.append(GC.full - full_before)
        return response

    def drop(self, n: int) -> None:
        """Forget the first ``n`` samples (warm-up)."""
        for samples in (self.server, self.client, self.gc, self.full_gc):
            del samples[:n]

    def stats(self) -> Stats:
        return Stats.of(self.server)

    def client_stats(self) -> Stats:
        return Stats.of(self.client)
