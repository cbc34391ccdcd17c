"""Writes of the datasheets app: template, upload, validation, evaluation (SPEC §2-§4).

Path of a file: ``datasheet_upload`` stores it (content-addressed by SHA-256) as a
``pending`` revision and enqueues ``revision_validate_task`` after commit. The task
re-reads the revision by id, validates (``validated`` or ``failed``, all problems
located and coded; a failed revision writes no values) and enqueues
``revision_evaluate_task``, which evaluates every indicator, makes the revision current
for its site and year and syncs the deviation records (``evaluated``). Both tasks are
idempotent: a revision already past their step is left alone.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from centres.models import Site
from centres.permissions import Action, user_can
from centres.services import log_entry_create
from indicators.models import CatalogueVersion, IndicatorYear
from indicators.services import evaluation_record
from qiportal.exceptions import ApplicationError

from . import parsing, safety
from .choices import ErrorCode, RevisionSource, RevisionStatus
from .layout import layout_for
from .messages import CellError, cell_error
from .models import BaseDataValue, DatasheetRevision, IndicatorValue
from .template import SheetValues, workbook_bytes
from .validation import Problems, cover_validate, values_validate


def version_for_year(indicator_year: int) -> CatalogueVersion | None:
    """The catalogue version in force for a Kennzahlenjahr, or None."""
    row = IndicatorYear.objects.select_related("catalogue_version").filter(year=indicator_year).first()
    return row.catalogue_version if row else None


def template_filename(site: Site, indicator_year: int) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in site.registration_number)
    return f"Datenblatt_KHT_{safe}_KJ{indicator_year}.xlsx"


def site_cover(site: Site, indicator_year: int, version: CatalogueVersion) -> dict[str, object]:
    """Deckblatt values pre-filled from the site (SPEC §2)."""
    return {
        "registration_number": site.registration_number,
        "centre": site.centre.name,
        "site": f"{site.name}, {site.city}",
        "contact": site.contact_name,
        "email": site.contact_email,
        "created": timezone.localdate().isoformat(),
        "initial_certification": site.initial_certification.isoformat() if site.initial_certification else "",
        "indicator_year": indicator_year,
        "audit_year": indicator_year + 1,
        "state": site.state or site.country,
        "documentation_system": site.documentation_system,
        "oncobox": "",
        "catalogue_version": version.id,
    }


def datasheet_template_build(
    *, site: Site, indicator_year: int, acting_user=None, values: SheetValues | None = None
) -> tuple[str, bytes]:
    """The Datenblatt workbook for ``site`` and Kennzahlenjahr (SPEC §2) as
    (filename, xlsx bytes). ``acting_user`` None = system (commands). ``values`` fills
    entered cells (demo, tests). Raises ApplicationError(year_mismatch) when no catalogue
    is in force for the year, (site_forbidden) when the user may not submit for the site.
    """
    if acting_user is not None and not user_can(acting_user, Action.SUBMIT, site):
        raise ApplicationError(ErrorCode.SITE_FORBIDDEN, "Für diesen Standort dürfen Sie keine Vorlage abrufen.")
    version = version_for_year(indicator_year)
    if version is None:
        raise ApplicationError(ErrorCode.YEAR_MISMATCH, f"Für Kennzahlenjahr {indicator_year} ist kein Kennzahlenkatalog hinterlegt.")
    layout = layout_for(version)
    content = workbook_bytes(layout, site_cover(site, indicator_year, version), values)
    return template_filename(site, indicator_year), content


def _storage_name(sha256: str) -> str:
    return f"datasheets/{sha256[:2]}/{sha256}.xlsx"


def datasheet_upload(
    *,
    content: bytes,
    filename: str,
    acting_user=None,
    expected_site: Site | None = None,
    source: str = RevisionSource.WEB,
) -> DatasheetRevision:
    """Store an uploaded file as a new ``pending`` revision and enqueue its validation
    after commit. ``acting_user`` None = system import (office rights). The file is kept
    content-addressed (``datasheets/<sha[:2]>/<sha256>.xlsx``).

    Raises ApplicationError(file_too_large) above 5 MB and (site_forbidden) when
    ``expected_site`` is given and the user may not submit for it; everything else is
    judged by the task and reported on the revision.
    """
    if len(content) > safety.MAX_BYTES:
        raise ApplicationError(ErrorCode.FILE_TOO_LARGE, f"Die Datei ist größer als {safety.MAX_BYTES // (1024 * 1024)} MB.")
    if expected_site is not None and acting_user is not None and not user_can(acting_user, Action.SUBMIT, expected_site):
        raise ApplicationError(ErrorCode.SITE_FORBIDDEN, "Für diesen Standort dürfen Sie kein Datenblatt einreichen.")
    sha256 = hashlib.sha256(content).hexdigest()
    name = _storage_name(sha256)
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(content))
    with transaction.atomic():
        revision = DatasheetRevision.objects.create(
            uploaded_by=acting_user if getattr(acting_user, "pk", None) else None,
            source=source,
            file=name,
            original_name=(filename or "datenblatt.xlsx")[-255:],
            size=len(content),
            sha256=sha256,
            expected_site=expected_site,
            site=expected_site,
        )
        log_entry_create(actor=acting_user, obj=revision, action="datasheets.revision.uploaded", data={"sha256": sha256, "size": len(content)})
        from .tasks import revision_validate_task

        revision_validate_task.delay_on_commit(revision.pk)
    return revision


def _site_access(acting_user, expected_site: Site | None):
    def access(registration_number: str) -> str | None:
        site = Site.objects.filter(registration_number__iexact=registration_number).first()
        if site is None:
            return ErrorCode.SITE_UNKNOWN
        if expected_site is not None and site.pk != expected_site.pk:
            return ErrorCode.SITE_FORBIDDEN
        if acting_user is not None and not user_can(acting_user, Action.SUBMIT, site):
            return ErrorCode.SITE_FORBIDDEN
        return None

    return access


def datasheet_check(
    *, content: bytes, acting_user=None, expected_site: Site | None = None, expected_year: int | None = None
) -> tuple[list[CellError], list[CellError], dict[str, Any]]:
    """Validate file bytes without writing anything (SPEC §3: all problems at once).

    Returns (errors, warnings, facts) where facts has ``site`` (Site|None),
    ``indicator_year``, ``version`` (CatalogueVersion|None), ``layout``, ``values``
    (validation.ValuesResult|None) and ``cover`` (Deckblatt texts).
    """
    facts: dict[str, Any] = {"site": None, "indicator_year": None, "version": None, "layout": None, "values": None, "cover": {}}
    errors = safety.precheck(content)
    if errors:
        return errors, [], facts
    try:
        raw = parsing.workbook_read(content)
    except parsing.WorkbookUnreadable as exc:
        return [cell_error(safety.FILE, "A1", exc.code, detail=": nicht lesbar / unreadable")], [], facts
    problems = Problems()
    cover, cover_errors = parsing.cover_parse(raw)
    problems.errors.extend(cover_errors)
    facts["cover"] = {k: ("" if c.empty else str(c.value)) for k, c in cover.items()}
    known = dict(CatalogueVersion.objects.values_list("id", "layout_revision"))
    year_map = dict(IndicatorYear.objects.values_list("year", "catalogue_version_id"))
    cover_facts = cover_validate(
        cover, raw.template_id, problems, known_templates=known,
        version_for_year=year_map.get, site_access=_site_access(acting_user, expected_site),
        expected_year=expected_year,
    )
    version_id = cover_facts.version_id
    if version_id is None and cover_facts.indicator_year is None:
        # Without a usable year, still read the values with the template's own layout.
        match = parsing.normalise_label(raw.template_id or "")
        version_id = next((v for v in known if f"kht/{v.casefold()}/" in match), None)
    if version_id is not None:
        version = CatalogueVersion.objects.get(pk=version_id)
        layout = layout_for(version)
        parsed = parsing.datasheet_parse(raw, layout)
        problems.errors.extend(e for e in parsed.errors if e not in cover_errors)
        values = values_validate(parsed, layout, problems)
        if cover_facts.version_id is not None:
            facts.update(version=version, layout=layout, values=values)
    else:
        for sheet in (parsing.SHEET_BASE, parsing.SHEET_INDICATORS):
            if raw.sheet(sheet) is None:
                problems.add(cell_error(sheet, "A1", ErrorCode.SHEET_MISSING, sheet=sheet))
    if cover_facts.registration_number:
        facts["site"] = Site.objects.filter(registration_number__iexact=cover_facts.registration_number).first()
    facts["indicator_year"] = cover_facts.indicator_year
    return problems.errors, problems.warnings, facts


def _fail(revision: DatasheetRevision, errors: list[CellError], warnings: list[CellError]) -> DatasheetRevision:
    revision.status = RevisionStatus.FAILED
    revision.errors = [e.as_dict() for e in errors]
    revision.warnings = [w.as_dict() for w in warnings]
    revision.validated_at = timezone.now()
    revision.save()
    log_entry_create(actor=revision.uploaded_by, obj=revision, action="datasheets.revision.failed", data={"codes": sorted({e.code for e in errors})})
    return revision


@transaction.atomic
def revision_validate(*, revision_id: int) -> DatasheetRevision | None:
    """pending -> validated | failed (SPEC §3). Re-reads the stored file and the
    uploader's rights; writes Basisdaten and indicator values only if there is no error.
    A revision that is not pending is left alone (idempotent). Returns the revision."""
    revision = DatasheetRevision.objects.select_for_update().filter(pk=revision_id).first()
    if revision is None or revision.status != RevisionStatus.PENDING:
        return revision
    with revision.file.open("rb") as handle:
        content = handle.read(safety.MAX_BYTES + 1)
    if hashlib.sha256(content).hexdigest() != revision.sha256:
        return _fail(revision, [cell_error(safety.FILE, "A1", ErrorCode.UNSAFE_CONTENT, detail="Prüfsumme / checksum")], [])
    errors, warnings, facts = datasheet_check(
        content=content, acting_user=revision.uploaded_by, expected_site=revision.expected_site
    )
    revision.cover = facts["cover"]
    if facts["site"] is not None:
        revision.site = facts["site"]
    revision.indicator_year = facts["indicator_year"]
    if errors or facts["values"] is None:
        revision.catalogue_version = facts["version"]
        return _fail(revision, errors, warnings)
    values = facts["values"]
    layout = facts["layout"]
    definitions = {d.code: d for d in facts["version"].definitions.all()}
    BaseDataValue.objects.bulk_create(BaseDataValue(revision=revision, key=k, value=v) for k, v in values.base.items())
    IndicatorValue.objects.bulk_create(
        IndicatorValue(
            revision=revision, definition=definitions[code], numerator=e.numerator,
            denominator=e.denominator, justification=e.justification, flags=list(e.flags),
        )
        for code, e in values.indicators.items()
    )
    revision.catalogue_version = facts["version"]
    revision.status = RevisionStatus.VALIDATED
    revision.errors = []
    revision.warnings = [w.as_dict() for w in warnings]
    revision.validated_at = timezone.now()
    revision.save()
    log_entry_create(actor=revision.uploaded_by, obj=revision, action="datasheets.revision.validated", data={"layout": layout.template_id, "warnings": len(warnings)})
    from .tasks import revision_evaluate_task

    revision_evaluate_task.delay_on_commit(revision.pk)
    return revision


@transaction.atomic
def revision_evaluate(*, revision_id: int) -> DatasheetRevision | None:
    """validated -> evaluated (SPEC §4): recompute every indicator's flags with
    ``indicators.domain``, make this the current revision of its site and year, record
    evaluations and sync deviations. Serialised per site and year by a row lock on the
    site; a revision superseded meanwhile by a newer evaluated one is evaluated but not
    made current. Idempotent: a revision not in ``validated`` is left alone."""
    revision = DatasheetRevision.objects.filter(pk=revision_id).first()
    if revision is None or revision.status != RevisionStatus.VALIDATED:
        return revision
    Site.objects.select_for_update().get(pk=revision.site_id)  # serialise per site
    revision = DatasheetRevision.objects.select_for_update().get(pk=revision_id)
    if revision.status != RevisionStatus.VALIDATED:
        return revision
    if revision.uploaded_by is not None and not user_can(revision.uploaded_by, Action.SUBMIT, revision.site):
        return _fail(revision, [cell_error("Deckblatt", "B3", ErrorCode.SITE_FORBIDDEN, value=revision.site.registration_number)], [])
    newer = DatasheetRevision.objects.filter(
        site=revision.site, indicator_year=revision.indicator_year, status=RevisionStatus.EVALUATED,
        uploaded_at__gt=revision.uploaded_at,
    ).exists()
    values = list(revision.indicator_values.select_related("definition"))
    for value in values:
        value.flags = [str(f) for f in _evaluate(value)]
        value.evaluated = True
    IndicatorValue.objects.bulk_update(values, ["flags", "evaluated"])
    if not newer:
        DatasheetRevision.objects.filter(
            site=revision.site, indicator_year=revision.indicator_year, is_current=True
        ).exclude(pk=revision.pk).update(is_current=False)
        revision.is_current = True
        for value in values:
            evaluation_record(
                site=revision.site, indicator_year=revision.indicator_year,
                definition=value.definition, numerator=value.numerator,
                denominator=value.denominator, flags=value.flags,
                source_revision_id=revision.pk, justification=value.justification,
                acting_user=revision.uploaded_by,
            )
    revision.status = RevisionStatus.EVALUATED
    revision.evaluated_at = timezone.now()
    revision.save()
    log_entry_create(
        actor=revision.uploaded_by, obj=revision, action="datasheets.revision.evaluated",
        data={"flagged": sum(1 for v in values if v.flags), "current": revision.is_current},
    )
    return revision


def _evaluate(value: IndicatorValue):
    from indicators.domain import evaluate

    return evaluate(value.numerator, value.denominator, value.definition.rule())


def _rate(numerator: int, denominator: int | None) -> float | None:
    if denominator is None or denominator == 0:
        return None
    return round(numerator / denominator, 6)


def revision_report(revision: DatasheetRevision) -> dict[str, Any]:
    """The structured report of a revision (JSON-ready): revision id, status, site,
    indicator year, catalogue version, errors and warnings as ``{sheet, cell, code,
    message, message_de, message_en}``, and per KeZa ``{code, numerator, denominator,
    rate, flags}`` with the rate a fraction 0..1 rounded to 6 places (None if not
    evaluable or a count)."""
    indicators = [
        {
            "code": v.definition.code,
            "numerator": v.numerator,
            "denominator": v.denominator,
            "rate": _rate(v.numerator, v.denominator),
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
        "errors": revision.errors,
        "warnings": revision.warnings,
        "indicators": indicators,
    }


def revision_wait(*, revision_id: int, until: tuple[str, ...], timeout: float = 120.0, interval: float = 0.2) -> DatasheetRevision:
    """Poll a revision until its status is one of ``until`` or FAILED; for the command
    line. Raises TimeoutError after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        revision = DatasheetRevision.objects.get(pk=revision_id)
        if revision.status in until or revision.status == RevisionStatus.FAILED:
            return revision
        if time.monotonic() > deadline:
            raise TimeoutError(f"revision {revision_id} still {revision.status} after {timeout:.0f} s")
        time.sleep(interval)

