"""``python manage.py demo_data``: a realistic national demo, imported the real way.

Creates the 81 fictional demo sites (``fixtures/demo/``), their certificates, audits
and auditors (``fixtures.demo.certification``: the catalogue's ``system_figures`` for the
end of 2023, shown on the status page ``/system/``), one demo login per role, and for every Kennzahlenjahr (default 2019-2024) writes
each site's Datenblatt with the template generator and imports it through
``datasheet_upload`` — the same service as a web upload, so validation, evaluation and
deviation records are produced by the Celery tasks (eager without a broker; with a broker
the command waits for the worker). When Kennzahlenjahr 2022 is imported, the auditors of
the 2023 audits decide 8 of its justified deviations as Abweichungen (in 7 audits)
through ``deviation_decide``, three of them since resolved. Deterministic for a seed;
idempotent (a site and year that already has an evaluated revision is skipped unless
``--force``; certificates, audits and decisions are made once).
"""

from __future__ import annotations

import datetime as dt
import random
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
from tqdm import tqdm

from centres.models import Audit, AuditKind, Centre, Certificate, Role, Site
from centres.services import membership_grant
from datasheets.choices import RevisionSource, RevisionStatus
from datasheets.models import DatasheetRevision
from datasheets.services import datasheet_template_build, datasheet_upload, revision_wait
from datasheets.template import SheetValues
from fixtures import demo
from fixtures.demo import certification
from fixtures.demo.sites import FIRST_NAMES, LAST_NAMES
from indicators.choices import DeviationState, Flag
from indicators.models import Deviation, IndicatorYear
from indicators.services import catalogue_load, deviation_decide, deviation_resolve

DEMO_USERS = (
    # username, role, which sites (None = national), staff
    ("koordinator", Role.COORDINATOR, "first_centre", False),
    ("koordinator2", Role.COORDINATOR, "second_site", False),
    ("fachexperte", Role.AUDITOR, "audited", False),
    ("kommission", Role.COMMISSION, None, False),
    ("geschaeftsstelle", Role.OFFICE, None, True),
)


