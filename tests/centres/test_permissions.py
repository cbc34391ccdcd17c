import pytest

from centres.models import Site
from centres.permissions import Action, restrict, user_can


@pytest.mark.django_db
def test_coordinator_sees_only_own_site(coordinator, site_a, site_b):
    assert list(restrict(Site.objects.all(), coordinator, Action.VIEW, site_field="")) == [site_a]
    assert user_can(coordinator, Action.SUBMIT, site_a)
    assert not user_can(coordinator, Action.SUBMIT, site_b)
    assert not user_can(coordinator, Action.DECIDE, site_a)
    assert not user_can(coordinator, Action.VIEW_NATIONAL)


@pytest.mark.django_db
def test_commission_sees_national_but_cannot_submit(commission, site_a, site_b):
    assert set(restrict(Site.objects.all(), commission, Action.VIEW, site_field="")) == {site_a, site_b}
    assert user_can(commission, Action.VIEW_NATIONAL)
    assert not user_can(commission, Action.SUBMIT, site_a)
