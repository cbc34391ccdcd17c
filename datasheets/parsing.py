"""Workbook bytes -> plain, frozen data; no ORM (STYLE §2).

Two steps, because the layout depends on what the file says it is:
1. ``workbook_read(content)`` opens the .xlsx read-only (openpyxl with defusedxml,
   cached values only, links not kept) and copies a bounded grid of every sheet
   (``layout.MAX_ROWS`` × ``layout.MAX_COLS``), the sheet names and ``QIP_TEMPLATE``.
2. ``datasheet_parse(raw, layout)`` finds cover labels, Basisdaten rows/columns/blocks
   and Kennzahlen rows by sheet name, label and KeZa code (SPEC §2) and returns cells
   with their addresses. Missing sheets and labels become ``CellError`` structure
   errors; values are judged later by ``validation``.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden, NotSupportedError
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.xml import DEFUSEDXML

from .choices import ErrorCode
from .layout import (
    BASE_HEADER_ROW,
    COVER_FIELDS,
    IND_CODE,
    IND_HEADERS,
    MAX_COLS,
    MAX_ROWS,
    SHEET_BASE,
    SHEET_COVER,
    SHEET_INDICATORS,
    TEMPLATE_NAME,
    Layout,
    normalise_code,
    normalise_label,
)
from .messages import CellError, cell_error

Grid = dict[tuple[int, int], object]


@dataclass(frozen=True)
class ParsedCell:
    """One cell: sheet name, A1 address and the value as openpyxl read it (int, float,
    str, bool, datetime or None; formulas give their cached value or None)."""

    sheet: str
    ref: str
    value: object

    @property
    def empty(self) -> bool:
        return self.value is None or (isinstance(self.value, str) and not self.value.strip())


@dataclass(frozen=True)
class RawWorkbook:
    """Bounded copy of a workbook: ``grids[sheet][(row, col)] = value`` (1-based)."""

    sheet_names: tuple[str, ...]
    grids: dict[str, Grid]
    template_id: str | None

    def sheet(self, name: str) -> str | None:
        """The actual sheet name matching ``name`` after trimming and case-folding."""
        wanted = normalise_label(name)
        for actual in self.sheet_names:
            if normalise_label(actual) == wanted:
                return actual
        return None


@dataclass(frozen=True)
class ParsedDatasheet:
    """What the parser found. Keys follow ``layout``; absent keys were not found."""

    template_id: str | None
    cover: dict[str, ParsedCell]
    base: dict[str, ParsedCell]  # stage cells "row.stage" and block fields
    base_totals: dict[str, ParsedCell]  # "row.Gesamt", "total.<stage>", "total.Gesamt"
    indicators: dict[str, dict[str, ParsedCell]]  # code -> header -> cell
    errors: tuple[CellError, ...] = field(default=())


class WorkbookUnreadable(Exception):
    """openpyxl could not read the file as a workbook; ``code`` says how to report it."""

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail


def _template_id(wb) -> str | None:
    try:
        defined = wb.defined_names.get(TEMPLATE_NAME)
    except AttributeError:  # pragma: no cover - older openpyxl API
        defined = None
    if defined is None:
        return None
    text = str(defined.attr_text or "").strip()[:200]
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text or None


FULL_CALC_ON_LOAD = re.compile(rb'<(?:[A-Za-z_][\w.-]{0,20}:)?calcPr\s[^>]{0,2000}?\bfullCalcOnLoad="(?:1|true)"')
UNSAFE_XML = (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden, NotSupportedError)


def _stale_cache(content: bytes) -> bool:
    """True if the workbook asks to recalculate everything on load (``fullCalcOnLoad``,
    as xlsxwriter writes it): its cached formula results are placeholders (0)."""
    with zipfile.ZipFile(io.BytesIO(content)) as zf, zf.open("xl/workbook.xml") as handle:
        head = handle.read(4 * 1024 * 1024)
    return FULL_CALC_ON_LOAD.search(head) is not None


def _grid(ws, *, formulas: bool = False) -> Grid:
    """The bounded grid of one sheet: values, or (``formulas``) True where a formula is."""
    grid: Grid = {}
    rows = ws.iter_rows(min_row=1, max_row=MAX_ROWS, min_col=1, max_col=MAX_COLS, values_only=not formulas)
    for r, row in enumerate(rows, start=1):
        for c, cell in enumerate(row, start=1):
            if formulas:
                if getattr(cell, "data_type", None) == "f":
                    grid[(r, c)] = True
            elif cell is not None:
                grid[(r, c)] = cell
    return grid


def _load(content: bytes, *, data_only: bool):
    return load_workbook(io.BytesIO(content), read_only=True, data_only=data_only, keep_links=False, keep_vba=False)


def workbook_read(content: bytes) -> RawWorkbook:
    """Open .xlsx bytes and copy a bounded grid of each sheet.

    Formula cells give their cached value, except in a workbook that declares its
    cached values stale (``fullCalcOnLoad``): there they read as empty, like a file
    without cached values (the server recomputes every derived value anyway).

    Raises WorkbookUnreadable(FILE_TYPE) when openpyxl cannot read it as a workbook and
    (UNSAFE_CONTENT) when the XML parser meets DTDs or entities; never anything else.
    The caller runs the zip pre-checks of ``datasheets.safety`` first.
    """
    if not DEFUSEDXML:  # openpyxl must parse untrusted XML with defusedxml
        raise WorkbookUnreadable(ErrorCode.UNSAFE_CONTENT, "defusedxml unavailable")
    try:
        wb = _load(content, data_only=True)
        try:
            grids = {ws.title: _grid(ws) for ws in wb.worksheets}
            sheet_names, template_id = tuple(wb.sheetnames), _template_id(wb)
        finally:
            wb.close()
        if _stale_cache(content):
            wb = _load(content, data_only=False)
            try:
                for ws in wb.worksheets:
                    grid = grids.get(ws.title, {})
                    for key in _grid(ws, formulas=True):
                        grid.pop(key, None)
            finally:
                wb.close()
    except UNSAFE_XML as exc:
        raise WorkbookUnreadable(ErrorCode.UNSAFE_CONTENT, type(exc).__name__) from exc
    except (SoftTimeLimitExceeded, MemoryError):
        raise  # the worker's parse limits (services.revision_validate) must see these
    except Exception as exc:  # hostile input: any failure of openpyxl is "not readable"
        raise WorkbookUnreadable(ErrorCode.FILE_TYPE, f"{type(exc).__name__}: {exc}"[:200]) from exc
    return RawWorkbook(sheet_names, grids, template_id)


def _ref(row: int, col: int) -> str:
    return f"{get_column_letter(col)}{row}"


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
    base, base_totals = _base_parse(raw, layout, errors)
    indicators = _indicators_parse(raw, layout, errors)
    return ParsedDatasheet(raw.template_id, cover, base, base_totals, indicators, tuple(errors))


def _base_parse(raw: RawWorkbook, layout: Layout, errors: list[CellError]):
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
            cell = ParsedCell(name, _ref(r, c), grid.get((r, c)))
            if row.key == layout.total_row.key:
                totals[f"total.{stage}"] = cell
            else:
                base[f"{row.key}.{stage}"] = cell
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
        base[f.key] = ParsedCell(name, _ref(r, 2), grid.get((r, 2)))
    return base, totals


def _indicators_parse(raw: RawWorkbook, layout: Layout, errors: list[CellError]):
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
        result[ind.code] = {label: ParsedCell(name, _ref(r, c), grid.get((r, c))) for label, c in columns.items()}
    return result
