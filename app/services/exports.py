"""Exports for spreadsheets. Later CSV/xlsx exports belong here too, sharing the cell guard."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from app.services.tracking import EventRow

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
KST = ZoneInfo("Asia/Seoul")
BOM = "\ufeff"  # Excel reads UTF-8 Korean correctly only with it


def safe_cell(value: object) -> str:
    """Text that a spreadsheet shows as text: user input starting like a formula
    (=, +, -, @) would otherwise run as one when the file is opened (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return BOM + out.getvalue()


def _describe_changes(changes: dict[str, Any]) -> str:
    parts = []
    for field, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            before, after = ("" if v is None else v for v in value)
            parts.append(f"{field}: {before} → {after}")
        else:
            parts.append(f"{field}: {value}")
    return "; ".join(parts)


EVENT_HEADER = ("id", "at", "actor", "action", "item_key", "item", "retired", "changes")


def events_csv(events: Iterable[EventRow]) -> str:
    """A track's activity log, one row per event, newest first."""
    return to_csv(
        EVENT_HEADER,
        (
            (
                r.event.id,
                r.event.at.astimezone(KST).isoformat(timespec="seconds"),  # the time people see on the pages
                r.actor or "",
                r.event.action,
                r.event.item_key or "",
                r.item_text or "",
                "yes" if r.retired else "",
                _describe_changes(r.event.changes),
            )
            for r in events
        ),
    )
