"""Writes of the indicators app: catalogue loading, evaluations, deviation records.

Every state change of a deviation writes a ``centres.LogEntry`` (SPEC §4).
Transactions open inside the functions (``with transaction.atomic()``), not as a
decorator: mutmut leaves decorated functions alone, and these are rules under its test.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from centres.models import Site
from centres.permissions import Action, user_can
from centres.services import log_entry_create
from qiportal.exceptions import ApplicationError

from .choices import DeviationError, DeviationState, ReasonCode
from .models import CatalogueVersion, Deviation, Evaluation, IndicatorDefinition, IndicatorYear

CATALOGUE_FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "catalogue.json"


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


DEFINITION_FIELDS = (
    "position",
    "title_de",
    "title_en",
    "kind",
    "entity",
    "numerator_de",
    "numerator_en",
    "denominator_de",
    "denominator_en",
    "numerator_source",
    "denominator_source",
    "target_op",
    "guideline_qi",
    "counts_events",
    "eb_ref",
    "sources",
    "certainty",
    "notes",
    "series",
)


def _version_fields(v: dict) -> dict:
    return {k: v[k] for k in ("indicator_year", "audit_year", "layout_revision", "numbering", "notes", "layout")}


def _definition_fields(d: dict) -> dict:
    fields = {k: d[k] for k in DEFINITION_FIELDS}
    for key in ("target_value", "corridor_lower", "corridor_upper"):
        fields[key] = _decimal(d[key])
    return fields


def catalogue_load(*, path: Path = CATALOGUE_FIXTURE) -> dict[str, int]:
    """Load (create or update) catalogue versions, definitions and the year mapping from
    the project fixture (built by ``fixtures/build_catalogue.py``). Idempotent.

    Into an empty catalogue the rows are inserted in bulk (a handful of queries: a fresh
    install, every test); otherwise each row is created or updated in place.
    Returns counts ``{"versions": n, "definitions": n, "years": n}``.
    """
    with transaction.atomic():
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        fresh = not CatalogueVersion.objects.exists()
        by_key: dict[tuple[str, str], IndicatorDefinition] = {}
        pending_predecessors: list[tuple[IndicatorDefinition, tuple[str, str]]] = []
        for v in data["versions"]:
            if fresh:
                version = CatalogueVersion.objects.create(id=v["id"], **_version_fields(v))
                definitions = IndicatorDefinition.objects.bulk_create(
                    IndicatorDefinition(version=version, code=d["code"], **_definition_fields(d))
                    for d in v["definitions"]
                )
            else:
                version, _ = CatalogueVersion.objects.update_or_create(id=v["id"], defaults=_version_fields(v))
                definitions = [
                    IndicatorDefinition.objects.update_or_create(
                        version=version, code=d["code"], defaults=_definition_fields(d)
                    )[0]
                    for d in v["definitions"]
                ]
            for definition, d in zip(definitions, v["definitions"], strict=True):
                by_key[(version.id, definition.code)] = definition
                if d["predecessor"]:
                    pending_predecessors.append((definition, tuple(d["predecessor"])))
        for definition, key in pending_predecessors:
            definition.predecessor = by_key.get(key)
        IndicatorDefinition.objects.bulk_update([d for d, _key in pending_predecessors], ["predecessor"])
        if fresh:
            IndicatorYear.objects.bulk_create(
                IndicatorYear(year=int(year), catalogue_version_id=version_id)
                for year, version_id in data["years"].items()
            )
        else:
            for year, version_id in data["years"].items():
                IndicatorYear.objects.update_or_create(year=int(year), defaults={"catalogue_version_id": version_id})
        return {"versions": len(data["versions"]), "definitions": len(by_key), "years": len(data["years"])}


def evaluation_record(
    *,
    site: Site,
    indicator_year: int,
    definition: IndicatorDefinition,
    numerator: int,
    denominator: int | None,
    flags: Iterable[str],
    source_revision_id: int | None,
    justification: str = "",
    acting_user=None,
) -> Evaluation:
    """Store the current value of one indicator for a site and year and sync its
    deviation records (SPEC §4). ``flags`` come from ``indicators.domain.evaluate``."""
    with transaction.atomic():
        flags = list(flags)
        evaluation, _ = Evaluation.objects.update_or_create(
            site=site,
            indicator_year=indicator_year,
            definition=definition,
            defaults={
                "numerator": numerator,
                "denominator": denominator,
                "flags": flags,
                "source_revision_id": source_revision_id,
            },
        )
        deviation_sync(
            site=site,
            indicator_year=indicator_year,
            definition=definition,
            flags=flags,
            numerator=numerator,
            denominator=denominator,
            source_revision_id=source_revision_id,
            justification=justification,
            acting_user=acting_user,
        )
        return evaluation


def deviation_sync(
    *,
    site: Site,
    indicator_year: int,
    definition: IndicatorDefinition,
    flags: Iterable[str],
    numerator: int,
    denominator: int | None,
    source_revision_id: int | None = None,
    justification: str = "",
    acting_user=None,
) -> list[Deviation]:
    """Create, update, close or reopen the deviation records of one site × indicator
    year × KeZa so that the active ones are exactly ``flags`` (SPEC §4).

    Key: (site, indicator year, KeZa code, flag). A flag that remains keeps its record,
    justification and review; a vanished flag is closed (``is_active`` False,
    ``closed_at``), never deleted; a returning flag reopens its record. A non-empty
    ``justification`` (Begründung from the Datenblatt) moves an open record to
    ``justified``. Returns the active records.

    Atomic on its own: the records of the key are locked (``select_for_update``) and
    all changes and log entries are written together or not at all, also when called
    outside a transaction (PostgreSQL refuses ``select_for_update`` in autocommit).
    """
    with transaction.atomic():
        wanted = set(flags)
        now = timezone.now()
        existing = {
            d.flag: d
            for d in Deviation.objects.select_for_update().filter(
                site=site, indicator_year=indicator_year, code=definition.code
            )
        }
        active: list[Deviation] = []
        for flag in sorted(wanted):
            deviation = existing.get(flag)
            if deviation is None:
                deviation = Deviation.objects.create(
                    site=site,
                    indicator_year=indicator_year,
                    code=definition.code,
                    flag=flag,
                    definition=definition,
                    numerator=numerator,
                    denominator=denominator,
                    source_revision_id=source_revision_id,
                )
                log_entry_create(
                    actor=acting_user,
                    obj=deviation,
                    action="indicators.deviation.opened",
                    data={
                        "to": DeviationState.OPEN,
                        "numerator": numerator,
                        "denominator": denominator,
                        "revision": source_revision_id,
                    },
                )
            else:
                changed = (
                    deviation.numerator != numerator
                    or deviation.denominator != denominator
                    or not deviation.is_active
                    or deviation.definition_id != definition.pk
                )
                if not deviation.is_active:
                    log_entry_create(
                        actor=acting_user,
                        obj=deviation,
                        action="indicators.deviation.reopened",
                        data={"revision": source_revision_id},
                    )
                if changed or deviation.source_revision_id != source_revision_id:
                    deviation.numerator, deviation.denominator = numerator, denominator
                    deviation.definition = definition
                    deviation.is_active, deviation.closed_at = True, None
                    deviation.source_revision_id = source_revision_id
                    deviation.save()
            if justification and deviation.state == DeviationState.OPEN:
                deviation.justification = justification[:2000]
                deviation.state = DeviationState.JUSTIFIED
                deviation.justified_by = acting_user if getattr(acting_user, "pk", None) else None
                deviation.justified_at = now
                deviation.save()
                log_entry_create(
                    actor=acting_user,
                    obj=deviation,
                    action="indicators.deviation.justified",
                    data={
                        "from": DeviationState.OPEN,
                        "to": DeviationState.JUSTIFIED,
                        "justification": deviation.justification,
                        "via": "datasheet",
                        "revision": source_revision_id,
                    },
                )
            active.append(deviation)
        for flag, deviation in existing.items():
            if flag not in wanted and deviation.is_active:
                deviation.is_active = False
                deviation.closed_at = now
                deviation.source_revision_id = source_revision_id
                deviation.save()
                log_entry_create(
                    actor=acting_user,
                    obj=deviation,
                    action="indicators.deviation.closed",
                    data={"revision": source_revision_id},
                )
        counts: dict[int, int] = {}
        for flag in wanted | set(existing):
            counts |= deviation_streaks_refresh(site=site, series=definition.series, flag=flag)
        for deviation in active:
            deviation.consecutive_years = counts[deviation.pk]
        return active


def _transition_log(deviation: Deviation, *, from_state: str, acting_user, action: str, **text) -> None:
    """The record of one review transition: actor and time (LogEntry), from → to state
    and the texts that went with it (justification, reason code, comment, corrective
    action, due date, statement); empty texts are left out. Issue 9, SPEC §4."""
    data = {"from": from_state, "to": deviation.state}
    for key, value in text.items():
        if value not in (None, ""):
            data[key] = value.isoformat() if isinstance(value, dt.date) else value
    log_entry_create(actor=acting_user, obj=deviation, action=action, data=data)


def deviation_justify(*, deviation: Deviation, text: str, acting_user, reason_code: str = "") -> Deviation:
    """open | justified -> justified: the centre's Begründung (SPEC §4), max 2,000
    characters, with an optional ``reason_code`` (``ReasonCode`` value).
    Raises ApplicationError (FORBIDDEN, WRONG_STATE, TEXT_REQUIRED)."""
    with transaction.atomic():
        deviation = Deviation.objects.select_for_update().get(pk=deviation.pk)
        if not user_can(acting_user, Action.JUSTIFY, deviation):
            raise ApplicationError(DeviationError.FORBIDDEN)
        if deviation.state not in (DeviationState.OPEN, DeviationState.JUSTIFIED):
            raise ApplicationError(DeviationError.WRONG_STATE)
        text = text.strip()[:2000]
        if not text:
            raise ApplicationError(DeviationError.TEXT_REQUIRED)
        if reason_code and reason_code not in ReasonCode.values:
            raise ApplicationError(DeviationError.WRONG_STATE)
        from_state = deviation.state
        deviation.justification = text
        deviation.reason_code = reason_code
        deviation.state = DeviationState.JUSTIFIED
        deviation.justified_by = acting_user
        deviation.justified_at = timezone.now()
        deviation.save()
        _transition_log(
            deviation,
            from_state=from_state,
            acting_user=acting_user,
            action="indicators.deviation.justified",
            justification=text,
            reason_code=reason_code,
        )
        return deviation


DECISIONS = (DeviationState.ACCEPTED, DeviationState.NOTE, DeviationState.NONCONFORMITY)


def deviation_decide(
    *,
    deviation: Deviation,
    decision: str,
    comment: str = "",
    due_date: dt.date | None = None,
    corrective_action: str = "",
    acting_user,
) -> Deviation:
    """Auditor decision on an open or justified deviation: ``accepted`` | ``note``
    (Hinweis) | ``nonconformity`` (Abweichung, needs ``corrective_action`` and
    ``due_date``), SPEC §4 and issue 9. Due date and corrective action are kept only for
    an Abweichung. Raises ApplicationError (FORBIDDEN, WRONG_STATE, DUE_DATE_REQUIRED,
    CORRECTIVE_ACTION_REQUIRED)."""
    with transaction.atomic():
        deviation = Deviation.objects.select_for_update().get(pk=deviation.pk)
        if not user_can(acting_user, Action.DECIDE, deviation):
            raise ApplicationError(DeviationError.FORBIDDEN)
        if decision not in DECISIONS or deviation.state not in (DeviationState.OPEN, DeviationState.JUSTIFIED):
            raise ApplicationError(DeviationError.WRONG_STATE)
        nonconformity = decision == DeviationState.NONCONFORMITY
        corrective_action = corrective_action.strip()[:2000] if nonconformity else ""
        if nonconformity and due_date is None:
            raise ApplicationError(DeviationError.DUE_DATE_REQUIRED)
        if nonconformity and not corrective_action:
            raise ApplicationError(DeviationError.CORRECTIVE_ACTION_REQUIRED)
        from_state = deviation.state
        deviation.state = decision
        deviation.decision_comment = comment.strip()
        deviation.due_date = due_date if nonconformity else None
        deviation.corrective_action = corrective_action
        deviation.decided_by = acting_user
        deviation.decided_at = timezone.now()
        deviation.save()
        _transition_log(
            deviation,
            from_state=from_state,
            acting_user=acting_user,
            action=f"indicators.deviation.{decision}",
            comment=deviation.decision_comment,
            corrective_action=corrective_action,
            due_date=deviation.due_date,
        )
        return deviation


def deviation_respond(*, deviation: Deviation, text: str, acting_user) -> Deviation:
    """The centre answers an Abweichung with a statement (evidence files are added by
    ``deviation_evidence_add``); the state stays ``nonconformity`` and the answer
    awaits the auditor (``awaiting_review``). Issue 9.
    Raises ApplicationError (FORBIDDEN, WRONG_STATE, TEXT_REQUIRED)."""
    with transaction.atomic():
        deviation = Deviation.objects.select_for_update().get(pk=deviation.pk)
        if not user_can(acting_user, Action.JUSTIFY, deviation):
            raise ApplicationError(DeviationError.FORBIDDEN)
        if deviation.state != DeviationState.NONCONFORMITY:
            raise ApplicationError(DeviationError.WRONG_STATE)
        text = text.strip()[:4000]
        if not text:
            raise ApplicationError(DeviationError.TEXT_REQUIRED)
        deviation.response = text
        deviation.responded_by = acting_user
        deviation.responded_at = timezone.now()
        deviation.save()
        _transition_log(
            deviation,
            from_state=DeviationState.NONCONFORMITY,
            acting_user=acting_user,
            action="indicators.deviation.answered",
            response=text,
        )
        return deviation


def deviation_send_back(*, deviation: Deviation, comment: str, acting_user) -> Deviation:
    """The auditor does not accept the centre's answer to an Abweichung: the answer is
    cleared (kept in the log), the Abweichung stays open with its due date. Issue 9.
    Raises ApplicationError (FORBIDDEN, NOT_ANSWERED, TEXT_REQUIRED)."""
    with transaction.atomic():
        deviation = Deviation.objects.select_for_update().get(pk=deviation.pk)
        if not user_can(acting_user, Action.DECIDE, deviation):
            raise ApplicationError(DeviationError.FORBIDDEN)
        if not deviation.awaiting_review:
            raise ApplicationError(DeviationError.NOT_ANSWERED)
        comment = comment.strip()
        if not comment:
            raise ApplicationError(DeviationError.TEXT_REQUIRED)
        deviation.responded_at = None
        deviation.save()
        _transition_log(
            deviation,
            from_state=DeviationState.NONCONFORMITY,
            acting_user=acting_user,
            action="indicators.deviation.sent_back",
            comment=comment,
        )
        return deviation


def deviation_resolve(*, deviation: Deviation, comment: str = "", acting_user) -> Deviation:
    """note | nonconformity -> resolved (auditor confirms the correction), SPEC §4.
    Raises ApplicationError (FORBIDDEN, WRONG_STATE)."""
    with transaction.atomic():
        deviation = Deviation.objects.select_for_update().get(pk=deviation.pk)
        if not user_can(acting_user, Action.DECIDE, deviation):
            raise ApplicationError(DeviationError.FORBIDDEN)
        if deviation.state not in (DeviationState.NOTE, DeviationState.NONCONFORMITY):
            raise ApplicationError(DeviationError.WRONG_STATE)
        from_state = deviation.state
        deviation.state = DeviationState.RESOLVED
        comment = comment.strip()
        if comment:
            deviation.decision_comment = f"{deviation.decision_comment}\n{comment}".strip()
        deviation.save()
        _transition_log(
            deviation,
            from_state=from_state,
            acting_user=acting_user,
            action="indicators.deviation.resolved",
            comment=comment,
        )
        return deviation


def deviations_accept(*, deviations: Iterable[Deviation], comment: str, acting_user) -> list[Deviation]:
    """Bulk decision "accepted" with one comment for several open or justified
    deviations (the auditor's queue, issue 9). All or nothing: the first refusal raises
    its ApplicationError (FORBIDDEN, WRONG_STATE) and nothing is written."""
    with transaction.atomic():
        return [
            deviation_decide(
                deviation=deviation, decision=DeviationState.ACCEPTED, comment=comment, acting_user=acting_user
            )
            for deviation in deviations
        ]


def deviation_streaks_refresh(*, site: Site, series: str, flag: str) -> dict[int, int]:
    """Recompute ``consecutive_years`` of the deviations of one site × indicator series
    × flag: a year's count is 1, plus the previous year's count if that year has an
    active deviation of the same series and flag. The series (never the bare KeZa code)
    links definitions across catalogue versions (SPEC §5, issue 9).

    Returns {deviation pk: count} of the active records, so callers holding them need
    not read them again."""
    rows = (
        Deviation.objects.filter(site=site, definition__series=series, flag=flag, is_active=True)
        .order_by("indicator_year")
        .values_list("pk", "indicator_year", "consecutive_years")
    )
    counts: dict[int, int] = {}
    previous_year, streak = None, 0
    for pk, year, stored in rows:
        streak = streak + 1 if previous_year == year - 1 else 1
        previous_year = year
        counts[pk] = streak
        if stored != streak:
            Deviation.objects.filter(pk=pk).update(consecutive_years=streak)
    return counts
