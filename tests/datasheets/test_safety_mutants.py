"""Pre-checks of datasheets.safety on hostile containers built in memory (issue 7).

Each container is refused with its exact located errors (sheet, cell, code, English
message); every limit is tested on both sides of its bound. Expected values come from
SPEC §2, the constants of the module and hand calculations in the comments, never from
calling the code under test.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zipfile

import pytest

from datasheets import safety
from datasheets.choices import ErrorCode

FILE_TYPE, UNSAFE = ErrorCode.FILE_TYPE, ErrorCode.UNSAFE_CONTENT
MB = 1024 * 1024

CONTENT_TYPES = b'<?xml version="1.0"?><Types><Default Extension="xml" ContentType="application/xml"/></Types>'
WORKBOOK = (
    b'<workbook xmlns:r="r"><sheets><sheet name="Deckblatt" sheetId="1" r:id="rId1"/>'
    b'<sheet name="Kennzahlen" sheetId="2" r:id="rId2"/></sheets></workbook>'
)
RELS = (
    b'<Relationships><Relationship Id="rId1" Type="ws" Target="worksheets/sheet1.xml"/>'
    b'<Relationship Id="rId2" Type="ws" Target="/xl/worksheets/sheet2.xml"/></Relationships>'
)
SHEET = b'<worksheet><dimension ref="A1:I21"/><sheetData><row r="1"><c r="A1"/></row></sheetData></worksheet>'
BASE = {
    "[Content_Types].xml": CONTENT_TYPES,
    "xl/workbook.xml": WORKBOOK,
    "xl/_rels/workbook.xml.rels": RELS,
    "xl/worksheets/sheet1.xml": SHEET,
    "xl/worksheets/sheet2.xml": SHEET,
}


def _zip(parts: dict[str, bytes] | list[tuple[str, bytes]], *, base: bool = True) -> bytes:
    """A stored (uncompressed) zip of BASE plus/overridden by ``parts``, in this order."""
    entries = list(parts.items()) if isinstance(parts, dict) else list(parts)
    if base:
        names = {n for n, _ in entries}
        entries = [(n, d) for n, d in BASE.items() if n not in names] + entries
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are written on purpose
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return buf.getvalue()


def _eocd_entries(content: bytes, entries: int) -> bytes:
    """``content`` whose end-of-central-directory record declares ``entries`` parts
    (zipfile itself reads the directory by size and ignores the count)."""
    pos = content.rfind(safety.EOCD_MAGIC)
    return content[: pos + 8] + struct.pack("<HH", entries, entries) + content[pos + 12 :]


def _central(content: bytes, name: str, *, flags: int | None = None, sizes: tuple[int, int] | None = None) -> bytes:
    """``content`` with the central directory header of ``name`` changed: general purpose
    flags (offset 8) and/or (compressed, uncompressed) size (offsets 20, 24)."""
    data = bytearray(content)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        (length,) = struct.unpack("<H", data[pos + 28 : pos + 30])
        if data[pos + 46 : pos + 46 + length] == name.encode():
            if flags is not None:
                data[pos + 8 : pos + 10] = struct.pack("<H", flags)
            if sizes is not None:
                data[pos + 20 : pos + 28] = struct.pack("<II", *sizes)
            return bytes(data)
        pos = data.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(name)


def _found(errors) -> list[tuple[str, str, ErrorCode, str]]:
    return [(e.sheet, e.cell, e.code, e.message_en) for e in errors]


def _file_type(detail: str) -> str:
    return f"The file is not an Excel workbook (.xlsx){detail}."


def _unsafe(detail: str) -> str:
    return f"The file has unsafe content: {detail}."


def _info(name: str, size: int, compressed: int, flags: int = 0) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.file_size, info.compress_size, info.flag_bits = size, compressed, flags
    return info


# -- the whole file: size, magic bytes, zip directory -----------------------------------


def _many_parts(n_extra: int) -> bytes:
    """BASE (5 parts) + 195 empty media parts = 200 parts, plus ``n_extra``."""
    return _zip([(f"xl/media/p{i}.bin", b"") for i in range(195 + n_extra)])


def test_precheck_accepts_a_clean_container_and_exactly_200_parts():
    assert safety.precheck(_zip({})) == []
    assert safety.precheck(_many_parts(0)) == []  # 200 parts, declared 200: at the bound


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", [("Datei", "A1", FILE_TYPE, _file_type(" (leere Datei / empty file)"))]),
        (
            safety.CFB_MAGIC + b"\0" * 100,
            [
                (
                    "Datei",
                    "A1",
                    FILE_TYPE,
                    _file_type(": .xls (Excel 97–2003) oder kennwortgeschützt / or password-protected"),
                )
            ],
        ),
        (
            b"KeZa;Zaehler;Nenner\n1;2;3\n",
            [("Datei", "A1", FILE_TYPE, _file_type(": kein Office-Open-XML / not Office Open XML (CSV?)"))],
        ),
        (
            safety.ZIP_MAGIC + b"\0" * 100,
            [("Datei", "A1", FILE_TYPE, _file_type(": beschädigtes ZIP-Archiv / damaged zip"))],
        ),
        (
            _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}, base=False),
            [("Datei", "A1", FILE_TYPE, _file_type(": OpenDocument (.ods)"))],
        ),
        (
            _zip({"xl/workbook.xml": WORKBOOK}, base=False),  # no [Content_Types].xml
            [("Datei", "A1", FILE_TYPE, _file_type(": keine Excel-Arbeitsmappe / no workbook part"))],
        ),
        (
            _zip({"[Content_Types].xml": CONTENT_TYPES}, base=False),  # no xl/workbook.xml
            [("Datei", "A1", FILE_TYPE, _file_type(": keine Excel-Arbeitsmappe / no workbook part"))],
        ),
        (  # 201 parts, declared 201: refused from the end record, before zipfile reads
            _many_parts(1),
            [("Datei", "A1", UNSAFE, _unsafe("201 Teile / parts (> 200)"))],
        ),
        (  # a clean container whose end record declares 201 parts: refused on the declaration
            _eocd_entries(_zip({}), 201),
            [("Datei", "A1", UNSAFE, _unsafe("201 Teile / parts (> 200)"))],
        ),
        (  # declared 40000 (> 0x7FFF: an unsigned field)
            _eocd_entries(_zip({}), 40_000),
            [("Datei", "A1", UNSAFE, _unsafe("40000 Teile / parts (> 200)"))],
        ),
        (  # 201 parts that declare 5: counted in the directory
            _eocd_entries(_many_parts(1), 5),
            [("Datei", "A1", UNSAFE, _unsafe("201 Teile / parts (> 200)"))],
        ),
        (
            _zip({"xl/VBAProject.BIN": b"\0"}),
            [("Datei", "xl/vbaProject.bin", UNSAFE, _unsafe("Makros (VBA) / macros"))],
        ),
        (
            _zip({"xl/externalLinks/externalLink1.xml": b"<externalLink/>"}),
            [("Datei", "xl/externalLinks", UNSAFE, _unsafe("externe Verknüpfungen / external links"))],
        ),
        (
            _zip({"xl/vbaProject.bin": b"\0", "xl/externallinks/_rels/x.rels": b"<r/>"}),
            [
                ("Datei", "xl/vbaProject.bin", UNSAFE, _unsafe("Makros (VBA) / macros")),
                ("Datei", "xl/externalLinks", UNSAFE, _unsafe("externe Verknüpfungen / external links")),
            ],
        ),
    ],
    ids=[
        "empty",
        "cfb",
        "csv",
        "damaged-zip",
        "ods",
        "no-content-types",
        "no-workbook",
        "201-parts",
        "declares-201",
        "declares-40000",
        "201-parts-declaring-5",
        "vba",
        "external-links",
        "vba-and-links",
    ],
)
def test_precheck_refuses_with_exact_located_errors(content, expected):
    assert _found(safety.precheck(content)) == expected


def test_precheck_mimetype_with_content_types_is_not_ods():
    assert safety.precheck(_zip({"mimetype": b"application/vnd.openxmlformats"})) == []


def test_precheck_file_size_limit_is_inclusive(settings):
    # 157_286 B / 1_048_576 = 0.149998 -> "0,1 MB"; 157_287 B = 0.150001 -> "0,2 MB"
    settings.DATASHEET_MAX_BYTES = 157_286
    at_limit = b"PK" + b"\0" * 157_284
    assert _found(safety.precheck(at_limit + b"\0")) == [
        ("Datei", "A1", ErrorCode.FILE_TOO_LARGE, "The file is 0,2 MB; at most 0,1 MB is allowed.")
    ]
    assert _found(safety.precheck(at_limit)) == [  # at the limit: judged, not too large
        ("Datei", "A1", FILE_TYPE, _file_type(": kein Office-Open-XML / not Office Open XML (CSV?)"))
    ]


def test_human_sizes_in_megabytes_with_a_decimal_comma():
    assert safety._human(157_287) == "0,2 MB"  # 0.150001 MB
    assert safety._human(157_286) == "0,1 MB"  # 0.149998 MB
    assert safety._human(5 * MB + 1) == "5,0 MB"
    assert safety._human(50 * MB) == "50,0 MB"


def test_declared_entries_read_from_the_last_end_record_within_its_reach():
    record = safety.EOCD_MAGIC + struct.pack("<HHHHIIH", 0, 0, 201, 201, 0, 0, 0)  # 22 bytes
    # The record may sit at most 22 + 65_535 (the longest comment) = 65_557 bytes from the end.
    assert safety._declared_entries(safety.ZIP_MAGIC + record + b"\0" * 65_535) == 201
    assert safety._declared_entries(safety.ZIP_MAGIC + record + b"\0" * 65_536) is None
    assert safety._declared_entries(safety.ZIP_MAGIC + record) == 201  # ends exactly at the end
    assert safety._declared_entries(safety.ZIP_MAGIC + record[:21]) is None  # truncated
    assert safety._declared_entries(safety.ZIP_MAGIC + b"\0" * 30) is None  # none
    earlier = safety.EOCD_MAGIC + struct.pack("<HHHHIIH", 0, 0, 7, 7, 0, 0, 0)
    assert safety._declared_entries(safety.ZIP_MAGIC + earlier + record) == 201  # the last one
    assert safety._declared_entries(_eocd_entries(_zip({}), 0xFFFF)) is None  # ZIP64: zipfile judges


def test_precheck_end_record_out_of_reach_is_left_to_zipfile():
    record = safety.EOCD_MAGIC + struct.pack("<HHHHIIH", 0, 0, 201, 201, 0, 0, 0)
    content = safety.ZIP_MAGIC + record + b"\0" * 65_536  # 65_558 bytes from the end
    # zipfile still finds it (its reach is one byte longer): an empty directory
    assert _found(safety.precheck(content)) == [
        ("Datei", "A1", FILE_TYPE, _file_type(": keine Excel-Arbeitsmappe / no workbook part"))
    ]


def test_precheck_zip64_marker_and_stored_end_magic_are_not_part_counts():
    assert safety.precheck(_eocd_entries(_zip({}), 0xFFFF)) == []  # count 0xFFFF: zipfile judges
    # A stored part holding an end-record signature that declares 201: only the last counts.
    fake = safety.EOCD_MAGIC + struct.pack("<HHHHIIH", 0, 0, 201, 201, 0, 0, 0)
    assert safety.precheck(_zip({"xl/media/image1.bin": fake})) == []


# -- the zip directory: sizes, ratios, encryption, duplicates ---------------------------


def test_directory_total_uncompressed_size_bound():
    # 50 MB in two parts of ratio 50: at the bound, accepted; one byte more refused.
    at_bound = [_info("xl/media/a.bin", 25 * MB, MB // 2), _info("xl/media/b.bin", 25 * MB, MB // 2)]
    assert safety._directory_errors(at_bound) == []
    over = [_info("xl/media/a.bin", 25 * MB, MB // 2), _info("xl/media/b.bin", 25 * MB + 1, MB // 2)]
    # (50 MB + 1) / 1 MB = 50.000001 -> "50,0 MB"
    assert _found(safety._directory_errors(over)) == [
        ("Datei", "A1", UNSAFE, _unsafe("entpackt / uncompressed 50,0 MB (> 50,0 MB)"))
    ]
    # 60 MB: the ratio is not judged as well (elif); 60 MB / 1 MB -> "60,0 MB"
    assert _found(safety._directory_errors([_info("xl/media/a.bin", 30 * MB, 1), _info("b", 30 * MB, 1)])) == [
        ("Datei", "A1", UNSAFE, _unsafe("entpackt / uncompressed 60,0 MB (> 50,0 MB)")),
        ("Datei", "xl/media/a.bin", UNSAFE, _unsafe("Kompressionsrate / compression ratio > 100")),
    ]


ARCHIVE_RATIO = ("Datei", "A1", UNSAFE, _unsafe("Kompressionsrate / compression ratio > 100"))


@pytest.mark.parametrize(
    ("infos", "expected"),
    [
        # parts of at most RATIO_MIN_SIZE (262_144 B) are not judged by ratio, alone or in total
        ([_info("a", 262_144, 1)], []),
        ([_info("a", 262_144, 0)], []),
        # above 256 KB: ratio exactly 100 (262_200 / 2_622) is allowed, one byte more is not
        ([_info("a", 262_200, 2_622)], []),
        ([_info("a", 262_201, 2_622)], [ARCHIVE_RATIO, ("Datei", "a", UNSAFE, ARCHIVE_RATIO[3])]),
        # compressed 0 counts as 1: 262_145 > 100 * 1
        ([_info("a", 262_145, 0)], [ARCHIVE_RATIO, ("Datei", "a", UNSAFE, ARCHIVE_RATIO[3])]),
        # each part small, the archive above 256 KB at ratio 200: only the archive is judged
        ([_info("a", 200_000, 1_000), _info("b", 200_000, 1_000)], [ARCHIVE_RATIO]),
        # the archive at ratio 750_000 / 9_500 = 79, two parts at ratio 150: only the
        # first of them is named
        (
            [_info("a", 150_000, 5_500), _info("big1", 300_000, 2_000), _info("big2", 300_000, 2_000)],
            [("Datei", "big1", UNSAFE, ARCHIVE_RATIO[3])],
        ),
    ],
    ids=["at-min-size", "at-min-size-0", "ratio-100", "ratio-over-100", "compressed-0", "archive-only", "first-part"],
)
def test_directory_compression_ratio_bounds(infos, expected):
    assert _found(safety._directory_errors(infos)) == expected


def test_directory_zero_compressed_archive_counts_as_one_byte():
    # total 262_145 over parts of 131_072 + 131_073, all compressed 0 -> max(0, 1) = 1
    infos = [_info("a", 131_072, 0), _info("b", 131_073, 0)]
    assert _found(safety._directory_errors(infos)) == [ARCHIVE_RATIO]


def test_directory_names_the_first_encrypted_and_the_first_duplicate_part():
    infos = [
        _info("a.xml", 10, 10),
        _info("b.xml", 10, 10, flags=0x1 | 0x8),
        _info("c.xml", 10, 10, flags=0x1),
        _info("d.xml", 10, 10, flags=0x8 | 0x800),  # data descriptor, UTF-8: not encrypted
        _info("a.xml", 10, 10),
        _info("d.xml", 10, 10),
    ]
    assert _found(safety._directory_errors(infos)) == [
        ("Datei", "b.xml", FILE_TYPE, _file_type(": verschlüsselt / encrypted")),
        ("Datei", "a.xml", UNSAFE, _unsafe("doppelter Teil / duplicate part")),
    ]
    assert safety._directory_errors([_info(f"p{i}", 10, 10, flags=0x8) for i in range(200)]) == []
    assert _found(safety._directory_errors([_info(f"p{i}", 1, 1) for i in range(201)])) == [
        ("Datei", "A1", UNSAFE, _unsafe("201 Teile / parts (> 200)"))
    ]


def test_precheck_directory_errors_stop_before_any_part_is_read():
    # An encrypted part, a duplicate part, a bomb: reported alone, no part scanned, no macro check.
    content = _zip(
        [
            ("xl/vbaProject.bin", b"\0"),
            ("xl/worksheets/sheet1.xml", b'<c r="XFD1048576"/>'),
            ("xl/worksheets/sheet1.xml", b"<!DOCTYPE x>"),
        ]
    )
    content = _central(content, "xl/vbaProject.bin", flags=0x1)
    assert _found(safety.precheck(content)) == [
        ("Datei", "xl/vbaProject.bin", FILE_TYPE, _file_type(": verschlüsselt / encrypted")),
        ("Datei", "xl/worksheets/sheet1.xml", UNSAFE, _unsafe("doppelter Teil / duplicate part")),
    ]
    # declared 60 MB in a media part (never read): refused on the directory
    # (60 MB + the few hundred bytes of the other parts = 60.0005 MB -> "60,0 MB")
    bomb = _central(_zip({"xl/media/image1.png": b"\0" * 10}), "xl/media/image1.png", sizes=(10, 60 * MB))
    assert _found(safety.precheck(bomb)) == [
        ("Datei", "A1", UNSAFE, _unsafe("entpackt / uncompressed 60,0 MB (> 50,0 MB)")),
        ("Datei", "xl/media/image1.png", UNSAFE, ARCHIVE_RATIO[3]),
    ]


# -- inside the parts -------------------------------------------------------------------


def test_spaced_allows_one_nul_between_the_characters():
    assert safety._spaced(b"<!") == b"<\x00?!"
    assert safety._spaced(b"a.b") == b"a\x00?\\.\x00?b"  # re-escaped
    assert safety._spaced(b"X") == b"X"


DTD = ("Datei", "xl/worksheets/sheet1.xml", UNSAFE, _unsafe("DTD/Entity-Deklaration / DTD or entity declaration"))


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE worksheet><worksheet/>',
        b'<!doctype x [<!entity a "b">]>',
        b'<!ENTITY a "b">',
        '<!DOCTYPE x><c r="XFD1048576"/>'.encode("utf-16-le"),
        "\ufeff<!ENTITY x>".encode("utf-16-be"),
        b"<\x00!DocType",
    ],
    ids=["doctype", "lower", "entity", "utf16le-and-absurd-cell", "utf16be", "mixed-nul"],
)
def test_part_with_a_dtd_is_refused_and_not_scanned_further(data):
    assert _found(safety.precheck(_zip({"xl/worksheets/sheet1.xml": data}))) == [DTD]


def test_every_part_is_scanned_after_skipped_media_and_directories_and_after_a_dtd():
    # No rels part and a workbook part with a DTD: the sheet names are then unknown.
    content = _zip(
        [
            ("xl/media/image1.png", b"<!DOCTYPE x>"),
            ("xl/evil/", b"<!DOCTYPE x>"),
            ("[Content_Types].xml", CONTENT_TYPES),
            ("xl/workbook.xml", b"<!DOCTYPE workbook>" + WORKBOOK),
            ("xl/worksheets/sheet1.xml", b"<!ENTITY x>"),
            ("xl/worksheets/sheet2.xml", b'<c r="XFD1"/>'),
        ],
        base=False,
    )
    assert _found(safety.precheck(content)) == [
        ("Datei", "xl/workbook.xml", UNSAFE, DTD[3]),
        ("Datei", "xl/worksheets/sheet1.xml", UNSAFE, DTD[3]),
        ("xl/worksheets/sheet2.xml", "XFD1", UNSAFE, _unsafe("Tabellengröße / sheet dimension XFD1")),
    ]


def test_parts_that_are_not_scanned_for_dtds():
    harmless = b"<!DOCTYPE x>"
    assert safety.precheck(_zip({"xl/media/image1.png": harmless, "xl/evil/": harmless})) == []
    assert safety.precheck(_zip({"xl/worksheets/sheet1.xml": b"<! DOCTYPE><!-- ENTITY -->"})) == []


def test_damaged_parts_are_each_named_and_the_others_still_scanned():
    content = _zip({"xl/styles.xml": b"<styleSheet>ORIGINAL</styleSheet>", "xl/theme/t.xml": b"<a>ORIGINAL2</a>"})
    content = content.replace(b"ORIGINAL<", b"CHANGED!<").replace(b"ORIGINAL2", b"CHANGED!2")  # CRC mismatch
    damaged = _file_type(": beschädigter Teil / damaged part")
    assert _found(safety.precheck(content)) == [
        ("Datei", "xl/styles.xml", FILE_TYPE, damaged),
        ("Datei", "xl/theme/t.xml", FILE_TYPE, damaged),
    ]
    with_absurd = _zip(
        {"xl/styles.xml": b"<styleSheet>ORIGINAL</styleSheet>", "xl/worksheets/sheet1.xml": b'<c r="B70000"/>'}
    ).replace(b"ORIGINAL<", b"CHANGED!<")
    assert _found(safety.precheck(with_absurd)) == [
        ("Datei", "xl/styles.xml", FILE_TYPE, damaged),
        ("Deckblatt", "B70000", UNSAFE, _unsafe("Tabellengröße / sheet dimension B70000")),
    ]


def test_read_bounded_returns_none_for_a_missing_or_damaged_part():
    zf = zipfile.ZipFile(io.BytesIO(_zip({})))
    assert safety._read_bounded(zf, "xl/missing.xml") is None
    assert safety._read_bounded(zf, "xl/workbook.xml") == WORKBOOK


class _Stream:
    """A part that decompresses to ``size`` bytes whatever its header declares
    (None: endless; an unbounded read of it is an error)."""

    def __init__(self, size: int | None):
        self.left = size

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            raise AssertionError("unbounded read")
        n = n if self.left is None else min(n, self.left)
        if self.left is not None:
            self.left -= n
        return b"\0" * n


class _Zip:
    def __init__(self, size: int | None):
        self.size = size

    def open(self, info):
        return _Stream(self.size)


def test_read_bounded_reads_at_most_50_mb_and_refuses_more():
    assert safety._read_bounded(_Zip(None), "xl/bomb.xml") is None  # reads 50 MB + 1, no more
    assert safety._read_bounded(_Zip(50 * MB + 1), "xl/bomb.xml") is None
    assert len(safety._read_bounded(_Zip(50 * MB), "xl/big.xml")) == 50 * MB  # at the bound


@pytest.mark.parametrize(
    "content_types",
    [
        b'<Override ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/>',
        b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>',
        b'<Default ContentType="application/VND.MS-OFFICE.VBA"/>',
        b'<Override PartName="/xl/vbaproject.bin"/>',
    ],
)
def test_macro_content_types_are_refused(content_types):
    assert _found(safety.precheck(_zip({"[Content_Types].xml": content_types}))) == [
        ("Datei", "[Content_Types].xml", UNSAFE, _unsafe("Makros (.xlsm) / macros"))
    ]


def test_content_type_of_a_plain_workbook_is_accepted():
    ct = b'<Override ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    assert safety.precheck(_zip({"[Content_Types].xml": ct})) == []


def test_shared_strings_bound():
    at_bound = b"<sst>" + b"<si/>" * 100_000 + b"</sst>"
    assert safety.precheck(_zip({"xl/sharedStrings.xml": at_bound})) == []
    over = b"<sst>" + b"<x:si/>" * 50_000 + b"<si><t>a</t></si>" * 50_001 + b"</sst>"
    assert _found(safety.precheck(_zip({"xl/sharedStrings.xml": over}))) == [
        ("Datei", "xl/sharedStrings.xml", UNSAFE, _unsafe("mehr als / more than 100000 Texte / strings"))
    ]


def test_count_stops_one_past_the_limit():
    item = re.compile(rb"<si/>")
    assert safety._count(item, b"<si/>" * 5, 3) == 4
    assert safety._count(item, b"<si/>" * 3, 3) == 3
    assert safety._count(item, b"<si/>" * 2, 3) == 2
    assert safety._count(item, b"", 3) == 0


# -- absurd sheet dimensions ------------------------------------------------------------


def _dimension(sheet_xml: bytes) -> list[tuple[str, str, ErrorCode, str]]:
    return _found([e] if (e := safety._dimension_error("Kennzahlen", sheet_xml)) else [])


def _absurd(ref: str) -> list[tuple[str, str, ErrorCode, str]]:
    return [("Kennzahlen", ref, UNSAFE, _unsafe(f"Tabellengröße / sheet dimension {ref}"))]


@pytest.mark.parametrize(
    ("sheet_xml", "expected"),
    [
        # columns: AMJ = 1*676 + 13*26 + 10 = 1024 (the bound), AMK = 1025
        (b'<c r="AMJ65536"/>', []),
        (b'<c r="AMK1"/>', _absurd("AMK1")),
        (b'<c r="amk1" t="n"/>', _absurd("AMK1")),
        (b'<c r="Z1"/><c r="XFD1048576"/>', _absurd("XFD1048576")),
        (b'<x:c s="1" r="B0065537"/>', _absurd("B65537")),
        # rows: 65_536 is the bound; the first absurd cell wins over an earlier absurd row
        (b'<row r="65536"/>', []),
        (b'<row r="65537" spans="1:2"/>', _absurd("A65537")),
        (b'<row r="70000"/><row r="80000"/>', _absurd("A70000")),
        (b'<row r="70000"/><c r="C80000"/><c r="D90000"/>', _absurd("C80000")),
        # r= of another attribute, or text content, is not a reference
        (b'<c attr="AMK1" r="A1"/>', []),
        (b'<c xr="XFD1"/>', []),
        (b"<t>&lt;c r=&quot;XFD1&quot;</t>", []),
        # the <dimension> is judged only when no reference is absurd
        (b'<dimension ref="A1:XFD1048576"/>', _absurd("XFD1048576")),
        (b'<dimension ref="A1:$amk$5"/>', _absurd("AMK5")),
        (b'<x:dimension foo="1" ref="B70000"/>', _absurd("B70000")),
        (b'<dimension ref="A1:AMJ65536"/>', []),
        (b'<dimension ref="A1:I21"/><c r="ZZZ2"/>', _absurd("ZZZ2")),
        (b'<dimension ref="A1:XFD1"/><row r="70000"/>', _absurd("A70000")),
        (b'<dimension ref="A1:XFD1 junk"/>', []),  # not a range: ignored
        (b'<dimension ref="A1:B\xff"/>', []),
    ],
)
def test_dimension_error_locates_the_first_absurd_reference(sheet_xml, expected):
    assert _dimension(sheet_xml) == expected


def test_absurd_bounds_and_column_numbers():
    assert safety._column_number("A") == 1
    assert safety._column_number("z") == 26
    assert safety._column_number("AA") == 27  # 1*26 + 1
    assert safety._column_number("AMJ") == 1024
    assert safety._column_number("XFD") == 16_384  # 24*676 + 6*26 + 4
    assert safety._absurd("", "65536") is False
    assert safety._absurd("", "65537") is True
    assert safety._absurd("AMJ", "1") is False
    assert safety._absurd("AMK", "1") is True
    assert safety._absurd("", "1") is False


def test_too_many_cells_bound():
    assert _dimension(b"<c/>" * 100_000) == []
    over = b"<c/>" * 33_334 + b"<c>" * 33_333 + b"<x:c\t/>" * 33_334  # 100_001 cells
    assert _dimension(over) == [("Kennzahlen", "A1", UNSAFE, _unsafe("mehr als / more than 100000 Zellen / cells"))]
    assert _dimension(b"<col/><cols/>" * 100_001) == []  # not cells


# -- which parts are worksheets, and under which sheet name -----------------------------


def test_sheet_parts_from_workbook_and_rels():
    workbook = (
        b'<sheets><sheet name="Deckblatt" sheetId="1" r:id="rId1"/>'
        b'<x:sheet name="A&amp;B &#228;" r:id="rId2"/>'
        b'<sheet name="Kopie" r:id="rId1"/>'  # same part: the first name wins
        b'<sheet name="Ohne" r:id="rId9"/>'  # no relationship
        b'<sheet name="" r:id="rId3"/>'  # no name
        b'<sheet sheetname="X" r:id="rId3"/>'  # no name= attribute
        b'<sheet name="' + b"L" * 40 + b'" r:id="rId4"/>'
        b'<sheet name="Ung\xfcltig" r:id="rId5"/>'
        b'<sheet name="Absolut" r:id="rId8"/></sheets>'
    )
    rels = (
        b'<Relationship Id="rId1" Target="worksheets/sheet1.xml"/>'
        b'<Relationship Target="/xl/worksheets/sheet2.xml" Type="t" Id="rId2"/>'
        b'<Relationship Id="rId3" Target="sheets/../other/s3.xml"/>'
        b'<Relationship Id="rId4" Target="../outside.xml"/>'
        b'<Relationship Id="rId5" Target="worksheets/s&amp;5.xml"/>'
        b'<Relationship Id="rId6"/>'
        b'<Relationship Target="worksheets/s7.xml"/>'
        b'<Relationship Id="rId8" Target="/Xl/abs.xml"/>'  # absolute: only the "/" goes
    )
    assert safety._sheet_parts(workbook, rels) == {
        "xl/worksheets/sheet1.xml": "Deckblatt",
        "xl/worksheets/sheet2.xml": "A&B ä",
        "outside.xml": "L" * 31,  # Excel's 31-character limit
        "xl/worksheets/s&5.xml": "Ung\ufffdltig",
        "Xl/abs.xml": "Absolut",
    }


def test_sheet_parts_read_utf16_workbooks():
    workbook = '\ufeff<sheet name="Kennzahlen" r:id="rId1"/>'.encode("utf-16-le")
    rels = '<Relationship Id="rId1" Target="worksheets/k.xml"/>'.encode("utf-16-be")
    assert safety._sheet_parts(workbook, rels) == {"xl/worksheets/k.xml": "Kennzahlen"}


def test_as_utf8_reencodes_utf16_only():
    assert safety._as_utf8('<c r="A1"/>'.encode("utf-16-le")) == b'<c r="A1"/>'
    assert safety._as_utf8('<c r="A1"/>'.encode("utf-16-be")) == b'<c r="A1"/>'
    assert safety._as_utf8('\ufeff<ä r="A1"/>'.encode("utf-16-le")) == '<ä r="A1"/>'.encode()
    assert safety._as_utf8('\ufeff<ä r="A1"/>'.encode("utf-16-be")) == '<ä r="A1"/>'.encode()
    assert safety._as_utf8(b"<\x00a") == "<\ufffd".encode()  # odd length: replaced
    assert safety._as_utf8("<ä/>".encode()) == "<ä/>".encode()
    assert safety._as_utf8(b"\xff\xfe") == b""
    assert safety._as_utf8(b"") == b""
    assert safety._as_utf8(b"x<\x00") == b"x<\x00"


def test_precheck_locates_absurd_dimensions_at_the_sheet_name():
    content = _zip(
        {
            "xl/worksheets/sheet1.xml": b'<worksheet><dimension ref="A1:XFD1048576"/></worksheet>',
            "xl/worksheets/sheet2.xml": '\ufeff<worksheet><c r="AMK1"/></worksheet>'.encode("utf-16-le"),
            "xl/worksheets/sheet9.xml": b'<row r="65537"/>',  # no relationship: named by its part
            "xl/worksheets/sheet9.bin": b'<row r="65537"/>',  # not xml: not a worksheet part
            "xl/chartsheets/sheet1.xml": b'<row r="65537"/>',
        }
    )
    assert _found(safety.precheck(content)) == [
        ("Deckblatt", "XFD1048576", UNSAFE, _unsafe("Tabellengröße / sheet dimension XFD1048576")),
        ("Kennzahlen", "AMK1", UNSAFE, _unsafe("Tabellengröße / sheet dimension AMK1")),
        ("xl/worksheets/sheet9.xml", "A65537", UNSAFE, _unsafe("Tabellengröße / sheet dimension A65537")),
    ]


def test_precheck_scans_a_worksheet_part_outside_xl_worksheets_named_by_the_rels():
    rels = b'<Relationship Id="rId1" Target="sheets/data.xml"/><Relationship Id="rId2" Target="worksheets/sheet2.xml"/>'
    content = _zip({"xl/_rels/workbook.xml.rels": rels, "xl/sheets/data.xml": b'<c r="A1"/><c r="A70000"/>'})
    assert _found(safety.precheck(content)) == [
        ("Deckblatt", "A70000", UNSAFE, _unsafe("Tabellengröße / sheet dimension A70000"))
    ]
