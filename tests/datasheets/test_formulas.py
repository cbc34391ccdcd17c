"""Formulas in entered cells (issue 8): plain arithmetic over the same sheet is
recomputed (datasheets.formulas) and confirms the cached value, replaces a missing or
stale one, or is ``formula_mismatch``; anything else is ``formula_unsupported``; the
template's own total cells are compared as before. Expected values are hand
calculations in the comments."""

from __future__ import annotations

import io
import zipfile
from fractions import Fraction

import pytest

from datasheets.formulas import MAX_VISITS, FormulaUnsupported, SheetFormulas, number
from datasheets.layout import IND_DENOMINATOR, IND_NUMERATOR, layout_for
from datasheets.services import datasheet_check, datasheet_template_build
from indicators.models import CatalogueVersion
from tests.datasheets.helpers import cached_fresh, cell_formula, consistent_values, zip_replace

PARTS = {"Basisdaten": "xl/worksheets/sheet2.xml", "Kennzahlen": "xl/worksheets/sheet3.xml"}

# -- the evaluator -------------------------------------------------------------------------

GRID = {(4, 2): 3, (4, 3): 4.0, (4, 4): 0.5, (5, 2): "x", (6, 2): True, (7, 2): "12"}


def _value(formula: str, grid=None, formulas=None, sheet="Basisdaten"):
    return SheetFormulas(sheet, GRID if grid is None else grid, {(1, 1): formula, **(formulas or {})}).value(1, 1)


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("=1+2*3", 7),  # * before +
        ("=(1+2)*3", 9),
        ("=10/4", Fraction(5, 2)),
        ("=10/3*3", 10),  # exact, not 9.999…
        ("=-B4+ +2", -1),  # -3 + 2
        ("=--B4", 3),
        ("=B4+C4+D4", Fraction(15, 2)),  # 3 + 4.0 + 0.5
        ("=$B$4*b4", 9),  # absolute and lower-case references
        ("=B9+1", 1),  # an empty cell counts 0
        ("=Basisdaten!B4+'Basisdaten'!C4", 7),  # this sheet, named
        ("=SUM(B4:D4)", Fraction(15, 2)),
        ("=SUM(D4:B4, 2, B4*2)", Fraction(31, 2)),  # 7.5 + 2 + 6, an area given backwards
        ("=sum( B4 , 1 )", 4),  # white space, lower-case function
        ("=SUM(B8:C9)", 0),
        ("=1.5E1+.5", Fraction(31, 2)),
        ("=B4/0", "#DIV/0!"),
        ("=1+B4/(C4-4)*2", "#DIV/0!"),  # an error propagates
        ("=A2", 17),  # A2 = A3 * 2 + 1 = 8 * 2 + 1, A3 = B4 + 5 = 8
        ("=SUM(A2:A3)", 25),  # an area over formula cells: 17 + 8
    ],
)
def test_plain_arithmetic_is_recomputed(formula, expected):
    formulas = {(2, 1): "=A3*2+1", (3, 1): "=B4+5"}
    assert _value(formula, formulas=formulas) == expected


@pytest.mark.parametrize(
    "formula",
    [
        "=MAX(B4)",  # another function
        "=Kennzahlen!B4",  # another sheet
        "=[1]Basisdaten!B4",  # another workbook
        "=Anzahl+1",  # a defined name
        "=B:B",  # a whole column
        "=B4:C4",  # an area outside SUM
        "=B5+1",  # text
        "=B7+1",  # a number typed as text
        "=B6+1",  # a logical value
        '="3"+1',
        "=TRUE+1",
        "=B4^2",
        "=B4%",
        "=B4&1",
        "=B4=3",
        "=B4 C4",  # intersection
        "={1,2}",
        "=#REF!+1",
        "=B301",  # outside the grid that was read
        "=AE4",
        "=SUM(B4:B301)",
        "=",
        "B4",  # not a formula
        "=(1+2",
        "=1+",
        "=SUM(B4",
        "=" + "1+" * 5000 + "1",  # longer than Excel allows
    ],
)
def test_anything_else_is_unsupported(formula):
    with pytest.raises(FormulaUnsupported):
        _value(formula)


@pytest.mark.parametrize(
    ("formula", "message"),
    [("=SUM(1;2)", "„;“"), ("=SUM(B4:C4;2)", "Bereich / range B4:C4"), ("=SUM((1)SUM(2))", "„SUM(“")],
)
def test_only_a_comma_separates_arguments(formula, message):
    """In the file ";" separates the rows of an array constant; arguments are
    separated by "," (Excel shows ";" in a German UI but writes ",")."""
    with pytest.raises(FormulaUnsupported) as info:
        _value(formula)
    assert str(info.value) == message


