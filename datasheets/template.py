"""Layout -> openpyxl workbook: the Datenblatt template of SPEC §2.

``workbook_build`` writes the four sheets for a cover (Deckblatt values) and, optionally,
entered values (used by the demo and the tests: a filled template is exactly what a
centre would upload). Derived cells are locked formulas; ``Quote`` and ``Bewertung`` are
formulas for the centre's convenience only (the server recomputes everything).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from .layout import (
    BASE_HEADER_ROW,
    BASE_LABEL_HEADER,
    COVER_FIELDS,
    IND_ASSESSMENT,
    IND_CODE,
    IND_CORRIDOR,
    IND_DENOMINATOR,
    IND_HEADER_ROW,
    IND_HEADERS,
    IND_JUSTIFICATION,
    IND_NUMERATOR,
    IND_RATE,
    IND_TARGET,
    IND_TITLE,
    MAX_COUNT,
    SHEET_BASE,
    SHEET_COVER,
    SHEET_INDICATORS,
    SHEET_NOTES,
    TEMPLATE_NAME,
    IndicatorRow,
    Layout,
)

INPUT_FILL = PatternFill("solid", fgColor="FFF4CC")
LOCKED_FILL = PatternFill("solid", fgColor="E7E6E6")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TITLE_FONT = Font(bold=True, size=14)
THIN = Side(style="thin", color="A6A6A6")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
UNLOCKED = Protection(locked=False)


@dataclass
class SheetValues:
    """Values to enter into a template: ``base`` maps Basisdaten keys to counts;
    ``indicators`` maps KeZa codes to (numerator, denominator, justification) where
    entered cells are used only (derived ones stay formulas)."""

    base: dict[str, int | None] = field(default_factory=dict)
    indicators: dict[str, tuple[int | None, int | None, str]] = field(default_factory=dict)


def _percent(f: Fraction) -> str:
    return f"{float(f):.10g}"


def _assessment_formula(ind: IndicatorRow, num: str, den: str) -> str:
    """Excel formula for the Bewertung column (display only)."""
    value = num if ind.is_count else f"{num}/{den}"
    rule = ind.rule
    result = '"erfüllt"' if rule.target_op else '"plausibel"'
    if rule.target_op:
        result = f'IF({value}{rule.target_op}{_percent(rule.target_value)},"erfüllt","Sollvorgabe nicht erfüllt")'
    if rule.corridor_upper is not None:
        result = f'IF({value}>{_percent(rule.corridor_upper)},"Plausibilität unklar",{result})'
    if rule.corridor_lower is not None:
        result = f'IF({value}<{_percent(rule.corridor_lower)},"Plausibilität unklar",{result})'
    if ind.is_count:
        return f'=IF(ISNUMBER({num}),{result},"")'
    return f'=IF(AND(ISNUMBER({num}),ISNUMBER({den})),IF({den}=0,"nicht bewertbar",{result}),"")'


def _header(ws, row: int, labels: list[str] | tuple[str, ...]) -> None:
    for col, label in enumerate(labels, start=1):
        c = ws.cell(row=row, column=col, value=label)
        c.font, c.fill, c.border = HEADER_FONT, HEADER_FILL, BOX
        c.alignment = Alignment(wrap_text=True, vertical="center")


# First characters that make Excel (or LibreOffice) read typed text as a formula: the
# OWASP list for spreadsheet ("CSV") injection.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def cell_text_write(cell, value) -> None:
    """Write ``value`` into ``cell`` as data, never as a formula (issue 8).

    A ``str`` becomes a string cell (``data_type`` "s"), even when it starts with "="
    (openpyxl would otherwise store a formula); when it starts with one of
    ``FORMULA_TRIGGERS`` the cell also gets Excel's ``quotePrefix`` style, so that
    editing the cell in Excel keeps it text. The text itself is unchanged, so the
    parser reads back exactly what was written (the Deckblatt still matches). Other
    values (int, None, dates) are written as they are.
    """
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if value.startswith(FORMULA_TRIGGERS):
            cell.quotePrefix = True


def _input(cell, value=None) -> None:
    cell_text_write(cell, value)
    cell.fill, cell.border, cell.protection = INPUT_FILL, BOX, UNLOCKED


def _locked(cell, value=None) -> None:
    cell.value = value
    cell.fill, cell.border = LOCKED_FILL, BOX


def _protect(ws) -> None:
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False


def workbook_build(layout: Layout, cover: dict[str, object], values: SheetValues | None = None) -> Workbook:
    """The Datenblatt workbook for one site and year (SPEC §2).

    cover: Deckblatt values keyed as in ``layout.COVER_FIELDS`` (registration_number,
    indicator_year, ...). values: optional entries (demo, tests). Returns an openpyxl
    Workbook with the sheets Deckblatt, Basisdaten, Kennzahlen, Hinweise and the
    defined name QIP_TEMPLATE.
    """
    values = values or SheetValues()
    wb = Workbook()
    _cover_sheet(wb.active, layout, cover)
    _base_sheet(wb.create_sheet(SHEET_BASE), layout, values)
    _indicator_sheet(wb.create_sheet(SHEET_INDICATORS), layout, values)
    _notes_sheet(wb.create_sheet(SHEET_NOTES), layout)
    wb.defined_names[TEMPLATE_NAME] = DefinedName(TEMPLATE_NAME, attr_text=f'"{layout.template_id}"')
    return wb


def workbook_bytes(layout: Layout, cover: dict[str, object], values: SheetValues | None = None) -> bytes:
    """``workbook_build`` saved as .xlsx bytes."""
    buffer = io.BytesIO()
    workbook_build(layout, cover, values).save(buffer)
    return buffer.getvalue()


def _cover_sheet(ws, layout: Layout, cover: dict[str, object]) -> None:
    ws.title = SHEET_COVER
    ws["A1"] = "Datenblatt Kopf-Hals-Tumor-Zentren"
    ws["A1"].font = TITLE_FONT
    ws.column_dimensions["A"].width = 32
    ws.column_dimensions["B"].width = 48
    editable = {"contact", "email", "created", "documentation_system", "oncobox"}
    for key, label in COVER_FIELDS:
        row = layout.cover_row_number(key)
        ws.cell(row=row, column=1, value=label).font = Font(bold=True)
        cell = ws.cell(row=row, column=2)
        value = cover.get(key)
        if key == "catalogue_version":
            value = layout.version_id
        (_input if key in editable else _locked)(cell)
        cell_text_write(cell, value)  # site, centre, contact …: data, never a formula
    _protect(ws)


def _base_sheet(ws, layout: Layout, values: SheetValues) -> None:
    ws["A1"] = "Basisdaten: Primärfälle nach Entität und UICC-Stadium"
    ws["A1"].font = TITLE_FONT
    ws.column_dimensions["A"].width = 46
    _header(ws, BASE_HEADER_ROW, [BASE_LABEL_HEADER, *layout.stage_columns, layout.total_column])
    first_col, last_col = 2, 1 + len(layout.stage_columns)
    count_validation = DataValidation(
        type="whole",
        operator="between",
        formula1="0",
        formula2=str(MAX_COUNT),
        showErrorMessage=True,
        errorTitle="Ungültige Zahl",
        error=f"Bitte eine ganze Zahl zwischen 0 und {MAX_COUNT:,} eingeben.".replace(",", "."),
    )
    ws.add_data_validation(count_validation)
    from openpyxl.utils import get_column_letter as col

    for row in layout.rows:
        r = layout.base_row_number(row.key)
        ws.cell(row=r, column=1, value=row.label_de).border = BOX
        for stage in layout.stage_columns:
            c = ws.cell(row=r, column=layout.stage_column_number(stage))
            _input(c, values.base.get(f"{row.key}.{stage}"))
            count_validation.add(c.coordinate)
        _locked(
            ws.cell(row=r, column=layout.base_total_column_number),
            f"=SUM({col(first_col)}{r}:{col(last_col)}{r})",
        )
    tr = layout.base_row_number(layout.total_row.key)
    first_row = layout.base_row_number(layout.rows[0].key)
    label = ws.cell(row=tr, column=1, value=layout.total_row.label_de)
    label.font, label.border = Font(bold=True), BOX
    for c_idx in range(first_col, layout.base_total_column_number + 1):
        letter = col(c_idx)
        _locked(ws.cell(row=tr, column=c_idx), f"=SUM({letter}{first_row}:{letter}{tr - 1})")
        ws.cell(row=tr, column=c_idx).font = Font(bold=True)
    for block, title_row, fields in layout.block_positions():
        ws.cell(row=title_row, column=1, value=block.title_de).font = Font(bold=True)
        for f, r in fields:
            ws.cell(row=r, column=1, value=f.label_de).border = BOX
            c = ws.cell(row=r, column=2)
            _input(c, values.base.get(f.key))
            count_validation.add(c.coordinate)
    _protect(ws)


def _indicator_sheet(ws, layout: Layout, values: SheetValues) -> None:
    ws["A1"] = "Kennzahlen"
    ws["A1"].font = TITLE_FONT
    _header(ws, IND_HEADER_ROW, IND_HEADERS)
    widths = {
        IND_CODE: 7,
        IND_TITLE: 60,
        IND_NUMERATOR: 10,
        IND_DENOMINATOR: 10,
        IND_RATE: 9,
        IND_TARGET: 12,
        IND_CORRIDOR: 16,
        IND_ASSESSMENT: 24,
        IND_JUSTIFICATION: 60,
    }
    from openpyxl.utils import get_column_letter as col

    for header, width in widths.items():
        ws.column_dimensions[col(layout.indicator_column_number(header))].width = width
    count_validation = DataValidation(
        type="whole",
        operator="between",
        formula1="0",
        formula2=str(MAX_COUNT),
        showErrorMessage=True,
        errorTitle="Ungültige Zahl",
        error="Bitte eine ganze Zahl eingeben.",
    )
    ws.add_data_validation(count_validation)
    for ind in layout.indicators:
        r = layout.indicator_row_number(ind.code)
        entered = values.indicators.get(ind.code, (None, None, ""))
        cell = {h: ws.cell(row=r, column=layout.indicator_column_number(h)) for h in IND_HEADERS}
        _locked(cell[IND_CODE], ind.code)
        _locked(cell[IND_TITLE], ind.title_de)
        cell[IND_TITLE].alignment = Alignment(wrap_text=True, vertical="top")
        num_ref = cell[IND_NUMERATOR].coordinate
        den_ref = cell[IND_DENOMINATOR].coordinate
        if ind.numerator_entered:
            _input(cell[IND_NUMERATOR], entered[0])
            count_validation.add(num_ref)
        else:
            _locked(cell[IND_NUMERATOR], layout.formula_terms(ind.numerator_source))
        if ind.is_count:
            _locked(cell[IND_DENOMINATOR])
            _locked(cell[IND_RATE])
        else:
            if ind.denominator_entered:
                _input(cell[IND_DENOMINATOR], entered[1])
                count_validation.add(den_ref)
            else:
                _locked(cell[IND_DENOMINATOR], layout.formula_terms(ind.denominator_source))
            _locked(cell[IND_RATE], f'=IF(AND(ISNUMBER({den_ref}),{den_ref}>0),{num_ref}/{den_ref},"")')
            cell[IND_RATE].number_format = "0.0%"
        _locked(cell[IND_TARGET], ind.target_display)
        _locked(cell[IND_CORRIDOR], ind.corridor_display)
        _locked(cell[IND_ASSESSMENT], _assessment_formula(ind, num_ref, den_ref))
        _input(cell[IND_JUSTIFICATION], entered[2] or None)
        cell[IND_JUSTIFICATION].alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = f"C{IND_HEADER_ROW + 1}"
    _protect(ws)


NOTES = (
    "Hinweise zum Ausfüllen",
    "",
    "1. Gelb hinterlegte Zellen ausfüllen: ganze Zahlen ≥ 0 (keine Dezimalzahlen, kein Text).",
    "2. Grau hinterlegte Zellen werden berechnet (Summen, abgeleitete Nenner, Quote, Bewertung) "
    "und vom Portal serverseitig neu berechnet; eingetragene Abweichungen werden gemeldet.",
    "3. Basisdaten: Primärfälle je Entität, operativ / nicht operativ, nach UICC-Stadium.",
    "4. Kennzahlen: Zähler und – soweit nicht aus den Basisdaten abgeleitet – Nenner eintragen.",
    "5. Liegt ein Wert außerhalb der Sollvorgabe oder des Plausibilitätskorridors, bitte in der "
    "Spalte „Begründung“ erläutern (max. 2.000 Zeichen).",
    "6. Blätter, Überschriften und KeZa-Nummern nicht umbenennen; die Datei als .xlsx speichern.",
)


def _notes_sheet(ws, layout: Layout) -> None:
    ws.column_dimensions["A"].width = 120
    for i, line in enumerate(NOTES, start=1):
        ws.cell(row=i, column=1, value=line).alignment = Alignment(wrap_text=True)
    ws["A1"].font = TITLE_FONT
    ws.cell(row=len(NOTES) + 2, column=1, value=f"Vorlage: {layout.template_id}")
    _protect(ws)
