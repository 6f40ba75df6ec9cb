"""지원 실적: each support center's year in numbers, from its 상담·지원 기록 and its cooperatives'
stage completions, against the 80 % resolution target and the admin's yearly targets.

Counted in SQL (GROUP BY), four statements whatever the data; the arithmetic on the counts is a
pure function (``support_row``) so it can be checked without a database.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true
from sqlmodel import Session, col

from app.models import CenterMunicipality, CenterTarget, Consultation, Cooperative, SupportCenter, Track
from app.models.base import utcnow
from app.models.consultation import RESOLUTION_TARGET, TARGET_METRICS
from app.models.summary import TrackSummary
from app.services.errors import ForbiddenError, FormError
from app.services.principal import Principal
from app.services.tracking import today_kst
from app.services.visibility import cooperative_scope

KST = ZoneInfo("Asia/Seoul")
MIN_YEAR = 2000
MAX_TARGET = 100_000
VIEWER_ROLES = ("center", "municipality", "admin")
FORBIDDEN = "지원 실적은 도시재생지원센터·지자체·운영 관리자가 봅니다."


def can_view(principal: Principal) -> bool:
    return principal.role in VIEWER_ROLES


def max_year(today: date) -> int:
    """Next year too: an admin sets next year's targets in December."""
    return today.year + 1


def parse_year(raw: str | None, *, today: date | None = None) -> int:
    """The year from a query parameter (default: this year in Asia/Seoul), or a Korean FormError."""
    today = today or today_kst()
    text = (raw or "").strip()
    if not text:
        return today.year
    top = max_year(today)
    if text.isascii() and text.isdigit() and len(text) == 4 and MIN_YEAR <= int(text) <= top:
        return int(text)
    raise FormError(
        {"year": f"연도는 {MIN_YEAR}부터 {top} 사이의 네 자리 숫자로 입력하세요 (입력: '{text[:20]}')."}
    )


# --- arithmetic (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """What SQL counts for one center and one year."""

    consultations: int = 0  # held that year
    cooperatives: int = 0  # distinct cooperatives among them
    follow_ups_due: int = 0  # of those, with a follow-up date
    follow_ups_on_time: int = 0  # of those, resolved on or before the follow-up date
    resolved: int = 0  # of those held that year, resolved now
    stage_completions: int = 0  # cooperatives (served now) that completed a stage that year
    reached_execute: int = 0  # of those, finished 계획 (so reached 실행) that year


# Which count stands for each metric an admin may set a target for.
METRIC_ACTUAL = {
    "consultations": "consultations",
    "cooperatives": "cooperatives",
    "stage_completions": "stage_completions",
    "reached_execute": "reached_execute",
}
assert set(METRIC_ACTUAL) == set(TARGET_METRICS)  # noqa: S101 - a new metric needs its count


def resolution_rate(*, held: int, resolved: int) -> float | None:
    """Resolved ÷ consultations held; None when none were held (not 0 %: nothing to resolve)."""
    return resolved / held if held else None


@dataclass(frozen=True)
class Target:
    metric: str
    label: str
    target: int | None
    actual: int

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.actual >= self.target

    @property
    def remaining(self) -> int:
        return max(0, (self.target or 0) - self.actual)


@dataclass(frozen=True)
class SupportRow:
    center_id: int | None  # None for the total row
    center: str
    counts: Counts
    resolution_rate: float | None
    targets: Mapping[str, Target]

    @property
    def resolution_met(self) -> bool | None:
        return None if self.resolution_rate is None else self.resolution_rate >= RESOLUTION_TARGET


def support_row(center_id: int | None, center: str, counts: Counts, targets: Mapping[str, int]) -> SupportRow:
    """One center's row: the counts, the resolution rate and every metric against its target."""
    return SupportRow(
        center_id=center_id,
        center=center,
        counts=counts,
        resolution_rate=resolution_rate(held=counts.consultations, resolved=counts.resolved),
        targets={
            m: Target(m, label, targets.get(m), getattr(counts, METRIC_ACTUAL[m]))
            for m, label in TARGET_METRICS.items()
        },
    )


def total_row(rows: Sequence[SupportRow]) -> SupportRow:
    """The sum over centers (each center counts its own cooperatives once), with its own rate."""
    fields = Counts.__dataclass_fields__
    counts = Counts(**{f: sum(getattr(r.counts, f) for r in rows) for f in fields})
    targets = {
        m: sum(r.targets[m].target or 0 for r in rows)
        for m in TARGET_METRICS
        if any(r.targets[m].target is not None for r in rows)
    }
    return support_row(None, "합계", counts, targets)


