"""Read an upload's bytes under time and memory limits, in every mode (issue 8).

``file_read`` is the part of a check that needs no database: the zip pre-checks
(``safety.precheck``) and the bounded read (``parsing.workbook_read``). The Celery worker
runs it in its own process under ``parse_limits`` (an address-space cap) and the task's
soft time limit (``datasheets.limits``). Without a worker — the embedded default, the
command line, the demo import — ``file_read_limited`` runs it in a child process of a
``forkserver`` (never a plain fork of a possibly threaded web or command process) with
the same address-space cap and a wall-clock limit after which the parent kills it.

This module imports no model: the forkserver preloads it (with openpyxl) once, so each
file costs only a fork of that server. As with any multiprocessing start method but
fork, a script that is the main module must guard its work with
``if __name__ == "__main__"`` (``manage.py``, gunicorn and celery do).
"""

from __future__ import annotations

import gc
import multiprocessing
from contextlib import contextmanager

from . import parsing, safety
from .choices import ErrorCode
from .messages import CellError, cell_error

MAX_RESULT_BYTES = 64 * 1024 * 1024  # a RawWorkbook pickled by the child (3 bounded grids)
_CONTEXT = None


class ParseLimitExceeded(Exception):
    """Parsing took longer or more memory than allowed (``QIPORTAL_PARSE_*``);
    ``kind`` is ``"memory"`` or ``"time"``."""

    def __init__(self, kind: str = "memory") -> None:
        super().__init__(kind)
        self.kind = kind


@contextmanager
def parse_limits(*, memory_mb: int | None):
    """Cap the address space of this process while parsing: an allocation beyond
    ``memory_mb`` more than now raises MemoryError inside, which becomes
    ParseLimitExceeded("memory"); the process itself survives. No cap for None or 0."""
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


def file_read(content: bytes, *, max_bytes: int | None = None) -> parsing.RawWorkbook | list[CellError]:
    """The database-free part of ``checking.datasheet_check``: the RawWorkbook of the
    layout sheets, or the errors that refuse the file (container and part bounds of
    ``safety.precheck``, ``file_type`` / ``unsafe_content`` of an unreadable workbook at
    ``Datei!A1``, ``sheet_hidden`` / ``sheet_duplicate``). ``max_bytes``: the size limit
    (default ``settings.DATASHEET_MAX_BYTES``). Never raises for bad input; MemoryError,
    RecursionError and Celery's SoftTimeLimitExceeded pass through."""
    errors = safety.precheck(content, max_bytes=max_bytes)
    if errors:
        return errors
    try:
        raw = parsing.workbook_read(content)
    except parsing.WorkbookUnreadable as exc:
        detail = ": nicht lesbar / unreadable" if exc.code == ErrorCode.FILE_TYPE else (exc.detail or "XML")
        return [cell_error(safety.FILE, "A1", exc.code, detail=detail)]
    return list(raw.errors) if raw.errors else raw


def _context():
    """The forkserver context, its server preloading this module (started on first use)."""
    global _CONTEXT
    if _CONTEXT is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        _CONTEXT = context
    return _CONTEXT


def _child(connection, content: bytes, memory_mb: int, max_bytes: int) -> None:
    """Child process: ``file_read`` under ``parse_limits``; sends ("ok", result) or
    ("limit", "memory" | "recursion") or ("error", text) and exits."""
    gc.freeze()  # the forkserver's objects: never scanned here (a scan would copy every page)
    try:
        try:
            with parse_limits(memory_mb=memory_mb):
                outcome = ("ok", file_read(content, max_bytes=max_bytes))
        except (ParseLimitExceeded, MemoryError):
            outcome = ("limit", "memory")
        except RecursionError:
            outcome = ("limit", "recursion")
        except Exception as exc:  # a bug, not the file: reported to the parent as such
            outcome = ("error", f"{type(exc).__name__}: {exc}"[:500])
        connection.send(outcome)
    finally:
        connection.close()


def file_read_limited(
    content: bytes, *, time_limit: float, memory_mb: int, max_bytes: int | None = None
) -> parsing.RawWorkbook | list[CellError]:
    """``file_read`` in a child process with ``memory_mb`` of address space beyond its
    start and ``time_limit`` seconds of wall-clock time (issue 8: the parse limits hold
    without a worker too). Returns what ``file_read`` returns. Raises
    ParseLimitExceeded("time") when the child had to be killed, ("memory") when it ran
    out of memory or died without an answer, RecursionError when the read recursed too
    deep (reported like the worker's), RuntimeError for a failure of the code itself."""
    if max_bytes is None:
        from django.conf import settings

        max_bytes = settings.DATASHEET_MAX_BYTES
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, content, memory_mb, max_bytes), daemon=True)
    process.start()
    try:
        sender.close()
        if not receiver.poll(time_limit):
            raise ParseLimitExceeded("time")
        try:
            kind, payload = _receive(receiver)
        except (EOFError, OSError) as exc:  # died (e.g. killed by the kernel) or too large an answer
            raise ParseLimitExceeded("memory") from exc
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        receiver.close()
    if kind == "ok":
        return payload
    if kind == "limit":
        if payload == "recursion":
            raise RecursionError("workbook read")
        raise ParseLimitExceeded(payload)
    raise RuntimeError(f"file check failed in its child process: {payload}")


def _receive(receiver):
    import pickle

    return pickle.loads(receiver.recv_bytes(MAX_RESULT_BYTES))
