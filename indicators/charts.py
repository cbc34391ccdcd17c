"""Server-rendered SVG charts of the national pages (SPEC §5): the distribution of the
site values of one indicator year and the trend over the indicator years.

Pure: no database access. The functions take plain values and already loaded
definitions / statistics and return dicts of geometry that the template
``indicators/national_indicator.html`` prints as inline SVG (CSP-safe, no script).
Coordinates are strings with a point ("12.50"), never localised: "12,5" would break
SVG. Colours and strokes live in ``qiportal.css`` (classes ``bar``, ``bar--missed``,
``bar--outside``, ``bar--zero``, ``chart__*``).

Values: rates are fractions 0..1 (``Fraction``/``Decimal``), counts integers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction

from django.utils.translation import gettext as _

from . import domain
from .models import IndicatorDefinition
from .selectors import IndicatorTrendPoint
from .statistics import IndicatorStatistics
from .tables import format_count, format_percent, format_value

CHART_W, CHART_H = 720, 300  # viewBox, in SVG user units (px at 100 %)

# Chart text (issue 9): the SVG scales with its box, so a font size in user units
# shrinks on a phone (12 units are 5 px in the 308 px a chart gets at 390 px). The
# stylesheet (block "issue 9" in static/css/qiportal.css) sets the size per viewport
# band so that it renders >= MIN_TEXT_PX; these are the same bands, for the geometry
# below and for tests/indicators/test_charts.py, which holds the two together.
MIN_TEXT_PX = 11
TEXT_SIZES: tuple[tuple[int | None, int], ...] = ((480, 26), (768, 20), (960, 12), (None, 15))
"""(up to this viewport width in CSS px, None = wider; font size in user units)."""
CHART_GUTTER_PX = 82
"""Viewport width minus the width of a chart below the two-column layout (page and
card padding, borders), measured in Chromium at 320-900 px."""
TEXT_MAX = max(size for _width, size in TEXT_SIZES)

# Room for the text at its largest size: y labels ("100,0 %", 7 characters of at most
# 0.6 em) left of the plot, the target label above a line at 100 %, the years and the
# x axis label below it.
PAD_L = round(7 * 0.6 * TEXT_MAX) + 12
PAD_R = 16
PAD_T = round(TEXT_MAX * 1.15)
PAD_B = round(TEXT_MAX * 2.5)
MIN_BAR_H = 3.0
"""Least height of a bar, so a site at 0 (or a tiny value) stays visible above the
x axis (1.5 px stroke) in its flag colour."""


def text_size(viewport_px: int) -> int:
    """The chart font size in user units the stylesheet gives at ``viewport_px``."""
    for up_to, size in TEXT_SIZES:
        if up_to is None or viewport_px <= up_to:
            return size
    raise AssertionError("TEXT_SIZES ends with a band without bound")  # pragma: no cover


def _f(x: float) -> str:
    """An SVG coordinate: two decimals, always a point."""
    return f"{x:.2f}"


def _nice_max(value: float) -> float:
    """A round upper bound of a count axis (1, 2, 2.5, 5 × 10^k) at least ``value``;
    1 for ``value`` <= 0."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return value


class _Axis:
    """The y axis: maps a value (fraction 0..1 for rates, a number for counts) to an
    SVG y coordinate. Rates run 0..100 %; counts 0..a round bound above ``top``."""

    def __init__(self, *, is_count: bool, top: float) -> None:
        self.is_count = is_count
        self.top = 1.0 if not is_count else _nice_max(top * 1.05)
        self.plot_h = CHART_H - PAD_T - PAD_B

    def y(self, value) -> float:
        """y of ``value``, clamped to the axis range."""
        v = min(max(float(value), 0.0), self.top)
        return PAD_T + self.plot_h * (1 - v / self.top)

    def ticks(self) -> list[dict]:
        """Five grid lines (0, ¼, ½, ¾, top) as ``{"y": str, "label": str}``, labels
        in the active language ("50,0 %")."""
        out = []
        for i in range(5):
            v = self.top * i / 4
            label = format_count(Decimal(str(v))) if self.is_count else format_percent(Decimal(str(v)))
            out.append({"y": _f(self.y(v)), "label": label})
        return out


