"""증빙 묶음: the readiness report, every current evidence file and a manifest, as one ZIP.

Streamed: the archive is written to a sink that hands its bytes on chunk by chunk (ZIP data
descriptors make a seekable file unnecessary), and files are read from the storage chunk by
chunk, so a bundle of any size never sits in memory.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app.models import User
from app.services.exports import BOM, KST, safe_cell
from app.services.readiness import Report
from app.services.tracking import ItemRow
from app.storage import Storage

STAGE_FOLDERS = {"prepare": "1_준비", "plan": "2_계획", "execute": "3_실행"}
# Path separators, control characters and bidirectional overrides (which can disguise an
# extension) never reach a name in the archive.
UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe_name(value: str, limit: int = 60) -> str:
    cleaned = UNSAFE.sub("_", value).strip(" .") or "_"
    return cleaned[:limit]


@dataclass(frozen=True)
class Entry:
    """One file of the bundle: its place in the archive and where its bytes come from
    (``data``, or a stored file read from ``storage`` as the archive is written)."""

    arcname: str
    data: bytes | None = None
    stored_name: str = ""
    storage: Storage | None = None


def evidence_entries(report: Report, *, storage: Storage) -> tuple[list[Entry], list[list[Any]]]:
    """The evidence files in a folder per stage and item, and the manifest rows describing them."""
    entries: list[Entry] = []
    manifest: list[list[Any]] = []
    present = storage.sizes(
        [e.stored_name for row in report.view.rows for e in row.evidence if e.kind == "file"]
    )
    for number, row in enumerate(report.view.rows, start=1):
        files = [e for e in row.evidence if e.kind == "file"]
        if not files or row.item is None:
            continue
        folder = f"증빙/{STAGE_FOLDERS[row.stage]}/{number:02d}_{safe_name(row.item.text, 40)}"
        for ev in files:
            if ev.stored_name not in present:
                continue  # listed as missing in the manifest rather than failing the bundle
            arcname = f"{folder}/{ev.id}_{safe_name(ev.title, 80)}"
            entries.append(Entry(arcname, stored_name=ev.stored_name, storage=storage))
            manifest.append(_manifest_row(row, ev, arcname, storage))
    return entries, manifest


def _manifest_row(row: ItemRow, ev: Any, arcname: str, storage: Storage) -> list[Any]:
    digest = ev.sha256 or _sha256(storage, ev.stored_name)  # files stored before hashes were recorded
    return [
        row.item.text if row.item else row.key,
        arcname,
        ev.size,
        digest,
        ev.created_by_id or "",
        ev.created_at.astimezone(KST).strftime("%Y-%m-%d %H:%M"),
    ]


def _sha256(storage: Storage, name: str) -> str:
    h = hashlib.sha256()
    for chunk in storage.read(name):
        h.update(chunk)
    return h.hexdigest()


MANIFEST_HEADER = ("항목", "파일", "크기(바이트)", "SHA-256", "올린 사람", "올린 시각(KST)")


def manifest_csv(rows: Iterable[list[Any]], names: dict[Any, str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(MANIFEST_HEADER)
    for r in rows:
        writer.writerow([safe_cell(v) for v in [*r[:4], names.get(r[4], ""), r[5]]])
    return (BOM + out.getvalue()).encode("utf-8")


class _Sink(io.RawIOBase):
    """An unseekable file for ZipFile that keeps what was written until it is taken."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self._chunks.append(bytes(b))
        return len(b)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def stream_zip(entries: Iterable[Entry], *, at: datetime) -> Iterator[bytes]:
    """The archive, chunk by chunk. Names are UTF-8 (flagged as such in the archive)."""
    stamp = at.astimezone(KST).timetuple()[:6]
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry.arcname, date_time=stamp)
            # PDFs, images and office files are compressed already: store them as they are.
            info.compress_type = zipfile.ZIP_STORED if entry.storage is not None else zipfile.ZIP_DEFLATED
            with archive.open(info, mode="w", force_zip64=True) as dest:
                if entry.data is not None:
                    dest.write(entry.data)
                elif entry.storage is not None:
                    for chunk in entry.storage.read(entry.stored_name):
                        dest.write(chunk)
                        yield sink.take()
            yield sink.take()
    yield sink.take()


def uploader_names(session: Session, report: Report) -> dict[Any, str]:
    """Who uploaded each evidence file, in one query."""
    ids = {ev.created_by_id for row in report.view.rows for ev in row.evidence if ev.created_by_id}
    if not ids:
        return {}
    return dict(session.exec(select(User.id, User.display_name).where(col(User.id).in_(ids))).all())
