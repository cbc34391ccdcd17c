"""``python manage.py demo_data``: a realistic national demo, imported the real way.

Creates the 81 fictional demo sites (``fixtures/demo/``), their certificates and
audits, one demo login per role, and for every Kennzahlenjahr (default 2019-2024) writes
each site's Datenblatt with the template generator and imports it through
``datasheet_upload`` — the same service as a web upload, so validation, evaluation and
deviation records are produced by the Celery tasks (eager without a broker; with a broker
the command waits for the worker). Deterministic for a seed; idempotent (a site and
year that already has an evaluated revision is skipped unless ``--force``).
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from centres.models import Audit, AuditKind, Centre, Certificate, CertificateStatus, Role, Site
from centres.services import membership_grant
from datasheets.choices import RevisionSource, RevisionStatus
from datasheets.models import DatasheetRevision
from datasheets.services import datasheet_template_build, datasheet_upload, revision_wait
from datasheets.template import SheetValues
from fixtures import demo
from indicators.models import IndicatorYear
from indicators.services import catalogue_load

DEMO_USERS = (
    # username, role, which sites (None = national), staff
    ("koordinator", Role.COORDINATOR, "first_centre", False),
    ("koordinator2", Role.COORDINATOR, "second_site", False),
    ("fachexperte", Role.AUDITOR, "audited", False),
    ("kommission", Role.COMMISSION, None, False),
    ("geschaeftsstelle", Role.OFFICE, None, True),
)


def parse_years(text: str) -> list[int]:
    """ "2019-2024" or "2020,2022" -> sorted list of years."""
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = (int(x) for x in part.split("-", 1))
            years.update(range(lo, hi + 1))
        elif part:
            years.add(int(part))
    return sorted(years)


class Command(BaseCommand):
    help = "Build the national demo: sites, users and Datenblätter 2019-2024, imported and evaluated."

    def add_arguments(self, parser):
        parser.add_argument("--years", default="2019-2024", help="e.g. 2022 or 2019-2024")
        parser.add_argument("--seed", type=int, default=2022)
        parser.add_argument(
            "--password", help="password of the demo logins (default: qiportal-demo with DEBUG, else random)"
        )
        parser.add_argument("--force", action="store_true", help="import again even where a revision exists")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, years: str, seed: int, password: str | None, force: bool, no_progress: bool, **options):
        try:
            wanted = parse_years(years)
        except ValueError as exc:
            raise CommandError(f"--years: {years!r} ist keine Jahresangabe (z. B. 2019-2024).") from exc
        unknown = [y for y in wanted if y not in demo.YEARS]
        if unknown:
            raise CommandError(f"Demo-Daten gibt es für {demo.YEARS[0]}–{demo.YEARS[-1]}, nicht für {unknown}.")
        catalogue_load()
        catalogue = demo.load_catalogue()
        demo_sites = demo.demo_sites(seed)
        sites = self._sites(demo_sites)
        logins = self._users(sites, password)
        jobs = []
        for year in wanted:
            if not IndicatorYear.objects.filter(year=year).exists():
                raise CommandError(f"Kein Katalog für Kennzahlenjahr {year}.")
            for reg, sheet in sorted(demo.demo_year(year, demo_sites, catalogue, seed).items()):
                jobs.append((year, sites[reg], sheet))
        revisions = []
        skipped = 0
        bar = tqdm(jobs, desc="Datenblätter importieren", unit="Blatt", disable=no_progress, file=self.stderr._out)
        for year, site, sheet in bar:
            if (
                not force
                and DatasheetRevision.objects.filter(
                    site=site, indicator_year=year, status=RevisionStatus.EVALUATED
                ).exists()
            ):
                skipped += 1
                continue
            filename, content = datasheet_template_build(
                site=site,
                indicator_year=year,
                values=SheetValues(base=dict(sheet.base), indicators=dict(sheet.indicators)),
            )
            revisions.append(datasheet_upload(content=content, filename=filename, source=RevisionSource.DEMO))
        failed = []
        for revision in tqdm(
            revisions,
            desc="Auswertung abwarten",
            unit="Blatt",
            disable=no_progress or settings.CELERY_TASK_ALWAYS_EAGER,
            file=self.stderr._out,
        ):
            revision = revision_wait(revision_id=revision.pk, until=(RevisionStatus.EVALUATED,), timeout=600)
            if revision.status != RevisionStatus.EVALUATED:
                failed.append(revision)
        if failed:
            first = failed[0]
            raise CommandError(
                f"{len(failed)} Demo-Datenblätter scheiterten, z. B. Revision {first.pk}: {first.errors[:3]}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo: {len(sites)} Standorte, {len(revisions)} Datenblätter importiert und ausgewertet"
                + (f", {skipped} bereits vorhanden" if skipped else "")
                + f" (Kennzahlenjahre {', '.join(map(str, wanted))})."
            )
        )
        self.stdout.write("Demo-Zugänge (Benutzername / Passwort / Rolle):")
        for username, pw, label in logins:
            self.stdout.write(f"  {username:<18} {pw:<24} {label}")

    @transaction.atomic
    def _sites(self, demo_sites: list[demo.DemoSite]) -> dict[str, Site]:
        sites: dict[str, Site] = {}
        for d in demo_sites:
            centre, _ = Centre.objects.get_or_create(name=d.centre_name, defaults={"city": d.city})
            site, _ = Site.objects.update_or_create(
                registration_number=d.registration_number,
                defaults={
                    "centre": centre,
                    "name": d.site_name,
                    "city": d.city,
                    "state": d.state,
                    "country": d.country,
                    "standalone": d.standalone,
                    "initial_certification": d.initial_certification_date,
                    "documentation_system": d.documentation_system,
                    "contact_name": d.contact_name,
                    "contact_email": d.contact_email,
                },
            )
            sites[d.registration_number] = site
            start = d.initial_certification_date
            if not site.certificates.exists():
                valid_from = start
                while valid_from.year <= 2026:
                    Certificate.objects.create(
                        site=site,
                        valid_from=valid_from,
                        valid_until=valid_from.replace(year=valid_from.year + 3) - dt.timedelta(days=1),
                        status=CertificateStatus.VALID,
                    )
                    valid_from = valid_from.replace(year=valid_from.year + 3)
            if not site.audits.exists():
                for audit_year in range(start.year, 2026):
                    n = audit_year - start.year
                    kind = (
                        AuditKind.INITIAL
                        if n == 0
                        else (AuditKind.RECERTIFICATION if n % 3 == 0 else AuditKind.SURVEILLANCE)
                    )
                    Audit.objects.create(
                        site=site, audit_year=audit_year, kind=kind, date=dt.date(audit_year, 3 + (n % 8), 15)
                    )
        return sites

    @transaction.atomic
    def _users(self, sites: dict[str, Site], password: str | None) -> list[tuple[str, str, str]]:
        if password is None:
            password = "qiportal-demo" if settings.DEBUG else secrets.token_urlsafe(12)
        ordered = [sites[k] for k in sorted(sites)]
        by_centre: dict[int, list[Site]] = {}
        for site in ordered:
            by_centre.setdefault(site.centre_id, []).append(site)
        multi = next((group for group in by_centre.values() if len(group) > 1), ordered[:1])
        scope = {
            "first_centre": multi,
            "second_site": [s for s in ordered if s not in multi][:1],
            "audited": ordered[:12],
        }
        logins = []
        User = get_user_model()
        for username, role, which, staff in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
            user.set_password(password)
            user.is_staff = user.is_superuser = staff
            user.first_name = {
                "koordinator": "Kim",
                "koordinator2": "Jonas",
                "fachexperte": "Dr. Alex",
                "kommission": "Prof. Maria",
                "geschaeftsstelle": "Sam",
            }[username]
            user.save()
            targets = [None] if which is None else scope[which]
            for site in targets:
                membership_grant(user=user, role=role, site=site)
            if role == Role.AUDITOR:
                # an auditor's scope comes from the audits they are assigned to (issue 9)
                for audit in Audit.objects.filter(site__in=targets):
                    audit.auditors.add(user)
            where = (
                "bundesweit"
                if which is None
                else ", ".join(s.registration_number for s in targets[:3]) + ("…" if len(targets) > 3 else "")
            )
            logins.append((username, password, f"{Role(role).label} ({where})"))
        return logins
