"""Auditor scope comes from audits (issue 9): an auditor of an audit decides the
deviations of that site for the audit's indicator year (audit year − 1) and views that
year and the earlier years of the same site; nothing else, and a site-bound auditor
membership without an audit gives nothing.

Expected values are written by hand from the rule in ``centres.permissions``.
"""

from __future__ import annotations

import pytest

from centres.models import Audit, AuditError, AuditKind, LogEntry, Role
from centres.permissions import Action, audit_years, restrict, user_can
from centres.services import audit_auditors_set, membership_grant
from indicators.models import Deviation
from qiportal.exceptions import ApplicationError
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


class Row:
    """A stand-in object with a site and an indicator year, judged like a deviation."""

    def __init__(self, site, year):
        self.site_id = site.pk
        self.indicator_year = year


@pytest.fixture
def expert(site_a, site_b):
    """A national auditor (pool membership) assigned to site_a's audit of 2024, that is
    indicator year 2023, and to nothing at site_b."""
    user = UserFactory(username="expert")
    MembershipFactory(user=user, site=None, role=Role.AUDITOR)
    Audit.objects.create(site=site_a, audit_year=2024, kind=AuditKind.SURVEILLANCE).auditors.add(user)
    Audit.objects.create(site=site_b, audit_year=2024, kind=AuditKind.SURVEILLANCE)  # someone else's
    return user


def test_audit_years_are_the_indicator_years_of_the_users_audits(expert, site_a):
    assert audit_years(expert) == {site_a.pk: {2023}}


@pytest.mark.parametrize(
    ("year", "view", "decide"),
    [
        (2021, True, False),  # earlier year: read only
        (2022, True, False),
        (2023, True, True),  # the audit's indicator year
        (2024, False, False),  # later year: not this audit's business
    ],
)
def test_auditor_decides_the_audit_year_and_views_earlier_years(expert, site_a, site_b, year, view, decide):
    assert user_can(expert, Action.VIEW, Row(site_a, year)) is view
    assert user_can(expert, Action.DECIDE, Row(site_a, year)) is decide
    # the other site's audit has no auditor of ours
    assert not user_can(expert, Action.VIEW, Row(site_b, year))
    assert not user_can(expert, Action.DECIDE, Row(site_b, year))


def test_auditor_never_submits_or_justifies(expert, site_a):
    for action in (Action.SUBMIT, Action.JUSTIFY, Action.MANAGE):
        assert not user_can(expert, action, Row(site_a, 2023))


def test_site_bound_auditor_membership_without_an_audit_sees_nothing(site_a, catalogue):
    user = UserFactory(username="no_audit")
    MembershipFactory(user=user, site=site_a, role=Role.AUDITOR)
    _deviation(site_a, 2023)
    assert audit_years(user) == {}
    assert not user_can(user, Action.VIEW, site_a)
    assert not user_can(user, Action.DECIDE, Row(site_a, 2023))
    assert not restrict(Deviation.objects.all(), user, Action.VIEW).exists()
    assert not restrict(Deviation.objects.all(), user, Action.DECIDE).exists()


def test_audit_without_the_auditor_role_gives_no_scope(site_a):
    """Assigned once, the role taken away later: the audit alone grants nothing."""
    user = UserFactory(username="former")
    Audit.objects.create(site=site_a, audit_year=2024, kind=AuditKind.SURVEILLANCE).auditors.add(user)
    assert audit_years(user) == {}
    assert not user_can(user, Action.VIEW, Row(site_a, 2023))


def _deviation(site, year, code="5"):
    from indicators.models import IndicatorDefinition

    definition = IndicatorDefinition.objects.get(version_id="KJ2022", code="5")
    return Deviation.objects.create(
        site=site,
        indicator_year=year,
        code=code,
        flag="target_not_met",
        definition=definition,
        numerator=1,
        denominator=40,
    )


def test_restrict_filters_deviations_by_site_and_year(expert, site_a, site_b, catalogue):
    rows = {
        (site.registration_number, year): _deviation(site, year)
        for site in (site_a, site_b)
        for year in (2022, 2023, 2024)
    }
    viewed = {
        (d.site.registration_number, d.indicator_year) for d in restrict(Deviation.objects.all(), expert, Action.VIEW)
    }
    decided = {
        (d.site.registration_number, d.indicator_year) for d in restrict(Deviation.objects.all(), expert, Action.DECIDE)
    }
    a = site_a.registration_number
    assert viewed == {(a, 2022), (a, 2023)}
    assert decided == {(a, 2023)}
    assert len(rows) == 6


def test_site_queryset_shows_the_audited_site(expert, site_a, site_b):
    from centres.models import Site

    assert list(restrict(Site.objects.all(), expert, Action.VIEW, site_field="")) == [site_a]


def test_two_audits_of_one_site_widen_the_years(expert, site_a):
    Audit.objects.create(site=site_a, audit_year=2026, kind=AuditKind.SURVEILLANCE).auditors.add(expert)
    expert = type(expert).objects.get(pk=expert.pk)  # fresh object: no cached scope
    assert audit_years(expert) == {site_a.pk: {2023, 2025}}
    assert user_can(expert, Action.DECIDE, Row(site_a, 2025))
    assert not user_can(expert, Action.DECIDE, Row(site_a, 2024))  # between audits: view only
    assert user_can(expert, Action.VIEW, Row(site_a, 2024))


# --- audit_auditors_set ----------------------------------------------------------------


def test_office_assigns_auditors_and_the_log_has_from_and_to(office, site_a):
    audit = Audit.objects.create(site=site_a, audit_year=2024, kind=AuditKind.RECERTIFICATION)
    first = UserFactory(username="fe_first")
    second = UserFactory(username="fe_second")
    for user in (first, second):
        membership_grant(user=user, role=Role.AUDITOR)
    audit_auditors_set(audit=audit, auditors=[first], acting_user=office)
    audit_auditors_set(audit=audit, auditors=[second, first], acting_user=office)
    assert set(audit.auditors.all()) == {first, second}
    entries = LogEntry.objects.filter(action="centres.audit.auditors_set", object_id=audit.pk).order_by("pk")
    assert [e.data for e in entries] == [
        {"from": [], "to": ["fe_first"]},
        {"from": ["fe_first"], "to": ["fe_first", "fe_second"]},
    ]
    assert all(e.actor == office for e in entries)
    # the same set again writes nothing
    audit_auditors_set(audit=audit, auditors=[first, second], acting_user=office)
    assert entries.count() == 2
    # the assignment takes effect at once
    assert user_can(second, Action.DECIDE, Row(site_a, 2023))


def test_only_the_office_assigns(coordinator, commission, auditor, site_a):
    audit = Audit.objects.create(site=site_a, audit_year=2024, kind=AuditKind.RECERTIFICATION)
    for user in (coordinator, commission, auditor):
        with pytest.raises(ApplicationError) as info:
            audit_auditors_set(audit=audit, auditors=[auditor], acting_user=user)
        assert info.value.code == AuditError.FORBIDDEN
    assert not audit.auditors.exists()
    assert not LogEntry.objects.filter(action="centres.audit.auditors_set").exists()


def test_a_user_without_the_auditor_role_is_not_assigned(office, coordinator, site_a):
    audit = Audit.objects.create(site=site_a, audit_year=2024, kind=AuditKind.RECERTIFICATION)
    with pytest.raises(ApplicationError) as info:
        audit_auditors_set(audit=audit, auditors=[coordinator], acting_user=office)
    assert info.value.code == AuditError.NOT_AUDITOR
    assert info.value.extra == {"lacking": ["coord_a"]}
    assert not audit.auditors.exists()
