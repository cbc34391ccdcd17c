"""The audit dossier (issue 9): everything an audit of one site needs, per chapter.

``dossier_build(audit)`` collects, for the audit's site and indicator year (audit year
− 1): the audit (auditors, kind, date, REDZYK), the catalogue version in force and what
changed in it against the previous indicator year's version (compared by
``IndicatorDefinition.series``, never the bare KeZa code), the data sheet in force (the
current evaluated revision with its SHA-256), the active deviations of the year with the
whole review record, last year's findings (Hinweise and Abweichungen of the previous
indicator year) and their resolution, and missing or failed submissions.

The same ``Dossier`` is rendered as a page, as XLSX (``dossier_xlsx``, one sheet per
chapter) and as PDF (``dossier_pdf``, one page per chapter). This module reads all
apps, so it lives in ``datasheets`` (STYLE §4).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

from django.db import models
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from centres.models import Audit
from centres.permissions import Action, user_can
from centres.selectors import user_display_name
from indicators.choices import DeviationState
from indicators.formatting import format_percent
from indicators.models import Deviation, IndicatorDefinition, IndicatorYear

from .choices import RevisionStatus
from .models import DatasheetRevision
from .template import cell_text_write


class Chapter(models.TextChoices):
    """The chapters of the dossier, in order: one XLSX sheet and one PDF page each."""

    AUDIT = "audit", gettext_lazy("Site and audit")
    CATALOGUE = "catalogue", gettext_lazy("Catalogue version")
    DATASHEET = "datasheet", gettext_lazy("Data sheet in force")
    DEVIATIONS = "deviations", gettext_lazy("Deviations of the indicator year")
    FINDINGS = "findings", gettext_lazy("Last year's findings")
    SUBMISSIONS = "submissions", gettext_lazy("Missing or failed submissions")


class ChangeKind(models.TextChoices):
    """How a definition changed between two catalogue versions (by series)."""

    ADDED = "added", gettext_lazy("added")
    REMOVED = "removed", gettext_lazy("removed")
    RENUMBERED = "renumbered", gettext_lazy("KeZa renumbered")
    TARGET = "target", gettext_lazy("target changed")
    CORRIDOR = "corridor", gettext_lazy("plausibility corridor changed")


@dataclass(frozen=True)
class CatalogueChange:
    """One change of the catalogue in force against the previous year's version.
    ``before`` / ``after``: the KeZa code (ADDED, REMOVED, RENUMBERED) or the target /
    corridor as printed (``≥ 95 %``; "" = none)."""

    kind: str
    series: str
    code: str
    title: str
    before: str
    after: str

    @property
    def kind_label(self) -> str:
        return ChangeKind(self.kind).label


@dataclass(frozen=True)
class RevisionInfo:
    """A data sheet revision as the dossier shows it; ``number`` is the revision's id."""

    number: int
    file_name: str
    uploaded_at: dt.datetime
    uploaded_by: str
    sha256: str
    status: str
    error_count: int
    catalogue_version: str


@dataclass(frozen=True)
class DeviationRow:
    """One active deviation with its review record. ``numerator`` / ``denominator``
    are counts (denominator None for count indicators), ``rate`` a fraction 0..1 as
    float (None for counts or denominator 0); texts are as entered. ``resolution`` is
    filled for last year's findings only."""

    code: str
    title: str
    flag: str
    numerator: int
    denominator: int | None
    rate: float | None
    value_text: str
    justification: str
    reason: str
    state: str
    state_code: str
    decision_comment: str
    corrective_action: str
    due_date: dt.date | None
    overdue: bool
    consecutive_years: int
    response: str
    resolution: str = ""


@dataclass
class Dossier:
    """The dossier of one audit; see the module docstring. ``previous_version`` is the
    catalogue version in force for the previous indicator year (None if there is none);
    ``catalogue_changes`` is empty when both years use the same version. ``missing`` is
    True when the indicator year has no evaluated revision."""

    audit: Audit
    indicator_year: int
    auditors: list[str]
    catalogue_version: str | None
    previous_version: str | None
    catalogue_changes: list[CatalogueChange]
    revision: RevisionInfo | None
    deviations: list[DeviationRow]
    previous_findings: list[DeviationRow]
    failed_revisions: list[RevisionInfo]
    missing: bool
    generated_at: dt.datetime = field(default_factory=timezone.now)

    @property
    def site(self):
        return self.audit.site

    @property
    def chapters(self) -> list[tuple[str, str]]:
        return list(Chapter.choices)

    @property
    def filename_stem(self) -> str:
        """E.g. ``Auditdossier_KHT-1013_2025``."""
        return f"Auditdossier_{self.site.registration_number}_{self.audit.audit_year}"


