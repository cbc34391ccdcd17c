"""Reads of the centres app, scoped by permissions (404 out of scope)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from .models import Audit, LogEntry, Role, Site
from .permissions import Action, restrict, site_scope, user_roles


def user_display_name(user) -> str:
    """How a person is named on pages, mails and reports: full name, else user name."""
    return user.get_full_name() or user.get_username()


def site_list(*, user, action: Action = Action.VIEW) -> QuerySet[Site]:
    """Sites the user may ``action``, with their centre."""
    return restrict(Site.objects.select_related("centre"), user, action, site_field="")


def site_get(*, user, pk: int, action: Action = Action.VIEW) -> Site:
    """One site in scope; raises Http404 for an unknown or out-of-scope site."""
    return get_object_or_404(site_list(user=user, action=action), pk=pk)


def log_entry_list(*, obj) -> QuerySet[LogEntry]:
    """The event log of one object, oldest first, with the acting users. The caller has
    already checked that the user may see ``obj``."""
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(obj)), object_id=obj.pk
    ).select_related("actor")


def audit_list(*, user) -> QuerySet[Audit]:
    """Audits the user may see (issue 9): office and commission all of them (a national
    VIEW membership), coordinators those of their sites, an auditor the audits they are
    an auditor of (not every audit of those sites). With site and centre; auditors are
    prefetched. Model ordering (newest audit year first, then site)."""
    qs = Audit.objects.select_related("site", "site__centre").prefetch_related("auditors")
    all_sites, site_ids = site_scope(user, Action.VIEW)
    if all_sites:
        return qs
    condition = Q(site_id__in=site_ids) if site_ids else Q(pk__in=[])
    if Role.AUDITOR in user_roles(user):
        condition |= Q(pk__in=Audit.objects.filter(auditors=user).values("pk"))
    return qs.filter(condition)


def audit_get_for_office(*, user, pk: int) -> Audit:
    """One audit the user may MANAGE (the office's assignment page); Http404 for an
    unknown audit or one of a site out of the user's MANAGE scope."""
    qs = restrict(
        Audit.objects.select_related("site").prefetch_related("auditors"), user, Action.MANAGE, year_field=None
    )
    return get_object_or_404(qs, pk=pk)


def auditor_candidates():
    """Users holding an auditor membership (any site), by name: the only users the
    office can assign to an audit."""
    return (
        get_user_model()
        .objects.filter(memberships__role=Role.AUDITOR)
        .distinct()
        .order_by("last_name", "first_name", "username")
    )
