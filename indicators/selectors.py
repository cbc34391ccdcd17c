"""Reads of the indicators app: national statistics (SPEC §5) and scoped deviations.

Statistics read the current ``Evaluation`` rows (one per site × indicator year ×
definition) and hand plain numbers to ``indicators.statistics``. Deviation reads are
scoped by ``centres.permissions.restrict``: out-of-scope rows vanish, ``deviation_get``
answers 404 (STYLE §1, NetBox scoping).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Max, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from centres.models import Site
from centres.permissions import Action, audit_years, restrict, site_scope
from qiportal.portal import url_with_query

from .choices import DeviationState
from .models import Deviation, Evaluation, IndicatorDefinition, IndicatorYear
from .statistics import IndicatorStatistics, indicator_statistics

User = AbstractBaseUser | AnonymousUser


@dataclass(frozen=True)
class IndicatorStatRow:
    """One indicator of an indicator year and its national statistics (SPEC §5)."""

    definition: IndicatorDefinition
    statistics: IndicatorStatistics


@dataclass(frozen=True)
class IndicatorTrendPoint:
    """One indicator year of a trend (SPEC §5, last paragraph).

    ``definition`` is the lineage member in force that year (its catalogue version may
    use another KeZa code, e.g. KJ2022 "2a" for KJ2024 "2b"); ``series`` its trend-series
    key; ``series_break`` is True when ``series`` differs from the previous point's, i.e.
    the definition changed and a chart must start a new series here.
    """

    indicator_year: int
    definition: IndicatorDefinition
    series: str
    series_break: bool
    statistics: IndicatorStatistics


def _values_by_definition(
    rows: list[tuple[int, int, int | None]],
) -> dict[int, list[tuple[int, int | None]]]:
    grouped: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for definition_id, numerator, denominator in rows:
        grouped[definition_id].append((numerator, denominator))
    return grouped


def indicator_stats(*, indicator_year: int, code: str | None = None) -> list[IndicatorStatRow]:
    """National statistics of every indicator (or only KeZa ``code``) of one indicator
    year, in catalogue position order (SPEC §5).

    The indicator set is that of the catalogue version mapped to ``indicator_year`` by
    ``IndicatorYear``; values are the ``Evaluation`` rows of that year for those
    definitions (one row per site). Indicators without evaluations get statistics over
    zero sites. Rates in the statistics are Fractions 0..1.

    Two queries, whatever the number of sites. Raises ``IndicatorYear.DoesNotExist``
    for an indicator year without catalogue version (or definitions) and
    ``IndicatorDefinition.DoesNotExist`` for a code not in that version.
    """
    definitions = list(
        IndicatorDefinition.objects.filter(version__years__year=indicator_year)
        .select_related("version")
        .order_by("position", "code")
    )
    if not definitions:
        raise IndicatorYear.DoesNotExist(f"no catalogue version for indicator year {indicator_year}")
    if code is not None:
        definitions = [d for d in definitions if d.code == code]
        if not definitions:
            raise IndicatorDefinition.DoesNotExist(
                f"KeZa {code!r} is not in the catalogue of indicator year {indicator_year}"
            )
    rows = Evaluation.objects.filter(
        indicator_year=indicator_year, definition_id__in=[d.pk for d in definitions]
    ).values_list("definition_id", "numerator", "denominator")
    values = _values_by_definition(list(rows))
    return [
        IndicatorStatRow(definition=d, statistics=indicator_statistics(values[d.pk], d.rule())) for d in definitions
    ]


def indicator_site_values(*, indicator_year: int, definition: IndicatorDefinition) -> list[tuple[int, int | None]]:
    """The (numerator, denominator) of every site with an ``Evaluation`` of
    ``definition`` in ``indicator_year``: one pair per site, anonymous, ordered by site
    (stable, carries no meaning). Counts are integers; ``denominator`` is None for count
    indicators and may be 0 (not evaluable). Not scoped: national pages show values
    without sites (SPEC §5), callers check ``Action.VIEW_NATIONAL``. One query."""
    return list(
        Evaluation.objects.filter(indicator_year=indicator_year, definition=definition)
        .order_by("site_id")
        .values_list("numerator", "denominator")
    )


def national_default_year() -> int | None:
    """The newest indicator year with evaluations, else the newest year mapped to a
    catalogue version (``IndicatorYear``); None when there is neither. Two queries at
    most."""
    year = Evaluation.objects.aggregate(year=Max("indicator_year"))["year"]
    if year is None:
        year = IndicatorYear.objects.aggregate(year=Max("year"))["year"]
    return year


def _lineage(anchor: IndicatorDefinition, by_pk: dict[int, IndicatorDefinition]) -> dict[str, IndicatorDefinition]:
    """Catalogue version id -> member of ``anchor``'s lineage (anchor and its
    predecessors); the newest member wins should a version occur twice."""
    lineage: dict[str, IndicatorDefinition] = {}
    seen: set[int] = set()
    current: IndicatorDefinition | None = anchor
    while current is not None and current.pk not in seen:
        seen.add(current.pk)
        lineage.setdefault(current.version_id, current)
        current = by_pk.get(current.predecessor_id) if current.predecessor_id else None
    return lineage


def indicator_trend(*, code: str, up_to_year: int | None = None) -> list[IndicatorTrendPoint]:
    """Statistics per indicator year of one indicator across catalogue versions, oldest
    first, up to and including ``up_to_year`` (SPEC §5).

    ``code`` is the KeZa in the catalogue version in force for ``up_to_year`` (default:
    the latest indicator year with evaluations, else the latest mapped year). The trend
    follows ``predecessor`` links back through older versions, so KJ2024 "2b" includes the
    KJ2022 "2a" years; only years with evaluations of the lineage member in force that
    year appear. Each point carries the definition's ``series`` and ``series_break``
    (True where the series key changes, e.g. KeZa 20 in KJ2024): callers draw a new
    series there.

    At most four queries. Raises ``IndicatorYear.DoesNotExist`` for an unmapped
    ``up_to_year`` and ``IndicatorDefinition.DoesNotExist`` for a code not in that
    year's catalogue version.
    """
    if up_to_year is None:
        up_to_year = Evaluation.objects.aggregate(year=Max("indicator_year"))["year"]
    years = dict(IndicatorYear.objects.values_list("year", "catalogue_version_id"))
    if up_to_year is None:  # no evaluations at all: anchor on the latest mapped year
        up_to_year = max(years, default=None)
    if up_to_year is None or up_to_year not in years:
        raise IndicatorYear.DoesNotExist(f"no catalogue version for indicator year {up_to_year}")
    anchor_version = years[up_to_year]
    by_pk = {d.pk: d for d in IndicatorDefinition.objects.select_related("version")}
    anchor = next(
        (d for d in by_pk.values() if d.version_id == anchor_version and d.code == code),
        None,
    )
    if anchor is None:
        raise IndicatorDefinition.DoesNotExist(f"KeZa {code!r} is not in catalogue version {anchor_version}")
    lineage = _lineage(anchor, by_pk)
    rows = Evaluation.objects.filter(
        indicator_year__lte=up_to_year,
        definition_id__in=[d.pk for d in lineage.values()],
    ).values_list("indicator_year", "definition_id", "numerator", "denominator")
    by_year: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for year, definition_id, numerator, denominator in rows:
        member = lineage.get(years.get(year, ""))
        if member is not None and member.pk == definition_id:
            by_year[year].append((numerator, denominator))
    points: list[IndicatorTrendPoint] = []
    for year in sorted(by_year):
        definition = lineage[years[year]]
        previous = points[-1].series if points else None
        points.append(
            IndicatorTrendPoint(
                indicator_year=year,
                definition=definition,
                series=definition.series,
                series_break=previous is not None and previous != definition.series,
                statistics=indicator_statistics(by_year[year], definition.rule()),
            )
        )
    return points


def deviation_list(
    *,
    user: User,
    indicator_year: int | None = None,
    site_id: int | None = None,
    code: str | None = None,
    flag: str | None = None,
    state: str | None = None,
    is_active: bool | None = None,
) -> QuerySet[Deviation]:
    """Deviation records the user may view (``Action.VIEW``), with site and definition;
    out-of-scope rows vanish (SPEC §4). Each filter applies when not None. Model
    ordering (site, indicator year, KeZa, flag)."""
    qs = Deviation.objects.select_related("site", "definition")
    filters = {
        "indicator_year": indicator_year,
        "site_id": site_id,
        "code": code,
        "flag": flag,
        "state": state,
        "is_active": is_active,
    }
    qs = qs.filter(**{k: v for k, v in filters.items() if v is not None})
    return restrict(qs, user, Action.VIEW)


def deviation_get(*, user: User, pk: int) -> Deviation:
    """One deviation the user may view; raises Http404 for an unknown or out-of-scope
    record (never 403: existence does not leak)."""
    return get_object_or_404(deviation_list(user=user), pk=pk)


# Columns of ``deviation_summary``: the review states of active records, then "closed".
SUMMARY_STATES = [
    DeviationState.OPEN,
    DeviationState.JUSTIFIED,
    DeviationState.ACCEPTED,
    DeviationState.NOTE,
    DeviationState.NONCONFORMITY,
    DeviationState.RESOLVED,
]


def deviation_summary(*, user: User, site: Site) -> dict:
    """Deviation records of ``site`` the user may view (``deviation_list``, so an
    out-of-scope site gives no rows), counted per indicator year × review state of the
    active records plus the closed ones; every count links to the filtered deviation
    list. One query (after the user's memberships).

    Returns ``{"headers": [label, ...], "years": [{"year": int, "cells": [{"n": int,
    "url": str}, ...]}, ...]}``, newest year first, one cell per header: the states of
    ``SUMMARY_STATES``, then closed. Counts are integers."""
    rows = (
        deviation_list(user=user, site_id=site.pk)
        .order_by()
        .values("indicator_year", "state", "is_active")
        .annotate(n=Count("pk"))
    )
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        key = row["state"] if row["is_active"] else "closed"
        counts[row["indicator_year"]][key] += row["n"]
    years = []
    for year in sorted(counts, reverse=True):
        cells = [
            {
                "n": counts[year][state],
                "url": url_with_query(
                    "indicators:deviation_list",
                    site=site.pk,
                    indicator_year=year,
                    state=state.value,
                    active="active",
                ),
            }
            for state in SUMMARY_STATES
        ]
        cells.append(
            {
                "n": counts[year]["closed"],
                "url": url_with_query("indicators:deviation_list", site=site.pk, indicator_year=year, active="closed"),
            }
        )
        years.append({"year": year, "cells": cells})
    headers = [s.label for s in SUMMARY_STATES] + [_("closed")]
    return {"headers": headers, "years": years}


def indicator_year_choices() -> list[tuple[int, int]]:
    """Kennzahlenjahre with a catalogue version, newest first, as form choices
    ``[(year, year), ...]`` (one query)."""
    return [(y, y) for y in IndicatorYear.objects.order_by("-year").values_list("year", flat=True)]


# ------------------------------------------------------------------ auditor's workbench


def user_decides_any(user: User) -> bool:
    """True if the user may DECIDE some deviation: the office (all sites) or an auditor
    with at least one audit (issue 9). Membership and audit scope are cached on the
    user, so this costs at most two queries per request."""
    all_sites, ids = site_scope(user, Action.DECIDE)
    return all_sites or bool(ids) or bool(audit_years(user))


def deviation_overdue_q(day: dt.date | None = None) -> Q:
    """Q of the overdue Abweichungen on ``day`` (default today): state nonconformity with
    a due date before that day, the same rule as ``Deviation.is_overdue``."""
    day = day or timezone.localdate()
    return Q(state=DeviationState.NONCONFORMITY, due_date__lt=day)


@dataclass(frozen=True)
class SeriesYear:
    """One indicator year of a site's values for one indicator series (issue 9, the
    deviation page's context).

    ``definition`` is the series member in force that year (its KeZa code may differ,
    e.g. KJ2022 "2" and KJ2024 "2a"); ``numerator``/``denominator`` the site's
    evaluation (None without one); ``value`` the rate (Fraction 0..1) or count, None
    when not evaluable or missing; ``flags`` the evaluation's Flag values; ``median``
    the national median of the evaluable sites that year (Fraction; None when not
    shown or no site is evaluable); ``n_sites`` the number of evaluable sites.
    """

    indicator_year: int
    definition: IndicatorDefinition
    numerator: int | None
    denominator: int | None
    value: Fraction | None
    flags: tuple[str, ...]
    median: Fraction | None
    n_sites: int


def deviation_series_values(*, user: User, deviation: Deviation, with_median: bool = True) -> list[SeriesYear]:
    """The site's values of the deviation's indicator over the indicator years, oldest
    first, following ``definition.series`` (never the bare KeZa code: KJ2022 "2a" and
    KJ2024 "2a" are different indicators), limited to the years the user may VIEW at
    that site (``restrict``). A year appears when the site has an evaluation of the
    series member in force that year, or it is the deviation's own year (then the
    deviation's numbers stand in). ``median``: national median per year from
    ``indicators.statistics`` over all sites' evaluations of that member (only with
    ``with_median``; callers pass ``user_can(user, VIEW_NATIONAL)``). Three queries."""
    series = deviation.definition.series
    in_force = dict(IndicatorYear.objects.values_list("year", "catalogue_version_id"))
    members = {d.version_id: d for d in IndicatorDefinition.objects.filter(series=series).select_related("version")}
    site_rows = restrict(
        Evaluation.objects.filter(site_id=deviation.site_id, definition__series=series), user, Action.VIEW
    ).values_list("indicator_year", "definition_id", "numerator", "denominator", "flags")
    own: dict[int, tuple[int, int | None, tuple[str, ...]]] = {}
    for year, definition_id, numerator, denominator, flags in site_rows:
        member = members.get(in_force.get(year, ""))
        if member is not None and member.pk == definition_id:
            own[year] = (numerator, denominator, tuple(flags or ()))
    if deviation.indicator_year not in own:
        own[deviation.indicator_year] = (deviation.numerator, deviation.denominator, (deviation.flag,))
    national: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    if with_median:
        rows = Evaluation.objects.filter(
            indicator_year__in=list(own), definition_id__in=[d.pk for d in members.values()]
        ).values_list("indicator_year", "definition_id", "numerator", "denominator")
        for year, definition_id, numerator, denominator in rows:
            member = members.get(in_force.get(year, ""))
            if member is not None and member.pk == definition_id:
                national[year].append((numerator, denominator))
    points = []
    for year in sorted(own):
        member = members.get(in_force.get(year, ""), deviation.definition)
        if year == deviation.indicator_year:
            member = deviation.definition
        numerator, denominator, flags = own[year]
        if member.is_count:
            value = Fraction(numerator)
        else:
            value = Fraction(numerator, denominator) if denominator else None
        stats = indicator_statistics(national[year], member.rule()) if national[year] else None
        points.append(
            SeriesYear(
                indicator_year=year,
                definition=member,
                numerator=numerator,
                denominator=denominator,
                value=value,
                flags=flags,
                median=stats.median if stats else None,
                n_sites=stats.n_sites if stats else 0,
            )
        )
    return points


def deviation_earlier(*, user: User, deviation: Deviation) -> QuerySet[Deviation]:
    """The site's deviations of the same indicator series (``definition.series``) in the
    indicator years before ``deviation``'s, newest first, with their decisions; only the
    ones the user may VIEW (issue 9). One query."""
    return (
        deviation_list(user=user)
        .filter(
            site_id=deviation.site_id,
            definition__series=deviation.definition.series,
            indicator_year__lt=deviation.indicator_year,
        )
        .select_related("decided_by")
        .order_by("-indicator_year", "flag")
    )


def deviation_decidable(*, user: User, ids: set[int]) -> QuerySet[Deviation]:
    """The deviations of ``ids`` the user may DECIDE (``restrict``); ids out of that
    scope or unknown are missing from the result (the caller compares the count)."""
    return restrict(Deviation.objects.filter(pk__in=ids), user, Action.DECIDE)
