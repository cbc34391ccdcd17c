"""Wilson intervals and the small-denominator marker (issue 10), against values worked
out by hand from the score formula and against Newcombe (Statistics in Medicine 1998,
17:857, table I: 81/263 → 0.2553–0.3662, 15/148 → 0.0624–0.1605)."""

import pytest

from indicators.uncertainty import SMALL_DENOMINATOR, is_small_denominator, wilson_interval

Z = 1.959963984540054


@pytest.mark.parametrize(
    ("numerator", "denominator", "low", "high"),
    [
        (5, 10, 0.236593, 0.763407),  # centre 0.5, half-width 1.96·√3.4604/13.8415
        (0, 20, 0.0, Z**2 / (20 + Z**2)),  # 0.161125: the upper bound of a zero count
        (20, 20, 20 / (20 + Z**2), 1.0),
        (81, 263, 0.2553, 0.3662),  # Newcombe 1998
        (15, 148, 0.0624, 0.1605),  # Newcombe 1998
    ],
)
def test_wilson_95_known_values(numerator, denominator, low, high):
    got_low, got_high = wilson_interval(numerator, denominator)
    assert got_low == pytest.approx(low, abs=5e-5)
    assert got_high == pytest.approx(high, abs=5e-5)


def test_a_wider_confidence_gives_a_wider_interval():
    low95, high95 = wilson_interval(3, 9, 0.95)
    low998, high998 = wilson_interval(3, 9, 0.998)
    assert low998 < low95 < 3 / 9 < high95 < high998


def test_no_denominator_no_interval():
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(("numerator", "denominator", "confidence"), [(-1, 5, 0.95), (6, 5, 0.95), (1, 5, 1.0)])
def test_impossible_input_is_refused(numerator, denominator, confidence):
    with pytest.raises(ValueError):
        wilson_interval(numerator, denominator, confidence)


@pytest.mark.parametrize(("denominator", "small"), [(None, False), (0, False), (1, True), (9, True), (10, False)])
def test_small_denominator_marker(denominator, small):
    assert SMALL_DENOMINATOR == 10
    assert is_small_denominator(denominator) is small
