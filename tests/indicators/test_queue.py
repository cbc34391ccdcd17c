"""The auditor's queue (issue 9): the deviations of the auditor's audits (what they may
DECIDE; a filter widens to the earlier years), each filter narrowing to the rows
expected by hand, the queue's columns, the bulk decision "accepted" (all or nothing,
out-of-scope ids write nothing), next / previous keeping the filter, and a query count
that does not grow with the rows.

Fixture: ``expert`` is a pool auditor of two audits of audit year 2025 (indicator year
2024): site_a and site_c. site_a's 2023 deviations are visible (earlier year) but not
decidable; site_b is out of scope.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from centres.models import Audit, AuditKind, LogEntry, Role
from indicators.choices import DeviationState, Flag, ReasonCode
from indicators.models import Deviation, IndicatorDefinition
from tests.factories import MembershipFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.django_db

QUEUE = "indicators:deviation_list"
LONG_TEXT = (
    "Zwei Patienten lehnten die Vorstellung in der Tumorkonferenz ab, ein weiterer wurde "
    "extern vorbehandelt und erst nach Abschluss der Therapie an uns überwiesen."
)


def make(site, code, *, year=2024, version="KJ2024", flag=Flag.TARGET_NOT_MET, **fields) -> Deviation:
    return Deviation.objects.create(
        site=site,
        indicator_year=year,
        code=code,
        flag=flag,
        definition=IndicatorDefinition.objects.get(version_id=version, code=code),
        numerator=fields.pop("numerator", 18),
        denominator=fields.pop("denominator", 20),
        **fields,
    )


@pytest.fixture
def site_c(db):
    return SiteFactory(registration_number="KHT-C01", name="Klinikum Celle", city="Celle")


@pytest.fixture
def expert(site_a, site_c):
    user = UserFactory(username="expert", first_name="Erika", last_name="Expertin")
    MembershipFactory(user=user, site=None, role=Role.AUDITOR)
    for site in (site_a, site_c):
        Audit.objects.create(site=site, audit_year=2025, kind=AuditKind.SURVEILLANCE).auditors.add(user)
    return user


@pytest.fixture
def rows(catalogue, site_a, site_b, site_c):
    """Named deviations; the comments say what sets each apart."""
    today = timezone.localdate()
    return {
        "open": make(site_a, "2a"),  # open, decidable
        "justified": make(
            site_a,
            "2b",
            state=DeviationState.JUSTIFIED,
            justification=LONG_TEXT,
            reason_code=ReasonCode.PATIENT_REFUSAL,
        ),
        "overdue": make(
            site_a,
            "3",
            state=DeviationState.NONCONFORMITY,
            due_date=today - dt.timedelta(days=1),
            corrective_action="Tumorkonferenz-Protokolle vorlegen.",
        ),
        "repeat": make(
            site_a,
            "4",
            flag=Flag.IMPLAUSIBLE_LOW,
            state=DeviationState.NONCONFORMITY,
            due_date=today + dt.timedelta(days=30),
            consecutive_years=3,
        ),
        "earlier": make(site_a, "2", year=2023, version="KJ2022", consecutive_years=2),  # view only
        "site_c": make(site_c, "5", flag=Flag.IMPLAUSIBLE_HIGH, numerator=3, denominator=None),
        "site_b": make(site_b, "2a"),  # out of scope
    }


def queue_pks(client, **params) -> set[int]:
    response = client.get(reverse(QUEUE), params)
    assert response.status_code == 200
    return {d.pk for d in response.context["table"].data}


def names(rows, *keys) -> set[int]:
    return {rows[k].pk for k in keys}


# ------------------------------------------------------------------------- filters


def test_queue_shows_what_the_auditor_decides_by_default(client, expert, rows):
    client.force_login(expert)
    assert queue_pks(client) == names(rows, "open", "justified", "overdue", "repeat", "site_c")
    # widened to the earlier years of the same sites (read only); never site_b
    assert queue_pks(client, scope="all") == names(rows, "open", "justified", "overdue", "repeat", "site_c", "earlier")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"site": "site_c"}, {"site_c"}),
        ({"audit": "site_c"}, {"site_c"}),
        ({"audit": "site_a"}, {"open", "justified", "overdue", "repeat"}),
        ({"code": "2B"}, {"justified"}),
        ({"code": "2", "scope": "all"}, {"earlier"}),  # the exact KeZa, not a prefix
        ({"state": "justified"}, {"justified"}),
        ({"state": "nonconformity"}, {"overdue", "repeat"}),
        ({"flag": "implausible_low"}, {"repeat"}),
        ({"repeat": "yes"}, {"repeat"}),
        ({"repeat": "yes", "scope": "all"}, {"repeat", "earlier"}),
        ({"overdue": "yes"}, {"overdue"}),
        ({"indicator_year": "2023"}, set()),  # earlier year: nothing to decide
        ({"indicator_year": "2023", "scope": "all"}, {"earlier"}),
    ],
)
def test_each_filter_narrows_to_the_expected_rows(client, expert, rows, site_a, site_c, params, expected):
    ids = {"site_a": site_a.pk, "site_c": site_c.pk}
    params = dict(params)
    if "site" in params:
        params["site"] = ids[params["site"]]
    if "audit" in params:
        params["audit"] = Audit.objects.get(site_id=ids[params["audit"]]).pk
    client.force_login(expert)
    assert queue_pks(client, **params) == names(rows, *expected)


def test_audit_choices_are_the_auditors_own_and_all_for_the_office(client, expert, office, rows, site_b):
    other = Audit.objects.create(site=site_b, audit_year=2025, kind=AuditKind.SURVEILLANCE)
    client.force_login(expert)
    choices = client.get(reverse(QUEUE)).context["filter"].form.fields["audit"].queryset
    assert other not in set(choices) and len(choices) == 2
    # someone else's audit cannot be used to reach its deviations
    response = client.get(reverse(QUEUE), {"audit": other.pk})
    assert list(response.context["table"].data) == []
    client.force_login(office)
    assert set(client.get(reverse(QUEUE)).context["filter"].form.fields["audit"].queryset) == set(Audit.objects.all())


def test_coordinator_sees_the_view_scope_without_queue_scope_or_checkboxes(client, coordinator, rows):
    client.force_login(coordinator)
    response = client.get(reverse(QUEUE))
    assert {d.pk for d in response.context["table"].data} == names(
        rows, "open", "justified", "overdue", "repeat", "earlier"
    )
    assert "scope" not in response.context["filter"].form.fields
    body = response.content.decode()
    assert 'type="checkbox"' not in body and 'id="bulk-accept"' not in body


# ------------------------------------------------------------------------- columns


def _row_html(body: str, pk: int) -> str:
    """The <tr> whose KeZa link goes to deviation ``pk``."""
    for row in re.findall(r"<tr\b.*?</tr>", body, re.S):
        if re.search(rf'href="/indicators/deviations/{pk}/(\?[^"]*)?"', row):
            return row
    raise AssertionError(f"no row for {pk}")


def test_queue_columns_shortened_justification_reason_due_date_and_repeat(client, expert, rows):
    client.force_login(expert)
    body = client.get(reverse(QUEUE)).content.decode()
    justified = _row_html(body, rows["justified"].pk)
    # ~80 characters, cut at a word, the full text in the title attribute
    short = re.search(r'<span title="([^"]+)">([^<]+)</span>', justified)
    assert short.group(1) == LONG_TEXT
    assert short.group(2) == "Zwei Patienten lehnten die Vorstellung in der Tumorkonferenz ab, ein weiterer…"
    assert len(short.group(2)) <= 80
    assert "Ablehnung durch Patient/in oder Kontraindikation" in justified
    overdue = _row_html(body, rows["overdue"].pk)
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).strftime("%d.%m.%Y")
    assert yesterday in overdue and '<span class="badge badge--overdue">überfällig</span>' in overdue
    repeat = _row_html(body, rows["repeat"].pk)
    assert '<span class="badge badge--repeat">3. Jahr in Folge</span>' in repeat
    assert "überfällig" not in repeat  # due in 30 days
    first_year = _row_html(body, rows["open"].pk)
    assert "Jahr in Folge" not in first_year and "badge--overdue" not in first_year
    assert re.findall(r'<td class="num">([^<]*)</td>', first_year) == ["18", "20", "90,0\xa0%"]  # the value


def test_checkboxes_only_for_decidable_rows_and_labelled(client, expert, rows):
    client.force_login(expert)
    body = client.get(reverse(QUEUE), {"scope": "all"}).content.decode()
    boxes = re.findall(
        r'<input type="checkbox" name="deviation" value="(\d+)" id="select-\1" form="bulk-accept">', body
    )
    # open or justified and in the DECIDE scope: not the Abweichungen, not 2023
    assert {int(pk) for pk in boxes} == names(rows, "open", "justified", "site_c")
    pk = rows["justified"].pk
    assert (
        f'<label class="visually-hidden" for="select-{pk}">Auswählen: KHT-A01 KeZa 2b, 2024, Sollvorgabe nicht erfüllt</label>'
        in body
    )
    # the bulk form: CSRF token, the labelled comment and the queue's query to return to
    form = re.search(
        r'<form method="post" action="/indicators/deviations/accept/" id="bulk-accept".*?</form>', body, re.S
    )
    assert "csrfmiddlewaretoken" in form.group(0)
    assert '<label for="bulk_comment">' in form.group(0)
    assert 'name="query" value="scope=all"' in form.group(0)


# ---------------------------------------------------------------------- bulk accept

BULK = "indicators:deviation_bulk_accept"


def _log(deviation) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Deviation), object_id=deviation.pk)
    )


def test_bulk_accept_writes_one_log_entry_per_deviation_with_the_comment(client, expert, rows):
    client.force_login(expert)
    chosen = [rows["open"], rows["justified"], rows["site_c"]]
    response = client.post(
        reverse(BULK),
        {"deviation": [d.pk for d in chosen], "comment": "Plausibel erklärt.", "query": "state=justified&sort=-code"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(QUEUE) + "?state=justified&sort=-code"
    for deviation, from_state in zip(chosen, ["open", "justified", "open"], strict=True):
        deviation.refresh_from_db()
        assert deviation.state == DeviationState.ACCEPTED
        assert deviation.decision_comment == "Plausibel erklärt." and deviation.decided_by == expert
        (entry,) = _log(deviation)
        assert entry.action == "indicators.deviation.accepted" and entry.actor == expert
        assert entry.data == {"from": from_state, "to": "accepted", "comment": "Plausibel erklärt."}
    # untouched
    for key in ("overdue", "repeat", "earlier", "site_b"):
        assert _log(rows[key]) == []


@pytest.mark.parametrize("intruder", ["site_b", "earlier"])
def test_bulk_accept_with_an_id_out_of_the_decide_scope_writes_nothing(client, expert, rows, intruder):
    """site_b: not the auditor's site; earlier: visible (2023) but not decidable."""
    client.force_login(expert)
    response = client.post(reverse(BULK), {"deviation": [rows["open"].pk, rows[intruder].pk], "comment": "x"})
    assert response.status_code == 404
    for key in ("open", intruder):
        rows[key].refresh_from_db()
        assert rows[key].state == DeviationState.OPEN and _log(rows[key]) == []


