"""National statistics of one indicator (SPEC §5), computed by hand."""

import statistics
from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indicators.domain import Kind, Rule
from indicators.statistics import IndicatorStatistics, indicator_statistics, percentiles

NO_RULE = Rule()
# rates 0, 1/4, 1/2, 3/4, 1 with different denominators, so pooled rate != median
FIVE_SITES = [(0, 1), (1, 4), (1, 2), (3, 4), (10, 10)]
TARGET_AND_CORRIDOR = Rule(target_op=">=", target_value=F(1, 2), corridor_lower=F(1, 4), corridor_upper=F(3, 4))


def test_five_sites_every_statistic():
    s = indicator_statistics(FIVE_SITES, TARGET_AND_CORRIDOR)
    assert s == IndicatorStatistics(
        kind=Kind.RATE,
        n_reported=5,
        n_sites=5,
        n_not_evaluable=0,
        pooled_rate=F(15, 21),  # (0+1+1+3+10) / (1+4+2+4+10)
        total=None,
        median=F(1, 2),
        minimum=F(0),
        maximum=F(1),
        p5=F(1, 20),  # h = 4 * 0.05 = 0.2: 0 + 0.2 * (1/4 - 0)
        p25=F(1, 4),  # h = 1: second order statistic
        p75=F(3, 4),
        p95=F(19, 20),  # h = 3.8: 3/4 + 0.8 * (1 - 3/4)
        sites_meeting_target=3,  # 1/2, 3/4, 1 (>= 50 %, inclusive)
        share_meeting_target=F(3, 5),
        sites_inside_corridor=3,  # 1/4, 1/2, 3/4 (bounds strict: on the bound is inside)
        sites_with_zero_numerator=1,
        sites_at_100_percent=1,
    )
    assert s.pooled_rate == F(5, 7)
    assert s.share_inside_corridor == F(3, 5)
    assert not s.is_count


def test_percentiles_are_hyndman_fan_type_7():
    rates = [F(0), F(1, 4), F(1, 2), F(3, 4), F(1)]
    cuts = statistics.quantiles(rates, n=100, method="inclusive")
    p = percentiles(rates)
    assert (p.p5, p.p25, p.median, p.p75, p.p95) == (
        cuts[4],
        cuts[24],
        cuts[49],
        cuts[74],
        cuts[94],
    )
    assert (p.p5, p.p25, p.median, p.p75, p.p95) == (
        F(1, 20),
        F(1, 4),
        F(1, 2),
        F(3, 4),
        F(19, 20),
    )


def test_percentiles_interpolate_on_an_even_sample():
    # 4 values: h = 3p; P5 at 0.15, P25 at 0.75, median 1.5, P75 2.25, P95 2.85
    p = percentiles([F(1, 10), F(2, 10), F(4, 10), F(8, 10)])
    assert p.p5 == F(1, 10) + F(15, 100) * F(1, 10)
    assert p.p25 == F(1, 10) + F(3, 4) * F(1, 10)
    assert p.median == F(3, 10)
    assert p.p75 == F(4, 10) + F(1, 4) * F(4, 10)
    assert p.p95 == F(4, 10) + F(85, 100) * F(4, 10)
    assert (p.minimum, p.maximum) == (F(1, 10), F(8, 10))


def test_unsorted_input_gives_the_same_result():
    shuffled = [FIVE_SITES[i] for i in (3, 0, 4, 1, 2)]
    assert indicator_statistics(shuffled, TARGET_AND_CORRIDOR) == indicator_statistics(FIVE_SITES, TARGET_AND_CORRIDOR)


def test_not_evaluable_sites_are_excluded():
    values = [*FIVE_SITES, (5, 0), (0, 0), (3, None)]
    s = indicator_statistics(values, TARGET_AND_CORRIDOR)
    assert (s.n_reported, s.n_sites, s.n_not_evaluable) == (8, 5, 3)
    expected = indicator_statistics(FIVE_SITES, TARGET_AND_CORRIDOR)
    for field in (
        "pooled_rate",
        "median",
        "minimum",
        "maximum",
        "p5",
        "p25",
        "p75",
        "p95",
        "sites_meeting_target",
        "share_meeting_target",
        "sites_inside_corridor",
        "sites_with_zero_numerator",
        "sites_at_100_percent",
    ):
        assert getattr(s, field) == getattr(expected, field), field


