"""THE progress arithmetic: one function, shown the same way on every page and in the API.

Applicable items exclude 해당 없음 (na) and retired items (state kept for history,
but the key is no longer in the content). Progress counts done items, verified or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.catalog.schema import LEAD_ROLES, STAGE_ORDER, BusinessModel, LeadRole, StageKey


@dataclass(frozen=True)
class Ratio:
    done: int
    applicable: int

    @property
    def percent(self) -> int:
        # Floor, so 100 % means every applicable item is done (never a rounded 99.6).
        return (self.done * 100) // self.applicable if self.applicable else 0

    def as_dict(self) -> dict[str, int]:
        return {"done": self.done, "applicable": self.applicable, "percent": self.percent}


@dataclass(frozen=True)
class OpenEarlier:
    """A later stage has work under way while an earlier stage still has open items."""

    stage: StageKey
    earlier: StageKey
    count: int


@dataclass(frozen=True)
class Progress:
    overall: Ratio
    by_stage: Mapping[StageKey, Ratio]
    by_role: Mapping[LeadRole, Ratio]
    current_stage: StageKey | None  # None: every applicable item is done (완료)
    open_earlier: tuple[OpenEarlier, ...]

    @property
    def key(self) -> tuple[object, ...]:
        """Everything it holds, hashable: what the rendered bars are cached under."""
        return (
            self.overall,
            tuple(self.by_stage.items()),
            tuple(self.by_role.items()),
            self.current_stage,
            self.open_earlier,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "overall": self.overall.as_dict(),
            "by_stage": {k: v.as_dict() for k, v in self.by_stage.items()},
            "by_role": {k: v.as_dict() for k, v in self.by_role.items()},
            "current_stage": self.current_stage,
            # Part of the progress the pages show ("준비 단계 미완료 항목 N개"): the API serves it too.
            "open_earlier": [
                {"stage": f.stage, "earlier": f.earlier, "count": f.count} for f in self.open_earlier
            ],
        }


def compute_progress(*, model: BusinessModel, statuses: Mapping[str, str]) -> Progress:
    """Progress of one track from its item statuses (item key → status; absent = todo)."""
    stage_counts = {s: [0, 0] for s in STAGE_ORDER}
    role_counts = {r: [0, 0] for r in LEAD_ROLES}
    started = dict.fromkeys(STAGE_ORDER, False)
    for stage, item in model.items:
        status = statuses.get(item.key, "todo")
        if status in ("doing", "done"):
            started[stage] = True
        if status == "na":
            continue
        done = int(status == "done")
        stage_counts[stage][0] += done
        stage_counts[stage][1] += 1
        role_counts[item.lead][0] += done
        role_counts[item.lead][1] += 1
    return progress_from_counts(
        by_stage={s: Ratio(*stage_counts[s]) for s in STAGE_ORDER},
        by_role={r: Ratio(*role_counts[r]) for r in LEAD_ROLES},
        started=started,
    )


def progress_from_counts(
    *, by_stage: Mapping[StageKey, Ratio], by_role: Mapping[LeadRole, Ratio], started: Mapping[StageKey, bool]
) -> Progress:
    """The rest of the arithmetic from the counts: also how a stored track summary becomes a Progress."""
    overall = Ratio(sum(r.done for r in by_stage.values()), sum(r.applicable for r in by_stage.values()))
    current = next((s for s in STAGE_ORDER if by_stage[s].done < by_stage[s].applicable), None)
    open_earlier = tuple(
        OpenEarlier(stage=later, earlier=earlier, count=by_stage[earlier].applicable - by_stage[earlier].done)
        for i, later in enumerate(STAGE_ORDER)
        if started[later]
        for earlier in STAGE_ORDER[:i]
        if by_stage[earlier].done < by_stage[earlier].applicable
    )
    return Progress(overall, dict(by_stage), dict(by_role), current, open_earlier)
