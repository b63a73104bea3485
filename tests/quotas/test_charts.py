"""The league's trend chart: with every county ending near the same figure, the end labels stay
readable (none overlaps the next) and inside the chart."""

import re
from datetime import date
from decimal import Decimal

from quotas.charts import trend_chart


def _end_labels(svg: str) -> list[float]:
    return [float(y) for y in re.findall(r'<text x="616\.0" y="([0-9.]+)"', svg)]


def test_22_counties_ending_together_get_labels_apart_and_inside_the_plot():
    months = [date(2026, m, 1) for m in range(1, 12)]
    series = {f"第{i}县总工会": [(m, Decimal("95") + Decimal(i) / 100) for m in months] for i in range(22)}
    svg = str(trend_chart(series))
    ys = sorted(_end_labels(svg))
    assert len(ys) == 22
    assert min(b - a for a, b in zip(ys, ys[1:], strict=False)) >= 11  # font-size 11: no overlap
    assert ys[0] >= 14 and ys[-1] <= 10 + 260 + 4  # inside the plot (top 10, plot 260)


def test_a_lone_label_stays_at_its_line():
    svg = str(
        trend_chart({"甲县总工会": [(date(2026, 1, 1), Decimal("50")), (date(2026, 2, 1), Decimal("50"))]})
    )
    (y,) = _end_labels(svg)
    assert abs(y - (10 + 260 - 260 * 50 / 100 + 4)) < 0.1