# --- the queries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupportStats:
    year: int
    rows: list[SupportRow]
    total: SupportRow | None  # when more than one center is shown
    generated_at: datetime


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The year as people in Korea count it, as aware datetimes: [1 Jan 00:00 KST, next 1 Jan)."""
    return datetime(year, 1, 1, tzinfo=KST), datetime(year + 1, 1, 1, tzinfo=KST)


def visible_centers(principal: Principal) -> Any:
    """The centers whose statistics ``principal`` sees: admin all, a center itself, a 지자체 the
    centers that serve it."""
    stmt = select(col(SupportCenter.id), col(SupportCenter.name))
    match principal.role:
        case "admin":
            return stmt
        case "center" if principal.center_id is not None:
            return stmt.where(col(SupportCenter.id) == principal.center_id)
        case "municipality" if principal.municipality_id is not None:
            served = select(col(CenterMunicipality.center_id)).where(
                col(CenterMunicipality.municipality_id) == principal.municipality_id
            )
            return stmt.where(col(SupportCenter.id).in_(served))
    return stmt.where(false())


def _consultation_scope(principal: Principal) -> ColumnElement[bool]:
    """A center's record is the center's and the admin's to read in full, counted for the center
    that gave it even if the cooperative moved since; a 지자체 reads the part of each serving
    center's record that concerns its own cooperatives (THE visibility rule)."""
    return cooperative_scope(principal) if principal.role == "municipality" else true()


def _consultation_counts(
    session: Session, principal: Principal, center_ids: Any, year: int
) -> dict[int, dict[str, int]]:
    c = Consultation
    resolved = col(c.status) == "resolved"
    on_time = and_(resolved, col(c.follow_up_on).is_not(None), col(c.resolved_on) <= col(c.follow_up_on))
    stmt = (
        select(
            col(c.center_id),
            func.count(),
            func.count(func.distinct(col(c.cooperative_id))),
            func.sum(case((col(c.follow_up_on).is_not(None), 1), else_=0)),
            func.sum(case((on_time, 1), else_=0)),
            func.sum(case((resolved, 1), else_=0)),
        )
        .join(Cooperative, col(Cooperative.id) == col(c.cooperative_id))
        .where(
            col(c.center_id).in_(center_ids),
            col(c.held_on) >= date(year, 1, 1),
            col(c.held_on) <= date(year, 12, 31),
            _consultation_scope(principal),
        )
        .group_by(col(c.center_id))
    )
    names = ("consultations", "cooperatives", "follow_ups_due", "follow_ups_on_time", "resolved")
    return {
        int(r[0]): {n: int(v or 0) for n, v in zip(names, r[1:], strict=True)}
        for r in session.execute(stmt).all()
    }


def _stage_counts(
    session: Session, principal: Principal, center_ids: Any, year: int
) -> dict[int, dict[str, int]]:
    start, end = year_bounds(year)
    ts = TrackSummary

    def within(column: Any) -> ColumnElement[bool]:
        return and_(col(column) >= start, col(column) < end)

    any_stage = or_(
        within(ts.prepare_completed_at), within(ts.plan_completed_at), within(ts.execute_completed_at)
    )
    stmt = (
        select(
            col(Cooperative.support_center_id),
            func.count(func.distinct(col(Cooperative.id))),
            func.count(func.distinct(case((within(ts.plan_completed_at), col(Cooperative.id))))),
        )
        .select_from(TrackSummary)
        .join(Track, col(Track.id) == col(ts.track_id))
        .join(Cooperative, col(Cooperative.id) == col(Track.cooperative_id))
        .where(col(Cooperative.support_center_id).in_(center_ids), cooperative_scope(principal), any_stage)
        .group_by(col(Cooperative.support_center_id))
    )
    return {
        int(r[0]): {"stage_completions": int(r[1] or 0), "reached_execute": int(r[2] or 0)}
        for r in session.execute(stmt).all()
    }


def _targets(session: Session, center_ids: Any, year: int) -> dict[int, dict[str, int]]:
    stmt = select(CenterTarget).where(
        col(CenterTarget.center_id).in_(center_ids), col(CenterTarget.year) == year
    )
    out: dict[int, dict[str, int]] = {}
    for t in session.execute(stmt).scalars():
        out.setdefault(t.center_id, {})[t.metric] = t.target
    return out


def support_stats(
    *, session: Session, principal: Principal, year: int, now: datetime | None = None
) -> SupportStats:
    """One row per visible center for ``year``: four statements, whatever the data.

    Raises ForbiddenError for cooperative users."""
    if not can_view(principal):
        raise ForbiddenError(FORBIDDEN)
    centers_stmt = visible_centers(principal)
    centers = session.execute(centers_stmt.order_by(col(SupportCenter.name))).all()
    ids = centers_stmt.with_only_columns(col(SupportCenter.id)).scalar_subquery()
    consults = _consultation_counts(session, principal, ids, year)
    stages = _stage_counts(session, principal, ids, year)
    targets = _targets(session, ids, year)
    rows = [
        support_row(cid, name, Counts(**consults.get(cid, {}), **stages.get(cid, {})), targets.get(cid, {}))
        for cid, name in centers
    ]
    total = total_row(rows) if len(rows) > 1 else None
    return SupportStats(year, rows, total, now or utcnow())


# --- targets (admin) -----------------------------------------------------------------------------------


