"""The deviation page in its context (issue 9): the site's values of the indicator
series over the years with the national median and the target (across the catalogue
change KJ2022 "2" -> KJ2024 "2a", series "KJ2022:2"; never KJ2022 "2a", a different
indicator with the same code as KJ2024's), limited to the years the user may view; the
earlier deviations of the series with their decisions; overdue and repeat badges; the
log with from -> to and its texts; the decision form's nonconformity-only fields.

Values by hand: site_a 15/20 (2022), 16/20 (2023), 18/20 (2024); other sites 10/20 and
19/20 in 2023 (median of 50 %, 80 %, 95 % = 80 %), 12/20 in 2024 (median of 60 %, 90 %
= 75 %); 2022 only site_a (75 %).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from centres.models import Audit, AuditKind, Role
from indicators.choices import DeviationState, Flag, ReasonCode
from indicators.models import Deviation, Evaluation, IndicatorDefinition
from indicators.selectors import deviation_series_values
from indicators.services import deviation_decide, deviation_justify
from tests.factories import MembershipFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.django_db

NBSP = "\xa0"


def definition(version: str, code: str) -> IndicatorDefinition:
    return IndicatorDefinition.objects.get(version_id=version, code=code)


def evaluation(site, year, version, code, numerator, denominator=20, flags=()):
    return Evaluation.objects.create(
        site=site,
        indicator_year=year,
        definition=definition(version, code),
        numerator=numerator,
        denominator=denominator,
        flags=list(flags),
    )


def deviation(site, year, version, code, *, flag=Flag.TARGET_NOT_MET, numerator=18, **fields) -> Deviation:
    return Deviation.objects.create(
        site=site,
        indicator_year=year,
        code=code,
        flag=flag,
        definition=definition(version, code),
        numerator=numerator,
        denominator=20,
        **fields,
    )


@pytest.fixture
def values(catalogue, site_a):
    evaluation(site_a, 2018, "C2.1", "2", 1)  # series C2.1:2, the old definition: not shown
    evaluation(site_a, 2021, "KJ2022", "2a", 2)  # series KJ2022:2a: another indicator
    evaluation(site_a, 2022, "KJ2022", "2", 15, flags=[Flag.TARGET_NOT_MET])
    evaluation(site_a, 2023, "KJ2022", "2", 16, flags=[Flag.TARGET_NOT_MET])
    evaluation(site_a, 2024, "KJ2024", "2a", 18, flags=[Flag.TARGET_NOT_MET])
    evaluation(SiteFactory(), 2023, "KJ2022", "2", 10)
    evaluation(SiteFactory(), 2023, "KJ2022", "2", 19)
    evaluation(SiteFactory(), 2024, "KJ2024", "2a", 12)
    evaluation(SiteFactory(), 2024, "KJ2024", "2b", 0)  # KJ2022:2a series: no influence
    evaluation(SiteFactory(), 2021, "KJ2022", "2", 0)  # a year site_a has no value in
    return deviation(site_a, 2024, "KJ2024", "2a", consecutive_years=3)


def detail(client, user, dev, **params):
    client.force_login(user)
    response = client.get(reverse("indicators:deviation_detail", args=[dev.pk]), params)
    assert response.status_code == 200
    return response


# ------------------------------------------------------------------ series chart


def test_series_follows_the_series_across_the_catalogue_change(client, office, values):
    series = detail(client, office, values).context["series"]
    rows = [(r["year"], r["version"], r["code"], r["value"], r["median"], r["target"]) for r in series["rows"]]
    assert rows == [
        (2022, "KJ2022", "2", f"75,0{NBSP}%", f"75,0{NBSP}%", "≥ 95 %"),
        (2023, "KJ2022", "2", f"80,0{NBSP}%", f"80,0{NBSP}%", "≥ 95 %"),
        (2024, "KJ2024", "2a", f"90,0{NBSP}%", f"75,0{NBSP}%", "≥ 95 %"),
    ]
    assert [r["current"] for r in series["rows"]] == [False, False, True]
    # one line through three dots, the current year marked; three median marks; target
    assert len(series["lines"]) == 1 and len(series["lines"][0].split()) == 3
    assert [d["current"] for d in series["dots"]] == [False, False, True]
    assert len(series["medians"]) == 3
    assert series["target"]["label"] == "Sollvorgabe ≥ 95 %"
    assert [y["label"] for y in series["years"]] == ["2022", "2023", "2024"]


def test_series_chart_geometry_rates_on_a_0_to_100_axis(client, office, values):
    series = detail(client, office, values).context["series"]
    # plot from y=16 (100 %) to y=190 (0 %): 220 − 30 bottom padding; 90 % at 16 + 174·0.1
    assert series["y0"] == "190.00"
    assert series["dots"][2]["cy"] == "33.40"
    assert series["target"]["y"] == "24.70"  # 95 %


def test_series_is_limited_to_the_years_the_user_may_view(client, values, site_a):
    """An auditor of site_a's audit 2024 (indicator year 2023) views 2023 and earlier:
    the 2024 value does not appear on the 2023 deviation's page."""
    expert = UserFactory(username="expert23")
    MembershipFactory(user=expert, site=None, role=Role.AUDITOR)
    Audit.objects.create(site=site_a, audit_year=2024, kind=AuditKind.SURVEILLANCE).auditors.add(expert)
    dev_2023 = deviation(site_a, 2023, "KJ2022", "2", numerator=16)
    rows = detail(client, expert, dev_2023).context["series"]["rows"]
    assert [(r["year"], r["code"]) for r in rows] == [(2022, "2"), (2023, "2")]
    # and the 2024 deviation itself is out of scope
    assert client.get(reverse("indicators:deviation_detail", args=[values.pk])).status_code == 404


