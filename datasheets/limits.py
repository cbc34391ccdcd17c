"""Limits of checking one stored upload (issue 4, issue 8): time and memory.

``stored_file_check`` reads a revision's stored bytes, verifies their checksum and runs
``checking.datasheet_check`` under the parse limits (``QIPORTAL_PARSE_TIME_LIMIT``,
``QIPORTAL_PARSE_MEMORY_MB``).
"""

from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager

from django.conf import settings

from . import safety
from .checking import datasheet_check
from .choices import ErrorCode
from .messages import cell_error


class ParseLimitExceeded(Exception):
    """Parsing took longer or more memory than allowed (``QIPORTAL_PARSE_*``)."""


@contextmanager
def parse_limits(*, memory_mb: int | None):
    """Cap the address space of this process while parsing (worker processes only):
    an allocation beyond ``memory_mb`` more than now raises MemoryError inside, which
    becomes ParseLimitExceeded; the process itself survives."""
    if not memory_mb:
        yield
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    try:
        with open("/proc/self/statm") as handle:
            current = int(handle.read().split()[0]) * resource.getpagesize()
    except OSError:
        yield
        return
    ceiling = current + memory_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        yield
    except MemoryError as exc:
        raise ParseLimitExceeded("memory") from exc
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def stored_file_check(revision, *, limited: bool):
    """(CheckResult, None) or (None, CellError) for a checksum or parse-limit failure."""
    from celery.exceptions import SoftTimeLimitExceeded

    with revision.file.open("rb") as handle:
        content = handle.read(settings.DATASHEET_MAX_BYTES + 1)
    if hashlib.sha256(content).hexdigest() != revision.sha256:
        return None, cell_error(safety.FILE, "A1", ErrorCode.UNSAFE_CONTENT, detail="Prüfsumme / checksum")
    started = time.monotonic()
    try:
        with parse_limits(memory_mb=settings.QIPORTAL_PARSE_MEMORY_MB if limited else None):
            result = datasheet_check(
                content=content, acting_user=revision.uploaded_by, expected_site=revision.expected_site
            )
    except (SoftTimeLimitExceeded, ParseLimitExceeded, MemoryError, RecursionError) as exc:
        memory = isinstance(exc, (ParseLimitExceeded, MemoryError))
        reason = "Speichergrenze / memory limit" if memory else "Zeitgrenze / time limit"
        detail = f"{reason} ({time.monotonic() - started:.1f} s)"
        return None, cell_error(safety.FILE, "A1", ErrorCode.UNSAFE_CONTENT, detail=detail)
    return result, None