CORRECTIVE_ACTIONS = (
    "Verantwortliche Person benennen, Ursachenanalyse im Qualitätszirkel und Maßnahmenplan vorlegen.",
    "Vorstellung aller Fälle in der prätherapeutischen Tumorkonferenz sicherstellen; Nachweis per Protokollauszug.",
    "Studienkoordination benennen, Studienliste in jeder Tumorkonferenz prüfen und Einschlüsse dokumentieren.",
    "Dokumentationsprozess im Tumordokumentationssystem überarbeiten und Stichprobe nachdokumentieren.",
    "Verfahrensanweisung anpassen, Team schulen und Umsetzung quartalsweise auswerten.",
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
        plans = certification.demo_certification(demo_sites, seed)
        sites = self._sites(demo_sites, plans)
        logins = self._users(sites, password)
        n_auditors = self._auditors(plans, seed)
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
        decided = self._nonconformities(seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo: {len(sites)} Standorte, {len(revisions)} Datenblätter importiert und ausgewertet"
                + (f", {skipped} bereits vorhanden" if skipped else "")
                + f" (Kennzahlenjahre {', '.join(map(str, wanted))})"
                + (f"; {decided} Abweichungen der Audits 2023 entschieden." if decided else ".")
            )
        )
        self.stdout.write(
            f"{n_auditors} Fachexperten (fachexperte, fachexperte01–{n_auditors - 1:02d}) sind den Audits zugeordnet."
        )
        self.stdout.write("Demo-Zugänge (Benutzername / Passwort / Rolle):")
        for username, pw, label in logins:
            self.stdout.write(f"  {username:<18} {pw:<24} {label}")

    @transaction.atomic
    def _sites(
        self, demo_sites: list[demo.DemoSite], plans: dict[str, certification.DemoCertification]
    ) -> dict[str, Site]:
        """The demo sites (and the former site, not returned) with their certificates and
        audits as planned by ``fixtures.demo.certification``; existing ones are kept."""
        sites: dict[str, Site] = {}
        wanted = {d.registration_number for d in demo_sites}
        for d in [*demo_sites, certification.former_site()]:
            plan = plans[d.registration_number]
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
                    "initial_certification": plan.initial_certification,
                    "documentation_system": d.documentation_system,
                    "contact_name": d.contact_name,
                    "contact_email": d.contact_email,
                },
            )
            if d.registration_number in wanted:
                sites[d.registration_number] = site
            if not site.certificates.exists():
                Certificate.objects.bulk_create(
                    Certificate(site=site, valid_from=c.valid_from, valid_until=c.valid_until, status=c.status)
                    for c in plan.certificates
                )
            if not site.audits.exists():
                Audit.objects.bulk_create(
                    Audit(
                        site=site,
                        audit_year=a.audit_year,
                        kind=a.kind,
                        date=a.date,
                        reduced_cycle=a.reduced_cycle,
                        outcome=a.outcome,
                    )
                    for a in plan.audits
                )
        return sites

    @transaction.atomic
    def _auditors(self, plans: dict[str, certification.DemoCertification], seed: int) -> int:
        """The auditors of ``certification.AUDITORS`` (``fachexperte`` is a demo login made
        by ``_users``; the others get a national auditor membership and no usable
        password), assigned to the audits as planned. Returns their number."""
        User = get_user_model()
        rng = random.Random(seed)
        users = {}
        for username in certification.AUDITORS:
            user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            if created:
                user.first_name, user.last_name = f"Dr. {first}", last
                user.set_unusable_password()
                user.save()
                membership_grant(user=user, role=Role.AUDITOR, site=None)
            users[username] = user
        audits = {
            (reg, year, kind): audit
            for audit, reg, year, kind in (
                (a, a.site.registration_number, a.audit_year, a.kind)
                for a in Audit.objects.filter(site__registration_number__in=plans).select_related("site")
            )
        }
        for reg, plan in plans.items():
            for planned in plan.audits:
                audit = audits.get((reg, planned.audit_year, planned.kind))
                if audit is not None:
                    audit.auditors.add(*(users[name] for name in planned.auditors))
        return len(users)

    def _nonconformities(self, seed: int) -> int:
        """Abweichungen of the audits of 2023 (catalogue ``system_figures``: 8 in 7
        audits): the first auditor of a site's 2023 audit decides justified deviations of
        Kennzahlenjahr 2022 through ``deviation_decide`` (corrective action, due date),
        three are resolved later (``deviation_resolve``). Only when 2022 is imported
        and no Abweichung of 2022 exists yet; returns the number decided."""
        year = certification.AUDIT_YEAR - 1
        issued = Q(state=DeviationState.NONCONFORMITY) | Q(state=DeviationState.RESOLVED, due_date__isnull=False)
        if Deviation.objects.filter(issued, indicator_year=year).exists():
            return 0
        audits = {
            audit.site_id: audit
            for audit in Audit.objects.filter(
                audit_year=certification.AUDIT_YEAR, reduced_cycle=False, auditors__isnull=False
            )
            .exclude(kind=AuditKind.REPEAT)
            .distinct()
        }
        candidates: dict[int, list[Deviation]] = {}
        for deviation in Deviation.objects.filter(
            indicator_year=year,
            is_active=True,
            state=DeviationState.JUSTIFIED,
            flag=Flag.TARGET_NOT_MET,
            site_id__in=audits,
        ).order_by("site__registration_number", "code", "flag"):
            candidates.setdefault(deviation.site_id, []).append(deviation)
        if len(candidates) < 7 or not any(len(v) > 1 for v in candidates.values()):
            return 0  # year 2022 not imported (or too few deviations to decide)
        rng = random.Random(seed + 8)
        double = rng.choice(sorted(k for k, v in candidates.items() if len(v) > 1))
        chosen = [double, *rng.sample(sorted(k for k in candidates if k != double), 6)]
        decided = []
        with transaction.atomic():
            for site_id in chosen:
                audit = audits[site_id]
                auditor = audit.auditors.order_by("username").first()
                for deviation in rng.sample(candidates[site_id], 2 if site_id == double else 1):
                    decided.append(
                        (
                            deviation_decide(
                                deviation=deviation,
                                decision=DeviationState.NONCONFORMITY,
                                comment=f"Im Audit vom {audit.date:%d.%m.%Y} besprochen.",
                                corrective_action=rng.choice(CORRECTIVE_ACTIONS),
                                due_date=audit.date + dt.timedelta(days=182),
                                acting_user=auditor,
                            ),
                            auditor,
                        )
                    )
            for deviation, auditor in rng.sample(decided, 3):
                deviation_resolve(
                    deviation=deviation, comment="Umsetzung im Audit 2024 nachgewiesen.", acting_user=auditor
                )
        return len(decided)

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
            # an auditor's scope comes from the audits they are assigned to (issue 9):
            # ``_auditors`` assigns "fachexperte" to every audit of the "audited" sites
            where = (
                "bundesweit"
                if which is None
                else ", ".join(s.registration_number for s in targets[:3]) + ("…" if len(targets) > 3 else "")
            )
            logins.append((username, password, f"{Role(role).label} ({where})"))
        return logins
