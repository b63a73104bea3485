"""Server-rendered SVG for the analytics pages, in the style of quotas/charts.py (which stays as
it is): horizontal paired bars, every label escaped, no JavaScript."""

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from quotas.charts import FONT, GREY, INK, RED

COLORS = (RED, GREY)


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1f}%"
    if value >= 10000:
        return f"{value / 10000:.1f}万"
    return f"{value:,.0f}"


def paired_bars(
    rows: Sequence[tuple[str, Decimal | int | None, Decimal | int | None]],
    *,
    legend: tuple[str, str],
    title: str = "",
    unit: str = "",
) -> SafeString:
    """Two bars per row (e.g. this month and last, or 30 and 90 days), scaled to the largest."""
    label_w, bar_w, pair_h, top = 150, 480, 30, 46 if title else 26
    values = [float(v or 0) for _, a, b in rows for v in (a, b)]
    top_value = max([1.0, *values]) if unit != "%" else max([100.0, *values])
    height = top + pair_h * len(rows) + 8
    width = label_w + bar_w + 90
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" {FONT} font-size="12">'
    ]
    if title:
        parts.append(
            f'<text x="0" y="16" font-size="14" font-weight="600" fill="{INK}">{escape(title)}</text>'
        )
    legend_y = top - 10
    for i, name in enumerate(legend):
        x = label_w + i * 150
        parts.append(
            f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{COLORS[i]}"/>'
            f'<text x="{x + 14}" y="{legend_y}" fill="{INK}">{escape(name)}</text>'
        )
    for i, (label, a, b) in enumerate(rows):
        y = top + i * pair_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" fill="{INK}">{escape(label)}</text>'
        )
        for j, value in enumerate((a, b)):
            v = float(value or 0)
            w = bar_w * min(v, top_value) / top_value
            shown = "—" if value is None else _fmt(v, unit)
            parts.append(
                f'<rect x="{label_w}" y="{y + 3 + j * 12}" width="{w:.1f}" height="10" fill="{COLORS[j]}" rx="2">'
                f"<title>{escape(label)} {escape(legend[j])}：{shown}</title></rect>"
                f'<text x="{label_w + w + 5:.1f}" y="{y + 12 + j * 12}" font-size="10" fill="{INK}">{shown}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every label above is escaped
