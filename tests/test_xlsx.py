"""The streaming xlsx writer, read back by openpyxl (what Excel and LibreOffice read too)."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import openpyxl
import pytest

from app import xlsx


def _read(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def test_values_formats_and_layout_round_trip() -> None:
    rows = [
        ["가 마을조합", 3, 0.25, date(2026, 11, 24), datetime(2026, 11, 24, 9, 30), None, "  공백  "],
        ['<&> "따옴표"', -1, 1.0, None, None, "", "제어\x01문자"],
    ]
    table = xlsx.Sheet(
        "현황판",
        ("조합", "수", "비율", "날짜", "시각", "빈칸", "문자"),
        iter(rows),
        widths=(30, 8, 8, 12, 18, 6, 10),
        freeze="B2",
        autofilter=True,
        formats={2: "percent", 3: "date"},
    )
    about = xlsx.Sheet("조건", ("항목", "값"), iter([["행 수", 2]]))
    wb = _read(xlsx.workbook([table, about]))
    assert wb.sheetnames == ["현황판", "조건"]
    ws = wb["현황판"]
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref == "A1:G3"
    assert ws["A1"].font.bold and not ws["A2"].font.bold
    assert ws.column_dimensions["A"].width == 30
    assert ws["C2"].number_format == "0%" and ws["D2"].number_format == "yyyy-mm-dd"
    assert ws["E2"].number_format == "yyyy-mm-dd hh:mm"
    got = [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert got[0][:3] == ["가 마을조합", 3, 0.25]
    assert got[0][3] == datetime(2026, 11, 24) and got[0][4] == datetime(2026, 11, 24, 9, 30)
    assert got[0][5] is None and got[0][6] == "  공백  "
    assert got[1][:3] == ['<&> "따옴표"', -1, 1.0]
    assert got[1][6] == "제어문자"  # characters XML cannot hold are dropped, not an error
    assert table.count == 2
    assert [list(r) for r in wb["조건"].iter_rows(values_only=True)] == [["항목", "값"], ["행 수", 2]]


def test_rows_are_streamed_not_collected() -> None:
    seen = []

    def rows():
        for n in range(3):
            seen.append(n)
            yield [n]

    sheet = xlsx.Sheet("s", ("n",), rows())
    assert seen == []  # nothing read before writing
    data = xlsx.workbook([sheet])
    assert seen == [0, 1, 2] and sheet.count == 3
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        assert "xl/worksheets/sheet1.xml" in z.namelist()


@pytest.mark.parametrize(("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")])
def test_column_letters(index: int, letters: str) -> None:
    assert xlsx.column_letter(index) == letters
