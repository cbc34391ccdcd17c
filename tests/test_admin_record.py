"""The record cannot be rewritten through the admin (issue 9): log entries, deviations
and data sheet revisions are shown but never added, changed or deleted there."""

import pytest
from django.urls import reverse

from centres.models import LogEntry
from centres.services import log_entry_create
from indicators.models import Deviation
from tests.factories import DatasheetRevisionFactory, UserFactory


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def deviation(catalogue, site_a):
    from indicators.models import IndicatorDefinition

    definition = IndicatorDefinition.objects.filter(version_id="KJ2022", code="20").get()
    return Deviation.objects.create(
        site=site_a,
        indicator_year=2022,
        code="20",
        flag="implausible_low",
        definition=definition,
        numerator=3,
        denominator=10,
    )


def _assert_read_only(admin_client, model_name: str, obj, field: str, value) -> None:
    app = obj._meta.app_label
    changelist = admin_client.get(reverse(f"admin:{app}_{model_name}_changelist"))
    assert changelist.status_code == 200
    change = reverse(f"admin:{app}_{model_name}_change", args=[obj.pk])
    page = admin_client.get(change)
    assert page.status_code == 200  # may be looked at
    before = getattr(type(obj).objects.get(pk=obj.pk), field)
    assert admin_client.post(change, {field: value}).status_code == 403
    assert getattr(type(obj).objects.get(pk=obj.pk), field) == before
    delete = reverse(f"admin:{app}_{model_name}_delete", args=[obj.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert admin_client.get(reverse(f"admin:{app}_{model_name}_add")).status_code == 403


def test_log_entries_cannot_be_changed_or_deleted(admin_client, site_a):
    entry = log_entry_create(actor=None, obj=site_a, action="test.action", data={"a": 1})
    _assert_read_only(admin_client, "logentry", entry, "action", "forged")
    assert LogEntry.objects.get(pk=entry.pk).data == {"a": 1}


def test_a_deviations_state_cannot_be_edited_in_the_admin(admin_client, deviation):
    _assert_read_only(admin_client, "deviation", deviation, "state", "resolved")
    assert Deviation.objects.get(pk=deviation.pk).state == "open"


def test_a_revisions_status_cannot_be_edited_in_the_admin(admin_client, catalogue, site_a):
    revision = DatasheetRevisionFactory(site=site_a, status="failed")
    _assert_read_only(admin_client, "datasheetrevision", revision, "status", "evaluated")


def test_every_field_of_the_project_has_a_german_label():
    """The admin shows German labels for the project's models and fields (issue 9)."""
    from django.apps import apps
    from django.utils import translation

    missing = []
    with translation.override("de"):
        for app in ("centres", "indicators", "datasheets"):
            for model in apps.get_app_config(app).get_models():
                if str(model._meta.verbose_name) == model._meta.model_name:
                    missing.append(model.__name__)
                for f in model._meta.get_fields():
                    if getattr(f, "auto_created", False) or not hasattr(f, "verbose_name"):
                        continue
                    if str(f.verbose_name) == f.name.replace("_", " "):
                        missing.append(f"{model.__name__}.{f.name}")
    assert missing == ["LogEntry.obj"]  # the generic relation has no column of its own


def test_the_admin_speaks_german(admin_client, catalogue, site_a):
    DatasheetRevisionFactory(site=site_a)
    page = admin_client.get(reverse("admin:datasheets_datasheetrevision_changelist")).content.decode()
    assert "Hochgeladen von" in page
    assert "Datenblatt-Revisionen" in page


def test_an_audits_auditors_redzyk_and_outcome_are_set_only_on_the_logged_page(admin_client, site_a):
    """The admin may correct an audit's date, not who audits it or what it decided:
    those go through audit_auditors_set / audit_update, which log from → to."""
    import datetime as dt

    from centres.models import Audit, AuditKind, Role
    from tests.factories import MembershipFactory

    expert = UserFactory(username="fe_admin")
    MembershipFactory(user=expert, site=None, role=Role.AUDITOR)
    audit = Audit.objects.create(site=site_a, audit_year=2024, kind=AuditKind.SURVEILLANCE)
    change = reverse("admin:centres_audit_change", args=[audit.pk])
    page = admin_client.get(change).content.decode()
    assert 'name="auditors"' not in page and 'name="outcome"' not in page and 'name="reduced_cycle"' not in page
    response = admin_client.post(
        change,
        {
            "site": site_a.pk,
            "audit_year": 2024,
            "kind": AuditKind.SURVEILLANCE,
            "date": "2024-05-15",
            "auditors": [expert.pk],
            "reduced_cycle": "on",
            "outcome": "suspended",
        },
    )
    assert response.status_code == 302
    audit.refresh_from_db()
    assert audit.date == dt.date(2024, 5, 15)  # the date may be corrected here
    assert (list(audit.auditors.all()), audit.reduced_cycle, audit.outcome) == ([], False, "")
