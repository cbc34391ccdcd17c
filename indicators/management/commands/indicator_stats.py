"""``python manage.py indicator_stats --year 2022 [--code 5] [--json]``: national
statistics per indicator (SPEC §5).

Without ``--json`` a German table in percent with one decimal, counts as integers,
formatted by ``indicators.formatting`` like the pages (``96,5 %``, ``11.577``);
with ``--json`` one JSON document: a list of objects, rates as floats 0..1 rounded to
6 decimals (never percent) plus the exact pooled rate as ``"num/den"``.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from fractions import Fraction
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from indicators.formatting import EMPTY, NBSP, format_count, format_percent
from indicators.models import IndicatorDefinition, IndicatorYear
from indicators.selectors import IndicatorStatRow, indicator_stats

TITLE_WIDTH = 40
HEADERS = (
    "KeZa",
    "Kennzahl",
    "Standorte",
    "Gesamtquote",
    "Median",
    "Min",
    "P5",
    "P25",
    "P75",
    "P95",
    "Max",
    "Soll erfüllt n (%)",
    "im Korridor",
    "Zähler 0",
    "100 %",
)


def _float(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 6)


def _table_row(row: IndicatorStatRow) -> list[str]:
    d, s = row.definition, row.statistics
    fmt = format_count if s.is_count else format_percent
    title = d.title_de if len(d.title_de) <= TITLE_WIDTH else d.title_de[: TITLE_WIDTH - 1] + "…"
    if s.sites_meeting_target is None:
        target = EMPTY
    elif s.share_meeting_target is None:  # no evaluable site
        target = str(s.sites_meeting_target)
    else:
        target = f"{s.sites_meeting_target} ({format_percent(s.share_meeting_target)})"
    if s.is_count:
        pooled = f"Σ {format_count(s.total)}" if s.n_sites else EMPTY
    else:
        pooled = format_percent(s.pooled_rate)
    return [
        d.code,
        title,
        str(s.n_sites) + (f" (+{s.n_not_evaluable} n. a.)" if s.n_not_evaluable else ""),
        pooled,
        fmt(s.median),
        fmt(s.minimum),
        fmt(s.p5),
        fmt(s.p25),
        fmt(s.p75),
        fmt(s.p95),
        fmt(s.maximum),
        target,
        EMPTY if s.sites_inside_corridor is None else str(s.sites_inside_corridor),
        str(s.sites_with_zero_numerator),
        EMPTY if s.sites_at_100_percent is None else str(s.sites_at_100_percent),
    ]


def render_table(rows: list[IndicatorStatRow]) -> str:
    """The German plain-text table: KeZa and Kennzahl left-aligned, numbers right;
    numbers in German format whatever the active language, plain spaces only."""
    with translation.override("de"):
        body = [[cell.replace(NBSP, " ") for cell in _table_row(r)] for r in rows]
    lines = [list(HEADERS), *body]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]

    def fmt(line: list[str]) -> str:
        cells = [cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(line)]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(lines[0]), rule, *(fmt(line) for line in lines[1:])])


def stats_as_json(row: IndicatorStatRow, indicator_year: int) -> dict[str, Any]:
    """One JSON object: rates as floats 0..1 rounded to 6 decimals (never percent),
    counts as integers, percentiles of count indicators as (possibly fractional) numbers,
    ``pooled_rate_fraction`` the exact Gesamtquote as reduced ``"num/den"``."""
    d, s = row.definition, row.statistics
    pooled = s.pooled_rate
    return {
        "indicator_year": indicator_year,
        "catalogue_version": d.version_id,
        "code": d.code,
        "title": d.title_de,
        "title_en": d.title_en,
        "kind": str(s.kind),
        "series": d.series,
        "n_sites": s.n_sites,
        "n_reported": s.n_reported,
        "n_not_evaluable": s.n_not_evaluable,
        "pooled_rate": _float(pooled),
        "pooled_rate_fraction": None if pooled is None else f"{pooled.numerator}/{pooled.denominator}",
        "total": s.total,
        "median": _float(s.median),
        "minimum": _float(s.minimum),
        "maximum": _float(s.maximum),
        "p5": _float(s.p5),
        "p25": _float(s.p25),
        "p75": _float(s.p75),
        "p95": _float(s.p95),
        "sites_meeting_target": s.sites_meeting_target,
        "share_meeting_target": _float(s.share_meeting_target),
        "sites_inside_corridor": s.sites_inside_corridor,
        "share_inside_corridor": _float(s.share_inside_corridor),
        "sites_with_zero_numerator": s.sites_with_zero_numerator,
        "sites_at_100_percent": s.sites_at_100_percent,
    }


class Command(BaseCommand):
    help = "Bundesweite Statistik je Kennzahl eines Kennzahlenjahres (SPEC §5)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--year", type=int, required=True, help="Kennzahlenjahr, z. B. 2022")
        parser.add_argument("--code", help="nur diese Kennzahl (KeZa), z. B. 5")
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="JSON statt Tabelle ausgeben",
        )

    def handle(self, *args: Any, year: int, code: str | None, as_json: bool, **options: Any) -> None:
        try:
            rows = indicator_stats(indicator_year=year, code=code)
        except IndicatorYear.DoesNotExist:
            known = sorted(IndicatorYear.objects.values_list("year", flat=True))
            hint = f" Bekannt: {', '.join(map(str, known))}." if known else " Ist der Katalog geladen?"
            raise CommandError(f"Unbekanntes Kennzahlenjahr {year}.{hint}") from None
        except IndicatorDefinition.DoesNotExist:
            codes = (
                IndicatorDefinition.objects.filter(version__years__year=year)
                .order_by("position")
                .values_list("code", flat=True)
            )
            raise CommandError(
                f"Kennzahl {code!r} gibt es im Kennzahlenjahr {year} nicht. Bekannt: {', '.join(codes)}."
            ) from None
        if as_json:
            document = [stats_as_json(row, year) for row in rows]
            self.stdout.write(json.dumps(document, ensure_ascii=False, indent=2))
        else:
            version = rows[0].definition.version_id
            self.stdout.write(f"Kennzahlenjahr {year} (Katalog {version})\n")
            self.stdout.write(render_table(rows))
