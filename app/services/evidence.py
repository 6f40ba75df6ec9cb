"""Evidence for an item: uploaded files (checked, stored under a random name) and links."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from sqlmodel import Session, col, select, update

from app.catalog.schema import BusinessModel
from app.models import Evidence, ItemState, Track
from app.models.base import utcnow
from app.services.errors import ForbiddenError, FormError, NotFoundError
from app.services.principal import Principal
from app.services.tracking import _item_or_404, append_event, can_edit_item
from app.services.verification import current_evidence_count
from app.storage import Storage

CHUNK = 1024 * 1024
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Office and HWP 5 compound files
ZIP = b"PK\x03\x04"  # OOXML and HWPX


@dataclass(frozen=True)
class FileKind:
    content_type: str
    magic: tuple[bytes, ...]


# Extension → the content type we serve it with and the leading bytes it must have.
# Anything else (HTML, SVG, scripts, archives) is refused: evidence is never rendered inline.
ALLOWED: dict[str, FileKind] = {
    ".pdf": FileKind("application/pdf", (b"%PDF-",)),
    ".png": FileKind("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": FileKind("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": FileKind("image/jpeg", (b"\xff\xd8\xff",)),
    ".gif": FileKind("image/gif", (b"GIF87a", b"GIF89a")),
    ".webp": FileKind("image/webp", (b"RIFF",)),
    ".hwp": FileKind("application/x-hwp", (OLE,)),
    ".hwpx": FileKind("application/hwp+zip", (ZIP,)),
    ".doc": FileKind("application/msword", (OLE,)),
    ".xls": FileKind("application/vnd.ms-excel", (OLE,)),
    ".ppt": FileKind("application/vnd.ms-powerpoint", (OLE,)),
    ".docx": FileKind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (ZIP,)),
    ".xlsx": FileKind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (ZIP,)),
    ".pptx": FileKind("application/vnd.openxmlformats-officedocument.presentationml.presentation", (ZIP,)),
}
ALLOWED_LABEL = "PDF, 이미지(PNG·JPG·GIF·WEBP), 한글(HWP·HWPX), 오피스 문서(DOC·DOCX·XLS·XLSX·PPT·PPTX)"


def _guard_edit(principal: Principal, model: BusinessModel, item_key: str) -> None:
    item = _item_or_404(model, item_key)
    if not can_edit_item(principal, item):
        raise ForbiddenError("이 항목에 증빙을 올릴 권한이 없습니다.")


@dataclass(frozen=True)
class StoredFile:
    name: str  # the uploaded file's own name (for people; never used as a path)
    stored_name: str  # random; the name in the storage
    content_type: str
    size: int
    sha256: str


BIDI_CONTROLS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def strip_bidi(text: str) -> str:
    """Remove the characters that reorder how a name is displayed."""
    return text.translate(BIDI_CONTROLS)


def store_upload(
    *,
    session: Session,
    filename: str,
    stream: BinaryIO,
    max_bytes: int,
    storage: Storage,
    field: str = "file",
) -> StoredFile:
    """Check type (extension and leading bytes) and size while copying into ``storage``;
    nothing is kept on error, nor if the transaction rolls back.
    Raises StorageError when the bytes cannot be stored (disk full, no permission)."""
    # Bidirectional controls go: "invoice\u202Efdp.exe" would show as "invoiceexe.pdf".
    name = strip_bidi(Path(filename or "").name).strip()
    if not name:
        raise FormError({field: "파일을 선택하세요."})
    kind = ALLOWED.get(Path(name).suffix.lower())
    if kind is None:
        raise FormError({field: f"'{name}'은(는) 올릴 수 없는 형식입니다. 가능한 형식: {ALLOWED_LABEL}"})
    head = stream.read(16)
    if not head:  # checked before the leading bytes, which an empty file can never match
        raise FormError({field: "빈 파일은 올릴 수 없습니다."})
    if not any(head.startswith(m) for m in kind.magic) or (
        Path(name).suffix.lower() == ".webp" and head[8:12] != b"WEBP"
    ):
        raise FormError({field: f"'{name}'의 내용이 확장자({Path(name).suffix})와 맞지 않습니다."})

    stored = secrets.token_hex(16)
    written = storage.write(
        session=session, name=stored, chunks=_within_limit(head, stream, max_bytes, field)
    )
    return StoredFile(name[:200], stored, kind.content_type, written.size, written.sha256)


def _within_limit(head: bytes, stream: BinaryIO, max_bytes: int, field: str) -> Iterator[bytes]:
    """The upload, chunk by chunk, refused (FormError) as soon as it passes ``max_bytes``."""
    size = 0
    chunk = head
    while chunk:
        size += len(chunk)
        if size > max_bytes:
            raise FormError(
                {field: f"파일이 너무 큽니다. 한 파일은 {max_bytes // (1024 * 1024)}MB 이하여야 합니다."}
            )
        yield chunk
        chunk = stream.read(CHUNK)


def add_file(
    *,
    session: Session,
    principal: Principal,
    track: Track,
    model: BusinessModel,
    item_key: str,
    filename: str,
    stream: BinaryIO,
    max_bytes: int,
    storage: Storage,
    now: datetime | None = None,
) -> Evidence:
    _guard_edit(principal, model, item_key)
    f = store_upload(
        session=session,
        filename=filename,
        stream=stream,
        max_bytes=max_bytes,
        storage=storage,
    )
    return _record(
        session,
        principal=principal,
        track=track,
        model=model,
        item_key=item_key,
        now=now,
        fields={
            "kind": "file",
            "title": f.name,
            "stored_name": f.stored_name,
            "content_type": f.content_type,
            "size": f.size,
            "sha256": f.sha256,
        },
        changes={"evidence": [None, f.name], "size": f.size},
    )


def add_link(
    *,
    session: Session,
    principal: Principal,
    track: Track,
    model: BusinessModel,
    item_key: str,
    url: str,
    title: str,
    now: datetime | None = None,
) -> Evidence:
    _guard_edit(principal, model, item_key)
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise FormError({"url": "http:// 또는 https:// 로 시작하는 주소를 입력하세요."})
    title = (strip_bidi(title).strip() or parts.netloc)[:200]
    return _record(
        session,
        principal=principal,
        track=track,
        model=model,
        item_key=item_key,
        now=now,
        fields={"kind": "link", "title": title, "url": url},
        changes={"evidence": [None, title], "url": url},
    )


def _record(
    session: Session,
    *,
    principal: Principal,
    track: Track,
    model: BusinessModel,
    item_key: str,
    now: datetime | None,
    fields: dict[str, Any],
    changes: dict[str, Any],
) -> Evidence:
    """Store one piece of evidence and its one "evidence_added" event."""
    assert track.id is not None  # noqa: S101
    evidence = Evidence(
        track_id=track.id, item_key=item_key, created_by_id=principal.id, created_at=now or utcnow(), **fields
    )
    session.add(evidence)
    session.flush()
    append_event(
        session,
        principal=principal,
        track=track,
        model=model,
        item_key=item_key,
        action="evidence_added",
        changes=changes,
        now=now,
    )
    return evidence


def get_evidence(*, session: Session, track: Track, evidence_id: int) -> Evidence:
    evidence = session.exec(
        select(Evidence).where(Evidence.id == evidence_id, Evidence.track_id == track.id)
    ).first()
    if evidence is None or evidence.removed_at is not None:
        raise NotFoundError("증빙을 찾을 수 없습니다.")
    return evidence


def _is_verified(session: Session, track_id: int, item_key: str) -> bool:
    return (
        session.exec(
            select(ItemState.id).where(
                ItemState.track_id == track_id,
                ItemState.item_key == item_key,
                col(ItemState.verified_at).is_not(None),
            )
        ).first()
        is not None
    )


def remove_evidence(
    *,
    session: Session,
    principal: Principal,
    track: Track,
    model: BusinessModel,
    evidence: Evidence,
    now: datetime | None = None,
) -> None:
    """Soft removal: no longer listed or served, but the file and the row stay, so a rolled-back
    request loses nothing and the history can still say what was removed."""
    _guard_edit(principal, model, evidence.item_key)
    item_key, title = evidence.item_key, evidence.title
    item = model.item(item_key)
    # A 확인 of a 위탁 전 확인 item rests on its evidence: the last piece stays until it is withdrawn.
    if (
        item is not None
        and item.consignment
        and _is_verified(session, evidence.track_id, item_key)
        and current_evidence_count(session, evidence.track_id, item_key) <= 1
    ):
        raise FormError(
            {
                "evidence": "확인된 위탁 전 확인 항목의 마지막 증빙은 지울 수 없습니다. 지자체에 확인 취소를 먼저 요청하세요."
            }
        )
    # Conditional, so that of two simultaneous removals only one succeeds and logs an event.
    result = session.exec(
        update(Evidence)
        .where(col(Evidence.id) == evidence.id, col(Evidence.removed_at).is_(None))
        .values(removed_at=now or utcnow())
    )
    session.expire(evidence)
    if result.rowcount != 1:
        raise NotFoundError("증빙을 찾을 수 없습니다. 이미 삭제되었습니다.")
    append_event(
        session,
        principal=principal,
        track=track,
        model=model,
        item_key=item_key,
        action="evidence_removed",
        changes={"evidence": [title, None]},
        now=now,
    )