def test_coordinator_sees_the_series_without_the_national_median(client, coordinator, values):
    response = detail(client, coordinator, values)
    assert response.context["with_median"] is False
    assert [r["median"] for r in response.context["series"]["rows"]] == ["–", "–", "–"]
    assert response.context["series"]["medians"] == []
    assert "Bundesweiter Median" not in response.content.decode()


def test_series_selector_uses_the_deviation_numbers_without_an_evaluation(catalogue, site_a, office):
    dev = deviation(site_a, 2025, "KJ2024", "2a", numerator=17)
    (point,) = deviation_series_values(user=office, deviation=dev)
    assert (point.indicator_year, point.numerator, point.denominator, point.flags) == (
        2025,
        17,
        20,
        (Flag.TARGET_NOT_MET,),
    )
    assert point.median is None and point.n_sites == 0


def test_chart_text_is_in_the_svg_and_the_page_has_no_inline_style_or_script(client, office, values):
    body = detail(client, office, values).content.decode()
    svg = re.search(r'<svg viewBox="0 0 360 220".*?</svg>', body, re.S).group(0)
    assert svg.count('class="chart__tick"') == 5 + 3  # five y ticks, three years
    assert "style=" not in body and "<style" not in body
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", body) == []


# --------------------------------------------------------------- earlier deviations


def test_earlier_deviations_of_the_series_with_their_decisions(client, office, values, site_a, site_b):
    earlier = deviation(
        site_a,
        2023,
        "KJ2022",
        "2",
        numerator=16,
        state=DeviationState.NONCONFORMITY,
        decision_comment="Quote zu niedrig.",
        corrective_action="Alle Fälle vor Therapie vorstellen.",
        due_date=dt.date(2024, 9, 30),
        consecutive_years=2,
    )
    deviation(site_a, 2023, "KJ2022", "2a")  # another indicator with the same code as KJ2024's
    deviation(site_b, 2023, "KJ2022", "2")  # another site
    deviation(site_a, 2025, "KJ2024", "2a")  # a later year
    response = detail(client, office, values)
    assert [e["deviation"] for e in response.context["earlier"]] == [earlier]
    body = response.content.decode()
    table = re.search(r'<table class="table table--compact earlier-table">.*?</table>', body, re.S).group(0)
    assert "KJ2022 2" in table and "Quote zu niedrig." in table
    assert "Alle Fälle vor Therapie vorstellen." in table
    assert "30.09.2024" in table and "überfällig" in table  # not resolved, due date passed
    assert '<span class="badge badge--repeat">2. Jahr in Folge</span>' in table
    # this deviation: third year in a row, in the badges under the heading
    badges = re.search(r'<p class="badges">(.*?)</p>', body, re.S).group(1)
    assert '<span class="badge badge--repeat">3. Jahr in Folge</span>' in badges


def test_no_earlier_deviations_says_so(client, office, values):
    body = detail(client, office, values).content.decode()
    assert "Keine früheren Auffälligkeiten dieser Kennzahl an diesem Standort." in body


# ------------------------------------------------------------------------- overdue


def test_overdue_nonconformity_reads_as_overdue_on_the_page(client, office, values):
    Deviation.objects.filter(pk=values.pk).update(
        state=DeviationState.NONCONFORMITY,
        due_date=timezone.localdate() - dt.timedelta(days=1),
        corrective_action="Plan vorlegen.",
    )
    body = detail(client, office, values).content.decode()
    badges = re.search(r'<p class="badges">(.*?)</p>', body, re.S).group(1)
    assert '<span class="badge badge--overdue">überfällig</span>' in badges
    review = re.search(r'<section aria-labelledby="review-heading".*?</section>', body, re.S).group(0)
    assert "Plan vorlegen." in review and "badge--overdue" in review
    # due tomorrow: not overdue
    Deviation.objects.filter(pk=values.pk).update(due_date=timezone.localdate() + dt.timedelta(days=1))
    assert "badge--overdue" not in detail(client, office, values).content.decode()