def dossier_audit_get(*, user, pk: int) -> Audit:
    """The audit whose dossier ``user`` may see: whoever may VIEW its site for its
    indicator year (``centres.permissions.user_can``). Http404 for an unknown audit or
    one out of scope (never 403: existence does not leak)."""
    audit = get_object_or_404(Audit.objects.select_related("site", "site__centre"), pk=pk)
    if not user_can(user, Action.VIEW, audit):
        raise Http404
    return audit


def _user_name(user) -> str:
    if user is None:
        return "–"
    return user_display_name(user)


def _revision_info(revision: DatasheetRevision) -> RevisionInfo:
    return RevisionInfo(
        number=revision.pk,
        file_name=revision.original_name,
        uploaded_at=revision.uploaded_at,
        uploaded_by=_user_name(revision.uploaded_by),
        sha256=revision.sha256,
        status=revision.get_status_display(),
        error_count=len(revision.errors or []),
        catalogue_version=revision.catalogue_version_id or "",
    )


def catalogue_changes(old: list[IndicatorDefinition], new: list[IndicatorDefinition]) -> list[CatalogueChange]:
    """What changed from the definitions ``old`` to ``new``, matched by ``series``:
    series only in ``new`` are ADDED, only in ``old`` REMOVED; a series in both is
    RENUMBERED when its KeZa code differs, TARGET when (operator, value) differ,
    CORRIDOR when (lower, upper) differ (several kinds per series possible). Sorted by
    kind (ChangeKind order), then catalogue position."""
    before = {d.series: d for d in old}
    after = {d.series: d for d in new}
    changes: list[tuple[int, int, CatalogueChange]] = []
    order = {kind: i for i, kind in enumerate(ChangeKind.values)}

    def add(kind: ChangeKind, d: IndicatorDefinition, before_text: str, after_text: str) -> None:
        change = CatalogueChange(kind.value, d.series, d.code, d.title, before_text, after_text)
        changes.append((order[kind.value], d.position, change))

    for series, d in after.items():
        previous = before.get(series)
        if previous is None:
            add(ChangeKind.ADDED, d, "", d.code)
            continue
        if previous.code != d.code:
            add(ChangeKind.RENUMBERED, d, previous.code, d.code)
        if (previous.target_op, previous.target_value) != (d.target_op, d.target_value):
            add(ChangeKind.TARGET, d, previous.target_display(), d.target_display())
        if (previous.corridor_lower, previous.corridor_upper) != (d.corridor_lower, d.corridor_upper):
            add(ChangeKind.CORRIDOR, d, previous.corridor_display(), d.corridor_display())
    for series, d in before.items():
        if series not in after:
            add(ChangeKind.REMOVED, d, d.code, "")
    return [change for _kind, _position, change in sorted(changes, key=lambda c: (c[0], c[1]))]


def _resolution(deviation: Deviation, today: dt.date) -> str:
    """How a finding of last year stands now."""
    if deviation.state == DeviationState.RESOLVED:
        return _("resolved")
    if deviation.state == DeviationState.NOTE:
        return _("note, no corrective action required")
    due = formats.date_format(deviation.due_date, "d.m.Y") if deviation.due_date else "–"
    if deviation.is_overdue(today):
        return _("open, overdue since %(date)s") % {"date": due}
    if deviation.awaiting_review:
        return _("answered, awaiting the auditor's review")
    return _("open, due %(date)s") % {"date": due}


def _deviation_row(deviation: Deviation, today: dt.date, *, with_resolution: bool = False) -> DeviationRow:
    rate = deviation.rate
    definition = deviation.definition
    if definition.is_count or deviation.denominator is None:
        value_text = str(deviation.numerator)
    else:
        value_text = f"{deviation.numerator}/{deviation.denominator}"
        if rate is not None:
            value_text += f" ({format_percent(rate)})"
    return DeviationRow(
        code=deviation.code,
        title=definition.title,
        flag=deviation.get_flag_display(),
        numerator=deviation.numerator,
        denominator=deviation.denominator,
        rate=None if rate is None else float(rate),
        value_text=value_text,
        justification=deviation.justification,
        reason=deviation.get_reason_code_display() if deviation.reason_code else "",
        state=deviation.get_state_display(),
        state_code=deviation.state,
        decision_comment=deviation.decision_comment,
        corrective_action=deviation.corrective_action,
        due_date=deviation.due_date,
        overdue=deviation.is_overdue(today),
        consecutive_years=deviation.consecutive_years,
        response=deviation.response,
        resolution=_resolution(deviation, today) if with_resolution else "",
    )


