"""``python manage.py send_digests [--day YYYY-MM-DD]``: send the daily digest mails now
(what Celery beat does at 06:00, ``indicators.tasks.digests_send_task``). Idempotent per
day: a second run for the same day sends nothing."""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from indicators.digest import digests_send


class Command(BaseCommand):
    help = "Send the daily digest mails (one per person with something to tell)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--day", help="the digest's day, YYYY-MM-DD (default: today)")

    def handle(self, *args, **options) -> None:
        day = timezone.localdate()
        if options["day"]:
            try:
                day = dt.date.fromisoformat(options["day"])
            except ValueError as exc:
                raise CommandError(f"--day must be a date YYYY-MM-DD, not {options['day']!r}") from exc
        sent = digests_send(day=day)
        self.stdout.write(f"{sent} digest(s) sent for {day.isoformat()}")
