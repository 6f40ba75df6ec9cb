"""Admin pages: organizations and users (admin only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session
from starlette.datastructures import FormData

from app.deps import AdminUser, FormDep, PathId, SessionDep, html_router, parse_id
from app.korean import eul_reul
from app.models import Cooperative, Municipality, SupportCenter, User
from app.models.audit import AUDIT_ACTIONS, AUDIT_KINDS
from app.models.user import ROLE_LABELS, ROLES
from app.services import audit, orgs
from app.services.principal import Principal
from app.templating import redirect, render

router = html_router(prefix="/admin", tags=["admin"])

Kind = Literal["municipalities", "centers", "cooperatives", "users"]
KIND_LABELS: dict[str, str] = {
    "municipalities": "지자체",
    "centers": "도시재생지원센터",
    "cooperatives": "마을조합",
    "users": "사용자",
}
MODELS: dict[str, type] = {
    "municipalities": Municipality,
    "centers": SupportCenter,
    "cooperatives": Cooperative,
    "users": User,
}


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    type: str = "text"  # text | date | password | select | multiselect
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()
    help: str = ""
    autocomplete: str = "off"
    readonly: bool = False
    groups: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


def _fields(kind: str, session: Session, editing: bool) -> list[FormField]:
    municipalities = tuple((str(m.id), m.name) for m in orgs.all_municipalities(session=session))
    if kind == "municipalities":
        return [
            FormField("name", "지자체 이름", required=True, help="예: 서울특별시 용산구"),
            FormField("sido", "시·도", required=True, help="예: 서울특별시"),
            FormField("sigungu", "시·군·구", help="세종특별자치시처럼 없으면 비워 두세요."),
        ]
    if kind == "centers":
        return [
            FormField("name", "지원센터 이름", required=True),
            FormField(
                "municipality_ids",
                "지원하는 지자체",
                type="multiselect",
                options=municipalities,
                help="광역 센터는 여러 지자체를 지원합니다.",
            ),
        ]
    if kind == "cooperatives":
        centers = tuple((str(c.center.id), c.center.name) for c in orgs.all_centers(session=session))
        return [
            FormField("name", "조합 이름", required=True),
            FormField("site", "도시재생 사업지"),
            FormField("address", "주소"),
            FormField("municipality_id", "지자체", type="select", required=True, options=municipalities),
            FormField(
                "support_center_id", "도시재생지원센터", type="select", options=(("", "없음"), *centers)
            ),
            FormField("approved_on", "설립인가일", type="date"),
            FormField("contact", "연락처"),
        ]
    # Option values carry the kind ("coop:3"): ids of different kinds overlap in one select.
    coops = tuple(
        (f"coop:{c.cooperative.id}", c.cooperative.name) for c in orgs.all_cooperatives(session=session)
    )
    centers = tuple((f"center:{c.center.id}", c.center.name) for c in orgs.all_centers(session=session))
    regions = tuple((f"municipality:{m_id}", name) for m_id, name in municipalities)
    return [
        FormField("login", "아이디", required=not editing, readonly=editing, autocomplete="username"),
        FormField("display_name", "이름", required=True),
        FormField(
            "email",
            "전자우편",
            type="email",
            help="선택: 매일 알림 요약 메일을 받을 주소. 본인도 알림 설정에서 바꿀 수 있습니다.",
            autocomplete="email",
        ),
        FormField(
            "role",
            "역할",
            type="select",
            required=not editing,
            readonly=editing,
            options=tuple((r, ROLE_LABELS[r]) for r in ROLES),
        ),
        FormField(
            "org_id",
            "소속 기관",
            type="select",
            options=(("", "없음 (운영 관리자)"),),
            groups={"조합": coops, "지원센터": centers, "지자체": regions},
            help="역할과 같은 종류의 기관을 고르세요.",
        ),
        FormField(
            "password",
            "비밀번호" + (" (바꿀 때만 입력)" if editing else ""),
            type="password",
            required=not editing,
            help="10자 이상",
            autocomplete="new-password",
        ),
    ]


def _load(session: Session, kind: str, obj_id: int) -> Any:
    obj = session.get(MODELS[kind], obj_id)
    if obj is None:
        raise HTTPException(status_code=404, detail=f"{eul_reul(KIND_LABELS[kind])} 찾을 수 없습니다.")
    return obj


def _values_of(kind: str, obj: Any, session: Session) -> dict[str, Any]:
    if kind == "centers":
        row = next(r for r in orgs.all_centers(session=session) if r.center.id == obj.id)
        return {"name": obj.name, "municipality_ids": [str(i) for i in row.municipality_ids]}
    values = {k: ("" if v is None else str(v)) for k, v in obj.model_dump().items()}
    if kind == "users":
        org_id = obj.cooperative_id or obj.center_id or obj.municipality_id
        values["org_id"] = f"{obj.role}:{org_id}" if org_id else ""
        values.pop("password_hash", None)
    return values


def _save_audited(form: FormData, session: Session, kind: str, obj: Any | None, admin: Principal) -> Any:
    """Save, and append what changed to the audit log (in the same transaction)."""
    before = audit.snapshot(session, kind, obj) if obj is not None else {}
    saved = _save(form, session, kind, obj)
    password = kind == "users" and obj is not None and bool(form.get("password"))
    audit.record(
        session=session,
        actor=admin,
        action="update" if obj is not None else "create",
        kind=kind,
        obj=saved,
        before=before,
        after=audit.snapshot(session, kind, saved),
        extra={"password": [None, audit.PASSWORD_CHANGED]} if password else None,
    )
    return saved


def _save(form: FormData, session: Session, kind: str, obj: Any | None) -> Any:
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if kind == "municipalities":
        return orgs.save_municipality(session=session, values=values, municipality=obj)
    if kind == "centers":
        # An unparseable id stays in the list as 0, which the service reports as unknown.
        ids = [parse_id(v) or 0 for v in form.getlist("municipality_ids")]
        return orgs.save_center(session=session, values=values, municipality_ids=ids, center=obj)
    if kind == "cooperatives":
        return orgs.save_cooperative(session=session, values=values, cooperative=obj)
    return orgs.save_user(session=session, values=values, user=obj)


def _check_kind(kind: str) -> str:
    if kind not in KIND_LABELS:
        raise HTTPException(status_code=404, detail="알 수 없는 관리 항목입니다.")
    return kind


@router.get("/audit", name="admin:audit")
def audit_log(request: Request, session: SessionDep, admin: AdminUser) -> Response:
    """Every change made by an admin or the `maeul` command, newest first, filtered and paged."""
    filters = audit.parse_filters(request.query_params)
    return render(
        request,
        "pages/admin_audit.html",
        {
            "view": audit.load_page(session=session, filters=filters),
            "f": filters,
            "kinds": AUDIT_KINDS,
            "actions": AUDIT_ACTIONS,
            "describe": audit.describe,
        },
        blocks=["audit_table"],
    )


@router.get("/audit.csv", name="admin:audit_csv")
def audit_csv(request: Request, session: SessionDep, admin: AdminUser) -> Response:
    filters = audit.parse_filters(request.query_params)
    return StreamingResponse(
        audit.entries_csv(session=session, filters=filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


@router.get("", name="admin:index")
def index(request: Request, session: SessionDep, admin: AdminUser, saved: str = "") -> Response:
    return render(
        request,
        "pages/admin.html",
        {
            "municipalities": orgs.all_municipalities(session=session),
            "centers": orgs.all_centers(session=session),
            "cooperatives": orgs.all_cooperatives(session=session),
            "users": orgs.all_users(session=session),
            "role_labels": ROLE_LABELS,
            # After a save: say so (the form's page is gone; the list shows the result).
            "saved": f"{eul_reul(KIND_LABELS[saved])} 저장했습니다." if saved in KIND_LABELS else "",
        },
    )


def _form_page(
    request: Request,
    session: Session,
    kind: str,
    obj: Any | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "pages/admin_form.html",
        {
            "kind": kind,
            "kind_label": KIND_LABELS[kind],
            "obj": obj,
            "fields": _fields(kind, session, editing=obj is not None),
            "values": values,
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/{kind}/new", name="admin:new")
def new(request: Request, session: SessionDep, admin: AdminUser, kind: str) -> Response:
    return _form_page(request, session, _check_kind(kind), None, {})


def _resubmitted(form: FormData) -> dict[str, Any]:
    """What the person typed, to show again with the errors (never the password)."""
    values = {k: form.getlist(k) if k == "municipality_ids" else form.get(k) for k in form}
    values.pop("password", None)
    return values


@router.post("/{kind}", name="admin:create")
def create(request: Request, session: SessionDep, admin: AdminUser, form: FormDep, kind: str) -> Response:
    _check_kind(kind)
    try:
        _save_audited(form, session, kind, None, admin)
    except orgs.FormError as exc:
        return _form_page(request, session, kind, None, _resubmitted(form), exc.errors, status_code=422)
    return redirect(request, str(request.app.url_path_for("admin:index")) + f"?saved={kind}#{kind}")


@router.get("/{kind}/{obj_id}/edit", name="admin:edit")
def edit(request: Request, session: SessionDep, admin: AdminUser, kind: str, obj_id: PathId) -> Response:
    obj = _load(session, _check_kind(kind), obj_id)
    return _form_page(request, session, kind, obj, _values_of(kind, obj, session))


@router.post("/{kind}/{obj_id}", name="admin:update")
def update(
    request: Request, session: SessionDep, admin: AdminUser, form: FormDep, kind: str, obj_id: PathId
) -> Response:
    obj = _load(session, _check_kind(kind), obj_id)
    try:
        _save_audited(form, session, kind, obj, admin)
    except orgs.FormError as exc:
        return _form_page(request, session, kind, obj, _resubmitted(form), exc.errors, status_code=422)
    return redirect(request, str(request.app.url_path_for("admin:index")) + f"?saved={kind}#{kind}")


@router.post("/users/{obj_id}/active", name="admin:set_active")
def set_active(
    request: Request, session: SessionDep, admin: AdminUser, form: FormDep, obj_id: PathId
) -> Response:
    user = _load(session, "users", obj_id)
    active = form.get("active") == "1"
    if not active and user.id == admin.id:
        raise HTTPException(status_code=400, detail="자기 자신의 계정은 비활성화할 수 없습니다.")
    if user.is_active != active:
        orgs.set_user_active(session=session, user=user, active=active)
        audit.record(
            session=session,
            actor=admin,
            action="activate" if active else "deactivate",
            kind="users",
            obj=user,
            extra={"is_active": [not active, active]},
        )
    return redirect(request, str(request.app.url_path_for("admin:index")) + "?saved=users#users")
