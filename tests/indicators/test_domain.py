"""Boundaries of ``indicators.domain.evaluate`` (SPEC §4): integer arithmetic, inclusive
targets, strict corridors, several flags at once."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indicators.domain import OPERATORS, Flag, Kind, Rule, corridor_position, evaluate, meets_target, rate
from indicators.models import IndicatorDefinition

AT_LEAST_95 = Rule(target_op=">=", target_value=Fraction(95, 100))
AT_MOST_10 = Rule(target_op="<=", target_value=Fraction(10, 100))
LOWER_60 = Rule(corridor_lower=Fraction(60, 100))
UPPER_80 = Rule(corridor_upper=Fraction(80, 100))
COUNT_75 = Rule(kind=Kind.COUNT, target_op=">=", target_value=Fraction(75))


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (95, 100, ()),  # exactly 95 %: met, boundary inclusive
        (19, 20, ()),
        (57, 60, ()),  # exactly 95 %
        (100, 100, ()),
        (94, 100, (Flag.TARGET_NOT_MET,)),
        (189, 199, (Flag.TARGET_NOT_MET,)),  # 94.97 %
        (190, 200, ()),
        (949_999_999, 1_000_000_000, (Flag.TARGET_NOT_MET,)),
        # float(94999999999999999 / 10**17) >= 0.95 is True; exactly it is below 95 %
        (94_999_999_999_999_999, 10**17, (Flag.TARGET_NOT_MET,)),
        (95_000_000_000_000_000, 10**17, ()),
    ],
)
def test_at_least_target_is_inclusive_and_exact(numerator, denominator, expected):
    assert evaluate(numerator, denominator, AT_LEAST_95) == expected


def test_target_and_corridor_helpers_are_exact_where_a_float_rounds():
    # meets_target and corridor_position also serve the national statistics and charts.
    # 94_999_999_999_999_999 / 10**17 is just below 95 % (as a float it rounds to 0.95);
    # 80_000_000_000_000_001 / 10**17 is just above 80 % (as a float it rounds to 0.8).
    just_below_95, just_above_80 = (94_999_999_999_999_999, 10**17), (80_000_000_000_000_001, 10**17)
    assert meets_target(*just_below_95, AT_LEAST_95) is False
    assert meets_target(95 * 10**15, 10**17, AT_LEAST_95) is True
    assert corridor_position(*just_below_95, Rule(corridor_lower=Fraction(95, 100))) == -1
    assert corridor_position(95 * 10**15, 10**17, Rule(corridor_lower=Fraction(95, 100))) == 0
    assert corridor_position(*just_above_80, UPPER_80) == 1
    assert corridor_position(80 * 10**15, 10**17, UPPER_80) == 0
    assert evaluate(*just_above_80, UPPER_80) == (Flag.IMPLAUSIBLE_HIGH,)


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (10, 100, ()),  # exactly 10 %: met
        (0, 100, ()),
        (1, 10, ()),
        (11, 100, (Flag.TARGET_NOT_MET,)),
        (100_000_001, 1_000_000_000, (Flag.TARGET_NOT_MET,)),
    ],
)
def test_at_most_target_is_inclusive(numerator, denominator, expected):
    assert evaluate(numerator, denominator, AT_MOST_10) == expected


def test_at_most_seven_percent_where_float_percent_overshoots():
    # (as floats, 7 / 100 * 100 is 7.000000000000001 and would miss "<= 7 %")
    rule = Rule(target_op="<=", target_value=Fraction(7, 100))
    assert evaluate(7, 100, rule) == ()
    assert evaluate(70, 1000, rule) == ()
    assert evaluate(71, 1000, rule) == (Flag.TARGET_NOT_MET,)


def test_strict_operators():
    above = Rule(target_op=">", target_value=Fraction(1, 2))
    below = Rule(target_op="<", target_value=Fraction(1, 2))
    assert evaluate(50, 100, above) == (Flag.TARGET_NOT_MET,)
    assert evaluate(51, 100, above) == ()
    assert evaluate(50, 100, below) == (Flag.TARGET_NOT_MET,)
    assert evaluate(49, 100, below) == ()


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (60, 100, ()),  # exactly on the lower bound: inside (strict)
        (3, 5, ()),
        (599, 1000, (Flag.IMPLAUSIBLE_LOW,)),  # 59.9 %
        (59_999_999, 100_000_000, (Flag.IMPLAUSIBLE_LOW,)),
        (0, 100, (Flag.IMPLAUSIBLE_LOW,)),
        (100, 100, ()),
    ],
)
def test_corridor_lower_bound_is_strict(numerator, denominator, expected):
    assert evaluate(numerator, denominator, LOWER_60) == expected


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (80, 100, ()),  # exactly on the upper bound: inside
        (4, 5, ()),
        (801, 1000, (Flag.IMPLAUSIBLE_HIGH,)),  # 80.1 %
        (80_000_001, 100_000_000, (Flag.IMPLAUSIBLE_HIGH,)),
        (0, 100, ()),
    ],
)
def test_corridor_upper_bound_is_strict(numerator, denominator, expected):
    assert evaluate(numerator, denominator, UPPER_80) == expected


def test_denominator_zero_is_only_not_evaluable():
    rule = Rule(
        target_op=">=",
        target_value=Fraction(95, 100),
        corridor_lower=Fraction(60, 100),
        corridor_upper=Fraction(80, 100),
    )
    assert evaluate(0, 0, rule) == (Flag.NOT_EVALUABLE,)
    assert evaluate(3, 0, rule) == (Flag.NOT_EVALUABLE,)
    assert evaluate(0, None, rule) == (Flag.NOT_EVALUABLE,)
    assert evaluate(0, 0, Rule()) == (Flag.NOT_EVALUABLE,)
    assert rate(3, 0) is None


def test_count_indicator_compares_the_count():
    assert evaluate(75, None, COUNT_75) == ()
    assert evaluate(200, None, COUNT_75) == ()
    assert evaluate(74, None, COUNT_75) == (Flag.TARGET_NOT_MET,)
    assert evaluate(0, None, COUNT_75) == (Flag.TARGET_NOT_MET,)
    # the denominator plays no part for counts, 0 does not make it not evaluable
    assert evaluate(75, 0, COUNT_75) == ()


def test_count_corridor():
    rule = Rule(kind=Kind.COUNT, corridor_lower=Fraction(10), corridor_upper=Fraction(20))
    assert evaluate(10, None, rule) == ()
    assert evaluate(20, None, rule) == ()
    assert evaluate(9, None, rule) == (Flag.IMPLAUSIBLE_LOW,)
    assert evaluate(21, None, rule) == (Flag.IMPLAUSIBLE_HIGH,)


def test_several_flags_at_once():
    rule = Rule(target_op=">=", target_value=Fraction(95, 100), corridor_lower=Fraction(60, 100))
    assert evaluate(50, 100, rule) == (Flag.TARGET_NOT_MET, Flag.IMPLAUSIBLE_LOW)
    assert evaluate(70, 100, rule) == (Flag.TARGET_NOT_MET,)
    study = Rule(  # KeZa 5 shape: >= 5 %, implausible above 80 %
        target_op=">=",
        target_value=Fraction(5, 100),
        corridor_upper=Fraction(80, 100),
    )
    high = Rule(target_op="<=", target_value=Fraction(10, 100), corridor_upper=Fraction(80, 100))
    assert evaluate(9, 10, study) == (Flag.IMPLAUSIBLE_HIGH,)
    assert evaluate(9, 10, high) == (Flag.TARGET_NOT_MET, Flag.IMPLAUSIBLE_HIGH)


def test_no_target_no_corridor_is_fine():
    assert evaluate(0, 100, Rule()) == ()
    assert evaluate(100, 100, Rule()) == ()


@pytest.mark.parametrize(("numerator", "denominator"), [(-1, 100), (5, -1), (-1, None)])
def test_negative_input_raises(numerator, denominator):
    with pytest.raises(ValueError, match="^counts must not be negative$"):
        evaluate(numerator, denominator, AT_LEAST_95)
    with pytest.raises(ValueError, match="^counts must not be negative$"):
        evaluate(numerator, denominator, COUNT_75)


def test_rule_rejects_unknown_operator_and_half_target():
    with pytest.raises(ValueError, match="^unknown target operator '=>'$"):
        Rule(target_op="=>", target_value=Fraction(1, 2))
    with pytest.raises(ValueError, match="^target_op and target_value go together$"):
        Rule(target_op=">=")
    with pytest.raises(ValueError, match="^target_op and target_value go together$"):
        Rule(target_value=Fraction(1, 2))


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (0, 5, Fraction(0)),
        (3, 4, Fraction(3, 4)),
        (7, 7, Fraction(1)),
        (2, 1, Fraction(2)),
        (4, 0, None),
        (4, None, None),
    ],
)
def test_rate_is_the_exact_fraction(numerator, denominator, expected):
    assert rate(numerator, denominator) == expected


@pytest.mark.parametrize(("numerator", "denominator"), [(-1, 5), (3, -4), (-2, -2)])
def test_rate_refuses_negative_counts(numerator, denominator):
    with pytest.raises(ValueError, match="^counts must not be negative$"):
        rate(numerator, denominator)


def test_an_unknown_comparison_operator_is_an_error_not_less_than():
    from indicators.domain import _compare

    assert _compare(1, 2, "<", Fraction(3, 4)) is True
    with pytest.raises(ValueError, match="unknown operator"):
        _compare(1, 2, "=<", Fraction(3, 4))


@pytest.mark.django_db
def test_catalogue_rules_are_exact_fractions(catalogue):
    """Rules built from the stored decimals compare exactly (KJ2022 KeZa 2, 4, 20)."""
    kj = IndicatorDefinition.objects.filter(version_id="KJ2022")
    tumour_board = kj.get(code="2").rule()
    assert tumour_board.target_value == Fraction(19, 20)
    assert evaluate(95, 100, tumour_board) == ()
    assert evaluate(94_999_999_999_999_999, 10**17, tumour_board) == (Flag.TARGET_NOT_MET,)
    social = kj.get(code="4").rule()  # implausible below 0.01 %
    assert evaluate(0, 100, social) == (Flag.IMPLAUSIBLE_LOW,)
    assert evaluate(1, 10_000, social) == ()
    larynx_rt = kj.get(code="20").rule()  # implausible below 60 %
    assert evaluate(60, 100, larynx_rt) == ()
    assert evaluate(599, 1000, larynx_rt) == (Flag.IMPLAUSIBLE_LOW,)
    primary_cases = kj.get(code="1a").rule()
    assert primary_cases.kind == Kind.COUNT
    assert evaluate(75, None, primary_cases) == ()
    assert evaluate(74, None, primary_cases) == (Flag.TARGET_NOT_MET,)


# --- property: evaluate agrees with exact Fraction comparison ------------------------

counts = st.integers(min_value=0, max_value=10**18)
bounds = st.fractions(min_value=0, max_value=2, max_denominator=10**9)


def _holds(value: Fraction, op: str, bound: Fraction) -> bool:
    return {
        ">=": value >= bound,
        "<=": value <= bound,
        ">": value > bound,
        "<": value < bound,
    }[op]


def _expected(value: Fraction | None, rule: Rule) -> tuple[Flag, ...]:
    if value is None:
        return (Flag.NOT_EVALUABLE,)
    flags = []
    if rule.target_op is not None and not _holds(value, rule.target_op, rule.target_value):
        flags.append(Flag.TARGET_NOT_MET)
    if rule.corridor_lower is not None and value < rule.corridor_lower:
        flags.append(Flag.IMPLAUSIBLE_LOW)
    elif rule.corridor_upper is not None and value > rule.corridor_upper:
        flags.append(Flag.IMPLAUSIBLE_HIGH)
    return tuple(flags)


@st.composite
def rules(draw, kind: Kind) -> Rule:
    scale = 1 if kind == Kind.RATE else 10**6
    bound = bounds.map(lambda b: b * scale)
    op = draw(st.none() | st.sampled_from(OPERATORS))
    return Rule(
        kind=kind,
        target_op=op,
        target_value=None if op is None else draw(bound),
        corridor_lower=draw(st.none() | bound),
        corridor_upper=draw(st.none() | bound),
    )


@given(numerator=counts, denominator=counts, rule=rules(Kind.RATE))
def test_rate_evaluation_matches_exact_fractions(numerator, denominator, rule):
    value = Fraction(numerator, denominator) if denominator else None
    assert evaluate(numerator, denominator, rule) == _expected(value, rule)


@given(count=st.integers(min_value=0, max_value=2 * 10**6), rule=rules(Kind.COUNT))
def test_count_evaluation_matches_exact_fractions(count, rule):
    assert evaluate(count, None, rule) == _expected(Fraction(count), rule)


@given(
    denominator=st.integers(min_value=1, max_value=10**12),
    delta=st.integers(min_value=-1, max_value=1),
    rule=rules(Kind.RATE),
)
def test_rate_evaluation_matches_exact_fractions_near_the_bounds(denominator, delta, rule):
    """Numerators at a bound's floor ± 1, where rounding errors would show."""
    bound = rule.target_value or rule.corridor_lower or rule.corridor_upper or Fraction(1, 2)
    numerator = max(0, bound.numerator * denominator // bound.denominator + delta)
    value = Fraction(numerator, denominator)
    assert evaluate(numerator, denominator, rule) == _expected(value, rule)
