"""Login lock-outs of django-axes as the certification office sees them (issue 8).

django-axes counts failed logins per (user name, address, browser) in ``AccessAttempt``
rows; with ``AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]`` a user name is locked
when its failures within the cool-off reach ``AXES_FAILURE_LIMIT``, and so is an address.
``login_lockout_list`` shows those lock-outs; ``login_lockout_reset`` lifts one through
axes' own API (``axes.utils.reset``) and writes a log entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qiportal.exceptions import ApplicationError

from .permissions import Action, user_can
from .services import log_entry_create


class LockoutKind(models.TextChoices):
    USERNAME = "username", _("User name")
    ADDRESS = "ip_address", _("Address")


class LockoutError(models.TextChoices):
    """Refused unlocks; the label is the message."""

    FORBIDDEN = "lockout_forbidden", _("Only the certification office may unlock logins.")
    NOT_LOCKED = "not_locked", _("This login is not locked (any more).")


@dataclass(frozen=True)
class LoginLockout:
    """One current lock-out: ``kind`` says what is locked (a user name or an address),
    ``value`` is that user name or address. ``usernames`` / ``addresses``: what the
    failed attempts used (sorted); ``failures``: failed attempts within the cool-off;
    ``since``: the last counted failure (the lock-out began then, failures during a
    lock-out are not counted); ``until``: ``since`` + cool-off. ``attempt_id``: the
    newest AccessAttempt row (the log entry's object)."""

    kind: str
    value: str
    usernames: tuple[str, ...]
    addresses: tuple[str, ...]
    failures: int
    since: dt.datetime
    until: dt.datetime
    attempt_id: int


def _window_start(now: dt.datetime) -> dt.datetime:
    return now - settings.AXES_COOLOFF_TIME


def login_lockout_list(*, now: dt.datetime | None = None) -> list[LoginLockout]:
    """The current lock-outs, user names first, then addresses, each newest first.

    Reads the AccessAttempt rows of the cool-off window in one query and sums their
    failures per user name and per address; a sum of at least ``AXES_FAILURE_LIMIT``
    is a lock-out (axes' own rule). The caller checks ``Action.MANAGE``."""
    now = now or timezone.now()
    rows = list(
        AccessAttempt.objects.filter(attempt_time__gte=_window_start(now))
        .order_by("pk")
        .values("pk", "username", "ip_address", "failures_since_start", "attempt_time")
    )
    lockouts: list[LoginLockout] = []
    for kind, key in ((LockoutKind.USERNAME, "username"), (LockoutKind.ADDRESS, "ip_address")):
        groups: dict[str, list[dict]] = {}
        for row in rows:
            if row[key]:
                groups.setdefault(row[key], []).append(row)
        found = []
        for value, group in groups.items():
            failures = sum(r["failures_since_start"] for r in group)
            if failures < settings.AXES_FAILURE_LIMIT:
                continue
            newest = max(group, key=lambda r: (r["attempt_time"], r["pk"]))
            found.append(
                LoginLockout(
                    kind=kind.value,
                    value=value,
                    usernames=tuple(sorted({r["username"] for r in group if r["username"]})),
                    addresses=tuple(sorted({r["ip_address"] for r in group if r["ip_address"]})),
                    failures=failures,
                    since=newest["attempt_time"],
                    until=newest["attempt_time"] + settings.AXES_COOLOFF_TIME,
                    attempt_id=newest["pk"],
                )
            )
        lockouts += sorted(found, key=lambda lock: (lock.since, lock.value), reverse=True)
    return lockouts


def login_lockout_reset(*, kind: LockoutKind | str, value: str, acting_user) -> LoginLockout:
    """Lift the current lock-out of a user name (``kind`` "username") or an address
    ("ip_address") for the certification office (issue 8): deletes every failed attempt
    with that user name / from that address through ``axes.utils.reset`` and logs
    ``"centres.login_lockout.reset"`` on the newest attempt row with the user name(s),
    address(es), failures and the number of rows deleted. Returns the lifted lock-out.

    Raises ApplicationError(lockout_forbidden) unless ``acting_user`` has
    ``Action.MANAGE``; (not_locked) when no such lock-out is current (expired, lifted
    by someone else, or an unknown ``kind``)."""
    if not user_can(acting_user, Action.MANAGE):
        raise ApplicationError(LockoutError.FORBIDDEN)
    with transaction.atomic():
        lockout = next((x for x in login_lockout_list() if x.kind == str(kind) and x.value == value), None)
        if lockout is None:
            raise ApplicationError(LockoutError.NOT_LOCKED)
        attempt = AccessAttempt.objects.get(pk=lockout.attempt_id)
        if lockout.kind == LockoutKind.USERNAME:
            deleted = axes_reset(username=value)
        else:
            deleted = axes_reset(ip=value)
        log_entry_create(
            actor=acting_user,
            obj=attempt,
            action="centres.login_lockout.reset",
            data={
                "kind": lockout.kind,
                "value": value,
                "usernames": list(lockout.usernames),
                "addresses": list(lockout.addresses),
                "failures": lockout.failures,
                "since": lockout.since.isoformat(),
                "attempts_deleted": deleted,
            },
        )
    return lockout
