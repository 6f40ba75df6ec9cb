"""Organizations and users: the lists people see and the admin's create/update operations."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.input_guard import parse_iso_date
from app.korean import eul_reul
from app.models import CenterMunicipality, Cooperative, Municipality, SupportCenter, User
from app.models.user import ROLE_LABELS, ROLES
from app.services.auth import MIN_PASSWORD_LENGTH, PasswordTooShortError, hash_password
from app.services.errors import FormError
from app.services.principal import Principal
from app.services.visibility import cooperative_scope, visible_cooperatives


@dataclass(frozen=True)
class CooperativeRow:
    cooperative: Cooperative
    municipality: str
    support_center: str | None


def cooperative_rows(
    *, session: Session, principal: Principal, limit: int | None = None, offset: int = 0
) -> list[CooperativeRow]:
    """The visible cooperatives with their region and center names, in one query."""
    stmt = (
        visible_cooperatives(principal)
        .join(Municipality, Municipality.id == Cooperative.municipality_id)  # type: ignore[arg-type]
        .outerjoin(SupportCenter, SupportCenter.id == Cooperative.support_center_id)  # type: ignore[arg-type]
        .add_columns(col(Municipality.name), col(SupportCenter.name))
        .order_by(col(Municipality.sido), col(Cooperative.name), col(Cooperative.id))
        .offset(offset)
        .limit(limit)
    )
    return [CooperativeRow(c, m, s) for c, m, s in session.execute(stmt).all()]


def all_cooperatives(*, session: Session) -> list[CooperativeRow]:
    """Every cooperative, for the admin pages (guarded by the admin dependency, not visibility)."""
    stmt = (
        select(Cooperative, Municipality.name, SupportCenter.name)
        .join(Municipality, col(Municipality.id) == col(Cooperative.municipality_id))
        .outerjoin(SupportCenter, col(SupportCenter.id) == col(Cooperative.support_center_id))
        .order_by(col(Municipality.sido), col(Cooperative.name))
    )
    return [CooperativeRow(c, m, s) for c, m, s in session.exec(stmt).all()]


def count_cooperatives(*, session: Session, principal: Principal) -> int:
    return int(
        session.exec(select(func.count()).select_from(Cooperative).where(cooperative_scope(principal))).one()
    )


def cooperative_row(*, session: Session, cooperative: Cooperative) -> CooperativeRow:
    municipality = session.get(Municipality, cooperative.municipality_id)
    center = (
        session.get(SupportCenter, cooperative.support_center_id) if cooperative.support_center_id else None
    )
    return CooperativeRow(
        cooperative, municipality.name if municipality else "", center.name if center else None
    )


# --- admin: listing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CenterRow:
    center: SupportCenter
    municipality_ids: tuple[int, ...]
    municipality_names: tuple[str, ...]


def all_municipalities(*, session: Session) -> Sequence[Municipality]:
    return session.exec(select(Municipality).order_by(Municipality.sido, Municipality.name)).all()


def all_centers(*, session: Session) -> list[CenterRow]:
    centers = session.exec(select(SupportCenter).order_by(SupportCenter.name)).all()
    links = session.exec(
        select(CenterMunicipality.center_id, Municipality.id, Municipality.name)
        .join(Municipality, Municipality.id == CenterMunicipality.municipality_id)  # type: ignore[arg-type]
        .order_by(Municipality.name)
    ).all()
    served: dict[int, list[tuple[int, str]]] = {}
    for center_id, mid, mname in links:
        served.setdefault(center_id, []).append((mid, mname))  # type: ignore[arg-type]
    return [
        CenterRow(
            c,
            tuple(m for m, _ in served.get(c.id or 0, [])),
            tuple(n for _, n in served.get(c.id or 0, [])),
        )
        for c in centers
    ]


@dataclass(frozen=True)
class UserRow:
    user: User
    org_name: str | None


def all_users(*, session: Session) -> list[UserRow]:
    org_name = func.coalesce(Cooperative.name, SupportCenter.name, Municipality.name)
    stmt = (
        select(User, org_name)
        .outerjoin(Cooperative, Cooperative.id == User.cooperative_id)  # type: ignore[arg-type]
        .outerjoin(SupportCenter, SupportCenter.id == User.center_id)  # type: ignore[arg-type]
        .outerjoin(Municipality, Municipality.id == User.municipality_id)  # type: ignore[arg-type]
        .order_by(User.role, User.login)
    )
    return [UserRow(u, n) for u, n in session.exec(stmt).all()]


# --- admin: writing ---------------------------------------------------------------------------


# The longest value each admin field may hold (the columns' sizes; a password as long as the
# login form accepts, so nobody is created who could never log in).
MAX_LENGTHS = {
    "name": 100,
    "sido": 40,
    "sigungu": 40,
    "site": 200,
    "address": 200,
    "contact": 200,
    "display_name": 100,
    "login": 64,
    "email": 254,
    "password": 256,
}


def _require(values: Mapping[str, str], *fields: str) -> dict[str, str]:
    """Required fields present, and every field within its length."""
    errors = {}
    for f in fields:
        if not values.get(f, "").strip():
            errors[f] = "필수 입력 항목입니다."
    for f, limit in MAX_LENGTHS.items():
        if len(values.get(f, "")) > limit:
            errors[f] = f"{limit}자 이하로 입력하세요."
    return errors


def _unique(session: Session, model: type, column: str, value: str, own_id: int | None) -> bool:
    stmt: Any = select(model).where(getattr(model, column) == value)
    found = session.exec(stmt).first()
    return found is None or getattr(found, "id", None) == own_id


def save_municipality(
    *, session: Session, values: Mapping[str, str], municipality: Municipality | None = None
) -> Municipality:
    errors = _require(values, "name", "sido")
    name = values.get("name", "").strip()
    if name and not _unique(session, Municipality, "name", name, municipality.id if municipality else None):
        errors["name"] = f"'{name}' 지자체가 이미 있습니다."
    if errors:
        raise FormError(errors)
    municipality = municipality or Municipality(name=name, sido="")
    municipality.name, municipality.sido = name, values["sido"].strip()
    municipality.sigungu = values.get("sigungu", "").strip()
    session.add(municipality)
    session.flush()
    return municipality


def save_center(
    *,
    session: Session,
    values: Mapping[str, str],
    municipality_ids: Sequence[int],
    center: SupportCenter | None = None,
) -> SupportCenter:
    errors = _require(values, "name")
    name = values.get("name", "").strip()
    if name and not _unique(session, SupportCenter, "name", name, center.id if center else None):
        errors["name"] = f"'{name}' 지원센터가 이미 있습니다."
    known: set[int] = {
        mid
        for mid in session.exec(
            select(Municipality.id).where(col(Municipality.id).in_(municipality_ids))
        ).all()
        if mid is not None
    }
    if set(municipality_ids) - known:
        errors["municipality_ids"] = "존재하지 않는 지자체가 선택되었습니다."
    if errors:
        raise FormError(errors)
    center = center or SupportCenter(name=name)
    center.name = name
    session.add(center)
    session.flush()
    existing = session.exec(select(CenterMunicipality).where(CenterMunicipality.center_id == center.id)).all()
    for link in existing:
        if link.municipality_id not in known:
            session.delete(link)
    have = {link.municipality_id for link in existing}
    for mid in sorted(known - have):
        assert center.id is not None  # noqa: S101
        session.add(CenterMunicipality(center_id=center.id, municipality_id=mid))
    session.flush()
    return center


def _parse_date(value: str, field: str, errors: dict[str, str]) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return parse_iso_date(value)
    except ValueError:
        errors[field] = f"'{value}'은(는) 날짜 형식(YYYY-MM-DD)이 아닙니다."
        return None


def _parse_id(value: str, field: str, errors: dict[str, str], model: type, session: Session) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9 or session.get(model, int(value)) is None:
        errors[field] = "존재하지 않는 항목이 선택되었습니다."
        return None
    return int(value)


def save_cooperative(
    *, session: Session, values: Mapping[str, str], cooperative: Cooperative | None = None
) -> Cooperative:
    errors = _require(values, "name", "municipality_id")
    name = values.get("name", "").strip()
    if name and not _unique(session, Cooperative, "name", name, cooperative.id if cooperative else None):
        errors["name"] = f"'{name}' 조합이 이미 있습니다."
    municipality_id = _parse_id(
        values.get("municipality_id", ""), "municipality_id", errors, Municipality, session
    )
    center_id = _parse_id(
        values.get("support_center_id", ""), "support_center_id", errors, SupportCenter, session
    )
    approved_on = _parse_date(values.get("approved_on", ""), "approved_on", errors)
    if errors:
        raise FormError(errors)
    assert municipality_id is not None  # noqa: S101 - required above
    cooperative = cooperative or Cooperative(name=name, municipality_id=municipality_id)
    cooperative.name = name
    cooperative.municipality_id = municipality_id
    cooperative.support_center_id = center_id
    cooperative.approved_on = approved_on
    for f in ("site", "address", "contact"):
        setattr(cooperative, f, values.get(f, "").strip())
    session.add(cooperative)
    session.flush()
    return cooperative


MAX_EMAIL = 254
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
INVALID_EMAIL = "전자우편 주소 형식이 올바르지 않습니다. 예: name@example.kr"


def clean_email(value: str) -> str:
    """An optional e-mail address, checked strictly enough that a typo is caught here rather than
    by a bounce: ``name@domain.tld`` with an ASCII local part (a Korean domain is allowed and
    stored as written). Blank is allowed (no digest). Raises FormError({"email": …})."""
    value = (value or "").strip()
    if not value:
        return ""
    local, sep, domain = value.rpartition("@")
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if domain else ""
    except UnicodeError:
        ascii_domain = ""
    labels = ascii_domain.split(".")
    if (
        not sep
        or len(value) > MAX_EMAIL
        or len(local) > 64
        or not _LOCAL_PART.fullmatch(local)
        or len(labels) < 2
        or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise FormError({"email": INVALID_EMAIL})
    return value


ORG_FIELD = {"coop": "cooperative_id", "center": "center_id", "municipality": "municipality_id"}
ORG_MODEL: dict[str, type] = {"coop": Cooperative, "center": SupportCenter, "municipality": Municipality}
ORG_KIND_LABEL = {"coop": "조합", "center": "지원센터", "municipality": "지자체"}


def find_org_by_name(*, session: Session, role: str, name: str) -> int | None:
    model = ORG_MODEL[role]
    found = session.exec(select(model).where(model.name == name)).first()  # type: ignore[attr-defined]
    return found.id if found else None


def save_user(
    *,
    session: Session,
    values: Mapping[str, str],
    user: User | None = None,
) -> User:
    """Create (user=None) or update a user.

    ``org_id`` is the id of the role's organization, either bare ("3", the CLI) or with its
    kind ("coop:3", the admin form, whose one select lists every kind of organization).
    """
    errors = (
        _require(values, "login", "display_name", "role")
        if user is None
        else _require(values, "display_name")
    )
    login = values.get("login", "").strip() if user is None else user.login
    role = values.get("role", "").strip() if user is None else user.role
    if user is None:
        if login and not _unique(session, User, "login", login, None):
            errors["login"] = f"'{login}' 아이디가 이미 있습니다."
        if login and (
            len(login) > 64 or not login.replace("-", "").replace("_", "").replace(".", "").isalnum()
        ):
            errors["login"] = "아이디는 64자 이하의 영문·숫자·-·_·. 만 쓸 수 있습니다."
    if role and role not in ROLES:
        errors["role"] = f"'{role}'은(는) 알 수 없는 역할입니다."
    org_id: int | None = None
    if role in ORG_FIELD:
        kind, sep, raw_id = values.get("org_id", "").strip().rpartition(":")
        if sep and kind != role:
            # Ids of different kinds overlap: "center:1" must never become cooperative 1.
            errors["org_id"] = (
                f"{ROLE_LABELS[role]} 역할에는 소속 {eul_reul(ORG_KIND_LABEL[role])} 선택하세요."
            )
        else:
            org_id = _parse_id(raw_id, "org_id", errors, ORG_MODEL[role], session)
        if org_id is None and "org_id" not in errors:
            errors["org_id"] = f"소속 {eul_reul(ORG_KIND_LABEL[role])} 선택하세요."
    elif role == "admin" and values.get("org_id", "").strip():
        errors["org_id"] = "운영 관리자는 소속 기관이 없습니다. '없음'을 고르세요."
    email = user.email if user is not None else ""
    if "email" in values:
        try:
            email = clean_email(values["email"])
        except FormError as exc:
            errors.update(exc.errors)
    password = values.get("password", "")
    if user is None and not password:
        errors["password"] = "필수 입력 항목입니다."  # noqa: S105 - a message
    password_hash = None
    if password:
        try:
            password_hash = hash_password(password)
        except PasswordTooShortError:
            errors["password"] = f"비밀번호는 {MIN_PASSWORD_LENGTH}자 이상이어야 합니다."
    if errors:
        raise FormError(errors)
    if user is None:
        assert password_hash is not None  # noqa: S101
        user = User(login=login, display_name="", password_hash=password_hash, role=role)
    elif password_hash:
        user.password_hash = password_hash
        user.session_epoch += 1  # a reset password ends every session opened with the old one
    user.display_name = values["display_name"].strip()
    user.email = email
    user.cooperative_id = user.center_id = user.municipality_id = None
    if role in ORG_FIELD:
        setattr(user, ORG_FIELD[role], org_id)
    session.add(user)
    session.flush()
    return user


def set_user_active(*, session: Session, user: User, active: bool) -> User:
    user.is_active = active
    if not active:
        user.session_epoch += 1  # their open sessions end now, not at the next page load only
    session.add(user)
    session.flush()
    return user
