"""Every role × every action × in-scope / out-of-scope site, hand-written from the roles
of the README (coordinators upload and justify for their sites; auditors decide for
theirs and see national figures; the commission sees everything national; the office
manages everything) — not read from ``ROLE_ACTIONS``."""

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser

from centres.models import Audit, AuditKind, Membership, Role, Site
from centres.permissions import Action, restrict, user_can, user_roles
from centres.services import membership_grant
from tests.factories import MembershipFactory, UserFactory

V, S, J, D, N, M = Action.VIEW, Action.SUBMIT, Action.JUSTIFY, Action.DECIDE, Action.VIEW_NATIONAL, Action.MANAGE

# role -> actions allowed on site_a (in scope), on site_b (other centre), and without an
# object (None): national roles hold their actions everywhere, site-bound ones only
# VIEW_NATIONAL.
EXPECTED = {
    "coordinator": ({V, S, J}, set(), set()),
    "auditor": ({V, D, N}, set(), {N}),
    "commission": ({V, N}, {V, N}, {V, N}),
    "office": ({V, S, D, N, M}, {V, S, D, N, M}, {V, S, D, N, M}),
    "office_site": ({V, S, D, N, M}, set(), {N}),
    "superuser": (set(Action), set(Action), set(Action)),
    "inactive_superuser": (set(), set(), set()),
    "no_membership": (set(), set(), set()),
    "anonymous": (set(), set(), set()),
}


@pytest.fixture
def users(coordinator, auditor, commission, office, site_a):
    office_site = UserFactory(username="office_site")
    MembershipFactory(user=office_site, site=site_a, role=Role.OFFICE)
    return {
        "coordinator": coordinator,
        "auditor": auditor,
        "commission": commission,
        "office": office,
        "office_site": office_site,
        "superuser": UserFactory(username="root", is_superuser=True),
        "inactive_superuser": UserFactory(username="gone", is_superuser=True, is_active=False),
        "no_membership": UserFactory(username="nobody"),
        "anonymous": AnonymousUser(),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_user_can_matrix(users, who, site_a, site_b):
    user = users[who]
    on_a, on_b, national = EXPECTED[who]
    for action in Action:
        assert user_can(user, action, site_a) is (action in on_a), (who, action, "site_a")
        assert user_can(user, action, site_b) is (action in on_b), (who, action, "site_b")
        assert user_can(user, action) is (action in national), (who, action, None)
        # Anything with a site_id is judged by its site.
        assert user_can(user, action, SimpleNamespace(site_id=site_a.pk)) is (action in on_a), (who, action)
        assert user_can(user, action, SimpleNamespace(site_id=site_b.pk)) is (action in on_b), (who, action)


@pytest.mark.django_db
@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_restrict_matrix(users, who, site_a, site_b):
    user = users[who]
    on_a, on_b, _national = EXPECTED[who]
    for action in Action:
        expected = {s.pk for s, allowed in ((site_a, on_a), (site_b, on_b)) if action in allowed}
        sites = set(restrict(Site.objects.all(), user, action, site_field="").values_list("pk", flat=True))
        assert sites == expected, (who, action)
        memberships = restrict(Membership.objects.filter(site__isnull=False), user, action)
        assert {m.site_id for m in memberships} <= expected


@pytest.mark.django_db
def test_object_without_a_site_is_out_of_scope_for_site_bound_users(coordinator, office):
    assert not user_can(coordinator, Action.VIEW, SimpleNamespace(site_id=None))
    assert not user_can(coordinator, Action.VIEW, object())
    assert user_can(office, Action.VIEW, SimpleNamespace(site_id=None))  # national scope


@pytest.mark.django_db
def test_restrict_follows_the_site_field(coordinator, site_a, site_b):
    MembershipFactory(site=site_b, role=Role.COORDINATOR)
    visible = restrict(Membership.objects.all(), coordinator, Action.VIEW, site_field="site")
    assert {m.site_id for m in visible} == {site_a.pk}
    via_centre = restrict(Membership.objects.all(), coordinator, Action.VIEW, site_field="site__pk")
    assert {m.site_id for m in via_centre} == {site_a.pk}


@pytest.mark.django_db
def test_user_roles(users):
    assert user_roles(users["coordinator"]) == {Role.COORDINATOR}
    assert user_roles(users["office_site"]) == {Role.OFFICE}
    assert user_roles(users["superuser"]) == {Role.OFFICE}
    assert user_roles(users["no_membership"]) == set()
    assert user_roles(users["anonymous"]) == set()


@pytest.mark.django_db
def test_a_granted_role_counts_at_once(site_a, site_b):
    user = UserFactory(username="newcomer")
    assert not user_can(user, Action.SUBMIT, site_b)  # memberships read and cached
    membership_grant(user=user, role=Role.COORDINATOR, site=site_b)
    assert user_can(user, Action.SUBMIT, site_b)
    assert not user_can(user, Action.SUBMIT, site_a)


@pytest.mark.django_db
def test_site_scope_returns_a_flag_and_the_site_ids(users, site_a):
    from centres.permissions import site_scope

    assert site_scope(users["coordinator"], Action.SUBMIT) == (False, {site_a.pk})
    assert site_scope(users["coordinator"], Action.DECIDE) == (False, set())
    assert site_scope(users["anonymous"], Action.VIEW) == (False, set())
    assert site_scope(users["office"], Action.DECIDE) == (True, set())


@pytest.mark.django_db
def test_every_membership_counts_not_only_the_first(site_a, site_b):
    user = UserFactory(username="two_hats")
    MembershipFactory(user=user, site=site_b, role=Role.AUDITOR)  # read first: no SUBMIT
    MembershipFactory(user=user, site=site_a, role=Role.COORDINATOR)
    Audit.objects.create(site=site_b, audit_year=2023, kind=AuditKind.SURVEILLANCE).auditors.add(user)
    assert user_can(user, Action.SUBMIT, site_a)
    assert user_can(user, Action.DECIDE, site_b)
    assert not user_can(user, Action.SUBMIT, site_b)


@pytest.mark.django_db
def test_no_user_at_all_may_do_nothing(site_a):
    """Callers such as revision_list may pass None (no request user): no scope, no error."""
    assert not any(user_can(None, action, site_a) for action in Action)
    assert not restrict(Site.objects.all(), None, Action.VIEW, site_field="").exists()
    assert user_roles(None) == set()
