"""What a located error's cell is (issue 9): ``messages.cell_subject`` names the KeZa and
column of a Kennzahlen cell, the row and stage of a Basisdaten cell and the field of a
Deckblatt cell; the revision report and the rejected-upload page show it beside the
address. Expected labels are read off the template layouts of KJ2022 and KJ2024 by hand
(Kennzahlen: header row 3, one KeZa per row from 4; Basisdaten: stages B..H, Gesamt I,
entity rows from 4, total row after them, blocks below)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from datasheets.choices import ErrorCode, RevisionStatus
from datasheets.layout import layout_for
from datasheets.messages import cell_error, cell_subject
from datasheets.reports import dry_run_report, problems_with_subjects, revision_report
from indicators.models import CatalogueVersion
from tests.factories import DatasheetRevisionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kj2022(catalogue):
    return layout_for(CatalogueVersion.objects.get(pk="KJ2022"))


@pytest.fixture
def kj2024(catalogue):
    return layout_for(CatalogueVersion.objects.get(pk="KJ2024"))


@pytest.mark.parametrize(
    ("sheet", "cell", "expected"),
    [
        # Kennzahlen KJ2022: 1a 1b 2 2a 3 4 5 ... from row 4; C Zähler, D Nenner, I Begründung
        ("Kennzahlen", "C10", "KeZa 5 · Zähler"),
        ("Kennzahlen", "D6", "KeZa 2 · Nenner"),
        ("Kennzahlen", "E6", "KeZa 2 · Quote"),
        ("Kennzahlen", "I21", "KeZa 20 · Begründung"),
        ("Kennzahlen", "A7", "KeZa 2a"),
        ("Kennzahlen", "C4", "KeZa 1a · Zähler"),
        ("Kennzahlen", "C3", None),  # header row
        ("Kennzahlen", "C22", None),  # below the last KeZa (20 in row 21)
        (" kennzahlen ", "C10", "KeZa 5 · Zähler"),  # sheet names match as the parser's do
        # Basisdaten: B in situ, C I, D II ... H IVC, I Gesamt; rows 4..13, total row 14
        ("Basisdaten", "D4", "Mundhöhle operativ · Stadium II"),
        ("Basisdaten", "B13", "Speicheldrüsen (maligne) nicht operativ · Stadium in situ"),
        ("Basisdaten", "I5", "Mundhöhle nicht operativ · Gesamt"),
        ("Basisdaten", "A8", "Larynx operativ"),
        ("Basisdaten", "C14", "Primärfälle gesamt · Stadium I"),
        ("Basisdaten", "I14", "Primärfälle gesamt"),
        ("Basisdaten", "D3", "Stadium II"),
        ("Basisdaten", "I3", "Gesamt"),
        ("Basisdaten", "B17", "Weitere Angaben · Operative Expertise HNO"),
        ("Basisdaten", "B19", "Weitere Angaben · Patienten mit neuaufgetretenem Rezidiv und/oder Fernmetastasen"),
        ("Basisdaten", "A16", "Weitere Angaben"),
        ("Basisdaten", "B15", None),  # the empty row between the table and the block
        ("Basisdaten", "B20", None),  # after the last field
        ("Basisdaten", "J4", None),  # right of Gesamt
        # Deckblatt: labels A3.., values B3..
        ("Deckblatt", "B3", "Reg.-Nr."),
        ("Deckblatt", "B10", "Kennzahlenjahr"),
        ("Deckblatt", "A15", "Katalogversion"),
        ("Deckblatt", "B2", None),
        ("Deckblatt", "C3", None),
        # not cells of the layout
        ("Hinweise", "A1", None),
        ("Datei", "A1", None),
        ("Datei", "xl/vbaProject.bin", None),
        ("Kennzahlen", "", None),
    ],
)
def test_subjects_of_the_2022_layout(kj2022, sheet, cell, expected):
    assert cell_subject(kj2022, sheet, cell) == expected


@pytest.mark.parametrize(
    ("sheet", "cell", "expected"),
    [
        # Kennzahlen KJ2024: 1a 1b 2a 2b 3 4 5 6a 6b 7..14 20 OH-1..OH-6 from row 4
        ("Kennzahlen", "C6", "KeZa 2a · Zähler"),
        ("Kennzahlen", "C10", "KeZa 5 · Zähler"),
        ("Kennzahlen", "C22", "KeZa OH-1 · Zähler"),
        ("Kennzahlen", "D27", "KeZa OH-6 · Nenner"),
        ("Kennzahlen", "H27", "KeZa OH-6 · Bewertung"),
        ("Kennzahlen", "C28", None),
        # Basisdaten KJ2024: four blocks (titles 16, 21, 27, 33)
        ("Basisdaten", "F12", "Speicheldrüsen (maligne) operativ · Stadium IVA"),
        (
            "Basisdaten",
            "B22",
            "Strahlentherapie (Zentrumsfälle) · Strahlentherapie intern/Kooperationspartner, definitiv",
        ),
        ("Basisdaten", "B28", "Rekonstruktive Verfahren (Primärfälle) · Kategorie 0: kein rekonstruktives Verfahren"),
        ("Basisdaten", "B34", "Studienpatienten (optional, KeZa 5) · in eigene Studien eingebracht"),
        ("Basisdaten", "A33", "Studienpatienten (optional, KeZa 5)"),
        ("Basisdaten", "B37", None),
    ],
)
def test_subjects_of_the_2024_layout(kj2024, sheet, cell, expected):
    assert cell_subject(kj2024, sheet, cell) == expected


def test_subjects_in_english(kj2024):
    assert cell_subject(kj2024, "Kennzahlen", "D27", language="en") == "KeZa OH-6 · denominator"
    assert cell_subject(kj2024, "Basisdaten", "D4", language="en") == "Oral cavity, operated · stage II"
    assert cell_subject(kj2024, "Basisdaten", "I14", language="en") == "Primary cases, total"
    assert cell_subject(kj2024, "Basisdaten", "C14", language="en") == "Primary cases, total · stage I"
    assert cell_subject(kj2024, "Basisdaten", "B29", language="en") == "Reconstruction (primary cases) · Category 1"
    assert cell_subject(kj2024, "Deckblatt", "B3", language="en") == "registration number"


def _error(sheet, cell, code="not_integer"):
    return {"sheet": sheet, "cell": cell, "code": code, "message": "m", "message_de": "m", "message_en": "m"}


def test_report_adds_subjects_and_keeps_every_key(catalogue, site_a):
    errors = [_error("Kennzahlen", "C10"), _error("Basisdaten", "D4", "required"), _error("Datei", "A1", "file_type")]
    revision = DatasheetRevisionFactory(
        site=site_a, catalogue_version_id="KJ2022", status=RevisionStatus.FAILED, errors=errors
    )
    report = revision_report(revision)
    for stored, reported in zip(errors, report["errors"], strict=True):
        assert {k: reported[k] for k in stored} == stored  # nothing renamed or changed
    assert [(e["subject"], e["subject_de"], e["subject_en"]) for e in report["errors"]] == [
        ("KeZa 5 · Zähler", "KeZa 5 · Zähler", "KeZa 5 · numerator"),
        ("Mundhöhle operativ · Stadium II", "Mundhöhle operativ · Stadium II", "Oral cavity, operated · stage II"),
        (None, None, None),
    ]
    assert revision.errors == errors  # the stored record is not touched


def test_without_a_catalogue_version_there_is_no_subject(catalogue, site_a):
    revision = DatasheetRevisionFactory(
        site=site_a, catalogue_version_id=None, status=RevisionStatus.FAILED, errors=[_error("Kennzahlen", "C10")]
    )
    assert revision_report(revision)["errors"][0]["subject"] is None
    assert problems_with_subjects(None, None) == []


def test_rejected_upload_page_names_keza_and_column(client, catalogue, site_a, coordinator):
    errors = [
        cell_error("Kennzahlen", "C10", ErrorCode.NUMERATOR_GT_DENOMINATOR, code="5", numerator=1234, denominator=20),
        cell_error("Basisdaten", "I14", ErrorCode.TOTAL_MISMATCH, value="1234", expected=1235),
        cell_error("Datei", "A1", ErrorCode.FILE_TYPE, detail=""),
    ]
    revision = DatasheetRevisionFactory(
        site=site_a,
        catalogue_version_id="KJ2022",
        status=RevisionStatus.FAILED,
        errors=[e.as_dict() for e in errors],
        uploaded_by=coordinator,
    )
    client.force_login(coordinator)
    body = client.get(reverse("datasheets:revision_detail", args=[revision.pk])).content.decode()
    items = re.findall(
        r'<li><span class="problems__place">(.*?)</span>(?: · <span class="problems__subject">(.*?)</span>)?: '
        r"<code>\[(\w+)\]</code> (.*?)</li>",
        body,
    )
    assert items == [
        (
            "Kennzahlen!C10",
            "KeZa 5 · Zähler",
            "numerator_gt_denominator",
            "KeZa 5: Zähler 1.234 ist größer als Nenner 20.",
        ),
        (
            "Basisdaten!I14",
            "Primärfälle gesamt",
            "total_mismatch",
            "Summe 1.234 weicht von der Summe der Einzelwerte 1.235 ab.",
        ),
        ("Datei!A1", "", "file_type", "Die Datei ist keine Excel-Arbeitsmappe (.xlsx)."),
    ]


def test_dry_run_report_names_the_cells(catalogue, site_a, coordinator):
    from datasheets.services import site_cover
    from datasheets.template import workbook_bytes
    from tests.datasheets.helpers import consistent_values, edit_workbook

    version = CatalogueVersion.objects.get(pk="KJ2022")
    layout = layout_for(version)
    cover = site_cover(site_a, 2022, version)
    content = edit_workbook(
        workbook_bytes(layout, cover, consistent_values(layout)),
        {("Kennzahlen", "C10"): "viele", ("Basisdaten", "D4"): -2},
    )
    report = dry_run_report(content=content, acting_user=coordinator)
    located = {(e["sheet"], e["cell"]): (e["code"], e["subject"]) for e in report["errors"]}
    assert located[("Kennzahlen", "C10")] == ("not_integer", "KeZa 5 · Zähler")
    assert located[("Basisdaten", "D4")] == ("negative", "Mundhöhle operativ · Stadium II")


@pytest.mark.parametrize(
    ("code", "params", "de", "en"),
    [
        (ErrorCode.TOO_LARGE, {"value": 1_000_001}, "1.000.001 ist größer als 1.000.000.", "1,000,001 is larger"),
        (
            ErrorCode.TEXT_TOO_LONG,
            {"length": 2001, "limit": 2000},
            "Text mit 2.001 Zeichen",
            "Text of 2,001 characters",
        ),
        (
            ErrorCode.CACHED_VALUE_MISMATCH,
            {"value": "95.0 %", "expected": "1234.5 %"},
            "zeigt 95,0\u00a0%",
            "1,234.5\u00a0%",
        ),
        (
            ErrorCode.DENOMINATOR_MISMATCH,
            {"code": "12", "value": "1500", "expected": 1501},
            "KeZa 12: eingetragen 1.500, aus den Basisdaten ergibt sich 1.501.",
            "entered 1,500",
        ),
        (ErrorCode.NOT_INTEGER, {"value": "12.5"}, "„12.5“ ist keine ganze Zahl.", "'12.5' is not"),  # typed text stays
        (ErrorCode.NOT_INTEGER, {"value": 12.5}, "„12,5“ ist keine ganze Zahl.", "'12.5' is not"),
        (
            ErrorCode.CATALOGUE_MISMATCH,
            {"found": "KJ2022", "expected": "KJ2024", "year": 2024},
            "für Kennzahlenjahr 2024 gilt",
            "indicator year 2024 uses",
        ),
        (ErrorCode.PROCESSING_ABORTED, {"attempts": 1000}, "nach 1000 Versuchen", "after 1000 attempts"),
    ],
)
def test_numbers_in_messages_are_german_in_german(code, params, de, en):
    error = cell_error("Kennzahlen", "C10", code, **params)
    assert de in error.message_de
    assert en in error.message_en


def test_years_are_not_grouped():
    error = cell_error("Kennzahlen", "C10", ErrorCode.YEAR_MISMATCH, value=2023, detail_de="d", detail_en="e")
    assert (error.message_de, error.message_en) == ("Kennzahlenjahr „2023“: d", "Indicator year '2023': e")


def test_years_on_the_deckblatt_are_not_grouped():
    assert cell_error("Deckblatt", "B10", ErrorCode.NEGATIVE, value=-2022).message_de == "-2022 ist negativ."
    assert cell_error("Basisdaten", "D4", ErrorCode.NEGATIVE, value=-2022).message_de == "-2.022 ist negativ."


def test_preview_numbers_are_grouped_in_german(client, catalogue, site_a, coordinator, monkeypatch):
    from datasheets import views
    from datasheets.reports import DiffRow

    revision = DatasheetRevisionFactory(
        site=site_a, status=RevisionStatus.VALIDATED, confirmed_at=None, uploaded_by=coordinator
    )
    row = DiffRow("1a", 1234, 12345, None, None, (), ())
    monkeypatch.setattr(views, "revision_diff", lambda revision: [row])
    client.force_login(coordinator)
    body = client.get(reverse("datasheets:revision_detail", args=[revision.pk])).content.decode()
    cells = re.findall(r'<tr data-code="1a">.*?</tr>', body, re.S)[0]
    numbers = [" ".join(re.sub(r"<[^>]+>", "", c).split()) for c in re.findall(r'<td class="num">(.*?)</td>', cells)]
    assert numbers == ["1.234 → 12.345", "– → –"]
