"""Pre-checks on the raw bytes and the zip directory, before openpyxl opens a file.

SPEC §2: only OOXML .xlsx; refused with a coded error are .xls / encrypted (CFB)
files, macros, .ods, renamed CSV, external links, zip bombs, DTDs/entities, files
over ``settings.DATASHEET_MAX_BYTES`` (5 MB) and sheets of absurd dimensions; issue 8
adds part names that differ only in case and bounds on everything openpyxl parses
(sheets, defined names, style tables, tree parts, shared strings, elements per part).
Everything here reads bounded amounts and uses bounded regular expressions; nothing is
parsed as XML (the DTD check must come before any XML parser sees untrusted bytes).
"""

from __future__ import annotations

import html
import io
import lzma
import posixpath
import re
import struct
import zipfile
import zlib

from django.conf import settings

from .choices import ErrorCode
from .messages import CellError, cell_error

MAX_UNCOMPRESSED = 50 * 1024 * 1024  # declared total of all parts
MAX_RATIO = 100  # declared uncompressed / compressed size (of one part or of the archive)
RATIO_MIN_SIZE = 256 * 1024  # the ratio is judged for parts (or archives) above this size
MAX_PARTS = 200
# A cell or row reference beyond these is an absurd dimension for a Datenblatt (the
# parser never reads beyond layout.MAX_ROWS x layout.MAX_COLS anyway).
MAX_SHEET_ROW = 65_536
MAX_SHEET_COL = 1_024  # AMJ
MAX_CELLS = 100_000  # cell elements in one worksheet part
MAX_STRINGS = 100_000  # entries of the shared strings table
# Bounds on what openpyxl parses (issue 8: no honest-looking file under 5 MB may take
# more than 5 s or 250 MB to check). Measured on the committed good corpus (template,
# Excel-, xlsxwriter- and LibreOffice-saved files): 4 sheets, 1 defined name, at most 34
# cell formats, 7 fonts, 5 fills, 2 borders, 3 number formats, 6 named styles, 0 dxfs,
# styles.xml <= 11 KB, sharedStrings.xml <= 10 KB. Every limit leaves 5x to 100x room;
# all of them at once cost openpyxl about 0.6 s and 40 MB (tests/datasheets/test_bounds.py).
MAX_SHEETS = 20  # <sheet> entries of workbook.xml; only the layout sheets are read
MAX_DEFINED_NAMES = 1_000  # <definedName> entries of workbook.xml
# Element of xl/styles.xml -> at most this many, counted anywhere in the part (a
# differential format's <font>, <fill>, <border> and <numFmt> count too).
STYLE_TABLES: dict[str, int] = {
    "xf": 4_000,  # cell formats: cellXfs and cellStyleXfs together
    "font": 1_000,
    "fill": 1_000,
    "border": 1_000,
    "numFmt": 500,
    "cellStyle": 1_000,  # named styles
    "dxf": 1_000,  # differential formats (conditional formatting)
}
# Parts openpyxl builds a whole element tree of (the rest it streams or never opens).
TREE_PARTS = ("[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml")
MAX_TREE_BYTES = 4 * 1024 * 1024
MAX_TREE_ELEMENTS = 100_000
MAX_PART_ELEMENTS = 400_000  # any other XML part (a worksheet of 100,000 cells has ~250,000)
MAX_STRINGS_BYTES = 8 * 1024 * 1024  # xl/sharedStrings.xml
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
EOCD_MAGIC = b"PK\x05\x06"
FILE = "Datei"  # pseudo sheet name of whole-file problems


def _spaced(word: bytes) -> bytes:
    """Regex for ``word`` in UTF-8 or UTF-16 (LE/BE): an optional NUL between chars."""
    return b"\x00?".join(re.escape(bytes([ch])) for ch in word)


