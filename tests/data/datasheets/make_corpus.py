"""Build the Datenblatt test corpus: ``good/`` and ``bad/`` with a ``manifest.json`` each.

Run: ``.venv/bin/python tests/data/datasheets/make_corpus.py`` (from the project root or
anywhere). Uses a throw-away SQLite database (QIPORTAL_DATA_DIR is a temp dir), the
catalogue fixture and the sites KHT-A01 / KHT-B01; writes nothing else. LibreOffice
(``soffice``) re-saves a few files if it is installed; without it the previously
committed re-saved files are kept. At the end every file is checked with
``datasheet_check`` against its manifest entry; a disagreement is printed and the script
exits with status 1 (the manifests are written anyway, so the difference can be read).

Bad manifest: file -> {"description", "uploader" ("coordinator_a" | "office"),
"expected": [[sheet, cell, code], ...] (exactly the errors, sorted; warnings excluded),
"web": "failed" (stored, the revision fails) | "form_error" (refused by the upload
form), optional "generate": a name of GENERATORS (not committed: the test builds it
from the good file "base")}. Good manifest: file -> {"description", "uploader", "version", "year",
"indicators": {KeZa: [numerator, denominator]}, "warnings": [[sheet, cell, code], ...]}.
File contents may differ between runs only in timestamps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
YEARS = {"C2.1": 2015, "KJ2022": 2022, "KJ2024": 2024}
K, B, D = "Kennzahlen", "Basisdaten", "Deckblatt"
FILE = "Datei"
FIXED_TIME = (2024, 3, 1, 12, 0, 0)
SHEET_PART = {
    D: "xl/worksheets/sheet1.xml",
    B: "xl/worksheets/sheet2.xml",
    K: "xl/worksheets/sheet3.xml",
    "Hinweise": "xl/worksheets/sheet4.xml",
}


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    from qiportal.scratch import scratch_setup

    scratch_setup("qiportal-corpus-")


# ---- zip helpers ----------------------------------------------------------------------


def zip_parts(content: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def zip_build(parts: list[tuple[str, bytes]], *, level: int = 6) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in parts:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=level)
    return out.getvalue()


def zip_edit(
    content: bytes, replace: dict | None = None, add: list | None = None, drop: tuple = (), level: int = 6
) -> bytes:
    """``content`` with parts replaced (bytes or a function of the old bytes), dropped or added."""
    replace = replace or {}
    parts = []
    for name, data in zip_parts(content):
        if name in drop:
            continue
        if name in replace:
            new = replace[name]
            data = new(data) if callable(new) else new
        parts.append((name, data))
    return zip_build(parts + list(add or []), level=level)


def insert_before_root(xml: bytes, root: bytes, text: bytes) -> bytes:
    pos = xml.index(b"<" + root)
    return xml[:pos] + text + xml[pos:]


def add_content_type(types: bytes, part: str, content_type: str) -> bytes:
    return types.replace(b"</Types>", f'<Override PartName="/{part}" ContentType="{content_type}"/></Types>'.encode())


def add_workbook_rel(rels: bytes, rel_id: str, rel_type: str, target: str, external: bool = False) -> bytes:
    mode = ' TargetMode="External"' if external else ""
    rel = f'<Relationship Id="{rel_id}" Type="{rel_type}" Target="{target}"{mode}/>'
    return rels.replace(b"</Relationships>", rel.encode() + b"</Relationships>")


def set_encrypted_flag(content: bytes, name: str) -> bytes:
    """Mark one entry as (traditional PKWARE) encrypted in both headers."""
    data = bytearray(content)
    encoded = name.encode()
    for signature, flag_offset, name_len_offset, name_offset in (
        (b"PK\x03\x04", 6, 26, 30),
        (b"PK\x01\x02", 8, 28, 46),
    ):
        pos = data.find(signature)
        while pos >= 0:
            (name_len,) = struct.unpack("<H", data[pos + name_len_offset : pos + name_len_offset + 2])
            if bytes(data[pos + name_offset : pos + name_offset + name_len]) == encoded:
                (flags,) = struct.unpack("<H", data[pos + flag_offset : pos + flag_offset + 2])
                data[pos + flag_offset : pos + flag_offset + 2] = struct.pack("<H", flags | 1)
            pos = data.find(signature, pos + 4)
    return bytes(data)


def corrupt_part(content: bytes, name: str) -> bytes:
    """Overwrite the middle of one part's compressed data (a damaged download)."""
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        info = zf.getinfo(name)
    data = bytearray(content)
    (name_len, extra_len) = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    middle = start + info.compress_size // 2
    for i in range(middle, min(middle + 64, start + info.compress_size)):
        data[i] ^= 0x5A
    return bytes(data)


def oversize(content: bytes) -> bytes:
    """A valid workbook made larger than 5 MB by an incompressible picture (also in the tests)."""
    noise = random.Random(5).randbytes(5 * 1024 * 1024 + 300_000)
    out = io.BytesIO(content)
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo("xl/media/image1.png", FIXED_TIME), noise)
    return out.getvalue()


def many_hidden_sheets(content: bytes) -> bytes:
    """Issue 8: 25 hidden sheets of 30,000 numbers each (29 sheets in all, ~4 MB)."""
    from tests.datasheets.helpers import hidden_full_sheets

    return hidden_full_sheets(content, 25, rows=1_000)


def large_style_table(content: bytes) -> bytes:
    """Issue 8: a style table three times each documented bound (~0.2 MB compressed)."""
    from datasheets.safety import STYLE_TABLES
    from tests.datasheets.helpers import style_table

    return style_table(content, {tag: 3 * limit for tag, limit in STYLE_TABLES.items()})


def many_shared_strings(content: bytes) -> bytes:
    """Issue 8: 99,000 unused shared strings of 320 characters (31 MB of XML, 0.9 MB file)."""
    from tests.datasheets.helpers import heavy_shared_strings

    return heavy_shared_strings(content)


GENERATORS = {
    "oversize": oversize,
    "many_hidden_sheets": many_hidden_sheets,
    "large_style_table": large_style_table,
    "many_shared_strings": many_shared_strings,
}


def generated(entry: dict, good_files) -> bytes:
    """The content of a manifest entry with "generate": GENERATORS[name](base file)."""
    return GENERATORS[entry["generate"]](good_files(Path(entry["base"]).name))


