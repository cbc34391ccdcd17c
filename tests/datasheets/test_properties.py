"""Property tests: whatever a centre (or an attacker) puts into the cells of a valid
template, or whatever bytes arrive, ``datasheet_check`` answers with located, coded
problems and never raises."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from datasheets.choices import ErrorCode
from datasheets.layout import (
    COVER_FIELDS,
    IND_HEADERS,
    SHEET_BASE,
    SHEET_COVER,
    SHEET_INDICATORS,
    SHEETS,
    Layout,
    layout_for,
)
from datasheets.messages import CellError
from datasheets.services import datasheet_check, datasheet_template_build
from indicators.models import CatalogueVersion
from tests.datasheets.helpers import consistent_values, edit_workbook

YEARS = {"C2.1": 2015, "KJ2022": 2022, "KJ2024": 2024}
CELL_REF = re.compile(r"[A-Z]{1,3}[0-9]{1,7}")
GOOD = Path(__file__).resolve().parents[1] / "data" / "datasheets" / "good"
PROPERTY_SETTINGS = settings(
    max_examples=min(60, settings.default.max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def excel_text(text: str) -> str:
    """Control characters as Excel stores them (``_x0001_``); openpyxl refuses them raw."""
    return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


cell_values = st.one_of(
    st.none(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=-5, max_value=1_000_005),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e7, max_value=1e7).map(lambda f: float(round(f))),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31)),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)),
    st.text(max_size=40).map(excel_text),
    st.text(max_size=2100, alphabet=st.characters(codec="utf-8")).map(excel_text),
    st.sampled_from(
        [
            "=1+1",
            "=SUM(A1:A3)",
            "12",
            " 12 ",
            "12,5",
            "1.200",
            "-3",
            "#DIV/0!",
            "#N/A",
            "#REF!",
            "١٢",
            "１２",
            "1e3",
            "0x10",
            "\u00a012\u00a0",
            "KHT-A01",
            "2022",
        ]
    ),
)


def _addresses(layout: Layout) -> list[tuple[str, str]]:
    """Every cell the layout gives meaning to: cover values, Basisdaten (entered and
    totals), Kennzahlen (every column of every row)."""
    cells = [(SHEET_COVER, f"B{layout.cover_row_number(key)}") for key, _label in COVER_FIELDS]
    for row in (*layout.rows, layout.total_row):
        cells += [(SHEET_BASE, layout.base_cell(row.key, stage)) for stage in layout.stage_columns]
        cells.append((SHEET_BASE, layout.base_cell(row.key)))
    cells += [(SHEET_BASE, layout.field_cell(f.key)) for f in layout.block_fields]
    for ind in layout.indicators:
        cells += [(SHEET_INDICATORS, layout.indicator_cell(ind.code, header)) for header in IND_HEADERS]
    return cells


@pytest.fixture
def templates(catalogue, site_a):
    out = {}
    for version_id, year in YEARS.items():
        layout = layout_for(CatalogueVersion.objects.get(pk=version_id))
        content = datasheet_template_build(site=site_a, indicator_year=year, values=consistent_values(layout))[1]
        out[version_id] = (layout, _addresses(layout), content)
    return out


def _assert_located(problems: list[CellError], sheets: set[str]) -> None:
    for problem in problems:
        assert isinstance(problem, CellError)
        assert problem.sheet in sheets, str(problem)
        assert CELL_REF.fullmatch(problem.cell), str(problem)
        assert problem.code in ErrorCode.values
        assert problem.message_de and problem.message_en


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_cell_contents_give_located_errors(templates, coordinator, data):
    version_id = data.draw(st.sampled_from(sorted(templates)))
    layout, addresses, content = templates[version_id]
    edits = data.draw(st.dictionaries(st.sampled_from(addresses), cell_values, min_size=1, max_size=6))
    edited = edit_workbook(content, edits)
    errors, warnings, _facts = datasheet_check(content=edited, acting_user=coordinator)
    _assert_located(errors, set(SHEETS))
    _assert_located(warnings, set(SHEETS))
    if not edits.keys() & {(s, c) for s, c in addresses if s == SHEET_COVER}:
        assert all(e.sheet != SHEET_COVER for e in errors)


def _check_never_raises(content: bytes) -> list[CellError]:
    """Check ``content``; every problem is a located, coded CellError. Returns the errors."""
    errors, warnings, _facts = datasheet_check(content=content)
    for problem in (*errors, *warnings):
        assert isinstance(problem, CellError)
        assert problem.code in ErrorCode.values
        assert problem.sheet and problem.cell and problem.message_de and problem.message_en
    return errors


def _located(errors: list[CellError]) -> list[tuple[str, str, str]]:
    return [(e.sheet, e.cell, e.code) for e in errors]


# Whole-file problems are located at the pseudo sheet "Datei" (the file), cell A1 or the part.
FILE_TYPE_AT_FILE = [("Datei", "A1", ErrorCode.FILE_TYPE)]
CONTAINER_CODES = {ErrorCode.FILE_TYPE, ErrorCode.UNSAFE_CONTENT}


def _python_zip_damaged(content: bytes) -> bool:
    """Oracle independent of datasheets.safety: Python's zipfile cannot open the archive,
    or a part fails its CRC / local header check."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            return zf.testzip() is not None
    except Exception:  # any failure to read the container counts as damage
        return True


