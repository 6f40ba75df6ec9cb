"""The mixed load's HTTP client: one keep-alive HTTP/1.1 connection and its cookies, nothing else.

The load generator shares the machine's two CPUs with the server it measures, so what it spends
on each request is taken from the server and added to every latency it reports. A general
client (httpx2, with its URL models, cookie jar, transports and pools) spent about 0.8 ms of CPU
a request; this one parses only what the mix's answers hold (a status line, headers, a
Content-Length or chunked body) and keeps the session cookie up to date.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

# Reconnect before the server's own idle timeout (uvicorn's keep-alive: 5 s), so a request is
# never written to a connection the server is closing at that moment.
IDLE_RECONNECT = 3.0


class LoadClientError(Exception):
    """The connection failed, or the answer could not be read: an error of the mix."""


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: dict[str, str]  # last value of each header, names in lower case
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Connection:
    """Requests one after another over one connection to ``base`` (http://host:port)."""

    def __init__(self, base: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(base)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"an http://host:port base, not {base!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_use = 0.0

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return await self.request("GET", path, headers=headers)

    async def post(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> Answer:
        body = urlencode(data).encode()
        sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return await self.request("POST", path, body=body, headers=sent)

    async def request(
        self, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        try:
            return await asyncio.wait_for(self._exchange(method, path, body, headers or {}), self.timeout)
        except (TimeoutError, OSError, EOFError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.aclose()
            raise LoadClientError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        if self._writer is None or time.monotonic() - self._last_use > IDLE_RECONNECT:
            await self.aclose()
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None and self._writer is not None  # noqa: S101
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        answer = await self._read_answer(method)
        self._last_use = time.monotonic()
        if answer.headers.get("connection", "").lower() == "close":
            await self.aclose()
        return answer

    async def _read_answer(self, method: str) -> Answer:
        assert self._reader is not None  # noqa: S101
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        version, code, *_ = status_line.split(" ", 2)
        if not version.startswith("HTTP/1."):
            raise ValueError(f"not an HTTP/1.x answer: {status_line!r}")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = value
            if name == "set-cookie":
                self._keep_cookie(value)
        status = int(code)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return Answer(status, headers, b"")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return Answer(status, headers, await self._read_chunked())
        if "content-length" in headers:
            return Answer(status, headers, await self._reader.readexactly(int(headers["content-length"])))
        # Neither: the body runs to the end of the connection.
        data = await self._reader.read()
        await self.aclose()
        return Answer(status, headers, data)

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None  # noqa: S101
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")  # no trailers in these answers
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    def _keep_cookie(self, value: str) -> None:
        pair, *attributes = value.split(";")
        name, _, cookie = pair.strip().partition("=")
        expired = any(
            a.strip().lower() in ("max-age=0", "expires=thu, 01 jan 1970 00:00:00 gmt") for a in attributes
        )
        if expired or cookie in ("", '""', "null"):
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = cookie

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