DTD_PATTERN = re.compile(
    _spaced(b"<!") + b"\x00?(?:" + _spaced(b"DOCTYPE") + b"|" + _spaced(b"ENTITY") + b")", re.IGNORECASE
)
MACRO_CONTENT_TYPE = re.compile(rb"macroEnabled|vbaProject|vnd\.ms-office\.vba", re.IGNORECASE)
# Bounded scans of worksheet parts: ``<c r="B12">``, ``<row r="12">``, ``<dimension ref="A1:I21"/>``.
# (within a start tag: text content cannot hold a raw "<", so typed text never matches)
REF_ATTRIBUTE = re.compile(
    rb'<(?:[A-Za-z_][\w.-]{0,20}:)?(?:c|row)\s[^<>]{0,400}?(?<=\s)r="([A-Za-z]{0,4})([0-9]{1,10})"'
)
DIMENSION = re.compile(rb'<(?:[A-Za-z_][\w.-]{0,20}:)?dimension\s[^>]{0,200}?\bref="([^"]{0,60})"')
CELL_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,20}:)?c[\s/>]")
STRING_ITEM = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,20}:)?si[\s/>]")
ELEMENT = re.compile(rb"<[A-Za-z_]")  # any start tag (also inside comments: counts high, never low)
SHEET_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,20}:)?sheet[\s/>]")
DEFINED_NAME_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,20}:)?definedName[\s/>]")
STYLE_TAGS = {tag: re.compile(rb"<(?:[A-Za-z_][\w.-]{0,20}:)?" + tag.encode() + rb"[\s/>]") for tag in STYLE_TABLES}
RANGE_END = re.compile(r"(?:[A-Za-z]{1,4}[0-9]{1,10}:)?\$?([A-Za-z]{1,4})\$?([0-9]{1,10})")
# workbook.xml / its rels, read as bytes: sheet name -> r:id -> part name.
SHEET_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,20}:)?sheet\s([^>]{0,2000})>")
RELATIONSHIP = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,20}:)?Relationship\s([^>]{0,4000})>")
NAME_ATTRIBUTE = re.compile(rb'(?:^|\s)name="([^"]{0,400})"')
RID_ATTRIBUTE = re.compile(rb'\s[A-Za-z_][\w.-]{0,20}:id="([^"]{0,100})"')
ID_ATTRIBUTE = re.compile(rb'(?:^|\s)Id="([^"]{0,100})"')
TARGET_ATTRIBUTE = re.compile(rb'(?:^|\s)Target="([^"]{0,400})"')


def _human(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")


def _declared_entries(content: bytes) -> int | None:
    """Number of entries the end-of-central-directory record declares (None: not found)."""
    tail_start = max(0, len(content) - 65_557)
    pos = content.rfind(EOCD_MAGIC, tail_start)
    if pos < 0 or pos + 22 > len(content):
        return None
    (entries,) = struct.unpack("<H", content[pos + 10 : pos + 12])
    return None if entries == 0xFFFF else entries  # 0xFFFF: ZIP64, zipfile judges


def precheck(content: bytes, *, max_bytes: int | None = None) -> list[CellError]:
    """All problems of the container, or [] if openpyxl may open it.

    Returns errors with codes file_type, file_too_large or unsafe_content, located at
    ``Datei!A1`` (the file as a whole), at the offending part's name, or at the sheet
    and cell of an absurd dimension (e.g. ``Kennzahlen!XFD1048576``). ``max_bytes``:
    the size limit, passed by a child process that reads no settings (default
    ``settings.DATASHEET_MAX_BYTES``).
    """
    # SPEC §2, the one definition of the limit
    limit = settings.DATASHEET_MAX_BYTES if max_bytes is None else max_bytes
    if len(content) > limit:
        return [cell_error(FILE, "A1", ErrorCode.FILE_TOO_LARGE, size=_human(len(content)), limit=_human(limit))]
    if not content:
        return [cell_error(FILE, "A1", ErrorCode.FILE_TYPE, detail=" (leere Datei / empty file)")]
    if content.startswith(CFB_MAGIC):
        return [
            cell_error(
                FILE,
                "A1",
                ErrorCode.FILE_TYPE,
                detail=": .xls (Excel 97–2003) oder kennwortgeschützt / or password-protected",
            )
        ]
    if not content.startswith(ZIP_MAGIC):
        return [
            cell_error(FILE, "A1", ErrorCode.FILE_TYPE, detail=": kein Office-Open-XML / not Office Open XML (CSV?)")
        ]
    declared = _declared_entries(content)
    if declared is not None and declared > MAX_PARTS:
        return [cell_error(FILE, "A1", ErrorCode.UNSAFE_CONTENT, detail=f"{declared} Teile / parts (> {MAX_PARTS})")]
    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
        infos = zf.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        OSError,
        EOFError,
        struct.error,
        UnicodeDecodeError,
        NotImplementedError,
    ):
        return [cell_error(FILE, "A1", ErrorCode.FILE_TYPE, detail=": beschädigtes ZIP-Archiv / damaged zip")]
    names = {i.filename for i in infos}
    if "mimetype" in names and "[Content_Types].xml" not in names:
        return [cell_error(FILE, "A1", ErrorCode.FILE_TYPE, detail=": OpenDocument (.ods)")]
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        return [cell_error(FILE, "A1", ErrorCode.FILE_TYPE, detail=": keine Excel-Arbeitsmappe / no workbook part")]
    errors = _directory_errors(infos) or _case_errors(infos)
    if errors:
        return errors  # never decompress a bomb, an encrypted or a duplicated part
    lowered = {n.lower() for n in names}
    if any(n.endswith("vbaproject.bin") for n in lowered):
        errors.append(cell_error(FILE, "xl/vbaProject.bin", ErrorCode.UNSAFE_CONTENT, detail="Makros (VBA) / macros"))
    if any(n.startswith("xl/externallinks/") for n in lowered):
        errors.append(
            cell_error(
                FILE, "xl/externalLinks", ErrorCode.UNSAFE_CONTENT, detail="externe Verknüpfungen / external links"
            )
        )
    return errors + _part_errors(zf, infos)


