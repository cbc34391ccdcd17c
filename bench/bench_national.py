"""Benchmark: the national statistics of one indicator year (SPEC §5), exact, against
the baseline of the same statistics computed with floats from the same rows.

Run: ``.venv/bin/python bench/bench_national.py [--sites 81] [--repeat 20]``. Builds a
throw-away SQLite database with ``--sites`` sites × every KJ2022 indicator, then prints
the median time of ``indicator_stats(indicator_year=2022)`` (two queries plus exact
Fraction statistics for every indicator) and of a naive float version over the same
rows (one query, floats, ``statistics.quantiles``), and their ratio: the price of
exactness. PASS if the ratio stays within MAX_RATIO.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qiportal.scratch import scratch_setup  # noqa: E402

scratch_setup("qiportal-bench-")


MAX_RATIO = 10.0  # exact Fractions may cost up to 10× the naive float version


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=81)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    from centres.models import Centre, Site
    from indicators.domain import evaluate
    from indicators.models import CatalogueVersion, Evaluation
    from indicators.selectors import indicator_stats
    from indicators.services import catalogue_load

    catalogue_load()
    definitions = list(CatalogueVersion.objects.get(pk="KJ2022").definitions.all())
    rng = random.Random(2022)
    centre = Centre.objects.create(name="Bench")
    sites = Site.objects.bulk_create(
        Site(centre=centre, registration_number=f"KHT-B{i:04d}", name=f"Site {i}", city="Berlin")
        for i in range(args.sites)
    )
    rows = []
    for site in sites:
        for d in definitions:
            den = None if d.is_count else rng.randint(0, 300)
            num = rng.randint(0, 400) if d.is_count else rng.randint(0, den or 0)
            flags = [str(f) for f in evaluate(num, den, d.rule())]
            rows.append(
                Evaluation(site=site, indicator_year=2022, definition=d, numerator=num, denominator=den, flags=flags)
            )
    Evaluation.objects.bulk_create(rows)

    def baseline():
        by_definition: dict[int, list[tuple[int, int | None]]] = {}
        for definition_id, num, den in Evaluation.objects.filter(indicator_year=2022).values_list(
            "definition_id", "numerator", "denominator"
        ):
            by_definition.setdefault(definition_id, []).append((num, den))
        for values in by_definition.values():
            rates = sorted(float(n) if d is None else n / d for n, d in values if d is None or d > 0)
            if len(rates) > 1:
                statistics.quantiles(rates, n=20, method="inclusive")
            sum(n for n, _d in values) / max(1, sum(d or 0 for _n, d in values))
            sum(1 for r in rates if r >= 0.95), sum(1 for r in rates if r == 0)

    def stats():
        result = indicator_stats(indicator_year=2022)
        assert len(result) == len(definitions)

    base_t = median_time(baseline, args.repeat)
    stats_t = median_time(stats, args.repeat)
    ratio = stats_t / base_t
    print(f"evaluations            {len(rows):>10,} ({args.sites} sites × {len(definitions)} indicators)")
    print(f"baseline float stats   {base_t * 1000:>10.1f} ms")
    print(f"indicator_stats        {stats_t * 1000:>10.1f} ms")
    print(f"ratio stats/baseline   {ratio:>10.2f}   (limit {MAX_RATIO})")
    ok = ratio <= MAX_RATIO
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
