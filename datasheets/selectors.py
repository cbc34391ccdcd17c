"""Reads of the datasheets app, scoped by ``centres.permissions`` (404 out of scope)."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from centres.models import Site
from centres.permissions import Action, restrict

from .models import DatasheetRevision, IndicatorValue

User = AbstractBaseUser | AnonymousUser


def revision_list(*, user: User | None, site: Site | None = None) -> QuerySet[DatasheetRevision]:
    """Revisions the user may see (``Action.VIEW``), newest first, with site, uploader
    and catalogue version; ``site`` narrows to one site (its revisions and those still
    expected for it). One query.

    Visible are the revisions of sites in the user's VIEW scope. A revision whose
    Deckblatt is not yet read (``site`` NULL) is visible to its uploader, to users
    whose scope covers its ``expected_site`` and to national scope. Anonymous users
    (and ``None``) see nothing, also not the revisions uploaded by the system
    (``uploaded_by`` NULL).
    """
    qs = DatasheetRevision.objects.select_related("site", "uploaded_by", "catalogue_version")
    if user is None or not user.is_authenticated:
        return qs.none()
    unread = qs.filter(site__isnull=True)
    qs = (
        restrict(qs, user, Action.VIEW)
        | restrict(unread, user, Action.VIEW, site_field="expected_site")
        | unread.filter(uploaded_by=user)
    )
    if site is not None:
        qs = qs.filter(Q(site=site) | Q(site__isnull=True, expected_site=site))
    return qs


def revision_get(*, user: User | None, pk: int) -> DatasheetRevision:
    """One revision in scope (see ``revision_list``); raises Http404 otherwise (never
    403: existence does not leak)."""
    return get_object_or_404(revision_list(user=user), pk=pk)


def revision_values(*, revision: DatasheetRevision) -> QuerySet[IndicatorValue]:
    """The indicator values of a revision in catalogue order, with definitions."""
    return revision.indicator_values.select_related("definition").order_by("definition__position")
