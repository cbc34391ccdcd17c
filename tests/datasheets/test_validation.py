"""Value and structure rules of SPEC §3: every problem located and coded, all at once,
and an upload with any error writes no values, evaluations or deviations."""

import datetime as dt

import pytest

from datasheets.choices import RevisionStatus
from datasheets.layout import IND_DENOMINATOR, IND_JUSTIFICATION, IND_NUMERATOR, layout_for
from datasheets.models import BaseDataValue, IndicatorValue
from datasheets.services import datasheet_check, datasheet_template_build, datasheet_upload
from indicators.models import CatalogueVersion, Deviation, Evaluation
from tests.datasheets.helpers import consistent_values, edit_workbook


@pytest.fixture
def kj2022(catalogue):
    return layout_for(CatalogueVersion.objects.get(pk="KJ2022"))


@pytest.fixture
def kj2024(catalogue):
    return layout_for(CatalogueVersion.objects.get(pk="KJ2024"))


def _filled(site, layout, year=2022, **kw):
    return datasheet_template_build(site=site, indicator_year=year, values=consistent_values(layout, **kw))[1]


def _codes(errors):
    return sorted((e.sheet, e.cell, e.code) for e in errors)


@pytest.mark.django_db
def test_numerator_greater_than_denominator_is_located(kj2022, site_a, coordinator):
    cell = kj2022.indicator_cell("12", IND_NUMERATOR)
    content = edit_workbook(
        _filled(site_a, kj2022),
        {("Kennzahlen", cell): 21, ("Kennzahlen", kj2022.indicator_cell("12", IND_DENOMINATOR)): 20},
    )
    errors, _w, _f = datasheet_check(content=content, acting_user=coordinator)
    assert _codes(errors) == [("Kennzahlen", cell, "numerator_gt_denominator")]
    assert "Zähler 21 ist größer als Nenner 20" in errors[0].message_de
    assert "numerator 21 is greater than denominator 20" in errors[0].message_en


@pytest.mark.django_db
def test_study_rate_may_exceed_denominator_because_it_counts_events(kj2022, site_a, coordinator):
    primary = kj2022.primary_cases(consistent_values(kj2022).base)
    content = edit_workbook(
        _filled(site_a, kj2022),
        {
            ("Kennzahlen", kj2022.indicator_cell("5", IND_NUMERATOR)): primary + 5,
            ("Kennzahlen", kj2022.indicator_cell("5", IND_JUSTIFICATION)): "Viele Studien",
        },
    )
    errors, _w, facts = datasheet_check(content=content, acting_user=coordinator)
    assert errors == []
    entry = facts["values"].indicators["5"]
    assert (entry.numerator, entry.denominator) == (primary + 5, primary)
    assert entry.flags == ("implausible_high",)


@pytest.mark.django_db
def test_derived_denominator_mismatch(kj2022, site_a, coordinator):
    values = consistent_values(kj2022)
    derived = kj2022.derive(kj2022.indicators[2].denominator_source, values.base)
    cell = kj2022.indicator_cell("2", IND_DENOMINATOR)
    content = edit_workbook(_filled(site_a, kj2022), {("Kennzahlen", cell): derived + 1})
    errors, _w, _f = datasheet_check(content=content, acting_user=coordinator)
    assert _codes(errors) == [("Kennzahlen", cell, "denominator_mismatch")]
    assert f"aus den Basisdaten ergibt sich {derived}" in errors[0].message_de
    # The same value as the server's derivation (a cached formula result) is fine.
    content = edit_workbook(_filled(site_a, kj2022), {("Kennzahlen", cell): derived})
    assert datasheet_check(content=content, acting_user=coordinator)[0] == []


@pytest.mark.django_db
def test_typed_totals_must_match_their_sums(kj2022, site_a, coordinator):
    row = kj2022.rows[0].key
    row_total = kj2022.base_cell(row)
    grand_total = kj2022.base_cell("total")
    content = edit_workbook(_filled(site_a, kj2022), {("Basisdaten", row_total): 999, ("Basisdaten", grand_total): 5})
    errors, _w, _f = datasheet_check(content=content, acting_user=coordinator)
    assert _codes(errors) == sorted(
        [("Basisdaten", row_total, "total_mismatch"), ("Basisdaten", grand_total, "total_mismatch")]
    )


