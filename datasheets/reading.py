"""Workbook bytes -> the bounded grids of the layout sheets; no ORM (issue 8).

``workbook_read(content)`` opens the .xlsx with openpyxl's reader (defusedxml, links not
kept) and copies a bounded grid (``layout.MAX_ROWS`` × ``layout.MAX_COLS``) of the
layout sheets only — Deckblatt, Basisdaten, Kennzahlen — with each cell's cached value
and, where there is one, its formula text. Every other sheet is only named (counted by
``safety.MAX_SHEETS``); openpyxl's document properties, theme, chartsheets and drawings
are never loaded. Hidden sheets named like a layout sheet and sheets whose names differ
only in case or spaces are refused before any grid is read (``sheet_errors``).
``parsing`` locates the layout's cells in the result.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden, NotSupportedError
from openpyxl.reader.excel import ExcelReader, _find_workbook_part
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils import column_index_from_string
from openpyxl.worksheet._reader import DATA_TAG, FORMULA_TAG, ROW_TAG, WorkSheetParser
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.xml import DEFUSEDXML
from openpyxl.xml.constants import SHARED_STRINGS
from openpyxl.xml.functions import iterparse

from .choices import ErrorCode
from .layout import MAX_COLS, MAX_ROWS, SHEET_BASE, SHEET_COVER, SHEET_INDICATORS, TEMPLATE_NAME, normalise_label
from .messages import CellError, cell_error

Grid = dict[tuple[int, int], object]
LAYOUT_SHEETS = (SHEET_COVER, SHEET_BASE, SHEET_INDICATORS)  # read into grids; Hinweise is not
HIDDEN_STATES = frozenset({"hidden", "veryHidden"})
WORKBOOK_PART = "/xl/workbook.xml"  # the parts safety.precheck bounds by name
STRINGS_PART = "/xl/sharedStrings.xml"


@dataclass(frozen=True)
class RawWorkbook:
    """Bounded copy of a workbook's layout sheets: ``grids[sheet][(row, col)] = value``
    (1-based) and ``formulas[sheet][(row, col)] = "=B4+B5"`` where a cell holds a formula.
    ``sheet_names`` lists every sheet in workbook order; ``errors`` (sheet_hidden,
    sheet_duplicate) refuse the file, and then no grid is read."""

    sheet_names: tuple[str, ...]
    grids: dict[str, Grid]
    template_id: str | None
    formulas: dict[str, dict[tuple[int, int], str]] = field(default_factory=dict)
    errors: tuple[CellError, ...] = ()

    def sheet(self, name: str) -> str | None:
        """The actual sheet name matching ``name`` after trimming and case-folding."""
        wanted = normalise_label(name)
        for actual in self.sheet_names:
            if normalise_label(actual) == wanted:
                return actual
        return None


class WorkbookUnreadable(Exception):
    """openpyxl could not read the file as a workbook; ``code`` says how to report it."""

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail


def _template_id(names) -> str | None:
    defined = names.get(TEMPLATE_NAME)
    if defined is None:
        return None
    text = str(defined.attr_text or "").strip()[:200]
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text or None


FULL_CALC_ON_LOAD = re.compile(rb'<(?:[A-Za-z_][\w.-]{0,20}:)?calcPr\s[^>]{0,2000}?\bfullCalcOnLoad="(?:1|true)"')
UNSAFE_XML = (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden, NotSupportedError)


def _stale_cache(archive) -> bool:
    """True if the workbook asks to recalculate everything on load (``fullCalcOnLoad``,
    as xlsxwriter writes it): its cached formula results are placeholders (0). (Read as
    bytes: openpyxl's parsed ``calcPr`` defaults the attribute to true.)"""
    with archive.open(WORKBOOK_PART[1:]) as handle:
        head = handle.read(4 * 1024 * 1024)
    return FULL_CALC_ON_LOAD.search(head) is not None


def sheet_errors(sheets: list[tuple[str, str]]) -> list[CellError]:
    """Sheets that could make the server read something Excel does not show (issue 8),
    from ``[(name, state)]`` in workbook order (state ``visible``, ``hidden`` or
    ``veryHidden``): a hidden sheet whose normalised name (``layout.normalise_label``)
    is a layout sheet's gets ``sheet_hidden``; a sheet whose normalised name an earlier
    sheet already has gets ``sheet_duplicate`` (unless one of the two is reported
    hidden: deleting that one is the fix). Each is located at ``<sheet>!A1``."""
    layout = {normalise_label(name) for name in LAYOUT_SHEETS}
    errors: list[CellError] = []
    hidden: set[int] = set()
    for index, (name, state) in enumerate(sheets):
        if state in HIDDEN_STATES and normalise_label(name) in layout:
            errors.append(cell_error(name, "A1", ErrorCode.SHEET_HIDDEN, sheet=name))
            hidden.add(index)
    first: dict[str, int] = {}
    for index, (name, _state) in enumerate(sheets):
        key = normalise_label(name)
        if key not in first:
            first[key] = index
        elif not {index, first[key]} & hidden:
            other = sheets[first[key]][0]
            errors.append(cell_error(name, "A1", ErrorCode.SHEET_DUPLICATE, sheet=name, other=other))
    return errors


class _CellParser(WorkSheetParser):
    """openpyxl's worksheet parser reading cached values (``data_only``) that also
    keeps the text of a cell's formula (shared formulas translated by openpyxl): one
    pass gives both what Excel shows and how it was computed."""

    def parse_cell(self, element):
        coordinate = element.get("r")
        if coordinate:  # a cell right of the grid is skipped unparsed (None)
            column = column_index_from_string(coordinate.rstrip("0123456789") or "A")
            if column > MAX_COLS:
                self.col_counter = column
                return None
        cell = super().parse_cell(element)
        if element.find(FORMULA_TAG) is not None:
            formula = self.parse_formula(element)
            if isinstance(formula, ArrayFormula):
                formula = "{" + str(formula.text or "=") + "}"  # as Excel shows it
            elif not isinstance(formula, str):
                formula = "{=TABLE()}"  # a data table
            cell["formula"] = formula
        return cell


def _sheet_read(source, parser: _CellParser) -> tuple[Grid, dict[tuple[int, int], str]]:
    """Values and formulas of rows 1..MAX_ROWS, columns 1..MAX_COLS of one worksheet
    part, as openpyxl's read-only sheet gives them (a row repeated or out of order is
    skipped, within a row the last cell for a column wins). Stops at the first row past
    the bound; after ``sheetData`` the rest of the part is parsed (and freed) only to be
    sure it is well-formed, as openpyxl's own reader does; elements outside rows are
    freed at once."""
    grid: Grid = {}
    formulas: dict[tuple[int, int], str] = {}
    last = 0
    inside_row = False
    events = iterparse(source, events=("start", "end"))
    for event, element in events:
        tag = element.tag
        if event == "start":
            inside_row = inside_row or tag == ROW_TAG
            continue
        if tag == ROW_TAG:
            inside_row = False
            r, cells = parser.parse_row(element)
            element.clear()
            if r > MAX_ROWS:
                break
            if r <= last:
                continue
            last = r
            values: dict[int, object] = {}
            texts: dict[int, str | None] = {}
            for cell in cells:
                if cell is not None and cell["column"] <= MAX_COLS:
                    values[cell["column"]] = cell["value"]
                    texts[cell["column"]] = cell.get("formula")
            grid.update(((r, c), v) for c, v in values.items() if v is not None)
            formulas.update(((r, c), f) for c, f in texts.items() if f is not None)
        elif tag == DATA_TAG:
            for _event, rest in events:  # parse the rest of the part: damage after the rows refuses the file too
                rest.clear()
            break
        elif not inside_row:
            element.clear()
    return grid, formulas


def workbook_read(content: bytes) -> RawWorkbook:
    """Open .xlsx bytes and copy a bounded grid of each layout sheet (issue 8: the
    other sheets are only named, never read; openpyxl's properties, theme, chartsheets
    and drawings are not loaded either).

    Formula cells give their cached value, except in a workbook that declares its
    cached values stale (``fullCalcOnLoad``): there they read as empty, like a file
    without cached values (the server recomputes every derived value anyway); their
    formula text is in ``formulas`` either way. A hidden or duplicate layout sheet gives
    a RawWorkbook with ``errors`` and no grids (``sheet_errors``).

    Raises WorkbookUnreadable(FILE_TYPE) when openpyxl cannot read it as a workbook and
    (UNSAFE_CONTENT) when the XML parser meets DTDs or entities, or the workbook or its
    strings are not the parts ``safety.precheck`` bounded; never anything else. The
    caller runs the zip pre-checks of ``datasheets.safety`` first.
    """
    if not DEFUSEDXML:  # openpyxl must parse untrusted XML with defusedxml
        raise WorkbookUnreadable(ErrorCode.UNSAFE_CONTENT, "defusedxml unavailable")
    try:
        reader = ExcelReader(io.BytesIO(content), read_only=True, keep_vba=False, data_only=True, keep_links=False)
        try:
            return _workbook_copy(reader)
        finally:
            reader.archive.close()
    except WorkbookUnreadable:
        raise
    except UNSAFE_XML as exc:
        raise WorkbookUnreadable(ErrorCode.UNSAFE_CONTENT, type(exc).__name__) from exc
    except (SoftTimeLimitExceeded, MemoryError):
        raise  # the parse limits (datasheets.limits) must see these
    except Exception as exc:  # hostile input: any failure of openpyxl is "not readable"
        raise WorkbookUnreadable(ErrorCode.FILE_TYPE, f"{type(exc).__name__}: {exc}"[:200]) from exc


def _workbook_copy(reader: ExcelReader) -> RawWorkbook:
    """The steps of openpyxl's ``ExcelReader.read`` that the Datenblatt needs, then the
    layout sheets through ``_CellParser``."""
    reader.read_manifest()
    strings = reader.package.find(SHARED_STRINGS)
    if _find_workbook_part(reader.package).PartName != WORKBOOK_PART or (
        strings is not None and strings.PartName != STRINGS_PART
    ):
        raise WorkbookUnreadable(ErrorCode.UNSAFE_CONTENT, "umgeleitete Teile / redirected parts")
    reader.read_strings()
    reader.read_workbook()
    apply_stylesheet(reader.archive, reader.wb)  # number formats tell dates from numbers
    wb = reader.wb
    sheets = [(sheet, rel) for sheet, rel in reader.parser.find_sheets() if rel.target in reader.valid_files]
    names = tuple(sheet.name for sheet, _rel in sheets)
    template_id = _template_id(reader.parser.defined_names.by_sheet().get("global", {}))
    errors = sheet_errors([(sheet.name, sheet.state) for sheet, _rel in sheets])
    if errors:
        return RawWorkbook(names, {}, template_id, errors=tuple(errors))
    stale = _stale_cache(reader.archive)
    wanted = {normalise_label(name) for name in LAYOUT_SHEETS}
    grids: dict[str, Grid] = {}
    formulas: dict[str, dict[tuple[int, int], str]] = {}
    for sheet, rel in sheets:
        if normalise_label(sheet.name) not in wanted:
            continue  # only counted (safety.MAX_SHEETS), never read
        grid: Grid = {}
        found: dict[tuple[int, int], str] = {}
        if "chartsheet" not in rel.Type:
            with reader.archive.open(rel.target) as source:
                parser = _CellParser(
                    source,
                    reader.shared_strings,
                    data_only=True,
                    epoch=wb.epoch,
                    date_formats=wb._date_formats,
                    timedelta_formats=wb._timedelta_formats,
                )
                grid, found = _sheet_read(source, parser)
        if stale:
            for key in found:
                grid.pop(key, None)
        grids[sheet.name], formulas[sheet.name] = grid, found
    return RawWorkbook(names, grids, template_id, formulas)
