"""Rule 1: the progress arithmetic (pure; no database).

A small synthetic model keeps every expected number visible in the test:

    prepare: p1 (municipality), p2 (center), p3 (coop)
    plan:    l1 (coop), l2 (center)
    execute: e1 (coop), e2 (municipality)
"""

from __future__ import annotations

from typing import Any

import pytest

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.services.progress import OpenEarlier, Ratio, compute_progress

STAGES = {
    "prepare": [("p1", "municipality"), ("p2", "center"), ("p3", "coop")],
    "plan": [("l1", "coop"), ("l2", "center")],
    "execute": [("e1", "coop"), ("e2", "municipality")],
}


def make_model(stages: dict[str, list[tuple[str, str]]] = STAGES) -> BusinessModel:
    data: dict[str, Any] = {
        "key": "test-model",
        "number": 1,
        "title": "시험 모델",
        "summary": "요약",
        "why": "이유",
        "guidebook": {
            "purpose": "목적",
            "highlights": "특징",
            "chapters": [{"number": 1, "title": "개요", "topics": ["주제"]}],
        },
        "case": {"name": "사례", "location": "어딘가", "points": ["요점"], "chapter": 1},
        "stages": [
            {
                "key": stage,
                "title": stage,
                "items": [{"key": key, "text": f"항목 {key}", "lead": lead} for key, lead in items],
            }
            for stage, items in stages.items()
        ],
    }
    return BusinessModel.model_validate(data)


MODEL = make_model()


def progress(**statuses: str):
    return compute_progress(model=MODEL, statuses=statuses)


def ratio(r: Ratio) -> tuple[int, int, int]:
    return (r.done, r.applicable, r.percent)


# --- overall, by stage, by role -----------------------------------------------------------------


def test_a_new_track_has_every_item_applicable_and_nothing_done() -> None:
    p = progress()
    assert ratio(p.overall) == (0, 7, 0)
    assert {s: ratio(r) for s, r in p.by_stage.items()} == {
        "prepare": (0, 3, 0),
        "plan": (0, 2, 0),
        "execute": (0, 2, 0),
    }
    assert {r: ratio(x) for r, x in p.by_role.items()} == {
        "municipality": (0, 2, 0),
        "center": (0, 2, 0),
        "coop": (0, 3, 0),
    }
    assert p.current_stage == "prepare"
    assert p.open_earlier == ()


def test_done_items_count_in_overall_stage_and_role() -> None:
    p = progress(p1="done", p2="done", l1="done", e1="doing")
    assert ratio(p.overall) == (3, 7, 42)  # 42.86 floored
    assert ratio(p.by_stage["prepare"]) == (2, 3, 66)
    assert ratio(p.by_stage["plan"]) == (1, 2, 50)
    assert ratio(p.by_stage["execute"]) == (0, 2, 0)
    assert ratio(p.by_role["municipality"]) == (1, 2, 50)
    assert ratio(p.by_role["center"]) == (1, 2, 50)
    assert ratio(p.by_role["coop"]) == (1, 3, 33)


def test_doing_and_todo_are_not_done() -> None:
    assert ratio(progress(p1="doing", p2="todo").overall) == (0, 7, 0)


def test_na_items_are_not_applicable_anywhere() -> None:
    p = progress(p1="na", l2="na", e1="done")
    assert ratio(p.overall) == (1, 5, 20)
    assert ratio(p.by_stage["prepare"]) == (0, 2, 0)
    assert ratio(p.by_stage["plan"]) == (0, 1, 0)
    assert ratio(p.by_role["municipality"]) == (0, 1, 0)
    assert ratio(p.by_role["center"]) == (0, 1, 0)
    assert ratio(p.by_role["coop"]) == (1, 3, 33)


def test_retired_keys_are_ignored() -> None:
    """Keys in the statuses that the model no longer has: kept for history, never counted."""
    p = progress(p1="done", gone="done", also_gone="na")
    assert ratio(p.overall) == (1, 7, 14)
    assert sum(r.applicable for r in p.by_role.values()) == 7