def _well_formed_xml(blob: bytes) -> bool:
    """Oracle independent of the parser under test: does expat accept ``blob``?"""
    try:
        ElementTree.fromstring(blob)
    except (ElementTree.ParseError, ValueError, LookupError):
        return False
    return True


def _assert_container_error(errors: list[CellError]) -> None:
    """Garbage gives at least one error, and only container errors of the whole file
    (SPEC §2/§3 ``file_type``, ``unsafe_content``): it never reaches cell validation."""
    assert errors, "garbage must not pass"
    assert {e.code for e in errors} <= CONTAINER_CODES, _located(errors)
    assert {e.sheet for e in errors} == {"Datei"}, _located(errors)


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(content=st.binary(max_size=4096))
def test_random_bytes_never_raise(catalogue, content):
    errors = _check_never_raises(content)
    if not content.startswith(b"PK\x03\x04"):
        # not a zip at all (empty, .xls/CFB, text): SPEC §2 file_type, one error for the file
        assert _located(errors) == FILE_TYPE_AT_FILE
    else:
        _assert_container_error(errors)
    _assert_container_error(_check_never_raises(b"PK\x03\x04" + content))


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(data=st.data())
def test_truncated_or_damaged_valid_files_never_raise(catalogue, site_a, data):
    name = data.draw(st.sampled_from(sorted(p.name for p in GOOD.glob("*.xlsx"))))
    valid = (GOOD / name).read_bytes()
    cut = data.draw(st.integers(min_value=0, max_value=len(valid)))
    errors = _check_never_raises(valid[:cut])
    if cut < len(valid):
        # a zip cut anywhere loses (part of) its end-of-central-directory record
        assert _located(errors) == FILE_TYPE_AT_FILE
    else:
        assert errors == []  # the whole good file, for its own site (site_a)
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(1, 255)), min_size=1, max_size=8))
    damaged = bytearray(valid)
    for pos, mask in flips:
        damaged[pos] ^= mask
    errors = _check_never_raises(bytes(damaged))
    if _python_zip_damaged(bytes(damaged)):
        _assert_container_error(errors)
    # else: the flips hit bytes a reader may ignore (timestamps, attributes): anything
    # located goes


# Parts a reader must parse as XML to find and read the Deckblatt, Basisdaten and
# Kennzahlen sheets of openpyxl_kj2022.xlsx (sheet4 = Hinweise is ignored on import).
ESSENTIAL_PARTS = {
    "[Content_Types].xml",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/worksheets/sheet1.xml",
    "xl/worksheets/sheet2.xml",
    "xl/worksheets/sheet3.xml",
}


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_part_replaced_by_garbage_never_raises(catalogue, site_a, data):
    valid = (GOOD / "openpyxl_kj2022.xlsx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(valid)) as zf:
        parts = [(i.filename, zf.read(i)) for i in zf.infolist()]
    assert ESSENTIAL_PARTS <= {name for name, _old in parts}
    index = data.draw(st.integers(0, len(parts) - 1))
    name, old = parts[index]
    new = data.draw(
        st.one_of(
            st.binary(max_size=2048),
            st.integers(0, len(old)).map(lambda n: old[:n]),
            st.text(max_size=200).map(lambda t: old.replace(b"</", t.encode("utf-8") + b"</", 1)),
        )
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (part, blob) in enumerate(parts):
            zf.writestr(part, new if i == index else blob)
    errors = _check_never_raises(out.getvalue())
    if new == old:
        assert errors == []  # re-zipped unchanged: still the good file of site_a
    elif name in ESSENTIAL_PARTS and not _well_formed_xml(new):
        _assert_container_error(errors)