def test_bulk_accept_is_all_or_nothing_on_a_wrong_state(client, expert, rows):
    client.force_login(expert)
    client.cookies["django_language"] = "en"
    response = client.post(
        reverse(BULK), {"deviation": [rows["open"].pk, rows["overdue"].pk], "comment": "x"}, follow=True
    )
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["This step is not possible in the current state."]
    rows["open"].refresh_from_db()
    assert rows["open"].state == DeviationState.OPEN and _log(rows["open"]) == []


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({}, 302),  # nothing selected: a message
        ({"deviation": ["abc"]}, 404),
        ({"deviation": ["999999"]}, 404),
    ],
)
def test_bulk_accept_bad_input_never_500(client, expert, rows, data, status):
    client.force_login(expert)
    assert client.post(reverse(BULK), data).status_code == status
    assert not LogEntry.objects.exists()


def test_bulk_accept_refuses_users_who_decide_nothing_and_needs_csrf(expert, coordinator, rows):
    client = Client()
    client.force_login(coordinator)
    assert client.post(reverse(BULK), {"deviation": [rows["open"].pk]}).status_code == 403
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(expert)
    assert csrf_client.post(reverse(BULK), {"deviation": [rows["open"].pk]}).status_code == 403
    assert csrf_client.get(reverse(BULK)).status_code == 405
    rows["open"].refresh_from_db()
    assert rows["open"].state == DeviationState.OPEN and not LogEntry.objects.exists()


