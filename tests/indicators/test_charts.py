"""SVG geometry of the national charts (``indicators.charts``): pure functions over
plain values, checked without rendering."""

import pytest

from indicators.charts import CHART_H, MIN_BAR_H, PAD_B, distribution_chart, trend_chart
from indicators.models import IndicatorDefinition
from indicators.statistics import indicator_statistics

pytestmark = pytest.mark.django_db

Y0 = CHART_H - PAD_B  # the x axis: value 0


def chart_of(code: str, values, version: str = "KJ2022"):
    definition = IndicatorDefinition.objects.get(version_id=version, code=code)
    return distribution_chart(values, definition, indicator_statistics(values, definition.rule()))


def test_bars_are_sorted_ascending_and_coloured_by_flag(catalogue):
    # KJ2022 KeZa 2: tumour board, target >= 95 %
    chart = chart_of("2", [(100, 100), (90, 100), (19, 20), (0, 0)])
    assert chart["n"] == 3  # 0/0 is not evaluable: no bar
    titles = [b["title"] for b in chart["bars"]]
    assert [t.rsplit(": ", 1)[1] for t in titles] == ["90,0\u00a0%", "95,0\u00a0%", "100,0\u00a0%"]
    assert [b["class"] for b in chart["bars"]] == ["bar bar--missed", "bar", "bar"]
    heights = [float(b["height"]) for b in chart["bars"]]
    assert heights == sorted(heights) and heights[-1] == pytest.approx(Y0 - 16)
    assert chart["target"]["y"] == "28.00"  # 95 % of the 240 px plot below the 16 px top pad
    assert chart["median"]["label"] == "95,0\u00a0%"


def test_sites_at_zero_get_a_visible_bar_in_their_flag_colour(catalogue):
    values = [(0, 10)] * 6 + [(19, 20), (20, 20)]
    chart = chart_of("2", values)
    zero_bars = chart["bars"][:6]
    assert chart["n_zero"] == 6
    for bar in zero_bars:
        assert bar["class"] == "bar bar--missed bar--zero"
        assert float(bar["height"]) == MIN_BAR_H
        assert float(bar["y"]) == pytest.approx(Y0 - MIN_BAR_H)  # standing on the axis
    assert "bar--zero" not in chart["bars"][6]["class"]
    # a count at 0 too
    counts = chart_of("1a", [(0, None), (80, None)])
    assert counts["n_zero"] == 1 and float(counts["bars"][0]["height"]) == MIN_BAR_H


def test_no_evaluable_site_no_chart(catalogue):
    assert chart_of("2", [(0, 0)]) is None
    assert chart_of("2", []) is None


def test_coordinates_are_never_localised(catalogue):
    chart = chart_of("2", [(1, 3), (2, 3)])
    numbers = [chart["x0"], chart["y0"]] + [
        v for b in chart["bars"] for k, v in b.items() if k in ("x", "y", "width", "height")
    ]
    assert all("," not in n and "." in n for n in numbers)


def test_trend_chart_without_points_is_none():
    assert trend_chart([], is_count=False) is None


def test_distribution_median_follows_statistics(catalogue):
    chart = chart_of("2", [(1, 2), (3, 4)])
    assert chart["median"]["label"] == "62,5\u00a0%"  # (50 % + 75 %) / 2
