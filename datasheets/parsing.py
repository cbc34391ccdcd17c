"""Workbook bytes -> plain, frozen data; no ORM (STYLE §2).

Two steps, because the layout depends on what the file says it is:
1. ``workbook_read(content)`` (``datasheets.reading``, re-exported here) copies a
   bounded grid of the layout sheets only — values and formula texts — and refuses
   hidden or duplicate layout sheets (issue 8).
2. ``datasheet_parse(raw, layout)`` finds cover labels, Basisdaten rows/columns/blocks
   and Kennzahlen rows by sheet name, label and KeZa code (SPEC §2) and returns cells
   with their addresses. Missing sheets and labels become ``CellError`` structure
   errors; an entered cell holding a formula is recomputed (``formulas``, issue 8);
   values are judged later by ``validation``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from openpyxl.utils import get_column_letter

from .choices import ErrorCode
from .formulas import FormulaUnsupported, SheetFormulas, Value
from .layout import (
    BASE_HEADER_ROW,
    COVER_FIELDS,
    IND_CODE,
    IND_DENOMINATOR,
    IND_HEADERS,
    IND_NUMERATOR,
    MAX_ROWS,
    SHEET_BASE,
    SHEET_COVER,
    SHEET_INDICATORS,
    Layout,
    normalise_code,
    normalise_label,
)
from .messages import CellError, cell_error
from .reading import Grid, RawWorkbook, WorkbookUnreadable, sheet_errors, workbook_read

__all__ = [  # reading's names stay importable from here
    "Grid",
    "ParsedCell",
    "ParsedDatasheet",
    "RawWorkbook",
    "WorkbookUnreadable",
    "cover_parse",
    "datasheet_parse",
    "sheet_errors",
    "workbook_read",
]
FORMULA_TOLERANCE = Fraction(1, 10**9)  # relative: a cached double against the exact result


@dataclass(frozen=True)
class ParsedCell:
    """One cell: sheet name, A1 address and the value as openpyxl read it (int, float,
    str, bool, datetime or None; formulas give their cached value or None). An entered
    cell holding a formula the server could not confirm carries ``formula_error``
    (``formula_unsupported`` / ``formula_mismatch``, issue 8) and counts as no value."""

    sheet: str
    ref: str
    value: object
    formula_error: CellError | None = None

    @property
    def empty(self) -> bool:
        return self.value is None or (isinstance(self.value, str) and not self.value.strip())


@dataclass(frozen=True)
class ParsedDatasheet:
    """What the parser found. Keys follow ``layout``; absent keys were not found."""

    template_id: str | None
    cover: dict[str, ParsedCell]
    base: dict[str, ParsedCell]  # stage cells "row.stage" and block fields
    base_totals: dict[str, ParsedCell]  # "row.Gesamt", "total.<stage>", "total.Gesamt"
    indicators: dict[str, dict[str, ParsedCell]]  # code -> header -> cell
    errors: tuple[CellError, ...] = field(default=())


def _ref(row: int, col: int) -> str:
    return f"{get_column_letter(col)}{row}"


def entered_cell(raw: RawWorkbook, sheet: str, row: int, col: int, sheets: dict[str, SheetFormulas]) -> ParsedCell:
    """A cell the centre types a count into (issue 8). Without a formula: its value.
    With one: recomputed by ``formulas.SheetFormulas`` (``sheets`` keeps one per sheet);
    a cached value equal to the result (within 1e-9 relative) counts as it is, a missing
    one (no cache, or a stale-cache workbook) is replaced by the result (an int, a float
    or an Excel error text), a different one is ``formula_mismatch``; a formula that is
    not plain arithmetic over the sheet is ``formula_unsupported``. Both are located at
    the cell and carried in ``formula_error``."""
    ref = _ref(row, col)
    value = raw.grids[sheet].get((row, col))
    formulas = raw.formulas.get(sheet, {})
    formula = formulas.get((row, col))
    if formula is None:
        return ParsedCell(sheet, ref, value)
    if sheet not in sheets:
        sheets[sheet] = SheetFormulas(sheet, raw.grids[sheet], formulas)
    try:
        computed = sheets[sheet].value(row, col)
    except FormulaUnsupported:
        return ParsedCell(sheet, ref, value, cell_error(sheet, ref, ErrorCode.FORMULA_UNSUPPORTED, formula=formula))
    if value is None:
        return ParsedCell(sheet, ref, _plain(computed))
    if _same(value, computed):
        return ParsedCell(sheet, ref, value)
    problem = cell_error(
        sheet, ref, ErrorCode.FORMULA_MISMATCH, formula=formula, expected=_plain(computed), value=_plain(value)
    )
    return ParsedCell(sheet, ref, value, problem)


def _same(cached: object, computed: Value) -> bool:
    if isinstance(computed, str):
        return cached == computed
    if isinstance(cached, bool) or not isinstance(cached, (int, float)) or not math.isfinite(cached):
        return False
    return abs(Fraction(cached) - computed) <= FORMULA_TOLERANCE * max(1, abs(computed))


def _plain(value: object) -> object:
    """A recomputed Fraction as int (whole) or float; integral floats as int; else as is."""
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else float(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _find_label_rows(grid: Grid, col: int) -> dict[str, int]:
    """normalised label in column ``col`` -> first row where it stands."""
    found: dict[str, int] = {}
    for (r, c), value in sorted(grid.items()):
        if c == col and isinstance(value, str):
            found.setdefault(normalise_label(value), r)
    return found


def _find_header(grid: Grid, labels: tuple[str, ...], must: str) -> tuple[int | None, dict[str, int]]:
    """Find the row holding ``must`` and map each of ``labels`` to its column."""
    wanted = {normalise_label(label): label for label in labels}
    for r in range(1, MAX_ROWS + 1):
        row = {normalise_label(v): c for (rr, c), v in grid.items() if rr == r and isinstance(v, str)}
        if normalise_label(must) in row:
            return r, {wanted[k]: c for k, c in row.items() if k in wanted}
    return None, {}


def cover_parse(raw: RawWorkbook) -> tuple[dict[str, ParsedCell], list[CellError]]:
    """Deckblatt values by key (labels in column A, values in column B)."""
    errors: list[CellError] = []
    name = raw.sheet(SHEET_COVER)
    if name is None:
        return {}, [cell_error(SHEET_COVER, "A1", ErrorCode.SHEET_MISSING, sheet=SHEET_COVER)]
    grid = raw.grids[name]
    rows = _find_label_rows(grid, 1)
    cover: dict[str, ParsedCell] = {}
    for index, (key, label) in enumerate(COVER_FIELDS):
        r = rows.get(normalise_label(label))
        if r is None:
            errors.append(cell_error(name, f"A{3 + index}", ErrorCode.LABEL_MISSING, label=label))
            continue
        cover[key] = ParsedCell(name, _ref(r, 2), grid.get((r, 2)))
    return cover, errors


def datasheet_parse(raw: RawWorkbook, layout: Layout) -> ParsedDatasheet:
    """Locate every cell of ``layout`` in ``raw``; structure problems become errors."""
    cover, errors = cover_parse(raw)
    sheets: dict[str, SheetFormulas] = {}
    base, base_totals = _base_parse(raw, layout, errors, sheets)
    indicators = _indicators_parse(raw, layout, errors, sheets)
    return ParsedDatasheet(raw.template_id, cover, base, base_totals, indicators, tuple(errors))


def _base_parse(raw: RawWorkbook, layout: Layout, errors: list[CellError], sheets: dict[str, SheetFormulas]):
    base: dict[str, ParsedCell] = {}
    totals: dict[str, ParsedCell] = {}
    name = raw.sheet(SHEET_BASE)
    if name is None:
        errors.append(cell_error(SHEET_BASE, "A1", ErrorCode.SHEET_MISSING, sheet=SHEET_BASE))
        return base, totals
    grid = raw.grids[name]
    header_labels = (*layout.stage_columns, layout.total_column)
    header_row, columns = _find_header(grid, header_labels, layout.stage_columns[0])
    if header_row is None:
        errors.append(
            cell_error(name, _ref(BASE_HEADER_ROW, 2), ErrorCode.LABEL_MISSING, label=layout.stage_columns[0])
        )
        return base, totals
    for label in header_labels:
        if label not in columns:
            errors.append(
                cell_error(name, _ref(header_row, 2 + header_labels.index(label)), ErrorCode.LABEL_MISSING, label=label)
            )
    rows = _find_label_rows(grid, 1)
    for row in (*layout.rows, layout.total_row):
        r = rows.get(normalise_label(row.label_de))
        if r is None:
            errors.append(
                cell_error(name, f"A{layout.base_row_number(row.key)}", ErrorCode.LABEL_MISSING, label=row.label_de)
            )
            continue
        for stage in layout.stage_columns:
            c = columns.get(stage)
            if c is None:
                continue
            if row.key == layout.total_row.key:
                totals[f"total.{stage}"] = ParsedCell(name, _ref(r, c), grid.get((r, c)))
            else:
                base[f"{row.key}.{stage}"] = entered_cell(raw, name, r, c, sheets)
        c = columns.get(layout.total_column)
        if c is not None:
            totals[f"{row.key}.{layout.total_column}"] = ParsedCell(name, _ref(r, c), grid.get((r, c)))
    for f in layout.block_fields:
        r = rows.get(normalise_label(f.label_de))
        if r is None:
            errors.append(
                cell_error(name, f"A{layout.field_cell(f.key)[1:]}", ErrorCode.LABEL_MISSING, label=f.label_de)
            )
            continue
        base[f.key] = entered_cell(raw, name, r, 2, sheets)
    return base, totals


def _indicators_parse(raw: RawWorkbook, layout: Layout, errors: list[CellError], sheets: dict[str, SheetFormulas]):
    result: dict[str, dict[str, ParsedCell]] = {}
    name = raw.sheet(SHEET_INDICATORS)
    if name is None:
        errors.append(cell_error(SHEET_INDICATORS, "A1", ErrorCode.SHEET_MISSING, sheet=SHEET_INDICATORS))
        return result
    grid = raw.grids[name]
    header_row, columns = _find_header(grid, IND_HEADERS, IND_CODE)
    if header_row is None:
        errors.append(cell_error(name, "A3", ErrorCode.LABEL_MISSING, label=IND_CODE))
        return result
    for label in IND_HEADERS:
        if label not in columns:
            errors.append(
                cell_error(name, _ref(header_row, 1 + IND_HEADERS.index(label)), ErrorCode.LABEL_MISSING, label=label)
            )
    code_col = columns[IND_CODE]
    rows: dict[str, int] = {}
    for (r, c), value in sorted(grid.items()):
        if c == code_col and r > header_row:
            rows.setdefault(normalise_code(value), r)
    for ind in layout.indicators:
        r = rows.get(normalise_code(ind.code))
        if r is None:
            errors.append(
                cell_error(
                    name,
                    _ref(layout.indicator_row_number(ind.code), code_col),
                    ErrorCode.LABEL_MISSING,
                    label=f"KeZa {ind.code}",
                )
            )
            continue
        entered = {IND_NUMERATOR} if ind.numerator_entered else set()
        if ind.denominator_entered:
            entered.add(IND_DENOMINATOR)
        result[ind.code] = {
            label: entered_cell(raw, name, r, c, sheets)
            if label in entered
            else ParsedCell(name, _ref(r, c), grid.get((r, c)))
            for label, c in columns.items()
        }
    return result
