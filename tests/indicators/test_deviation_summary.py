"""``indicators.selectors.deviation_summary``: a site's deviation records per indicator
year × review state (active) plus the closed ones, scoped, one query (issue 7)."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import translation

from indicators.choices import DeviationState, Flag
from indicators.models import Deviation, IndicatorDefinition
from indicators.selectors import deviation_summary

pytestmark = pytest.mark.django_db


def _deviation(site, year, code, *, state=DeviationState.OPEN, is_active=True, flag=Flag.TARGET_NOT_MET):
    return Deviation.objects.create(
        site=site,
        indicator_year=year,
        code=code,
        flag=flag,
        definition=IndicatorDefinition.objects.get(version_id="KJ2022", code=code),
        state=state,
        numerator=1,
        denominator=40,
        is_active=is_active,
    )


@pytest.fixture
def records(catalogue, site_a, site_b):
    _deviation(site_a, 2022, "5")
    _deviation(site_a, 2022, "2a")
    _deviation(site_a, 2022, "3", state=DeviationState.JUSTIFIED)
    _deviation(site_a, 2022, "4", state=DeviationState.NOTE, is_active=False)  # closed: counted as closed
    _deviation(site_a, 2021, "5", state=DeviationState.RESOLVED)
    _deviation(site_b, 2022, "5")  # another centre's record


def _counts(summary) -> list[tuple[int, list[int]]]:
    return [(row["year"], [cell["n"] for cell in row["cells"]]) for row in summary["years"]]


def test_counts_per_year_and_state_newest_year_first(records, coordinator, site_a):
    summary = deviation_summary(user=coordinator, site=site_a)
    # open, justified, accepted, note, nonconformity, resolved, closed
    assert _counts(summary) == [
        (2022, [2, 1, 0, 0, 0, 0, 1]),
        (2021, [0, 0, 0, 0, 0, 1, 0]),
    ]


def test_headers_are_the_states_then_closed_in_the_active_language(records, coordinator, site_a):
    with translation.override("en"):
        headers = [str(h) for h in deviation_summary(user=coordinator, site=site_a)["headers"]]
    assert headers == [
        "open",
        "justified",
        "accepted",
        "note (Hinweis)",
        "nonconformity (Abweichung)",
        "resolved",
        "closed",
    ]


def test_every_count_links_to_the_filtered_deviation_list(records, coordinator, site_a):
    (row_2022, _row_2021) = deviation_summary(user=coordinator, site=site_a)["years"]
    open_cell, closed_cell = row_2022["cells"][0], row_2022["cells"][-1]
    for cell, expected in (
        (open_cell, {"site": [str(site_a.pk)], "indicator_year": ["2022"], "state": ["open"], "active": ["active"]}),
        (closed_cell, {"site": [str(site_a.pk)], "indicator_year": ["2022"], "active": ["closed"]}),
    ):
        url = urlsplit(cell["url"])
        assert url.path == reverse("indicators:deviation_list")
        assert parse_qs(url.query) == expected


def test_other_centres_site_gives_an_empty_summary(records, coordinator_b, site_a):
    assert deviation_summary(user=coordinator_b, site=site_a)["years"] == []


def test_national_scope_sees_the_site(records, commission, site_b):
    assert _counts(deviation_summary(user=commission, site=site_b)) == [(2022, [1, 0, 0, 0, 0, 0, 0])]


def test_one_query_for_the_counts(records, coordinator, site_a, django_assert_num_queries):
    deviation_summary(user=coordinator, site=site_a)  # memberships cached on the user
    with django_assert_num_queries(1):
        deviation_summary(user=coordinator, site=site_a)