FINDING_STATES = (DeviationState.NOTE, DeviationState.NONCONFORMITY, DeviationState.RESOLVED)


def dossier_build(*, audit: Audit, today: dt.date | None = None) -> Dossier:
    """The dossier of ``audit`` (the caller has checked access, ``dossier_audit_get``).
    ``today`` (default: the local date) decides what is overdue. A fixed number of
    queries, independent of the number of deviations."""
    today = today or timezone.localdate()
    site, year = audit.site, audit.indicator_year
    years = {y.year: y.catalogue_version_id for y in IndicatorYear.objects.filter(year__in=[year, year - 1])}
    version, previous = years.get(year), years.get(year - 1)
    changes: list[CatalogueChange] = []
    if version and previous and version != previous:
        definitions = list(IndicatorDefinition.objects.filter(version_id__in=[version, previous]))
        changes = catalogue_changes(
            [d for d in definitions if d.version_id == previous], [d for d in definitions if d.version_id == version]
        )
    revisions = list(
        DatasheetRevision.objects.filter(site=site, indicator_year=year)
        .select_related("uploaded_by")
        .order_by("uploaded_at", "pk")
    )
    current = next((r for r in revisions if r.is_current and r.status == RevisionStatus.EVALUATED), None)
    deviations = (
        Deviation.objects.filter(site=site, is_active=True)
        .select_related("definition")
        .order_by("definition__position", "code", "flag")
    )
    return Dossier(
        audit=audit,
        indicator_year=year,
        auditors=sorted(_user_name(u) for u in audit.auditors.all()),
        catalogue_version=version,
        previous_version=previous,
        catalogue_changes=changes,
        revision=_revision_info(current) if current else None,
        deviations=[_deviation_row(d, today) for d in deviations.filter(indicator_year=year)],
        previous_findings=[
            _deviation_row(d, today, with_resolution=True)
            for d in deviations.filter(indicator_year=year - 1, state__in=FINDING_STATES)
        ],
        failed_revisions=[_revision_info(r) for r in revisions if r.status == RevisionStatus.FAILED],
        missing=not any(r.status == RevisionStatus.EVALUATED for r in revisions),
    )


# ---------------------------------------------------------------------------- XLSX

SHEET_TITLE_MAX = 31  # Excel's limit for a sheet name


def _dt_text(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "d.m.Y H:i")
    return formats.date_format(value, "d.m.Y")


def _yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def chapter_tables(dossier: Dossier) -> dict[str, tuple[list[str], list[list[object]]]]:
    """Chapter value -> (header, rows) as written to XLSX: numbers stay int / float,
    dates become date objects, everything else text. The page and the PDF show the
    same facts from the ``Dossier`` itself."""
    audit = dossier.audit
    site = dossier.site
    facts = [
        [_("Site"), f"{site.registration_number} {site.name}"],
        [_("Centre"), site.centre.name],
        [_("Audit year"), audit.audit_year],
        [_("Indicator year"), dossier.indicator_year],
        [_("Kind"), audit.get_kind_display()],
        [_("Date"), audit.date],
        [_("Auditors"), ", ".join(dossier.auditors) or "–"],
        [_("Reduced audit cycle (REDZYK)"), _yes_no(audit.reduced_cycle)],
        [_("Outcome"), audit.get_outcome_display() or _("not decided yet")],
    ]
    catalogue = [
        [_("In force"), dossier.catalogue_version or "–", "", "", ""],
        [_("Previous year"), dossier.previous_version or "–", "", "", ""],
    ] + [[c.kind_label, c.code, c.title, c.before, c.after] for c in dossier.catalogue_changes]
    r = dossier.revision
    datasheet = (
        [
            [_("Revision no."), r.number],
            [_("File name"), r.file_name],
            [_("Uploaded at"), _dt_text(r.uploaded_at)],
            [_("Uploaded by"), r.uploaded_by],
            [_("Catalogue version"), r.catalogue_version],
            [_("SHA-256"), r.sha256],
        ]
        if r
        else [[_("Revision no."), _("No evaluated data sheet for this indicator year.")]]
    )

    def deviation_values(row: DeviationRow) -> list[object]:
        return [
            row.code,
            row.title,
            row.flag,
            row.numerator,
            row.denominator,
            row.rate,
            row.justification,
            row.reason,
            row.state,
            row.decision_comment,
            row.corrective_action,
            row.due_date,
            _yes_no(row.overdue),
            row.consecutive_years,
            row.response,
        ]

    deviation_header = [
        _("KeZa"),
        _("Indicator"),
        _("Flag"),
        _("Numerator"),
        _("Denominator"),
        _("Rate"),
        _("Justification"),
        _("Reason"),
        _("Decision"),
        _("Comment"),
        _("Corrective action"),
        _("Due date"),
        _("Overdue"),
        _("Years in a row"),
        _("Statement of the centre"),
    ]
    submissions = [
        [_("Evaluated data sheet"), _("missing") if dossier.missing else _("present"), "", "", ""],
    ] + [[_("Failed"), f.number, f.file_name, _dt_text(f.uploaded_at), f.error_count] for f in dossier.failed_revisions]
    return {
        Chapter.AUDIT: ([_("Item"), _("Value")], facts),
        Chapter.CATALOGUE: ([_("Kind of change"), _("KeZa"), _("Indicator"), _("Before"), _("After")], catalogue),
        Chapter.DATASHEET: ([_("Item"), _("Value")], datasheet),
        Chapter.DEVIATIONS: (deviation_header, [deviation_values(d) for d in dossier.deviations]),
        Chapter.FINDINGS: (
            [*deviation_header, _("Resolution")],
            [[*deviation_values(d), d.resolution] for d in dossier.previous_findings],
        ),
        Chapter.SUBMISSIONS: (
            [_("Item"), _("Revision no."), _("File name"), _("Uploaded at"), _("Errors")],
            submissions,
        ),
    }


