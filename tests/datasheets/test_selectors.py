"""``revision_list`` / ``revision_get``: scoped by ``centres.permissions`` (issue 7).

Revisions of sites in the user's VIEW scope are visible; a revision whose Deckblatt is
not read yet (site NULL) is visible to its uploader, to users whose scope covers its
expected site and to national scope; anonymous users see nothing.
"""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from datasheets.choices import RevisionStatus
from datasheets.models import DatasheetRevision
from datasheets.selectors import revision_get, revision_list

pytestmark = pytest.mark.django_db


def _revision(name, *, site=None, expected_site=None, uploaded_by=None) -> DatasheetRevision:
    return DatasheetRevision.objects.create(
        uploaded_by=uploaded_by,
        file=f"datasheets/{name}.xlsx",
        original_name=f"{name}.xlsx",
        size=100,
        sha256="0" * 64,
        expected_site=expected_site,
        site=site,
        status=RevisionStatus.PENDING if site is None else RevisionStatus.EVALUATED,
    )


@pytest.fixture
def revisions(site_a, site_b, coordinator, coordinator_b):
    """One revision of each kind, by name."""
    return {
        "a": _revision("a", site=site_a, expected_site=site_a, uploaded_by=coordinator),
        "b": _revision("b", site=site_b, expected_site=site_b, uploaded_by=coordinator_b),
        # Deckblatt not read yet
        "unread_a": _revision("unread_a", expected_site=site_a, uploaded_by=coordinator),
        "unread_b": _revision("unread_b", expected_site=site_b, uploaded_by=coordinator_b),
        "unread_own_no_site": _revision("unread_own_no_site", uploaded_by=coordinator),
        "unread_system": _revision("unread_system"),  # uploaded_by NULL, no expected site
        "unread_system_a": _revision("unread_system_a", expected_site=site_a),
        # read: the Deckblatt named site_b although the upload expected site_a
        "read_b_expected_a": _revision("read_b_expected_a", site=site_b, expected_site=site_a, uploaded_by=coordinator),
    }


def names(qs) -> set[str]:
    return {r.original_name.removesuffix(".xlsx") for r in qs}


def test_coordinator_sees_own_site_and_unread_revisions_expected_for_it(revisions, coordinator):
    assert names(revision_list(user=coordinator)) == {"a", "unread_a", "unread_own_no_site", "unread_system_a"}


def test_other_centres_coordinator_sees_only_its_site(revisions, coordinator_b):
    assert names(revision_list(user=coordinator_b)) == {"b", "unread_b", "read_b_expected_a"}


def test_auditor_of_site_a_sees_unread_revisions_expected_for_it_but_not_others_uploads(revisions, auditor):
    assert names(revision_list(user=auditor)) == {"a", "unread_a", "unread_system_a"}


@pytest.mark.parametrize("who", ["commission", "office"])
def test_national_scope_sees_every_revision(revisions, who, request):
    assert names(revision_list(user=request.getfixturevalue(who))) == set(revisions)


def test_anonymous_user_sees_nothing_not_even_system_uploads(revisions):
    assert revision_list(user=AnonymousUser()).count() == 0
    assert revision_list(user=None).count() == 0
    with pytest.raises(Http404):
        revision_get(user=AnonymousUser(), pk=revisions["unread_system"].pk)


def test_user_without_membership_sees_nothing(revisions, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="pw-test-12345")
    assert revision_list(user=nobody).count() == 0


def test_site_narrows_to_its_revisions_and_those_expected_for_it(revisions, office, site_a, site_b):
    assert names(revision_list(user=office, site=site_a)) == {"a", "unread_a", "unread_system_a"}
    assert names(revision_list(user=office, site=site_b)) == {"b", "unread_b", "read_b_expected_a"}


def test_coordinator_gets_404_for_other_centres_revision(revisions, coordinator):
    assert revision_get(user=coordinator, pk=revisions["unread_a"].pk) == revisions["unread_a"]
    for name in ("b", "unread_b", "unread_system"):
        with pytest.raises(Http404):
            revision_get(user=coordinator, pk=revisions[name].pk)


def test_newest_first_in_one_query(revisions, coordinator, django_assert_num_queries):
    with django_assert_num_queries(2):  # the memberships, then the revisions
        listed = list(revision_list(user=coordinator))
        uploaders = {r.uploaded_by.username for r in listed if r.uploaded_by_id}  # selected, no query
    assert uploaders == {"coord_a"}
    assert [r.pk for r in listed] == sorted((r.pk for r in listed), reverse=True)
