"""Issue 8 bounds of datasheets.safety on everything openpyxl parses, each tested on
both sides: sheets and defined names of workbook.xml, every style table, the size and
element count of the parts openpyxl builds a tree of, the element count of any other
XML part, the size of the shared strings; and zip part names that differ only in case.
Expected values are the documented limits and hand counts, never the code's output."""

from __future__ import annotations

import pytest

from datasheets import safety
from datasheets.choices import ErrorCode
from tests.datasheets.test_safety_mutants import BASE, _found, _unsafe, _zip

UNSAFE = ErrorCode.UNSAFE_CONTENT
MB = 1024 * 1024


def _workbook(sheets: int, names: int = 0) -> bytes:
    """workbook.xml with ``sheets`` <sheet> entries (the first two as in BASE) and
    ``names`` <definedName> entries."""
    entries = '<sheet name="Deckblatt" sheetId="1" r:id="rId1"/><sheet name="Kennzahlen" sheetId="2" r:id="rId2"/>'
    entries += "".join(f'<sheet name="Extra{i}" sheetId="{i}" r:id="rIdX{i}"/>' for i in range(3, sheets + 1))
    defined = "".join(f'<definedName name="N{i}">Kennzahlen!$A$1</definedName>' for i in range(names))
    return f'<workbook xmlns:r="r"><sheets>{entries}</sheets><definedNames>{defined}</definedNames></workbook>'.encode()


def _styles(tag: str, n: int) -> bytes:
    """styles.xml with ``n`` <tag> elements (and nothing else counted by STYLE_TABLES)."""
    return f"<styleSheet><t>{f'<{tag}/>' * n}</t></styleSheet>".encode()


def test_the_documented_bounds():
    assert safety.MAX_SHEETS == 20
    assert safety.MAX_DEFINED_NAMES == 1_000
    assert safety.STYLE_TABLES == {
        "xf": 4_000,
        "font": 1_000,
        "fill": 1_000,
        "border": 1_000,
        "numFmt": 500,
        "cellStyle": 1_000,
        "dxf": 1_000,
    }
    assert (safety.MAX_TREE_BYTES, safety.MAX_TREE_ELEMENTS) == (4 * MB, 100_000)
    assert (safety.MAX_PART_ELEMENTS, safety.MAX_STRINGS_BYTES) == (400_000, 8 * MB)


# -- part names ------------------------------------------------------------------------


def test_part_names_differing_only_in_case_are_refused_at_the_second():
    content = _zip({"xl/worksheets/Sheet1.xml": BASE["xl/worksheets/sheet1.xml"]})
    assert _found(safety.precheck(content)) == [
        (
            "Datei",
            "xl/worksheets/Sheet1.xml",
            UNSAFE,
            _unsafe("Name bis auf Groß-/Kleinschreibung doppelt / name differs only in case"),
        )
    ]


def test_case_collision_in_the_directory_of_any_part_and_no_false_alarm():
    content = _zip({"XL/Workbook.xml": b"<workbook/>"})
    assert [(e.cell, e.code) for e in safety.precheck(content)] == [("XL/Workbook.xml", UNSAFE)]
    # different names that only share a prefix, and the exact duplicate (reported as such)
    assert safety.precheck(_zip({"xl/worksheets/sheet10.xml": BASE["xl/worksheets/sheet1.xml"]})) == []
    dup = _zip([*BASE.items(), ("xl/worksheets/sheet1.xml", BASE["xl/worksheets/sheet1.xml"])], base=False)
    assert _found(safety.precheck(dup)) == [
        ("Datei", "xl/worksheets/sheet1.xml", UNSAFE, _unsafe("doppelter Teil / duplicate part"))
    ]


# -- workbook.xml ----------------------------------------------------------------------


def test_twenty_sheets_pass_and_twenty_one_are_refused_with_their_number():
    assert safety.precheck(_zip({"xl/workbook.xml": _workbook(20)})) == []
    assert _found(safety.precheck(_zip({"xl/workbook.xml": _workbook(21)}))) == [
        ("Datei", "A1", UNSAFE, _unsafe("21 Tabellenblätter / sheets (> 20)"))
    ]
    assert _found(safety.precheck(_zip({"xl/workbook.xml": _workbook(57)}))) == [
        ("Datei", "A1", UNSAFE, _unsafe("57 Tabellenblätter / sheets (> 20)"))
    ]


def test_sheets_are_counted_with_a_namespace_prefix_but_not_sheets_or_sheetPr():
    workbook = (
        b'<x:workbook xmlns:x="m"><x:sheets>'
        + b"".join(b'<x:sheet name="S%d"/>' % i for i in range(21))
        + b"</x:sheets><sheetPr/><sheets/></x:workbook>"
    )
    assert [e.message_en for e in safety.precheck(_zip({"xl/workbook.xml": workbook}))] == [
        _unsafe("21 Tabellenblätter / sheets (> 20)")
    ]
    plenty_of_look_alikes = b"<workbook><sheets>" + b"<sheetPr/><sheets/>" * 30 + b"</sheets></workbook>"
    assert safety.precheck(_zip({"xl/workbook.xml": plenty_of_look_alikes})) == []


def test_one_thousand_defined_names_pass_and_one_more_is_refused():
    assert safety.precheck(_zip({"xl/workbook.xml": _workbook(2, 1_000)})) == []
    assert _found(safety.precheck(_zip({"xl/workbook.xml": _workbook(2, 1_001)}))) == [
        ("Datei", "xl/workbook.xml", UNSAFE, _unsafe("mehr als / more than 1000 Namen / defined names"))
    ]


