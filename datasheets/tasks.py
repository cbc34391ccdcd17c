"""Celery tasks: thin callers of the services; they take primary keys only."""

from __future__ import annotations

from celery import shared_task

from .services import revision_evaluate, revision_validate


@shared_task(acks_late=True)
def revision_validate_task(revision_id: int) -> str | None:
    """Validate a pending revision (``services.revision_validate``); returns its status."""
    revision = revision_validate(revision_id=revision_id)
    return revision.status if revision else None


@shared_task(acks_late=True)
def revision_evaluate_task(revision_id: int) -> str | None:
    """Evaluate a validated revision (``services.revision_evaluate``); returns its status."""
    revision = revision_evaluate(revision_id=revision_id)
    return revision.status if revision else None
