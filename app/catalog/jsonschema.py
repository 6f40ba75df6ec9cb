"""JSON Schemas for editors, generated from the pydantic content models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.catalog.schema import BusinessModel, RolesFile

SCHEMA_FILES: dict[str, type[BusinessModel] | type[RolesFile]] = {
    "schema.json": BusinessModel,
    "roles.schema.json": RolesFile,
}


def render_schema(model: type[BusinessModel] | type[RolesFile]) -> str:
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **model.model_json_schema(),
    }
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    written = []
    for name, model in SCHEMA_FILES.items():
        path = directory / name
        path.write_text(render_schema(model), encoding="utf-8")
        written.append(path)
    return written
