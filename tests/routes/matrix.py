"""The permission matrix's vocabulary, shared by tests/routes/test_permissions.py and the
per-feature parts (tests/routes/matrix_*.py) it merges."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.factories import World

WHO = ("anon", "coop_a", "coop_b", "center", "municipality", "admin")


@dataclass(frozen=True)
class Case:
    """Expected status per visitor; ``params`` and ``data`` are built from the world."""

    expect: dict[str, int]
    params: Callable[[World], dict[str, Any]] = lambda w: {}
    data: Callable[[World, str], dict[str, Any]] | None = None
    json: Callable[[World], Any] | None = None
    api: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def everyone(code: int) -> dict[str, int]:
    return dict.fromkeys(WHO, code)


def members(code: int, anon: int = 303, **overrides: int) -> dict[str, int]:
    return {"anon": anon, **dict.fromkeys(WHO[1:], code), **overrides}


ADMIN_ONLY = {"anon": 303, "coop_a": 403, "coop_b": 403, "center": 403, "municipality": 403, "admin": 200}


def admin_only(code: int) -> dict[str, int]:
    return {**ADMIN_ONLY, "admin": code}


def coop_a(w: World) -> dict[str, Any]:
    return {"cooperative_id": w.coop_a.id}


def track(w: World, **more: Any) -> dict[str, Any]:
    return {"track_id": w.extra["track"].id, **more}


def with_version(w: World, who: str) -> dict[str, Any]:
    return {"version": "0", "status": "doing"}


COOP_ITEM = "operating-plan"  # hub-facility, led by the cooperative
CENTER_ITEM = "space-workshop"  # led by the center; done and verified in the setup
DECISION_FORM = {
    "outcome": "conditional",
    "decided_on": "2026-11-20",
    "document_number": "도시재생과-1234",
    "conditions": "운영규정 보완",
}
MUNI_ITEM = "management-method"  # led by the 지자체, consignment; set to done in the setup