def _rule_lines(definition: IndicatorDefinition, axis: _Axis, x0: float, x1: float) -> dict:
    """Target line (``"target"``) and corridor band between the strict bounds
    (``"corridor"``) of a definition; keys absent when the definition has none."""
    out: dict = {}
    if definition.target_value is not None and definition.target_op:
        y = axis.y(definition.target_value)
        out["target"] = {
            "x1": _f(x0),
            "x2": _f(x1),
            "y": _f(y),
            "label_y": _f(y - 4),
            "label": _("Target %(target)s") % {"target": definition.target_display()},
        }
    if definition.corridor_lower is not None or definition.corridor_upper is not None:
        low = definition.corridor_lower if definition.corridor_lower is not None else 0
        high = definition.corridor_upper if definition.corridor_upper is not None else axis.top
        y_top, y_bottom = axis.y(high), axis.y(low)
        out["corridor"] = {"x": _f(x0), "width": _f(x1 - x0), "y": _f(y_top), "height": _f(max(y_bottom - y_top, 0.5))}
    return out


def distribution_chart(
    values: Iterable[tuple[int, int | None]],
    definition: IndicatorDefinition,
    stats: IndicatorStatistics,
) -> dict | None:
    """Bars of the evaluable sites' rates (or counts), sorted ascending and anonymous,
    with the target line, the plausibility corridor band and the median.

    ``values`` are (numerator, denominator) per site, as from
    ``indicators.selectors.indicator_site_values``; for a rate indicator a site with
    denominator 0 or None is not evaluable and left out. Returns None when no site is
    evaluable. Each bar: ``x``, ``y``, ``width``, ``height`` (SVG strings), ``class``
    (``bar`` plus ``bar--missed`` below the target, ``bar--outside`` outside the
    corridor, ``bar--zero`` at value 0) and a text ``title``. Every bar is at least
    ``MIN_BAR_H`` high, so "6 sites at 0" shows as 6 low bars in their flag colour.
    ``n_zero`` counts the sites at 0.
    """
    rule = definition.rule()
    is_count = definition.is_count
    points = sorted(((Fraction(n) if is_count else Fraction(n, d)), n, d) for n, d in values if is_count or d)
    if not points:
        return None
    top = max(
        [float(p[0]) for p in points] + [float(definition.target_value or 0), float(definition.corridor_upper or 0)]
    )
    axis = _Axis(is_count=is_count, top=top)
    x0, x1 = PAD_L, CHART_W - PAD_R
    y0 = axis.y(0)
    slot = (x1 - x0) / len(points)
    width = max(slot * 0.8, 0.6)
    bars = []
    for i, (value, n, d) in enumerate(points):
        missed = domain.meets_target(n, d, rule) is False
        outside = domain.corridor_position(n, d, rule) not in (None, 0)
        classes = (
            "bar"
            + (" bar--missed" if missed else "")
            + (" bar--outside" if outside else "")
            + (" bar--zero" if value == 0 else "")
        )
        height = max(y0 - axis.y(value), MIN_BAR_H)
        bars.append(
            {
                "x": _f(x0 + i * slot + (slot - width) / 2),
                "y": _f(y0 - height),
                "width": _f(width),
                "height": _f(height),
                "class": classes,
                "title": _("Site %(rank)d of %(n)d: %(value)s")
                % {"rank": i + 1, "n": len(points), "value": format_value(value, is_count=is_count)},
            }
        )
    chart = {
        "width": CHART_W,
        "height": CHART_H,
        "bars": bars,
        "ticks": axis.ticks(),
        "x0": _f(x0),
        "x1": _f(x1),
        "y0": _f(y0),
        "label_x": _f(PAD_L - 6),
        "axis_label_x": _f((x0 + x1) / 2),
        "axis_label_y": _f(CHART_H - TEXT_MAX * 0.3),
        "n": len(points),
        "n_zero": sum(1 for p in points if p[0] == 0),
        "any_missed": any("missed" in b["class"] for b in bars),
        "any_outside": any("outside" in b["class"] for b in bars),
    }
    if stats.median is not None:
        chart["median"] = {"y": _f(axis.y(stats.median)), "label": format_value(stats.median, is_count=is_count)}
    chart.update(_rule_lines(definition, axis, x0, x1))
    return chart