def _sheet_title(label: str, used: set[str]) -> str:
    title = "".join("-" if ch in "[]:*?/\\" else ch for ch in label)[:SHEET_TITLE_MAX]
    while title in used:
        title = title[: SHEET_TITLE_MAX - 1] + "_"
    used.add(title)
    return title


def dossier_xlsx(dossier: Dossier) -> bytes:
    """The dossier as an XLSX workbook (openpyxl): one sheet per chapter, named after
    it, header row bold; numbers as numbers (rates with a percent format), dates as
    dates, and every text written as data (``template.cell_text_write``: a text that
    begins with = + - @ is a string cell with Excel's quote prefix, never a formula)."""
    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    bold = Font(bold=True)
    for chapter, (header, rows) in chapter_tables(dossier).items():
        ws = wb.create_sheet(_sheet_title(str(Chapter(chapter).label), used))
        for col, text in enumerate(header, start=1):
            cell = ws.cell(row=1, column=col)
            cell_text_write(cell, str(text))
            cell.font = bold
        for row_number, row in enumerate(rows, start=2):
            for col, value in enumerate(row, start=1):
                cell = ws.cell(row=row_number, column=col)
                if isinstance(value, bool):
                    value = _yes_no(value)
                if value is None or isinstance(value, (int, float, dt.date)):
                    cell.value = value
                    if isinstance(value, float):
                        cell.number_format = "0.0%"
                    elif isinstance(value, dt.date):
                        cell.number_format = "DD.MM.YYYY"
                else:
                    cell_text_write(cell, str(value))
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = "A2"
        for col in range(1, len(header) + 1):
            ws.column_dimensions[ws.cell(row=1, column=col).column_letter].width = 18
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- PDF


# Bitstream Vera ships with reportlab and has the glyphs the dossier prints (≥, ≤, –,
# umlauts); the PDF core fonts lack ≥ and ≤.
def _pdf_font_dir() -> Path:
    import reportlab

    return Path(reportlab.__file__).resolve().parent / "fonts"


def dossier_pdf(dossier: Dossier) -> bytes:
    """The dossier as PDF (xhtml2pdf, pure Python): the template
    ``datasheets/dossier_pdf.html`` with one page per chapter (CSS page breaks).
    Raises ``RuntimeError`` if the renderer reports an error (a bug, not user input)."""
    from xhtml2pdf import pisa

    html = render_to_string(
        "datasheets/dossier_pdf.html",
        {"dossier": dossier, "font_dir": _pdf_font_dir().as_uri(), "chapters": dict(Chapter.choices)},
    )
    buffer = io.BytesIO()
    result = pisa.CreatePDF(html, dest=buffer, encoding="utf-8")
    if result.err:
        raise RuntimeError(f"PDF rendering failed: {result.err}")
    return buffer.getvalue()
