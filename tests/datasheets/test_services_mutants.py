"""datasheets/services.py behaviour that the mutation run (issue 7) found untested.

- The template's file name keeps only ``[A-Za-z0-9_-]`` of the Reg.-Nr. (it goes into
  a Content-Disposition header), everything else becomes ``_``.
- The Deckblatt leaves unknown values empty and falls back to the country when a site
  has no federal state.
- ``revision_wait`` (the command line's poll) returns on the awaited status, on a
  terminal one and on a revision awaiting confirmation; otherwise it polls every
  ``interval`` seconds and raises TimeoutError once ``timeout`` has passed. A fake
  clock replaces ``time`` so that no test sleeps.
"""

import pytest
from django.utils import timezone

from datasheets import services
from datasheets.choices import RevisionStatus
from datasheets.models import DatasheetRevision
from datasheets.services import datasheet_template_build, revision_wait, site_cover
from indicators.models import CatalogueVersion
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------- template, Deckblatt


def test_template_filename_replaces_every_character_outside_letters_digits_dash_underscore(catalogue):
    site = SiteFactory(registration_number='KHT/12 "A"_b-3')
    name, _content = datasheet_template_build(site=site, indicator_year=2022)
    # K H T kept, "/" -> _, 1 2 kept, " " -> _, '"' -> _, A kept, '"' -> _, "_" b "-" 3 kept
    assert name == "Datenblatt_KHT_KHT_12__A__b-3_KJ2022.xlsx"


def test_site_cover_leaves_unknown_values_empty_and_falls_back_to_the_country(catalogue):
    site = SiteFactory(
        registration_number="KHT-W01",
        name="AKH Wien",
        city="Wien",
        state="",
        country="AT",
        initial_certification=None,
        contact_name="Dr. Huber",
        contact_email="huber@example.org",
        documentation_system="GTDS",
    )
    cover = site_cover(site, 2024, CatalogueVersion.objects.get(pk="KJ2024"))
    assert cover == {
        "registration_number": "KHT-W01",
        "centre": site.centre.name,
        "site": "AKH Wien, Wien",
        "contact": "Dr. Huber",
        "email": "huber@example.org",
        "created": timezone.localdate().isoformat(),
        "initial_certification": "",  # never certified: empty, not a placeholder
        "indicator_year": 2024,
        "audit_year": 2025,
        "state": "AT",  # no federal state: the country
        "documentation_system": "GTDS",
        "oncobox": "",  # the centre fills it in
        "catalogue_version": "KJ2024",
    }
    site.state = "Wien"
    assert site_cover(site, 2024, CatalogueVersion.objects.get(pk="KJ2024"))["state"] == "Wien"


# ------------------------------------------------------------------- revision_wait


class FakeClock:
    """Stands in for the ``time`` module of datasheets.services: ``sleep`` advances
    ``monotonic`` and records the interval; ``on_sleep`` runs after each sleep."""

    def __init__(self, on_sleep=None, max_sleeps: int = 10):
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep
        self.max_sleeps = max_sleeps

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert len(self.sleeps) < self.max_sleeps, "revision_wait kept polling"
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()


def _revision(site, status, *, confirmed: bool) -> DatasheetRevision:
    return DatasheetRevision.objects.create(
        file="datasheets/x.xlsx",
        original_name="x.xlsx",
        size=10,
        sha256="0" * 64,
        site=site,
        indicator_year=2022,
        status=status,
        confirmed_at=timezone.now() if confirmed else None,
    )


@pytest.mark.parametrize(
    ("status", "confirmed"),
    [
        (RevisionStatus.FAILED, True),
        (RevisionStatus.DISCARDED, False),
        (RevisionStatus.VALIDATED, False),  # awaits confirmation: the user must act
    ],
)
def test_wait_returns_at_once_on_a_revision_no_task_will_move(site_a, monkeypatch, status, confirmed):
    clock = FakeClock()
    monkeypatch.setattr(services, "time", clock)
    revision = _revision(site_a, status, confirmed=confirmed)
    result = revision_wait(revision_id=revision.pk, until=(RevisionStatus.EVALUATED,), timeout=5)
    assert (result.pk, result.status, clock.sleeps) == (revision.pk, status, [])


def test_wait_polls_every_fifth_of_a_second_until_the_awaited_status(site_a, monkeypatch):
    revision = _revision(site_a, RevisionStatus.VALIDATED, confirmed=True)  # evaluation queued

    def evaluated():
        DatasheetRevision.objects.filter(pk=revision.pk).update(status=RevisionStatus.EVALUATED)

    clock = FakeClock(on_sleep=evaluated)
    monkeypatch.setattr(services, "time", clock)
    result = revision_wait(revision_id=revision.pk, until=(RevisionStatus.EVALUATED,), timeout=5)
    assert (result.pk, result.status) == (revision.pk, RevisionStatus.EVALUATED)
    assert clock.sleeps == [0.2]  # default interval: one poll, then the status is there


def test_wait_raises_timeout_only_after_the_timeout_has_passed(site_a, monkeypatch):
    revision = _revision(site_a, RevisionStatus.PENDING, confirmed=False)
    clock = FakeClock()
    monkeypatch.setattr(services, "time", clock)
    with pytest.raises(TimeoutError) as info:
        revision_wait(revision_id=revision.pk, until=(RevisionStatus.VALIDATED,), timeout=1.0, interval=0.25)
    # deadline 1001.0; polls at 1000.0, .25, .5, .75 and 1001.0 (not past it yet) sleep;
    # the poll at 1001.25 is past the deadline and raises
    assert clock.sleeps == [0.25] * 5
    assert str(info.value) == f"revision {revision.pk} still pending after 1 s"
