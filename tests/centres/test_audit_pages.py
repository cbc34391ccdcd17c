"""The audit pages (issue 9): the list by role with its filters and deviation counts,
and the office's assignment page (auditors, REDZYK, outcome) with its refusals and its
log entries (from -> to)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from centres.models import Audit, AuditError, AuditKind, AuditOutcome, LogEntry, Role
from centres.services import audit_update
from indicators.choices import DeviationState, Flag
from indicators.models import Deviation, IndicatorDefinition
from qiportal.exceptions import ApplicationError
from tests.factories import MembershipFactory, UserFactory

AUDIT_ROW = re.compile(r'href="/audits/(\d+)/dossier/"')


def _listed(client, user, query="") -> set[int]:
    client.force_login(user)
    response = client.get(reverse("audits:audit_list") + query)
    assert response.status_code == 200
    return {int(pk) for pk in AUDIT_ROW.findall(response.content.decode())}


@pytest.fixture
def audits(site_a, site_b, auditor):
    """auditor_a's eight audits of site_a (2020–2027), one of site_a without auditors
    (2019) and one of site_b."""
    own = set(Audit.objects.filter(auditors=auditor).values_list("pk", flat=True))
    unassigned = Audit.objects.create(site=site_a, audit_year=2019, kind=AuditKind.INITIAL)
    other = Audit.objects.create(site=site_b, audit_year=2025, kind=AuditKind.SURVEILLANCE, reduced_cycle=True)
    return {"own": own, "unassigned": unassigned.pk, "other": other.pk}


@pytest.mark.django_db
def test_list_by_role(client, audits, coordinator, coordinator_b, auditor, commission, office):
    everything = audits["own"] | {audits["unassigned"], audits["other"]}
    assert len(audits["own"]) == 8
    assert _listed(client, office) == everything
    assert _listed(client, commission) == everything
    assert _listed(client, coordinator) == audits["own"] | {audits["unassigned"]}
    assert _listed(client, coordinator_b) == {audits["other"]}
    assert _listed(client, auditor) == audits["own"]  # not site_a's audit without them
    idle = UserFactory(username="auditor_idle")
    MembershipFactory(user=idle, site=None, role=Role.AUDITOR)
    assert _listed(client, idle) == set()


@pytest.mark.django_db
def test_list_filters(client, audits, auditor, office, site_b):
    assert _listed(client, office, f"?site={site_b.pk}") == {audits["other"]}
    assert _listed(client, office, "?reduced_cycle=true") == {audits["other"]}
    assert _listed(client, office, f"?auditor={auditor.pk}") == audits["own"]
    assert _listed(client, office, "?audit_year=2019") == {audits["unassigned"]}
    assert _listed(client, office, "?kind=initial_certification") == {audits["unassigned"]}
    Audit.objects.filter(pk=audits["other"]).update(outcome=AuditOutcome.SUSPENDED)
    assert _listed(client, office, "?outcome=suspended") == {audits["other"]}
    assert len(_listed(client, office, "?outcome=none")) == 9


@pytest.mark.django_db
def test_list_counts_deviations_of_the_indicator_year(client, catalogue, audits, site_a, office, coordinator):
    definition = IndicatorDefinition.objects.get(version_id="KJ2024", code="8")
    states = [DeviationState.OPEN, DeviationState.OPEN, DeviationState.NONCONFORMITY]
    for code, state in zip(["8", "7", "13"], states, strict=True):
        Deviation.objects.create(
            site=site_a, indicator_year=2024, code=code, flag=Flag.TARGET_NOT_MET, definition=definition,
            state=state, numerator=1, denominator=2,
        )  # fmt: skip
    Deviation.objects.create(  # closed: not counted
        site=site_a, indicator_year=2024, code="2a", flag=Flag.TARGET_NOT_MET, definition=definition,
        state=DeviationState.OPEN, numerator=1, denominator=2, is_active=False,
    )  # fmt: skip
    Deviation.objects.create(  # indicator year 2023 belongs to the audit of 2024
        site=site_a, indicator_year=2023, code="8", flag=Flag.TARGET_NOT_MET, definition=definition,
        state=DeviationState.ACCEPTED, numerator=1, denominator=2,
    )  # fmt: skip
    client.force_login(office)
    html = client.get(reverse("audits:audit_list") + f"?site={site_a.pk}").content.decode()
    rows = {int(pk): row for row, pk in re.findall(r"(<tr.*?/audits/(\d+)/dossier/.*?</tr>)", html, re.S)}
    by_year = {a.audit_year: a.pk for a in Audit.objects.filter(site=site_a)}
    assert "2 offen, 1 Abweichung" in rows[by_year[2025]]
    assert "1 akzeptiert" in rows[by_year[2024]]
    assert re.search(r"<td[^>]*>0</td>", rows[by_year[2026]])
    # the assignment link is the office's only
    assert f"/audits/{by_year[2025]}/assign/" in html
    client.force_login(coordinator)
    assert "/assign/" not in client.get(reverse("audits:audit_list")).content.decode()


@pytest.fixture
def audit(site_a):
    return Audit.objects.create(site=site_a, audit_year=2025, kind=AuditKind.SURVEILLANCE)


@pytest.fixture
def auditors(site_a, site_b):
    first = UserFactory(username="fx_one", first_name="Frieda", last_name="Eins")
    MembershipFactory(user=first, site=site_a, role=Role.AUDITOR)
    second = UserFactory(username="fx_two")
    MembershipFactory(user=second, site=site_b, role=Role.AUDITOR)
    return first, second


@pytest.mark.django_db
def test_office_assigns_auditors_redzyk_and_outcome(client, audit, auditors, office):
    first, second = auditors
    url = reverse("audits:audit_assign", args=[audit.pk])
    client.force_login(office)
    page = client.get(url).content.decode()
    # keyboard-usable: a labelled checkbox per auditor, and only auditors are offered
    assert re.search(rf'<input type="checkbox" name="auditors" value="{first.pk}" id="(id_auditors_\d+)"', page)
    assert "Frieda Eins (fx_one)" in page and "fx_two" in page
    offered = {int(v) for v in re.findall(r'<input type="checkbox" name="auditors" value="(\d+)"', page)}
    assert offered == {first.pk, second.pk}  # not the office user, not the coordinator
    for checkbox_id in re.findall(r'<input type="checkbox" name="auditors"[^>]* id="([^"]+)"', page):
        assert f'<label for="{checkbox_id}">' in page

    response = client.post(
        url, {"auditors": [first.pk, second.pk], "reduced_cycle": "on", "outcome": AuditOutcome.CONTINUED}
    )
    assert response.status_code == 302 and response["Location"] == reverse("audits:audit_list")
    audit.refresh_from_db()
    assert set(audit.auditors.all()) == {first, second}
    assert (audit.reduced_cycle, audit.outcome) == (True, AuditOutcome.CONTINUED)
    entries = {e.action: e for e in LogEntry.objects.filter(object_id=audit.pk, content_type__model="audit")}
    assert entries["centres.audit.auditors_set"].data == {"from": [], "to": ["fx_one", "fx_two"]}
    assert entries["centres.audit.updated"].data == {
        "from": {"reduced_cycle": False, "outcome": ""},
        "to": {"reduced_cycle": True, "outcome": "continued"},
    }
    assert entries["centres.audit.updated"].actor == office

    client.post(url, {"auditors": [second.pk], "reduced_cycle": "on", "outcome": AuditOutcome.CONTINUED})
    last = LogEntry.objects.filter(object_id=audit.pk, content_type__model="audit").order_by("pk")
    assert [e.action for e in last] == [
        "centres.audit.auditors_set",
        "centres.audit.updated",
        "centres.audit.auditors_set",
    ]
    assert last.last().data == {"from": ["fx_one", "fx_two"], "to": ["fx_two"]}
    history = client.get(url).content.decode()
    assert "fx_one, fx_two" in history and "REDZYK: ja; Ergebnis: Zertifikat aufrechterhalten" in history


@pytest.mark.django_db
def test_a_user_without_the_auditor_role_is_refused(client, audit, auditors, office, coordinator):
    first, _second = auditors
    client.force_login(office)
    response = client.post(
        reverse("audits:audit_assign", args=[audit.pk]), {"auditors": [first.pk, coordinator.pk], "outcome": ""}
    )
    assert response.status_code == 200
    assert str(AuditError.NOT_AUDITOR.label) in response.content.decode()
    assert "Nur Benutzer mit der Rolle Fachexperte" in response.content.decode()
    assert not audit.auditors.exists()
    assert not LogEntry.objects.filter(content_type__model="audit").exists()


@pytest.mark.django_db
def test_assignment_page_is_the_offices(client, audit, auditors, coordinator, auditor, commission, office):
    url = reverse("audits:audit_assign", args=[audit.pk])
    first, _second = auditors
    for user in (coordinator, auditor, commission):
        client.force_login(user)
        assert client.get(url).status_code == 403, user
        assert client.post(url, {"auditors": [first.pk], "outcome": "ended"}).status_code == 403, user
    assert not audit.auditors.exists()
    audit.refresh_from_db()
    assert audit.outcome == ""
    assert not LogEntry.objects.filter(content_type__model="audit").exists()
    client.force_login(office)
    assert client.get(reverse("audits:audit_assign", args=[999999])).status_code == 404
    assert client.post(reverse("audits:audit_assign", args=[999999]), {"outcome": ""}).status_code == 404


@pytest.mark.django_db
def test_audit_update_service(audit, office, coordinator):
    with pytest.raises(ApplicationError) as refused:
        audit_update(audit=audit, reduced_cycle=True, outcome="", acting_user=coordinator)
    assert refused.value.code == AuditError.FORBIDDEN
    with pytest.raises(ApplicationError) as unknown:
        audit_update(audit=audit, reduced_cycle=True, outcome="granted_twice", acting_user=office)
    assert unknown.value.code == AuditError.OUTCOME_UNKNOWN
    assert not LogEntry.objects.exists()

    audit_update(audit=audit, reduced_cycle=False, outcome=AuditOutcome.GRANTED, acting_user=office)
    audit_update(audit=audit, reduced_cycle=False, outcome=AuditOutcome.GRANTED, acting_user=office)  # no change
    entries = list(LogEntry.objects.filter(action="centres.audit.updated"))
    assert [e.data for e in entries] == [{"from": {"outcome": ""}, "to": {"outcome": "granted"}}]
    audit.refresh_from_db()
    assert (audit.reduced_cycle, audit.outcome) == (False, "granted")
