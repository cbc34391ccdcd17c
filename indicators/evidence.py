"""Evidence files with which a centre answers an Abweichung (issue 9, SPEC §4).

A file is accepted only if its content is a PDF, PNG or JPEG (magic bytes, then
Pillow decodes PNG and JPEG completely; a PDF must end with ``%%EOF``) and the
extension of its name names the same type; at most ``settings.QIPORTAL_EVIDENCE_MAX_BYTES``
bytes. Files are stored once per content, by SHA-256, like data sheets:
``evidence/<sha[:2]>/<sha256>.<ext>``. They are only ever served as attachments
(``indicators.answer_views.EvidenceDownloadView``).

Services write with ``transaction.atomic()`` inside the body; every check runs before
the first write, so a refusal leaves neither a row nor a stored file behind.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from centres.permissions import Action, user_can
from centres.services import log_entry_create
from qiportal.exceptions import ApplicationError

from .choices import DeviationError, DeviationState
from .models import Deviation, Evidence
from .selectors import deviation_list
from .services import deviation_respond

# Sniffed type -> (content type, extension of the stored file, accepted name extensions)
TYPES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "pdf": ("application/pdf", "pdf", (".pdf",)),
    "png": ("image/png", "png", (".png",)),
    "jpeg": ("image/jpeg", "jpg", (".jpg", ".jpeg")),
}
ACCEPT = ".pdf,.png,.jpg,.jpeg"  # the file input's ``accept`` attribute
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"IEND\xaeB`\x82"  # the closing chunk with its CRC
JPEG_SOI = b"\xff\xd8\xff"
PDF_MAGIC = b"%PDF-"
MAX_PIXELS = 50_000_000  # larger images are refused before decoding (decompression bombs)
MAX_FILENAME = 255


@dataclass(frozen=True)
class CheckedFile:
    """An evidence file that passed ``evidence_check``: sanitised name, sniffed type
    (``pdf`` | ``png`` | ``jpeg``), its content type, SHA-256 (hex) and size in bytes."""

    filename: str
    kind: str
    content_type: str
    sha256: str
    size: int
    content: bytes

    @property
    def storage_name(self) -> str:
        return evidence_storage_name(self.sha256, self.kind)


def evidence_storage_name(sha256: str, kind: str) -> str:
    """``evidence/<sha[:2]>/<sha256>.<ext>`` for a sniffed type ``kind``."""
    return f"evidence/{sha256[:2]}/{sha256}.{TYPES[kind][1]}"


def evidence_filename(name: str) -> str:
    """The file name to keep and offer on download: the last path part only (``/`` and
    ``\\`` both separate), without control or format characters (which includes the
    right-to-left override that disguises an extension), trimmed, at most 255
    characters with the extension kept."""
    name = (name or "").replace("\\", "/")
    name = posixpath.basename(name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    name = name.strip().strip(".").strip()
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name


def sniff(content: bytes) -> str | None:
    """The type by magic bytes: ``pdf`` (``%PDF-``), ``png`` (the 8-byte PNG signature),
    ``jpeg`` (SOI ``FF D8 FF``), else None."""
    if content.startswith(PDF_MAGIC):
        return "pdf"
    if content.startswith(PNG_SIGNATURE):
        return "png"
    if content.startswith(JPEG_SOI):
        return "jpeg"
    return None


def _structure_ok(content: bytes, kind: str) -> bool:
    """The whole file is what its magic bytes claim: a PDF ends with ``%%EOF`` (within
    its last 1,024 bytes, as readers look for it); a PNG has its IEND chunk; PNG and
    JPEG are verified and decoded completely by Pillow (a truncated image fails)."""
    if kind == "pdf":
        return b"%%EOF" in content[-1024:]
    if kind == "png" and PNG_IEND not in content:
        return False
    from PIL import Image

    fmt = {"png": "PNG", "jpeg": "JPEG"}[kind]
    try:
        with Image.open(io.BytesIO(content), formats=[fmt]) as image:
            if image.width * image.height > MAX_PIXELS:
                return False
            image.verify()
        with Image.open(io.BytesIO(content), formats=[fmt]) as image:
            image.load()
    except Exception:  # noqa: BLE001 -- any decoder failure on untrusted bytes means "not a valid image"
        return False
    return True


def evidence_check_size(*, filename: str, size: int) -> None:
    """Raise ApplicationError EVIDENCE_SIZE (naming the file, its size and the limit)
    when ``size`` bytes exceed ``settings.QIPORTAL_EVIDENCE_MAX_BYTES``. Lets a view
    refuse an upload by its size before reading it."""
    limit = settings.QIPORTAL_EVIDENCE_MAX_BYTES
    if size > limit:
        name = evidence_filename(filename)
        raise ApplicationError(
            DeviationError.EVIDENCE_SIZE,
            _("%(name)s: the file is %(size)s; at most %(limit)s is allowed.")
            % {"name": name or _("(no name)"), "size": filesizeformat(size), "limit": filesizeformat(limit)},
            filename=name,
        )


def evidence_check(*, filename: str, content: bytes) -> CheckedFile:
    """Check one evidence file without writing anything; returns the ``CheckedFile``.

    Refused with ApplicationError EVIDENCE_SIZE above
    ``settings.QIPORTAL_EVIDENCE_MAX_BYTES``, and EVIDENCE_TYPE when the content is no
    complete PDF, PNG or JPEG or the name's extension names another type (a PNG named
    ``.pdf``, HTML named ``.pdf``). The message names the file."""
    evidence_check_size(filename=filename, size=len(content))
    name = evidence_filename(filename)
    shown = name or _("(no name)")
    kind = sniff(content)
    extension = posixpath.splitext(name)[1].lower()
    if kind is None or extension not in TYPES[kind][2] or not _structure_ok(content, kind):
        raise ApplicationError(
            DeviationError.EVIDENCE_TYPE,
            _("%(name)s: evidence must be a PDF, PNG or JPEG file whose name ends in .pdf, .png, .jpg or .jpeg.")
            % {"name": shown},
            filename=name,
        )
    return CheckedFile(
        filename=name,
        kind=kind,
        content_type=TYPES[kind][0],
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        content=content,
    )


def _check_answerable(deviation: Deviation, acting_user) -> None:
    """The coordinator side of an Abweichung: FORBIDDEN without JUSTIFY, WRONG_STATE
    unless the state is ``nonconformity``."""
    if not user_can(acting_user, Action.JUSTIFY, deviation):
        raise ApplicationError(DeviationError.FORBIDDEN)
    if deviation.state != DeviationState.NONCONFORMITY:
        raise ApplicationError(DeviationError.WRONG_STATE)


def _store(deviation: Deviation, checked: CheckedFile, acting_user) -> Evidence:
    name = checked.storage_name
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(checked.content))
    evidence = Evidence.objects.create(
        deviation=deviation,
        sha256=checked.sha256,
        filename=checked.filename,
        content_type=checked.content_type,
        size=checked.size,
        uploaded_by=acting_user if getattr(acting_user, "pk", None) else None,
    )
    log_entry_create(
        actor=acting_user,
        obj=deviation,
        action="indicators.deviation.evidence_added",
        data={"filename": checked.filename, "sha256": checked.sha256, "size": checked.size},
    )
    return evidence


def evidence_add(*, deviation: Deviation, filename: str, content: bytes, acting_user) -> Evidence:
    """Attach one evidence file to an Abweichung (state ``nonconformity``), for a user
    who may JUSTIFY it (the centre's coordinator, the office). Checked by
    ``evidence_check``; stored once per content under ``evidence_storage_name``; logs
    ``indicators.deviation.evidence_added`` with filename, sha256 and size.

    Raises ApplicationError FORBIDDEN, WRONG_STATE, EVIDENCE_SIZE, EVIDENCE_TYPE; on any
    refusal nothing is written (no row, no stored file, no log entry)."""
    with transaction.atomic():
        deviation = Deviation.objects.select_for_update().get(pk=deviation.pk)
        _check_answerable(deviation, acting_user)
        checked = evidence_check(filename=filename, content=content)
        return _store(deviation, checked, acting_user)


def deviation_answer(
    *, deviation: Deviation, text: str, files: Iterable[tuple[str, bytes]] = (), acting_user
) -> Deviation:
    """The centre's answer to an Abweichung: the statement (``deviation_respond``) and
    its evidence files ``[(filename, content), ...]``, all or nothing. Every file is
    checked before anything is written, so one bad file refuses the whole answer.

    Raises ApplicationError FORBIDDEN, WRONG_STATE, TEXT_REQUIRED, EVIDENCE_SIZE,
    EVIDENCE_TYPE (the message names the file)."""
    with transaction.atomic():
        deviation = Deviation.objects.select_for_update().get(pk=deviation.pk)
        _check_answerable(deviation, acting_user)
        if not text.strip():
            raise ApplicationError(DeviationError.TEXT_REQUIRED)
        checked = [evidence_check(filename=name, content=content) for name, content in files]
        deviation = deviation_respond(deviation=deviation, text=text, acting_user=acting_user)
        for item in checked:
            _store(deviation, item, acting_user)
        return deviation


def evidence_list(*, deviation: Deviation) -> QuerySet[Evidence]:
    """The evidence files of one deviation, oldest first (the caller has checked that
    the user may view the deviation)."""
    return deviation.evidence.select_related("uploaded_by").order_by("uploaded_at", "pk")


def evidence_get(*, user, pk: int) -> Evidence:
    """One evidence file of a deviation the user may view; Http404 otherwise (also for
    an unknown pk: existence does not leak)."""
    qs = Evidence.objects.select_related("deviation").filter(deviation__in=deviation_list(user=user))
    return get_object_or_404(qs, pk=pk)


def evidence_open(evidence: Evidence):
    """The stored file of ``evidence``, opened for binary reading (the caller closes
    it). Raises FileNotFoundError when it is missing from storage."""
    kind = next(k for k, (content_type, _ext, _names) in TYPES.items() if content_type == evidence.content_type)
    return default_storage.open(evidence_storage_name(evidence.sha256, kind), "rb")
