"""Reading the catalog for people: filtering the checklist by the role it concerns."""

from __future__ import annotations

from dataclasses import dataclass

from app.catalog.schema import LEAD_ROLES, BusinessModel, Item, LeadRole, Stage


class UnknownRoleError(ValueError):
    def __init__(self, value: str):
        self.value = value
        super().__init__(value)


@dataclass(frozen=True)
class StageView:
    stage: Stage
    items: tuple[Item, ...]


def parse_role(value: str | None) -> LeadRole | None:
    """'' or None means every role; anything else must be a lead role key."""
    if not value:
        return None
    if value not in LEAD_ROLES:
        raise UnknownRoleError(value)
    return value


def concerns(item: Item, role: LeadRole | None) -> bool:
    """An item concerns a role when the role leads it or supports it."""
    return role is None or item.lead == role or role in item.support


def filter_stages(*, model: BusinessModel, role: LeadRole | None) -> tuple[StageView, ...]:
    return tuple(
        StageView(stage=stage, items=tuple(i for i in stage.items if concerns(i, role)))
        for stage in model.stages
    )
