"""datasheets.reading (issue 8): only the layout sheets are read, hidden or duplicate
layout sheets are refused before any grid is read, formulas come with their cached
values, and the grids are what openpyxl's own read-only reader gives."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from datasheets.choices import ErrorCode
from datasheets.layout import MAX_COLS, MAX_ROWS
from datasheets.reading import RawWorkbook, WorkbookUnreadable, sheet_errors, workbook_read
from tests.datasheets.helpers import cached_fresh, cell_formula, sheet_add, zip_replace

GOOD = Path(__file__).resolve().parents[1] / "data" / "datasheets" / "good"
OPENPYXL = (GOOD / "openpyxl_kj2022.xlsx").read_bytes()  # Deckblatt, Basisdaten, Kennzahlen, Hinweise
XLSXWRITER = (GOOD / "xlsxwriter_cached_kj2022.xlsx").read_bytes()  # shared strings, cached values
KENNZAHLEN = "xl/worksheets/sheet3.xml"  # of OPENPYXL; Kennzahlen!C10 holds 168 (KeZa 2 Zähler)
LAYOUT = ("Deckblatt", "Basisdaten", "Kennzahlen")


def _triples(errors) -> list[tuple[str, str, str]]:
    return [(e.sheet, e.cell, str(e.code)) for e in errors]


# -- which sheets ------------------------------------------------------------------------


def test_only_the_layout_sheets_are_read():
    # Hinweise and an extra sheet hold XML no parser accepts: never opened, so no error.
    broken = b"<worksheet><sheetData><row r='1'><c"
    content = sheet_add(OPENPYXL, "Rechnung", copy_of="Hinweise", index=4)
    content = zip_replace(content, {"xl/worksheets/sheet4.xml": broken, "xl/worksheets/sheet5.xml": broken})
    raw = workbook_read(content)
    assert raw.sheet_names == ("Deckblatt", "Basisdaten", "Kennzahlen", "Hinweise", "Rechnung")
    assert sorted(raw.grids) == sorted(LAYOUT) and sorted(raw.formulas) == sorted(LAYOUT)
    assert raw.grids["Kennzahlen"][(10, 3)] == 168
    assert raw.errors == ()
    with pytest.raises(WorkbookUnreadable) as caught:  # the same damage in a layout sheet is read
        workbook_read(zip_replace(OPENPYXL, {KENNZAHLEN: broken}))
    assert caught.value.code == ErrorCode.FILE_TYPE


@pytest.mark.parametrize("name", sorted(p.name for p in GOOD.glob("*.xlsx")))
def test_grids_are_what_openpyxls_read_only_reader_gives(name):
    """The grids of every good corpus file equal openpyxl's read-only, cached-value read
    of the same sheets (formula cells empty where the workbook declares stale caches)."""
    content = (GOOD / name).read_bytes()
    raw = workbook_read(content)
    values = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    formulas = load_workbook(io.BytesIO(content), read_only=True)
    stale = b'fullCalcOnLoad="1"' in zipfile.ZipFile(io.BytesIO(content)).read("xl/workbook.xml")
    for title in raw.grids:
        expected = {}
        formula_cells = {}
        rows = values[title].iter_rows(max_row=MAX_ROWS, max_col=MAX_COLS, values_only=True)
        for r, row in enumerate(rows, start=1):
            expected.update(((r, c), v) for c, v in enumerate(row, start=1) if v is not None)
        for r, row in enumerate(formulas[title].iter_rows(max_row=MAX_ROWS, max_col=MAX_COLS), start=1):
            formula_cells.update(
                ((r, c), cell.value) for c, cell in enumerate(row, start=1) if getattr(cell, "data_type", "") == "f"
            )
        if stale:
            expected = {k: v for k, v in expected.items() if k not in formula_cells}
        assert raw.grids[title] == expected, title
        assert raw.formulas[title] == formula_cells, title
    values.close()
    formulas.close()


def test_rows_out_of_order_repeated_or_past_the_bounds_read_as_openpyxl_reads_them():
    rows = (
        b'<row r="2"><c r="A2"><v>2</v></c><c r="B2"><v>3</v></c><c r="B2"><v>4</v></c></row>'
        b'<row r="1"><c r="A1"><v>1</v></c></row>'  # before the row read last: skipped
        b'<row r="2"><c r="A2"><v>9</v></c></row>'  # repeated: skipped
        b'<row r="5"><c r="AD5"><v>30</v></c><c r="AE5"><v>31</v></c><c><v>32</v></c></row>'
        b'<row r="300"><c r="A300"><v>300</v></c></row><row r="301"><c r="A301"><v>301</v></c></row>'
    )
    sheet = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    content = zip_replace(OPENPYXL, {KENNZAHLEN: sheet + rows + b"</sheetData></worksheet>"})
    assert workbook_read(content).grids["Kennzahlen"] == {(2, 1): 2, (2, 2): 4, (5, 30): 30, (300, 1): 300}


# -- hidden and duplicate sheets -------------------------------------------------------------


def test_sheet_errors_locate_hidden_layout_sheets_and_duplicates():
    assert _triples(
        sheet_errors([("Deckblatt", "visible"), ("Kennzahlen ", "veryHidden"), ("Kennzahlen", "visible")])
    ) == [
        ("Kennzahlen ", "A1", "sheet_hidden")  # the decoy; deleting it also ends the duplicate
    ]
    assert _triples(sheet_errors([("basisdaten", "hidden"), ("Hinweise", "hidden"), ("Notizen", "veryHidden")])) == [
        ("basisdaten", "A1", "sheet_hidden")  # Hinweise and a sheet of one's own may be hidden
    ]
    assert _triples(
        sheet_errors([("Kennzahlen", "visible"), ("KENNZAHLEN", "visible"), ("Kenn zahlen", "visible")])
    ) == [("KENNZAHLEN", "A1", "sheet_duplicate")]
    assert _triples(sheet_errors([("A", "visible"), (" a", "hidden"), ("A", "visible")])) == [
        (" a", "A1", "sheet_duplicate"),
        ("A", "A1", "sheet_duplicate"),
    ]
    assert sheet_errors([("Deckblatt", "visible"), ("Basisdaten", "visible"), ("Kennzahlen", "visible")]) == []
    [duplicate] = sheet_errors([("Deckblatt", "visible"), ("Deckblatt  ", "visible")])
    assert duplicate.message_en == "The sheets 'Deckblatt  ' and 'Deckblatt' have the same name."


def test_a_very_hidden_decoy_before_the_visible_sheet_is_refused_and_never_read():
    decoy = sheet_add(OPENPYXL, "Kennzahlen ", copy_of="Kennzahlen", index=2, state="veryHidden", edits={"C10": 999})
    raw = workbook_read(decoy)
    assert raw.sheet_names == ("Deckblatt", "Basisdaten", "Kennzahlen ", "Kennzahlen", "Hinweise")
    assert _triples(raw.errors) == [("Kennzahlen ", "A1", "sheet_hidden")]
    assert raw.grids == {} and raw.formulas == {}
    assert raw.errors[0].message_de == (
        "Das ausgeblendete Tabellenblatt „Kennzahlen “ trägt den Namen eines Vorlagenblatts; bitte löschen."
    )


def test_a_hidden_hinweise_sheet_is_fine():
    content = zip_replace(
        OPENPYXL,
        {
            "xl/workbook.xml": lambda x: x.replace(
                b'name="Hinweise" sheetId="4" state="visible"', b'name="Hinweise" sheetId="4" state="hidden"'
            )
        },
    )
    raw = workbook_read(content)
    assert raw.errors == () and sorted(raw.grids) == sorted(LAYOUT)


def test_the_first_matching_sheet_is_the_one_read():
    raw = RawWorkbook(("Deckblatt", "KENNZAHLEN"), {}, None)
    assert raw.sheet("kennzahlen ") == "KENNZAHLEN" and raw.sheet("Basisdaten") is None


# -- formulas --------------------------------------------------------------------------


def test_formulas_come_with_their_cached_values():
    sheet = zipfile.ZipFile(io.BytesIO(OPENPYXL)).read(KENNZAHLEN)
    sheet = cell_formula(sheet, "C10", "C11*2+Kennzahlen!$C$12", 170)
    content = cached_fresh(zip_replace(OPENPYXL, {KENNZAHLEN: sheet}))
    raw = workbook_read(content)
    assert raw.grids["Kennzahlen"][(10, 3)] == 170
    assert raw.formulas["Kennzahlen"][(10, 3)] == "=C11*2+Kennzahlen!$C$12"
    assert raw.formulas["Kennzahlen"][(11, 3)] == "=Basisdaten!B17"  # a template formula
    stale = workbook_read(zip_replace(OPENPYXL, {KENNZAHLEN: sheet}))  # fullCalcOnLoad: caches are placeholders
    assert (10, 3) not in stale.grids["Kennzahlen"]
    assert stale.formulas["Kennzahlen"][(10, 3)] == "=C11*2+Kennzahlen!$C$12"


def test_shared_and_array_formulas_are_read_as_text():
    sheet = zipfile.ZipFile(io.BytesIO(OPENPYXL)).read(KENNZAHLEN)
    sheet = sheet.replace(
        b'<c r="C10" s="4" t="n"><v>168</v></c>', b'<c r="C10"><f t="shared" ref="C10:C12" si="0">D10*2</f><v>4</v></c>'
    )
    sheet = cell_formula(sheet, "C11", "", 6).replace(b"<f></f>", b'<f t="shared" si="0"/>')
    sheet = cell_formula(sheet, "C12", "", 8).replace(b"<f></f>", b'<f t="array" ref="C12">SUM(D10:D12*2)</f>')
    raw = workbook_read(cached_fresh(zip_replace(OPENPYXL, {KENNZAHLEN: sheet})))
    found = raw.formulas["Kennzahlen"]
    assert (found[(10, 3)], found[(11, 3)], found[(12, 3)]) == ("=D10*2", "=D11*2", "{=SUM(D10:D12*2)}")


def test_workbook_or_strings_redirected_by_the_manifest_are_refused():
    def redirect(types: bytes) -> bytes:
        return types.replace(b'PartName="/xl/sharedStrings.xml"', b'PartName="/xl/strings2.xml"')

    content = zip_replace(
        XLSXWRITER,
        {
            "[Content_Types].xml": redirect,
            "xl/strings2.xml": zipfile.ZipFile(io.BytesIO(XLSXWRITER)).read("xl/sharedStrings.xml"),
        },
    )
    with pytest.raises(WorkbookUnreadable) as caught:
        workbook_read(content)
    assert (caught.value.code, caught.value.detail) == (
        ErrorCode.UNSAFE_CONTENT,
        "umgeleitete Teile / redirected parts",
    )
    assert workbook_read(XLSXWRITER).errors == ()


def test_a_worksheet_damaged_after_its_rows_is_refused():
    """A layout sheet cut off after ``</sheetData>`` (its rows complete, the rest not
    well-formed XML) is unreadable as openpyxl's own reader finds it, not accepted
    (found by the property test of a part replaced by garbage)."""
    import io
    import zipfile
    from pathlib import Path

    from datasheets.isolation import file_read

    good = (Path(__file__).resolve().parents[1] / "data" / "datasheets" / "good" / "openpyxl_kj2022.xlsx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        parts = [(i.filename, zf.read(i)) for i in zf.infolist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in parts:
            if name == "xl/worksheets/sheet1.xml":  # Deckblatt
                end = blob.index(b"</sheetData>") + len(b"</sheetData>")
                blob = blob[: end + 20]  # into the element after the rows
            zf.writestr(name, blob)
    errors = file_read(out.getvalue())
    assert [(e.sheet, e.cell, e.code) for e in errors] == [("Datei", "A1", "file_type")]
