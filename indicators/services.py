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

from .choices import DeviationError, DeviationState
from .models import CatalogueVersion, Deviation, Evaluation, IndicatorDefinition, IndicatorYear

CATALOGUE_FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "catalogue.json"


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def catalogue_load(*, path: Path = CATALOGUE_FIXTURE) -> dict[str, int]:
    """Load (create or update) catalogue versions, definitions and the year mapping from
    the project fixture (built by ``fixtures/build_catalogue.py``). Idempotent.

    Returns counts ``{"versions": n, "definitions": n, "years": n}``.
    """
    with transaction.atomic():
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        n_defs = 0
        by_key: dict[tuple[str, str], IndicatorDefinition] = {}
        pending_predecessors: list[tuple[IndicatorDefinition, tuple[str, str]]] = []
        for v in data["versions"]:
            version, _ = CatalogueVersion.objects.update_or_create(
                id=v["id"],
                defaults={
                    "indicator_year": v["indicator_year"],
                    "audit_year": v["audit_year"],
                    "layout_revision": v["layout_revision"],
                    "numbering": v["numbering"],
                    "notes": v["notes"],
                    "layout": v["layout"],
                },
            )
            for d in v["definitions"]:
                fields = {
                    k: d[k]
                    for k in (
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
                }
                fields["target_value"] = _decimal(d["target_value"])
                fields["corridor_lower"] = _decimal(d["corridor_lower"])
                fields["corridor_upper"] = _decimal(d["corridor_upper"])
                definition, _ = IndicatorDefinition.objects.update_or_create(
                    version=version, code=d["code"], defaults=fields
                )
                by_key[(version.id, definition.code)] = definition
                if d["predecessor"]:
                    pending_predecessors.append((definition, tuple(d["predecessor"])))
                n_defs += 1
        for definition, key in pending_predecessors:
            definition.predecessor = by_key.get(key)
            definition.save(update_fields=["predecessor"])
        for year, version_id in data["years"].items():
            IndicatorYear.objects.update_or_create(year=int(year), defaults={"catalogue_version_id": version_id})
        return {"versions": len(data["versions"]), "definitions": n_defs, "years": len(data["years"])}


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
                    data={"numerator": numerator, "denominator": denominator, "revision": source_revision_id},
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
                    data={"via": "datasheet", "revision": source_revision_id},
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
        return active


def deviation_justify(*, deviation: Deviation, text: str, acting_user) -> Deviation:
    """open -> justified: the centre's Begründung (SPEC §4), max 2,000 characters.
    Raises ApplicationError (FORBIDDEN, WRONG_STATE)."""
    with transaction.atomic():
        deviation = Deviation.objects.select_for_update().get(pk=deviation.pk)
        if not user_can(acting_user, Action.JUSTIFY, deviation):
            raise ApplicationError(DeviationError.FORBIDDEN)
        if deviation.state not in (DeviationState.OPEN, DeviationState.JUSTIFIED):
            raise ApplicationError(DeviationError.WRONG_STATE)
        deviation.justification = text.strip()[:2000]
        deviation.state = DeviationState.JUSTIFIED
        deviation.justified_by = acting_user
        deviation.justified_at = timezone.now()
        deviation.save()
        log_entry_create(actor=acting_user, obj=deviation, action="indicators.deviation.justified")
        return deviation


DECISIONS = (DeviationState.ACCEPTED, DeviationState.NOTE, DeviationState.NONCONFORMITY)


def deviation_decide(
    *,
    deviation: Deviation,
    decision: str,
    comment: str = "",
    due_date: dt.date | None = None,
    acting_user,
) -> Deviation:
    """Auditor decision on an open or justified deviation: ``accepted`` | ``note``
    (Hinweis) | ``nonconformity`` (Abweichung, needs ``due_date``), SPEC §4.
    Raises ApplicationError (FORBIDDEN, WRONG_STATE, DUE_DATE_REQUIRED)."""
    with transaction.atomic():
        deviation = Deviation.objects.select_for_update().get(pk=deviation.pk)
        if not user_can(acting_user, Action.DECIDE, deviation):
            raise ApplicationError(DeviationError.FORBIDDEN)
        if decision not in DECISIONS or deviation.state not in (DeviationState.OPEN, DeviationState.JUSTIFIED):
            raise ApplicationError(DeviationError.WRONG_STATE)
        if decision == DeviationState.NONCONFORMITY and due_date is None:
            raise ApplicationError(DeviationError.DUE_DATE_REQUIRED)
        deviation.state = decision
        deviation.decision_comment = comment.strip()
        deviation.due_date = due_date if decision == DeviationState.NONCONFORMITY else None
        deviation.decided_by = acting_user
        deviation.decided_at = timezone.now()
        deviation.save()
        log_entry_create(
            actor=acting_user,
            obj=deviation,
            action=f"indicators.deviation.{decision}",
            data={"due_date": due_date.isoformat() if due_date else None},
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
        deviation.state = DeviationState.RESOLVED
        if comment:
            deviation.decision_comment = f"{deviation.decision_comment}\n{comment.strip()}".strip()
        deviation.save()
        log_entry_create(actor=acting_user, obj=deviation, action="indicators.deviation.resolved")
        return deviation