@pytest.mark.parametrize(
    ("done", "applicable", "percent"),
    [(0, 3, 0), (1, 3, 33), (2, 3, 66), (199, 200, 99), (1, 200, 0), (3, 3, 100), (0, 0, 0)],
)
def test_percent_floors(done: int, applicable: int, percent: int) -> None:
    assert Ratio(done, applicable).percent == percent
    assert Ratio(done, applicable).as_dict() == {"done": done, "applicable": applicable, "percent": percent}


def test_percent_is_100_only_when_every_applicable_item_is_done() -> None:
    almost = dict.fromkeys(("p1", "p2", "p3", "l1", "l2", "e1"), "done")
    assert progress(**almost).overall.percent == 85
    assert progress(**almost, e2="na").overall.percent == 100
    assert progress(**almost, e2="done").overall.percent == 100


def test_the_real_catalog_counts_every_item(catalog: Catalog) -> None:
    for model in catalog.models:
        p = compute_progress(model=model, statuses={})
        assert p.overall.applicable == len(model.items)
        assert sum(r.applicable for r in p.by_stage.values()) == len(model.items)
        assert sum(r.applicable for r in p.by_role.values()) == len(model.items)


# --- current stage ------------------------------------------------------------------------------


def test_current_stage_is_the_first_stage_with_an_open_applicable_item() -> None:
    assert progress(p1="done", p2="done").current_stage == "prepare"
    assert progress(p1="done", p2="done", p3="done").current_stage == "plan"
    assert progress(p1="done", p2="done", p3="na", l1="done", l2="na").current_stage == "execute"


def test_a_stage_whose_items_are_all_na_is_skipped() -> None:
    assert progress(p1="na", p2="na", p3="na").current_stage == "plan"


def test_current_stage_is_none_when_everything_is_done() -> None:
    every = dict.fromkeys(("p1", "p2", "p3", "l1", "l2", "e1", "e2"), "done")
    assert progress(**every).current_stage is None
    assert progress(**{**every, "e2": "na"}).current_stage is None
    assert progress(**{**every, "e2": "doing"}).current_stage == "execute"


# --- open earlier items -------------------------------------------------------------------------


def test_a_started_later_stage_flags_the_open_earlier_stage_with_its_count() -> None:
    p = progress(p1="done", l1="doing")
    assert p.open_earlier == (OpenEarlier(stage="plan", earlier="prepare", count=2),)


def test_a_done_item_in_a_later_stage_also_counts_as_started() -> None:
    assert progress(e1="done").open_earlier == (
        OpenEarlier(stage="execute", earlier="prepare", count=3),
        OpenEarlier(stage="execute", earlier="plan", count=2),
    )


def test_todo_and_na_in_a_later_stage_do_not_start_it() -> None:
    assert progress(l1="todo", l2="na").open_earlier == ()


def test_no_flag_once_the_earlier_stage_is_complete() -> None:
    assert progress(p1="done", p2="done", p3="na", l1="doing").open_earlier == ()


def test_the_open_count_excludes_done_and_na_items() -> None:
    p = progress(p1="na", p2="done", l2="doing")
    assert p.open_earlier == (OpenEarlier(stage="plan", earlier="prepare", count=1),)


def test_as_dict_has_the_shape_the_api_serves() -> None:
    d = progress(p1="done").as_dict()
    assert d["overall"] == {"done": 1, "applicable": 7, "percent": 14}
    assert set(d["by_stage"]) == {"prepare", "plan", "execute"}
    assert set(d["by_role"]) == {"municipality", "center", "coop"}
    assert d["current_stage"] == "prepare"
    assert d["open_earlier"] == []
    flagged = progress(l1="doing").as_dict()
    assert flagged["open_earlier"] == [{"stage": "plan", "earlier": "prepare", "count": 3}]
