"""Celery tasks: thin callers of the services; they take primary keys only.

Nothing lost (issue 8): the database says what is left to do, the broker only carries
the hints. Each task begins an attempt (``services.revision_attempt_begin``: counted,
bounded by ``QIPORTAL_PROCESSING_MAX_ATTEMPTS``), is idempotent, and its message is
acknowledged late and requeued when its worker child dies (``task_reject_on_worker_lost``).
An error inside a task retries it; after the last attempt the revision fails with
``processing_aborted``, which does not blame the file. ``revisions_recover_task``
(Celery beat) hands revisions whose task was lost, or never sent, to the broker again.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import Retry, SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings
from django.db import transaction

from . import services
from .choices import ProcessingStep

logger = logging.getLogger(__name__)


class RevisionTask(Task):
    """Base of the two processing steps: a hard time limit (the child was killed by the
    pool, the task body could not react) is this task's failure path (``on_failure``
    runs in the worker's main process)."""

    step: ProcessingStep

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Hard time limit: a validation is failed for its time (the file cost too
        much: ``unsafe_content``); an evaluation is left to the recovery job, which
        retries it up to the attempt limit."""
        if isinstance(exc, TimeLimitExceeded) and args:
            if self.step == ProcessingStep.VALIDATE:
                services.revision_abort(revision_id=args[0], reason=services.AbortReason.TIME_LIMIT)
            else:
                logger.warning("evaluation of revision %s hit the hard time limit; recovery retries it", args[0])


def _run_step(task: Task, revision_id: int, step: ProcessingStep, body):
    """Begin an attempt, run ``body()``, retry on an unexpected error while attempts
    remain, else fail the revision with ``processing_aborted``."""
    if not services.revision_attempt_begin(revision_id=revision_id, step=step):
        return None
    try:
        return body()
    except (Retry, SoftTimeLimitExceeded):
        raise
    except Exception as exc:
        attempts = services.revision_attempts(revision_id=revision_id)
        if attempts < settings.QIPORTAL_PROCESSING_MAX_ATTEMPTS:
            logger.warning("revision %s, %s attempt %s failed: %r; retrying", revision_id, step, attempts, exc)
            if task.request.is_eager:  # in process: no broker to carry a retry (issue 8)
                return _run_step(task, revision_id, step, body)
            raise task.retry(exc=exc, countdown=min(60, 2**attempts), max_retries=None) from exc
        logger.exception("revision %s, %s failed after %s attempts", revision_id, step, attempts)
        services.revision_abort(revision_id=revision_id, reason=services.AbortReason.ATTEMPTS)
        return None


def _step_task(step: ProcessingStep, soft_time_limit: float):
    """``shared_task`` of a processing step: bound, acknowledged late, requeued when its
    worker child dies, hard time limit 30 s after the soft one."""
    return shared_task(
        bind=True,
        base=RevisionTask,
        step=step,
        acks_late=True,
        reject_on_worker_lost=True,
        soft_time_limit=soft_time_limit,
        time_limit=soft_time_limit + 30,
    )


@_step_task(ProcessingStep.VALIDATE, settings.QIPORTAL_PARSE_TIME_LIMIT)
def revision_validate_task(self, revision_id: int) -> dict | None:
    """Validate a pending revision (``services.revision_validate``) under the parse
    limits. Returns the structured report (revision id, status, errors and warnings as
    ``{sheet, cell, code, message…}``) for a result backend, if one is configured;
    None when there was nothing to do."""
    eager = self.request.is_eager

    def body():
        revision = services.revision_validate(revision_id=revision_id, limited=not eager)
        if revision is None:
            return None
        return {
            "revision": revision.pk,
            "status": revision.status,
            "errors": revision.errors,
            "warnings": revision.warnings,
        }

    return _run_step(self, revision_id, ProcessingStep.VALIDATE, body)


@_step_task(ProcessingStep.EVALUATE, settings.QIPORTAL_EVALUATE_TIME_LIMIT)
def revision_evaluate_task(self, revision_id: int) -> str | None:
    """Evaluate a validated, confirmed revision (``services.revision_evaluate``);
    returns its status, None when there was nothing to do."""

    def body():
        revision = services.revision_evaluate(revision_id=revision_id)
        return revision.status if revision else None

    return _run_step(self, revision_id, ProcessingStep.EVALUATE, body)


TASKS = {ProcessingStep.VALIDATE: revision_validate_task, ProcessingStep.EVALUATE: revision_evaluate_task}


def revision_send(revision_id: int, step: ProcessingStep) -> bool:
    """Hand one step of a revision to the broker now and note it (``queued_at``).
    A broker that cannot be reached is logged, not raised: the revision stays stored
    and the recovery job sends it later. Returns whether the hand-over succeeded.
    The time limits are left to the worker's own settings (a task-level limit would
    otherwise travel in the message from the producer's configuration)."""
    task = TASKS[ProcessingStep(step)]
    if task.app.conf.task_always_eager:  # in process (no broker configured, or the unit tests)
        services.revision_mark_queued(revision_id=revision_id, step=step)
        task.apply_async((revision_id,))
        return True
    try:
        task.apply_async((revision_id,), time_limit=None, soft_time_limit=None)
    except Exception:
        logger.warning(
            "revision %s: %s could not be queued; the recovery job retries", revision_id, step, exc_info=True
        )
        return False
    services.revision_mark_queued(revision_id=revision_id, step=step)
    return True


def revision_enqueue(revision_id: int, step: ProcessingStep) -> None:
    """Send one step of a revision after the current transaction commits
    (``revision_send``; never raises for an unreachable broker)."""
    transaction.on_commit(lambda: revision_send(revision_id, step))


@shared_task(acks_late=True)
def revisions_recover_task() -> dict[str, int]:
    """Celery beat, every ``QIPORTAL_RECOVER_INTERVAL`` seconds: hand revisions whose
    task was lost or never sent to the broker again, fail those out of attempts
    (``services.revisions_recover``). Returns counts {requeued, aborted}."""
    return services.revisions_recover()