# ------------------------------------------------------------------ next / previous


def test_next_and_previous_keep_the_filter_and_its_order(client, expert, rows):
    """Filter state=nonconformity|open... here: site_a's 2024 rows sorted by KeZa
    descending: 4 (repeat), 3 (overdue), 2b (justified), 2a (open)."""
    client.force_login(expert)
    site_a = rows["open"].site_id
    query = f"site={site_a}&sort=-code"
    listing = client.get(reverse(QUEUE) + "?" + query)
    order = [d.pk for d in listing.context["table"].data]
    assert order == [rows[k].pk for k in ("repeat", "overdue", "justified", "open")]
    # the list's KeZa links carry the query
    assert f'href="/indicators/deviations/{rows["overdue"].pk}/?{query.replace("&", "&amp;")}"' in (
        listing.content.decode()
    )
    response = client.get(reverse("indicators:deviation_detail", args=[rows["overdue"].pk]) + "?" + query)
    neighbours = response.context["neighbours"]
    assert neighbours == {
        "previous": f"/indicators/deviations/{rows['repeat'].pk}/?{query}",
        "next": f"/indicators/deviations/{rows['justified'].pk}/?{query}",
        "position": 2,
        "total": 4,
    }
    assert response.context["queue_url"] == f"/indicators/deviations/?{query}"
    # the ends of the queue have one neighbour only
    last = client.get(reverse("indicators:deviation_detail", args=[rows["open"].pk]) + "?" + query)
    assert last.context["neighbours"]["next"] is None
    assert last.context["neighbours"]["previous"].startswith(f"/indicators/deviations/{rows['justified'].pk}/?")
    # a deviation outside the filtered queue has no neighbours, only the way back
    outside = client.get(reverse("indicators:deviation_detail", args=[rows["site_c"].pk]) + "?" + query)
    assert outside.context["neighbours"] == {}
    assert 'rel="next"' not in outside.content.decode()


