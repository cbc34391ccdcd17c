"""``python manage.py recover_revisions [--older-than SECONDS]`` (issue 8).

The recovery job of Celery beat, by hand: revisions waiting for a task with no activity
for ``--older-than`` seconds (default ``QIPORTAL_STUCK_AFTER``) are handed to the broker
again (with no broker configured: processed in this process), and those whose attempts
are used up fail with ``processing_aborted``. For the embedded default, where no beat
runs: ``scripts/demo.sh`` calls it at start.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datasheets.services import revisions_recover


class Command(BaseCommand):
    help = "Send revisions whose processing was lost to the broker again (or process them here)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            help=f"seconds without activity (default QIPORTAL_STUCK_AFTER = {settings.QIPORTAL_STUCK_AFTER:.0f})",
        )

    def handle(self, *args, older_than: float | None, **options):
        if older_than is not None and older_than < 0:
            raise CommandError("--older-than muss ≥ 0 sein / must be ≥ 0.")
        counts = revisions_recover(stuck_after=older_than)
        self.stdout.write(
            f"Erneut übergeben / requeued: {counts['requeued']}, abgebrochen / aborted: {counts['aborted']}"
        )