def _directory_errors(infos: list[zipfile.ZipInfo]) -> list[CellError]:
    """Problems visible in the zip directory alone: parts, sizes, ratios, encryption."""
    errors: list[CellError] = []
    if len(infos) > MAX_PARTS:
        errors.append(
            cell_error(FILE, "A1", ErrorCode.UNSAFE_CONTENT, detail=f"{len(infos)} Teile / parts (> {MAX_PARTS})")
        )
    total = sum(i.file_size for i in infos)
    compressed = sum(i.compress_size for i in infos)
    if total > MAX_UNCOMPRESSED:
        errors.append(
            cell_error(
                FILE,
                "A1",
                ErrorCode.UNSAFE_CONTENT,
                detail=f"entpackt / uncompressed {_human(total)} (> {_human(MAX_UNCOMPRESSED)})",
            )
        )
    elif total > RATIO_MIN_SIZE and total > MAX_RATIO * max(compressed, 1):
        errors.append(
            cell_error(
                FILE, "A1", ErrorCode.UNSAFE_CONTENT, detail=f"Kompressionsrate / compression ratio > {MAX_RATIO}"
            )
        )
    for info in infos:
        if info.file_size > RATIO_MIN_SIZE and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            errors.append(
                cell_error(
                    FILE,
                    info.filename,
                    ErrorCode.UNSAFE_CONTENT,
                    detail=f"Kompressionsrate / compression ratio > {MAX_RATIO}",
                )
            )
            break
    for info in infos:
        if info.flag_bits & 0x1:
            errors.append(cell_error(FILE, info.filename, ErrorCode.FILE_TYPE, detail=": verschlüsselt / encrypted"))
            break
    seen: set[str] = set()
    for info in infos:
        if info.filename in seen:
            errors.append(
                cell_error(FILE, info.filename, ErrorCode.UNSAFE_CONTENT, detail="doppelter Teil / duplicate part")
            )
            break
        seen.add(info.filename)
    return errors


