"""Issue 8: no honest-looking file under 5 MB takes more than 5 s or 250 MB to check.

Every hostile file of the bad corpus (``hostile_*``: decoy and duplicate sheets, too
many sheets, case-colliding parts, formulas in entered cells, a large style table, many
hidden sheets, many shared strings) and a set of large but honest-looking files (every
part at its bound) are checked twice:

- in a fresh Python process that runs exactly what the eager path's child runs
  (``isolation.file_read``): its wall-clock time and its peak resident set size
  (``VmHWM`` of that process: ``ru_maxrss`` would carry over the forking parent's
  peak) stay below 5 s and 250 MB;
- on the eager path itself (``limits.datasheet_check_limited``, a forkserver child under
  the configured limits): the located codes of the manifest, or none, within 5 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openpyxl.utils import get_column_letter

from datasheets.limits import datasheet_check_limited
from datasheets.safety import STYLE_TABLES
from tests.datasheets.helpers import heavy_shared_strings, hidden_full_sheets, style_table, zip_replace
from tests.datasheets.test_corpus_bad import MANIFEST, UPLOADERS, content_of

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "tests" / "data" / "datasheets" / "good" / "openpyxl_kj2022.xlsx").read_bytes()
# Time and memory bounds of issue 8, measured here; left out of the mutation run, whose
# instrumented code is slower (the located codes of these files are also asserted by
# tests/datasheets/test_corpus_bad.py, which the mutation run keeps).
pytestmark = pytest.mark.slow
MAX_SECONDS = 5.0
MAX_RSS_MB = 250
HOSTILE = sorted(name for name in MANIFEST if name.startswith("hostile_"))
CHILD = """
import json, re, sys, time
from datasheets.isolation import file_read
content = open(sys.argv[1], "rb").read()
started = time.monotonic()
result = file_read(content, max_bytes=int(sys.argv[2]))
seconds = time.monotonic() - started
errors = sorted([e.sheet, e.cell, str(e.code)] for e in result) if isinstance(result, list) else []
with open("/proc/self/status") as status:  # VmHWM: this process's peak resident set, in kB
    peak = int(re.search(r"VmHWM:\\s+([0-9]+) kB", status.read()).group(1))
print(json.dumps({"seconds": seconds, "peak_kb": peak, "errors": errors}))
"""


def _wide_rows(content: bytes) -> bytes:
    """Each layout sheet with a reference table right of the grid: rows 100-300,
    columns AE-SZ (31-520), 98,490 numbers per sheet (the cell bound is 100,000)."""
    letters = [get_column_letter(c) for c in range(31, 521)]

    def add(xml: bytes) -> bytes:
        rows = "".join(
            f'<row r="{r}">'
            + "".join(f'<c r="{x}{r}"><v>{(r * 7 + i) % 1000}</v></c>' for i, x in enumerate(letters))
            + "</row>"
            for r in range(100, 301)
        )
        return xml.replace(b"</sheetData>", rows.encode() + b"</sheetData>")

    return zip_replace(content, {f"xl/worksheets/sheet{i}.xml": add for i in (1, 2, 3)})


AT_BOUNDS = {**STYLE_TABLES, "font": 500, "dxf": 500}  # a dxf holds a <font>: 500 + 500 fonts
HONEST = {
    "ten_hidden_full_sheets": lambda: hidden_full_sheets(GOOD, 10),
    "style_table_at_the_bounds": lambda: style_table(GOOD, AT_BOUNDS),
    "shared_strings_near_the_bound": lambda: heavy_shared_strings(GOOD, extra=23_000),
    "layout_sheets_with_wide_tables": lambda: _wide_rows(GOOD),
    "everything_at_once": lambda: heavy_shared_strings(
        hidden_full_sheets(style_table(GOOD, AT_BOUNDS), 9), extra=20_000
    ),
}


def _measured(tmp_path, content: bytes) -> tuple[float, float, list]:
    """(seconds, peak RSS in MB, errors) of ``isolation.file_read`` in a fresh process."""
    path = tmp_path / "upload.xlsx"
    path.write_bytes(content)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "qiportal.settings"}
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(5 * 1024 * 1024)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    output, problems = process.communicate(timeout=60)
    assert process.returncode == 0, problems[-2000:]
    answer = json.loads(output)
    return answer["seconds"], answer["peak_kb"] / 1024, answer["errors"]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_costs_less_than_5_s_and_250_mb(name, tmp_path):
    seconds, rss, errors = _measured(tmp_path, content_of(name))
    assert seconds < MAX_SECONDS and rss < MAX_RSS_MB, (seconds, rss)
    if errors:  # refused before any value is looked at: exactly the manifest's codes
        assert errors == MANIFEST[name]["expected"]


@pytest.mark.parametrize("name", sorted(HONEST))
def test_a_large_honest_looking_file_costs_less_than_5_s_and_250_mb(name, tmp_path):
    content = HONEST[name]()
    assert len(content) < 5 * 1024 * 1024
    seconds, rss, errors = _measured(tmp_path, content)
    assert seconds < MAX_SECONDS and rss < MAX_RSS_MB, (seconds, rss)
    assert errors == []


@pytest.mark.django_db
@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_is_refused_on_the_eager_path_with_its_located_codes(name, catalogue, site_a, request):
    entry = MANIFEST[name]
    user = request.getfixturevalue(UPLOADERS[entry["uploader"]])
    content = content_of(name)
    started = time.monotonic()
    result, limit = datasheet_check_limited(content=content, acting_user=user, expected_site=site_a)
    assert time.monotonic() - started < MAX_SECONDS
    assert limit is None
    assert sorted([e.sheet, e.cell, str(e.code)] for e in result.errors) == entry["expected"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(HONEST))
def test_a_large_honest_looking_file_is_checked_on_the_eager_path(name, catalogue, site_a, coordinator):
    content = HONEST[name]()
    started = time.monotonic()
    result, limit = datasheet_check_limited(content=content, acting_user=coordinator, expected_site=site_a)
    assert time.monotonic() - started < MAX_SECONDS
    assert limit is None
    assert result.errors == [] and result.values is not None
