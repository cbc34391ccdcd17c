"""factory_boy factories for the test suite."""

import factory
from django.contrib.auth import get_user_model

from centres.models import Centre, Membership, Role, Site
from datasheets.choices import RevisionStatus
from datasheets.models import DatasheetRevision


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or "pw-test-12345")
        if create:
            obj.save(update_fields=["password"])


class CentreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Centre

    name = factory.Sequence(lambda n: f"Kopf-Hals-Tumorzentrum {n}")
    city = "Berlin"


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    centre = factory.SubFactory(CentreFactory)
    registration_number = factory.Sequence(lambda n: f"KHT-T{n:03d}")
    name = factory.Sequence(lambda n: f"Klinikum {n}")
    city = "Berlin"
    state = "Berlin"
    country = "DE"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    site = factory.SubFactory(SiteFactory)
    role = Role.COORDINATOR


class DatasheetRevisionFactory(factory.django.DjangoModelFactory):
    """A revision row without a stored file, for page and service tests that do not
    parse (KJ2024 by default; needs the ``catalogue`` fixture for the version)."""

    class Meta:
        model = DatasheetRevision

    site = factory.SubFactory(SiteFactory)
    expected_site = factory.SelfAttribute("site")
    file = "datasheets/test.xlsx"
    original_name = "Datenblatt.xlsx"
    size = 1234
    sha256 = "0" * 64
    indicator_year = 2024
    catalogue_version_id = "KJ2024"
    status = RevisionStatus.EVALUATED