def _part_errors(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> list[CellError]:
    """Problems inside the parts: damage, DTDs/entities, macros, absurd dimensions."""
    errors: list[CellError] = []
    contents: dict[str, bytes] = {}
    for info in infos:
        if info.is_dir() or info.filename.startswith("xl/media/"):
            continue
        data = _read_bounded(zf, info)
        if data is None:
            errors.append(
                cell_error(FILE, info.filename, ErrorCode.FILE_TYPE, detail=": beschädigter Teil / damaged part")
            )
            continue
        if DTD_PATTERN.search(data):
            errors.append(
                cell_error(
                    FILE,
                    info.filename,
                    ErrorCode.UNSAFE_CONTENT,
                    detail="DTD/Entity-Deklaration / DTD or entity declaration",
                )
            )
            continue
        contents[info.filename] = data
    content_types = contents.get("[Content_Types].xml")
    if content_types is not None and MACRO_CONTENT_TYPE.search(content_types):
        errors.append(
            cell_error(FILE, "[Content_Types].xml", ErrorCode.UNSAFE_CONTENT, detail="Makros (.xlsm) / macros")
        )
    strings = contents.get("xl/sharedStrings.xml")
    if strings is not None and _count(STRING_ITEM, strings, MAX_STRINGS) > MAX_STRINGS:
        errors.append(
            cell_error(
                FILE,
                "xl/sharedStrings.xml",
                ErrorCode.UNSAFE_CONTENT,
                detail=f"mehr als / more than {MAX_STRINGS} Texte / strings",
            )
        )
    # Regex scans only (safe even where a DTD was found): absurd sheet dimensions.
    sheet_names = _sheet_parts(contents.get("xl/workbook.xml", b""), contents.get("xl/_rels/workbook.xml.rels", b""))
    for name, data in contents.items():
        if name in sheet_names or (name.startswith("xl/worksheets/") and name.endswith(".xml")):
            problem = _dimension_error(sheet_names.get(name, name), _as_utf8(data))
            if problem is not None:
                errors.append(problem)
    errors.extend(_bound_errors(contents))
    return errors


def _case_errors(infos: list[zipfile.ZipInfo]) -> list[CellError]:
    """The first part whose name equals an earlier one but for case (issue 8): OPC part
    names are case-insensitive, so readers may disagree on which of the two they open."""
    seen: dict[str, str] = {}
    for info in infos:
        key = info.filename.lower()
        if key in seen and seen[key] != info.filename:
            detail = "Name bis auf Groß-/Kleinschreibung doppelt / name differs only in case"
            return [cell_error(FILE, info.filename, ErrorCode.UNSAFE_CONTENT, detail=detail)]
        seen.setdefault(key, info.filename)
    return []


def _bound_errors(contents: dict[str, bytes]) -> list[CellError]:
    """Parts over the bounds of what openpyxl parses (issue 8), each located at the part:
    sheets and defined names of workbook.xml, the style tables, the size and element
    count of the parts openpyxl builds a tree of, the size of the shared strings and the
    element count of any other XML part. Counting stops one past a limit."""
    errors: list[CellError] = []

    def refuse(part: str, detail: str) -> None:
        errors.append(cell_error(FILE, part, ErrorCode.UNSAFE_CONTENT, detail=detail))

    for name, raw in contents.items():
        data = _as_utf8(raw)
        if name in TREE_PARTS:
            if len(data) > MAX_TREE_BYTES:
                refuse(name, f"größer als / larger than {_human(MAX_TREE_BYTES)}")
            elif _count(ELEMENT, data, MAX_TREE_ELEMENTS) > MAX_TREE_ELEMENTS:
                refuse(name, f"mehr als / more than {MAX_TREE_ELEMENTS} XML-Elemente / elements")
        elif _count(ELEMENT, data, MAX_PART_ELEMENTS) > MAX_PART_ELEMENTS:
            refuse(name, f"mehr als / more than {MAX_PART_ELEMENTS} XML-Elemente / elements")
        if name == "xl/sharedStrings.xml" and len(data) > MAX_STRINGS_BYTES:
            refuse(name, f"Texttabelle größer als / string table larger than {_human(MAX_STRINGS_BYTES)}")
    workbook = _as_utf8(contents.get("xl/workbook.xml", b""))
    sheets = _count(SHEET_TAG, workbook, MAX_TREE_ELEMENTS)
    if sheets > MAX_SHEETS:
        detail = f"{sheets} Tabellenblätter / sheets (> {MAX_SHEETS})"
        errors.append(cell_error(FILE, "A1", ErrorCode.UNSAFE_CONTENT, detail=detail))
    if _count(DEFINED_NAME_TAG, workbook, MAX_DEFINED_NAMES) > MAX_DEFINED_NAMES:
        refuse("xl/workbook.xml", f"mehr als / more than {MAX_DEFINED_NAMES} Namen / defined names")
    styles = _as_utf8(contents.get("xl/styles.xml", b""))
    for tag, limit in STYLE_TABLES.items():
        if _count(STYLE_TAGS[tag], styles, limit) > limit:
            refuse("xl/styles.xml", f"mehr als / more than {limit} <{tag}> (Formatvorlagen / style table)")
    return errors


def _count(pattern: re.Pattern, data: bytes, limit: int) -> int:
    """Occurrences of ``pattern`` in ``data``, counting no further than ``limit + 1``."""
    n = 0
    for _match in pattern.finditer(data):
        n += 1
        if n > limit:
            break
    return n


def _as_utf8(data: bytes) -> bytes:
    """UTF-16 parts (allowed by OPC, never written by Excel) re-encoded for the scans."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:2] in (b"<\x00", b"\x00<"):
        encoding = (
            "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-16-le" if data[:1] == b"<" else "utf-16-be")
        )
        return data.decode(encoding, errors="replace").encode("utf-8")
    return data


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


def _absurd(letters: str, digits: str) -> bool:
    return int(digits) > MAX_SHEET_ROW or (bool(letters) and _column_number(letters) > MAX_SHEET_COL)


def _dimension_error(sheet: str, data: bytes) -> CellError | None:
    """An ``unsafe_content`` error at the first absurd cell reference of a worksheet
    part (else its first absurd row, else its ``<dimension>``), or one for too many cells."""
    offending: str | None = None
    row_offending: str | None = None
    for match in REF_ATTRIBUTE.finditer(data):
        letters, digits = match.group(1).decode("ascii"), match.group(2).decode("ascii")
        if _absurd(letters, digits):
            if letters:
                offending = f"{letters.upper()}{int(digits)}"
                break
            row_offending = row_offending or f"A{int(digits)}"
    offending = offending or row_offending
    dimension = DIMENSION.search(data)
    if offending is None and dimension is not None:
        end = RANGE_END.fullmatch(dimension.group(1).decode("ascii", "replace"))
        if end is not None and _absurd(end.group(1), end.group(2)):
            offending = f"{end.group(1).upper()}{int(end.group(2))}"
    if offending is not None:
        return cell_error(
            sheet, offending, ErrorCode.UNSAFE_CONTENT, detail=f"Tabellengröße / sheet dimension {offending}"
        )
    if _count(CELL_ELEMENT, data, MAX_CELLS) > MAX_CELLS:
        return cell_error(
            sheet, "A1", ErrorCode.UNSAFE_CONTENT, detail=f"mehr als / more than {MAX_CELLS} Zellen / cells"
        )
    return None


def _attribute(pattern: re.Pattern, attributes: bytes) -> str | None:
    match = pattern.search(attributes)
    return html.unescape(match.group(1).decode("utf-8", "replace")) if match else None


def _sheet_parts(workbook: bytes, rels: bytes) -> dict[str, str]:
    """Worksheet part name -> sheet name, from workbook.xml and its rels (bytes, regex)."""
    targets: dict[str, str] = {}
    for match in RELATIONSHIP.finditer(_as_utf8(rels)):
        rel_id, target = _attribute(ID_ATTRIBUTE, match.group(1)), _attribute(TARGET_ATTRIBUTE, match.group(1))
        if rel_id and target:
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
            targets[rel_id] = part
    parts: dict[str, str] = {}
    for match in SHEET_ELEMENT.finditer(_as_utf8(workbook)):
        name, rel_id = _attribute(NAME_ATTRIBUTE, match.group(1)), _attribute(RID_ATTRIBUTE, match.group(1))
        if name and rel_id in targets:
            parts.setdefault(targets[rel_id], name[:31])
    return parts


def _read_bounded(zf: zipfile.ZipFile, info: zipfile.ZipInfo | str) -> bytes | None:
    """Read one part, never more than MAX_UNCOMPRESSED bytes; None if damaged."""
    try:
        with zf.open(info) as handle:
            data = handle.read(MAX_UNCOMPRESSED + 1)
    except (
        zipfile.BadZipFile,
        KeyError,
        OSError,
        EOFError,
        RuntimeError,
        NotImplementedError,
        ValueError,
        struct.error,
        zlib.error,
        lzma.LZMAError,
    ):
        return None
    return None if len(data) > MAX_UNCOMPRESSED else data
