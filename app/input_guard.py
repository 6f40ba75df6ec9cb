"""Input no database should see: refused with a 422 before any handler runs.

Found by trying what an attacker would: a NUL in any text made PostgreSQL fail (500) and was
stored raw on SQLite; JSON `NaN`, `Infinity` or `1e400` and lone surrogates (`"\\ud800"`)
reached the validators and made the 422 handler itself fail; invalid UTF-8 in a form was
stored as mojibake. Every query string, form and JSON body of the app's routers passes here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from pydantic import BeforeValidator, Strict
from starlette.datastructures import UploadFile

MESSAGE = "입력에 쓸 수 없는 문자나 값이 있습니다"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    """One written form: "2026-01-01" (not 20260101, not 0, not a datetime)."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        return value
    raise ValueError("a date is written YYYY-MM-DD")


def parse_iso_date(text: str) -> date:
    """A date as people and forms write it, YYYY-MM-DD; ValueError otherwise (Python alone also
    takes "20260101" and "2026-W01-1")."""
    if not ISO_DATE.fullmatch(text):
        raise ValueError(f"not YYYY-MM-DD: {text[:20]!r}")
    return date.fromisoformat(text)


# For the JSON API's input models: a version is an integer, never true or 1.0; a date is ISO text.
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
StrictVersion = Annotated[int, Strict()]


class HostileInput(ValueError):
    def __init__(self, where: str, what: str):
        super().__init__(f"{where}: {what}")
        self.where, self.what = where, what


def check_text(value: str, where: str) -> None:
    """No NUL, no lone surrogates (which no database or encoder can store)."""
    if "\x00" in value:
        raise HostileInput(where, "NUL 문자(\\0)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise HostileInput(where, "짝이 없는 서로게이트 문자") from exc


def check_urlencoded(raw: bytes, where: str) -> None:
    """A query string or form body: valid UTF-8 after percent-decoding, no NUL."""
    try:
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise HostileInput(where, "UTF-8이 아닌 글자") from exc
    for key, value in pairs:
        check_text(key, where)
        check_text(value, f"{where} '{key[:40]}'")


def _reject_constant(name: str) -> Any:
    raise HostileInput("JSON", f"숫자가 아닌 값 {name}")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise HostileInput("JSON", f"표현할 수 없는 숫자 {text[:20]}")
    return value


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path or "JSON", value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield path or "JSON", str(k)
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def check_json(raw: bytes) -> None:
    """Strict JSON: UTF-8, finite numbers only, strings a database can store."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HostileInput("JSON", "UTF-8이 아닌 글자") from exc
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
    except json.JSONDecodeError:
        return  # not JSON at all: FastAPI answers that with its own 422
    for where, value in _strings(data):
        check_text(value, where)


async def refuse_hostile_input(request: Request) -> None:
    """A router dependency: 422 (Korean for pages, JSON for the API) naming where the problem is."""
    try:
        check_urlencoded(request.scope.get("query_string", b""), "주소의 검색 조건")
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind == "application/json" or kind.endswith("+json"):
                check_json(await request.body())
            elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
                # The form was parsed already (and is cached): its parser turned invalid UTF-8
                # into U+FFFD, which nobody types, so that character stands for it here.
                form = await request.form()
                for key, value in form.multi_items():
                    text = (value.filename or "") if isinstance(value, UploadFile) else value
                    where = "파일 이름" if isinstance(value, UploadFile) else f"입력 양식 '{key[:40]}'"
                    check_text(key, "입력 양식")
                    check_text(text, where)
                    if "\ufffd" in text or "\ufffd" in key:
                        raise HostileInput(where, "UTF-8이 아닌 글자")
    except HostileInput as exc:
        raise HTTPException(status_code=422, detail=f"{MESSAGE}: {exc.where} — {exc.what}.") from exc
