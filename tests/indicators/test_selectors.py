"""Selectors of the indicators app: national statistics over Evaluation rows (SPEC §5),
trends across catalogue versions, and scoped deviation reads (404 out of scope)."""

from fractions import Fraction as F

import pytest
from django.http import Http404

from indicators.choices import Flag
from indicators.domain import evaluate
from indicators.models import Deviation, Evaluation, IndicatorDefinition, IndicatorYear
from indicators.selectors import (
    deviation_get,
    deviation_list,
    indicator_site_values,
    indicator_stats,
    indicator_trend,
    national_default_year,
)
from indicators.services import evaluation_record
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def record(site, year, version, code, numerator, denominator=None):
    """Store one evaluated value the way the Datenblatt import does."""
    definition = IndicatorDefinition.objects.get(version_id=version, code=code)
    return evaluation_record(
        site=site,
        indicator_year=year,
        definition=definition,
        numerator=numerator,
        denominator=denominator,
        flags=evaluate(numerator, denominator, definition.rule()),
        source_revision_id=None,
    )


# --- indicator_stats ------------------------------------------------------------------


def test_indicator_stats_over_the_evaluations_of_one_year(catalogue, site_a, site_b):
    site_c = SiteFactory()
    # KJ2022 KeZa 2: tumour board, >= 95 %
    record(site_a, 2022, "KJ2022", "2", 95, 100)
    record(site_b, 2022, "KJ2022", "2", 94, 100)
    record(site_c, 2022, "KJ2022", "2", 0, 0)  # not evaluable
    record(site_a, 2021, "KJ2022", "2", 0, 100)  # another year: not counted
    # KJ2022 KeZa 1a: primary cases, count >= 75
    record(site_a, 2022, "KJ2022", "1a", 80)
    record(site_b, 2022, "KJ2022", "1a", 74)

    rows = indicator_stats(indicator_year=2022)

    codes = [r.definition.code for r in rows]
    assert codes == list(
        IndicatorDefinition.objects.filter(version_id="KJ2022").order_by("position").values_list("code", flat=True)
    )
    assert codes[:4] == ["1a", "1b", "2", "2a"]
    by_code = {r.definition.code: r.statistics for r in rows}

    board = by_code["2"]
    assert (board.n_reported, board.n_sites, board.n_not_evaluable) == (3, 2, 1)
    assert board.pooled_rate == F(189, 200)
    assert board.median == F(189, 200)
    assert (board.minimum, board.maximum) == (F(94, 100), F(95, 100))
    assert board.p25 == F(94, 100) + F(1, 4) * F(1, 100)
    assert (board.sites_meeting_target, board.share_meeting_target) == (1, F(1, 2))
    assert board.sites_inside_corridor is None
    assert board.sites_at_100_percent == 0

    cases = by_code["1a"]
    assert cases.total == 154 and cases.pooled_rate is None
    assert (cases.sites_meeting_target, cases.median) == (1, F(77))

    empty = by_code["20"]
    assert (empty.n_reported, empty.n_sites, empty.median) == (0, 0, None)


def test_indicator_stats_for_one_code(catalogue, site_a):
    record(site_a, 2022, "KJ2022", "20", 59, 100)
    (row,) = indicator_stats(indicator_year=2022, code="20")
    assert row.definition.version_id == "KJ2022"
    assert row.statistics.sites_inside_corridor == 0  # 59 % < 60 %
    assert row.statistics.sites_with_zero_numerator == 0


def test_indicator_stats_uses_the_version_mapped_to_the_year(catalogue, site_a):
    """2019 is a KJ2022 year (2019+ numbering); 2024 uses KJ2024, where 2b exists."""
    record(site_a, 2024, "KJ2024", "2b", 19, 20)
    assert {r.definition.version_id for r in indicator_stats(indicator_year=2019)} == {"KJ2022"}
    (row,) = indicator_stats(indicator_year=2024, code="2b")
    assert row.definition.version_id == "KJ2024"
    assert row.statistics.sites_meeting_target == 1
    with pytest.raises(IndicatorDefinition.DoesNotExist):
        indicator_stats(indicator_year=2022, code="2b")


def test_indicator_stats_unknown_year(catalogue):
    with pytest.raises(IndicatorYear.DoesNotExist):
        indicator_stats(indicator_year=1999)


def _stats_queries(django_assert_max_num_queries, n_sites: int) -> int:
    sites = SiteFactory.create_batch(n_sites)
    for i, site in enumerate(sites):
        record(site, 2022, "KJ2022", "2", 90 + i % 10, 100)
        record(site, 2022, "KJ2022", "1a", 70 + i)
    with django_assert_max_num_queries(2) as captured:
        rows = indicator_stats(indicator_year=2022)
    stored = Evaluation.objects.filter(indicator_year=2022, definition__code="2").count()
    assert {r.definition.code: r.statistics.n_sites for r in rows}["2"] == stored
    return len(captured)


