"""SVG geometry of the national charts (``indicators.charts``): pure functions over
plain values, checked without rendering."""

import pytest

from indicators.charts import (
    CHART_GUTTER_PX,
    CHART_H,
    CHART_W,
    MIN_BAR_H,
    MIN_TEXT_PX,
    PAD_B,
    TEXT_MAX,
    TEXT_SIZES,
    distribution_chart,
    text_size,
    trend_chart,
)
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
    assert heights == sorted(heights) and heights[-1] == pytest.approx(205)  # 300 - 30 top - 65 bottom pad
    assert chart["target"]["y"] == "40.25"  # 95 % of the 205 px plot below the 30 px top pad
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


# ---- legible text on a phone (issue 9) ------------------------------------------------


def _css_text_sizes() -> list[tuple[int | None, int]]:
    """The chart font-size rules of the issue-9 block of qiportal.css as
    (max viewport px or None, size in user units), widest band first."""
    import re
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "qiportal.css").read_text(encoding="utf-8")
    block = css[css.index("issue 9: phones") :]
    bands = [(None, int(size)) for size in re.findall(r"^\.chart__svg text \{ font-size: (\d+)px; \}", block, re.M)]
    bands += [
        (int(float(rem) * 16), int(size))
        for rem, size in re.findall(
            r"@media \(max-width: ([\d.]+)rem\) \{ \.chart__svg text \{ font-size: (\d+)px; \} \}", block
        )
    ]
    return bands


def test_the_stylesheet_sets_the_text_sizes_the_geometry_is_made_for():
    assert sorted(_css_text_sizes(), key=lambda b: b[0] or 10**6) == list(TEXT_SIZES)


def _charts(catalogue_codes=("2", "1a")):
    """Every chart type: a distribution of a rate (target line) and of a count, and a
    trend of each."""
    from indicators.selectors import IndicatorTrendPoint

    out = {}
    for code in catalogue_codes:
        definition = IndicatorDefinition.objects.get(version_id="KJ2022", code=code)
        values = (
            [(n, None) for n in (0, 55, 99, 1000, 250_000)] if definition.is_count else [(n, 100) for n in (0, 55, 100)]
        )
        stats = indicator_statistics(values, definition.rule())
        out[f"distribution {code}"] = distribution_chart(values, definition, stats)
        points = [
            IndicatorTrendPoint(
                indicator_year=year, definition=definition, series="s", series_break=False, statistics=stats
            )
            for year in range(2019, 2027)
        ]
        out[f"trend {code}"] = trend_chart(points, is_count=definition.is_count)
    return out


@pytest.mark.parametrize("viewport", [390, 430, 480, 481, 600, 768, 769, 900, 960])
def test_chart_text_renders_at_least_11_px(catalogue, viewport):
    """font size (user units) x rendered width / viewBox width >= 11 px for every chart
    at phone and tablet widths; the chart is the viewport minus the page's gutter."""
    rendered_width = viewport - CHART_GUTTER_PX
    for name, chart in _charts().items():
        px = text_size(viewport) * rendered_width / chart["width"]
        assert px >= MIN_TEXT_PX, (name, viewport, px)
    assert text_size(390) * (390 - CHART_GUTTER_PX) / CHART_W == pytest.approx(11.12, abs=0.01)  # 26 x 308 / 720


def test_the_text_fits_the_room_left_for_it(catalogue):
    """At the largest size, the widest y label ("100,0 %", 7 characters of at most
    0.6 em) fits left of the plot, a target label at 100 % stays inside the top, and
    the year labels stay below the x axis."""
    for name, chart in _charts().items():
        widest = max(len(t["label"]) for t in chart["ticks"])
        assert widest * 0.6 * TEXT_MAX <= float(chart["label_x"]), name
        if "year_y" in chart:
            assert float(chart["year_y"]) - 0.75 * TEXT_MAX > float(chart["y0"]), name
            assert float(chart["year_y"]) + 0.25 * TEXT_MAX <= CHART_H, name
        else:
            assert float(chart["axis_label_y"]) + 0.25 * TEXT_MAX <= CHART_H, name
            if "target" in chart:
                assert float(chart["target"]["label_y"]) - 0.75 * TEXT_MAX >= 0, name
