"""Exports for spreadsheets. Later CSV/xlsx exports belong here too, sharing the cell guard."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.services.dashboard import STAGE_LABELS, Filters, Row
from app.services.progress import Ratio
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


# --- 현황판 ------------------------------------------------------------------------------------


def dashboard_header(role: str) -> tuple[str, ...]:
    mine = {"center": "지원센터 주관 미완료", "municipality": "지자체 주관 미완료"}.get(role, "미완료 항목")
    return (
        "조합",
        "시·도",
        "시·군·구",
        "사업모델",
        "현재 단계",
        "진행률",
        "준비 단계",
        "계획 단계",
        "실행 단계",
        mine,
        "기한 지남",
        "14일 내 기한",
        "확인 대기(지원센터)",
        "확인 대기(지자체)",
        "마지막 활동(KST)",
        "정체",
    )


def dashboard_values(row: Row, *, percent: Callable[[Ratio], object]) -> list[object]:
    """One row as cells; ``percent`` writes a ratio (None where nothing is applicable)."""
    p = row.progress
    return [
        row.cooperative,
        row.sido,
        row.sigungu,
        f"{row.model.number}. {row.model.title}",
        STAGE_LABELS[p.current_stage or "complete"],
        *(
            percent(r) if r.applicable else None
            for r in (p.overall, p.by_stage["prepare"], p.by_stage["plan"], p.by_stage["execute"])
        ),
        row.lead_open,
        row.overdue,
        row.due_soon,
        row.awaiting_by_role["center"],
        row.awaiting_by_role["municipality"],
        row.last_activity_at.astimezone(KST).replace(tzinfo=None) if row.last_activity_at else None,
        "정체" if row.stalled else "",
    ]


PERCENT_COLUMNS = range(5, 9)


def dashboard_csv(rows: Iterable[Row], *, role: str) -> Iterator[str]:
    """The export as CSV text chunks (BOM first), streamed a row at a time; percentages as 0–100."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(dashboard_header(role))
    yield BOM + out.getvalue()
    for row in rows:
        out.seek(0)
        out.truncate()
        cells = dashboard_values(row, percent=lambda r: r.percent)
        cells = [v.strftime("%Y-%m-%d %H:%M") if isinstance(v, datetime) else v for v in cells]
        writer.writerow([safe_cell(v) for v in cells])
        yield out.getvalue()


XLSX_WIDTHS = (34, 14, 14, 26, 10, 9, 9, 9, 9, 14, 10, 12, 14, 14, 18, 7)


def dashboard_xlsx(rows: Iterable[Row], *, role: str, filters: Filters, generated_at: datetime) -> bytes:
    """The export as an Excel workbook, written in openpyxl's streaming mode (memory stays flat)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("현황판")
    ws.freeze_panes = "B2"
    for i, width in enumerate(XLSX_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    bold = Font(bold=True)
    header = []
    for title in dashboard_header(role):
        cell = WriteOnlyCell(ws, value=title)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    count = 0
    for row in rows:
        cells: list[Any] = []
        for i, value in enumerate(dashboard_values(row, percent=lambda r: r.done / r.applicable)):
            if isinstance(value, str):
                value = safe_cell(value)
            cell = WriteOnlyCell(ws, value=value)
            if i in PERCENT_COLUMNS:
                cell.number_format = "0%"
            elif isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            cells.append(cell)
        ws.append(cells)
        count += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(XLSX_WIDTHS))}{count + 1}"

    about = wb.create_sheet("조건")
    about.column_dimensions["A"].width = 16
    about.column_dimensions["B"].width = 40
    about.append([WriteOnlyCell(about, value="항목"), WriteOnlyCell(about, value="값")])
    about.append(["생성 시각(KST)", generated_at.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S")])
    about.append(["행 수", count])
    active = filters.active
    for name, value in active.items():
        about.append([name, safe_cell(value)])
    if not active:
        about.append(["적용한 조건", "없음 (볼 수 있는 모든 사업 추진)"])
    about.append(["정렬", safe_cell(filters.sort)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