def test_indicator_stats_query_count_does_not_grow_with_sites(catalogue, django_assert_max_num_queries):
    one = _stats_queries(django_assert_max_num_queries, 1)
    thirty = _stats_queries(django_assert_max_num_queries, 29)  # 30 sites in all
    assert one == thirty == 2


# --- indicator_site_values / national_default_year -------------------------------------


def test_indicator_site_values_one_pair_per_site_of_that_year_and_definition(
    catalogue, site_a, site_b, django_assert_num_queries
):
    board = IndicatorDefinition.objects.get(version_id="KJ2022", code="2")
    record(site_b, 2022, "KJ2022", "2", 94, 100)
    record(site_a, 2022, "KJ2022", "2", 0, 0)  # not evaluable: still a site value
    record(site_a, 2021, "KJ2022", "2", 5, 10)  # another year
    record(site_a, 2022, "KJ2022", "2a", 3, 10)  # another definition
    record(site_a, 2022, "KJ2022", "1a", 80)  # a count

    with django_assert_num_queries(1):
        values = indicator_site_values(indicator_year=2022, definition=board)

    assert values == [(0, 0), (94, 100)]  # ordered by site, site_a first
    cases = IndicatorDefinition.objects.get(version_id="KJ2022", code="1a")
    assert indicator_site_values(indicator_year=2022, definition=cases) == [(80, None)]
    assert indicator_site_values(indicator_year=2023, definition=board) == []


def test_national_default_year_prefers_evaluated_years(catalogue, site_a):
    mapped = max(IndicatorYear.objects.values_list("year", flat=True))
    assert national_default_year() == mapped  # nothing evaluated yet
    record(site_a, 2022, "KJ2022", "2", 9, 10)
    assert mapped != 2022
    assert national_default_year() == 2022


# --- indicator_trend ------------------------------------------------------------------


def test_trend_follows_predecessor_across_versions(catalogue, site_a, site_b):
    """KJ2024 "2b" (salivary tumour board) continues KJ2022 "2a": one series."""
    record(site_a, 2022, "KJ2022", "2a", 9, 10)
    record(site_b, 2022, "KJ2022", "2a", 10, 10)
    record(site_a, 2023, "KJ2022", "2a", 10, 10)
    record(site_a, 2024, "KJ2024", "2b", 19, 20)
    # KJ2022 "2" is the general tumour board, KJ2024 "2a"'s predecessor: not in this trend
    record(site_a, 2022, "KJ2022", "2", 1, 10)
    record(site_a, 2024, "KJ2024", "2a", 1, 10)

    points = indicator_trend(code="2b", up_to_year=2024)

    assert [(p.indicator_year, p.definition.version_id, p.definition.code) for p in points] == [
        (2022, "KJ2022", "2a"),
        (2023, "KJ2022", "2a"),
        (2024, "KJ2024", "2b"),
    ]
    assert {p.series for p in points} == {"KJ2022:2a"}
    assert [p.series_break for p in points] == [False, False, False]
    assert [p.statistics.pooled_rate for p in points] == [F(19, 20), F(1), F(19, 20)]
    assert points[0].statistics.sites_at_100_percent == 1
    # KJ2024 added a target (>= 95 %) to the same series
    assert points[0].statistics.sites_meeting_target is None
    assert points[2].statistics.sites_meeting_target == 1


def test_trend_breaks_where_the_definition_changed(catalogue, site_a):
    """KeZa 20: larynx RT duration (KJ2022) became RT start (KJ2024): a new series."""
    record(site_a, 2022, "KJ2022", "20", 7, 10)
    record(site_a, 2024, "KJ2024", "20", 5, 10)

    points = indicator_trend(code="20", up_to_year=2024)

    assert [p.indicator_year for p in points] == [2022, 2024]
    assert [p.series for p in points] == ["KJ2022:20", "KJ2024:20"]
    assert [p.series_break for p in points] == [False, True]


def test_trend_anchor_year_decides_what_the_code_means(catalogue, site_a):
    record(site_a, 2022, "KJ2022", "2a", 9, 10)
    record(site_a, 2022, "KJ2022", "2", 1, 10)
    record(site_a, 2023, "KJ2022", "2a", 10, 10)
    record(site_a, 2024, "KJ2024", "2a", 3, 10)
    # up to 2023 "2a" is the salivary-gland board of KJ2022
    points = indicator_trend(code="2a", up_to_year=2023)
    assert [(p.indicator_year, p.definition.code) for p in points] == [
        (2022, "2a"),
        (2023, "2a"),
    ]
    # without up_to_year the latest evaluated year (2024, KJ2024) anchors the code:
    # KJ2024 "2a" is the general tumour board, continuing KJ2022 "2"
    points = indicator_trend(code="2a")
    assert [(p.indicator_year, p.definition.code) for p in points] == [
        (2022, "2"),
        (2024, "2a"),
    ]
    assert points[1].statistics.pooled_rate == F(3, 10)


