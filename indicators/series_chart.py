"""The deviation page's chart (issue 9): one site's values of an indicator series over
the indicator years, with the national median per year and the target.

Pure: no database access; takes ``indicators.selectors.SeriesYear`` points. Built from
the helpers of ``indicators.charts`` (axis, coordinates, target line) on a smaller
canvas, so its text (14 SVG units in a 360-unit-wide viewBox) stays at least 11 px on a
390 px phone. The template prints it as inline SVG (CSP-safe; classes in
``qiportal.css``: ``chart__*``, ``series-chart*``).

Values: rates are fractions 0..1, counts integers; labels in the active locale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.translation import gettext as _

from .charts import _Axis, _f, _rule_lines
from .models import IndicatorDefinition
from .selectors import SeriesYear
from .tables import flag_badges, format_value

WIDTH, HEIGHT = 360, 220  # viewBox in SVG units
PAD_L, PAD_R, PAD_T, PAD_B = 66, 12, 16, 30
TEXT = 14
"""Font size of the chart text in SVG units (``qiportal.css``): 12 px in the 308 px a
chart gets on a 390 px phone. A year label ("2024") takes about 4 × 0.6 em."""
YEAR_LABEL_W = 4 * 0.6 * TEXT + 6


class _SeriesAxis(_Axis):
    """``charts._Axis`` on this chart's canvas (its own height and top padding)."""

    def __init__(self, *, is_count: bool, top: float) -> None:
        super().__init__(is_count=is_count, top=top)
        self.plot_h = HEIGHT - PAD_T - PAD_B

    def y(self, value) -> float:
        v = min(max(float(value), 0.0), self.top)
        return PAD_T + self.plot_h * (1 - v / self.top)


def series_chart(points: Sequence[SeriesYear], *, definition: IndicatorDefinition, current_year: int) -> dict | None:
    """Geometry and table rows of the site's series chart; None without points.

    ``definition``: the deviation's definition (its target is drawn as the target line
    and its kind decides rate or count axis); ``current_year``: the deviation's year,
    whose dot is marked. The site's values form a line broken where a year is missing
    or not evaluable; the national median (where known) a dotted line with square
    marks. ``rows``: per year ``{"year", "version", "code", "value", "flags", "median",
    "target", "current"}`` as formatted text for the table beside the chart.
    """
    if not points:
        return None
    is_count = definition.is_count
    first, last = points[0].indicator_year, points[-1].indicator_year
    slot = (WIDTH - PAD_R - PAD_L) / (last - first + 1)
    x0, x1 = PAD_L, WIDTH - PAD_R
    year_step = math.ceil(YEAR_LABEL_W / slot)  # label every n-th year so labels never overlap

    def x(year: int) -> float:
        return x0 + (year - first + 0.5) * slot

    values = [float(p.value) for p in points if p.value is not None]
    values += [float(p.median) for p in points if p.median is not None]
    values.append(float(definition.target_value or 0))
    axis = _SeriesAxis(is_count=is_count, top=max(values, default=0))

    segments: list[list[tuple[float, float]]] = []
    dots, medians, rows = [], [], []
    previous_year = None
    for p in points:
        if p.value is not None:
            cx, cy = x(p.indicator_year), axis.y(p.value)
            if not segments or previous_year != p.indicator_year - 1:
                segments.append([])
            segments[-1].append((cx, cy))
            previous_year = p.indicator_year
            dots.append(
                {
                    "cx": _f(cx),
                    "cy": _f(cy),
                    "current": p.indicator_year == current_year,
                    "title": _("%(year)d: %(value)s (this site)")
                    % {"year": p.indicator_year, "value": format_value(p.value, is_count=is_count)},
                }
            )
        else:
            previous_year = None
        if p.median is not None:
            medians.append(
                {
                    "x": _f(x(p.indicator_year) - 4),
                    "y": _f(axis.y(p.median) - 4),
                    "cx": _f(x(p.indicator_year)),
                    "cy": _f(axis.y(p.median)),
                    "title": _("%(year)d: national median %(value)s")
                    % {"year": p.indicator_year, "value": format_value(p.median, is_count=is_count)},
                }
            )
        rows.append(
            {
                "year": p.indicator_year,
                "version": p.definition.version_id,
                "code": p.definition.code,
                "value": format_value(p.value, is_count=is_count),
                "flags": flag_badges(list(p.flags), evaluated=p.value is not None),
                "median": format_value(p.median, is_count=is_count),
                "target": p.definition.target_display() or "–",
                "current": p.indicator_year == current_year,
            }
        )
    chart = {
        "width": WIDTH,
        "height": HEIGHT,
        "ticks": axis.ticks(),
        "x0": _f(x0),
        "x1": _f(x1),
        "y0": _f(axis.y(0)),
        "label_x": _f(PAD_L - 6),
        "year_y": _f(HEIGHT - PAD_B + 18),
        "years": [{"x": _f(x(y)), "label": str(y)} for y in range(first, last + 1) if (y - first) % year_step == 0],
        "lines": [" ".join(f"{_f(a)},{_f(b)}" for a, b in seg) for seg in segments],
        "dots": dots,
        "median_line": " ".join(f"{m['cx']},{m['cy']}" for m in medians),
        "medians": medians,
        "rows": rows,
        "is_count": is_count,
    }
    chart.update(_rule_lines(definition, axis, x0, x1))
    return chart
