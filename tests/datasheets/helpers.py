"""Helpers to fill templates with consistent values for tests."""

from __future__ import annotations

from datasheets.layout import Layout
from datasheets.template import SheetValues


def consistent_values(layout: Layout, *, cases_per_cell: int = 3, justify: bool = True) -> SheetValues:
    """Every stage cell ``cases_per_cell``; block fields small counts; every entered
    numerator 80 % of its (entered or derived) denominator; reconstruction categories
    sum to the primary cases. Flagged values get a Begründung when ``justify``."""
    from indicators.domain import evaluate

    base: dict[str, int | None] = {k: cases_per_cell for k in layout.stage_cell_keys}
    for f in layout.block_fields:
        base[f.key] = 5
    primary = layout.primary_cases(base)
    recon = [f.key for f in layout.block_fields if f.key.startswith("reconstruction.")]
    if recon:
        for key in recon:
            base[key] = 0
        base[recon[0]] = primary
    indicators = {}
    for ind in layout.indicators:
        den = None
        if not ind.is_count:
            den = layout.derive(ind.denominator_source, base) if ind.denominator_source else 20
        num_derived = layout.derive(ind.numerator_source, base) if ind.numerator_source else None
        num = num_derived if num_derived is not None else (80 if ind.is_count else (den * 4) // 5)
        flags = evaluate(num, den, ind.rule)
        text = "Begründung: Sondereffekt im Kennzahlenjahr." if flags and justify else ""
        indicators[ind.code] = (
            None if ind.numerator_source else num,
            den if ind.denominator_entered else None,
            text,
        )
    return SheetValues(base=base, indicators=indicators)


def edit_workbook(content: bytes, edits: dict[tuple[str, str], object]) -> bytes:
    """Return ``content`` with cells changed: ``{(sheet, "C12"): value}``."""
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(content))
    for (sheet, ref), value in edits.items():
        wb[sheet][ref].value = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def value_edits(layout: Layout, values: SheetValues) -> dict[tuple[str, str], object]:
    """The cell edits that type ``values`` into an empty template, as a centre would."""
    from datasheets.layout import IND_DENOMINATOR, IND_JUSTIFICATION, IND_NUMERATOR, SHEET_BASE, SHEET_INDICATORS

    edits: dict[tuple[str, str], object] = {}
    for row in layout.rows:
        for stage in layout.stage_columns:
            edits[(SHEET_BASE, layout.base_cell(row.key, stage))] = values.base.get(f"{row.key}.{stage}")
    for f in layout.block_fields:
        edits[(SHEET_BASE, layout.field_cell(f.key))] = values.base.get(f.key)
    for ind in layout.indicators:
        num, den, text = values.indicators.get(ind.code, (None, None, ""))
        if ind.numerator_entered:
            edits[(SHEET_INDICATORS, layout.indicator_cell(ind.code, IND_NUMERATOR))] = num
        if ind.denominator_entered:
            edits[(SHEET_INDICATORS, layout.indicator_cell(ind.code, IND_DENOMINATOR))] = den
        edits[(SHEET_INDICATORS, layout.indicator_cell(ind.code, IND_JUSTIFICATION))] = text or None
    return edits


def heavy_shared_strings(content: bytes, extra: int = 99_000, length: int = 320) -> bytes:
    """``content`` plus a shared-strings part with ``extra`` unused strings: a small,
    honest-looking file (compression ratio < 100, < 50 MB declared) that is expensive
    to open, for the parse-limit tests."""
    import io
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(content))
    names = source.namelist()
    words = ("Primärfall", "Tumorkonferenz", "Mundhöhle", "Larynx", "Begründung", "Zähler", "Nenner")
    strings = "".join(
        "<si><t>" + " ".join(f"{words[(i + j) % 7]}{(i * 31 + j * 7) % 211}" for j in range(40))[:length] + "</t></si>"
        for i in range(extra)
    )
    shared = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + strings + "</sst>"
    ).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in names:
            data = source.read(name)
            if name == "[Content_Types].xml" and b"sharedStrings" not in data:
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            if name == "xl/_rels/workbook.xml.rels" and b"sharedStrings" not in data:
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdQipSST" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
                )
            target.writestr(name, data)
        if "xl/sharedStrings.xml" not in names:
            target.writestr("xl/sharedStrings.xml", shared)
    return out.getvalue()