@pytest.mark.django_db
def test_reconstruction_categories_must_add_up_to_primary_cases(kj2024, site_a, coordinator):
    cell = kj2024.field_cell("reconstruction.1")
    content = edit_workbook(_filled(site_a, kj2024, year=2024), {("Basisdaten", cell): 7})
    errors, _w, _f = datasheet_check(content=content, acting_user=coordinator)
    assert [e.code for e in errors] == ["reconstruction_sum"]
    assert errors[0].cell == kj2024.field_cell("reconstruction.0")


@pytest.mark.django_db
def test_reconstruction_categories_summing_below_primary_cases_are_refused(kj2024, site_a, coordinator):
    # consistent_values puts all primary cases into category 0 (3 per stage cell).
    primary = 3 * len(kj2024.stage_cell_keys)
    cell = kj2024.field_cell("reconstruction.0")
    content = edit_workbook(_filled(site_a, kj2024, year=2024), {("Basisdaten", cell): primary - 1})
    errors, _w, _f = datasheet_check(content=content, acting_user=coordinator)
    assert [(e.cell, e.code) for e in errors] == [(cell, "reconstruction_sum")]
    assert f"{primary - 1}" in errors[0].message_de and f"{primary}" in errors[0].message_de


@pytest.mark.django_db
def test_numerator_equal_to_denominator_is_accepted(kj2022, site_a, coordinator):
    edits = {
        ("Kennzahlen", kj2022.indicator_cell("12", IND_NUMERATOR)): 20,
        ("Kennzahlen", kj2022.indicator_cell("12", IND_DENOMINATOR)): 20,
    }
    errors, _w, facts = datasheet_check(content=edit_workbook(_filled(site_a, kj2022), edits), acting_user=coordinator)
    assert errors == []
    entry = facts["values"].indicators["12"]
    assert (entry.numerator, entry.denominator, entry.flags) == (20, 20, ())


@pytest.mark.django_db
def test_all_value_errors_reported_at_once(kj2022, site_a, coordinator):
    c = kj2022.indicator_cell
    edits = {
        ("Kennzahlen", c("12", IND_NUMERATOR)): None,  # required
        ("Kennzahlen", c("13", IND_NUMERATOR)): "12,5",  # not_integer
        ("Kennzahlen", c("14", IND_NUMERATOR)): -3,  # negative
        ("Kennzahlen", c("20", IND_DENOMINATOR)): 1_000_001,  # too_large
        ("Kennzahlen", c("9", IND_NUMERATOR)): True,  # boolean: not_integer
        ("Kennzahlen", c("10", IND_NUMERATOR)): dt.datetime(2022, 1, 5),  # date: not_integer
        ("Kennzahlen", c("11", IND_NUMERATOR)): 4.5,  # decimal: not_integer
        ("Kennzahlen", c("12", IND_JUSTIFICATION)): "x" * 2001,  # text_too_long
        ("Basisdaten", kj2022.field_cell("recurrences")): None,  # required block field
    }
    content = edit_workbook(_filled(site_a, kj2022), edits)
    errors, _w, _f = datasheet_check(content=content, acting_user=coordinator)
    assert _codes(errors) == sorted(
        [
            ("Kennzahlen", c("12", IND_NUMERATOR), "required"),
            ("Kennzahlen", c("13", IND_NUMERATOR), "not_integer"),
            ("Kennzahlen", c("14", IND_NUMERATOR), "negative"),
            ("Kennzahlen", c("20", IND_DENOMINATOR), "too_large"),
            ("Kennzahlen", c("9", IND_NUMERATOR), "not_integer"),
            ("Kennzahlen", c("10", IND_NUMERATOR), "not_integer"),
            ("Kennzahlen", c("11", IND_NUMERATOR), "not_integer"),
            ("Kennzahlen", c("12", IND_JUSTIFICATION), "text_too_long"),
            ("Basisdaten", kj2022.field_cell("recurrences"), "required"),
        ]
    )
    assert str(errors[0]).startswith(f"{errors[0].sheet}!{errors[0].cell}: [{errors[0].code}] ")


@pytest.mark.django_db
def test_integer_text_and_float_are_accepted(kj2022, site_a, coordinator):
    c = kj2022.indicator_cell
    content = edit_workbook(
        _filled(site_a, kj2022),
        {("Kennzahlen", c("12", IND_NUMERATOR)): " 12 ", ("Kennzahlen", c("13", IND_NUMERATOR)): 12.0},
    )
    errors, warnings, facts = datasheet_check(content=content, acting_user=coordinator)
    assert errors == []
    assert ("Kennzahlen", c("12", IND_NUMERATOR), "number_as_text") in _codes(warnings)
    assert facts["values"].indicators["12"].numerator == 12
    assert facts["values"].indicators["13"].numerator == 12


