"""Shared fixtures: the catalogue, two centres with a site each, and a user per role.

``site_a`` / ``site_b`` belong to different centres; ``coordinator`` and ``auditor`` are
bound to ``site_a`` only, so every scoping test can show the other centre's 404.
"""

import os

import pytest

from centres.models import Role
from tests.factories import MembershipFactory, SiteFactory, UserFactory

os.environ.setdefault("QIPORTAL_ALLOW_INSECURE_KEY", "1")


@pytest.fixture
def catalogue(db):
    from indicators.services import catalogue_load

    catalogue_load()


@pytest.fixture
def site_a(db):
    return SiteFactory(registration_number="KHT-A01", name="Uniklinikum Aachen", city="Aachen")


@pytest.fixture
def site_b(db):
    return SiteFactory(registration_number="KHT-B01", name="Klinikum Bremen", city="Bremen")


def _user(username, role, site):
    user = UserFactory(username=username)
    MembershipFactory(user=user, site=site, role=role)
    return user


@pytest.fixture
def coordinator(site_a):
    return _user("coord_a", Role.COORDINATOR, site_a)


@pytest.fixture
def coordinator_b(site_b):
    return _user("coord_b", Role.COORDINATOR, site_b)


@pytest.fixture
def auditor(site_a):
    return _user("auditor_a", Role.AUDITOR, site_a)


@pytest.fixture
def commission(db):
    return _user("commission", Role.COMMISSION, None)


@pytest.fixture
def office(db):
    return _user("office", Role.OFFICE, None)
