"""Benchmark: validating one Datenblatt against the baseline of merely opening it.

Run: ``.venv/bin/python bench/bench_import.py [--repeat 20]``. Prints figures and the
ratio to the baseline measured in the same run (so machines of different speed
compare): the full check (zip pre-checks, bounded read, parse, validate, evaluate) of
a filled KJ2024 sheet should stay within a small multiple of a plain openpyxl
read-only pass over the same file, and its peak memory bounded. Uses a throw-away
SQLite database; writes nothing else.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qiportal.scratch import scratch_setup  # noqa: E402

scratch_setup("qiportal-bench-")

from openpyxl import load_workbook  # noqa: E402

MAX_RATIO = 8.0  # full check vs. plain read
MAX_PEAK_MB = 40.0


def timed(fn, repeat: int) -> tuple[float, float]:
    """(median seconds, peak MiB of one call)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / (1024 * 1024)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    from centres.models import Centre, Site
    from datasheets.layout import layout_for
    from datasheets.services import datasheet_check, datasheet_template_build
    from indicators.models import CatalogueVersion
    from indicators.services import catalogue_load
    from tests.datasheets.helpers import consistent_values

    catalogue_load()
    centre = Centre.objects.create(name="Benchmark")
    site = Site.objects.create(centre=centre, registration_number="KHT-BENCH", name="Bench", city="Berlin")
    layout = layout_for(CatalogueVersion.objects.get(pk="KJ2024"))
    _name, content = datasheet_template_build(site=site, indicator_year=2024, values=consistent_values(layout))

    def baseline():
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        for ws in wb.worksheets:
            for _row in ws.iter_rows(values_only=True):
                pass
        wb.close()

    def check():
        errors, _warnings, _facts = datasheet_check(content=content)
        assert not errors, errors

    base_t, base_mem = timed(baseline, args.repeat)
    check_t, check_mem = timed(check, args.repeat)
    ratio = check_t / base_t
    print(f"file size              {len(content):>10,} bytes")
    print(f"baseline openpyxl read {base_t * 1000:>10.1f} ms   peak {base_mem:6.1f} MiB")
    print(f"full check             {check_t * 1000:>10.1f} ms   peak {check_mem:6.1f} MiB")
    print(f"ratio check/baseline   {ratio:>10.2f}   (limit {MAX_RATIO})")
    ok = ratio <= MAX_RATIO and check_mem <= MAX_PEAK_MB
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