def zip_replace(content: bytes, parts: dict) -> bytes:
    """``content`` with zip parts replaced: ``{name: bytes or function of the old bytes}``
    (a name not yet in the archive is added; None drops the part)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            new = parts.get(info.filename, data)
            new = new(data) if callable(new) else new
            if new is not None:
                target.writestr(info.filename, new)
        for name, data in parts.items():
            if name not in source.namelist() and isinstance(data, bytes):
                target.writestr(name, data)
    return out.getvalue()


def cell_formula(sheet_xml: bytes, ref: str, formula: str, cached: object = None) -> bytes:
    """A worksheet part with the cell ``ref`` replaced by one holding ``formula``
    (without "=") and the cached value ``cached`` (None: no cached value; a str is a
    cached text result). The cell must exist in the part."""
    import re
    from xml.sax.saxutils import escape

    if cached is None:
        value, kind = "", ""
    elif isinstance(cached, str):
        value, kind = f"<v>{escape(cached)}</v>", ' t="str"'
    else:
        value, kind = f"<v>{cached}</v>", ""
    new = f'<c r="{ref}"{kind}><f>{escape(formula)}</f>{value}</c>'.encode()
    pattern = re.compile(rb'<c r="' + ref.encode() + rb'"(?:[^>]*/>|[^>]*>.*?</c>)', re.S)
    result, n = pattern.subn(new, sheet_xml, count=1)
    assert n == 1, f"cell {ref} not in the sheet"
    return result


def cached_fresh(content: bytes) -> bytes:
    """``content`` without ``fullCalcOnLoad``: its cached formula results count, as in a
    file Excel saved after calculating."""
    return zip_replace(content, {"xl/workbook.xml": lambda x: x.replace(b' fullCalcOnLoad="1"', b"")})


def sheet_add(
    content: bytes, title: str, *, copy_of: str, index: int, state: str = "visible", edits: dict | None = None
) -> bytes:
    """``content`` with a copy of sheet ``copy_of`` named ``title`` at position ``index``
    in state ``visible`` / ``hidden`` / ``veryHidden``, with ``edits`` {"C12": value}."""
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(content))
    ws = wb.copy_worksheet(wb[copy_of])
    ws.title = title
    assert ws.title == title, f"openpyxl renamed {title!r} to {ws.title!r}"  # it refuses names differing in case
    ws.sheet_state = state
    for ref, value in (edits or {}).items():
        ws[ref] = value
    wb.move_sheet(ws, offset=index - wb.sheetnames.index(title))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
WORKSHEET_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"


def hidden_full_sheets(content: bytes, sheets: int, *, rows: int = 3_300, cols: int = 30, seed: int = 8) -> bytes:
    """``content`` plus ``sheets`` hidden worksheets ("Nebenrechnung 1", …) of ``rows`` x
    ``cols`` cells holding varied whole numbers (a hospital's own calculations, kept
    out of sight): by default 99,000 cells and ~2.6 MB of XML per sheet, ~0.25 MB
    compressed. Issue 8: such sheets are counted, never read."""
    import random

    from openpyxl.utils import get_column_letter

    rng = random.Random(seed)
    letters = [get_column_letter(c) for c in range(1, cols + 1)]
    added: dict[str, bytes] = {}
    entries, rels, types = [], [], []
    for i in range(1, sheets + 1):
        body = "".join(
            f'<row r="{r}">' + "".join(f'<c r="{x}{r}"><v>{rng.randrange(1000)}</v></c>' for x in letters) + "</row>"
            for r in range(1, rows + 1)
        )
        part = f"xl/worksheets/hidden{i}.xml"
        added[part] = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<dimension ref="A1:{letters[-1]}{rows}"/><sheetData>{body}</sheetData></worksheet>'
        ).encode()
        entries.append(f'<sheet name="Nebenrechnung {i}" sheetId="{100 + i}" state="hidden" r:id="rIdH{i}"/>')
        rels.append(f'<Relationship Id="rIdH{i}" Type="{WORKSHEET_REL}" Target="/{part}"/>')
        types.append(f'<Override PartName="/{part}" ContentType="{WORKSHEET_TYPE}"/>')

    def workbook(x: bytes) -> bytes:
        return x.replace(b"</sheets>", "".join(entries).encode() + b"</sheets>")

    return zip_replace(
        content,
        {
            "xl/workbook.xml": workbook,
            "xl/_rels/workbook.xml.rels": lambda x: x.replace(
                b"</Relationships>", "".join(rels).encode() + b"</Relationships>"
            ),
            "[Content_Types].xml": lambda x: x.replace(b"</Types>", "".join(types).encode() + b"</Types>"),
            **added,
        },
    )


def style_table(content: bytes, counts: dict[str, int], *, seed: int = 8) -> bytes:
    """``content`` with a styles.xml of ``counts`` entries per table ("xf", "font",
    "fill", "border", "numFmt", "cellStyle", "dxf"; missing: 1), each entry different
    (colours, formats), as a workbook that gathered formats from many copied sheets."""
    import random

    rng = random.Random(seed)

    def n(tag: str) -> int:
        return max(1, counts.get(tag, 1))

    def colour() -> str:
        return f"FF{rng.randrange(0x1000000):06X}"

    num_fmts = "".join(
        f'<numFmt numFmtId="{164 + i}" formatCode="0.{"0" * (i % 5)}&quot;x{i}&quot;"/>' for i in range(n("numFmt"))
    )
    fonts = "".join(
        f'<font><sz val="{8 + i % 9}"/><color rgb="{colour()}"/><name val="Calibri"/><family val="2"/></font>'
        for i in range(n("font"))
    )
    fills = '<fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>' + "".join(
        f'<fill><patternFill patternType="solid"><fgColor rgb="{colour()}"/><bgColor indexed="64"/></patternFill></fill>'
        for _ in range(max(0, n("fill") - 2))
    )
    borders = "".join(
        f'<border><left style="thin"><color rgb="{colour()}"/></left><right/><top/><bottom style="thin"><color auto="1"/></bottom><diagonal/></border>'
        for _ in range(n("border"))
    )
    half = n("xf") // 2 or 1

    def xf(i: int) -> str:
        return (
            f'<xf numFmtId="{164 + i % n("numFmt")}" fontId="{i % n("font")}" fillId="{i % max(2, n("fill"))}" '
            f'borderId="{i % n("border")}" xfId="0" applyNumberFormat="1"><alignment wrapText="{i % 2}"/></xf>'
        )

    style_xfs = "".join(xf(i) for i in range(n("xf") - half))
    cell_xfs = "".join(xf(i) for i in range(half))
    cell_styles = '<cellStyle name="Normal" xfId="0" builtinId="0"/>' + "".join(
        f'<cellStyle name="Format {i}" xfId="{i % max(1, n("xf") - half)}"/>' for i in range(1, n("cellStyle"))
    )
    dxfs = "".join(f'<dxf><font><b/><color rgb="{colour()}"/></font></dxf>' for _ in range(n("dxf")))
    styles = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<numFmts>{num_fmts}</numFmts><fonts>{fonts}</fonts><fills>{fills}</fills><borders>{borders}</borders>"
        f"<cellStyleXfs>{style_xfs}</cellStyleXfs><cellXfs>{cell_xfs}</cellXfs><cellStyles>{cell_styles}</cellStyles>"
        f"<dxfs>{dxfs}</dxfs></styleSheet>"
    ).encode()
    return zip_replace(content, {"xl/styles.xml": styles})
