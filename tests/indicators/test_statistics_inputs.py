"""Inputs of the pure statistics module beyond Fractions, and its refusals (SPEC §5).

Expected values are hand-computed: type-7 percentiles of 1, 2, 3, 4 at p give
``x[h] + (h - floor(h)) * (x[h+1] - x[h])`` with ``h = (n - 1) p`` (0-based).
"""

from fractions import Fraction

import pytest

from indicators.domain import Kind, Rule
from indicators.statistics import indicator_statistics, percentiles


@pytest.mark.parametrize("data", [[4, 1, 3, 2], [4.0, 1.0, 3.0, 2.0], [Fraction(4), 1, 3.0, Fraction(2)]])
def test_percentiles_of_integers_and_floats_are_exact_fractions(data):
    result = percentiles(data)
    # h = 3p: P5 = 1 + 0.15 = 1.15, P25 = 1.75, median 2.5, P75 = 3.25, P95 = 3.85.
    assert result.minimum == 1 and result.maximum == 4
    assert result.p5 == Fraction(23, 20)
    assert result.p25 == Fraction(7, 4)
    assert result.median == Fraction(5, 2)
    assert result.p75 == Fraction(13, 4)
    assert result.p95 == Fraction(77, 20)
    for value in (result.minimum, result.p5, result.p25, result.median, result.p75, result.p95, result.maximum):
        assert type(value) is Fraction


def test_percentiles_of_a_float_keep_its_exact_binary_value():
    # 0.1 is not 1/10 in binary; the statistics work on the exact value it stands for.
    result = percentiles([0.1, 0.1])
    assert result.median == Fraction(0.1) != Fraction(1, 10)
    assert type(result.median) is Fraction


@pytest.mark.parametrize("values", [[(-1, 10)], [(3, -1)], [(2, 4), (-2, 4)]])
def test_negative_counts_are_refused(values):
    with pytest.raises(ValueError, match="^counts must not be negative$"):
        indicator_statistics(values, Rule(kind=Kind.RATE))
