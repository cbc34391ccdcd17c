"""Writes of the datasheets app: template, upload, validation, confirmation, evaluation.

Path of a file (SPEC §2-§4, issues 3 and 4): ``datasheet_upload`` stores the bytes
content-addressed (SHA-256; the same bytes again create no new revision) as a ``pending``
revision and enqueues ``revision_validate_task`` after commit. The task re-reads the
revision by id and validates it under a time and memory limit: ``failed`` (every
problem located and coded, no value written) or ``validated`` with its values. A
revision that would replace the current one waits for the uploader to confirm the
preview (``revision_confirm``) or discard it; the first one of a site and year, and
command-line/demo imports, are confirmed at once. ``revision_evaluate_task`` then
evaluates every indicator, makes the revision current and syncs the deviation records
(``evaluated``). Evaluations of one site are serialised by a row lock on the site; the
last confirmed revision wins. Both tasks are idempotent.
Transactions open inside the functions (``with transaction.atomic()``), not as a
decorator: mutmut leaves decorated functions alone, and these are rules under its test.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from centres.models import Site
from centres.permissions import Action, user_can
from centres.services import log_entry_create
from indicators.domain import evaluate
from indicators.models import CatalogueVersion
from indicators.services import evaluation_record
from qiportal.exceptions import ApplicationError

from . import safety
from .checking import datasheet_check, version_for_year
from .choices import ErrorCode, ProcessingStep, RevisionError, RevisionSource, RevisionStatus
from .layout import layout_for
from .limits import stored_file_check
from .messages import CellError, cell_error
from .models import AWAITING, BaseDataValue, DatasheetRevision, IndicatorValue
from .reports import current_revision, revision_report
from .selectors import revision_list
from .template import SheetValues, workbook_bytes

logger = logging.getLogger(__name__)

__all__ = [
    "datasheet_check",
    "datasheet_template_build",
    "datasheet_upload",
    "revision_abort",
    "revision_attempt_begin",
    "revision_confirm",
    "revision_discard",
    "revision_evaluate",
    "revision_report",
    "revision_validate",
    "revision_wait",
    "revisions_recover",
    "version_for_year",
]


def template_filename(site: Site, indicator_year: int) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in site.registration_number)
    return f"Datenblatt_KHT_{safe}_KJ{indicator_year}.xlsx"


def site_cover(site: Site, indicator_year: int, version: CatalogueVersion) -> dict[str, object]:
    """Deckblatt values pre-filled from the site (SPEC §2): exactly the keys of
    ``layout.COVER_FIELDS`` (a test holds the two together)."""
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
        raise ApplicationError(ErrorCode.SITE_FORBIDDEN, _("You may not download a template for this site."))
    version = version_for_year(indicator_year)
    if version is None:
        raise ApplicationError(
            ErrorCode.YEAR_MISMATCH,
            _("No indicator catalogue is on record for indicator year %(year)d.") % {"year": indicator_year},
        )
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
    auto_confirm: bool | None = None,
) -> DatasheetRevision:
    """Store an uploaded file as a new ``pending`` revision and enqueue its validation
    after commit; returns the revision.

    acting_user None = system import (office rights). The file is kept content-addressed
    (``datasheets/<sha[:2]>/<sha256>.xlsx``). The same bytes uploaded again (same
    expected site, revision visible to the user and not discarded) create no new
    revision: the existing one is returned with ``duplicate = True`` — unless it failed
    for a reason outside the file (site, rights, year, parse limits), which is checked
    again. ``auto_confirm``
    (default: True for command line and demo, False for the web) skips the preview when
    the revision replaces a current one. Raises ApplicationError(file_too_large) above
    ``settings.DATASHEET_MAX_BYTES`` (5 MB, SPEC §2) and (site_forbidden) when the user
    may not submit for ``expected_site``.
    """
    limit = settings.DATASHEET_MAX_BYTES
    if len(content) > limit:
        raise ApplicationError(
            ErrorCode.FILE_TOO_LARGE,
            _("The file is %(size)s; at most %(limit)s is allowed.")
            % {"size": filesizeformat(len(content)), "limit": filesizeformat(limit)},
        )
    if (
        expected_site is not None
        and acting_user is not None
        and not user_can(acting_user, Action.SUBMIT, expected_site)
    ):
        raise ApplicationError(ErrorCode.SITE_FORBIDDEN, _("You may not submit a data sheet for this site."))
    if auto_confirm is None:
        auto_confirm = source != RevisionSource.WEB
    sha256 = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        if expected_site is not None:  # serialise uploads for one site
            Site.objects.select_for_update().filter(pk=expected_site.pk).first()
        seen = DatasheetRevision.objects.filter(sha256=sha256, expected_site=expected_site).exclude(
            status=RevisionStatus.DISCARDED
        )
        if acting_user is not None:
            seen = seen.filter(pk__in=revision_list(user=acting_user).values("pk"))
        existing = next((r for r in seen.order_by("-pk")[:5] if not _may_change_on_retry(r)), None)
        if existing is not None and not _superseded(existing):
            existing.duplicate = True
            existing.requeued = existing.awaiting_processing
            if existing.requeued:  # stuck or slow: hand it to the broker again
                _requeue(existing, acting_user=acting_user, reason="reupload")
            return existing
        name = _storage_name(sha256)
        if not default_storage.exists(name):
            name = default_storage.save(name, ContentFile(content))
        revision = DatasheetRevision.objects.create(
            uploaded_by=acting_user if getattr(acting_user, "pk", None) else None,
            source=source,
            file=name,
            original_name=(filename or "datenblatt.xlsx")[-255:],
            size=len(content),
            sha256=sha256,
            expected_site=expected_site,
            site=expected_site,
            confirmed_at=timezone.now() if auto_confirm else None,
            confirmed_by=acting_user if auto_confirm and getattr(acting_user, "pk", None) else None,
        )
        revision.duplicate = revision.requeued = False
        log_entry_create(
            actor=acting_user,
            obj=revision,
            action="datasheets.revision.uploaded",
            data={"sha256": sha256, "size": len(content), "source": source},
        )
        from .tasks import revision_enqueue

        revision_enqueue(revision.pk, ProcessingStep.VALIDATE)
    return revision


def _superseded(revision: DatasheetRevision) -> bool:
    """An evaluated revision that is no longer the current one: its bytes uploaded
    again mean "go back to this version", which needs a new revision (issue 8)."""
    return revision.status == RevisionStatus.EVALUATED and not revision.is_current


def _requeue(revision: DatasheetRevision, *, acting_user, reason: str) -> None:
    """Hand the current step of a revision awaiting processing to the broker again
    after commit (inside the caller's transaction); logged."""
    from .tasks import revision_enqueue

    step = revision.processing_step
    log_entry_create(
        actor=acting_user,
        obj=revision,
        action="datasheets.revision.requeued",
        data={"step": str(step), "reason": reason, "attempts": revision.attempts},
    )
    revision_enqueue(revision.pk, step)


# Failures that depend on the database (sites, rights, catalogue years), not on the
# bytes alone: the same file uploaded again is checked again.
CONTEXT_CODES = frozenset(
    {
        ErrorCode.SITE_UNKNOWN,
        ErrorCode.SITE_FORBIDDEN,
        ErrorCode.SITE_MISMATCH,
        ErrorCode.YEAR_MISMATCH,
        ErrorCode.CATALOGUE_MISMATCH,
        ErrorCode.TEMPLATE_UNKNOWN,
        ErrorCode.UNSAFE_CONTENT,
        ErrorCode.PROCESSING_ABORTED,
    }
)


def _may_change_on_retry(revision: DatasheetRevision) -> bool:
    """A failed revision whose errors may not recur (context codes, aborted parse)."""
    return revision.status == RevisionStatus.FAILED and any(e.get("code") in CONTEXT_CODES for e in revision.errors)


def _fail(revision: DatasheetRevision, errors: list[CellError], warnings: list[CellError] | None) -> DatasheetRevision:
    """Mark a revision failed with ``errors`` (``warnings`` None: keep its warnings)."""
    revision.status = RevisionStatus.FAILED
    revision.errors = [e.as_dict() for e in errors]
    if warnings is not None:
        revision.warnings = [w.as_dict() for w in warnings]
    revision.validated_at = timezone.now()
    revision.is_current = False
    revision.save()
    log_entry_create(
        actor=revision.uploaded_by,
        obj=revision,
        action="datasheets.revision.failed",
        data={"codes": sorted({e.code for e in errors})},
    )
    return revision


def revision_validate(*, revision_id: int, limited: bool = False) -> DatasheetRevision | None:
    """pending -> validated | failed (SPEC §3). Re-reads the stored file and the
    uploader's rights; writes Basisdaten and indicator values only if there is no error.
    ``limited`` (set by the worker task): parse under ``QIPORTAL_PARSE_MEMORY_MB``; a
    soft time limit of the task or the memory cap fails the revision with
    ``unsafe_content``. The file is parsed outside any transaction (no lock is held
    while it is read); the results are written under a row lock after checking that the
    revision is still pending. Idempotent: anything not pending is left alone."""
    revision = DatasheetRevision.objects.filter(pk=revision_id).first()
    if revision is None or revision.status != RevisionStatus.PENDING:
        return revision
    result, failure = stored_file_check(revision, limited=limited)
    with transaction.atomic():
        revision = DatasheetRevision.objects.select_for_update().get(pk=revision_id)
        if revision.status != RevisionStatus.PENDING:
            return revision
        if failure is not None:
            return _fail(revision, [failure], [])
        return _store_validated(revision, result)


def _store_validated(revision: DatasheetRevision, result) -> DatasheetRevision:
    """Write what ``datasheet_check`` found (inside the caller's transaction): failed
    with its errors, or validated with its values; enqueue the evaluation when nothing
    needs confirming."""
    revision.cover = result.cover
    # A file for another site than the one chosen is filed under neither (issue 9).
    mismatch = any(e.code == ErrorCode.SITE_MISMATCH for e in result.errors)
    revision.site = None if mismatch else (result.site or revision.expected_site)
    revision.indicator_year = result.indicator_year
    revision.catalogue_version = result.version
    if result.errors or result.values is None:
        return _fail(revision, result.errors, result.warnings)
    definitions = {d.code: d for d in result.version.definitions.all()}
    BaseDataValue.objects.bulk_create(
        BaseDataValue(revision=revision, key=k, value=v) for k, v in result.values.base.items()
    )
    IndicatorValue.objects.bulk_create(
        IndicatorValue(
            revision=revision,
            definition=definitions[code],
            numerator=e.numerator,
            denominator=e.denominator,
            justification=e.justification,
            flags=list(e.flags),
        )
        for code, e in result.values.indicators.items()
    )
    revision.status = RevisionStatus.VALIDATED
    revision.errors = []
    revision.warnings = [w.as_dict() for w in result.warnings]
    revision.validated_at = timezone.now()
    revision.attempts, revision.started_at, revision.queued_at = 0, None, None  # the evaluation step begins
    if (
        revision.confirmed_at is None
        and current_revision(site=revision.site, indicator_year=revision.indicator_year) is None
    ):
        revision.confirmed_at = revision.validated_at  # nothing to replace: no preview needed
        revision.confirmed_by = revision.uploaded_by
    revision.save()
    log_entry_create(
        actor=revision.uploaded_by,
        obj=revision,
        action="datasheets.revision.validated",
        data={"layout": result.layout.template_id, "warnings": len(result.warnings)},
    )
    if revision.confirmed_at is not None:
        from .tasks import revision_enqueue

        revision_enqueue(revision.pk, ProcessingStep.EVALUATE)
    return revision


class AbortReason(enum.StrEnum):
    """Why processing of a revision was given up (issue 8)."""

    TIME_LIMIT = "time_limit"  # the validation hit the worker's hard time limit: the file costs too much
    ATTEMPTS = "attempts"  # every attempt died or failed: a server fault, not the file's


def revision_abort(*, revision_id: int, reason: AbortReason = AbortReason.ATTEMPTS) -> DatasheetRevision | None:
    """A revision awaiting processing -> failed, when its task cannot finish (issue 8).
    ``TIME_LIMIT`` (validation only): ``unsafe_content`` naming the time limit, like a
    soft limit; ``ATTEMPTS``: ``processing_aborted``, which does not blame the file (the
    same bytes uploaded again are checked again). Anything else is left alone
    (idempotent); returns the revision, None if unknown."""
    with transaction.atomic():
        revision = DatasheetRevision.objects.select_for_update().filter(pk=revision_id).first()
        if revision is None or not revision.awaiting_processing:
            return revision
        if reason == AbortReason.TIME_LIMIT and revision.status == RevisionStatus.PENDING:
            detail = "Zeitgrenze / time limit"
            error = cell_error(safety.FILE, "A1", ErrorCode.UNSAFE_CONTENT, detail=detail)
        else:
            error = cell_error(safety.FILE, "A1", ErrorCode.PROCESSING_ABORTED, attempts=revision.attempts)
        return _fail(revision, [error], None)


def revision_attempt_begin(*, revision_id: int, step: ProcessingStep) -> bool:
    """A task begins an attempt at ``step`` of a revision: count it and note the time
    (issue 8). Returns False when there is nothing to do (the revision is not awaiting
    that step: the task is a duplicate or came late) or when the attempts are used up
    (``QIPORTAL_PROCESSING_MAX_ATTEMPTS``; the revision then fails with
    ``processing_aborted``)."""
    with transaction.atomic():
        revision = DatasheetRevision.objects.select_for_update().filter(pk=revision_id).first()
        if revision is None or revision.processing_step != step:
            return False
        if revision.attempts >= settings.QIPORTAL_PROCESSING_MAX_ATTEMPTS:
            revision_abort(revision_id=revision_id, reason=AbortReason.ATTEMPTS)
            return False
        revision.attempts += 1
        revision.started_at = timezone.now()
        revision.save(update_fields=["attempts", "started_at"])
        if revision.attempts > 1:
            log_entry_create(
                actor=None,
                obj=revision,
                action="datasheets.revision.retried",
                data={"step": str(step), "attempt": revision.attempts},
            )
        return True


def revision_attempts(*, revision_id: int) -> int:
    """Attempts begun at the current step of a revision (0 if unknown)."""
    return DatasheetRevision.objects.filter(pk=revision_id).values_list("attempts", flat=True).first() or 0


def revision_mark_queued(*, revision_id: int, step: ProcessingStep) -> None:
    """Note that ``step`` of a revision was handed to the broker just now."""
    DatasheetRevision.objects.filter(AWAITING[step], pk=revision_id).update(queued_at=timezone.now())


def revisions_recover(*, now=None, stuck_after: float | None = None) -> dict[str, int]:
    """The recovery job (Celery beat; issue 8): every revision awaiting processing with
    no activity (upload, validation, confirmation, hand-over to the broker, start of an
    attempt) for ``QIPORTAL_STUCK_AFTER`` seconds lost its task, or never had one sent
    (broker down). Hand its step to the broker again, or fail it with
    ``processing_aborted`` when its attempts are used up. Rows locked by a running
    task are skipped. ``stuck_after`` (seconds) overrides the setting. Returns counts
    ``{"requeued": n, "aborted": m}``."""
    now = now or timezone.now()
    stuck_after = settings.QIPORTAL_STUCK_AFTER if stuck_after is None else stuck_after
    cutoff = now - timedelta(seconds=stuck_after)
    counts = {"requeued": 0, "aborted": 0}
    candidates = (
        DatasheetRevision.objects.filter(uploaded_at__lt=cutoff)
        .filter(AWAITING[ProcessingStep.VALIDATE] | AWAITING[ProcessingStep.EVALUATE])
        .values_list("pk", flat=True)
    )
    for pk in list(candidates):
        with transaction.atomic():
            revision = DatasheetRevision.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if revision is None or not revision.awaiting_processing:
                continue
            times = (
                revision.uploaded_at,
                revision.validated_at,
                revision.confirmed_at,
                revision.queued_at,
                revision.started_at,
            )
            if max(t for t in times if t is not None) >= cutoff:
                continue
            if revision.attempts >= settings.QIPORTAL_PROCESSING_MAX_ATTEMPTS:
                revision_abort(revision_id=pk, reason=AbortReason.ATTEMPTS)
                counts["aborted"] += 1
                continue
            _requeue(revision, acting_user=None, reason="recovery")
            counts["requeued"] += 1
    if any(counts.values()):
        logger.warning("revisions recovered: %s", counts)
    return counts


def _revision_for_user_action(revision: DatasheetRevision, acting_user) -> DatasheetRevision:
    revision = DatasheetRevision.objects.select_for_update().get(pk=revision.pk)
    if not user_can(acting_user, Action.SUBMIT, revision.site):
        raise ApplicationError(ErrorCode.SITE_FORBIDDEN, _("You may not confirm or discard data sheets for this site."))
    if not revision.awaiting_confirmation:
        raise ApplicationError(RevisionError.WRONG_STATE)
    return revision


def revision_confirm(*, revision: DatasheetRevision, acting_user) -> DatasheetRevision:
    """The uploader accepts the preview: the validated revision is evaluated and
    replaces the current one (issue 4). Raises ApplicationError (site_forbidden,
    wrong_state)."""
    with transaction.atomic():
        revision = _revision_for_user_action(revision, acting_user)
        revision.confirmed_at = timezone.now()
        revision.confirmed_by = acting_user
        revision.save(update_fields=["confirmed_at", "confirmed_by"])
        log_entry_create(actor=acting_user, obj=revision, action="datasheets.revision.confirmed")
        from .tasks import revision_enqueue

        revision_enqueue(revision.pk, ProcessingStep.EVALUATE)
        return revision


def revision_discard(*, revision: DatasheetRevision, acting_user) -> DatasheetRevision:
    """The uploader rejects the preview: the revision is kept as ``discarded`` (its file
    and values stay for the record) and the current revision is unchanged. Raises
    ApplicationError (site_forbidden, wrong_state)."""
    with transaction.atomic():
        revision = _revision_for_user_action(revision, acting_user)
        revision.status = RevisionStatus.DISCARDED
        revision.save(update_fields=["status"])
        log_entry_create(actor=acting_user, obj=revision, action="datasheets.revision.discarded")
        return revision


def revision_evaluate(*, revision_id: int) -> DatasheetRevision | None:
    """validated and confirmed -> evaluated (SPEC §4): recompute every indicator's flags
    with ``indicators.domain``, make this the current revision of its site and year,
    record evaluations and sync deviations. Serialised per site by a row lock on the
    site; a revision confirmed before the current one is evaluated but not made current
    (the last confirmed revision wins). Idempotent: anything not validated-and-confirmed
    is left alone."""
    with transaction.atomic():
        revision = DatasheetRevision.objects.filter(pk=revision_id).first()
        if revision is None or revision.status != RevisionStatus.VALIDATED or revision.confirmed_at is None:
            return revision
        Site.objects.select_for_update().get(pk=revision.site_id)  # serialise per site
        revision = DatasheetRevision.objects.select_for_update().get(pk=revision_id)
        if revision.status != RevisionStatus.VALIDATED:
            return revision
        if revision.uploaded_by is not None and not user_can(revision.uploaded_by, Action.SUBMIT, revision.site):
            return _fail(
                revision,
                [cell_error("Deckblatt", "B3", ErrorCode.SITE_FORBIDDEN, value=revision.site.registration_number)],
                [],
            )
        current = current_revision(site=revision.site, indicator_year=revision.indicator_year)
        wins = current is None or current.confirmed_at is None or current.confirmed_at <= revision.confirmed_at
        values = list(revision.indicator_values.select_related("definition"))
        for value in values:
            value.flags = [str(f) for f in evaluate(value.numerator, value.denominator, value.definition.rule())]
            value.evaluated = True
        IndicatorValue.objects.bulk_update(values, ["flags", "evaluated"])
        if wins:
            DatasheetRevision.objects.filter(
                site=revision.site, indicator_year=revision.indicator_year, is_current=True
            ).exclude(pk=revision.pk).update(is_current=False)
            revision.is_current = True
            for value in values:
                evaluation_record(
                    site=revision.site,
                    indicator_year=revision.indicator_year,
                    definition=value.definition,
                    numerator=value.numerator,
                    denominator=value.denominator,
                    flags=value.flags,
                    source_revision_id=revision.pk,
                    justification=value.justification,
                    acting_user=revision.uploaded_by,
                )
        revision.status = RevisionStatus.EVALUATED
        revision.evaluated_at = timezone.now()
        revision.save()
        log_entry_create(
            actor=revision.uploaded_by,
            obj=revision,
            action="datasheets.revision.evaluated",
            data={"flagged": sum(1 for v in values if v.flags), "current": revision.is_current},
        )
        return revision


def revision_wait(
    *, revision_id: int, until: tuple[str, ...], timeout: float = 120.0, interval: float = 0.2
) -> DatasheetRevision:
    """Poll a revision until its status is one of ``until``, FAILED, DISCARDED or it
    awaits confirmation; for the command line. Raises TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        revision = DatasheetRevision.objects.get(pk=revision_id)
        if (
            revision.status in until
            or revision.status in (RevisionStatus.FAILED, RevisionStatus.DISCARDED)
            or revision.awaiting_confirmation
        ):
            return revision
        if time.monotonic() > deadline:
            raise TimeoutError(f"revision {revision_id} still {revision.status} after {timeout:.0f} s")
        time.sleep(interval)
