"""Writes of the centres app: memberships and the event log."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from .models import LogEntry, Membership, Role, Site


def log_entry_create(*, actor, obj: models.Model, action: str, data: dict[str, Any] | None = None) -> LogEntry:
    """Record one state change of ``obj`` by ``actor`` (None = system) with a
    namespaced ``action`` code, e.g. ``"datasheets.revision.evaluated"``."""
    return LogEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=obj.pk,
        data=data or {},
    )


def membership_grant(*, user, role: Role | str, site: Site | None = None, acting_user=None) -> Membership:
    """Give ``user`` the ``role`` for ``site`` (None = all sites); idempotent."""
    membership, created = Membership.objects.get_or_create(user=user, site=site, role=role)
    if created:
        log_entry_create(
            actor=acting_user,
            obj=membership,
            action="centres.membership.granted",
            data={"role": str(role), "site": site.registration_number if site else None},
        )
    if hasattr(user, "_qip_memberships"):
        del user._qip_memberships
    return membership