def set_targets(
    *,
    session: Session,
    principal: Principal,
    center_id: int | None,
    year: int | str | None,
    targets: Mapping[str, str | int | None],
    today: date | None = None,
) -> dict[str, int | None]:
    """Set (or, with a blank value, remove) a center's yearly targets; only the metrics given.

    Raises ForbiddenError (not admin) or FormError (field names ``center_id``, ``year``,
    ``target_{metric}``)."""
    if not principal.is_admin:
        raise ForbiddenError("연간 목표는 운영 관리자가 정합니다.")
    errors: dict[str, str] = {}
    if center_id is None or session.get(SupportCenter, center_id) is None:
        errors["center_id"] = "도시재생지원센터를 목록에서 고르세요."
    try:
        parsed_year = parse_year("" if year is None else str(year), today=today)
    except FormError as exc:
        errors.update(exc.errors)
        parsed_year = 0
    values: dict[str, int | None] = {}
    for metric, raw in targets.items():
        name = f"target_{metric}"
        if metric not in TARGET_METRICS:
            errors[name] = "알 수 없는 목표 항목입니다."
            continue
        text = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
        text = text.strip()
        if not text:
            values[metric] = None
        elif text.isascii() and text.isdigit() and len(text) <= 6 and int(text) <= MAX_TARGET:
            values[metric] = int(text)
        else:
            errors[name] = f"0부터 {MAX_TARGET:,} 사이의 정수로 입력하세요. 비워 두면 목표를 지웁니다."
    if errors:
        raise FormError(errors)
    assert center_id is not None  # noqa: S101
    for metric, value in values.items():
        found = session.get(CenterTarget, (center_id, parsed_year, metric))
        if value is None:
            if found is not None:
                session.delete(found)
        elif found is None:
            session.add(CenterTarget(center_id=center_id, year=parsed_year, metric=metric, target=value))
        else:
            found.target = value
            session.add(found)
    session.flush()
    return values


# --- the xlsx export --------------------------------------------------------------------------------

XLSX_HEADER = (
    "도시재생지원센터",
    "상담 건수",
    "상담 건수 목표",
    "지원한 조합 수",
    "지원한 조합 수 목표",
    "후속 조치 예정",
    "기한 내 후속 조치",
    "해결",
    "해결률",
    "해결률 목표",
    "해결률 목표 달성",
    "단계를 마친 조합 수",
    "단계를 마친 조합 수 목표",
    "실행 단계에 이른 조합 수",
    "실행 단계에 이른 조합 수 목표",
)
XLSX_WIDTHS = (34, 10, 12, 12, 14, 12, 14, 8, 10, 10, 14, 16, 18, 18, 20)
RATE_COLUMNS = {8, 9}


def xlsx_values(row: SupportRow) -> list[object]:
    c, t = row.counts, row.targets
    met = {None: "—", True: "달성", False: "미달"}[row.resolution_met]
    return [
        row.center,
        c.consultations,
        t["consultations"].target,
        c.cooperatives,
        t["cooperatives"].target,
        c.follow_ups_due,
        c.follow_ups_on_time,
        c.resolved,
        row.resolution_rate,
        RESOLUTION_TARGET,
        met,
        c.stage_completions,
        t["stage_completions"].target,
        c.reached_execute,
        t["reached_execute"].target,
    ]


def support_xlsx(stats: SupportStats, *, viewer: Principal) -> bytes:
    """The statistics as an Excel workbook (Korean headers; rates as percentages)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from app.services.exports import safe_cell

    wb = Workbook()
    ws = wb.active
    assert ws is not None  # noqa: S101
    ws.title = f"지원 실적 {stats.year}"
    ws.freeze_panes = "B2"
    ws.append(list(XLSX_HEADER))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for i, width in enumerate(XLSX_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    for row in [*stats.rows, *([stats.total] if stats.total else [])]:
        ws.append([safe_cell(v) if isinstance(v, str) else v for v in xlsx_values(row)])
        for i in RATE_COLUMNS:
            ws.cell(row=ws.max_row, column=i + 1).number_format = "0%"
    if stats.total:
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(XLSX_HEADER))}{len(stats.rows) + 1}"
    about = wb.create_sheet("조건")
    about.column_dimensions["A"].width = 18
    about.column_dimensions["B"].width = 70
    about.append(["항목", "값"])
    for cell in about[1]:
        cell.font = Font(bold=True)
    generated = stats.generated_at.astimezone(KST)
    for name, value in (
        ("연도", f"{stats.year}년 (상담일 기준, 단계 완료는 한국 시간 기준)"),
        ("생성 시각(KST)", generated.strftime("%Y-%m-%d %H:%M:%S")),
        ("보는 사람", safe_cell(f"{viewer.display_name} ({viewer.role_label})")),
        ("해결률", "그해 상담 중 해결된 상담의 비율 (목표 80%)"),
        ("기한 내 후속 조치", "후속 조치일이 있는 상담 중 그날까지 해결된 상담"),
    ):
        about.append([name, value])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