# -- styles.xml ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "limit"),
    [("xf", 4_000), ("font", 1_000), ("fill", 1_000), ("border", 1_000), ("numFmt", 500), ("cellStyle", 1_000)]
    + [("dxf", 1_000)],
)
def test_each_style_table_is_bounded(tag, limit):
    assert safety.precheck(_zip({"xl/styles.xml": _styles(tag, limit)})) == []
    assert _found(safety.precheck(_zip({"xl/styles.xml": _styles(tag, limit + 1)}))) == [
        (
            "Datei",
            "xl/styles.xml",
            UNSAFE,
            _unsafe(f"mehr als / more than {limit} <{tag}> (Formatvorlagen / style table)"),
        )
    ]


def test_style_tags_are_told_apart_and_counted_with_a_prefix():
    # 4001 <fonts>/<fills>/<xfs> look-alikes are not fonts, fills or cell formats
    look_alikes = (
        b"<styleSheet>" + b"<fonts/><fills/><cellXfs/><numFmts/><cellStyles/><dxfs/>" * 1001 + b"</styleSheet>"
    )
    assert safety.precheck(_zip({"xl/styles.xml": look_alikes})) == []
    prefixed = b'<s:styleSheet xmlns:s="m">' + b"<s:font/>" * 1001 + b"</s:styleSheet>"
    assert [e.cell for e in safety.precheck(_zip({"xl/styles.xml": prefixed}))] == ["xl/styles.xml"]


def test_two_style_tables_over_their_bounds_are_both_named():
    styles = b"<styleSheet>" + b"<fill/>" * 1_001 + b"<dxf/>" * 1_001 + b"</styleSheet>"
    assert [e.message_en for e in safety.precheck(_zip({"xl/styles.xml": styles}))] == [
        _unsafe("mehr als / more than 1000 <fill> (Formatvorlagen / style table)"),
        _unsafe("mehr als / more than 1000 <dxf> (Formatvorlagen / style table)"),
    ]


# -- parts as a whole --------------------------------------------------------------------


@pytest.mark.parametrize("part", ["[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"])
def test_a_tree_part_has_at_most_100000_elements(part):
    def padded(n: int) -> bytes:  # BASE's own elements + n empty <e/>
        return BASE[part].replace(b"</", b"<e/>" * n + b"</", 1)

    own = BASE[part].count(b"<") - BASE[part].count(b"</") - BASE[part].count(b"<?")
    assert safety.precheck(_zip({part: padded(100_000 - own)})) == []
    assert _found(safety.precheck(_zip({part: padded(100_001 - own)}))) == [
        ("Datei", part, UNSAFE, _unsafe("mehr als / more than 100000 XML-Elemente / elements"))
    ]


def test_a_tree_part_has_at_most_4_mb():
    def styles(size: int) -> bytes:
        head, tail = b"<styleSheet><t>", b"</t></styleSheet>"
        return head + b"x" * (size - len(head) - len(tail)) + tail

    assert safety.precheck(_zip({"xl/styles.xml": styles(4 * MB)})) == []
    assert _found(safety.precheck(_zip({"xl/styles.xml": styles(4 * MB + 1)}))) == [
        ("Datei", "xl/styles.xml", UNSAFE, _unsafe("größer als / larger than 4,0 MB"))
    ]


def test_any_other_part_has_at_most_400000_elements():
    def extra(n: int) -> bytes:
        return b"<a>" + b"<b/>" * (n - 1) + b"</a>"

    assert safety.precheck(_zip({"customXml/item1.xml": extra(400_000)})) == []
    assert _found(safety.precheck(_zip({"customXml/item1.xml": extra(400_001)}))) == [
        ("Datei", "customXml/item1.xml", UNSAFE, _unsafe("mehr als / more than 400000 XML-Elemente / elements"))
    ]


def test_a_worksheet_of_100000_cells_is_within_the_element_bound():
    # <row> + 100,000 x (<c> + <v>) = 200,001 elements in a sheet of the largest allowed cell count
    rows = b"".join(b'<row r="%d">' % r + b'<c r="A%d"><v>1</v></c>' % r * 10 + b"</row>" for r in range(1, 10_001))
    sheet = b"<worksheet><sheetData>" + rows + b"</sheetData></worksheet>"
    assert safety.precheck(_zip({"xl/worksheets/sheet2.xml": sheet})) == []


def test_the_shared_strings_have_at_most_8_mb():
    def strings(size: int) -> bytes:
        head, tail = b"<sst><si><t>", b"</t></si></sst>"
        return head + b"x" * (size - len(head) - len(tail)) + tail

    # stored, not deflated: judged with a size limit above the part's size
    assert safety.precheck(_zip({"xl/sharedStrings.xml": strings(8 * MB)}), max_bytes=9 * MB) == []
    over = _zip({"xl/sharedStrings.xml": strings(8 * MB + 1)})
    assert _found(safety.precheck(over, max_bytes=9 * MB)) == [
        (
            "Datei",
            "xl/sharedStrings.xml",
            UNSAFE,
            _unsafe("Texttabelle größer als / string table larger than 8,0 MB"),
        )
    ]


def test_utf16_parts_are_counted_as_text():
    workbook = _workbook(21).decode().encode("utf-16")
    assert [e.message_en for e in safety.precheck(_zip({"xl/workbook.xml": workbook}))] == [
        _unsafe("21 Tabellenblätter / sheets (> 20)")
    ]


def test_utf16_parts_are_counted_as_text_in_every_bound():
    padded = b"<Types>" + b"<e/>" * 100_000 + b"</Types>"  # 100,001 elements
    content = _zip({"[Content_Types].xml": padded.decode().encode("utf-16")})
    assert [(e.cell, e.message_en) for e in safety.precheck(content)] == [
        ("[Content_Types].xml", _unsafe("mehr als / more than 100000 XML-Elemente / elements"))
    ]
