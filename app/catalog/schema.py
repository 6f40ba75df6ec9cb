"""Pydantic schema of the content files (business models and actors).

Every model is frozen and forbids unknown fields, so a typo in a content file is
an error rather than silently ignored data, and the loaded catalog is immutable.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

LeadRole = Literal["municipality", "center", "coop"]
StageKey = Literal["prepare", "plan", "execute"]
STAGE_ORDER: tuple[StageKey, ...] = ("prepare", "plan", "execute")
LEAD_ROLES: tuple[LeadRole, ...] = ("municipality", "center", "coop")

# Keys end up in URLs, the database and API payloads: ASCII slugs only.
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(_Strict):
    """One of the bodies the guidebook names (국토교통부 … 마을조합)."""

    key: Slug
    name: Text
    short_name: Text = Field(description="Label used on badges, e.g. 지원센터")
    role: Text = Field(description="The guidebook's one-line description of its role")
    duties: tuple[Text, ...] = Field(default=(), description="Bullet points listed under it")


class About(_Strict):
    """What a 마을관리 사회적협동조합 is, as the guidebook introduces it."""

    title: Text
    tagline: Text
    definition: Text
    description: Text


class RolesFile(_Strict):
    """content/roles.yaml: what a 마을조합 is, and the actors and their roles."""

    about: About
    actors: tuple[Actor, ...] = Field(min_length=1)


class Item(_Strict):
    """One checklist line of a stage."""

    key: Slug = Field(description="Stable forever; never reuse a retired key")
    text: Text = Field(description="The guidebook's words, verbatim")
    note: Text | None = Field(default=None, description="The words after '*', verbatim")
    lead: LeadRole
    support: tuple[Slug, ...] = Field(default=(), description="Other actor keys involved")
    consignment: bool = Field(
        default=False,
        description="Must be settled before a 위탁 / 사용수익허가 / 임대 decision",
    )
    rationale: Text | None = Field(default=None, description="Why this lead, when not obvious")


class Stage(_Strict):
    key: StageKey
    title: Text
    subtitle: Text | None = None
    items: tuple[Item, ...] = Field(min_length=1)


class Chapter(_Strict):
    number: int = Field(ge=1)
    title: Text
    topics: tuple[Text, ...] = Field(min_length=1)


class Guidebook(_Strict):
    """What the full guidebook is for and what it covers (its CONTENTS table)."""

    purpose: Text
    highlights: Text
    chapters: tuple[Chapter, ...] = Field(min_length=1)


class Case(_Strict):
    """The PLUS case the summary cites."""

    name: Text
    location: Text
    points: tuple[Text, ...] = Field(min_length=1)
    chapter: int = Field(ge=1, description="Guidebook chapter the case refers to")


class BusinessModel(_Strict):
    """One business model file (content/NN-key.yaml)."""

    key: Slug
    number: int = Field(ge=1, le=6)
    title: Text
    summary: Text
    why: Text
    guidebook: Guidebook
    case: Case
    stages: tuple[Stage, ...]

    @field_validator("stages")
    @classmethod
    def _three_stages_in_order(cls, stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
        keys = [s.key for s in stages]
        if keys != list(STAGE_ORDER):
            missing = [k for k in STAGE_ORDER if k not in keys]
            extra = [k for k in keys if keys.count(k) > 1]
            detail = []
            if missing:
                detail.append("missing " + ", ".join(missing))
            if extra:
                detail.append("repeated " + ", ".join(sorted(set(extra))))
            if not detail:
                detail.append("got " + ", ".join(keys))
            raise ValueError(
                "needs exactly the stages prepare, plan, execute in that order (" + "; ".join(detail) + ")"
            )
        return stages

    @cached_property
    def items(self) -> tuple[tuple[StageKey, Item], ...]:
        """Every item with the stage it belongs to, in guidebook order."""
        return tuple((stage.key, item) for stage in self.stages for item in stage.items)

    @cached_property
    def item_stage(self) -> dict[str, StageKey]:
        return {item.key: stage for stage, item in self.items}

    def item(self, key: str) -> Item | None:
        for _, item in self.items:
            if item.key == key:
                return item
        return None