def test_cycles_and_depth_are_bounded():
    with pytest.raises(FormulaUnsupported, match="circular"):
        _value("=A2", formulas={(2, 1): "=A3+1", (3, 1): "=A2"})
    with pytest.raises(FormulaUnsupported, match="circular"):
        _value("=A1+1")
    # A1 = A2 is the entered cell; A2 = A3 + 1, …: A2 … A9 are MAX_DEPTH (8) referenced
    # formulas, A9 = 5 gives A2 = 5 + 7; one level more (A9 = A10 + 1, A10 = 5) is refused
    chain = {(r, 1): f"=A{r + 1}+1" for r in range(2, 9)}
    assert _value("=A2", formulas={**chain, (9, 1): "=5"}) == 12
    with pytest.raises(FormulaUnsupported, match="nested too deeply"):
        _value("=A2", formulas={**chain, (9, 1): "=A10+1", (10, 1): "=5"})
    with pytest.raises(FormulaUnsupported, match="nested too deeply"):
        _value("=" + "(" * 65 + "1" + ")" * 65)
    assert _value("=" + "(" * 64 + "1" + ")" * 64) == 1  # MAX_NESTING
    assert _value("=" + "-" * 64 + "1") == 1
    with pytest.raises(FormulaUnsupported, match="nested too deeply"):
        _value("=" + "-" * 65 + "1")


def test_a_cell_too_deep_from_one_start_is_recomputed_from_a_nearer_one():
    chain = {(r, 1): f"=A{r + 1}+1" for r in range(2, 13)}
    chain[(13, 1)] = "=0"
    formulas = SheetFormulas("X", {}, {(1, 1): "=A2", **chain})
    with pytest.raises(FormulaUnsupported):
        formulas.value(1, 1)
    assert formulas.value(5, 1) == 8  # A5 = A13 + 8: eight levels below A5


def test_the_cells_read_per_sheet_are_bounded():
    area = "SUM(A1:AD300)"  # 300 x 30 = 9,000 empty cells
    assert MAX_VISITS == 100_000
    assert SheetFormulas("X", {}, {(1, 40): "=" + "+".join([area] * 11)}).value(1, 40) == 0  # 99,000 cells
    with pytest.raises(FormulaUnsupported, match="too many cells"):
        SheetFormulas("X", {}, {(1, 40): "=" + "+".join([area] * 12)}).value(1, 40)  # 108,000


def test_an_area_past_the_grid_is_refused_before_any_cell_is_read():
    for formula in ("=SUM(B4:AE4)", "=SUM(A1:XFD1048576)"):  # the second would be 17 billion cells
        formulas = SheetFormulas("X", {}, {(1, 40): formula})
        with pytest.raises(FormulaUnsupported, match="outside the cells read"):
            formulas.value(1, 40)
        assert formulas.visits == 0


def test_constants_in_arithmetic():
    assert number(None) == 0 and number(7) == 7 and number(0.25) == Fraction(1, 4)
    for bad in (True, "7", float("inf"), float("nan")):
        with pytest.raises(FormulaUnsupported):
            number(bad)


# -- entered cells of a data sheet ----------------------------------------------------------


@pytest.fixture
def kj2022(catalogue):
    return layout_for(CatalogueVersion.objects.get(pk="KJ2022"))


@pytest.fixture
def filled(kj2022, site_a):
    return datasheet_template_build(site=site_a, indicator_year=2022, values=consistent_values(kj2022))[1]


def _with(content: bytes, sheet: str, ref: str, formula: str, cached=None, *, fresh: bool = True) -> bytes:
    xml = zipfile.ZipFile(io.BytesIO(content)).read(PARTS[sheet])
    content = zip_replace(content, {PARTS[sheet]: cell_formula(xml, ref, formula, cached)})
    return cached_fresh(content) if fresh else content


def _entered_both(layout):
    """The first indicator whose numerator and denominator are both entered (KJ2022: 20 and 16)."""
    return next(i for i in layout.indicators if i.numerator_entered and i.denominator_entered)


def _check(content, user):
    errors, warnings, facts = datasheet_check(content=content, acting_user=user)
    return sorted((e.sheet, e.cell, str(e.code)) for e in errors), facts


@pytest.mark.django_db
def test_a_confirmed_formula_counts_with_its_cached_value(kj2022, filled, coordinator):
    ind = _entered_both(kj2022)
    num, den = kj2022.indicator_cell(ind.code, IND_NUMERATOR), kj2022.indicator_cell(ind.code, IND_DENOMINATOR)
    content = _with(filled, "Kennzahlen", num, f"{den}*4/5", 16)  # 20 * 4 / 5 = 16
    errors, facts = _check(content, coordinator)
    assert errors == []
    assert facts["values"].indicators[ind.code].numerator == 16