def test_trend_reaches_back_to_c21(catalogue, site_a):
    record(site_a, 2018, "C2.1", "1", 70)
    record(site_a, 2022, "KJ2022", "1a", 80)
    record(site_a, 2024, "KJ2024", "1a", 90)
    points = indicator_trend(code="1a", up_to_year=2024)
    assert [(p.indicator_year, p.definition.code, p.statistics.total) for p in points] == [
        (2018, "1", 70),
        (2022, "1a", 80),
        (2024, "1a", 90),
    ]
    assert not any(p.series_break for p in points)


def test_trend_errors(catalogue):
    with pytest.raises(IndicatorYear.DoesNotExist):
        indicator_trend(code="5", up_to_year=1999)
    with pytest.raises(IndicatorDefinition.DoesNotExist):
        indicator_trend(code="OH-1", up_to_year=2022)
    assert indicator_trend(code="OH-1") == []  # exists in KJ2024, no evaluations


def _trend_queries(django_assert_max_num_queries, n_sites: int) -> int:
    for i, site in enumerate(SiteFactory.create_batch(n_sites)):
        record(site, 2022, "KJ2022", "2a", i % 5, 4)
        record(site, 2024, "KJ2024", "2b", i % 5, 4)
    with django_assert_max_num_queries(3) as captured:
        points = indicator_trend(code="2b", up_to_year=2024)
    stored = Evaluation.objects.filter(indicator_year=2024).count()
    assert [p.statistics.n_reported for p in points][-1] == stored
    return len(captured)


def test_trend_query_count_does_not_grow_with_sites(catalogue, django_assert_max_num_queries):
    one = _trend_queries(django_assert_max_num_queries, 1)
    thirty = _trend_queries(django_assert_max_num_queries, 29)
    assert one == thirty


# --- deviation_list / deviation_get ---------------------------------------------------


@pytest.fixture
def deviations(catalogue, site_a, site_b):
    """site_a and site_b each miss the KJ2022 KeZa 2 target in 2022."""
    record(site_a, 2022, "KJ2022", "2", 80, 100)
    record(site_b, 2022, "KJ2022", "2", 70, 100)
    return (
        Deviation.objects.get(site=site_a, code="2"),
        Deviation.objects.get(site=site_b, code="2"),
    )


def test_coordinator_sees_only_own_sites_deviations(coordinator, deviations, site_a):
    own, _other = deviations
    assert list(deviation_list(user=coordinator)) == [own]
    assert own.flag == Flag.TARGET_NOT_MET and own.site == site_a


def test_commission_sees_all_deviations(commission, deviations):
    assert set(deviation_list(user=commission)) == set(deviations)


def test_deviation_list_filters(office, deviations, site_b):
    own, other = deviations
    assert list(deviation_list(user=office, site_id=site_b.pk)) == [other]
    assert list(deviation_list(user=office, indicator_year=2021)) == []
    assert list(deviation_list(user=office, flag=Flag.TARGET_NOT_MET, code="2")) == [
        own,
        other,
    ]
    assert list(deviation_list(user=office, is_active=False)) == []
    record(site_b, 2022, "KJ2022", "2", 99, 100)  # corrected: the flag closes
    assert list(deviation_list(user=office, is_active=True)) == [own]
    assert list(deviation_list(user=office, is_active=False)) == [other]


def test_coordinator_gets_404_for_other_centres_deviation(coordinator, deviations):
    own, other = deviations
    assert deviation_get(user=coordinator, pk=own.pk) == own
    with pytest.raises(Http404):
        deviation_get(user=coordinator, pk=other.pk)
    with pytest.raises(Http404):
        deviation_get(user=coordinator, pk=other.pk + 1000)


def test_coordinator_b_gets_404_for_site_a(coordinator_b, deviations):
    own, other = deviations
    assert deviation_get(user=coordinator_b, pk=other.pk) == other
    with pytest.raises(Http404):
        deviation_get(user=coordinator_b, pk=own.pk)


def test_anonymous_sees_no_deviation(deviations):
    from django.contrib.auth.models import AnonymousUser

    assert list(deviation_list(user=AnonymousUser())) == []
    with pytest.raises(Http404):
        deviation_get(user=AnonymousUser(), pk=deviations[0].pk)


def _list_queries(django_assert_num_queries, user, n_sites: int) -> int:
    for i, site in enumerate(SiteFactory.create_batch(n_sites)):
        record(site, 2022, "KJ2022", "2", 50 + i, 100)
    if hasattr(user, "_qip_memberships"):
        del user._qip_memberships  # count the membership lookup each time
    with django_assert_num_queries(2) as captured:  # memberships + one list query
        rows = [(d.site.registration_number, d.definition.code) for d in deviation_list(user=user)]
    assert len(rows) == Deviation.objects.count()
    return len(captured)


def test_deviation_list_query_count_same_for_1_and_30(commission, catalogue, django_assert_num_queries):
    one = _list_queries(django_assert_num_queries, commission, 1)
    thirty = _list_queries(django_assert_num_queries, commission, 29)
    assert one == thirty == 2
