"""`maeul backup FILE` / `maeul restore FILE`: one archive with every table's rows, the evidence
files, the content fingerprint and the schema revision — portable between SQLite and PostgreSQL.

The archive is a zip: `manifest.json`, `tables/<table>.jsonl` (one JSON object per row, values
written by column type: times as ISO 8601 UTC, dates as ISO, bytes as base64) and
`files/<stored name>` for each stored upload, read from whichever storage holds it (the
database's own file tables are never dumped as rows, so an archive restores into either). It is
read in one transaction, so it is one consistent moment. Restore loads it into an empty database migrated to the same revision, with
the same ids (PostgreSQL's sequences are moved past them), and refuses anything else.
On PostgreSQL, `pg_dump` is the native alternative (see the README).
"""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Date, DateTime, Engine, LargeBinary, Table, func, select, text
from sqlmodel import SQLModel

import app.models  # noqa: F401 - registers every table on the metadata
from app.db import transaction
from app.migrate import alembic_config
from app.services.synthetic import bulk_insert, move_sequences
from app.storage import Storage, StorageError

FORMAT = 1
# Files stored in the database (MAEUL_STORAGE=database) travel as files/, not as rows.
STORAGE_TABLES = frozenset({"stored_file", "stored_file_chunk"})
# Tables a restore fills; Alembic's own bookkeeping is the target's.
TABLES: list[Table] = [t for t in SQLModel.metadata.sorted_tables if t.name not in STORAGE_TABLES]
FILE_CHUNK = 1 << 20
FILE_COLUMNS = {"evidence": "stored_name", "decision": "document_stored_name"}


class BackupError(Exception):
    """A backup or restore refused, with a message for the person running it."""


@dataclass(frozen=True)
class Manifest:
    format: int
    revision: str
    content_version: str | None
    created_at: str
    rows: dict[str, int]
    files: int


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _encode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        if value is None:
            out[name] = None
        elif isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            out[name] = aware.astimezone(UTC).isoformat()
        elif isinstance(value, date):
            out[name] = value.isoformat()
        elif isinstance(value, bytes | memoryview):
            out[name] = base64.b64encode(bytes(value)).decode("ascii")
        else:  # numbers, text, booleans, and JSON columns' own values
            out[name] = value
    return out


def _decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name not in table.c:
            raise BackupError(f"column {table.name}.{name} is not in this version's schema")
        kind = table.c[name].type
        impl = getattr(kind, "impl", kind)
        if value is None:
            out[name] = None
        elif isinstance(impl, DateTime):
            out[name] = datetime.fromisoformat(value)
        elif isinstance(impl, Date):
            out[name] = date.fromisoformat(value)
        elif isinstance(impl, LargeBinary):
            out[name] = base64.b64decode(value)
        else:
            out[name] = value
    return out


def backup(*, engine: Engine, target: Path, storage: Storage) -> Manifest:
    """Write the archive to ``target`` (a new file; an existing one is refused). The files come
    from ``storage``."""
    if target.exists():
        raise BackupError(f"{target} already exists: choose a new file name")
    tmp = target.with_name(target.name + ".partial")
    try:
        manifest = _write(engine, storage, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave half an archive behind
        raise
    tmp.rename(target)
    return manifest


def _write(engine: Engine, storage: Storage, tmp: Path) -> Manifest:
    rows: dict[str, int] = {}
    files = 0
    with engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":  # one snapshot for every table
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        revision = _revision(conn)
        if revision is None:
            raise BackupError("the database has no schema yet: run `maeul db upgrade` first")
        meta = conn.execute(text("SELECT value FROM app_meta WHERE key = 'summary_content_version'")).first()
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as z:
            stored: list[str] = []
            for table in TABLES:
                count = 0
                with z.open(f"tables/{table.name}.jsonl", "w", force_zip64=True) as part:
                    result = conn.execute(select(table).order_by(*table.primary_key.columns))
                    for row in result.mappings():
                        part.write(json.dumps(_encode(table, dict(row)), ensure_ascii=False).encode() + b"\n")
                        count += 1
                        column = FILE_COLUMNS.get(table.name)
                        if column and row[column]:
                            stored.append(row[column])
                rows[table.name] = count
            names = sorted(set(stored))
            present = storage.sizes(names)
            for name in names:
                if name not in present:
                    raise BackupError(f"evidence file {name} is missing from {storage.label}")
                # Files are immutable and never deleted, so reading them outside this
                # transaction's snapshot still gives what the rows refer to.
                with z.open(f"files/{name}", "w", force_zip64=True) as out:
                    for chunk in storage.read(name):
                        out.write(chunk)
                files += 1
            manifest = Manifest(
                FORMAT, revision, meta[0] if meta else None, datetime.now(UTC).isoformat(), rows, files
            )
            z.writestr("manifest.json", json.dumps(manifest.__dict__, ensure_ascii=False, indent=2))
    return manifest


def _lines(z: zipfile.ZipFile, name: str) -> Iterator[dict[str, Any]]:
    with z.open(name) as part:
        for line in part:
            if line.strip():
                yield json.loads(line)


def restore(*, engine: Engine, source: Path, storage: Storage) -> Manifest:
    """Load the archive into an empty database at the same schema revision, in one transaction,
    and its files into ``storage``; a failure leaves neither."""
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    try:
        z = zipfile.ZipFile(source)
    except zipfile.BadZipFile as exc:
        raise BackupError(f"{source} is not a maeul backup (not a zip archive)") from exc
    with z:
        try:
            manifest = Manifest(**json.loads(z.read("manifest.json")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupError(f"{source} has no readable manifest.json") from exc
        if manifest.format != FORMAT:
            raise BackupError(f"backup format {manifest.format} is not {FORMAT}, which this version reads")
        head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
        known = {
            s.revision for s in ScriptDirectory.from_config(alembic_config(str(engine.url))).walk_revisions()
        }
        if manifest.revision not in known:
            raise BackupError(
                f"the backup's schema revision {manifest.revision} is newer than this version knows "
                f"(newest {head}): restore it with the version that made it"
            )
        with transaction(engine) as session:
            conn = session.connection()
            current = _revision(conn)
            if current != manifest.revision:
                raise BackupError(
                    f"the target database is at schema revision {current}, the backup at "
                    f"{manifest.revision}: run `maeul db upgrade {manifest.revision}` on an empty database first"
                )
            busy = [
                t.name
                for t in SQLModel.metadata.sorted_tables
                if conn.execute(select(func.count()).select_from(t)).scalar_one()
            ]
            if busy:
                raise BackupError(
                    f"the target database is not empty ({', '.join(busy[:5])}): restore into an empty one"
                )
            for table in TABLES:
                batch: list[dict[str, Any]] = []
                for row in _lines(z, f"tables/{table.name}.jsonl"):
                    batch.append(_decode(table, row))
                    if len(batch) >= 5000:
                        bulk_insert(conn, table, batch)
                        batch = []
                bulk_insert(conn, table, batch)
            move_sequences(conn)
            for name in z.namelist():
                if name.startswith("files/") and not name.endswith("/"):
                    with z.open(name) as src:
                        try:
                            storage.write(
                                session=session,
                                name=Path(name).name,
                                chunks=_chunks(src),
                            )
                        except (StorageError, ValueError) as exc:
                            cause = exc.__cause__ or exc
                            raise BackupError(f"could not store {name} in {storage.label}: {cause}") from exc
    return manifest


def _chunks(src: IO[bytes]) -> Iterator[bytes]:
    while chunk := src.read(FILE_CHUNK):
        yield chunk
