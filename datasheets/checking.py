"""Check a Datenblatt's bytes without writing anything (SPEC §3; the dry run).

``datasheet_check`` runs the zip pre-checks, reads the workbook with bounded openpyxl
(both in ``isolation.file_read``, or in a child process: ``file_read_limited``),
checks the Deckblatt against the database (site, year, catalogue version) and validates
every value; all problems come back at once, located and coded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from centres.models import Site
from centres.permissions import Action, user_can
from indicators.models import CatalogueVersion, IndicatorYear

from . import parsing
from .choices import ErrorCode
from .isolation import file_read
from .layout import SHEET_BASE, SHEET_INDICATORS, Layout, layout_for, normalise_label
from .messages import CellError, cell_error
from .parsing import RawWorkbook
from .validation import Problems, ValuesResult, cover_validate, values_validate


def version_for_year(indicator_year: int) -> CatalogueVersion | None:
    """The catalogue version in force for a Kennzahlenjahr, or None."""
    row = IndicatorYear.objects.select_related("catalogue_version").filter(year=indicator_year).first()
    return row.catalogue_version if row else None


@dataclass
class CheckResult:
    """Outcome of ``datasheet_check``: errors (any = nothing may be written), warnings,
    and what the file turned out to be. ``site`` is set only when the uploader may
    submit for it; ``values`` only when the file has no structure error."""

    errors: list[CellError] = field(default_factory=list)
    warnings: list[CellError] = field(default_factory=list)
    site: Site | None = None
    indicator_year: int | None = None
    version: CatalogueVersion | None = None
    layout: Layout | None = None
    values: ValuesResult | None = None
    cover: dict[str, str] = field(default_factory=dict)

    def __iter__(self):
        """Unpacks as (errors, warnings, facts dict), the form tests and callers use."""
        facts = {
            "site": self.site,
            "indicator_year": self.indicator_year,
            "version": self.version,
            "layout": self.layout,
            "values": self.values,
            "cover": self.cover,
        }
        return iter((self.errors, self.warnings, facts))

    def __getitem__(self, index: int):
        return tuple(self)[index]


def _site_access(acting_user, expected_site: Site | None):
    def access(registration_number: str) -> str | None:
        site = Site.objects.filter(registration_number__iexact=registration_number).first()
        if site is None:
            return ErrorCode.SITE_UNKNOWN, {}
        if acting_user is not None and not user_can(acting_user, Action.SUBMIT, site):
            return ErrorCode.SITE_FORBIDDEN, {}
        if expected_site is not None and site.pk != expected_site.pk:
            # a site the user may submit for, but not the one chosen: name both (issue 9)
            return ErrorCode.SITE_MISMATCH, {"chosen": expected_site.registration_number}
        return None

    return access


def datasheet_check(
    *,
    content: bytes,
    acting_user=None,
    expected_site: Site | None = None,
    expected_year: int | None = None,
    read: Callable[[bytes], RawWorkbook | list[CellError]] = file_read,
) -> CheckResult:
    """Validate file bytes without writing anything (SPEC §3: all problems at once).

    acting_user None = system (office rights). expected_site: the site the upload was
    made for (web), expected_year: a year the caller insists on. ``read``: how the bytes
    become a RawWorkbook or the errors refusing them (``isolation.file_read`` in this
    process; callers outside a worker pass ``isolation.file_read_limited``, issue 8).
    Never raises for bad input: every problem is a CellError in ``result.errors`` /
    ``result.warnings``; ``read`` may raise its limits (``isolation.ParseLimitExceeded``).
    """
    result = CheckResult()
    raw = read(content)
    if isinstance(raw, list):  # refused before any value is looked at
        result.errors = raw
        return result
    problems = Problems()
    cover, cover_errors = parsing.cover_parse(raw)
    problems.errors.extend(cover_errors)
    result.cover = {k: ("" if c.empty else str(c.value)[:200]) for k, c in cover.items()}
    known = dict(CatalogueVersion.objects.values_list("id", "layout_revision"))
    year_map = dict(IndicatorYear.objects.values_list("year", "catalogue_version_id"))
    access = _site_access(acting_user, expected_site)
    facts = cover_validate(
        cover,
        raw.template_id,
        problems,
        known_templates=known,
        version_for_year=year_map.get,
        site_access=access,
        expected_year=expected_year,
    )
    version_id = facts.version_id
    if version_id is None and facts.indicator_year is None:
        # Without a usable year, still read the values with the template's own layout.
        template = normalise_label(raw.template_id or "")
        version_id = next((v for v in known if f"kht/{v.casefold()}/" in template), None)
    if version_id is not None:
        version = CatalogueVersion.objects.get(pk=version_id)
        layout = layout_for(version)
        parsed = parsing.datasheet_parse(raw, layout)
        problems.errors.extend(e for e in parsed.errors if e not in cover_errors)
        values = values_validate(parsed, layout, problems)
        if facts.version_id is not None:
            result.version, result.layout, result.values = version, layout, values
    else:
        for sheet in (SHEET_BASE, SHEET_INDICATORS):
            if raw.sheet(sheet) is None:
                problems.add(cell_error(sheet, "A1", ErrorCode.SHEET_MISSING, sheet=sheet))
    if facts.registration_number and access(facts.registration_number) is None:
        result.site = Site.objects.filter(registration_number__iexact=facts.registration_number).first()
    result.indicator_year = facts.indicator_year
    result.errors, result.warnings = problems.errors, problems.warnings
    return result