def test_no_target_and_no_corridor_give_none():
    s = indicator_statistics(FIVE_SITES, NO_RULE)
    assert s.sites_meeting_target is None
    assert s.share_meeting_target is None
    assert s.sites_inside_corridor is None
    assert s.share_inside_corridor is None
    assert s.sites_with_zero_numerator == 1


def test_at_most_target_counts_sites_below_the_bound():
    rule = Rule(target_op="<=", target_value=F(1, 10))  # KeZa 7 shape
    s = indicator_statistics([(1, 10), (2, 10), (0, 5), (11, 100)], rule)
    assert (s.sites_meeting_target, s.share_meeting_target) == (2, F(1, 2))


def test_event_counts_above_one_are_not_100_percent():
    # KeZa 5 counts study inclusions: the numerator may exceed the denominator
    s = indicator_statistics([(12, 10), (10, 10), (1, 10)], NO_RULE)
    assert s.sites_at_100_percent == 1
    assert s.maximum == F(6, 5)
    assert s.pooled_rate == F(23, 30)


def test_count_indicator_statistics_over_the_counts():
    rule = Rule(kind=Kind.COUNT, target_op=">=", target_value=F(75))
    s = indicator_statistics([(120, None), (0, None), (80, None), (75, None)], rule)
    assert s.kind == Kind.COUNT and s.is_count
    assert (s.n_reported, s.n_sites, s.n_not_evaluable) == (4, 4, 0)
    assert s.pooled_rate is None
    assert s.total == 275
    assert (s.minimum, s.maximum) == (0, 120)
    assert s.median == F(155, 2)  # (75 + 80) / 2
    assert s.p5 == F(45, 4)  # h = 0.15: 0 + 0.15 * 75
    assert s.p25 == F(225, 4)  # h = 0.75: 0 + 0.75 * 75
    assert s.p75 == 90  # h = 2.25: 80 + 0.25 * 40
    assert s.p95 == 114  # h = 2.85: 80 + 0.85 * 40
    assert (s.sites_meeting_target, s.share_meeting_target) == (3, F(3, 4))
    assert s.sites_inside_corridor is None
    assert s.sites_with_zero_numerator == 1
    assert s.sites_at_100_percent is None


def test_count_indicator_ignores_a_denominator():
    rule = Rule(kind=Kind.COUNT)
    s = indicator_statistics([(7, 0), (9, None)], rule)
    assert (s.n_sites, s.n_not_evaluable, s.total) == (2, 0, 16)


def test_count_corridor():
    rule = Rule(kind=Kind.COUNT, corridor_lower=F(10), corridor_upper=F(20))
    s = indicator_statistics([(9, None), (10, None), (20, None), (21, None)], rule)
    assert s.sites_inside_corridor == 2


def test_one_site_all_percentiles_equal_its_value():
    s = indicator_statistics([(3, 4)], Rule(target_op=">=", target_value=F(95, 100)))
    assert (s.n_sites, s.pooled_rate) == (1, F(3, 4))
    assert {s.median, s.minimum, s.maximum, s.p5, s.p25, s.p75, s.p95} == {F(3, 4)}
    assert (s.sites_meeting_target, s.share_meeting_target) == (0, F(0))
    count = indicator_statistics([(80, None)], Rule(kind=Kind.COUNT))
    assert {count.median, count.minimum, count.p5, count.p95} == {F(80)}
    assert count.total == 80


def test_zero_sites_give_none():
    s = indicator_statistics([], TARGET_AND_CORRIDOR)
    assert (s.n_reported, s.n_sites, s.n_not_evaluable) == (0, 0, 0)
    assert s.pooled_rate is None and s.total is None
    assert {s.median, s.minimum, s.maximum, s.p5, s.p25, s.p75, s.p95} == {None}
    assert s.sites_meeting_target == 0
    assert s.share_meeting_target is None
    assert s.sites_inside_corridor == 0
    assert s.share_inside_corridor is None
    assert s.sites_with_zero_numerator == 0
    assert s.sites_at_100_percent == 0
    count = indicator_statistics([], Rule(kind=Kind.COUNT))
    assert count.total == 0 and count.median is None and count.sites_at_100_percent is None


