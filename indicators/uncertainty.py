"""Statistical uncertainty beside the DKG verdict (issue 10): Wilson intervals per site
and the small-denominator marker (funnel-plot limits follow). The verdict of SPEC §4 (integer
comparison with the target) stays the official one; these figures only show how much of
a site's distance from the target may be chance.

Pure functions (no Django); rates are fractions 0..1, counts integers. The intervals come
from SciPy (``scipy.stats``), not from hand-written formulas.
"""

from __future__ import annotations

from scipy.stats import binomtest

# A denominator below this is marked "kleine Fallzahl": a 95 % Wilson interval for n < 10
# is wider than ±25 percentage points at any rate from 25 % to 75 %
# (z·√(p(1−p)/n) alone is ≥ 0.27 at p = 0.5, n = 9), too wide to read a miss as a gap.
SMALL_DENOMINATOR = 10


def wilson_interval(numerator: int, denominator: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval (without continuity correction) of ``numerator`` /
    ``denominator`` at ``confidence`` (e.g. 0.95), as fractions 0..1; None when the
    denominator is 0 (no rate, SPEC §4 ``not_evaluable``).

    Raises ValueError for a negative count, a numerator above the denominator or a
    confidence outside (0, 1). Source: Wilson (1927); ``scipy.stats.binomtest``.
    """
    _check_counts(numerator, denominator)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence} is not within (0, 1)")
    if denominator == 0:
        return None
    interval = binomtest(numerator, denominator).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def is_small_denominator(denominator: int | None) -> bool:
    """True for a denominator from 1 to ``SMALL_DENOMINATOR`` − 1 (a 0 has no rate)."""
    return denominator is not None and 0 < denominator < SMALL_DENOMINATOR


def _check_counts(numerator: int, denominator: int) -> None:
    if numerator < 0 or denominator < 0:
        raise ValueError("counts are never negative")
    if numerator > denominator:
        raise ValueError(f"numerator {numerator} exceeds denominator {denominator}")
