"""Reads of the datasheets app, scoped by permissions (404 out of scope)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from centres.permissions import Action, site_scope

from .models import DatasheetRevision, IndicatorValue


def revision_list(*, user, site=None) -> QuerySet[DatasheetRevision]:
    """Revisions the user may see, newest first; ``site`` narrows to one site.

    A revision whose Deckblatt is not yet read (no site) is visible to its uploader and
    to users with national scope.
    """
    qs = DatasheetRevision.objects.select_related("site", "uploaded_by", "catalogue_version")
    all_sites, ids = site_scope(user, Action.VIEW)
    if not all_sites:
        qs = qs.filter(
            Q(site_id__in=ids)
            | Q(site__isnull=True, expected_site_id__in=ids)
            | Q(site__isnull=True, uploaded_by_id=getattr(user, "pk", None))
        )
    if site is not None:
        qs = qs.filter(Q(site=site) | Q(site__isnull=True, expected_site=site))
    return qs


def revision_get(*, user, pk: int) -> DatasheetRevision:
    """One revision in scope; raises Http404 otherwise."""
    return get_object_or_404(revision_list(user=user), pk=pk)


def revision_values(*, revision: DatasheetRevision) -> QuerySet[IndicatorValue]:
    """The indicator values of a revision in catalogue order, with definitions."""
    return revision.indicator_values.select_related("definition").order_by("definition__position")
