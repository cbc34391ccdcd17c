"""National statistics of one indicator in one indicator year: pure Python, no Django
(SPEC §5, commission view / Jahresbericht).

Input is one ``(numerator, denominator)`` pair per site. Rate indicators are evaluated
over the *evaluable* sites (denominator > 0); sites with denominator 0 or None are
``not_evaluable`` (SPEC §4) and excluded. Count indicators (``Kind.COUNT``) take the
numerator as the count, ignore the denominator and count every site with a value.

All results are exact: rates are ``Fraction`` values 0..1 (never floats, never percent),
counts are integers. Percentiles use linear interpolation between order statistics
(Hyndman–Fan type 7), i.e. ``statistics.quantiles(data, n=100, method="inclusive")``.
Target and corridor checks use ``indicators.domain`` (integer arithmetic).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .domain import Kind, Rule, corridor_position, meets_target


@dataclass(frozen=True)
class IndicatorStatistics:
    """Statistics of one indicator over the sites of one indicator year (SPEC §5).

    Counts of sites:
        n_reported: sites with a value (evaluable or not).
        n_sites: evaluable sites (denominator > 0; count indicators: all with a value).
        n_not_evaluable: ``n_reported - n_sites`` (denominator 0 or missing).
    Location (over the evaluable sites; rates as ``Fraction`` 0..1, for count indicators
    the counts as ``Fraction``; all None when ``n_sites`` is 0):
        pooled_rate: Gesamtquote Σ numerators / Σ denominators; None for count
            indicators and when no site is evaluable.
        total: Σ counts for count indicators (0 with no site); None for rate indicators.
        median, minimum, maximum, p5, p25, p75, p95: of the site rates (or counts),
            percentiles Hyndman–Fan type 7; with one site all equal its value.
    Target and corridor (over the evaluable sites):
        sites_meeting_target: number of sites meeting the Sollvorgabe; None if the
            definition has no target.
        share_meeting_target: ``sites_meeting_target / n_sites`` as Fraction 0..1; None
            if there is no target or no evaluable site.
        sites_inside_corridor: sites inside the Plausibilitätskorridor (bounds
            strict, SPEC §4); None if the definition has no corridor.
        sites_with_zero_numerator: sites whose numerator (count) is 0.
        sites_at_100_percent: sites with rate exactly 1; None for count indicators.
    """

    kind: Kind
    n_reported: int
    n_sites: int
    n_not_evaluable: int
    pooled_rate: Fraction | None
    total: int | None
    median: Fraction | None
    minimum: Fraction | None
    maximum: Fraction | None
    p5: Fraction | None
    p25: Fraction | None
    p75: Fraction | None
    p95: Fraction | None
    sites_meeting_target: int | None
    share_meeting_target: Fraction | None
    sites_inside_corridor: int | None
    sites_with_zero_numerator: int
    sites_at_100_percent: int | None

    @property
    def is_count(self) -> bool:
        return self.kind == Kind.COUNT

    @property
    def share_inside_corridor(self) -> Fraction | None:
        """``sites_inside_corridor / n_sites`` as Fraction 0..1; None without corridor or
        evaluable sites (e.g. KJ2022 KeZa 20, "only a third")."""
        if self.sites_inside_corridor is None or not self.n_sites:
            return None
        return Fraction(self.sites_inside_corridor, self.n_sites)


@dataclass(frozen=True)
class Percentiles:
    """Type-7 percentiles of a sample (Fractions); all None for an empty sample."""

    minimum: Fraction | None = None
    p5: Fraction | None = None
    p25: Fraction | None = None
    median: Fraction | None = None
    p75: Fraction | None = None
    p95: Fraction | None = None
    maximum: Fraction | None = None


def _sort_key(value: Fraction) -> tuple[float, Fraction]:
    return value.numerator / value.denominator, value


def percentiles(data: Sequence[Fraction]) -> Percentiles:
    """Minimum, 5th, 25th, 50th (median), 75th, 95th percentile and maximum of ``data``.

    Hyndman–Fan type 7 (linear interpolation between order statistics), exactly
    ``statistics.quantiles(data, n=100, method="inclusive")`` (SPEC §5). One value: all
    equal it; no value: all None. Input and output are exact Fractions.
    """
    if not data:
        return Percentiles()
    # Rounding to float is monotonic, so (float, exact) sorts exactly while most
    # comparisons stay cheap float comparisons.
    ordered = sorted((x if type(x) is Fraction else Fraction(x) for x in data), key=_sort_key)
    if len(ordered) == 1:
        (only,) = ordered
        return Percentiles(only, only, only, only, only, only, only)
    # n=20 gives the same type-7 cut points at every multiple of 5 % as n=100, with a
    # fifth of the exact Fraction arithmetic: cuts[k-1] = P_(5k).
    cuts = statistics.quantiles(ordered, n=20, method="inclusive")
    return Percentiles(
        minimum=ordered[0],
        p5=cuts[0],
        p25=cuts[4],
        median=cuts[9],
        p75=cuts[14],
        p95=cuts[18],
        maximum=ordered[-1],
    )


def _has_target(rule: Rule) -> bool:
    return rule.target_op is not None and rule.target_value is not None


def _has_corridor(rule: Rule) -> bool:
    return rule.corridor_lower is not None or rule.corridor_upper is not None


def indicator_statistics(values: Sequence[tuple[int, int | None]], rule: Rule) -> IndicatorStatistics:
    """Statistics of one indicator over the sites of one indicator year (SPEC §5).

    values: one ``(numerator, denominator)`` per site, non-negative integers; the
        denominator is None (ignored) for count indicators. A rate with denominator 0 or
        None is not evaluable and only counted in ``n_reported`` / ``n_not_evaluable``.
    rule: the definition's target and corridor (``IndicatorDefinition.rule()``); its
        ``kind`` decides rate vs. count.

    Returns an ``IndicatorStatistics`` (rates as Fractions 0..1). Raises ValueError for
    a negative numerator or denominator.
    """
    is_count = rule.kind == Kind.COUNT
    evaluable: list[tuple[int, int | None]] = []
    for numerator, denominator in values:
        if numerator < 0 or (denominator is not None and denominator < 0):
            raise ValueError("counts must not be negative")
        if is_count:
            evaluable.append((numerator, None))
        elif denominator:
            evaluable.append((numerator, denominator))

    if is_count:
        site_values = [Fraction(num) for num, _den in evaluable]
        total: int | None = sum(num for num, _den in evaluable)
        pooled_rate = None
        at_100: int | None = None
    else:
        site_values = [Fraction(num, den) for num, den in evaluable]  # den > 0 here
        total = None
        sum_den = sum(den for _num, den in evaluable if den)
        pooled_rate = Fraction(sum(num for num, _den in evaluable), sum_den) if sum_den else None
        at_100 = sum(1 for num, den in evaluable if num == den)

    n_sites = len(evaluable)
    meeting: int | None = None
    share: Fraction | None = None
    if _has_target(rule):
        meeting = sum(1 for num, den in evaluable if meets_target(num, den, rule))
        share = Fraction(meeting, n_sites) if n_sites else None
    inside: int | None = None
    if _has_corridor(rule):
        inside = sum(1 for num, den in evaluable if corridor_position(num, den, rule) == 0)

    pct = percentiles(site_values)
    return IndicatorStatistics(
        kind=Kind.COUNT if is_count else Kind.RATE,
        n_reported=len(values),
        n_sites=n_sites,
        n_not_evaluable=len(values) - n_sites,
        pooled_rate=pooled_rate,
        total=total,
        median=pct.median,
        minimum=pct.minimum,
        maximum=pct.maximum,
        p5=pct.p5,
        p25=pct.p25,
        p75=pct.p75,
        p95=pct.p95,
        sites_meeting_target=meeting,
        share_meeting_target=share,
        sites_inside_corridor=inside,
        sites_with_zero_numerator=sum(1 for num, _den in evaluable if num == 0),
        sites_at_100_percent=at_100,
    )
