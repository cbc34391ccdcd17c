"""Reads of the centres app, scoped by permissions (404 out of scope)."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import LogEntry, Site
from .permissions import Action, restrict


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
