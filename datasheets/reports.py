"""Reports of a revision: the JSON shape of issue 3 and the preview diff of issue 4."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import translation

from .layout import Layout, layout_for
from .messages import cell_subject
from .models import DatasheetRevision, IndicatorValue

# (numerator, denominator, flags) of one KeZa
Entry = tuple[int, int | None, tuple[str, ...]]


def rate_float(numerator: int, denominator: int | None) -> float | None:
    """numerator/denominator as a float fraction 0..1 rounded to 6 places, for JSON only
    (evaluation itself never uses floats); None for counts or a 0 denominator."""
    if denominator is None or denominator == 0:
        return None
    return round(numerator / denominator, 6)


def revision_layout(revision: DatasheetRevision) -> Layout | None:
    """The layout of the revision's catalogue version, or None when the file never
    got that far (not a workbook, unknown template)."""
    return layout_for(revision.catalogue_version) if revision.catalogue_version_id else None


def problems_with_subjects(problems: list[dict] | None, layout: Layout | None) -> list[dict]:
    """Stored errors or warnings (``CellError.as_dict`` shape) with what their cell is
    (issue 9): each gets ``subject_de``, ``subject_en`` (``messages.cell_subject``,
    e.g. "KeZa 5 · Zähler" / "KeZa 5 · numerator") and ``subject`` in the active
    language; all None without a layout or for a cell the layout does not name. The
    other keys stay as they are; the input is not changed."""
    out = []
    english = (translation.get_language() or "de")[:2] == "en"
    for problem in problems or []:
        sheet, cell = problem.get("sheet") or "", problem.get("cell") or ""
        de = cell_subject(layout, sheet, cell, language="de") if layout else None
        en = cell_subject(layout, sheet, cell, language="en") if layout else None
        out.append({**problem, "subject": en if english else de, "subject_de": de, "subject_en": en})
    return out


def revision_report(revision: DatasheetRevision) -> dict[str, Any]:
    """The structured report of a revision (JSON-ready): revision id, status, site,
    indicator year, catalogue version, errors and warnings as ``{sheet, cell, code,
    message, message_de, message_en, subject, subject_de, subject_en}`` (the subject
    names the KeZa and column or the Basisdaten row and stage of the cell, None if
    unknown), and per KeZa ``{code, numerator, denominator, rate, flags}`` with the
    rate a fraction 0..1 (None if not evaluable or a count)."""
    layout = revision_layout(revision)
    indicators = [
        {
            "code": v.definition.code,
            "numerator": v.numerator,
            "denominator": v.denominator,
            "rate": rate_float(v.numerator, v.denominator),
            "flags": list(v.flags),
        }
        for v in revision.indicator_values.select_related("definition").order_by("definition__position")
    ]
    return {
        "revision": revision.pk,
        "status": revision.status,
        "sha256": revision.sha256,
        "site": revision.site.registration_number if revision.site else None,
        "indicator_year": revision.indicator_year,
        "catalogue_version": revision.catalogue_version_id,
        "is_current": revision.is_current,
        "awaiting_confirmation": revision.awaiting_confirmation,
        "errors": problems_with_subjects(revision.errors, layout),
        "warnings": problems_with_subjects(revision.warnings, layout),
        "indicators": indicators,
    }


@dataclass(frozen=True)
class DiffRow:
    """One KeZa in the preview: old -> new counts and the flags that appear or go."""

    code: str
    old_numerator: int | None
    new_numerator: int | None
    old_denominator: int | None
    new_denominator: int | None
    flags_added: tuple[str, ...]
    flags_removed: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return (
            self.old_numerator != self.new_numerator
            or self.old_denominator != self.new_denominator
            or bool(self.flags_added)
            or bool(self.flags_removed)
        )


def values_diff(old: dict[str, Entry], new: dict[str, Entry], order: list[str]) -> list[DiffRow]:
    """Per KeZa in ``order``: old -> new numerator, denominator and flag changes.
    A code missing on one side has None counts there (e.g. the first revision)."""
    rows = []
    for code in order:
        o, n = old.get(code), new.get(code)
        o_flags, n_flags = set(o[2]) if o else set(), set(n[2]) if n else set()
        rows.append(
            DiffRow(
                code=code,
                old_numerator=o[0] if o else None,
                new_numerator=n[0] if n else None,
                old_denominator=o[1] if o else None,
                new_denominator=n[1] if n else None,
                flags_added=tuple(sorted(n_flags - o_flags)),
                flags_removed=tuple(sorted(o_flags - n_flags)),
            )
        )
    return rows


def _entries(values) -> dict[str, Entry]:
    return {v.definition.code: (v.numerator, v.denominator, tuple(v.flags)) for v in values}


def current_revision(*, site, indicator_year: int) -> DatasheetRevision | None:
    """The evaluated revision national statistics use for the site and year, or None."""
    return DatasheetRevision.objects.filter(site=site, indicator_year=indicator_year, is_current=True).first()


def revision_diff(revision: DatasheetRevision) -> list[DiffRow]:
    """Preview of a validated revision against the current one of its site and year."""
    current = current_revision(site=revision.site, indicator_year=revision.indicator_year)
    new_values = list(
        IndicatorValue.objects.filter(revision=revision).select_related("definition").order_by("definition__position")
    )
    old_values = (
        []
        if current is None or current.pk == revision.pk
        else list(IndicatorValue.objects.filter(revision=current).select_related("definition"))
    )
    order = [v.definition.code for v in new_values]
    return values_diff(_entries(old_values), _entries(new_values), order)


def dry_run_report(*, content: bytes, acting_user=None) -> dict[str, Any]:
    """Check bytes and preview the change against the current revision, writing
    nothing (issue 4 ``--dry-run``). Same shape as ``revision_report`` (revision None,
    status ``"valid"`` or ``"failed"``) plus ``changes``: the changed DiffRows. The file
    is read under the parse limits in a child process (issue 8)."""
    from dataclasses import asdict

    from .checking import CheckResult
    from .limits import datasheet_check_limited

    result, limit = datasheet_check_limited(content=content, acting_user=acting_user)  # issue 8: limits here too
    if limit is not None:
        result = CheckResult(errors=[limit])
    layout = layout_for(result.version) if result.version else None
    report: dict[str, Any] = {
        "revision": None,
        "status": "failed" if result.errors or result.values is None else "valid",
        "site": result.site.registration_number if result.site else None,
        "indicator_year": result.indicator_year,
        "catalogue_version": result.version.id if result.version else None,
        "errors": problems_with_subjects([e.as_dict() for e in result.errors], layout),
        "warnings": problems_with_subjects([w.as_dict() for w in result.warnings], layout),
        "indicators": [],
        "changes": [],
    }
    if report["status"] != "valid":
        return report
    new = {c: (e.numerator, e.denominator, e.flags) for c, e in result.values.indicators.items()}
    report["indicators"] = [
        {"code": c, "numerator": n, "denominator": d, "rate": rate_float(n, d), "flags": list(f)}
        for c, (n, d, f) in new.items()
    ]
    current = current_revision(site=result.site, indicator_year=result.indicator_year)
    old = _entries(IndicatorValue.objects.filter(revision=current).select_related("definition")) if current else {}
    report["current_revision"] = current.pk if current else None
    report["changes"] = [asdict(r) for r in values_diff(old, new, list(new)) if r.changed]
    return report