@pytest.mark.django_db
def test_flag_without_justification_is_a_warning(kj2022, site_a, coordinator):
    content = _filled(site_a, kj2022, justify=False)
    errors, warnings, facts = datasheet_check(content=content, acting_user=coordinator)
    assert errors == []
    flagged = {code for code, e in facts["values"].indicators.items() if e.flags}
    assert flagged, "the helper values must flag something"
    assert {w.cell for w in warnings if w.code == "justification_missing"} == {
        kj2022.indicator_cell(code, IND_JUSTIFICATION) for code in flagged
    }


@pytest.mark.django_db
def test_other_sites_registration_number_is_forbidden(kj2022, site_a, site_b, coordinator):
    content = _filled(site_b, kj2022)
    errors, _w, _f = datasheet_check(content=content, acting_user=coordinator)
    assert [(e.sheet, e.cell, e.code) for e in errors] == [("Deckblatt", "B3", "site_forbidden")]
    unknown = edit_workbook(content, {("Deckblatt", "B3"): "KHT-999"})
    assert [e.code for e in datasheet_check(content=unknown, acting_user=coordinator)[0]] == ["site_unknown"]


@pytest.mark.django_db
def test_template_of_other_catalogue_version_is_refused(catalogue, site_a, coordinator):
    kj2024 = layout_for(CatalogueVersion.objects.get(pk="KJ2024"))
    content = _filled(site_a, kj2024, year=2024)
    cover_year = f"B{kj2024.cover_row_number('indicator_year')}"
    cover_audit = f"B{kj2024.cover_row_number('audit_year')}"
    content = edit_workbook(content, {("Deckblatt", cover_year): 2022, ("Deckblatt", cover_audit): 2023})
    errors, _w, _f = datasheet_check(content=content, acting_user=coordinator)
    assert "catalogue_mismatch" in {e.code for e in errors}
    mismatch = next(e for e in errors if e.code == "catalogue_mismatch")
    assert "KJ2024" in mismatch.message_de and "KJ2022" in mismatch.message_de


@pytest.mark.django_db
def test_future_or_unknown_year_is_refused(kj2022, site_a, coordinator):
    cell = f"B{kj2022.cover_row_number('indicator_year')}"
    for year in (1999, dt.date.today().year):
        content = edit_workbook(_filled(site_a, kj2022), {("Deckblatt", cell): year})
        codes = {(e.cell, e.code) for e in datasheet_check(content=content, acting_user=coordinator)[0]}
        assert (cell, "year_mismatch") in codes


@pytest.mark.django_db
def test_missing_sheet_and_label(kj2022, site_a, coordinator):
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(_filled(site_a, kj2022)))
    del wb["Basisdaten"]
    wb["Kennzahlen"]["D3"] = "Grundgesamtheit"
    buf = io.BytesIO()
    wb.save(buf)
    errors, _w, _f = datasheet_check(content=buf.getvalue(), acting_user=coordinator)
    codes = {(e.sheet, e.cell, e.code) for e in errors}
    assert ("Basisdaten", "A1", "sheet_missing") in codes
    assert ("Kennzahlen", "D3", "label_missing") in codes


@pytest.mark.django_db
def test_header_labels_are_matched_case_and_space_insensitively(kj2022, site_a, coordinator):
    content = edit_workbook(
        _filled(site_a, kj2022), {("Kennzahlen", "C3"): "  zähler ", ("Basisdaten", "A4"): " MUNDHÖHLE   operativ"}
    )
    assert datasheet_check(content=content, acting_user=coordinator)[0] == []


@pytest.mark.django_db(transaction=True)
def test_upload_with_errors_writes_nothing(kj2022, site_a, coordinator):
    content = edit_workbook(
        _filled(site_a, kj2022), {("Kennzahlen", kj2022.indicator_cell("12", IND_NUMERATOR)): "viele"}
    )
    revision = datasheet_upload(content=content, filename="bad.xlsx", acting_user=coordinator, expected_site=site_a)
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.FAILED
    assert [(e["cell"], e["code"]) for e in revision.errors] == [
        (kj2022.indicator_cell("12", IND_NUMERATOR), "not_integer")
    ]
    assert BaseDataValue.objects.count() == IndicatorValue.objects.count() == 0
    assert Evaluation.objects.count() == Deviation.objects.count() == 0
