"""Which stored files are never served back as they were (issue 8).

A revision refused as unsafe keeps its file for the record (content-addressed by
SHA-256), but the portal does not hand those bytes to anyone: a workbook with macros,
external links or entity declarations, a damaged or encrypted container, or a file whose
check died would reach the next person's Excel unchanged. The same holds while a file
has not been checked at all (pending). The download answers a page naming the SHA-256
and the reasons instead (``views.RevisionFileView``), and the revision page shows no
download link.

Pure rule on a revision's stored status and errors; no query, no file access.
"""

from __future__ import annotations

from dataclasses import dataclass

from .choices import ErrorCode, RevisionStatus

# Error codes that judge the bytes themselves (SPEC §3 structure codes of safety.py).
UNSAFE_CODES = frozenset({ErrorCode.UNSAFE_CONTENT, ErrorCode.FILE_TYPE, ErrorCode.FILE_TOO_LARGE})
# Pseudo sheet of whole-file problems (``safety.FILE``).
FILE_SHEET = "Datei"


class RefusalReason:
    UNSAFE = "unsafe"  # refused as unsafe: kept for the record only
    UNCHECKED = "unchecked"  # not yet through the safety checks


@dataclass(frozen=True)
class FileRefusal:
    """Why a stored file is not served: ``reason`` (``RefusalReason``) and the stored
    errors that caused it (dicts as in ``DatasheetRevision.errors``: sheet, cell, code,
    message_de, message_en …; empty for ``unchecked``)."""

    reason: str
    problems: tuple[dict, ...] = ()


def revision_file_refusal(revision) -> FileRefusal | None:
    """None if the stored file of ``revision`` may be downloaded as it is, else why not.

    Refused (issue 8): a revision still ``pending`` (never checked), and a ``failed``
    one with any error coded ``unsafe_content``, ``file_type`` or ``file_too_large``
    or located on the pseudo sheet "Datei" (the container as a whole: macros/VBA,
    external links, DTD/entity declarations, encrypted or damaged files, an aborted
    check). Files that failed only on their values (``required``, ``not_integer`` …)
    are served: they passed the safety checks.
    """
    if revision.status == RevisionStatus.PENDING:
        return FileRefusal(RefusalReason.UNCHECKED)
    problems = tuple(
        e for e in (revision.errors or []) if e.get("code") in UNSAFE_CODES or e.get("sheet") == FILE_SHEET
    )
    if problems:
        return FileRefusal(RefusalReason.UNSAFE, problems)
    return None
