"""Writes of the centres app: memberships and the event log."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from qiportal.exceptions import ApplicationError

from .models import Audit, AuditError, AuditOutcome, LogEntry, Membership, NotificationSetting, Role, Site
from .permissions import Action, forget, user_can


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
    forget(user)
    return membership


def audit_auditors_set(*, audit: Audit, auditors, acting_user) -> Audit:
    """Office: make ``auditors`` (users holding the auditor role) the auditors of
    ``audit``; logs ``centres.audit.auditors_set`` with the names before and after.

    Raises ``ApplicationError(AuditError.FORBIDDEN)`` unless ``acting_user`` may MANAGE,
    ``AuditError.NOT_AUDITOR`` if a chosen user lacks the auditor role."""
    with transaction.atomic():
        if not user_can(acting_user, Action.MANAGE):
            raise ApplicationError(AuditError.FORBIDDEN)
        auditors = list(auditors)
        holders = set(Membership.objects.filter(role=Role.AUDITOR, user__in=auditors).values_list("user_id", flat=True))
        lacking = [u for u in auditors if u.pk not in holders]
        if lacking:
            raise ApplicationError(AuditError.NOT_AUDITOR, lacking=[u.username for u in lacking])
        before = sorted(audit.auditors.values_list("username", flat=True))
        audit.auditors.set(auditors)
        after = sorted(u.username for u in auditors)
        if before != after:
            log_entry_create(
                actor=acting_user, obj=audit, action="centres.audit.auditors_set", data={"from": before, "to": after}
            )
        for user in auditors:
            forget(user)
        return audit


def audit_update(*, audit: Audit, reduced_cycle: bool, outcome: str, acting_user) -> Audit:
    """Office: set the REDZYK flag (``reduced_cycle``) and the ``outcome`` (an
    ``AuditOutcome`` value, "" = not decided yet) of ``audit``; logs
    ``centres.audit.updated`` with ``{"from": {...}, "to": {...}}`` holding the changed
    fields only (nothing is logged when nothing changed).

    Raises ``ApplicationError(AuditError.FORBIDDEN)`` unless ``acting_user`` may MANAGE,
    ``AuditError.OUTCOME_UNKNOWN`` for an outcome that is not an ``AuditOutcome``."""
    with transaction.atomic():
        if not user_can(acting_user, Action.MANAGE):
            raise ApplicationError(AuditError.FORBIDDEN)
        if outcome and outcome not in AuditOutcome.values:
            raise ApplicationError(AuditError.OUTCOME_UNKNOWN)
        audit = Audit.objects.select_for_update().get(pk=audit.pk)
        before = {"reduced_cycle": audit.reduced_cycle, "outcome": audit.outcome}
        after = {"reduced_cycle": bool(reduced_cycle), "outcome": outcome}
        changed = [key for key in before if before[key] != after[key]]
        if changed:
            audit.reduced_cycle, audit.outcome = after["reduced_cycle"], after["outcome"]
            audit.save(update_fields=changed)
            log_entry_create(
                actor=acting_user,
                obj=audit,
                action="centres.audit.updated",
                data={"from": {k: before[k] for k in changed}, "to": {k: after[k] for k in changed}},
            )
        return audit


def notification_setting_set(*, user, digest_enabled: bool) -> NotificationSetting:
    """Switch ``user``'s daily digest mail on or off (issue 9; no row means on). Logs
    ``centres.notification.digest_set`` {"from", "to"} when the choice changed. Every
    logged-in person may set their own choice; nobody sets another's here."""
    with transaction.atomic():
        setting, _created = NotificationSetting.objects.select_for_update().get_or_create(user=user)
        before = setting.digest_enabled
        if before != digest_enabled:
            setting.digest_enabled = digest_enabled
            setting.save(update_fields=["digest_enabled"])
            log_entry_create(
                actor=user,
                obj=setting,
                action="centres.notification.digest_set",
                data={"from": before, "to": digest_enabled},
            )
        return setting