def test_only_not_evaluable_sites():
    s = indicator_statistics([(0, 0), (2, 0)], TARGET_AND_CORRIDOR)
    assert (s.n_reported, s.n_sites, s.n_not_evaluable) == (2, 0, 2)
    assert s.pooled_rate is None and s.median is None
    assert s.share_meeting_target is None


@pytest.mark.parametrize("values", [[(-1, 10)], [(1, -10)], [(2, 4), (-3, None)]])
def test_negative_values_raise(values):
    with pytest.raises(ValueError):
        indicator_statistics(values, NO_RULE)


def test_results_are_exact_fractions_never_floats():
    s = indicator_statistics([(1, 3), (2, 3), (1, 7)], Rule(corridor_lower=F(1, 3)))
    for field in (
        "pooled_rate",
        "median",
        "minimum",
        "maximum",
        "p5",
        "p25",
        "p75",
        "p95",
    ):
        assert type(getattr(s, field)) is F, field
    assert s.pooled_rate == F(4, 13)
    assert s.sites_inside_corridor == 2  # exactly 1/3 is inside


# --- published reference figures, Jahresbericht 2024 / KJ2022 (SPEC §5) -------------


def test_study_rate_shaped_like_kj2022():
    """KeZa 5 (>= 5 %, implausible above 80 %): 80 sites, median 21.8 %, 73 sites
    (91.25 %) meet the target, 6 have numerator 0."""
    rule = Rule(target_op=">=", target_value=F(5, 100), corridor_upper=F(80, 100))
    values = (
        [(0, 100)] * 6
        + [(4, 100)]  # 4 %: below target
        + [(5, 100)] * 20  # exactly 5 %: meets
        + [(10, 100)] * 12
        + [(218, 1000)] * 2  # the 40th and 41st order statistics
        + [(40, 100)] * 38
        + [(9, 10)]  # 90 %: implausible high, but meets the target
    )
    assert len(values) == 80
    s = indicator_statistics(values, rule)
    assert s.n_sites == 80
    assert s.median == F(218, 1000)
    assert s.sites_meeting_target == 73
    assert s.share_meeting_target == F(9125, 10000)
    assert s.sites_with_zero_numerator == 6
    assert s.sites_inside_corridor == 79


def test_salivary_board_shaped_like_kj2022():
    """KeZa 2a: pooled rate 96.5 %, 63 sites at 100 %."""
    values = [(10, 10)] * 63 + [(20, 22)] * 16 + [(15, 18)]
    s = indicator_statistics(values, NO_RULE)
    assert s.pooled_rate == F(965, 1000)
    assert s.sites_at_100_percent == 63


def test_primary_cases_sum_shaped_like_kj2022():
    """KeZa 1a: Σ primary cases 11,577 over 80 sites."""
    rule = Rule(kind=Kind.COUNT, target_op=">=", target_value=F(75))
    s = indicator_statistics([(145, None)] * 79 + [(122, None)], rule)
    assert (s.n_sites, s.total, s.sites_meeting_target) == (80, 11_577, 80)


@given(st.lists(st.fractions(min_value=0, max_value=1000, max_denominator=10**6), min_size=2, max_size=120))
def test_percentiles_equal_the_inclusive_quantiles_at_100_cut_points(data):
    import statistics as stdlib

    from indicators.statistics import percentiles

    cuts = stdlib.quantiles(sorted(data), n=100, method="inclusive")
    result = percentiles(data)
    assert (result.p5, result.p25, result.median, result.p75, result.p95) == (
        cuts[4],
        cuts[24],
        cuts[49],
        cuts[74],
        cuts[94],
    )
    assert (result.minimum, result.maximum) == (min(data), max(data))
