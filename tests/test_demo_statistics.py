"""The demo year 2022, imported through the real path, reproduces the published national
figures of the Jahresbericht 2024 (catalogue ``published_results``, SPEC §5)."""

import json
from fractions import Fraction

import pytest
from django.core.management import call_command

from datasheets.models import DatasheetRevision
from indicators.models import Deviation
from indicators.selectors import indicator_stats
from indicators.services import CATALOGUE_FIXTURE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published():
    results = json.loads(CATALOGUE_FIXTURE.read_text(encoding="utf-8"))["published_results"]
    return {(r["code"], r["statistic"]): r for r in results if r["indicator_year"] == 2022}


@pytest.fixture
def demo_2022(transactional_db):
    call_command("demo_data", "--years", "2022", "--no-progress", "--password", "pw-demo-test")


def _round3(value: Fraction) -> float:
    return round(float(value), 3)


def test_demo_year_reproduces_published_figures(demo_2022, published):
    assert DatasheetRevision.objects.filter(indicator_year=2022, status="evaluated", is_current=True).count() == 80
    stats = {row.definition.code: row.statistics for row in indicator_stats(indicator_year=2022)}

    assert stats["1a"].total == published[("1a", "sum_over_sites")]["value"] == 11577
    assert stats["1a"].n_sites == published[("1a", "sum_over_sites")]["n_sites"]

    s5 = stats["5"]
    assert s5.n_sites == published[("5", "evaluable_sites")]["value"]
    assert _round3(s5.median) == published[("5", "median_site_rate")]["value"]
    assert s5.sites_meeting_target == published[("5", "sites_meeting_target")]["value"]
    assert float(s5.share_meeting_target) == published[("5", "share_sites_meeting_target")]["value"]
    assert s5.sites_with_zero_numerator == published[("5", "sites_with_zero_numerator")]["value"]

    s2a = stats["2a"]
    assert _round3(s2a.pooled_rate) == published[("2a", "pooled_rate")]["value"]
    assert s2a.sites_at_100_percent == published[("2a", "sites_at_100_percent")]["value"]

    s20 = stats["20"]
    share = Fraction(s20.sites_inside_corridor, s20.n_sites)
    assert abs(float(share) - published[("20", "share_sites_inside_corridor")]["value"]) < 0.01

    first_diagnosis = Fraction(stats["1a"].total, stats["1a"].total + stats["1b"].total)
    target = published[(None, "share_centre_cases_first_diagnosis")]["value"]
    assert target - 0.02 < float(first_diagnosis) < target  # "knapp 80 %"

    # Deviations exist for flagged values only, e.g. KeZa 5 below target at 7 sites.
    assert Deviation.objects.filter(indicator_year=2022, code="5", flag="target_not_met").count() == 80 - 73


def test_demo_data_is_idempotent(demo_2022):
    before = DatasheetRevision.objects.count(), Deviation.objects.count()
    call_command("demo_data", "--years", "2022", "--no-progress", "--password", "pw-demo-test")
    assert (DatasheetRevision.objects.count(), Deviation.objects.count()) == before
