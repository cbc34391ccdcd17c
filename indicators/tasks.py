"""Celery tasks of the indicators app: thin callers of the services (STYLE §1).

``digests_send_task`` runs daily from Celery beat (``CELERY_BEAT_SCHEDULE["digests-daily"]``,
06:00 Europe/Berlin) and sends the daily digest mails (``indicators.digest``).
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from .digest import digests_send


@shared_task(acks_late=True)
def digests_send_task(day: str | None = None) -> int:
    """Send the digests of ``day`` (ISO date ``YYYY-MM-DD``; default: today in the
    portal's time zone). Idempotent per day, so a redelivered message sends nothing
    twice. Returns the number of mails sent."""
    return digests_send(day=dt.date.fromisoformat(day) if day else timezone.localdate())
