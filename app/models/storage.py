"""Uploaded files' bytes in the database (MAEUL_STORAGE=database): one row per file and its
chunks, so an app host keeps no state and a file is never held whole in memory."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, LargeBinary, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow


class FileBlob(SQLModel, table=True):
    """One stored file, by the random name evidence and decisions refer to (table)."""

    __tablename__ = "stored_file"

    name: str = Field(primary_key=True, max_length=64)
    size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class FileChunk(SQLModel, table=True):
    """One piece of a stored file, in order (table); read one per query when served."""

    __tablename__ = "stored_file_chunk"

    name: str = Field(
        sa_column=Column(
            String(64), ForeignKey("stored_file.name", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    seq: int = Field(primary_key=True)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
