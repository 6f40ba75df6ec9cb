"""The vendored htmx is the recorded file, from the 2.0.x line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"


def test_htmx_matches_its_record() -> None:
    record = json.loads((STATIC / "VENDORED.json").read_text("utf-8"))["htmx.min.js"]
    data = (STATIC / "htmx.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == record["sha256"]
    assert record["package"] == "htmx.org"
    assert record["version"].startswith("2.0.")
    assert f'version:"{record["version"]}"'.encode() in data


SWAGGER = STATIC.parent.parent / "vendor" / "swagger-ui"


def test_every_vendored_file_matches_its_record() -> None:
    for folder, expected in (
        (STATIC, {"htmx.min.js"}),
        (SWAGGER, {"swagger-ui-bundle.js", "swagger-ui.css"}),
    ):
        records = json.loads((folder / "VENDORED.json").read_text("utf-8"))
        assert set(records) == expected
        for name, record in records.items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == record["sha256"], name