def cfb_file(stream_names: list[str], payload: bytes = b"") -> bytes:
    """A small Compound File Binary (OLE2) container as Excel 97-2003 and encrypted OOXML
    use: header, one directory sector naming the streams, some payload."""
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    header[24:26] = struct.pack("<H", 0x003E)
    header[26:28] = struct.pack("<H", 0x0003)
    header[28:30] = b"\xfe\xff"
    header[30:32] = struct.pack("<H", 9)
    header[32:34] = struct.pack("<H", 6)
    header[44:48] = struct.pack("<I", 1)
    header[48:52] = struct.pack("<I", 1)
    header[60:64] = struct.pack("<I", 0xFFFFFFFE)
    header[68:72] = struct.pack("<I", 0xFFFFFFFE)
    for i in range(76, 512, 4):
        header[i : i + 4] = struct.pack("<I", 0xFFFFFFFF)
    header[76:80] = struct.pack("<I", 0)
    fat = bytearray(b"\xff" * 512)
    fat[0:4] = struct.pack("<I", 0xFFFFFFFD)
    fat[4:8] = struct.pack("<I", 0xFFFFFFFE)
    directory = bytearray(512)
    for i, name in enumerate(["Root Entry", *stream_names][:4]):
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        entry = bytearray(128)
        entry[0 : len(encoded)] = encoded
        entry[64:66] = struct.pack("<H", len(encoded))
        entry[66] = 5 if i == 0 else 2
        directory[i * 128 : (i + 1) * 128] = entry
    body = (payload or b"\x00" * 512).ljust(((len(payload) // 512) + 1) * 512, b"\x00")
    return bytes(header + fat + directory + body)


def expected(*triples) -> list[list[str]]:
    return sorted([list(t) for t in triples])


# ---- the corpus -------------------------------------------------------------------------


class Corpus:
    def __init__(self) -> None:
        self.bad: dict[str, dict] = {}
        self.good: dict[str, dict] = {}
        self.files: dict[tuple[str, str], bytes] = {}
        self.lo_jobs: list[tuple[str, str, bytes, dict]] = []  # (kind, name, source, entry)

    def add_bad(
        self,
        name: str,
        content: bytes | None,
        description: str,
        errors,
        *,
        uploader: str = "coordinator_a",
        web: str | None = None,
        **extra,
    ) -> None:
        assert name not in self.bad, name
        web = web or ("failed" if name.endswith(".xlsx") and content else "form_error")
        self.bad[name] = {
            "description": description,
            "uploader": uploader,
            "expected": expected(*errors),
            "web": web,
            **extra,
        }
        if content is not None:
            self.files[("bad", name)] = content

    def add_good(
        self,
        name: str,
        content: bytes,
        description: str,
        version: str,
        indicators: dict,
        warnings=(),
        *,
        uploader: str = "coordinator_a",
    ) -> None:
        assert name not in self.good, name
        self.good[name] = {
            "description": description,
            "uploader": uploader,
            "version": version,
            "year": YEARS[version],
            "indicators": indicators,
            "warnings": expected(*warnings),
        }
        self.files[("good", name)] = content

    def libreoffice(self, kind: str, name: str, source: bytes, **entry) -> None:
        """Queue ``source`` to be re-saved by LibreOffice Calc as ``kind/name``."""
        self.lo_jobs.append((kind, name, source, entry))


class Builder:
    """Templates and edits for the corpus (needs Django set up)."""

    def __init__(self) -> None:
        from django.contrib.auth import get_user_model

        from centres.models import Centre, Membership, Role, Site
        from datasheets.layout import layout_for
        from indicators.models import CatalogueVersion
        from indicators.services import catalogue_load

        catalogue_load()
        self.site_a = Site.objects.create(
            centre=Centre.objects.create(name="KHT Aachen"),
            registration_number="KHT-A01",
            name="Uniklinikum Aachen",
            city="Aachen",
            state="Nordrhein-Westfalen",
        )
        self.site_b = Site.objects.create(
            centre=Centre.objects.create(name="KHT Bremen"),
            registration_number="KHT-B01",
            name="Klinikum Bremen",
            city="Bremen",
            state="Bremen",
        )
        users = get_user_model().objects
        self.users = {"coordinator_a": users.create_user("coord_a"), "office": users.create_user("office")}
        Membership.objects.create(user=self.users["coordinator_a"], site=self.site_a, role=Role.COORDINATOR)
        Membership.objects.create(user=self.users["office"], site=None, role=Role.OFFICE)
        self.layouts = {v: layout_for(CatalogueVersion.objects.get(pk=v)) for v in YEARS}

    # values and templates
    def values(self, version: str, **kw):
        from tests.datasheets.helpers import consistent_values

        return consistent_values(self.layouts[version], **kw)

    def filled(self, version: str, values=None, *, site=None, year: int | None = None) -> bytes:
        from datasheets.services import datasheet_template_build

        values = values if values is not None else self.values(version)
        site = site or self.site_a
        return datasheet_template_build(site=site, indicator_year=year or YEARS[version], values=values)[1]

    def blank(self, version: str) -> bytes:
        from datasheets.template import SheetValues

        return self.filled(version, SheetValues())

    @staticmethod
    def edit(content: bytes, edits: dict) -> bytes:
        from tests.datasheets.helpers import edit_workbook

        return edit_workbook(content, edits)

    @staticmethod
    def workbook_edit(content: bytes, fn) -> bytes:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(content))
        fn(wb)
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    # addresses
    def k(self, version: str, code: str, header: str) -> tuple[str, str]:
        return (K, self.layouts[version].indicator_cell(code, header))

    def field(self, version: str, key: str) -> tuple[str, str]:
        return (B, self.layouts[version].field_cell(key))

    def stage(self, version: str, row_key: str, stage: str | None = None) -> tuple[str, str]:
        return (B, self.layouts[version].base_cell(row_key, stage))

    @staticmethod
    def cover(key: str) -> tuple[str, str]:
        from datasheets.layout import Layout

        return (D, f"B{Layout.cover_row_number(key)}")

    # reference values
    def reference(self, version: str, values) -> dict[str, list]:
        """KeZa -> [numerator, denominator] the server must import from ``values``."""
        layout = self.layouts[version]
        out = {}
        for ind in layout.indicators:
            num, den, _text = values.indicators[ind.code]
            if ind.numerator_source:
                num = layout.derive(ind.numerator_source, values.base)
            if not ind.is_count and ind.denominator_source:
                den = layout.derive(ind.denominator_source, values.base)
            out[ind.code] = [num, None if ind.is_count else den]
        return out

    def cached(self, version: str, values) -> dict[tuple[str, str], object]:
        """What a spreadsheet program caches for every formula cell of a filled template."""
        from indicators.domain import Flag, evaluate

        layout = self.layouts[version]
        base = {k: v or 0 for k, v in values.base.items()}
        cells: dict[tuple[str, str], object] = {}
        for row in layout.rows:
            cells[(B, layout.base_cell(row.key))] = sum(base.get(k, 0) for k in layout.stage_keys(row.key))
        for stage in layout.stage_columns:
            cells[(B, layout.base_cell(layout.total_row.key, stage))] = sum(
                base.get(f"{r.key}.{stage}", 0) for r in layout.rows
            )
        cells[(B, layout.base_cell(layout.total_row.key))] = layout.primary_cases(base)
        ref = self.reference(version, values)
        for ind in layout.indicators:
            num, den = ref[ind.code]
            if ind.numerator_source:
                cells[self.k(version, ind.code, "Zähler")] = num
            if not ind.is_count and ind.denominator_source:
                cells[self.k(version, ind.code, "Nenner")] = den
            if not ind.is_count:
                cells[self.k(version, ind.code, "Quote")] = num / den if den else ""
            flags = evaluate(num, den, ind.rule)
            if Flag.NOT_EVALUABLE in flags:
                text = "nicht bewertbar"
            elif Flag.IMPLAUSIBLE_LOW in flags or Flag.IMPLAUSIBLE_HIGH in flags:
                text = "Plausibilität unklar"
            elif Flag.TARGET_NOT_MET in flags:
                text = "Sollvorgabe nicht erfüllt"
            else:
                text = "erfüllt" if ind.rule.target_op else "plausibel"
            cells[self.k(version, ind.code, "Bewertung")] = text
        return cells

    def derived_mismatches(self, version: str, file_base: dict, server_base: dict) -> list[tuple[str, str, str]]:
        """denominator_mismatch errors where a cached derived Zähler/Nenner computed from
        ``file_base`` differs from the server's derivation from ``server_base``."""
        layout = self.layouts[version]
        out = []
        for ind in layout.indicators:
            for header, source in (
                ("Zähler", ind.numerator_source),
                ("Nenner", None if ind.is_count else ind.denominator_source),
            ):
                if source and layout.derive(source, file_base) != layout.derive(source, server_base):
                    out.append((*self.k(version, ind.code, header), "denominator_mismatch"))
        return out

    def total_mismatches(self, version: str, file_base: dict, server_base: dict) -> list[tuple[str, str, str]]:
        layout = self.layouts[version]
        out = []
        for row in layout.rows:
            keys = layout.stage_keys(row.key)
            if layout.derive(tuple(keys), file_base) != layout.derive(tuple(keys), server_base):
                out.append((*self.stage(version, row.key), "total_mismatch"))
        for stage in layout.stage_columns:
            keys = tuple(f"{r.key}.{stage}" for r in layout.rows)
            if layout.derive(keys, file_base) != layout.derive(keys, server_base):
                out.append((*self.stage(version, layout.total_row.key, stage), "total_mismatch"))
        if layout.primary_cases(file_base) != layout.primary_cases(server_base):
            out.append((*self.stage(version, layout.total_row.key), "total_mismatch"))
        return out

    # other writers
    def xlsxwriter_bytes(
        self,
        version: str,
        content: bytes,
        *,
        cached: dict | None = None,
        constant_memory: bool = False,
        no_cache: bool = False,
        excel_style: bool = False,
        floats: bool = False,
        text_cells: dict | None = None,
    ) -> bytes:
        """Re-write an openpyxl workbook with xlsxwriter (an Excel-style writer): its own
        style table, shared strings (or inline strings with ``constant_memory``), formulas
        with cached value 0 (xlsxwriter's default, with fullCalcOnLoad), the ``cached``
        values, or none (``no_cache``). ``excel_style`` drops fullCalcOnLoad as Excel does
        after calculating; ``floats`` stores whole numbers as ``12.0``; ``text_cells``
        writes those cells' values as strings."""
        import xlsxwriter
        from openpyxl import load_workbook

        text_cells = text_cells or {}
        source = load_workbook(io.BytesIO(content))
        out = io.BytesIO()
        wb = xlsxwriter.Workbook(
            out,
            {
                "in_memory": True,
                "constant_memory": constant_memory,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
            },
        )
        header = wb.add_format(
            {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E79", "border": 1, "text_wrap": True}
        )
        entered = wb.add_format({"bg_color": "#FFF4CC", "border": 1, "locked": False})
        locked = wb.add_format({"bg_color": "#E7E6E6", "border": 1})
        percent = wb.add_format({"bg_color": "#E7E6E6", "border": 1, "num_format": "0.0%"})
        plain = wb.add_format({})
        for ws_src in source.worksheets:
            ws = wb.add_worksheet(ws_src.title)
            for letter, dim in ws_src.column_dimensions.items():
                if dim.width:
                    col = ord(letter[0]) - 65 if len(letter) == 1 else None
                    if col is not None:
                        ws.set_column(col, col, dim.width)
            for row in ws_src.iter_rows():
                for cell in row:
                    value = cell.value
                    if value is None:
                        continue
                    r, c = cell.row - 1, cell.column - 1
                    key = (ws_src.title, cell.coordinate)
                    if cell.fill is not None and cell.fill.fgColor is not None and cell.fill.fgColor.rgb == "00FFF4CC":
                        fmt = entered
                    elif cell.font is not None and cell.font.color is not None and cell.font.color.rgb == "00FFFFFF":
                        fmt = header
                    elif cell.number_format == "0.0%":
                        fmt = percent
                    elif (
                        cell.fill is not None and cell.fill.fgColor is not None and cell.fill.fgColor.rgb == "00E7E6E6"
                    ):
                        fmt = locked
                    else:
                        fmt = plain
                    if key in text_cells:
                        ws.write_string(r, c, text_cells[key], fmt)
                    elif isinstance(value, str) and value.startswith("="):
                        if no_cache:
                            ws.write_formula(r, c, value, fmt, "")
                        elif cached is not None and key in cached:
                            ws.write_formula(r, c, value, fmt, cached[key])
                        else:
                            ws.write_formula(r, c, value, fmt)
                    elif isinstance(value, bool):
                        ws.write_boolean(r, c, value, fmt)
                    elif isinstance(value, (int, float)):
                        ws.write_number(r, c, value, fmt)
                    elif isinstance(value, (dt.datetime, dt.date)):
                        ws.write_datetime(r, c, value, wb.add_format({"num_format": "dd.mm.yyyy"}))
                    else:
                        ws.write_string(r, c, str(value), fmt)
            ws.protect()
        layout = self.layouts[version]
        wb.define_name("QIP_TEMPLATE", f'="{layout.template_id}"')
        wb.close()
        result = out.getvalue()
        if excel_style:
            result = zip_edit(result, {"xl/workbook.xml": lambda x: x.replace(b' fullCalcOnLoad="1"', b"")})
        if floats:
            number = re.compile(rb'(<c r="[A-Z]+[0-9]+"(?: s="[0-9]+")?>)<v>([0-9]+)</v>')
            result = zip_edit(
                result, {part: (lambda x: number.sub(rb"\1<v>\2.0</v>", x)) for part in SHEET_PART.values()}
            )
        return result


def soffice_convert(jobs: list[tuple[str, bytes]], fmt: str = "xlsx") -> dict[str, bytes] | None:
    """Re-save files with LibreOffice Calc (one soffice run); None if it is not installed."""
    binary = shutil.which("soffice") or shutil.which("libreoffice")
    if binary is None or not jobs:
        return None if binary is None else {}
    with tempfile.TemporaryDirectory(prefix="corpus-lo-") as tmp:
        src, out = Path(tmp, "in"), Path(tmp, "out")
        src.mkdir()
        out.mkdir()
        paths = []
        for name, content in jobs:
            path = src / name
            path.write_bytes(content)
            paths.append(str(path))
        subprocess.run(
            [
                binary,
                f"-env:UserInstallation=file://{tmp}/profile",
                "--headless",
                "--convert-to",
                fmt,
                "--outdir",
                str(out),
                *paths,
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
        return {name: (out / (Path(name).stem + "." + fmt)).read_bytes() for name, _c in jobs}


# ---- cases ------------------------------------------------------------------------------


def build(b: Builder, c: Corpus) -> None:
    good_cases(b, c)
    container_cases(b, c)
    structure_cases(b, c)
    cover_cases(b, c)
    value_cases(b, c)
    combination_cases(b, c)
    writer_cases(b, c)
    hostile_cases(b, c)


def good_cases(b: Builder, c: Corpus) -> None:
    for version in YEARS:
        values = b.values(version)
        ref = b.reference(version, values)
        tag = version.replace(".", "").lower()
        content = b.filled(version, values)
        c.add_good(
            f"openpyxl_{tag}.xlsx",
            content,
            f"{version}: the portal template filled with openpyxl (no cached formula values)",
            version,
            ref,
        )
        c.libreoffice(
            "good",
            f"libreoffice_{tag}.xlsx",
            content,
            description=f"{version}: the openpyxl file re-saved by LibreOffice Calc (cached values, LibreOffice styles and shared strings)",
            version=version,
            indicators=ref,
            warnings=[],
        )
    # KJ2022: xlsxwriter in all variants
    v = "KJ2022"
    values = b.values(v)
    ref = b.reference(v, values)
    base = b.filled(v, values)
    cached = b.cached(v, values)
    c.add_good(
        "xlsxwriter_kj2022.xlsx",
        b.xlsxwriter_bytes(v, base),
        "KJ2022 written by xlsxwriter: shared strings, formulas with xlsxwriter's placeholder result 0 and fullCalcOnLoad",
        v,
        ref,
    )
    c.add_good(
        "xlsxwriter_constant_memory_kj2022.xlsx",
        b.xlsxwriter_bytes(v, base, constant_memory=True, no_cache=True),
        "KJ2022 written by xlsxwriter in constant_memory mode: inline strings, formulas without cached values",
        v,
        ref,
    )
    c.add_good(
        "xlsxwriter_cached_kj2022.xlsx",
        b.xlsxwriter_bytes(v, base, cached=cached),
        "KJ2022 written by xlsxwriter with correct cached formula results (still fullCalcOnLoad)",
        v,
        ref,
    )
    c.add_good(
        "xlsxwriter_floats_kj2022.xlsx",
        b.xlsxwriter_bytes(v, base, floats=True, constant_memory=True),
        "KJ2022 by xlsxwriter (inline strings) with every whole number stored as a float (12.0)",
        v,
        ref,
    )
    v = "KJ2024"
    values = b.values(v)
    ref = b.reference(v, values)
    base = b.filled(v, values)
    cached = b.cached(v, values)
    excel = b.xlsxwriter_bytes(v, base, cached=cached, excel_style=True)
    c.add_good(
        "excel_style_cached_kj2024.xlsx",
        excel,
        "KJ2024 as Excel saves it: xlsxwriter layout with correct cached results and no fullCalcOnLoad (cached totals and Quote are compared and agree)",
        v,
        ref,
    )
    c.libreoffice(
        "good",
        "libreoffice_from_xlsxwriter_kj2024.xlsx",
        b.xlsxwriter_bytes(v, base, constant_memory=True, cached=cached),
        description="KJ2024 written by xlsxwriter (inline strings, cached results, fullCalcOnLoad) and re-saved by LibreOffice",
        version=v,
        indicators=ref,
        warnings=[],
    )
    c.add_good(
        "xlsxwriter_cached_c21.xlsx",
        b.xlsxwriter_bytes(
            "C2.1", b.filled("C2.1"), cached=b.cached("C2.1", b.values("C2.1")), excel_style=True, constant_memory=True
        ),
        "C2.1 by xlsxwriter with inline strings, correct cached values, no fullCalcOnLoad",
        "C2.1",
        b.reference("C2.1", b.values("C2.1")),
    )

    # floats with openpyxl: every entered count as 12.0
    v = "KJ2022"
    values = b.values(v)
    from tests.datasheets.helpers import value_edits

    edits = {k: (float(x) if isinstance(x, int) else x) for k, x in value_edits(b.layouts[v], values).items()}
    c.add_good(
        "openpyxl_floats_kj2022.xlsx",
        b.edit(b.blank(v), edits),
        "KJ2022 typed into the empty template by openpyxl with every count as a float (12.0)",
        v,
        b.reference(v, values),
    )

    # integer text (warnings number_as_text)
    v = "KJ2024"
    values = b.values(v)
    cells = {
        b.k(v, "12", "Zähler"): "16",
        b.k(v, "12", "Nenner"): " 20 ",
        b.k(v, "OH-1", "Zähler"): "\u00a016",
        b.field(v, "study.own"): "5",
        b.stage(v, "larynx.operated", "II"): " 3",
    }
    content = b.edit(b.filled(v, values), cells)
    c.add_good(
        "openpyxl_integer_text_kj2024.xlsx",
        content,
        'KJ2024 with unambiguous integers typed as text ("16", " 20 ", no-break space, a stage cell " 3"): accepted with number_as_text warnings',
        v,
        b.reference(v, values),
        [(*cell, "number_as_text") for cell in cells],
    )
    text_cells = {b.k(v, "13", "Zähler"): "16", b.k(v, "14", "Nenner"): "20"}
    c.add_good(
        "xlsxwriter_integer_text_kj2024.xlsx",
        b.xlsxwriter_bytes(v, b.filled(v, values), constant_memory=True, text_cells=text_cells),
        "KJ2024 by xlsxwriter (inline strings) with two counts written as text",
        v,
        b.reference(v, values),
        [(*cell, "number_as_text") for cell in text_cells],
    )
    c.libreoffice(
        "good",
        "libreoffice_integer_text_kj2022.xlsx",
        b.edit(b.filled("KJ2022"), {b.k("KJ2022", "12", "Zähler"): "16", b.k("KJ2022", "20", "Nenner"): "20"}),
        description="KJ2022 with two Kennzahlen counts typed as text, re-saved by LibreOffice (text stays text)",
        version="KJ2022",
        indicators=b.reference("KJ2022", b.values("KJ2022")),
        warnings=expected(
            (*b.k("KJ2022", "12", "Zähler"), "number_as_text"), (*b.k("KJ2022", "20", "Nenner"), "number_as_text")
        ),
    )

    # labels re-cased and re-spaced, sheet names re-cased
    v = "KJ2022"
    values = b.values(v)

    def recase(wb):
        wb["Kennzahlen"]["C3"] = "  zähler "
        wb["Kennzahlen"]["A3"] = "KEZA"
        wb["Kennzahlen"]["I3"] = "begründung"
        wb["Kennzahlen"]["D3"] = "Nenner\n"
        wb["Basisdaten"]["A4"] = " MUNDHÖHLE   operativ"
        wb["Basisdaten"]["I3"] = "gesamt"
        wb["Basisdaten"]["F3"] = " iva "
        wb["Basisdaten"][f"A{b.layouts[v].base_row_number('total')}"] = "Primärfälle  Gesamt"
        wb["Deckblatt"]["A3"] = "reg.-nr."
        wb["Deckblatt"]["A10"] = "  Kennzahlenjahr  "

    sheet_case = {
        "xl/workbook.xml": lambda x: x.replace(b'name="Kennzahlen"', b'name="kennzahlen"').replace(
            b'name="Hinweise"', b'name="HINWEISE"'
        )
    }
    c.add_good(
        "openpyxl_labels_recased_kj2022.xlsx",
        zip_edit(b.workbook_edit(b.filled(v, values), recase), sheet_case),
        "KJ2022 with header labels, row labels and two sheet names in other case and spacing",
        v,
        b.reference(v, values),
    )

    # rows re-ordered, Hinweise deleted, sheets re-ordered, KeZa codes as numbers
    v = "KJ2024"
    values = b.values(v)
    layout = b.layouts[v]

    def reorder(wb):
        ws = wb["Kennzahlen"]
        first, last = (
            layout.indicator_row_number(layout.indicators[0].code),
            layout.indicator_row_number(layout.indicators[-1].code),
        )
        rows = [[ws.cell(r, col).value for col in range(1, 10)] for r in range(first, last + 1)]
        for offset, row in enumerate(reversed(rows)):
            for col, value in enumerate(row, start=1):
                if col in (5, 8):  # Quote, Bewertung refer to their own row: drop
                    value = None
                if col == 1 and isinstance(value, str) and value.isdigit():
                    value = int(value)  # KeZa typed as a number
                ws.cell(first + offset, col).value = value
        del wb["Hinweise"]
        wb.move_sheet("Kennzahlen", offset=-2)

    c.add_good(
        "openpyxl_rows_reordered_kj2024.xlsx",
        b.workbook_edit(b.filled(v, values), reorder),
        "KJ2024 with the Kennzahlen rows in reverse order (KeZa codes as numbers), sheets re-ordered and the Hinweise sheet deleted",
        v,
        b.reference(v, values),
    )

    # C2.1 KN 5 counts events: numerator above the denominator is fine
    v = "C2.1"
    values = b.values(v)
    primary = b.layouts[v].primary_cases(values.base)
    content = b.edit(
        b.filled(v, values),
        {
            b.k(v, "5", "Zähler"): primary + 7,
            b.k(v, "5", "Begründung"): "Viele Studien, Patienten mehrfach eingeschlossen.",
        },
    )
    ref = b.reference(v, values)
    ref["5"] = [primary + 7, primary]
    c.add_good(
        "openpyxl_counts_events_c21.xlsx",
        content,
        "C2.1 KN 5 (study inclusions count events): numerator above the denominator is allowed",
        v,
        ref,
    )

    # empty stage cells (= 0) and empty optional study fields, lower-case Reg.-Nr.
    v = "KJ2024"
    values = b.values(v)
    for key in ("study.own", "study.sent", "study.received"):
        values.base[key] = None
    for stage in ("in situ", "IVC"):
        values.base[f"nasal_sinuses.not_operated.{stage}"] = None
    primary = b.layouts[v].primary_cases(values.base)
    values.base["reconstruction.0"] = primary
    _justify(b.layouts[v], values)
    content = b.edit(b.filled(v, values), {b.cover("registration_number"): "kht-a01"})
    c.add_good(
        "openpyxl_empty_cells_kj2024.xlsx",
        content,
        "KJ2024 with empty stage cells (0 cases), empty optional study fields and the Reg.-Nr. in lower case",
        v,
        b.reference(v, values),
    )

    # Quote overwritten: warning only
    v = "KJ2022"
    values = b.values(v)
    quote = b.k(v, "2", "Quote")
    content = b.edit(b.filled(v, values), {quote: 0.95})
    c.add_good(
        "openpyxl_quote_overwritten_kj2022.xlsx",
        content,
        "KJ2022 whose Quote formula of KeZa 2 was overwritten with 95 % (the real rate is 80 %): cached_value_mismatch warning",
        v,
        b.reference(v, values),
        [(*quote, "cached_value_mismatch")],
    )
    c.libreoffice(
        "good",
        "libreoffice_quote_overwritten_kj2022.xlsx",
        content,
        description="the same, re-saved by LibreOffice",
        version=v,
        indicators=b.reference(v, values),
        warnings=expected((*quote, "cached_value_mismatch")),
    )
    v = "KJ2024"
    values = b.values(v)
    cached = b.cached(v, values)
    q1, q2 = b.k(v, "3", "Quote"), b.k(v, "2b", "Quote")
    cached[q1] = 0.5  # stale or typed over
    cached[q2] = round(cached[q2], 3)  # rounded to 0.1 %: still fine
    c.add_good(
        "excel_style_quote_mismatch_kj2024.xlsx",
        b.xlsxwriter_bytes(v, b.filled(v, values), cached=cached, excel_style=True),
        "KJ2024 Excel-style with one cached Quote that disagrees (warning) and one rounded to 0.1 % (no warning)",
        v,
        b.reference(v, values),
        [(*q1, "cached_value_mismatch")],
    )


def _justify(layout, values) -> None:
    """Give every value flagged after an edit of ``values`` a Begründung."""
    from indicators.domain import evaluate

    for ind in layout.indicators:
        num, den, text = values.indicators[ind.code]
        n = num if num is not None else layout.derive(ind.numerator_source, values.base)
        d = None if ind.is_count else (den if den is not None else layout.derive(ind.denominator_source, values.base))
        if evaluate(n, d, ind.rule) and not text:
            values.indicators[ind.code] = (num, den, "Begründung: Sondereffekt im Kennzahlenjahr.")


def container_cases(b: Builder, c: Corpus) -> None:
    v = "KJ2022"
    base = b.filled(v)
    a1 = (FILE, "A1", "file_type")
    c.add_bad(
        "container_xls_biff8.xls",
        cfb_file(["Workbook", "\x05SummaryInformation"], b"\x09\x08\x10\x00\x00\x06\x05\x00" * 64),
        "Excel 97-2003 workbook (.xls, BIFF8 in a Compound File)",
        [a1],
    )
    c.add_bad(
        "container_password_protected.xlsx",
        cfb_file(["EncryptionInfo", "EncryptedPackage", "\x06DataSpaces"], random.Random(1).randbytes(4096)),
        "password-protected .xlsx (an encrypted OOXML package is a Compound File)",
        [a1],
    )
    vba = zip_edit(
        base,
        {
            "[Content_Types].xml": lambda x: add_content_type(
                x.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                ),
                "xl/vbaProject.bin",
                "application/vnd.ms-office.vbaProject",
            ),
            "xl/_rels/workbook.xml.rels": lambda x: add_workbook_rel(
                x, "rIdVba", "http://schemas.microsoft.com/office/2006/relationships/vbaProject", "vbaProject.bin"
            ),
        },
        add=[
            (
                "xl/vbaProject.bin",
                cfb_file(
                    ["VBA", "PROJECT", "dir"],
                    b'Attribute VB_Name = "Modul1"\r\nSub Auto_Open()\r\nShell "cmd.exe"\r\nEnd Sub\r\n',
                ),
            )
        ],
    )
    macro = [(FILE, "xl/vbaProject.bin", "unsafe_content"), (FILE, "[Content_Types].xml", "unsafe_content")]
    c.add_bad("container_xlsm_with_vba.xlsm", vba, "macro-enabled workbook (.xlsm) with a VBA project", macro)
    c.add_bad("container_vba_renamed.xlsx", vba, "the same macro workbook renamed to .xlsx", macro)
    c.add_bad(
        "container_macro_content_type.xlsx",
        zip_edit(
            base,
            {
                "[Content_Types].xml": lambda x: x.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
            },
        ),
        "workbook declared macro-enabled in [Content_Types].xml (no VBA part)",
        [(FILE, "[Content_Types].xml", "unsafe_content")],
    )
    c.libreoffice(
        "bad",
        "container_ods.ods",
        base,
        description="LibreOffice Calc spreadsheet (.ods)",
        expected=expected(a1),
        uploader="coordinator_a",
        web="form_error",
        fmt="ods",
    )
    c.libreoffice(
        "bad",
        "container_ods_renamed.xlsx",
        base,
        description="LibreOffice Calc spreadsheet (.ods) renamed to .xlsx",
        expected=expected(a1),
        uploader="coordinator_a",
        web="failed",
        fmt="ods",
    )
    csv = "KeZa;Kennzahl;Zähler;Nenner\r\n1a;Anzahl Primärfälle;210;\r\n2;Prätherapeutische Tumorkonferenz;168;210\r\n".encode(
        "cp1252"
    )
    c.add_bad("container_csv_semicolon.xlsx", csv, "CSV export (semicolons, Windows-1252) renamed to .xlsx", [a1])
    html = '<html xmlns:x="urn:schemas-microsoft-com:office:excel"><head><meta charset="utf-8"></head><body><table><tr><td>KeZa</td><td>Zähler</td></tr><tr><td>2</td><td>168</td></tr></table></body></html>'.encode()
    c.add_bad("container_html_export.xlsx", html, "HTML table saved by a browser/old Excel, renamed to .xlsx", [a1])
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    c.add_bad("container_pdf_renamed.xlsx", pdf, "PDF print of the data sheet renamed to .xlsx", [a1])
    c.add_bad("container_empty.xlsx", b"", "empty file (0 bytes)", [a1], web="form_error")
    c.add_bad(
        "container_truncated.xlsx", base[: len(base) * 3 // 5], "truncated download (first 60 % of a valid file)", [a1]
    )
    c.add_bad(
        "container_corrupt_part.xlsx",
        corrupt_part(base, SHEET_PART[K]),
        "damaged file: the compressed Kennzahlen sheet has garbage in the middle",
        [(FILE, SHEET_PART[K], "file_type")],
    )
    docx = zip_build(
        [
            (
                "[Content_Types].xml",
                b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
            ),
            (
                "word/document.xml",
                b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Datenblatt</w:t></w:r></w:p></w:body></w:document>',
            ),
        ]
    )
    c.add_bad("container_docx_renamed.xlsx", docx, "Word document (.docx) renamed to .xlsx", [a1])
    c.add_bad(
        "container_zip_archive_renamed.xlsx",
        zip_build([("Datenblatt_KHT-A01_KJ2022.xlsx", base)]),
        "the data sheet zipped and the archive renamed to .xlsx",
        [a1],
    )
    ext = zip_edit(
        base,
        {
            "[Content_Types].xml": lambda x: add_content_type(
                x,
                "xl/externalLinks/externalLink1.xml",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml",
            ),
            "xl/_rels/workbook.xml.rels": lambda x: add_workbook_rel(
                x,
                "rIdExt1",
                "http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLink",
                "externalLinks/externalLink1.xml",
            ),
        },
        add=[
            (
                "xl/externalLinks/externalLink1.xml",
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><externalBook r:id="rId1"><sheetNames><sheetName val="Kennzahlen"/></sheetNames></externalBook></externalLink>',
            ),
            (
                "xl/externalLinks/_rels/externalLink1.xml.rels",
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLinkPath" Target="file:///\\\\fileserver\\qm\\Datenblatt_2021.xlsx" TargetMode="External"/></Relationships>',
            ),
        ],
    )
    c.add_bad(
        "container_external_link.xlsx",
        ext,
        "workbook with an external link to last year's file on a network share",
        [(FILE, "xl/externalLinks", "unsafe_content")],
    )
    lol = b'<!DOCTYPE worksheet [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    c.add_bad(
        "container_dtd_billion_laughs.xlsx",
        zip_edit(base, {SHEET_PART[D]: lambda x: insert_before_root(x, b"worksheet", lol)}),
        "entity expansion bomb (billion laughs) in the Deckblatt sheet",
        [(FILE, SHEET_PART[D], "unsafe_content")],
    )
    xxe = b'<!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    xw_base = b.xlsxwriter_bytes(v, base)  # with a shared strings table (openpyxl writes inline strings)
    c.add_bad(
        "container_xxe_shared_strings.xlsx",
        zip_edit(
            xw_base,
            {
                "xl/sharedStrings.xml": lambda x: insert_before_root(x, b"sst", xxe).replace(
                    b"<t>Kennzahlen</t>", b"<t>&xxe;</t>", 1
                )
            },
        ),
        "external entity (XXE) reading a server file from the shared strings",
        [(FILE, "xl/sharedStrings.xml", "unsafe_content")],
    )

    def utf16(x: bytes) -> bytes:
        text = x.decode("utf-8")
        text = re.sub(r"<\?xml[^>]*\?>", "", text)
        text = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE workbook [<!ENTITY name "KHT">]>\n' + text
        return text.encode("utf-16")

    c.add_bad(
        "container_dtd_utf16_workbook.xlsx",
        zip_edit(base, {"xl/workbook.xml": utf16}),
        "DTD hidden in a UTF-16 encoded workbook part",
        [(FILE, "xl/workbook.xml", "unsafe_content")],
    )
    c.add_bad(
        "container_dtd_rels.xlsx",
        zip_edit(
            base,
            {
                "_rels/.rels": lambda x: insert_before_root(
                    x, b"Relationships", b'<!DOCTYPE Relationships SYSTEM "http://example.org/evil.dtd">'
                )
            },
        ),
        "external DTD in the package relationships",
        [(FILE, "_rels/.rels", "unsafe_content")],
    )
    c.add_bad(
        "container_zip_bomb_declared.xlsx",
        zip_edit(base, add=[("customXml/item1.xml", b"<a>" + b" " * (60 * 1024 * 1024) + b"</a>")], level=9),
        "zip bomb: a 60 MB part (declared total above 50 MB, compression ratio ~1000)",
        [(FILE, "A1", "unsafe_content"), (FILE, "customXml/item1.xml", "unsafe_content")],
    )

    def pad(x: bytes) -> bytes:
        return x.replace(b"</worksheet>", b" " * (3 * 1024 * 1024) + b"</worksheet>")

    c.add_bad(
        "container_ratio_bomb_hinweise.xlsx",
        zip_edit(base, {SHEET_PART["Hinweise"]: pad}, level=9),
        "compression-ratio bomb below 50 MB: the Hinweise sheet padded to 3 MB of blanks",
        [(FILE, "A1", "unsafe_content"), (FILE, SHEET_PART["Hinweise"], "unsafe_content")],
    )
    many = [(f"customXml/item{i}.xml", b"<a>" + b"\n" * 1_000_000 + b"</a>") for i in range(1, 41)]
    c.add_bad(
        "container_ratio_bomb_many_parts.xlsx",
        zip_edit(base, add=many, level=9),
        "40 parts of just under 1 MB each, ratio ~1000 (missed by a 1 MiB per-part threshold)",
        [(FILE, "A1", "unsafe_content"), (FILE, "customXml/item1.xml", "unsafe_content")],
    )
    small = [(f"customXml/item{i}.xml", b"<a>" + b"\t" * 260_000 + b"</a>") for i in range(1, 171)]
    c.add_bad(
        "container_ratio_bomb_small_parts.xlsx",
        zip_edit(base, add=small, level=9),
        "170 parts of 254 KiB each (44 MB in total): every part below the per-part threshold, the archive's ratio ~1000",
        [(FILE, "A1", "unsafe_content")],
    )
    parts = [(f"customXml/item{i}.xml", f"<a>{i}</a>".encode()) for i in range(1, 251)]
    c.add_bad(
        "container_too_many_parts.xlsx",
        zip_edit(base, add=parts),
        "260 parts (more than 200)",
        [(FILE, "A1", "unsafe_content")],
    )
    c.add_bad(
        "container_oversize.xlsx",
        None,
        "6 MB file: a valid data sheet with a large incompressible picture (generated by the test)",
        [(FILE, "A1", "file_too_large")],
        web="form_error",
        generate="oversize",
        base="good/openpyxl_kj2022.xlsx",
    )
    c.add_bad(
        "container_zip_encrypted_entry.xlsx",
        set_encrypted_flag(base, SHEET_PART[K]),
        "zip-level (PKWARE) encryption of the Kennzahlen part",
        [(FILE, SHEET_PART[K], "file_type")],
    )
    with zipfile.ZipFile(io.BytesIO(b.edit(base, {b.k(v, "12", "Zähler"): 1}))) as zf:
        other = zf.read(SHEET_PART[K])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name" is the point
        dup = zip_build([*zip_parts(base), (SHEET_PART[K], other)])
    c.add_bad(
        "container_duplicate_part.xlsx",
        dup,
        "two zip entries with the same name (the Kennzahlen sheet twice, different values)",
        [(FILE, SHEET_PART[K], "unsafe_content")],
    )

    def far_cell(sheet: str, ref: str, value):
        def fn(wb):
            wb[sheet][ref] = value

        return fn

    c.add_bad(
        "container_absurd_dimension_xfd.xlsx",
        b.workbook_edit(base, far_cell(K, "XFD1048576", "x")),
        "a value in the last cell of the Kennzahlen sheet (XFD1048576)",
        [(K, "XFD1048576", "unsafe_content")],
    )
    c.add_bad(
        "container_absurd_dimension_declared.xlsx",
        zip_edit(
            base,
            {SHEET_PART[B]: lambda x: re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1:XFD1048576"/>', x)},
        ),
        "Basisdaten declares the dimension A1:XFD1048576",
        [(B, "XFD1048576", "unsafe_content")],
    )
    c.add_bad(
        "container_absurd_last_row.xlsx",
        b.workbook_edit(b.filled("KJ2024"), far_cell(D, "A1048576", "Ende")),
        "KJ2024 with a note in the last row of the Deckblatt (A1048576)",
        [(D, "A1048576", "unsafe_content")],
    )
    c.add_bad(
        "container_malformed_xml.xlsx",
        zip_edit(base, {SHEET_PART[K]: lambda x: x[: len(x) // 2]}),
        "Kennzahlen sheet XML cut off in the middle (not well-formed)",
        [a1],
    )
    c.add_bad(
        "container_missing_sheet_part.xlsx",
        zip_edit(base, drop=(SHEET_PART[B],)),
        "the Basisdaten sheet part is missing from the package (openpyxl skips it: reported as the missing sheet)",
        [(B, "A1", "sheet_missing")],
    )
    c.add_bad(
        "container_bad_shared_string_index.xlsx",
        zip_edit(
            xw_base,
            {SHEET_PART[K]: lambda x: re.sub(rb'(<c r="B4"[^>]*t="s"[^>]*><v>)[0-9]+(</v>)', rb"\g<1>99999\2", x)},
        ),
        "a cell refers to shared string 99999 (the table has ~100)",
        [a1],
    )
    c.add_bad(
        "container_number_inf.xlsx",
        zip_edit(base, {SHEET_PART[K]: lambda x: re.sub(rb'(<c r="C18"[^>]*><v>)[0-9]+(</v>)', rb"\g<1>inf\2", x)}),
        "a numeric cell holding 'inf'",
        [a1],
    )
    c.add_bad(
        "container_absurd_and_dtd.xlsx",
        zip_edit(
            zip_edit(
                xw_base,
                {
                    SHEET_PART[K]: lambda x: x.replace(
                        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
                    )
                },
            ),
            {"xl/sharedStrings.xml": lambda x: insert_before_root(x, b"sst", xxe)},
        ),
        "both at once: an XXE in the shared strings and a value at Kennzahlen!XFD1048576",
        [(FILE, "xl/sharedStrings.xml", "unsafe_content"), (K, "XFD1048576", "unsafe_content")],
    )
    both = zip_edit(
        vba,
        {
            "[Content_Types].xml": lambda x: add_content_type(
                x,
                "xl/externalLinks/externalLink1.xml",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml",
            ),
        },
        add=[p for p in zip_parts(ext) if p[0].startswith("xl/externalLinks/")],
    )
    c.add_bad(
        "container_vba_and_external_link.xlsx",
        both,
        "macros and an external link at once",
        [*macro, (FILE, "xl/externalLinks", "unsafe_content")],
    )


def structure_cases(b: Builder, c: Corpus) -> None:
    def delete(name):
        def fn(wb):
            del wb[name]

        return fn

    def rename(old, new):
        def fn(wb):
            wb[old].title = new

        return fn

    def template_name(value):
        def fn(wb):
            from openpyxl.workbook.defined_name import DefinedName

            del wb.defined_names["QIP_TEMPLATE"]
            if value is not None:
                wb.defined_names["QIP_TEMPLATE"] = DefinedName("QIP_TEMPLATE", attr_text=f'"{value}"')

        return fn

    c.add_bad(
        "structure_sheet_missing_basisdaten_kj2022.xlsx",
        b.workbook_edit(b.filled("KJ2022"), delete(B)),
        "KJ2022 without the Basisdaten sheet",
        [(B, "A1", "sheet_missing")],
    )
    c.add_bad(
        "structure_sheet_missing_kennzahlen_c21.xlsx",
        b.workbook_edit(b.filled("C2.1"), delete(K)),
        "C2.1 without the Kennzahlen sheet",
        [(K, "A1", "sheet_missing")],
    )
    c.add_bad(
        "structure_sheet_renamed_kj2024.xlsx",
        b.workbook_edit(b.filled("KJ2024"), rename(K, "Kennzahlen 2024")),
        "KJ2024 with the Kennzahlen sheet renamed 'Kennzahlen 2024'",
        [(K, "A1", "sheet_missing")],
    )
    c.add_bad(
        "structure_sheet_missing_deckblatt_kj2022.xlsx",
        b.workbook_edit(b.filled("KJ2022"), delete(D)),
        "KJ2022 without the Deckblatt",
        [(D, "A1", "sheet_missing")],
    )
    c.add_bad(
        "structure_label_missing_cover_year.xlsx",
        b.edit(b.filled("KJ2022"), {(D, "A10"): "Jahr"}),
        "KJ2022 Deckblatt label 'Kennzahlenjahr' changed to 'Jahr'",
        [(D, "A10", "label_missing")],
    )
    c.add_bad(
        "structure_label_missing_nenner_header.xlsx",
        b.edit(b.filled("KJ2022"), {(K, "D3"): "Grundgesamtheit"}),
        "KJ2022 header 'Nenner' renamed 'Grundgesamtheit'",
        [(K, "D3", "label_missing")],
    )
    cell = b.k("KJ2022", "12", "KeZa")
    c.add_bad(
        "structure_label_missing_keza_row.xlsx",
        b.edit(b.filled("KJ2022"), {cell: None}),
        "KJ2022 KeZa code of row 12 deleted",
        [(*cell, "label_missing")],
    )
    row = ("C2.1", "oral_cavity.not_operated")
    label_cell = (B, f"A{b.layouts['C2.1'].base_row_number(row[1])}")
    c.add_bad(
        "structure_label_missing_base_row_c21.xlsx",
        b.edit(b.filled("C2.1"), {label_cell: "Mundhöhle konservativ"}),
        "C2.1 Basisdaten row 'Mundhöhle nicht operativ' relabelled",
        [(*label_cell, "label_missing")],
    )
    c.add_bad(
        "structure_label_missing_stage_header.xlsx",
        b.edit(b.filled("KJ2022"), {(B, "F3"): "IV A"}),
        "KJ2022 UICC column 'IVA' written 'IV A'",
        [(B, "F3", "label_missing")],
    )
    field = b.field("KJ2024", "reconstruction.2")
    label = (B, "A" + field[1][1:])
    c.add_bad(
        "structure_label_missing_block_field.xlsx",
        b.edit(b.filled("KJ2024"), {label: "Rekonstruktion (sonstige)"}),
        "KJ2024 label of reconstruction category 2 changed",
        [(*label, "label_missing")],
    )
    c.add_bad(
        "structure_template_unknown_version.xlsx",
        b.workbook_edit(b.filled("KJ2022"), template_name("KHT/KJ2030/1")),
        "template id of a catalogue version the portal does not know (KHT/KJ2030/1)",
        [(D, "A1", "template_unknown")],
    )
    c.add_bad(
        "structure_template_unknown_revision.xlsx",
        b.workbook_edit(b.filled("KJ2022"), template_name("KHT/KJ2022/2")),
        "template of a layout revision that does not exist (KHT/KJ2022/2)",
        [(D, "A1", "template_unknown")],
    )
    c.add_bad(
        "structure_template_unknown_no_name.xlsx",
        b.edit(b.workbook_edit(b.filled("KJ2022"), template_name(None)), {b.cover("catalogue_version"): "2021"}),
        "home-made copy: no QIP_TEMPLATE name and Katalogversion '2021'",
        [(*b.cover("catalogue_version"), "template_unknown")],
    )
    c.add_bad(
        "structure_template_other_programme.xlsx",
        b.workbook_edit(b.filled("KJ2024"), template_name("BZ/KJ2024/1")),
        "template of another certification programme (BZ/KJ2024/1)",
        [(D, "A1", "template_unknown")],
    )
    year_edits = lambda y: {b.cover("indicator_year"): y, b.cover("audit_year"): y + 1}  # noqa: E731
    cv = b.cover("catalogue_version")
    c.add_bad(
        "structure_catalogue_mismatch_kj2024_for_2022.xlsx",
        b.edit(b.filled("KJ2024"), year_edits(2022)),
        "KJ2024 template used for Kennzahlenjahr 2022 (KJ2022 applies)",
        [(*cv, "catalogue_mismatch")],
    )
    c.add_bad(
        "structure_catalogue_mismatch_c21_for_2024.xlsx",
        b.edit(b.filled("C2.1"), year_edits(2024)),
        "old C2.1 template used for Kennzahlenjahr 2024",
        [(*cv, "catalogue_mismatch")],
    )
    c.add_bad(
        "structure_catalogue_mismatch_kj2022_for_2015.xlsx",
        b.edit(b.filled("KJ2022"), year_edits(2015)),
        "KJ2022 template used for Kennzahlenjahr 2015 (C2.1 applies)",
        [(*cv, "catalogue_mismatch")],
    )


def cover_cases(b: Builder, c: Corpus) -> None:
    reg, year, audit = b.cover("registration_number"), b.cover("indicator_year"), b.cover("audit_year")
    c.add_bad(
        "cover_site_unknown.xlsx",
        b.edit(b.filled("KJ2022"), {reg: "KHT-Z99"}),
        "Reg.-Nr. of no site (KHT-Z99)",
        [(*reg, "site_unknown")],
    )
    c.add_bad(
        "cover_site_forbidden_other_centre.xlsx",
        b.filled("KJ2022", site=b.site_b),
        "coordinator of KHT-A01 uploads the data sheet of KHT-B01",
        [(*reg, "site_forbidden")],
    )
    c.add_bad(
        "cover_site_forbidden_office_wrong_site.xlsx",
        b.filled("KJ2024", site=b.site_b),
        "office uploads the KHT-B01 sheet with site KHT-A01 chosen in the form "
        "(site_mismatch since issue 9: the office may submit for both)",
        [(*reg, "site_mismatch")],
        uploader="office",
    )
    c.add_bad(
        "cover_registration_empty_c21.xlsx",
        b.edit(b.filled("C2.1"), {reg: None}),
        "C2.1 with the Reg.-Nr. deleted",
        [(*reg, "required")],
    )
    c.add_bad(
        "cover_year_without_catalogue.xlsx",
        b.edit(b.filled("KJ2022"), {year: 2099, audit: 2100}),
        "Kennzahlenjahr 2099 (no catalogue, future)",
        [(*year, "year_mismatch")],
    )
    c.add_bad(
        "cover_year_too_old_c21.xlsx",
        b.edit(b.filled("C2.1"), {year: 2014, audit: 2015}),
        "C2.1 for Kennzahlenjahr 2014 (before the first catalogue)",
        [(*year, "year_mismatch")],
    )
    c.add_bad(
        "cover_audit_year_mismatch.xlsx",
        b.edit(b.filled("KJ2022"), {audit: 2025}),
        "Auditjahr 2025 for Kennzahlenjahr 2022",
        [(*audit, "year_mismatch")],
    )
    c.add_bad(
        "cover_year_text_kj2024.xlsx",
        b.edit(b.filled("KJ2024"), {year: "KJ 2024"}),
        "Kennzahlenjahr typed as 'KJ 2024'",
        [(*year, "not_integer")],
    )
    c.add_bad(
        "cover_year_empty.xlsx",
        b.edit(b.filled("KJ2022"), {year: None}),
        "Kennzahlenjahr deleted",
        [(*year, "required")],
    )
    c.add_bad(
        "cover_year_date_c21.xlsx",
        b.edit(b.filled("C2.1"), {year: dt.datetime(2015, 12, 31)}),
        "C2.1 Kennzahlenjahr entered as a date (31.12.2015)",
        [(*year, "not_integer")],
        uploader="office",
    )


def value_cases(b: Builder, c: Corpus) -> None:
    def one(name, version, cell, value, code, description, **kw):
        c.add_bad(name, b.edit(b.filled(version), {cell: value}), description, [(*cell, code)], **kw)

    one(
        "value_required_numerator_c21.xlsx",
        "C2.1",
        b.k("C2.1", "3", "Zähler"),
        None,
        "required",
        "C2.1 KN 3 numerator left empty",
    )
    one(
        "value_not_integer_decimal_comma.xlsx",
        "KJ2022",
        b.k("KJ2022", "12", "Zähler"),
        "12,5",
        "not_integer",
        "KJ2022 KeZa 12 numerator '12,5' (German decimal comma)",
    )
    one(
        "value_not_integer_thousands_dot.xlsx",
        "KJ2022",
        b.k("KJ2022", "13", "Nenner"),
        "1.200",
        "not_integer",
        "KJ2022 KeZa 13 denominator '1.200' (German thousands separator)",
    )
    one(
        "value_not_integer_date_kj2024.xlsx",
        "KJ2024",
        b.k("KJ2024", "14", "Zähler"),
        dt.datetime(2024, 3, 12),
        "not_integer",
        "KJ2024 KeZa 14 numerator auto-formatted as a date",
    )
    one(
        "value_not_integer_boolean.xlsx",
        "KJ2022",
        b.k("KJ2022", "20", "Zähler"),
        True,
        "not_integer",
        "KJ2022 KeZa 20 numerator WAHR (boolean)",
    )
    one(
        "value_not_integer_error_div0_c21.xlsx",
        "C2.1",
        b.k("C2.1", "4", "Zähler"),
        "#DIV/0!",
        "not_integer",
        "C2.1 KN 4 numerator holds the error #DIV/0!",
    )
    one(
        "value_not_integer_error_na_kj2024.xlsx",
        "KJ2024",
        b.k("KJ2024", "OH-3", "Nenner"),
        "#N/A",
        "not_integer",
        "KJ2024 OH-3 denominator holds the error #N/A",
    )
    one(
        "value_not_integer_float.xlsx",
        "KJ2024",
        b.k("KJ2024", "OH-1", "Zähler"),
        4.5,
        "not_integer",
        "KJ2024 OH-1 numerator 4.5",
    )
    one(
        "value_not_integer_text.xlsx",
        "KJ2022",
        b.k("KJ2022", "14", "Nenner"),
        "k.A.",
        "not_integer",
        "KJ2022 KeZa 14 denominator 'k.A.' (keine Angabe)",
    )
    one(
        "value_not_integer_with_unit.xlsx",
        "KJ2022",
        b.k("KJ2022", "13", "Zähler"),
        "12 Pat.",
        "not_integer",
        "KJ2022 KeZa 13 numerator '12 Pat.'",
        uploader="office",
    )
    one(
        "value_not_integer_stage_cell_kj2024.xlsx",
        "KJ2024",
        b.stage("KJ2024", "oral_cavity.not_operated", "I"),
        "drei",
        "not_integer",
        "KJ2024 Basisdaten stage cell 'drei' (derived checks wait for valid Basisdaten)",
    )
    one(
        "value_not_integer_block_field_percent.xlsx",
        "KJ2022",
        b.field("KJ2022", "recurrences"),
        "5%",
        "not_integer",
        "KJ2022 recurrences '5%'",
    )
    one("value_negative.xlsx", "KJ2022", b.k("KJ2022", "12", "Zähler"), -3, "negative", "KJ2022 KeZa 12 numerator -3")
    one(
        "value_negative_text_c21.xlsx",
        "C2.1",
        b.k("C2.1", "12", "Nenner"),
        "-7",
        "negative",
        "C2.1 KN 12 denominator '-7' typed as text",
    )
    one(
        "value_negative_stage_cell.xlsx",
        "KJ2022",
        b.stage("KJ2022", "larynx.operated", "III"),
        -1,
        "negative",
        "KJ2022 Basisdaten stage cell -1",
    )
    one(
        "value_too_large.xlsx",
        "KJ2022",
        b.k("KJ2022", "20", "Nenner"),
        1_000_001,
        "too_large",
        "KJ2022 KeZa 20 denominator 1,000,001",
    )
    one(
        "value_too_large_float_kj2024.xlsx",
        "KJ2024",
        b.field("KJ2024", "ent_surgical_volume"),
        2.5e6,
        "too_large",
        "KJ2024 Operative Expertise HNO 2.5E6 (float)",
    )
    one(
        "value_too_large_text_digits.xlsx",
        "KJ2022",
        b.k("KJ2022", "14", "Zähler"),
        "12345678",
        "too_large",
        "KJ2022 KeZa 14 numerator '12345678' typed as text",
    )
    v = "KJ2022"
    c.add_bad(
        "value_numerator_gt_denominator.xlsx",
        b.edit(b.filled(v), {b.k(v, "12", "Zähler"): 21, b.k(v, "12", "Nenner"): 20}),
        "KJ2022 KeZa 12 numerator 21 > denominator 20",
        [(*b.k(v, "12", "Zähler"), "numerator_gt_denominator")],
    )
    primary = b.layouts["KJ2024"].primary_cases(b.values("KJ2024").base)
    c.add_bad(
        "value_numerator_gt_derived_denominator_kj2024.xlsx",
        b.edit(b.filled("KJ2024"), {b.k("KJ2024", "2a", "Zähler"): primary + 40}),
        "KJ2024 KeZa 2a numerator above its denominator derived from the Basisdaten",
        [(*b.k("KJ2024", "2a", "Zähler"), "numerator_gt_denominator")],
    )
    values = b.values(v)
    derived = b.layouts[v].derive(b.layouts[v].indicators[2].denominator_source, values.base)
    one(
        "value_denominator_mismatch.xlsx",
        v,
        b.k(v, "2", "Nenner"),
        derived + 1,
        "denominator_mismatch",
        "KJ2022 derived denominator of KeZa 2 overwritten with the primary cases + 1",
    )
    one(
        "value_derived_numerator_mismatch.xlsx",
        v,
        b.k(v, "1a", "Zähler"),
        200,
        "denominator_mismatch",
        "KJ2022 derived count 1a overwritten with 200 (the Basisdaten give 210)",
    )
    one(
        "value_denominator_mismatch_zero_c21.xlsx",
        "C2.1",
        b.k("C2.1", "6", "Nenner"),
        0,
        "denominator_mismatch",
        "C2.1 derived denominator of KN 6 overwritten with 0",
    )
    one(
        "value_derived_denominator_text.xlsx",
        v,
        b.k(v, "7", "Nenner"),
        "siehe Basisdaten",
        "not_integer",
        "KJ2022 derived denominator of KeZa 7 replaced by text",
    )
    one(
        "value_total_mismatch_row.xlsx",
        v,
        b.stage(v, "oral_cavity.operated"),
        999,
        "total_mismatch",
        "KJ2022 row total (Gesamt) overwritten with 999",
    )
    one(
        "value_total_mismatch_grand.xlsx",
        v,
        b.stage(v, "total"),
        5,
        "total_mismatch",
        "KJ2022 Primärfälle gesamt overwritten with 5",
    )
    one(
        "value_total_mismatch_stage_c21.xlsx",
        "C2.1",
        b.stage("C2.1", "total", "in situ"),
        13,
        "total_mismatch",
        "C2.1 in-situ column total overwritten with 13",
    )
    rec = b.field("KJ2024", "reconstruction.1")
    c.add_bad(
        "value_reconstruction_sum.xlsx",
        b.edit(b.filled("KJ2024"), {rec: 7}),
        "KJ2024 reconstruction categories add up to primary cases + 7",
        [(*b.field("KJ2024", "reconstruction.0"), "reconstruction_sum")],
    )
    one(
        "value_text_too_long.xlsx",
        v,
        b.k(v, "12", "Begründung"),
        "Begründung: " + "x" * 1990,
        "text_too_long",
        "KJ2022 Begründung of 2,002 characters",
    )
    one(
        "value_required_block_field.xlsx",
        v,
        b.field(v, "recurrences"),
        None,
        "required",
        "KJ2022 recurrences left empty",
    )
    one(
        "value_required_radiotherapy_kj2024.xlsx",
        "KJ2024",
        b.field("KJ2024", "rt.external.adjuvant"),
        None,
        "required",
        "KJ2024 radiotherapy external/adjuvant left empty",
    )
    one(
        "value_required_whitespace.xlsx",
        v,
        b.k(v, "20", "Nenner"),
        "   ",
        "required",
        "KJ2022 KeZa 20 denominator only blanks",
    )


def combination_cases(b: Builder, c: Corpus) -> None:
    v = "KJ2022"
    k = lambda code, header: b.k(v, code, header)  # noqa: E731
    edits = {
        k("12", "Zähler"): None,
        k("13", "Zähler"): "12,5",
        k("14", "Zähler"): -3,
        k("20", "Nenner"): 1_000_001,
        k("9", "Zähler"): True,
        k("10", "Zähler"): dt.datetime(2022, 1, 5),
        k("11", "Zähler"): 4.5,
        k("12", "Begründung"): "x" * 2001,
        b.field(v, "recurrences"): None,
    }
    codes = [
        "required",
        "not_integer",
        "negative",
        "too_large",
        "not_integer",
        "not_integer",
        "not_integer",
        "text_too_long",
        "required",
    ]
    c.add_bad(
        "combo_all_value_errors_kj2022.xlsx",
        b.edit(b.filled(v), edits),
        "KJ2022 with nine value errors of six kinds at once",
        [(*cell, code) for cell, code in zip(edits, codes, strict=True)],
    )

    v = "KJ2024"
    k = lambda code, header: b.k(v, code, header)  # noqa: E731
    edits = {
        b.cover("audit_year"): 2026,
        k("13", "Zähler"): "zwölf",
        b.field(v, "reconstruction.1"): 7,
        k("OH-2", "Begründung"): "y" * 2500,
    }
    c.add_bad(
        "combo_cover_and_values_kj2024.xlsx",
        b.edit(b.filled(v, site=b.site_b), edits),
        "KJ2024 of another site with a wrong Auditjahr, a text count, reconstruction categories off and a long Begründung",
        [
            (*b.cover("registration_number"), "site_forbidden"),
            (*b.cover("audit_year"), "year_mismatch"),
            (*k("13", "Zähler"), "not_integer"),
            (*b.field(v, "reconstruction.0"), "reconstruction_sum"),
            (*k("OH-2", "Begründung"), "text_too_long"),
        ],
    )

    v = "C2.1"
    k = lambda code, header: b.k(v, code, header)  # noqa: E731
    edits = {(K, "I3"): "Kommentar", k("3", "Zähler"): -1, k("4", "Nenner"): None, b.cover("audit_year"): 2015}
    c.add_bad(
        "combo_structure_and_values_c21.xlsx",
        b.edit(b.filled(v), edits),
        "C2.1 with the Begründung header renamed, a negative and a missing count and Auditjahr = Kennzahlenjahr",
        [
            (K, "I3", "label_missing"),
            (*k("3", "Zähler"), "negative"),
            (*k("4", "Nenner"), "required"),
            (*b.cover("audit_year"), "year_mismatch"),
        ],
    )

    v = "KJ2024"
    layout = b.layouts[v]
    errors = [(*b.k(v, i.code, "Zähler"), "required") for i in layout.indicators if i.numerator_entered]
    errors += [(*b.k(v, i.code, "Nenner"), "required") for i in layout.indicators if i.denominator_entered]
    errors += [(*b.field(v, f.key), "required") for f in layout.block_fields if f.required]
    c.add_bad(
        "combo_blank_template_kj2024.xlsx",
        b.blank(v),
        "the empty KJ2024 template uploaded as it was downloaded: every mandatory cell reported",
        errors,
    )

    def template_and_reg(wb):
        from openpyxl.workbook.defined_name import DefinedName

        del wb.defined_names["QIP_TEMPLATE"]
        wb.defined_names["QIP_TEMPLATE"] = DefinedName("QIP_TEMPLATE", attr_text='"KHT/XX/1"')
        wb["Deckblatt"]["B3"] = "KHT-999"

    c.add_bad(
        "combo_template_and_site_unknown.xlsx",
        Builder.workbook_edit(b.filled("KJ2022"), template_and_reg),
        "unknown template id and unknown Reg.-Nr.",
        [(D, "A1", "template_unknown"), (*b.cover("registration_number"), "site_unknown")],
    )

    def sheets(wb):
        del wb["Basisdaten"]
        del wb["Hinweise"]
        wb["Kennzahlen"]["C3"] = "Anzahl"

    c.add_bad(
        "combo_sheet_and_label_missing.xlsx",
        Builder.workbook_edit(b.filled("KJ2022"), sheets),
        "KJ2022 without Basisdaten (and Hinweise, which is fine) and with the Zähler header renamed",
        [(B, "A1", "sheet_missing"), (K, "C3", "label_missing")],
    )

    v = "KJ2022"
    edits = {
        b.stage(v, "oral_cavity.operated"): 999,
        b.stage(v, "total", "I"): 1,
        b.stage(v, "total"): 5,
        b.k(v, "2", "Nenner"): 1,
    }
    c.add_bad(
        "combo_totals_and_derived.xlsx",
        b.edit(b.filled(v), edits),
        "KJ2022 with a row total, a column total, the grand total and a derived denominator overwritten",
        [(*cell, "denominator_mismatch" if cell[0] == K else "total_mismatch") for cell in edits],
    )
    edits = {
        b.stage(v, "oral_cavity.operated", "in situ"): "drei",
        b.k(v, "2", "Nenner"): 999,
        b.k(v, "12", "Zähler"): 21,
        b.k(v, "12", "Nenner"): 20,
    }
    c.add_bad(
        "combo_base_error_hides_derived.xlsx",
        b.edit(b.filled(v), edits),
        "KJ2022 with a text stage cell (derived values cannot be judged, so the overwritten Nenner waits) and numerator > denominator in an entered row",
        [
            (*b.stage(v, "oral_cavity.operated", "in situ"), "not_integer"),
            (*b.k(v, "12", "Zähler"), "numerator_gt_denominator"),
        ],
    )
    edits = {b.k(v, "2", "Quote"): 0.95, b.k(v, "13", "Zähler"): "viele"}
    c.add_bad(
        "combo_quote_warning_and_error.xlsx",
        b.edit(b.filled(v, b.values(v, justify=False)), edits),
        "KJ2022 with an overwritten Quote and missing Begründungen (warnings) plus one text count (the only error)",
        [(*b.k(v, "13", "Zähler"), "not_integer")],
    )
    edits = {
        b.cover("indicator_year"): 2099,
        b.k(v, "12", "Zähler"): "#REF!",
        b.stage(v, "larynx.operated", "IVB"): 1.5,
    }
    c.add_bad(
        "combo_year_and_values_office.xlsx",
        b.edit(b.filled(v), edits),
        "office upload: Kennzahlenjahr 2099, a #REF! count and a decimal stage count",
        [
            (*b.cover("indicator_year"), "year_mismatch"),
            (*b.k(v, "12", "Zähler"), "not_integer"),
            (*b.stage(v, "larynx.operated", "IVB"), "not_integer"),
        ],
        uploader="office",
    )


def writer_cases(b: Builder, c: Corpus) -> None:
    v = "KJ2022"
    k = lambda code, header: b.k(v, code, header)  # noqa: E731
    content = b.xlsxwriter_bytes(
        v, b.edit(b.filled(v), {k("12", "Zähler"): "12,5", k("13", "Zähler"): -1}), constant_memory=True
    )
    c.add_bad(
        "writer_xlsxwriter_inline_errors.xlsx",
        content,
        "xlsxwriter constant_memory (inline strings, placeholder results): '12,5' and -1; the placeholder totals are not reported",
        [(*k("12", "Zähler"), "not_integer"), (*k("13", "Zähler"), "negative")],
    )

    # Excel in manual calculation mode: a stage cell changed, the cached results are stale.
    values = b.values(v)
    cached = b.cached(v, values)
    changed = b.stage(v, "oral_cavity.operated", "in situ")
    stale_base = dict(values.base)
    server_base = dict(values.base)
    server_base["oral_cavity.operated.in situ"] = 4
    content = b.xlsxwriter_bytes(v, b.edit(b.filled(v, values), {changed: 4}), cached=cached, excel_style=True)
    errors = b.total_mismatches(v, stale_base, server_base) + b.derived_mismatches(v, stale_base, server_base)
    c.add_bad(
        "writer_excel_manual_calculation.xlsx",
        content,
        "Excel-style file saved in manual calculation mode: one stage cell changed from 3 to 4, every cached total and derived count still from before",
        errors,
    )

    content = b.xlsxwriter_bytes(
        v,
        b.edit(
            b.filled(v), {b.cover("registration_number"): "KHT-A1", b.stage(v, "salivary_gland.operated", "II"): 3.5}
        ),
    )
    c.add_bad(
        "writer_xlsxwriter_site_and_decimal.xlsx",
        content,
        "xlsxwriter file with a mistyped Reg.-Nr. (KHT-A1) and a decimal stage count",
        [
            (*b.cover("registration_number"), "site_unknown"),
            (*b.stage(v, "salivary_gland.operated", "II"), "not_integer"),
        ],
    )

    # LibreOffice re-saved files with errors (expected values follow from what Calc computes)
    v = "C2.1"
    values = b.values(v)
    row_total = b.stage(v, "oral_cavity.not_operated")
    source = b.edit(b.filled(v, values), {b.k(v, "3", "Zähler"): "12,5", row_total: 100})
    layout = b.layouts[v]
    errors = [
        (*row_total, "total_mismatch"),
        (*b.stage(v, "total"), "total_mismatch"),
        (*b.k(v, "3", "Zähler"), "not_integer"),
    ]
    # derived cells whose formula refers to the overwritten row total (whole rows collapse to Gesamt)
    for ind in layout.indicators:
        for header, src in (
            ("Zähler", ind.numerator_source),
            ("Nenner", None if ind.is_count else ind.denominator_source),
        ):
            if src and f"Basisdaten!{row_total[1]}" in layout.formula_terms(src).replace("=", "+").split("+"):
                errors.append((*b.k(v, ind.code, header), "denominator_mismatch"))
    c.libreoffice(
        "bad",
        "writer_libreoffice_overwritten_total_c21.xlsx",
        source,
        description="C2.1 re-saved by LibreOffice after a row total was overwritten with 100 and KN 3 typed '12,5': Calc's grand total and the derived counts built on that row disagree too",
        expected=expected(*errors),
        uploader="coordinator_a",
        web="failed",
    )

    v = "KJ2024"
    values = b.values(v)
    cell = b.stage(v, "oral_cavity.operated", "I")
    source = b.edit(b.filled(v, values), {cell: "3"})
    # Calc's SUM skips the text, so its cached totals differ; the server counts the text
    # and does not compare cached results built on it: accepted with a warning.
    c.libreoffice(
        "good",
        "libreoffice_stage_text_kj2024.xlsx",
        source,
        description="KJ2024 with a stage count typed as text '3', re-saved by LibreOffice: accepted with a number_as_text warning; Calc's totals that skip the text are not compared",
        version=v,
        indicators=b.reference(v, values),
        warnings=expected((*cell, "number_as_text")),
    )
    c.libreoffice(
        "bad",
        "writer_libreoffice_site_forbidden.xlsx",
        b.filled("KJ2022", site=b.site_b),
        description="the KHT-B01 sheet re-saved by LibreOffice, uploaded by the coordinator of KHT-A01",
        expected=expected((*b.cover("registration_number"), "site_forbidden")),
        uploader="coordinator_a",
        web="failed",
    )


def hostile_cases(b: Builder, c: Corpus) -> None:
    """Issue 8: files that would make the server evaluate what Excel does not show, or
    cost it more than 5 s / 250 MB; each refused with its located code."""
    from tests.datasheets.helpers import cached_fresh, cell_formula, sheet_add

    v = "KJ2022"
    base = b.filled(v)
    layout = b.layouts[v]
    num = b.k(v, "12", "Zähler")[1]
    c.add_bad(
        "hostile_decoy_very_hidden_kennzahlen.xlsx",
        sheet_add(base, "Kennzahlen ", copy_of=K, index=2, state="veryHidden", edits={num: 1}),
        "a very-hidden copy 'Kennzahlen ' with other numbers, placed before the visible Kennzahlen",
        [("Kennzahlen ", "A1", "sheet_hidden")],
    )
    c.add_bad(
        "hostile_hidden_basisdaten_copy.xlsx",
        sheet_add(base, " Basisdaten", copy_of=B, index=4, state="hidden"),
        "a hidden copy of the Basisdaten named ' Basisdaten' (leading space) after the visible one",
        [(" Basisdaten", "A1", "sheet_hidden")],
    )
    c.add_bad(
        "hostile_duplicate_sheet_name.xlsx",
        sheet_add(base, "Kennzahlen ", copy_of=K, index=3, edits={num: 1}),
        "two visible sheets 'Kennzahlen' and 'Kennzahlen ' (trailing space), different numbers",
        [("Kennzahlen ", "A1", "sheet_duplicate")],
    )

    def notes(wb):
        for i in range(1, 26):
            wb.create_sheet(f"Notiz {i}")["A1"] = f"Notiz {i}"

    c.add_bad(
        "hostile_too_many_sheets.xlsx",
        b.workbook_edit(base, notes),
        "29 sheets: the template's 4 and 25 note sheets (more than 20)",
        [(FILE, "A1", "unsafe_content")],
    )
    with zipfile.ZipFile(io.BytesIO(b.edit(base, {b.k(v, "12", "Zähler"): 1}))) as zf:
        other = zf.read(SHEET_PART[K])
    c.add_bad(
        "hostile_case_colliding_parts.xlsx",
        zip_edit(base, add=[("xl/worksheets/Sheet3.xml", other)]),
        "the Kennzahlen part twice, as sheet3.xml and Sheet3.xml, with different numbers",
        [(FILE, "xl/worksheets/Sheet3.xml", "unsafe_content")],
    )
    values = b.values(v)
    den = b.k(v, "12", "Nenner")[1]
    entered, _d, _t = values.indicators["12"]

    def formula(content: bytes, sheet: str, ref: str, text: str, cached) -> bytes:
        return cached_fresh(zip_edit(content, {SHEET_PART[sheet]: lambda x: cell_formula(x, ref, text, cached)}))

    c.add_bad(
        "hostile_formula_cache_mismatch.xlsx",
        formula(base, K, num, f"{den}*4/5", entered + 5),
        f"KeZa 12 Zähler holds ={den}*4/5 (= {entered}) but its cached value says {entered + 5}",
        [(K, num, "formula_mismatch")],
    )
    c.add_bad(
        "hostile_formula_other_sheet.xlsx",
        formula(base, K, num, f"Basisdaten!{layout.base_cell(layout.rows[0].key)}*0+{entered}", entered),
        "KeZa 12 Zähler computed from another sheet (not recomputed by the server)",
        [(K, num, "formula_unsupported")],
    )
    stage = layout.base_cell(layout.rows[0].key, layout.stage_columns[0])
    c.add_bad(
        "hostile_formula_function_stage_cell.xlsx",
        formula(base, B, stage, "ROUND(2.6,0)", 3),
        "a Basisdaten stage cell holding =ROUND(2.6,0) (a function the server does not recompute)",
        [(B, stage, "formula_unsupported")],
    )
    good = "good/openpyxl_kj2022.xlsx"
    c.add_bad(
        "hostile_many_hidden_sheets.xlsx",
        None,
        "25 hidden sheets of 30,000 numbers each, 29 sheets in all (generated by the test)",
        [(FILE, "A1", "unsafe_content")],
        web="failed",
        generate="many_hidden_sheets",
        base=good,
    )
    c.add_bad(
        "hostile_large_style_table.xlsx",
        None,
        "a style table three times every documented bound (generated by the test)",
        [(FILE, "xl/styles.xml", "unsafe_content")] * 7,
        web="failed",
        generate="large_style_table",
        base=good,
    )
    c.add_bad(
        "hostile_many_shared_strings.xlsx",
        None,
        "99,000 unused shared strings, 31 MB of XML in a 0.9 MB file (generated by the test)",
        [(FILE, "xl/sharedStrings.xml", "unsafe_content")],
        web="failed",
        generate="many_shared_strings",
        base=good,
    )


# ---- driver -------------------------------------------------------------------------------


def run_libreoffice(c: Corpus) -> list[str]:
    """Convert the queued jobs; without soffice keep committed outputs. Returns names skipped."""
    skipped = []
    by_fmt: dict[str, list] = {}
    for job in c.lo_jobs:
        by_fmt.setdefault(job[3].get("fmt", "xlsx"), []).append(job)
    for fmt, jobs in by_fmt.items():
        converted = soffice_convert(
            [(f"{i:03d}_{Path(name).stem}.xlsx", source) for i, (_k, name, source, _e) in enumerate(jobs)], fmt
        )
        for i, (kind, name, _source, entry) in enumerate(jobs):
            entry = {k: v for k, v in entry.items() if k != "fmt"}
            key = f"{i:03d}_{Path(name).stem}.xlsx"
            if converted is not None:
                content = converted[key]
            elif (HERE / kind / name).exists():
                content = (HERE / kind / name).read_bytes()
            else:
                skipped.append(name)
                continue
            if kind == "good":
                c.good[name] = {
                    "description": entry["description"],
                    "uploader": "coordinator_a",
                    "version": entry["version"],
                    "year": YEARS[entry["version"]],
                    "indicators": entry["indicators"],
                    "warnings": entry["warnings"],
                }
            else:
                c.bad[name] = {
                    "description": entry["description"],
                    "uploader": entry["uploader"],
                    "expected": entry["expected"],
                    "web": entry["web"],
                }
            c.files[(kind, name)] = content
    return skipped


def verify(b: Builder, c: Corpus) -> list[str]:
    """Check every file with datasheet_check against its manifest entry."""
    from datasheets.services import datasheet_check

    problems = []
    for name, entry in c.bad.items():
        content = c.files.get(("bad", name))
        if "generate" in entry:
            content = generated(entry, lambda name: c.files[("good", name)])
        errors, warnings, _facts = datasheet_check(
            content=content, acting_user=b.users[entry["uploader"]], expected_site=b.site_a
        )
        got = sorted([e.sheet, e.cell, str(e.code)] for e in errors)
        if got != entry["expected"]:
            problems.append(
                f"bad/{name}: expected {entry['expected']}\n    got {got}\n    " + "\n    ".join(str(e) for e in errors)
            )
    for name, entry in c.good.items():
        errors, warnings, facts = datasheet_check(
            content=c.files[("good", name)], acting_user=b.users[entry["uploader"]], expected_site=b.site_a
        )
        got_w = sorted([w.sheet, w.cell, str(w.code)] for w in warnings)
        values = facts["values"]
        got_v = {code: [e.numerator, e.denominator] for code, e in values.indicators.items()} if values else None
        if errors or got_w != entry["warnings"] or got_v != entry["indicators"]:
            problems.append(
                f"good/{name}: errors {[str(e) for e in errors]}\n    warnings expected {entry['warnings']} got {got_w}\n    values equal: {got_v == entry['indicators']}"
            )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default="", help="write only the files whose names start with this (the manifests in full)"
    )
    args = parser.parse_args()
    django_setup()
    b = Builder()
    c = Corpus()
    build(b, c)
    skipped = run_libreoffice(c)
    for kind, entries in (("good", c.good), ("bad", c.bad)):
        folder = HERE / kind
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():
            if old.name != "manifest.json" and old.name not in entries and old.name.startswith(args.only):
                old.unlink()
        for name in entries:
            if (kind, name) in c.files and name.startswith(args.only):
                (folder / name).write_bytes(c.files[(kind, name)])
        manifest = {name: entries[name] for name in sorted(entries)}
        (folder / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    problems = verify(b, c)
    total = sum(len(content) for content in c.files.values())
    print(f"good: {len(c.good)} files, bad: {len(c.bad)} files, {total / 1024:.0f} KiB committed")
    if skipped:
        print("LibreOffice not installed and no committed output for:", ", ".join(skipped))
    for problem in problems:
        print("MISMATCH", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
