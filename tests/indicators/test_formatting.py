"""``indicators.formatting``: the one place for percent, counts and rounding, used by
the pages and the ``indicator_stats`` command alike (issue 7)."""

from decimal import Decimal
from fractions import Fraction as F

import pytest
from django.utils import translation

from indicators import formatting, tables
from indicators.formatting import format_count, format_percent, format_value, round_half_up
from indicators.management.commands import indicator_stats


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (F(1, 8), 2, Decimal("0.13")),  # half up, not to even
        (F(1, 3), 1, Decimal("0.3")),
        (F(2, 3), 1, Decimal("0.7")),
        (Decimal("96.45"), 1, Decimal("96.5")),
        (0.125, 2, Decimal("0.13")),  # the float's decimal repr, not its binary value
        (5, 1, Decimal("5.0")),
        (F(-1, 8), 2, Decimal("-0.13")),  # halves away from zero
    ],
)
def test_round_half_up_is_exact(value, places, expected):
    result = round_half_up(value, places)
    assert result == expected and str(result) == str(expected)


def test_formats_follow_the_active_language():
    with translation.override("de"):
        assert format_percent(F(193, 200)) == "96,5\u00a0%"  # 0.965
        assert format_percent(F(1, 80)) == "1,3\u00a0%"  # 1.25 % rounds up
        assert format_count(11577) == "11.577"
        assert format_count(F(25, 2)) == "12,5"
        assert format_value(F(1, 4), is_count=False) == "25,0\u00a0%"
        assert format_value(F(1, 4), is_count=True) == "0,3"
    with translation.override("en"):
        assert format_percent(F(193, 200)) == "96.5\u00a0%"
        assert format_count(11577) == "11,577"
    assert format_percent(None) == format_count(None) == "–"


def test_pages_and_command_share_the_helpers():
    assert tables.format_percent is indicator_stats.format_percent is formatting.format_percent
    assert tables.format_count is indicator_stats.format_count is formatting.format_count
    assert tables.EMPTY == indicator_stats.EMPTY == formatting.EMPTY


@pytest.mark.django_db
def test_command_table_formats_like_the_pages_whatever_the_language(catalogue, site_a, site_b):
    from io import StringIO

    from django.core.management import call_command

    from indicators.domain import evaluate
    from indicators.models import IndicatorDefinition
    from indicators.services import evaluation_record

    definition = IndicatorDefinition.objects.get(version_id="KJ2022", code="1a")
    for site, cases in ((site_a, 1234), (site_b, 80)):
        evaluation_record(
            site=site,
            indicator_year=2022,
            definition=definition,
            numerator=cases,
            denominator=None,
            flags=evaluate(cases, None, definition.rule()),
            source_revision_id=None,
        )
    out = StringIO()
    with translation.override("en"):
        call_command("indicator_stats", "--year", "2022", "--code", "1a", stdout=out)
    row = out.getvalue().splitlines()[-1]
    assert "Σ 1.314" in row  # German grouping, as on the German pages
    assert " 657 " in row  # median of 80 and 1,234
    assert "\u00a0" not in out.getvalue()  # plain spaces in a terminal table