def test_neighbours_with_a_filter_on_state(client, expert, rows):
    client.force_login(expert)
    response = client.get(reverse("indicators:deviation_detail", args=[rows["overdue"].pk]), {"state": "nonconformity"})
    # default order: site, indicator year descending, KeZa: 3 before 4
    n = response.context["neighbours"]
    assert (n["previous"], n["position"], n["total"]) == (None, 1, 2)
    assert urlsplit(n["next"]).path == f"/indicators/deviations/{rows['repeat'].pk}/"
    assert parse_qs(urlsplit(n["next"]).query) == {"state": ["nonconformity"]}


def test_a_decision_returns_to_the_deviation_with_the_filter(client, expert, rows):
    client.force_login(expert)
    url = reverse("indicators:deviation_decide", args=[rows["justified"].pk]) + "?state=justified"
    response = client.post(url, {"decision": "accepted", "comment": "ok"})
    assert response.status_code == 302
    assert response["Location"] == f"/indicators/deviations/{rows['justified'].pk}/?state=justified"


# --------------------------------------------------------------------- query count


def _queue_queries(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx)


@pytest.mark.parametrize("who", ["office", "expert"])
def test_queue_query_count_is_flat_for_5_and_20_rows(client, catalogue, site_a, expert, office, who):
    codes = [d.code for d in IndicatorDefinition.objects.filter(version_id="KJ2024").order_by("position")]
    client.force_login({"office": office, "expert": expert}[who])
    for code in codes[:5]:
        make(site_a, code, state=DeviationState.JUSTIFIED, justification=LONG_TEXT)
    five = _queue_queries(client, reverse(QUEUE))
    for code in codes[5:20]:
        make(site_a, code, state=DeviationState.NONCONFORMITY, due_date=dt.date(2020, 1, 1), consecutive_years=2)
    assert Deviation.objects.count() == 20
    twenty = _queue_queries(client, reverse(QUEUE))
    assert twenty == five
    assert five <= 15
