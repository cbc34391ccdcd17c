"""Parsed Datenblatt -> located, coded errors and warnings, all at once (SPEC §3).

Pure functions over ``parsing`` results and a ``Layout``; the database facts they need
(known sites, which year uses which catalogue version) come in as plain arguments.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from indicators import domain

from .choices import ErrorCode
from .layout import (
    IND_DENOMINATOR,
    IND_JUSTIFICATION,
    IND_NUMERATOR,
    IND_RATE,
    MAX_COUNT,
    MAX_TEXT,
    SHEET_BASE,
    SHEET_COVER,
    SHEET_INDICATORS,
    Layout,
    normalise_label,
)
from .messages import CellError, cell_error
from .parsing import ParsedCell, ParsedDatasheet

INTEGER_TEXT = re.compile(r"\s*[0-9]{1,15}\s*")
NEGATIVE_TEXT = re.compile(r"\s*-[0-9]{1,15}\s*")
TEMPLATE_ID = re.compile(r"KHT/(?P<version>[^/]{1,40})/(?P<revision>[0-9]{1,6})")
RATE_TOLERANCE = Fraction(1, 2000)  # a cached Quote may be rounded to 0.1 %

FLAG_LABELS_DE = {
    domain.Flag.NOT_EVALUABLE: "nicht bewertbar",
    domain.Flag.TARGET_NOT_MET: "Sollvorgabe nicht erfüllt",
    domain.Flag.IMPLAUSIBLE_LOW: "Plausibilität unklar (niedrig)",
    domain.Flag.IMPLAUSIBLE_HIGH: "Plausibilität unklar (hoch)",
}


@dataclass
class Problems:
    """Collects errors and warnings while validating."""

    errors: list[CellError] = field(default_factory=list)
    warnings: list[CellError] = field(default_factory=list)

    def add(self, problem: CellError | None) -> None:
        if problem is not None:
            (self.warnings if problem.is_warning else self.errors).append(problem)


def count_value(cell: ParsedCell, problems: Problems, *, required: bool) -> int | None:
    """The integer in a count cell, or None (empty or invalid; the problem is recorded).

    Accepts int and integral float (``12.0``); text that is an unambiguous integer
    (``" 12 "``) with a ``number_as_text`` warning. Rejects booleans, dates, decimals,
    ``"12,5"``, ``"1.200"``, error values (``#DIV/0!``): ``not_integer``; below 0:
    ``negative``; above 1,000,000: ``too_large``; empty and required: ``required``.
    """
    value = cell.value
    if cell.empty:
        if required:
            problems.add(cell_error(cell.sheet, cell.ref, ErrorCode.REQUIRED))
        return None
    number: int | None = None
    if isinstance(value, bool) or isinstance(value, (dt.date, dt.datetime, dt.time, dt.timedelta)):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = int(value) if value.is_integer() else None
    elif isinstance(value, str) and INTEGER_TEXT.fullmatch(value):
        number = int(value.strip())
        problems.add(cell_error(cell.sheet, cell.ref, ErrorCode.NUMBER_AS_TEXT, value=value, number=number))
    elif isinstance(value, str) and NEGATIVE_TEXT.fullmatch(value):
        number = int(value.strip())
    if number is None:
        problems.add(cell_error(cell.sheet, cell.ref, ErrorCode.NOT_INTEGER, value=value))
        return None
    if number < 0:
        problems.add(cell_error(cell.sheet, cell.ref, ErrorCode.NEGATIVE, value=number))
        return None
    if number > MAX_COUNT:
        problems.add(cell_error(cell.sheet, cell.ref, ErrorCode.TOO_LARGE, value=number))
        return None
    return number


def entered_count(cell: ParsedCell, problems: Problems, *, required: bool) -> int | None:
    """``count_value`` of a cell the centre types into; one whose formula the server
    could not confirm (``ParsedCell.formula_error``: ``formula_unsupported`` or
    ``formula_mismatch``, issue 8) records that error alone and gives None."""
    if cell.formula_error is not None:
        problems.add(cell.formula_error)
        return None
    return count_value(cell, problems, required=required)


def _cached_number(cell: ParsedCell | None) -> int | float | None:
    """A number typed or cached in a derived cell; None if empty (e.g. openpyxl files)."""
    if cell is None or cell.empty or isinstance(cell.value, bool):
        return None
    if isinstance(cell.value, (int, float)):
        return cell.value
    return None


def _check_derived(cell: ParsedCell | None, expected: int, problems: Problems, error_code: ErrorCode, **params) -> None:
    """A derived cell may be empty (no cached value) or hold the server's value."""
    value = _cached_number(cell)
    if cell is not None and value is not None and value != expected:
        problems.add(cell_error(cell.sheet, cell.ref, error_code, value=_num(value), expected=expected, **params))
    elif cell is not None and value is None and not cell.empty:
        problems.add(cell_error(cell.sheet, cell.ref, ErrorCode.NOT_INTEGER, value=cell.value))


def _num(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    return str(int(value)) if math.isfinite(value) and value.is_integer() else str(value)


def _check_rate(cell: ParsedCell | None, numerator: int, denominator: int, problems: Problems) -> None:
    """``Quote`` is display only; a number there that is not numerator / denominator
    (an overwritten formula) is a ``cached_value_mismatch`` warning (SPEC §2)."""
    value = _cached_number(cell)
    if cell is None or value is None or denominator <= 0 or not math.isfinite(value):
        return
    exact = Fraction(numerator, denominator)
    if abs(Fraction(value) - exact) > RATE_TOLERANCE:
        problems.add(
            cell_error(
                cell.sheet, cell.ref, ErrorCode.CACHED_VALUE_MISMATCH, value=_percent(value), expected=_percent(exact)
            )
        )


def _percent(value: int | float | Fraction) -> str:
    return f"{float(value) * 100:.1f} %"


@dataclass(frozen=True)
class CoverFacts:
    """What the Deckblatt says, once checked: registration number, Kennzahlenjahr and
    the catalogue version id of the template (None where unusable)."""

    registration_number: str | None
    indicator_year: int | None
    version_id: str | None


def cover_validate(
    cover: dict[str, ParsedCell],
    template_id: str | None,
    problems: Problems,
    *,
    known_templates: dict[str, int],
    version_for_year: Callable[[int], str | None],
    site_access: Callable[[str], tuple[str, dict[str, object]] | None],
    expected_year: int | None = None,
    today: dt.date | None = None,
) -> CoverFacts:
    """Check the Deckblatt and the template identity (SPEC §2, §3 structure codes).

    known_templates: catalogue version id -> layout revision.
    version_for_year: Kennzahlenjahr -> catalogue version id in force (None: unknown).
    site_access: Reg.-Nr. -> None if allowed, else (error code, extra message
    parameters), the code ``"site_unknown"``, ``"site_forbidden"`` or
    ``"site_mismatch"`` (which names the chosen site: ``{"chosen": "KHT-1014"}``).
    expected_year: a year the caller insists on (CLI ``--year``).
    """
    today = today or dt.date.today()
    version_id: str | None = None
    label_cell = cover.get("catalogue_version")
    version_text = str(label_cell.value).strip() if label_cell and not label_cell.empty else None
    if template_id:
        match = TEMPLATE_ID.fullmatch(template_id.strip())
        if match and known_templates.get(match["version"]) == int(match["revision"]):
            version_id = match["version"]
        else:
            problems.add(cell_error(SHEET_COVER, "A1", ErrorCode.TEMPLATE_UNKNOWN, template=template_id))
    elif version_text in known_templates:
        version_id = version_text  # re-saved by a tool that dropped defined names
    else:
        ref = label_cell.ref if label_cell else "A1"
        problems.add(cell_error(SHEET_COVER, ref, ErrorCode.TEMPLATE_UNKNOWN, template=version_text or "—"))

    registration_number = None
    reg = cover.get("registration_number")
    if reg is not None:
        if reg.empty:
            problems.add(cell_error(reg.sheet, reg.ref, ErrorCode.REQUIRED))
        else:
            value = reg.value
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            registration_number = str(value).strip()
            denied = site_access(registration_number)
            if denied:
                code, params = denied
                problems.add(cell_error(reg.sheet, reg.ref, ErrorCode(code), value=registration_number, **params))
                registration_number = None if code == ErrorCode.SITE_UNKNOWN else registration_number

    indicator_year = None
    year_cell = cover.get("indicator_year")
    if year_cell is not None:
        sub = Problems()
        year = count_value(year_cell, sub, required=True)
        if sub.errors:
            problems.errors.extend(sub.errors)
        elif year is not None:
            detail = None
            if version_for_year(year) is None:
                detail = (
                    "für dieses Jahr ist kein Kennzahlenkatalog hinterlegt.",
                    "no catalogue is in force for this year.",
                )
            elif year >= today.year:
                detail = (
                    "Daten eines laufenden oder künftigen Jahres können nicht eingereicht werden.",
                    "data of a current or future year cannot be submitted.",
                )
            elif expected_year is not None and year != expected_year:
                detail = (f"erwartet wurde {expected_year}.", f"{expected_year} was expected.")
            if detail:
                problems.add(
                    cell_error(
                        year_cell.sheet,
                        year_cell.ref,
                        ErrorCode.YEAR_MISMATCH,
                        value=year,
                        detail_de=detail[0],
                        detail_en=detail[1],
                    )
                )
            else:
                indicator_year = year
        audit_cell = cover.get("audit_year")
        if indicator_year is not None and audit_cell is not None and not audit_cell.empty:
            sub = Problems()
            audit_year = count_value(audit_cell, sub, required=False)
            problems.errors.extend(sub.errors)
            if audit_year is not None and audit_year != indicator_year + 1:
                problems.add(
                    cell_error(
                        audit_cell.sheet,
                        audit_cell.ref,
                        ErrorCode.YEAR_MISMATCH,
                        value=indicator_year,
                        detail_de=f"Auditjahr {audit_year} passt nicht (erwartet {indicator_year + 1}).",
                        detail_en=f"audit year {audit_year} does not fit (expected {indicator_year + 1}).",
                    )
                )
    if version_id and indicator_year is not None:
        expected = version_for_year(indicator_year)
        if expected != version_id:
            problems.add(
                cell_error(
                    SHEET_COVER,
                    label_cell.ref if label_cell else "A1",
                    ErrorCode.CATALOGUE_MISMATCH,
                    found=version_id,
                    expected=expected,
                    year=indicator_year,
                )
            )
            version_id = None
    return CoverFacts(registration_number, indicator_year, version_id)


@dataclass(frozen=True)
class IndicatorEntry:
    """One validated Kennzahlen row: counts (denominator None for count indicators),
    Begründung text and the flags of ``indicators.domain.evaluate``."""

    code: str
    numerator: int
    denominator: int | None
    justification: str
    flags: tuple[str, ...]


@dataclass(frozen=True)
class ValuesResult:
    """Validated values: Basisdaten counts by key, indicator entries by KeZa code."""

    base: dict[str, int | None]
    indicators: dict[str, IndicatorEntry]


def values_validate(parsed: ParsedDatasheet, layout: Layout, problems: Problems) -> ValuesResult:
    """Value rules of SPEC §3 for Basisdaten and Kennzahlen; derived values recomputed
    from the entered cells (cached formula values are never trusted)."""
    base: dict[str, int | None] = {}
    required_fields = {f.key for f in layout.block_fields if f.required}
    for key in layout.stage_cell_keys:
        cell = parsed.base.get(key)
        # An empty stage cell means no case (0); the row sums are recomputed.
        base[key] = entered_count(cell, problems, required=False) if cell else None
    for f in layout.block_fields:
        cell = parsed.base.get(f.key)
        base[f.key] = entered_count(cell, problems, required=f.key in required_fields) if cell else None
    # Counts typed as text are accepted (with a warning) but a spreadsheet's SUM skips
    # them, so cached results built on them are not compared (the server's count holds).
    text_keys = {k for k, c in parsed.base.items() if isinstance(c.value, str) and base.get(k) is not None}

    def cached_comparable(keys) -> bool:
        return not text_keys.intersection(keys or ())

    base_sheet = normalise_label(SHEET_BASE)  # the file's sheet may be re-cased
    base_ok = not any(normalise_label(e.sheet) == base_sheet for e in (*parsed.errors, *problems.errors))
    primary = layout.primary_cases(base)
    if base_ok:
        for row in layout.rows:
            keys = layout.stage_keys(row.key)
            if cached_comparable(keys):
                expected = sum(base.get(k) or 0 for k in keys)
                _check_derived(
                    parsed.base_totals.get(f"{row.key}.{layout.total_column}"),
                    expected,
                    problems,
                    ErrorCode.TOTAL_MISMATCH,
                )
        for stage in layout.stage_columns:
            keys = [f"{row.key}.{stage}" for row in layout.rows]
            if cached_comparable(keys):
                expected = sum(base.get(k) or 0 for k in keys)
                _check_derived(parsed.base_totals.get(f"total.{stage}"), expected, problems, ErrorCode.TOTAL_MISMATCH)
        if cached_comparable(layout.stage_cell_keys):
            _check_derived(
                parsed.base_totals.get(f"total.{layout.total_column}"), primary, problems, ErrorCode.TOTAL_MISMATCH
            )
        for check in layout.checks:
            parts = [base.get(k) for k in check.parts]
            if any(p is None for p in parts):
                continue
            total = primary if check.total == "primary_cases" else base.get(check.total) or 0
            if sum(parts) != total:
                first = parsed.base.get(check.parts[0])
                sheet, ref = (first.sheet, first.ref) if first else (SHEET_BASE, layout.field_cell(check.parts[0]))
                problems.add(cell_error(sheet, ref, ErrorCode(check.code), value=sum(parts), expected=total))

    indicators: dict[str, IndicatorEntry] = {}
    for ind in layout.indicators:
        cells = parsed.indicators.get(ind.code)
        if cells is None:
            continue
        num_cell = cells.get(IND_NUMERATOR)
        den_cell = cells.get(IND_DENOMINATOR)

        def count_of(cell: ParsedCell | None, source: tuple[str, ...] | None, code: str = ind.code) -> int | None:
            """An entered count (None if missing/invalid) or the server's derivation,
            compared with a number the file shows in the derived cell."""
            if source is None:
                return entered_count(cell, problems, required=True) if cell else None
            derived = layout.derive(source, base)
            if base_ok and cached_comparable(source):
                _check_derived(cell, derived, problems, ErrorCode.DENOMINATOR_MISMATCH, code=code)
            return derived

        numerator = count_of(num_cell, ind.numerator_source)
        ok = numerator is not None
        denominator: int | None = None
        if not ind.is_count:
            denominator = count_of(den_cell, ind.denominator_source)
            ok &= denominator is not None
        just_cell = cells.get(IND_JUSTIFICATION)
        justification = ""
        if just_cell is not None and not just_cell.empty:
            justification = str(just_cell.value).strip()
            if len(justification) > MAX_TEXT:
                problems.add(
                    cell_error(
                        just_cell.sheet,
                        just_cell.ref,
                        ErrorCode.TEXT_TOO_LONG,
                        length=len(justification),
                        limit=MAX_TEXT,
                    )
                )
                ok = False
        # Values derived from a Basisdaten sheet with errors are not judged further.
        derived_used = not ind.numerator_entered or (not ind.is_count and not ind.denominator_entered)
        if not ok or numerator is None or (derived_used and not base_ok):
            continue
        if not ind.is_count and denominator is not None and numerator > denominator and not ind.counts_events:
            where = num_cell if num_cell is not None and ind.numerator_entered else den_cell or num_cell
            sheet, ref = (
                (where.sheet, where.ref)
                if where is not None
                else (SHEET_INDICATORS, layout.indicator_cell(ind.code, IND_NUMERATOR))
            )
            problems.add(
                cell_error(
                    sheet,
                    ref,
                    ErrorCode.NUMERATOR_GT_DENOMINATOR,
                    code=ind.code,
                    numerator=numerator,
                    denominator=denominator,
                )
            )
            continue
        if (
            not ind.is_count
            and denominator is not None
            and cached_comparable(ind.numerator_source)
            and cached_comparable(ind.denominator_source)
        ):
            _check_rate(cells.get(IND_RATE), numerator, denominator, problems)
        flags = tuple(str(f) for f in domain.evaluate(numerator, denominator, ind.rule))
        if flags and not justification and just_cell is not None:
            labels = ", ".join(FLAG_LABELS_DE[domain.Flag(f)] for f in flags)
            problems.add(
                cell_error(just_cell.sheet, just_cell.ref, ErrorCode.JUSTIFICATION_MISSING, code=ind.code, flags=labels)
            )
        indicators[ind.code] = IndicatorEntry(ind.code, numerator, denominator, justification, flags)
    return ValuesResult(base, indicators)
