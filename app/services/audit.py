"""The admin audit log: what an admin (or the `maeul` command) changed, before → after.

Changes are recorded by name (a cooperative moved from one center to another reads as the two
centers' names), so the log still reads right after a rename; passwords never appear.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from app.db import stream
from app.input_guard import parse_iso_date
from app.models import CenterMunicipality, Cooperative, Municipality, SupportCenter
from app.models.audit import AUDIT_ACTIONS, AUDIT_KINDS, AuditEntry
from app.models.user import ROLE_LABELS
from app.services.errors import FormError
from app.services.exports import safe_cell
from app.services.principal import Principal

AUDIT_LOCK = "maeul.audit"  # an advisory lock name (PostgreSQL)

KST = ZoneInfo("Asia/Seoul")
PAGE_SIZE = 50
CLI_ACTOR = "maeul 명령"
PASSWORD_CHANGED = "변경함"  # noqa: S105 - what the log shows instead of a password
FIELD_NAMES = {
    "name": "이름",
    "sido": "시·도",
    "sigungu": "시·군·구",
    "municipalities": "담당 지자체",
    "site": "도시재생 사업지",
    "address": "주소",
    "contact": "연락처",
    "approved_on": "설립인가일",
    "municipality": "지자체",
    "support_center": "지원센터",
    "login": "아이디",
    "display_name": "이름",
    "role": "역할",
    "organization": "소속",
    "email": "이메일",
    "is_active": "사용",
    "password": "비밀번호",
    "token": "API 토큰",
}


def _name(session: Session, model: type, obj_id: int | None) -> str | None:
    found = session.get(model, obj_id) if obj_id else None
    return getattr(found, "name", None) if found is not None else None


def snapshot(session: Session, kind: str, obj: Any) -> dict[str, Any]:
    """What the audit log compares, by name, for one organisation or user."""
    if kind == "municipalities":
        return {"name": obj.name, "sido": obj.sido, "sigungu": obj.sigungu}
    if kind == "centers":
        names = session.exec(
            select(Municipality.name)
            .join(CenterMunicipality, col(CenterMunicipality.municipality_id) == col(Municipality.id))
            .where(CenterMunicipality.center_id == obj.id)
            .order_by(col(Municipality.name))
        ).all()
        return {"name": obj.name, "municipalities": ", ".join(names)}
    if kind == "cooperatives":
        return {
            "name": obj.name,
            "municipality": _name(session, Municipality, obj.municipality_id),
            "support_center": _name(session, SupportCenter, obj.support_center_id),
            "site": obj.site,
            "address": obj.address,
            "contact": obj.contact,
            "approved_on": obj.approved_on.isoformat() if obj.approved_on else None,
        }
    org = (
        _name(session, Cooperative, obj.cooperative_id)
        or _name(session, SupportCenter, obj.center_id)
        or _name(session, Municipality, obj.municipality_id)
    )
    return {
        "login": obj.login,
        "display_name": obj.display_name,
        "role": ROLE_LABELS.get(obj.role, obj.role),
        "organization": org,
        "email": obj.email or None,
        "is_active": obj.is_active,
    }


def _actor(principal: Principal | None) -> tuple[int | None, str]:
    if principal is None:
        return None, CLI_ACTOR
    return principal.id, f"{principal.login} ({principal.display_name})"[:120]


def record(
    *,
    session: Session,
    actor: Principal | None,
    action: str,
    kind: str,
    obj: Any,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    extra: Mapping[str, list[Any]] | None = None,
) -> AuditEntry | None:
    """Append one entry; an update that changed nothing appends nothing."""
    before, after = before or {}, after or {}
    changes = {k: [before.get(k), after.get(k)] for k in {**before, **after} if before.get(k) != after.get(k)}
    changes |= dict(extra or {})
    if action == "update" and not changes:
        return None
    actor_id, actor_label = _actor(actor)
    if session.get_bind().dialect.name == "postgresql":
        # Admin changes take turns from here to commit, so entry ids follow commit order: the
        # largest id then marks every admin change a reader can see (app.services.revision).
        # SQLite's writers already take turns.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": AUDIT_LOCK})
    entry = AuditEntry(
        actor_id=actor_id,
        actor=actor_label,
        action=action,
        target_kind=kind,
        target_id=getattr(obj, "id", None),
        target=str(getattr(obj, "name", None) or getattr(obj, "login", ""))[:200],
        changes=changes,
    )
    session.add(entry)
    session.flush()
    return entry


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    kind: str = ""
    action: str = ""
    actor: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1

    def query(self, **override: Any) -> dict[str, str]:
        values = {**self.__dict__, **override}
        return {k: str(v) for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)}


def parse_filters(params: Mapping[str, str]) -> AuditFilters:
    errors: dict[str, str] = {}
    kind, action, actor = params.get("kind", ""), params.get("action", ""), params.get("actor", "").strip()
    if kind and kind not in AUDIT_KINDS:
        errors["kind"] = f"'{kind[:30]}'은(는) 알 수 없는 관리 항목입니다."
    if action and action not in AUDIT_ACTIONS:
        errors["action"] = f"'{action[:30]}'은(는) 알 수 없는 동작입니다."
    if len(actor) > 64:
        errors["actor"] = "64자 이하로 입력하세요."
    days: dict[str, date | None] = {}
    for name in ("since", "until"):
        raw = params.get(name, "").strip()
        try:
            days[name] = parse_iso_date(raw) if raw else None
        except ValueError:
            errors[name] = f"'{raw[:20]}'은(는) 날짜 형식(YYYY-MM-DD)이 아닙니다."
            days[name] = None
    raw_page = params.get("page", "") or "1"
    page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and len(raw_page) <= 6 else 0
    if page < 1:
        errors["page"] = f"'{raw_page[:10]}'은(는) 쪽 번호가 아닙니다."
    if errors:
        raise FormError(errors)
    return AuditFilters(kind, action, actor, days["since"], days["until"], page)


def _where(stmt: Any, f: AuditFilters) -> Any:
    if f.kind:
        stmt = stmt.where(col(AuditEntry.target_kind) == f.kind)
    if f.action:
        stmt = stmt.where(col(AuditEntry.action) == f.action)
    if f.actor:
        escaped = f.actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(col(AuditEntry.actor).ilike(f"%{escaped}%", escape="\\"))
    if f.since:
        stmt = stmt.where(col(AuditEntry.at) >= datetime.combine(f.since, time.min, KST))
    if f.until:
        stmt = stmt.where(col(AuditEntry.at) < datetime.combine(f.until + timedelta(days=1), time.min, KST))
    return stmt


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int
    pages: int


def load_page(*, session: Session, filters: AuditFilters) -> AuditPage:
    """Newest first, one page, counted and paged in SQL (two statements)."""
    total = int(session.exec(_where(select(func.count()).select_from(AuditEntry), filters)).one())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(filters.page, pages)
    stmt = (
        _where(select(AuditEntry), filters)
        .order_by(col(AuditEntry.id).desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    return AuditPage(list(session.exec(stmt).all()), total, page, pages)


def _value(v: Any) -> str:
    if v is None or v == "":
        return "(없음)"
    if v is True:
        return "예"
    if v is False:
        return "아니오"
    return str(v)


def describe(changes: Mapping[str, Any]) -> list[str]:
    """ "필드: 전 → 후" lines, in Korean."""
    return [
        f"{FIELD_NAMES.get(k, k)}: {_value(v[0])} → {_value(v[1])}"
        if isinstance(v, list) and len(v) == 2
        else f"{FIELD_NAMES.get(k, k)}: {_value(v)}"
        for k, v in changes.items()
    ]


def entries_csv(*, session: Session, filters: AuditFilters) -> Iterator[str]:
    """Every filtered entry, newest first, as CSV (UTF-8 with BOM, Korean headers), streamed."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["번호", "시각(KST)", "누가", "동작", "항목", "대상", "바뀐 내용"])
    yield "\ufeff" + out.getvalue()
    stmt = _where(select(AuditEntry), filters).order_by(col(AuditEntry.id).desc())
    for e in stream(session, stmt, batch=500):
        out.seek(0)
        out.truncate()
        writer.writerow(
            [
                e.id,
                e.at.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S"),
                safe_cell(e.actor),
                AUDIT_ACTIONS.get(e.action, e.action),
                AUDIT_KINDS.get(e.target_kind, e.target_kind),
                safe_cell(e.target),
                safe_cell(" / ".join(describe(e.changes))),
            ]
        )
        yield out.getvalue()
