"""The 현황판 charts as SVG, drawn by pygal from app.services.dashboard.Charts.

pygal embeds its stylesheet (and a config script) in the SVG, which the page's strict CSP
would block inline; so each chart is its own image URL (``<img>``: scripts never run there)
answered with a CSP that allows only the SVG's own styles. The numbers stand beside each
chart as a table on the page, for screen readers and print.
"""

from __future__ import annotations

import pygal
from pygal.style import Style

from app.services.dashboard import ROLE_LABELS, STAGE_LABELS, Charts

SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CHART_NAMES = ("stages", "activity", "roles")
FONT = "'Noto Sans CJK KR', 'Noto Sans KR', 'Malgun Gothic', sans-serif"
STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b2430",
    foreground_strong="#1b2430",
    foreground_subtle="#d9dee5",
    font_family=FONT,
    label_font_family=FONT,
    major_label_font_family=FONT,
    value_font_family=FONT,
    legend_font_family=FONT,
    title_font_family=FONT,
    label_font_size=15,
    major_label_font_size=15,
    legend_font_size=16,
    value_font_size=14,
    # 준비 / 계획 / 실행 / 완료: the app's brand, 지자체, 조합 and done colours.
    colors=("#8a4b08", "#1f4fa3", "#0b6b63", "#6b3fa0", "#4a5565"),
)


def _config() -> dict[str, object]:
    return {
        "style": STYLE,
        "js": [],  # no script from a CDN (nor any)
        "disable_xml_declaration": True,
        "width": 480,
        "height": 300,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 4,
        "print_values": False,
        "show_y_guides": True,
        "margin": 12,
    }


def _whole_numbers(top: int) -> list[int]:
    """Axis labels for counts: whole numbers only, at most about six of them."""
    step = max(1, -(-top // 5))
    return list(range(0, top + step + 1, step))


def render(name: str, charts: Charts) -> str:
    """The SVG of chart ``name`` (one of CHART_NAMES)."""
    chart: pygal.graph.graph.Graph
    if name == "stages":
        chart = pygal.StackedBar(**_config(), x_label_rotation=0, truncate_label=-1)
        # Model numbers (①–⑥) fit under any number of bars; the table beside names them in full.
        chart.x_labels = [f"{m.number}번" for m, _ in charts.stage_by_model]
        for stage, label in STAGE_LABELS.items():
            chart.add(label, [counts[stage] for _, counts in charts.stage_by_model])
        chart.y_labels = _whole_numbers(max((sum(c.values()) for _, c in charts.stage_by_model), default=0))
    elif name == "activity":
        chart = pygal.Bar(**_config(), show_legend=False, x_label_rotation=-45)
        chart.x_labels = [start.strftime("%m/%d") for start, _ in charts.weeks]
        chart.add("활동", [n for _, n in charts.weeks])
        chart.y_labels = _whole_numbers(max((n for _, n in charts.weeks), default=0))
    elif name == "roles":
        chart = pygal.HorizontalBar(**_config(), range=(0, 100), show_legend=False)
        # Drawn bottom-up: reversed, so it reads top-down in the table's order. No bar where
        # nothing applies (that is not 0 %).
        roles = list(reversed(list(charts.by_role.items())))
        chart.x_labels = [ROLE_LABELS[r] for r, _ in roles]
        chart.add("완료율(%)", [ratio.percent if ratio.applicable else None for _, ratio in roles])
    else:
        raise ValueError(name)
    return str(chart.render(is_unicode=True))
