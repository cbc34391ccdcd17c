"""``python manage.py import_datasheet f.xlsx [--wait] [--json] [--dry-run] [--user NAME]``.

Stores the file as a revision through the same service as a web upload, waits for the
validation task, and prints every located problem as ``Sheet!Cell: [code] message``.
``--dry-run`` checks the file in this process and shows what would change against the
current revision, writing nothing. Exit status 0 on success, 1 when the file has errors.
"""

import json
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from datasheets.choices import RevisionSource, RevisionStatus
from datasheets.reports import dry_run_report
from datasheets.services import datasheet_upload, revision_report, revision_wait
from qiportal.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Import a Datenblatt (.xlsx); errors are printed with their cells."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--wait", action="store_true", help="also wait for the evaluation")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON report")
        parser.add_argument("--user", help="import as this user (default: system, office rights)")
        parser.add_argument("--timeout", type=float, default=300.0)
        parser.add_argument("--dry-run", action="store_true", help="check and preview only; write nothing")

    def handle(
        self, *args, path: Path, wait: bool, as_json: bool, user: str | None, timeout: float, dry_run: bool, **options
    ):
        acting_user = None
        if user:
            acting_user = get_user_model().objects.filter(username=user).first()
            if acting_user is None:
                raise CommandError(f"Unbekannter Benutzer {user!r}.")
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from exc
        if dry_run:
            report = dry_run_report(content=content, acting_user=acting_user)
            self._print(report, as_json=as_json)
            if report["errors"]:
                sys.exit(1)
            return
        try:
            revision = datasheet_upload(
                content=content, filename=path.name, acting_user=acting_user, source=RevisionSource.CLI
            )
        except ApplicationError as exc:
            report = {
                "revision": None,
                "status": "failed",
                "errors": [{"sheet": "Datei", "cell": "A1", "code": exc.code, "message": exc.message}],
                "warnings": [],
                "indicators": [],
            }
            self._print(report, as_json=as_json)
            sys.exit(1)
        until = (RevisionStatus.EVALUATED,) if wait else (RevisionStatus.VALIDATED, RevisionStatus.EVALUATED)
        try:
            revision = revision_wait(revision_id=revision.pk, until=until, timeout=timeout)
        except TimeoutError as exc:
            raise CommandError(f"{exc}; läuft ein Celery-Worker?") from exc
        report = revision_report(revision)
        self._print(report, as_json=as_json)
        if revision.status == RevisionStatus.FAILED:
            sys.exit(1)

    def _print(self, report: dict, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
            return
        for problem in report["errors"]:
            self.stderr.write(f"{problem['sheet']}!{problem['cell']}: [{problem['code']}] {problem['message']}")
        for problem in report["warnings"]:
            self.stdout.write(
                f"Warnung: {problem['sheet']}!{problem['cell']}: [{problem['code']}] {problem['message']}"
            )
        status = report["status"]
        line = (
            f"Revision {report['revision']}: {status}"
            if report["revision"]
            else f"Probelauf (nichts gespeichert): {status}"
        )
        if report.get("site"):
            line += f" – Standort {report['site']}, Kennzahlenjahr {report['indicator_year']}"
        self.stdout.write(line)
        for row in report.get("changes", []):
            self.stdout.write(
                f"  KeZa {row['code']}: {row['old_numerator']}/{row['old_denominator']} → "
                f"{row['new_numerator']}/{row['new_denominator']}"
                + (f"  +{','.join(row['flags_added'])}" if row["flags_added"] else "")
                + (f"  -{','.join(row['flags_removed'])}" if row["flags_removed"] else "")
            )
        for value in report["indicators"]:
            if value["flags"]:
                self.stdout.write(
                    f"  KeZa {value['code']}: {value['numerator']}/{value['denominator'] if value['denominator'] is not None else '-'} → {', '.join(value['flags'])}"
                )