def trend_chart(points: Sequence[IndicatorTrendPoint], *, is_count: bool) -> dict | None:
    """Pooled rate (rates) or median (counts) per indicator year with the 25th–75th
    percentile range as a whisker; for rates also the median as a dotted line.

    ``points`` as from ``indicators.selectors.indicator_trend`` (oldest first); years
    without evaluable sites are skipped. A new polyline starts where the definition's
    ``series`` changes (``series_break``, SPEC §5), and ``breaks`` carries a label per
    break ("from 2024: KJ2024 KeZa 20"). ``rows`` repeats the values as formatted text
    for the table under the chart. None without points.
    """
    points = [p for p in points if p.statistics.n_sites]
    if not points:
        return None
    first, last = points[0].indicator_year, points[-1].indicator_year
    n_slots = last - first + 1
    x0, x1 = PAD_L, CHART_W - PAD_R
    slot = (x1 - x0) / n_slots

    def x(year: int) -> float:
        return x0 + (year - first + 0.5) * slot

    def main_value(p):
        return p.statistics.median if is_count else p.statistics.pooled_rate

    top = max(float(p.statistics.p75 or 0) for p in points)
    top = max([top] + [float(main_value(p) or 0) for p in points])
    axis = _Axis(is_count=is_count, top=top)
    segments: list[list] = []
    for p in points:
        if not segments or p.series_break:
            segments.append([])
        segments[-1].append(p)
    lines, breaks, rows = [], [], []
    for seg in segments:
        coords = [(x(p.indicator_year), axis.y(main_value(p))) for p in seg if main_value(p) is not None]
        medians = [(x(p.indicator_year), axis.y(p.statistics.median)) for p in seg if p.statistics.median is not None]
        lines.append(
            {
                "points": " ".join(f"{_f(a)},{_f(b)}" for a, b in coords),
                "dots": [{"cx": _f(a), "cy": _f(b)} for a, b in coords],
                "median": " ".join(f"{_f(a)},{_f(b)}" for a, b in medians) if not is_count else "",
            }
        )
        if seg is not segments[0]:
            d = seg[0].definition
            breaks.append(
                {
                    "x": _f(x(seg[0].indicator_year) - slot / 2),
                    "year": seg[0].indicator_year,
                    "label": _("from %(year)d: %(version)s KeZa %(code)s")
                    % {"year": seg[0].indicator_year, "version": d.version_id, "code": d.code},
                }
            )
    for p in points:
        s = p.statistics
        rows.append(
            {
                "year": p.indicator_year,
                "version": p.definition.version_id,
                "code": p.definition.code,
                "n_sites": s.n_sites,
                "series_break": p.series_break,
                "main": format_value(main_value(p), is_count=is_count),
                "median": format_value(s.median, is_count=is_count),
                "p25": format_value(s.p25, is_count=is_count),
                "p75": format_value(s.p75, is_count=is_count),
                "whisker": {"x": _f(x(p.indicator_year)), "y1": _f(axis.y(s.p25)), "y2": _f(axis.y(s.p75))}
                if s.p25 is not None and s.p75 is not None
                else None,
            }
        )
    return {
        "width": CHART_W,
        "height": CHART_H,
        "lines": lines,
        "breaks": breaks,
        "rows": rows,
        "ticks": axis.ticks(),
        "x0": _f(x0),
        "x1": _f(x1),
        "y0": _f(axis.y(0)),
        "label_x": _f(PAD_L - 6),
        "year_y": _f(CHART_H - PAD_B + TEXT_MAX * 1.1),
        "years": [{"x": _f(x(y)), "label": str(y)} for y in range(first, last + 1)],
        "y_top": _f(PAD_T),
        "is_count": is_count,
    }
