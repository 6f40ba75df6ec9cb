"""Load and check the content folder.

Every problem is reported as one line ``FILE: FIELD.PATH: what is wrong`` so an
editor can find it without reading code; the server refuses to start on any.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from app.catalog.schema import About, Actor, BusinessModel, Item, RolesFile

ROLES_FILE = "roles.yaml"
M = TypeVar("M", bound=BaseModel)


class ContentError(Exception):
    """The content folder is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Catalog:
    """The immutable, validated content: business models by number and actors by key."""

    about: About
    models: tuple[BusinessModel, ...]
    actors: tuple[Actor, ...]
    _by_key: Mapping[str, BusinessModel] = field(repr=False)
    _actors_by_key: Mapping[str, Actor] = field(repr=False)
    # Fingerprint of the models (sha256 of their canonical JSON, 16 hex): derived data such as
    # the track summaries remembers it, and is rebuilt when the content it followed changes.
    version: str = ""

    @classmethod
    def build(cls, about: About, models: Iterable[BusinessModel], actors: Iterable[Actor]) -> Catalog:
        ordered = tuple(sorted(models, key=lambda m: m.number))
        actor_list = tuple(actors)
        return cls(
            about=about,
            models=ordered,
            actors=actor_list,
            _by_key=MappingProxyType({m.key: m for m in ordered}),
            _actors_by_key=MappingProxyType({a.key: a for a in actor_list}),
            version=hashlib.sha256(
                json.dumps([m.model_dump(mode="json") for m in ordered], sort_keys=True).encode()
            ).hexdigest()[:16],
        )

    def model(self, key: str) -> BusinessModel | None:
        return self._by_key.get(key)

    def actor(self, key: str) -> Actor | None:
        return self._actors_by_key.get(key)

    @property
    def item_count(self) -> int:
        return sum(len(m.items) for m in self.models)


# --- YAML -------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML keeps the last silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> tuple[Any, str | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, f"{path.name}: not valid UTF-8 text (byte {exc.start})"
    try:
        return yaml.load(text, Loader=_StrictLoader), None  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return None, f"{path.name}: {where}YAML syntax error: {exc.problem or exc}"
    except yaml.YAMLError as exc:
        return None, f"{path.name}: YAML syntax error: {exc}"


# --- pydantic errors as FILE: PATH: message ---------------------------------


def _path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: Mapping[str, Any]) -> str:
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"{value!r} is not one of {expected}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not a valid key (lowercase ASCII letters, digits and single hyphens)"
    if kind == "too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return (
        f"{err['msg']} (got {value!r})"
        if value is not None and not isinstance(value, dict | list)
        else err["msg"]
    )


def _validate(schema: type[M], data: Any, filename: str, problems: list[str]) -> M | None:
    if not isinstance(data, dict):
        problems.append(f"{filename}: the file must be a mapping of fields, not {type(data).__name__}")
        return None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            where = _path(err["loc"]) or "(top level)"
            problems.append(f"{filename}: {where}: {_message(err)}")
        return None


# --- cross-file checks ------------------------------------------------------


def _item_paths(model: BusinessModel) -> Iterable[tuple[str, Item]]:
    for si, stage in enumerate(model.stages):
        for ii, item in enumerate(stage.items):
            yield f"stages[{si}].items[{ii}]", item


def _check_model(filename: str, model: BusinessModel, actor_keys: set[str], problems: list[str]) -> None:
    first_at: dict[str, str] = {}
    for path, item in _item_paths(model):
        if item.key in first_at:
            problems.append(
                f"{filename}: {path}.key: duplicate item key {item.key!r} (also at {first_at[item.key]}.key)"
            )
        else:
            first_at[item.key] = path
        for si, role in enumerate(item.support):
            if actor_keys and role not in actor_keys:
                problems.append(
                    f"{filename}: {path}.support[{si}]: {role!r} is not one of {', '.join(sorted(actor_keys))}"
                )
            elif role == item.lead:
                problems.append(f"{filename}: {path}.support[{si}]: {role!r} is already the lead")


def check_content(directory: Path | str) -> tuple[Catalog | None, list[str]]:
    """Validate a content folder; return the catalog (when valid) and the problems."""
    directory = Path(directory)
    problems: list[str] = []
    if not directory.is_dir():
        return None, [f"{directory}: content folder not found"]

    roles_path = directory / ROLES_FILE
    actors: tuple[Actor, ...] = ()
    about: About | None = None
    if roles_path.is_file():
        data, err = _read_yaml(roles_path)
        if err:
            problems.append(err)
        elif roles := _validate(RolesFile, data, ROLES_FILE, problems):
            actors, about = roles.actors, roles.about
            seen: set[str] = set()
            for i, actor in enumerate(actors):
                if actor.key in seen:
                    problems.append(f"{ROLES_FILE}: actors[{i}].key: duplicate actor key {actor.key!r}")
                seen.add(actor.key)
    else:
        problems.append(f"{ROLES_FILE}: file is missing from {directory}")
    actor_keys = {a.key for a in actors}

    models: list[BusinessModel] = []
    key_file: dict[str, str] = {}
    number_file: dict[int, str] = {}
    model_files = sorted(p for p in directory.glob("*.yaml") if p.name != ROLES_FILE)
    if not model_files:
        problems.append(f"{directory}: no business model files (*.yaml) found")
    for path in model_files:
        data, err = _read_yaml(path)
        if err:
            problems.append(err)
            continue
        model = _validate(BusinessModel, data, path.name, problems)
        if model is None:
            continue
        if model.key in key_file:
            problems.append(
                f"{path.name}: key: duplicate model key {model.key!r} (also in {key_file[model.key]})"
            )
        if model.number in number_file:
            problems.append(
                f"{path.name}: number: duplicate model number {model.number} (also in {number_file[model.number]})"
            )
        key_file.setdefault(model.key, path.name)
        number_file.setdefault(model.number, path.name)
        _check_model(path.name, model, actor_keys, problems)
        models.append(model)

    if problems or about is None:
        return None, problems
    return Catalog.build(about, models, actors), []


def load_catalog(directory: Path | str) -> Catalog:
    catalog, problems = check_content(directory)
    if catalog is None:
        raise ContentError(problems)
    return catalog
