"""Where uploaded files' bytes live (MAEUL_STORAGE): files in the upload folder (``local``) or
rows in the database (``database``, for app hosts that keep no state; meant for PostgreSQL).

Both write a stream chunk by chunk inside the request's transaction and are undone with it,
and read back as an iterator of chunks, so a file is never held whole in memory. A failure to
store (disk full, no permission, the database refusing) is a ``StorageError``: the server's
fault, shown to people as a 503 with a Korean message, leaving nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col

from app.config import Settings
from app.db import remember_written_file, session_for, transaction
from app.models import Decision, Evidence, FileBlob, FileChunk
from app.models.base import utcnow

CHUNK = 256 * 1024  # one database row; also the read size for local files
# Stored names are ours (random hex), but a name from a backup archive is checked all the same:
# it becomes a path, and a database key of at most 64 characters.
NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
BATCH = 500  # names per IN (...) query


class StorageError(Exception):
    """The bytes could not be stored. Nothing of them is left behind."""

    MESSAGE = "증빙 파일을 저장하지 못했습니다(저장 공간 부족/쓰기 권한 없음). 관리자에게 알려 주세요."

    def __init__(self, message: str = MESSAGE):
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Written:
    size: int
    sha256: str


class Storage(Protocol):
    @property
    def label(self) -> str:
        """Where the files are, for messages to the person running a command."""
        ...

    def write(self, *, session: Session, name: str, chunks: Iterable[bytes]) -> Written:
        """Store ``chunks`` as ``name`` within ``session``'s transaction (gone if it rolls back).
        An exception from ``chunks`` (a refused upload) leaves nothing and is raised as is."""
        ...

    def sizes(self, names: Collection[str]) -> dict[str, int]:
        """The size of each of ``names`` that is stored (missing ones are absent)."""
        ...

    def read(self, name: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """The stored bytes from ``start`` up to ``stop`` (the end when None), chunk by chunk."""
        ...


def _checked(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ValueError(f"not a stored file name: {name!r}")
    return name


@dataclass(frozen=True)
class LocalStorage:
    upload_dir: Path

    @property
    def label(self) -> str:
        return f"upload folder {self.upload_dir}"

    def _path(self, name: str) -> Path:
        return self.upload_dir / _checked(name)

    def _open(self, path: Path) -> BinaryIO:  # the one place a file is opened for writing
        return path.open("wb")

    def write(self, *, session: Session, name: str, chunks: Iterable[bytes]) -> Written:
        target = self._path(name)
        # Written under a temporary name and renamed when complete, so a stored name never
        # points at half a file, even after a crash.
        part = target.with_name(f".{name}.part")
        size, digest = 0, hashlib.sha256()
        try:
            self.upload_dir.mkdir(parents=True, exist_ok=True)
            with self._open(part) as out:
                for chunk in chunks:
                    out.write(chunk)
                    size += len(chunk)
                    digest.update(chunk)
                out.flush()
                os.fsync(out.fileno())  # a full disk can surface only here (delayed allocation)
            os.replace(part, target)
        except BaseException as exc:
            with contextlib.suppress(OSError):  # the folder may be a file, or gone
                part.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StorageError() from exc
            raise
        remember_written_file(session, target)  # removed again if the transaction rolls back
        return Written(size, digest.hexdigest())

    def sizes(self, names: Collection[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for name in names:
            try:
                st = self._path(name).stat()
            except (OSError, ValueError):
                continue
            if stat.S_ISREG(st.st_mode):
                found[name] = st.st_size
        return found

    def read(self, name: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        with self._path(name).open("rb") as f:
            f.seek(start)
            left = None if stop is None else stop - start
            while left is None or left > 0:
                chunk = f.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk


FILES = FileBlob.__table__  # type: ignore[attr-defined]
CHUNKS = FileChunk.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DatabaseStorage:
    """Writes go through the request's session; reads take their own short connections from
    ``engine``, one query per chunk, so a download streams after the request's session closed."""

    engine: Engine

    @property
    def label(self) -> str:
        return "the database"

    def write(self, *, session: Session, name: str, chunks: Iterable[bytes]) -> Written:
        _checked(name)
        size, digest, seq, pending = 0, hashlib.sha256(), 0, bytearray()
        try:
            # A savepoint: a failure part way leaves no rows, and the request can still answer.
            with session.begin_nested():
                session.execute(insert(FILES).values(name=name, size=0, sha256="", created_at=utcnow()))
                for chunk in chunks:
                    size += len(chunk)
                    digest.update(chunk)
                    pending += chunk
                    while len(pending) >= CHUNK:
                        self._insert_chunk(session, name, seq, bytes(pending[:CHUNK]))
                        del pending[:CHUNK]
                        seq += 1
                if pending:
                    self._insert_chunk(session, name, seq, bytes(pending))
                session.execute(
                    update(FILES).where(FILES.c.name == name).values(size=size, sha256=digest.hexdigest())
                )
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise  # the database is gone: an outage, not a storage problem
            raise StorageError() from exc
        return Written(size, digest.hexdigest())

    def _insert_chunk(self, session: Session, name: str, seq: int, data: bytes) -> None:
        session.execute(insert(CHUNKS).values(name=name, seq=seq, data=data))

    def sizes(self, names: Collection[str]) -> dict[str, int]:
        wanted = sorted({n for n in names if NAME.fullmatch(n)})
        found: dict[str, int] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), BATCH):
                rows = conn.execute(
                    select(FILES.c.name, FILES.c.size).where(FILES.c.name.in_(wanted[i : i + BATCH]))
                )
                found.update({name: int(size) for name, size in rows})
        return found

    def read(self, name: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        # Every chunk but the last is CHUNK long: a range starts at its chunk, not at the first.
        seq, skip = divmod(start, CHUNK)
        left = None if stop is None else stop - start
        while left is None or left > 0:
            with self.engine.connect() as conn:
                data = conn.execute(
                    select(CHUNKS.c.data).where(CHUNKS.c.name == name, CHUNKS.c.seq == seq)
                ).scalar_one_or_none()
            if data is None:
                return
            piece = bytes(data)[skip:] if left is None else bytes(data)[skip : skip + left]
            skip = 0
            if left is not None:
                left -= len(piece)
            if piece:
                yield piece
            seq += 1


def open_storage(kind: str, *, upload_dir: Path, engine: Engine) -> Storage:
    if kind == "database":
        return DatabaseStorage(engine)
    return LocalStorage(upload_dir)


def storage_for(settings: Settings, engine: Engine) -> Storage:
    """The storage MAEUL_STORAGE chose."""
    return open_storage(settings.storage, upload_dir=settings.upload_dir, engine=engine)


def request_storage(request: Request) -> Storage:
    return storage_for(request.app.state.settings, request.app.state.engine)


def download(
    storage: Storage,
    name: str,
    *,
    filename: str,
    content_type: str,
    missing: str,
    request: Request,
    modified: datetime | None = None,
) -> StreamingResponse:
    """A stored file as a download: always an attachment with our own content type, never
    rendered inline by the browser; 404 with ``missing`` when the bytes are not there.

    One byte range is served (206) so that an interrupted download of a large file resumes
    where it stopped; stored files never change, so their name is a strong ETag and If-Range
    can trust it. Several ranges in one request get the whole file (RFC 9110 allows that).
    """
    size = storage.sizes([name]).get(name) if name else None
    if size is None:
        raise HTTPException(status_code=404, detail=missing)
    quoted = quote(filename)
    disposition = (
        f'attachment; filename="{filename}"'
        if quoted == filename
        else f"attachment; filename*=utf-8''{quoted}"
    )
    etag = f'"{name}"'
    headers = {
        "Content-Disposition": disposition,
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, no-store",
        "Accept-Ranges": "bytes",
        "ETag": etag,
    }
    if modified is not None:
        headers["Last-Modified"] = format_datetime(modified.astimezone(UTC), usegmt=True)
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if wanted is not None and (if_range is None or if_range in (etag, headers.get("Last-Modified"))):
        span = byte_range(wanted, size)
        if span == UNSATISFIABLE:
            raise HTTPException(
                status_code=416,
                detail=f"요청한 범위가 파일 크기({size}바이트)를 벗어났습니다.",
                headers={"Content-Range": f"bytes */{size}"},
            )
        if span is not None:
            first, last = span
            headers |= {
                "Content-Range": f"bytes {first}-{last}/{size}",
                "Content-Length": str(last - first + 1),
            }
            return StreamingResponse(
                storage.read(name, first, last + 1), status_code=206, media_type=content_type, headers=headers
            )
    headers["Content-Length"] = str(size)
    return StreamingResponse(storage.read(name), media_type=content_type, headers=headers)


UNSATISFIABLE = (-1, -1)
_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The one range a Range header asks for, as (first, last) byte within ``size``;
    UNSATISFIABLE when it lies past the end; None when it is not one well-formed byte range
    (then the whole file is sent, as for no header at all)."""
    match = _RANGE.fullmatch(header.strip())
    if match is None or not (match[1] or match[2]):
        return None
    if not match[1]:  # "-N": the last N bytes
        n = int(match[2])
        return UNSATISFIABLE if n == 0 or size == 0 else (max(0, size - n), size - 1)
    first = int(match[1])
    if match[2] and int(match[2]) < first:
        return None
    if first >= size:
        return UNSATISFIABLE
    return first, min(int(match[2]), size - 1) if match[2] else size - 1


# --- `maeul storage copy` -----------------------------------------------------------------


def referenced_files(session: Session) -> dict[str, tuple[int, str]]:
    """Every stored name the database refers to (removed evidence too: it is kept), with the
    size and SHA-256 recorded at upload ("" for files from before hashes were recorded)."""
    files: dict[str, tuple[int, str]] = {}
    evidence = select(col(Evidence.stored_name), col(Evidence.size), col(Evidence.sha256)).where(
        col(Evidence.stored_name) != ""
    )
    documents = select(
        col(Decision.document_stored_name), col(Decision.document_size), col(Decision.document_sha256)
    ).where(col(Decision.document_stored_name) != "")
    for statement in (evidence, documents):
        for name, size, sha in session.execute(statement):
            files[name] = (size, sha)
    return files


@dataclass
class CopyReport:
    copied: int = 0
    present: int = 0
    missing: list[str] = field(default_factory=list)  # not in the source
    damaged: list[str] = field(default_factory=list)  # size or SHA-256 not what was recorded


class _Mismatch(Exception):
    pass


def copy_files(*, engine: Engine, source: Storage, target: Storage) -> CopyReport:
    """Copy every referenced file that ``target`` lacks from ``source``, each in its own
    transaction and checked against its recorded size and SHA-256. Safe to run again: files
    already in ``target`` are skipped; nothing is deleted from ``source``."""
    with session_for(engine, write=False) as session:
        expected = referenced_files(session)
    report = CopyReport()
    in_target = target.sizes(expected)
    in_source = source.sizes(expected)
    for name in sorted(expected):
        size, sha = expected[name]
        if name in in_target:
            if in_target[name] == size:
                report.present += 1
            else:
                report.damaged.append(name)
            continue
        if name not in in_source:
            report.missing.append(name)
            continue
        try:
            with transaction(engine) as session:
                written = target.write(session=session, name=name, chunks=source.read(name))
                if written.size != size or (sha and written.sha256 != sha):
                    raise _Mismatch  # rolls the copy back
        except _Mismatch:
            report.damaged.append(name)
            continue
        report.copied += 1
    return report