# ----------------------------------------------------------------------------- log


def test_history_shows_from_to_and_the_texts(client, coordinator, auditor, values):
    deviation_justify(
        deviation=values, text="Nur 20 Fälle.", reason_code=ReasonCode.SMALL_NUMBERS, acting_user=coordinator
    )
    deviation_decide(
        deviation=values,
        decision=DeviationState.NONCONFORMITY,
        comment="Zu selten vorgestellt.",
        corrective_action="SOP anpassen.",
        due_date=dt.date(2031, 3, 31),
        acting_user=auditor,
    )
    response = detail(client, auditor, values)
    justified, decided = response.context["log_entries"]
    assert (justified["from"], justified["to"]) == ("offen", "begründet")
    assert [(t["label"], t["value"]) for t in justified["texts"]] == [
        ("Begründung", "Nur 20 Fälle."),
        ("Grund", "kleine Fallzahlen"),
    ]
    assert (decided["from"], decided["to"]) == ("begründet", "Abweichung")
    assert [(t["label"], t["value"]) for t in decided["texts"]] == [
        ("Kommentar", "Zu selten vorgestellt."),
        ("Korrekturmaßnahme", "SOP anpassen."),
        ("Frist", "31.03.2031"),
    ]
    body = response.content.decode()
    assert '<span class="log-transition">(offen → begründet)</span>' in body
    assert '<dt>Korrekturmaßnahme</dt><dd class="prose">SOP anpassen.</dd>' in body
    # the review card shows the reason code and the corrective action too
    review = re.search(r'<section aria-labelledby="review-heading".*?</section>', body, re.S).group(0)
    assert "kleine Fallzahlen" in review and "SOP anpassen." in review


# --------------------------------------------------------------------------- forms


def test_decision_form_marks_the_nonconformity_only_fields(client, auditor, values):
    Deviation.objects.filter(pk=values.pk).update(state=DeviationState.JUSTIFIED)
    body = detail(client, auditor, values).content.decode()
    form = re.search(r"<form[^>]*data-decision-form>.*?</form>", body, re.S).group(0)
    wrapped = re.findall(
        r'<div class="field field--nonconformity" data-nonconformity-only>.*?name="(\w+)".*?'
        r'<p class="field__hint">nur bei Abweichung</p>',
        form,
        re.S,
    )
    assert wrapped == ["corrective_action", "due_date"]
    assert 'name="decision"' in form and 'name="comment"' in form
    assert '<script src="/static/js/deviations.js" defer></script>' in body


def test_justify_form_offers_the_reason_code_with_the_current_choice(client, coordinator, values):
    Deviation.objects.filter(pk=values.pk).update(
        state=DeviationState.JUSTIFIED, justification="x", reason_code=ReasonCode.COMORBIDITY
    )
    body = detail(client, coordinator, values).content.decode()
    select = re.search(r'<select name="reason_code".*?</select>', body, re.S).group(0)
    assert '<option value="comorbidity" selected>' in select
    assert "data-decision-form" not in body  # a coordinator does not decide


def test_detail_page_query_count_is_bounded(client, office, values, django_assert_max_num_queries):
    client.force_login(office)
    url = reverse("indicators:deviation_detail", args=[values.pk]) + "?state=open&sort=-code"
    client.get(url)
    with django_assert_max_num_queries(20):
        assert client.get(url).status_code == 200


def test_year_labels_are_thinned_so_they_never_overlap(catalogue):
    """Twelve years (2015–2026) in 282 units: 23.5 per year, a label needs 39.6: every
    second year is labelled."""
    from fractions import Fraction
    from pathlib import Path

    from indicators.selectors import SeriesYear
    from indicators.series_chart import HEIGHT, TEXT, WIDTH, series_chart

    d = definition("KJ2024", "1a")
    points = [SeriesYear(year, d, 9, 10, Fraction(9, 10), (), None, 0) for year in range(2015, 2027)]
    chart = series_chart(points, definition=d, current_year=2026)
    assert [y["label"] for y in chart["years"]] == ["2015", "2017", "2019", "2021", "2023", "2025"]
    assert len(chart["dots"]) == 12 and len(chart["lines"]) == 1
    # the stylesheet gives the chart text TEXT units; on a 390 px phone the chart is
    # about 308 px wide (charts.CHART_GUTTER_PX = 82), so the text renders >= 11 px
    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "qiportal.css").read_text(encoding="utf-8")
    assert f".series-chart__svg .chart__tick, .series-chart__svg .chart__label {{ font-size: {TEXT}px; }}" in css
    assert TEXT * (390 - 82) / WIDTH >= 11
    assert (WIDTH, HEIGHT) == (360, 220)
