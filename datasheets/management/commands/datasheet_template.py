"""``python manage.py datasheet_template --site <Reg.-Nr.> --year <Kennzahlenjahr> -o f.xlsx``."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from centres.models import Site
from datasheets.services import datasheet_template_build
from qiportal.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Write the Datenblatt template of a site and Kennzahlenjahr (SPEC §2)."

    def add_arguments(self, parser):
        parser.add_argument("--site", required=True, help="Reg.-Nr. of the site")
        parser.add_argument("--year", required=True, type=int, help="Kennzahlenjahr")
        parser.add_argument("-o", "--output", type=Path, help="output file (default: standard name)")

    def handle(self, *args, site: str, year: int, output: Path | None, **options):
        site_obj = Site.objects.select_related("centre").filter(registration_number__iexact=site).first()
        if site_obj is None:
            raise CommandError(f"Unbekannte Reg.-Nr. {site!r}.")
        try:
            filename, content = datasheet_template_build(site=site_obj, indicator_year=year)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        path = output or Path(filename)
        path.write_bytes(content)
        self.stdout.write(f"{path} geschrieben ({len(content):,} Bytes).".replace(",", "."))
