"""Pre-checks on the raw bytes and the zip directory, before openpyxl opens a file.

SPEC §2: only OOXML .xlsx; refused with a coded error are .xls / encrypted (CFB)
files, macros, .ods, renamed CSV, external links, zip bombs, DTDs/entities and files
over 5 MB. Everything here reads bounded amounts; nothing is parsed as XML.
"""

from __future__ import annotations

import io
import re
import zipfile

from .choices import ErrorCode
from .messages import CellError, cell_error

MAX_BYTES = 5 * 1024 * 1024  # SPEC §2
MAX_UNCOMPRESSED = 50 * 1024 * 1024  # declared total of all parts
MAX_RATIO = 100  # declared uncompressed / compressed size of one part
MAX_PARTS = 200
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
DTD_PATTERN = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
FILE = "Datei"  # pseudo sheet name of whole-file problems


def _human(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")


def precheck(content: bytes) -> list[CellError]:
    """All problems of the container, or [] if openpyxl may open it.

    Returns errors with codes file_type, file_too_large or unsafe_content, located at
    ``Datei!A1`` (the file as a whole) or at the offending part's name.
    """
    if len(content) > MAX_BYTES:
        return [cell_error(FILE, "A1", ErrorCode.FILE_TOO_LARGE, size=_human(len(content)), limit=_human(MAX_BYTES))]
    if not content:
        return [cell_error(FILE, "A1", ErrorCode.FILE_TYPE, detail=" (leere Datei / empty file)")]
    if content.startswith(CFB_MAGIC):
        return [cell_error(FILE, "A1", ErrorCode.FILE_TYPE, detail=": .xls (Excel 97–2003) oder kennwortgeschützt / or password-protected")]
    if not content.startswith(ZIP_MAGIC):
        return [cell_error(FILE, "A1", ErrorCode.FILE_TYPE, detail=": kein Office-Open-XML / not Office Open XML (CSV?)")]
    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return [cell_error(FILE, "A1", ErrorCode.FILE_TYPE, detail=": beschädigtes ZIP-Archiv / damaged zip")]
    names = {i.filename for i in infos}
    if "mimetype" in names and "[Content_Types].xml" not in names:
        return [cell_error(FILE, "A1", ErrorCode.FILE_TYPE, detail=": OpenDocument (.ods)")]
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        return [cell_error(FILE, "A1", ErrorCode.FILE_TYPE, detail=": keine Excel-Arbeitsmappe / no workbook part")]
    errors: list[CellError] = []
    if len(infos) > MAX_PARTS:
        errors.append(cell_error(FILE, "A1", ErrorCode.UNSAFE_CONTENT, detail=f"{len(infos)} Teile / parts (> {MAX_PARTS})"))
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED:
        errors.append(cell_error(FILE, "A1", ErrorCode.UNSAFE_CONTENT, detail=f"entpackt / uncompressed {_human(total)} (> {_human(MAX_UNCOMPRESSED)})"))
    for info in infos:
        if info.compress_size and info.file_size / max(info.compress_size, 1) > MAX_RATIO and info.file_size > 1024 * 1024:
            errors.append(cell_error(FILE, info.filename, ErrorCode.UNSAFE_CONTENT, detail=f"Kompressionsrate / compression ratio > {MAX_RATIO}"))
            break
        if info.flag_bits & 0x1:
            errors.append(cell_error(FILE, info.filename, ErrorCode.FILE_TYPE, detail=": verschlüsselt / encrypted"))
            break
    lowered = {n.lower() for n in names}
    if any(n.endswith("vbaproject.bin") for n in lowered):
        errors.append(cell_error(FILE, "xl/vbaProject.bin", ErrorCode.UNSAFE_CONTENT, detail="Makros (VBA) / macros"))
    if any(n.startswith("xl/externallinks/") for n in lowered):
        errors.append(cell_error(FILE, "xl/externalLinks", ErrorCode.UNSAFE_CONTENT, detail="externe Verknüpfungen / external links"))
    if errors:
        return errors
    content_types = _read_bounded(zf, "[Content_Types].xml")
    if content_types is None:
        return [cell_error(FILE, "[Content_Types].xml", ErrorCode.UNSAFE_CONTENT, detail="unlesbar / unreadable")]
    if b"macroEnabled" in content_types:
        errors.append(cell_error(FILE, "[Content_Types].xml", ErrorCode.UNSAFE_CONTENT, detail="Makros (.xlsm) / macros"))
    for info in infos:
        if info.filename.endswith((".xml", ".rels", ".vml")):
            data = _read_bounded(zf, info.filename)
            if data is None:
                errors.append(cell_error(FILE, info.filename, ErrorCode.FILE_TYPE, detail=": beschädigter Teil / damaged part"))
                break
            if DTD_PATTERN.search(data):
                errors.append(cell_error(FILE, info.filename, ErrorCode.UNSAFE_CONTENT, detail="DTD/Entity-Deklaration / DTD or entity declaration"))
                break
    return errors


def _read_bounded(zf: zipfile.ZipFile, name: str) -> bytes | None:
    """Read one part, never more than MAX_UNCOMPRESSED bytes; None if damaged."""
    try:
        with zf.open(name) as handle:
            data = handle.read(MAX_UNCOMPRESSED + 1)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, RuntimeError, NotImplementedError, ValueError):
        return None
    return None if len(data) > MAX_UNCOMPRESSED else data