@pytest.mark.django_db
def test_a_formula_whose_cache_differs_is_refused_at_its_cell(kj2022, filled, coordinator):
    ind = _entered_both(kj2022)
    num, den = kj2022.indicator_cell(ind.code, IND_NUMERATOR), kj2022.indicator_cell(ind.code, IND_DENOMINATOR)
    content = _with(filled, "Kennzahlen", num, f"{den}-4", 15)  # 20 - 4 = 16, the file shows 15
    errors, _facts = _check(content, coordinator)
    assert errors == [("Kennzahlen", num, "formula_mismatch")]
    [problem] = datasheet_check(content=content, acting_user=coordinator).errors
    assert problem.message_en == (f"The formula '={den}-4' gives 16, the file shows 15; please recalculate in Excel.")


@pytest.mark.django_db
def test_an_unsupported_formula_is_refused_at_its_cell(kj2022, filled, coordinator):
    ind = _entered_both(kj2022)
    num, den = kj2022.indicator_cell(ind.code, IND_NUMERATOR), kj2022.indicator_cell(ind.code, IND_DENOMINATOR)
    content = _with(filled, "Kennzahlen", den, "Basisdaten!B4+17", 20)
    errors, _facts = _check(content, coordinator)
    assert errors == [("Kennzahlen", den, "formula_unsupported")]
    [problem] = datasheet_check(content=content, acting_user=coordinator).errors
    assert problem.message_de == (
        "In diese Zelle gehört eine Zahl; die Formel „=Basisdaten!B4+17“ kann der Server nicht nachrechnen."
    )
    assert num != den


@pytest.mark.django_db
@pytest.mark.parametrize("fresh", [True, False], ids=["no cached value", "stale cache"])
def test_a_formula_without_a_usable_cache_counts_with_the_recomputed_value(kj2022, filled, coordinator, fresh):
    ind = _entered_both(kj2022)
    num = kj2022.indicator_cell(ind.code, IND_NUMERATOR)
    cached = None if fresh else 0  # fullCalcOnLoad: 0 is a placeholder
    content = _with(filled, "Kennzahlen", num, "SUM(10,2)+1", cached, fresh=fresh)  # 13
    errors, facts = _check(content, coordinator)
    assert errors == []
    assert facts["values"].indicators[ind.code].numerator == 13


@pytest.mark.django_db
def test_a_formula_dividing_by_zero_is_not_a_whole_number(kj2022, filled, coordinator):
    ind = _entered_both(kj2022)
    num = kj2022.indicator_cell(ind.code, IND_NUMERATOR)
    content = _with(filled, "Kennzahlen", num, "1/0", "#DIV/0!")
    assert _check(content, coordinator)[0] == [("Kennzahlen", num, "not_integer")]


@pytest.mark.django_db
def test_basisdaten_stage_cells_and_block_fields_are_entered_cells(kj2022, filled, coordinator):
    row = kj2022.rows[0]
    stage = kj2022.base_cell(row.key, kj2022.stage_columns[0])
    field = kj2022.field_cell(kj2022.block_fields[0].key)
    ok = _with(_with(filled, "Basisdaten", stage, "1+2", 3), "Basisdaten", field, "10/2", 5)  # 3 and 5: as typed
    assert _check(ok, coordinator)[0] == []
    wrong = _with(filled, "Basisdaten", stage, "1+1", 3)
    # the stage cell alone: its row and column totals are not compared on a sheet with errors
    assert _check(wrong, coordinator)[0] == [("Basisdaten", stage, "formula_mismatch")]
    unsupported = _with(filled, "Basisdaten", field, 'IF(1,5,"")', 5)
    assert _check(unsupported, coordinator)[0] == [("Basisdaten", field, "formula_unsupported")]


@pytest.mark.django_db
def test_template_totals_keep_being_compared_as_before(kj2022, filled, coordinator):
    row = kj2022.rows[0]
    total = kj2022.base_cell(row.key)  # Gesamt: a template formula, not an entered cell
    stages = [kj2022.base_cell(row.key, s) for s in kj2022.stage_columns]
    content = _with(filled, "Basisdaten", total, f"SUM({stages[0]}:{stages[-1]})", 99)  # sums to 3 per stage
    assert _check(content, coordinator)[0] == [("Basisdaten", total, "total_mismatch")]
    unsupported_total = _with(filled, "Basisdaten", total, f"MAX({stages[0]})*0+{3 * len(stages)}", 3 * len(stages))
    assert _check(unsupported_total, coordinator)[0] == []


@pytest.mark.django_db
def test_a_template_total_is_never_recomputed(kj2022, filled, coordinator):
    """A total's formula is the template's: without a usable cached value (here: stale,
    as openpyxl writes) it is not judged at all, even when the formula is wrong."""
    row = kj2022.rows[0]
    total = kj2022.base_cell(row.key)
    first = kj2022.base_cell(row.key, kj2022.stage_columns[0])
    content = _with(filled, "Basisdaten", total, f"{first}+100", 0, fresh=False)  # 103, not the row's sum
    assert _check(content, coordinator)[0] == []
