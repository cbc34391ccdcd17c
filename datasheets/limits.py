"""Limits of checking one stored upload (issue 4, issue 8): time and memory, in every mode.

``stored_file_check`` reads a revision's stored bytes, verifies their checksum and runs
``checking.datasheet_check`` under the parse limits (``QIPORTAL_PARSE_TIME_LIMIT``,
``QIPORTAL_PARSE_MEMORY_MB``): in the Celery worker in its own process (the task's soft
time limit and an address-space cap, ``parse_limits``), everywhere else — no broker, the
command line, the demo import — with the file read in a child process
(``isolation.file_read_limited``).
"""

from __future__ import annotations

import hashlib
import time
from functools import partial

from django.conf import settings

from . import safety
from .checking import datasheet_check
from .choices import ErrorCode
from .isolation import ParseLimitExceeded, file_read_limited, parse_limits
from .messages import cell_error

__all__ = ["ParseLimitExceeded", "datasheet_check_limited", "file_read_limited", "parse_limits", "stored_file_check"]


def stored_file_check(revision, *, limited: bool):
    """(CheckResult, None) or (None, CellError) for a checksum or parse-limit failure of
    a revision's stored file; ``limited``: called by the worker task (see
    ``datasheet_check_limited``)."""
    with revision.file.open("rb") as handle:
        content = handle.read(settings.DATASHEET_MAX_BYTES + 1)
    if hashlib.sha256(content).hexdigest() != revision.sha256:
        return None, cell_error(safety.FILE, "A1", ErrorCode.UNSAFE_CONTENT, detail="Prüfsumme / checksum")
    return datasheet_check_limited(
        content=content, acting_user=revision.uploaded_by, expected_site=revision.expected_site, in_worker=limited
    )


def datasheet_check_limited(*, content: bytes, acting_user=None, expected_site=None, in_worker: bool = False):
    """``checking.datasheet_check`` under the parse limits: (CheckResult, None), or
    (None, CellError) when a limit was hit — ``unsafe_content`` at ``Datei!A1`` naming
    the limit and the seconds spent (issue 4, issue 8).

    ``in_worker`` (the Celery task): parse in this process under ``parse_limits`` and
    the task's soft time limit. Otherwise (no broker, command line, demo, dry run): the
    file is read in a child process under the same memory cap and
    ``QIPORTAL_PARSE_TIME_LIMIT`` seconds of wall-clock time."""
    from celery.exceptions import SoftTimeLimitExceeded

    started = time.monotonic()
    memory_mb = settings.QIPORTAL_PARSE_MEMORY_MB
    facts = {"content": content, "acting_user": acting_user, "expected_site": expected_site}
    try:
        if in_worker:
            with parse_limits(memory_mb=memory_mb):
                result = datasheet_check(**facts)
        else:
            read = partial(file_read_limited, time_limit=settings.QIPORTAL_PARSE_TIME_LIMIT, memory_mb=memory_mb)
            result = datasheet_check(**facts, read=read)
    except (SoftTimeLimitExceeded, ParseLimitExceeded, MemoryError, RecursionError) as exc:
        memory = isinstance(exc, MemoryError) or (isinstance(exc, ParseLimitExceeded) and exc.kind == "memory")
        reason = "Speichergrenze / memory limit" if memory else "Zeitgrenze / time limit"
        detail = f"{reason} ({time.monotonic() - started:.1f} s)"
        return None, cell_error(safety.FILE, "A1", ErrorCode.UNSAFE_CONTENT, detail=detail)
    return result, None
