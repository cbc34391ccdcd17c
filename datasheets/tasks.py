"""Celery tasks: thin callers of the services; they take primary keys only."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import transaction

from .services import revision_abort, revision_evaluate, revision_validate


@shared_task(
    acks_late=True,
    soft_time_limit=settings.QIPORTAL_PARSE_TIME_LIMIT,
    time_limit=settings.QIPORTAL_PARSE_TIME_LIMIT + 30,
)
def revision_validate_task(revision_id: int) -> dict | None:
    """Validate a pending revision (``services.revision_validate``) under the parse
    limits. Returns the structured report (revision id, status, errors and warnings as
    ``{sheet, cell, code, message…}``) for a result backend, if one is configured."""
    eager = revision_validate_task.request.is_eager
    revision = revision_validate(revision_id=revision_id, limited=not eager)
    if revision is None:
        return None
    return {
        "revision": revision.pk,
        "status": revision.status,
        "errors": revision.errors,
        "warnings": revision.warnings,
    }


def revision_validate_enqueue(revision_id: int) -> None:
    """Enqueue validation after commit, leaving the time limits to the worker's own
    settings (a task-level limit would otherwise travel in the message from the
    producer's configuration)."""
    transaction.on_commit(
        lambda: revision_validate_task.apply_async(
            (revision_id,),
            time_limit=None,
            soft_time_limit=None,
            link_error=revision_abort_task.si(revision_id),
        )
    )


@shared_task(acks_late=True)
def revision_abort_task(revision_id: int) -> str | None:
    """Errback of the validation task: it died without finishing (hard time limit, a
    killed worker child, an unexpected error). A revision still pending is failed with
    ``unsafe_content`` instead of waiting for ever (``services.revision_abort``)."""
    revision = revision_abort(revision_id=revision_id)
    return revision.status if revision else None


@shared_task(acks_late=True)
def revision_evaluate_task(revision_id: int) -> str | None:
    """Evaluate a validated, confirmed revision (``services.revision_evaluate``)."""
    revision = revision_evaluate(revision_id=revision_id)
    return revision.status if revision else None
