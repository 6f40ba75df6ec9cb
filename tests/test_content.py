"""The content folder: fidelity to the guidebook, the checker's messages, the editor schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from app.catalog import ContentError, check_content, load_catalog
from app.catalog.jsonschema import SCHEMA_FILES, render_schema
from app.cli import cli

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "guidebook_checklists.json").read_text("utf-8"))


def test_content_folder_is_valid() -> None:
    catalog, problems = check_content(CONTENT)
    assert problems == []
    assert catalog is not None
    assert [m.number for m in catalog.models] == [1, 2, 3, 4, 5, 6]
    assert catalog.item_count == 68
    assert sum(1 for m in catalog.models for _, item in m.items if item.note) == 7


@pytest.mark.parametrize("number", ["1", "2", "3", "4", "5", "6"])
def test_checklists_match_the_guidebook_verbatim(number: str) -> None:
    catalog = load_catalog(CONTENT)
    model = next(m for m in catalog.models if str(m.number) == number)
    for stage in model.stages:
        got = [{"text": i.text, "note": i.note} for i in stage.items]
        assert got == FIXTURE[number][stage.key], f"model {number} stage {stage.key}"


def test_guidebook_typos_are_kept() -> None:
    texts = [i.text for m in load_catalog(CONTENT).models for _, i in m.items]
    assert "지역주민의 사업 참여 기회 확대을 위한 주민 발굴" in texts


def test_stage_subtitles() -> None:
    catalog = load_catalog(CONTENT)
    subtitles = {(m.number, s.key): s.subtitle for m in catalog.models for s in m.stages if s.subtitle}
    assert subtitles == {
        (1, "prepare"): "구성 계획",
        (1, "plan"): "운영 준비",
        (4, "plan"): "사업 초기",
        (4, "execute"): "사업 운영",
    }


def test_roles_file_lists_the_five_actors() -> None:
    catalog = load_catalog(CONTENT)
    assert [a.name for a in catalog.actors] == [
        "국토교통부",
        "도시재생지원기구",
        "지자체",
        "도시재생지원센터",
        "마을조합",
    ]


def test_schema_json_is_up_to_date() -> None:
    for name, model in SCHEMA_FILES.items():
        assert (CONTENT / name).read_text("utf-8") == render_schema(model), (
            f"content/{name} is stale: run `maeul content schema content`"
        )


# --- the checker, one kind of bad file at a time ----------------------------------------------


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def _edit(folder: Path, name: str, change) -> None:
    path = folder / name
    data = yaml.safe_load(path.read_text("utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


def _problems(folder: Path) -> list[str]:
    catalog, problems = check_content(folder)
    assert catalog is None
    return problems


def test_unknown_lead_role_names_file_and_field(broken: Path) -> None:
    _edit(broken, "05-solar.yaml", lambda d: d["stages"][1]["items"][2].update(lead="mayor"))
    assert _problems(broken) == [
        "05-solar.yaml: stages[1].items[2].lead: 'mayor' is not one of municipality, center, coop"
    ]


def test_yaml_syntax_error_gives_the_line(broken: Path) -> None:
    path = broken / "02-village-restaurant.yaml"
    lines = path.read_text("utf-8").splitlines()
    lines[4] = "title: [unclosed"
    path.write_text("\n".join(lines), "utf-8")
    (problem,) = _problems(broken)
    assert problem.startswith("02-village-restaurant.yaml: line ")
    assert "YAML syntax error" in problem


def test_duplicate_yaml_mapping_key(broken: Path) -> None:
    path = broken / "03-public-parking.yaml"
    path.write_text(path.read_text("utf-8") + "\ntitle: 두 번째 제목\n", "utf-8")
    (problem,) = _problems(broken)
    assert problem.startswith("03-public-parking.yaml: line ")
    assert "duplicate key 'title'" in problem


def test_missing_field(broken: Path) -> None:
    _edit(broken, "01-hub-facility.yaml", lambda d: d["stages"][0]["items"][0].pop("text"))
    assert _problems(broken) == ["01-hub-facility.yaml: stages[0].items[0].text: required field is missing"]


def test_unknown_field(broken: Path) -> None:
    _edit(broken, "01-hub-facility.yaml", lambda d: d["stages"][2]["items"][1].update(colour="red"))
    assert _problems(broken) == ["01-hub-facility.yaml: stages[2].items[1].colour: unknown field"]


def test_empty_text(broken: Path) -> None:
    _edit(broken, "04-facility-maintenance.yaml", lambda d: d["stages"][0]["items"][1].update(text="  "))
    assert _problems(broken) == ["04-facility-maintenance.yaml: stages[0].items[1].text: must not be empty"]


def test_duplicate_item_key(broken: Path) -> None:
    def dup(d):
        d["stages"][1]["items"][0]["key"] = d["stages"][0]["items"][0]["key"]

    _edit(broken, "06-elderly-care.yaml", dup)
    (problem,) = _problems(broken)
    assert problem.startswith("06-elderly-care.yaml: stages[1].items[0].key: duplicate item key ")
    assert "also at stages[0].items[0].key" in problem


def test_duplicate_model_key(broken: Path) -> None:
    _edit(broken, "06-elderly-care.yaml", lambda d: d.update(key="solar"))
    assert _problems(broken) == [
        "06-elderly-care.yaml: key: duplicate model key 'solar' (also in 05-solar.yaml)"
    ]


def test_unknown_support_role(broken: Path) -> None:
    _edit(broken, "01-hub-facility.yaml", lambda d: d["stages"][0]["items"][0].update(support=["mayor"]))
    (problem,) = _problems(broken)
    assert problem.startswith("01-hub-facility.yaml: stages[0].items[0].support[0]: 'mayor' is not one of ")


def test_missing_stage(broken: Path) -> None:
    _edit(broken, "02-village-restaurant.yaml", lambda d: d["stages"].pop())
    assert _problems(broken) == [
        "02-village-restaurant.yaml: stages: needs exactly the stages prepare, plan, execute "
        "in that order (missing execute)"
    ]


def test_extra_stage(broken: Path) -> None:
    _edit(broken, "02-village-restaurant.yaml", lambda d: d["stages"].append(dict(d["stages"][0])))
    (problem,) = _problems(broken)
    assert problem.startswith("02-village-restaurant.yaml: stages: needs exactly the stages")
    assert "repeated prepare" in problem


def test_several_problems_are_all_reported(broken: Path) -> None:
    _edit(broken, "01-hub-facility.yaml", lambda d: d.pop("why"))
    _edit(broken, "05-solar.yaml", lambda d: d["stages"][0]["items"][0].update(lead="mayor"))
    problems = _problems(broken)
    assert len(problems) == 2
    assert problems[0].startswith("01-hub-facility.yaml: why:")
    assert problems[1].startswith("05-solar.yaml: stages[0].items[0].lead:")


def test_load_catalog_raises_with_the_same_lines(broken: Path) -> None:
    _edit(broken, "01-hub-facility.yaml", lambda d: d.pop("why"))
    with pytest.raises(ContentError) as err:
        load_catalog(broken)
    assert err.value.problems == ["01-hub-facility.yaml: why: required field is missing"]


def test_catalog_is_immutable() -> None:
    from pydantic import ValidationError

    model = load_catalog(CONTENT).models[0]
    with pytest.raises(ValidationError):
        model.title = "바뀐 제목"  # type: ignore[misc]


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_check_ok() -> None:
    result = CliRunner().invoke(cli, ["content", "check", str(CONTENT)])
    assert result.exit_code == 0, result.output
    assert "6 models, 68 items, 7 notes" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_check_broken(broken: Path) -> None:
    _edit(broken, "05-solar.yaml", lambda d: d["stages"][1]["items"][2].update(lead="mayor"))
    result = CliRunner().invoke(cli, ["content", "check", str(broken)])
    assert result.exit_code == 1
    assert "05-solar.yaml: stages[1].items[2].lead: 'mayor' is not one of municipality, center, coop" in (
        result.output
    )
