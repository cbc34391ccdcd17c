"""Reads of the indicators app: national statistics (SPEC §5) and scoped deviations.

Statistics read the current ``Evaluation`` rows (one per site × indicator year ×
definition) and hand plain numbers to ``indicators.statistics``. Deviation reads are
scoped by ``centres.permissions.restrict``: out-of-scope rows vanish, ``deviation_get``
answers 404 (STYLE §1, NetBox scoping).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Max, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _

from centres.models import Site
from centres.permissions import Action, restrict
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
