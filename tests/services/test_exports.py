"""CSV exports: spreadsheet-safe cells, Korean readable in Excel."""

from __future__ import annotations

import csv
import io

import pytest

from app.services.exports import BOM, safe_cell, to_csv


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_like_cells_are_neutralised(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["사무국장", "2026-11-24", "상태: 미착수 → 완료", 42, ""])
def test_plain_cells_are_unchanged(value: object) -> None:
    assert safe_cell(value) == str(value)


def test_csv_has_bom_header_and_rows() -> None:
    text = to_csv(["a", "b"], [["=1+1", "한글"]])
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert rows == [["a", "b"], ["'=1+1", "한글"]]
