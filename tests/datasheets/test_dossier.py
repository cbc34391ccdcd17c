"""The audit dossier (issue 9): its data for a small hand-made record, the XLSX (values
read back, formula text neutralised), the PDF (opens, a page per chapter) and access
(404 outside the VIEW scope of the audit's site and indicator year).

Fixture, by hand: site_a's audit of audit year 2025 decides indicator year 2024
(catalogue KJ2024; 2023 used KJ2022). 2024 has a failed upload with 3 errors, then the
evaluated data sheet #current; three active deviations (open / justified with a
formula-like Begründung / overdue Abweichung) and one closed one. 2023 has a resolved
Abweichung, a Hinweis, an answered Abweichung not yet due, and an accepted deviation
(not a finding).
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from openpyxl import load_workbook
from pypdf import PdfReader

from centres.models import Audit, AuditKind, Role
from datasheets.choices import RevisionStatus
from datasheets.dossier import ChangeKind, Chapter, dossier_build, dossier_pdf, dossier_xlsx
from indicators.choices import DeviationState, Flag, ReasonCode
from indicators.models import Deviation, IndicatorDefinition
from tests.factories import DatasheetRevisionFactory, MembershipFactory, SiteFactory, UserFactory

TODAY = dt.date(2025, 6, 1)
FORMULA = "=cmd|' /C calc'!A0"
SHA = "ab" * 32


def _deviation(site, year, code, flag, state, numerator, denominator, **fields):
    version = "KJ2024" if year >= 2024 else "KJ2022"
    definition = IndicatorDefinition.objects.get(version_id=version, code=code)
    return Deviation.objects.create(
        site=site,
        indicator_year=year,
        code=code,
        flag=flag,
        definition=definition,
        state=state,
        numerator=numerator,
        denominator=denominator,
        **fields,
    )


@pytest.fixture
def record(catalogue, site_a, coordinator, auditor):
    audit = Audit.objects.get(site=site_a, audit_year=2025)
    audit.kind = AuditKind.RECERTIFICATION
    audit.date = dt.date(2025, 5, 20)
    audit.reduced_cycle = True
    audit.save()
    auditor.first_name, auditor.last_name = "Anna", "Prüfer"
    auditor.save()
    second = UserFactory(username="auditor_z")
    MembershipFactory(user=second, site=site_a, role=Role.AUDITOR)
    audit.auditors.add(second)

    failed = DatasheetRevisionFactory(
        site=site_a,
        indicator_year=2024,
        status=RevisionStatus.FAILED,
        original_name="falsch.xlsx",
        uploaded_by=coordinator,
        errors=[{"code": "required"}, {"code": "negative"}, {"code": "too_large"}],
    )
    current = DatasheetRevisionFactory(
        site=site_a,
        indicator_year=2024,
        status=RevisionStatus.EVALUATED,
        is_current=True,
        original_name="Datenblatt_2024.xlsx",
        sha256=SHA,
        uploaded_by=coordinator,
    )
    DatasheetRevisionFactory(site=site_a, indicator_year=2023, catalogue_version_id="KJ2022", is_current=True)

    opened = _deviation(site_a, 2024, "1a", Flag.TARGET_NOT_MET, DeviationState.OPEN, 60, None)
    justified = _deviation(
        site_a,
        2024,
        "2a",
        Flag.TARGET_NOT_MET,
        DeviationState.JUSTIFIED,
        80,
        100,
        justification=FORMULA,
        reason_code=ReasonCode.SMALL_NUMBERS,
        consecutive_years=2,
    )
    nonconformity = _deviation(
        site_a,
        2024,
        "8",
        Flag.TARGET_NOT_MET,
        DeviationState.NONCONFORMITY,
        70,
        100,
        justification="Personalmangel",
        decision_comment="Bitte Maßnahmen",
        corrective_action="Tumorboard-Protokoll einführen",
        due_date=dt.date(2025, 3, 1),
        consecutive_years=3,
    )
    _deviation(site_a, 2024, "7", Flag.IMPLAUSIBLE_LOW, DeviationState.OPEN, 0, 50, is_active=False)

    _deviation(site_a, 2023, "8", Flag.TARGET_NOT_MET, DeviationState.RESOLVED, 60, 100, due_date=dt.date(2024, 9, 1))
    _deviation(site_a, 2023, "2", Flag.TARGET_NOT_MET, DeviationState.NOTE, 90, 100, decision_comment="Hinweis")
    _deviation(
        site_a,
        2023,
        "1a",
        Flag.TARGET_NOT_MET,
        DeviationState.NONCONFORMITY,
        70,
        None,
        due_date=dt.date(2025, 12, 31),
        response="Neue SOP",
        responded_at=timezone.now(),
    )
    _deviation(site_a, 2023, "7", Flag.TARGET_NOT_MET, DeviationState.ACCEPTED, 20, 100)
    return {
        "audit": audit,
        "failed": failed,
        "current": current,
        "opened": opened,
        "justified": justified,
        "nonconformity": nonconformity,
    }


# KJ2022 -> KJ2024 by series, read off fixtures/catalogue.json by hand:
# added KeZa 20 (new series KJ2024:20) and OH-1..OH-6; removed KJ2022's 20; renumbered
# 2 -> 2a and 2a -> 2b; targets: 2b none -> >= 95 %, 8 >= 80 % -> >= 90 %, 13 none ->
# >= 80 %; corridor: 13 >= 70 % -> none.
EXPECTED_CHANGES = [
    (ChangeKind.ADDED, "20", "", "20"),
    *[(ChangeKind.ADDED, f"OH-{i}", "", f"OH-{i}") for i in range(1, 7)],
    (ChangeKind.REMOVED, "20", "20", ""),
    (ChangeKind.RENUMBERED, "2a", "2", "2a"),
    (ChangeKind.RENUMBERED, "2b", "2a", "2b"),
    (ChangeKind.TARGET, "2b", "", "≥ 95 %"),
    (ChangeKind.TARGET, "8", "≥ 80 %", "≥ 90 %"),
    (ChangeKind.TARGET, "13", "", "≥ 80 %"),
    (ChangeKind.CORRIDOR, "13", "≥ 70 %", ""),
]


@pytest.mark.django_db
def test_dossier_data(record):
    dossier = dossier_build(audit=record["audit"], today=TODAY)

    assert dossier.indicator_year == 2024
    assert dossier.auditors == ["Anna Prüfer", "auditor_z"]
    assert (dossier.catalogue_version, dossier.previous_version) == ("KJ2024", "KJ2022")
    assert [(c.kind, c.code, c.before, c.after) for c in dossier.catalogue_changes] == EXPECTED_CHANGES
    removed = next(c for c in dossier.catalogue_changes if c.kind == ChangeKind.REMOVED)
    assert removed.series == "KJ2022:20"

    revision = dossier.revision
    assert (revision.number, revision.sha256, revision.file_name) == (record["current"].pk, SHA, "Datenblatt_2024.xlsx")
    assert revision.uploaded_by == "coord_a"
    assert dossier.missing is False
    assert [(f.number, f.error_count, f.file_name) for f in dossier.failed_revisions] == [
        (record["failed"].pk, 3, "falsch.xlsx")
    ]

    rows = {d.code: d for d in dossier.deviations}
    assert list(rows) == ["1a", "2a", "8"]  # catalogue order; the closed KeZa 7 is not shown
    assert (rows["1a"].numerator, rows["1a"].denominator, rows["1a"].rate, rows["1a"].value_text) == (
        60,
        None,
        None,
        "60",
    )
    assert (rows["2a"].rate, rows["2a"].justification, rows["2a"].reason) == (0.8, FORMULA, "kleine Fallzahlen")
    assert rows["2a"].value_text == "80/100 (80,0\xa0%)"  # format_percent: no-break space
    assert (rows["2a"].state_code, rows["2a"].consecutive_years, rows["2a"].overdue) == ("justified", 2, False)
    eight = rows["8"]
    assert (eight.state_code, eight.due_date, eight.overdue) == ("nonconformity", dt.date(2025, 3, 1), True)
    assert (eight.decision_comment, eight.corrective_action) == ("Bitte Maßnahmen", "Tumorboard-Protokoll einführen")
    assert eight.consecutive_years == 3

    findings = {d.code: (d.state_code, d.resolution) for d in dossier.previous_findings}
    assert findings == {
        "1a": ("nonconformity", "beantwortet, wartet auf die Prüfung durch den Fachexperten"),
        "2": ("note", "Hinweis, keine Korrekturmaßnahme erforderlich"),
        "8": ("resolved", "erledigt"),
    }


@pytest.mark.django_db
def test_dossier_same_catalogue_and_nothing_submitted(catalogue, site_b):
    """Indicator year 2022 uses KJ2022 like 2021: no changes; no revision: missing."""
    audit = Audit.objects.create(site=site_b, audit_year=2023, kind=AuditKind.SURVEILLANCE)
    DatasheetRevisionFactory(site=site_b, indicator_year=2022, status=RevisionStatus.FAILED, errors=[{}])
    dossier = dossier_build(audit=audit, today=TODAY)
    assert (dossier.catalogue_version, dossier.previous_version, dossier.catalogue_changes) == ("KJ2022", "KJ2022", [])
    assert dossier.revision is None and dossier.missing is True
    assert [f.error_count for f in dossier.failed_revisions] == [1]
    assert dossier.deviations == [] and dossier.previous_findings == []


@pytest.mark.django_db
def test_overdue_nonconformity_of_last_year_says_since_when(catalogue, site_a):
    audit = Audit.objects.create(site=site_a, audit_year=2025, kind=AuditKind.SURVEILLANCE)
    _deviation(
        site_a, 2023, "8", Flag.TARGET_NOT_MET, DeviationState.NONCONFORMITY, 1, 2, due_date=dt.date(2025, 5, 31)
    )
    _deviation(site_a, 2023, "7", Flag.TARGET_NOT_MET, DeviationState.NONCONFORMITY, 1, 2, due_date=TODAY)
    dossier = dossier_build(audit=audit, today=TODAY)
    assert {d.code: d.resolution for d in dossier.previous_findings} == {
        "7": "offen, fällig am 01.06.2025",
        "8": "offen, überfällig seit 31.05.2025",
    }


@pytest.mark.django_db
def test_xlsx_values_read_back(record):
    content = dossier_xlsx(dossier_build(audit=record["audit"], today=TODAY))
    wb = load_workbook(io.BytesIO(content))
    assert wb.sheetnames == [
        "Standort und Audit",
        "Katalogversion",
        "Gültiges Datenblatt",
        "Auffälligkeiten Kennzahlenjahr",
        "Feststellungen des Vorjahres",
        "Fehlende-abgelehnte Uploads",  # "/" is not allowed in a sheet name
    ]
    for ws in wb.worksheets:
        assert all(cell.font.bold for cell in ws[1] if cell.value is not None), ws.title

    facts = {row[0]: row[1] for row in wb["Standort und Audit"].iter_rows(min_row=2, values_only=True)}
    assert facts["Auditjahr"] == 2025 and facts["Kennzahlenjahr"] == 2024
    assert facts["Datum"] == dt.datetime(2025, 5, 20)
    assert facts["Reduzierter Auditzyklus (REDZYK)"] == "ja"
    assert facts["Fachexperten"] == "Anna Prüfer, auditor_z"

    sheet = wb["Auffälligkeiten Kennzahlenjahr"]
    header = [c.value for c in sheet[1]]
    assert header[:6] == ["KeZa", "Kennzahl", "Auffälligkeit", "Zähler", "Nenner", "Quote"]
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert list(rows) == ["1a", "2a", "8"]
    justified = rows["2a"]
    assert (justified[3].value, justified[4].value, justified[5].value) == (80, 100, 0.8)
    assert justified[3].data_type == "n" and justified[5].number_format == "0.0%"
    cell = justified[header.index("Begründung")]
    assert cell.value == FORMULA and cell.data_type == "s" and cell.quotePrefix
    assert rows["1a"][4].value is None and rows["1a"][5].value is None
    eight = rows["8"]
    assert eight[header.index("Frist")].value == dt.datetime(2025, 3, 1)
    assert eight[header.index("Überfällig")].value == "ja"
    assert eight[header.index("Jahre in Folge")].value == 3

    findings = wb["Feststellungen des Vorjahres"]
    last = [c.value for c in findings[1]].index("Erledigung")
    assert {r[0]: r[last] for r in findings.iter_rows(min_row=2, values_only=True)}["8"] == "erledigt"

    sheet = wb["Gültiges Datenblatt"]
    datasheet = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert datasheet["Revision Nr."] == record["current"].pk and datasheet["SHA-256-Prüfsumme"] == SHA
    submissions = list(wb["Fehlende-abgelehnte Uploads"].iter_rows(min_row=2, values_only=True))
    assert submissions[1][1:] == (record["failed"].pk, "falsch.xlsx", submissions[1][3], 3)

    changes = list(wb["Katalogversion"].iter_rows(min_row=2, values_only=True))
    assert changes[0][:2] == ("Gilt", "KJ2024") and changes[1][:2] == ("Vorjahr", "KJ2022")
    assert len(changes) == 2 + len(EXPECTED_CHANGES)


def _pdf_pages(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


@pytest.mark.django_db
def test_pdf_opens_with_a_page_per_chapter(record):
    pages = _pdf_pages(dossier_pdf(dossier_build(audit=record["audit"], today=TODAY)))
    assert len(pages) >= len(Chapter)
    # each chapter heading begins a page of its own, in order
    starts = []
    for number, label in enumerate(Chapter.labels, start=1):
        heading = f"{number}. {label}"
        found = [i for i, text in enumerate(pages) if heading in " ".join(text.split())]
        assert found, heading
        starts.append(found[0])
    assert starts == sorted(set(starts)), starts
    text = " ".join(" ".join(pages).split())
    assert SHA in text and "≥ 90 %" in text and "Tumorboard-Protokoll einführen" in text


def _get(client, user, name, audit):
    client.force_login(user)
    return client.get(reverse(name, args=[audit.pk]))


DOSSIER_URLS = ["audits:audit_dossier", "audits:audit_dossier_xlsx", "audits:audit_dossier_pdf"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", DOSSIER_URLS)
def test_dossier_access(client, record, name, coordinator, coordinator_b, auditor, commission, office, site_a):
    audit = record["audit"]
    for user in (coordinator, auditor, commission, office):
        assert _get(client, user, name, audit).status_code == 200, user
    assert _get(client, coordinator_b, name, audit).status_code == 404
    # an auditor of another site's audit, and one bound to site_a without an audit
    other = UserFactory(username="auditor_b")
    MembershipFactory(user=other, site=SiteFactory(), role=Role.AUDITOR)
    Audit.objects.create(site=other.memberships.get().site, audit_year=2025, kind=AuditKind.SURVEILLANCE).auditors.add(
        other
    )
    idle = UserFactory(username="auditor_idle")
    MembershipFactory(user=idle, site=site_a, role=Role.AUDITOR)
    for user in (other, idle):
        assert _get(client, user, name, audit).status_code == 404, user
    # auditor_a's audits reach indicator year 2026: an audit of 2028 (year 2027) is beyond
    later = Audit.objects.create(site=site_a, audit_year=2028, kind=AuditKind.SURVEILLANCE)
    assert _get(client, auditor, name, later).status_code == 404
    client.force_login(office)
    assert client.get(reverse(name, args=[999999])).status_code == 404


@pytest.mark.django_db
def test_dossier_downloads_are_attachments(client, record, auditor):
    client.force_login(auditor)
    audit = record["audit"]
    xlsx = client.get(reverse("audits:audit_dossier_xlsx", args=[audit.pk]))
    assert xlsx["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert xlsx["Content-Disposition"] == 'attachment; filename="Auditdossier_KHT-A01_2025.xlsx"'
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames[0] == "Standort und Audit"
    pdf = client.get(reverse("audits:audit_dossier_pdf", args=[audit.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == 'attachment; filename="Auditdossier_KHT-A01_2025.pdf"'
    assert pdf.content.startswith(b"%PDF")


@pytest.mark.django_db
def test_dossier_page_shows_each_chapter(client, record, auditor):
    html = _get(client, auditor, "audits:audit_dossier", record["audit"]).content.decode()
    for key, label in Chapter.choices:
        assert f'id="chapter-{key}"' in html and escape(str(label)) in html
    assert 'data-code="8" data-state="nonconformity"' in html
    assert "überfällig" in html  # KeZa 8's due date 01.03.2025 has passed
    assert SHA in html
    assert f'href="{reverse("audits:audit_dossier_xlsx", args=[record["audit"].pk])}"' in html
    assert "3. Jahr in Folge" in html
