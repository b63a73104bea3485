"""Server-rendered SVG charts: no JavaScript, no CDN, readable in a printed page or a screenshot."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

RED = "#c0272d"
GREEN = "#1a7f37"
GREY = "#98a2b3"
INK = "#1f2328"
FONT = 'font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif"'


def _num(value: Decimal | float | None) -> float:
    return float(value or 0)


def completion_bars(rows: Sequence[tuple[str, Decimal | None]], *, title: str = "") -> SafeString:
    """Horizontal bars: completion (%) per county, a dashed line at 100% (the year's target)."""
    label_w, bar_w, row_h, top = 190, 560, 22, 30 if title else 8
    scale_max = max([100.0] + [_num(v) for _, v in rows])
    scale_max = (int(scale_max / 20) + 1) * 20 if scale_max > 100 else 100
    height = top + row_h * len(rows) + 26
    width = label_w + bar_w + 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" {FONT} font-size="12">'
    ]
    if title:
        parts.append(
            f'<text x="0" y="16" font-size="14" font-weight="600" fill="{INK}">{escape(title)}</text>'
        )
    for tick in range(0, scale_max + 1, 20 if scale_max <= 200 else 50):
        x = label_w + bar_w * tick / scale_max
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 22}" stroke="#eaecf0"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="#667085">{tick}%</text>')
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        v = _num(value)
        w = bar_w * min(v, scale_max) / scale_max
        color = GREEN if v >= 100 else RED
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" fill="{INK}">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{color}" rx="2">'
            f"<title>{escape(label)}：{'—' if value is None else f'{v:.2f}%'}</title></rect>"
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" fill="{INK}">'
            f"{'—' if value is None else f'{v:.1f}%'}</text>"
        )
    x100 = label_w + bar_w * 100 / scale_max
    parts.append(
        f'<line x1="{x100:.1f}" y1="{top}" x2="{x100:.1f}" y2="{height - 22}" stroke="{INK}" '
        f'stroke-dasharray="4 3"><title>年度任务 100%</title></line>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every label above is escaped


def sparkline(points: Sequence[Decimal | None], *, width: int = 120, height: int = 28) -> SafeString:
    """A small completion trend for a table cell (0–100% and above), with the 100% line."""
    values = [_num(p) for p in points]
    if not values:
        return mark_safe("")
    top = max(100.0, *values)
    step = width / max(1, len(values) - 1)

    def y(v: float) -> float:
        return height - 2 - (height - 4) * v / top

    coords = " ".join(f"{i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    last = values[-1]
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-hidden="true">'
        f'<line x1="0" y1="{y(100):.1f}" x2="{width}" y2="{y(100):.1f}" stroke="{GREY}" stroke-dasharray="2 2"/>'
        f'<polyline points="{coords}" fill="none" stroke="{RED}" stroke-width="1.6"/>'
        f'<circle cx="{(len(values) - 1) * step:.1f}" cy="{y(last):.1f}" r="2.2" fill="{RED}"/></svg>'
    )


def trend_chart(
    series: dict[str, Sequence[tuple[date, Decimal | None]]], *, title: str = "", highlight: str | None = None
) -> SafeString:
    """Completion (%) across months, one line per county; `highlight` draws one line in red and
    the others in grey, so a county sees itself against the rest."""
    width, height, left, right, top, bottom = 760, 300, 46, 150, 30 if title else 10, 30
    months = sorted({m for pts in series.values() for m, _ in pts})
    if not months:
        return mark_safe("")
    top_value = max([100.0] + [_num(v) for pts in series.values() for _, v in pts])
    top_value = (int(top_value / 20) + 1) * 20 if top_value > 100 else 100
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(months) - 1)
    index = {m: i for i, m in enumerate(months)}

    def xy(m: date, v: float) -> tuple[float, float]:
        return left + index[m] * step, top + plot_h - plot_h * v / top_value

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" {FONT} font-size="11">'
    ]
    if title:
        parts.append(
            f'<text x="0" y="16" font-size="14" font-weight="600" fill="{INK}">{escape(title)}</text>'
        )
    for tick in range(0, top_value + 1, 20):
        _, ty = xy(months[0], tick)
        style = 'stroke="#667085" stroke-dasharray="4 3"' if tick == 100 else 'stroke="#eaecf0"'
        parts.append(
            f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" {style}/>'
            f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" fill="#667085">{tick}%</text>'
        )
    for m in months:
        mx, _ = xy(m, 0)
        parts.append(
            f'<text x="{mx:.1f}" y="{height - 10}" text-anchor="middle" fill="#667085">{m.month}月</text>'
        )
    ordered = sorted(series.items(), key=lambda kv: kv[0] == highlight)
    labels: list[tuple[float, str, str]] = []  # (y, text, color): placed after, without overlaps
    for name, pts in ordered:
        pts = [(m, _num(v)) for m, v in pts if v is not None]
        if not pts:
            continue
        is_main = highlight is None or name == highlight
        color = RED if name == highlight else (GREY if highlight else _palette(name))
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(m, v) for m, v in pts))
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="{2.4 if is_main else 1}" '
            f'opacity="{1 if is_main else 0.6}"><title>{escape(name)}</title></polyline>'
        )
        if is_main:
            _, ly = xy(*pts[-1])
            labels.append((ly + 4, f"{name} {pts[-1][1]:.1f}%", color))
    for ly, text, color in _spread(sorted(labels), low=top + 4, high=top + plot_h + 4):
        parts.append(f'<text x="{left + plot_w + 6:.1f}" y="{ly:.1f}" fill="{color}">{escape(text)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every label above is escaped


def _spread(labels: list[tuple[float, str, str]], *, low: float, high: float) -> list:
    """End labels moved apart so none overlaps the next (12 px, or as much as the plot allows for
    the 22 counties of a city), kept inside [low, high]: pushed down from the top, then up from
    the bottom, each as near its line's end as the others let it."""
    if not labels:
        return []
    gap = min(12.0, (high - low) / max(1, len(labels) - 1))
    ys = [max(low, min(high, y)) for y, _, _ in labels]
    for i in range(1, len(ys)):
        ys[i] = max(ys[i], ys[i - 1] + gap)
    ys[-1] = min(ys[-1], high)
    for i in range(len(ys) - 2, -1, -1):
        ys[i] = min(ys[i], ys[i + 1] - gap)
    return [(y, text, color) for y, (_, text, color) in zip(ys, labels, strict=True)]


_COLORS = ["#c0272d", "#1849a9", "#1a7f37", "#b54708", "#6941c6", "#0e7090", "#c11574", "#4e5ba6"]


def _palette(name: str) -> str:
    return _COLORS[sum(map(ord, name)) % len(_COLORS)]
