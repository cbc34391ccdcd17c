"""Who an upload may be matched with and who may evaluate it (issue 7 survivors).

- The same bytes are a duplicate only for the same expected site and only when the
  earlier revision is visible to the uploader (no other centre's revision is returned).
- Evaluation re-checks the uploader's right at evaluation time: a right withdrawn after
  the upload fails the revision with ``site_forbidden`` and writes no evaluation.
"""

import pytest

from centres.models import LogEntry, Membership
from datasheets.choices import RevisionStatus
from datasheets.layout import layout_for
from datasheets.models import DatasheetRevision
from datasheets.services import datasheet_template_build, datasheet_upload, revision_evaluate, revision_validate
from indicators.models import CatalogueVersion, Deviation, Evaluation
from tests.datasheets.helpers import consistent_values


@pytest.fixture
def layout(catalogue):
    return layout_for(CatalogueVersion.objects.get(pk="KJ2022"))


def _sheet(site, layout) -> bytes:
    return datasheet_template_build(site=site, indicator_year=2022, values=consistent_values(layout))[1]


@pytest.mark.django_db(transaction=True)
def test_same_bytes_for_another_expected_site_are_a_new_submission(layout, site_a, office):
    content = _sheet(site_a, layout)
    first = datasheet_upload(content=content, filename="a.xlsx", acting_user=office, expected_site=site_a)
    again = datasheet_upload(content=content, filename="a.xlsx", acting_user=office, expected_site=None)
    assert again.pk != first.pk
    assert (first.duplicate, again.duplicate) == (False, False)
    assert DatasheetRevision.objects.count() == 2
    assert again.expected_site_id is None


@pytest.mark.django_db(transaction=True)
def test_same_bytes_never_return_another_centres_revision(layout, site_a, site_b, coordinator, coordinator_b):
    content = _sheet(site_b, layout)
    theirs = datasheet_upload(content=content, filename="b.xlsx", acting_user=coordinator_b)
    theirs.refresh_from_db()
    assert theirs.status == RevisionStatus.EVALUATED and theirs.site_id == site_b.pk

    mine = datasheet_upload(content=content, filename="b.xlsx", acting_user=coordinator)
    assert mine.pk != theirs.pk and mine.duplicate is False
    mine.refresh_from_db()
    assert mine.status == RevisionStatus.FAILED
    assert [e["code"] for e in mine.errors] == ["site_forbidden"]


@pytest.mark.django_db(transaction=True)
def test_same_bytes_from_the_same_coordinator_are_a_duplicate_without_expected_site(layout, site_a, coordinator):
    content = _sheet(site_a, layout)
    first = datasheet_upload(content=content, filename="a.xlsx", acting_user=coordinator)
    again = datasheet_upload(content=content, filename="a.xlsx", acting_user=coordinator)
    assert again.pk == first.pk and again.duplicate is True


@pytest.mark.django_db  # in a test transaction: on-commit tasks do not run by themselves
def test_evaluation_rechecks_the_uploaders_right(layout, site_a, coordinator):
    revision = datasheet_upload(
        content=_sheet(site_a, layout), filename="a.xlsx", acting_user=coordinator, expected_site=site_a
    )
    revision_validate(revision_id=revision.pk)  # by hand; then the right is withdrawn
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.VALIDATED and revision.confirmed_at is not None

    Membership.objects.filter(user=coordinator).delete()
    result = revision_evaluate(revision_id=revision.pk)
    assert result.status == RevisionStatus.FAILED
    assert [(e["cell"], e["code"]) for e in result.errors] == [("B3", "site_forbidden")]
    assert not result.is_current
    assert Evaluation.objects.count() == 0 and Deviation.objects.count() == 0
    assert LogEntry.objects.filter(object_id=revision.pk, action="datasheets.revision.failed").exists()
    assert not LogEntry.objects.filter(object_id=revision.pk, action="datasheets.revision.evaluated").exists()
