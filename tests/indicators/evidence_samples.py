"""Small evidence files for the tests of ``indicators.evidence`` and the answer views,
built in memory: a minimal PDF (text), PNG and JPEG images made with Pillow, and files
that only pretend to be one of them."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from centres.models import LogEntry
from indicators.choices import DeviationState
from indicators.models import Deviation, Evidence, IndicatorDefinition
from indicators.services import deviation_decide, deviation_justify, deviation_resolve, deviation_sync

YEAR = 2022
DUE = dt.date(2023, 9, 30)  # in the past: the Abweichung is overdue since 01.10.2023


def pdf_bytes(pad: int = 0) -> bytes:
    """A minimal one-page PDF (text), optionally padded with a comment of ``pad`` bytes."""
    body = (
        b"%PDF-1.4\n"
        b"1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
        b"2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n"
        b"3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 200 200]>> endobj\n"
    )
    body += b"%" + b"x" * pad + b"\n" if pad else b""
    return body + b"trailer <</Root 1 0 R>>\n%%EOF\n"


def image_bytes(fmt: str, size=(32, 24), colour=(200, 30, 30)) -> bytes:
    """A small image in Pillow format ``fmt`` ("PNG" or "JPEG")."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("nachweis.txt", "kein PDF")
    return buffer.getvalue()


HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"


def make_deviation(site, *, state: str = DeviationState.NONCONFORMITY, auditor=None, coordinator=None) -> Deviation:
    """KJ2022 KeZa 5 of ``site`` at 1/40 (target not met), brought to ``state`` through
    the services: justified by ``coordinator``, decided by ``auditor`` (an Abweichung
    with due date ``DUE``)."""
    definition = IndicatorDefinition.objects.get(version_id="KJ2022", code="5")
    (deviation,) = deviation_sync(
        site=site, indicator_year=YEAR, definition=definition, flags=["target_not_met"], numerator=1, denominator=40
    )
    if state == DeviationState.OPEN:
        return deviation
    deviation = deviation_justify(deviation=deviation, text="Kleine Fallzahl", acting_user=coordinator)
    if state == DeviationState.JUSTIFIED:
        return deviation
    decision = DeviationState.NONCONFORMITY if state == DeviationState.RESOLVED else state
    extra = {"due_date": DUE, "corrective_action": "Tumorboard-Protokolle nachreichen"}
    deviation = deviation_decide(
        deviation=deviation,
        decision=decision,
        acting_user=auditor,
        **(extra if decision == DeviationState.NONCONFORMITY else {}),
    )
    if state == DeviationState.RESOLVED:
        deviation = deviation_resolve(deviation=deviation, acting_user=auditor)
    return deviation


def stored_files(media) -> list[str]:
    """Paths of all files below the test's MEDIA_ROOT ``media``, relative to it."""
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


def snapshot(media) -> tuple:
    """Everything a refused step must leave untouched: deviation rows, log entries,
    evidence rows, stored files."""
    return (
        list(Deviation.objects.order_by("pk").values()),
        list(LogEntry.objects.order_by("pk").values_list("pk", "action")),
        list(Evidence.objects.values_list("pk", flat=True)),
        stored_files(media),
    )
