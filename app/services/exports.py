"""Exports for spreadsheets. Later CSV/xlsx exports belong here too, sharing the cell guard."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app import xlsx
from app.models.decision import OUTCOME_LABELS, VERDICT_LABELS
from app.models.tracking import ACTION_LABELS, FIELD_LABELS, STATUS_LABELS
from app.services.dashboard import STAGE_LABELS, Filters, Row
from app.services.progress import Ratio
from app.services.tracking import EventRow, TrackView

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


def _value(field: str, value: Any) -> str:
    """A logged value as the pages show it (상태 in Korean, 확인됨/미확인, (없음) for nothing)."""
    if field == "verified":
        return "확인됨" if value else "미확인"
    if value is None or value == "":
        return "(없음)"
    if field == "status":
        return STATUS_LABELS.get(str(value), str(value))
    return str(value)


def _describe_changes(changes: dict[str, Any]) -> str:
    parts = []
    for field, value in changes.items():
        label = FIELD_LABELS.get(field, field)
        if isinstance(value, list) and len(value) == 2:
            parts.append(f"{label}: {_value(field, value[0])} → {_value(field, value[1])}")
        elif field == "model":
            parts.append(f"{label}: {value}")
        elif field not in ("url", "size"):
            parts.append(f"{label}: {_value(field, value)}")
    return "; ".join(parts)


EVENT_HEADER = ("번호", "일시(KST)", "한 사람", "활동", "항목 키", "항목", "폐지된 항목", "변경 내용")


def events_csv(events: Iterable[EventRow]) -> str:
    """A track's activity log for people (Korean headers and labels), newest first; machines
    have the JSON API."""
    return to_csv(
        EVENT_HEADER,
        (
            (
                r.event.id,
                r.event.at.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S"),
                r.actor or "시스템",
                ACTION_LABELS.get(r.event.action, r.event.action),
                r.event.item_key or "",
                r.item_text or "",
                "폐지됨" if r.retired else "",
                _describe_changes(r.event.changes),
            )
            for r in events
        ),
    )


# --- a track's checklist -----------------------------------------------------------------------

CHECKLIST_HEADER = (
    "단계",
    "항목",
    "주관",
    "지원",
    "위탁 전 확인",
    "상태",
    "확인 여부",
    "확인자",
    "확인일",
    "담당자",
    "기한",
    "메모",
    "증빙 수",
)
# Short names as in content/roles.yaml (support roles include the agency).
ROLE_NAMES = {
    "municipality": "지자체",
    "center": "지원센터",
    "coop": "조합",
    "agency": "지원기구",
    "ministry": "국토부",
}


def checklist_rows(view: TrackView) -> list[list[Any]]:
    """Every item of the track in guidebook order, as the track page shows it."""
    stages = {s.key: s.title for s in view.model.stages}
    rows = []
    for r in view.rows:
        if r.item is None:
            continue
        state = r.state
        verified = bool(state and state.verified_at)
        rows.append(
            [
                stages[r.stage],
                r.item.text,
                ROLE_NAMES[r.item.lead],
                ", ".join(ROLE_NAMES[s] for s in r.item.support),
                "예" if r.item.consignment else "",
                STATUS_LABELS[r.status],
                "확인됨" if verified else ("확인 대기" if r.awaiting_verification else ""),
                r.verified_by or "" if verified else "",
                state.verified_at.astimezone(KST).date() if state and state.verified_at else None,
                state.assignee if state else "",
                state.due_date if state else None,
                state.note if state else "",
                len(r.evidence),
            ]
        )
    return rows


def checklist_csv(view: TrackView) -> str:
    return to_csv(CHECKLIST_HEADER, ([("" if v is None else v) for v in row] for row in checklist_rows(view)))


def checklist_xlsx(view: TrackView) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    assert ws is not None  # noqa: S101
    ws.title = "체크리스트"
    ws.append(list(CHECKLIST_HEADER))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in checklist_rows(view):
        ws.append([safe_cell(v) if isinstance(v, str) else v for v in row])
    for i, width in enumerate((8, 60, 9, 16, 10, 9, 10, 22, 12, 12, 12, 40, 8), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    for cells in ws.iter_rows(min_row=2):
        cells[1].alignment = Alignment(wrap_text=True, vertical="top")
        cells[8].number_format = cells[10].number_format = "yyyy-mm-dd"
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = ws.dimensions
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


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
        "위탁 준비도",
        "위탁 전 확인(확인/전체)",
        "위탁 결정",
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
        VERDICT_LABELS[row.verdict],
        f"{row.consignment.verified}/{row.consignment.total}" if row.consignment.total else "",
        OUTCOME_LABELS[row.decision] if row.decision else "",
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


XLSX_WIDTHS = (34, 14, 14, 26, 10, 9, 9, 9, 9, 14, 10, 12, 14, 14, 18, 7, 14, 14, 12)


def dashboard_xlsx(rows: Iterable[Row], *, role: str, filters: Filters, generated_at: datetime) -> bytes:
    """The export as an Excel workbook, streamed row by row (memory stays flat)."""

    def cells() -> Iterator[list[object]]:
        for row in rows:
            values = dashboard_values(row, percent=lambda r: r.done / r.applicable)
            yield [safe_cell(v) if isinstance(v, str) else v for v in values]

    table = xlsx.Sheet(
        "현황판",
        dashboard_header(role),
        cells(),  # type: ignore[arg-type]
        widths=XLSX_WIDTHS,
        freeze="B2",
        autofilter=True,
        formats=dict.fromkeys(PERCENT_COLUMNS, "percent"),
    )

    def conditions() -> Iterator[list[object]]:
        # After the table: the row count is known once its rows have been written.
        yield ["생성 시각(KST)", generated_at.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S")]
        yield ["행 수", table.count]
        for name, value in filters.active.items():
            yield [name, safe_cell(value)]
        if not filters.active:
            yield ["적용한 조건", "없음 (볼 수 있는 모든 사업 추진)"]
        yield ["정렬", safe_cell(filters.sort)]

    about = xlsx.Sheet("조건", ("항목", "값"), conditions(), widths=(16, 40))  # type: ignore[arg-type]
    return xlsx.workbook([table, about])
