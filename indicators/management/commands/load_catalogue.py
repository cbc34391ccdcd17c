"""``python manage.py load_catalogue``: load catalogue versions and definitions."""

from pathlib import Path

from django.core.management.base import BaseCommand

from indicators.services import CATALOGUE_FIXTURE, catalogue_load


class Command(BaseCommand):
    help = "Load the indicator catalogue (fixtures/catalogue.json) into the database."

    def add_arguments(self, parser):
        parser.add_argument("--path", type=Path, default=CATALOGUE_FIXTURE)

    def handle(self, *args, path: Path, **options):
        counts = catalogue_load(path=path)
        self.stdout.write(
            f"Katalog geladen: {counts['versions']} Versionen, "
            f"{counts['definitions']} Kennzahlen, {counts['years']} Kennzahlenjahre."
        )
