"""The parse limits without a worker (issue 8): eager callers — no broker, the command
line, the demo import, the dry run — read the file in a forkserver child under the
address-space cap and a wall-clock limit; the child's answer is what this process
would have read, a limit is ``unsafe_content`` naming it, and this process is unharmed."""

from __future__ import annotations

import multiprocessing
import resource
import threading
import time
from pathlib import Path

import pytest

from datasheets import isolation
from datasheets.isolation import ParseLimitExceeded, file_read, file_read_limited
from datasheets.models import DatasheetRevision
from datasheets.reports import dry_run_report
from datasheets.services import datasheet_upload, revision_validate
from tests.datasheets.helpers import hidden_full_sheets

DATA = Path(__file__).resolve().parents[1] / "data" / "datasheets"
GOOD = (DATA / "good" / "openpyxl_kj2022.xlsx").read_bytes()


@pytest.fixture(scope="module")
def heavy() -> bytes:
    """An honest-looking 4.5 MB file: ten hidden sheets of 99,000 numbers (1-2 s to check)."""
    return hidden_full_sheets(GOOD, 10)


def _no_child_left():
    deadline = time.monotonic() + 5
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return multiprocessing.active_children() == []


def test_the_child_answers_what_this_process_reads():
    assert file_read_limited(GOOD, time_limit=30, memory_mb=768) == file_read(GOOD)
    bad = (DATA / "bad" / "container_xls_biff8.xls").read_bytes()
    refused = file_read_limited(bad, time_limit=30, memory_mb=768)
    assert [(e.sheet, e.cell, e.code) for e in refused] == [("Datei", "A1", "file_type")]
    assert refused == file_read(bad)
    assert _no_child_left()


def test_the_child_gets_this_processs_size_limit(settings):
    settings.DATASHEET_MAX_BYTES = len(GOOD) - 1
    [error] = file_read_limited(GOOD, time_limit=30, memory_mb=768)
    assert (error.cell, error.code) == ("A1", "file_too_large")


def test_the_wall_clock_limit_kills_the_child(heavy):
    started = time.monotonic()
    with pytest.raises(ParseLimitExceeded) as caught:
        file_read_limited(heavy, time_limit=0.2, memory_mb=768)
    assert caught.value.kind == "time"
    assert time.monotonic() - started < 1.5  # killed, not waited for (a full check takes over 1 s)
    assert _no_child_left()


def test_the_memory_cap_stops_the_child_and_leaves_this_process_alone(heavy):
    before = resource.getrlimit(resource.RLIMIT_AS)
    with pytest.raises(ParseLimitExceeded) as caught:
        file_read_limited(heavy, time_limit=30, memory_mb=5)  # the 26 MB of parts alone need more
    assert caught.value.kind == "memory"
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    assert file_read_limited(heavy, time_limit=30, memory_mb=768).errors == ()  # within 768 MB it reads
    assert _no_child_left()


def test_a_child_that_dies_without_an_answer_is_a_memory_failure(heavy):
    outcome: list = []

    def check():
        try:
            file_read_limited(heavy, time_limit=30, memory_mb=768)
        except ParseLimitExceeded as exc:
            outcome.append(exc.kind)

    thread = threading.Thread(target=check)
    thread.start()
    deadline = time.monotonic() + 10
    while not multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.01)
    [child] = multiprocessing.active_children()
    child.kill()  # as the kernel's OOM killer would
    thread.join(10)
    assert outcome == ["memory"]
    assert _no_child_left()


def test_a_result_too_large_to_receive_is_a_memory_failure(monkeypatch):
    monkeypatch.setattr(isolation, "MAX_RESULT_BYTES", 100)
    with pytest.raises(ParseLimitExceeded) as caught:
        file_read_limited(GOOD, time_limit=30, memory_mb=768)
    assert caught.value.kind == "memory"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        ({"QIPORTAL_PARSE_MEMORY_MB": 5}, "Speichergrenze / memory limit"),
        ({"QIPORTAL_PARSE_TIME_LIMIT": 0.2}, "Zeitgrenze / time limit"),
    ],
)
def test_an_eager_validation_over_a_limit_fails_the_revision(
    catalogue, site_a, coordinator, settings, heavy, limits, reason
):
    for name, value in limits.items():
        setattr(settings, name, value)
    revision = datasheet_upload(content=heavy, filename="h.xlsx", acting_user=coordinator, expected_site=site_a)
    revision_validate(revision_id=revision.pk)  # eager: not the worker (limited=False)
    revision = DatasheetRevision.objects.get(pk=revision.pk)
    assert revision.status == "failed"
    [error] = revision.errors
    assert (error["sheet"], error["cell"], error["code"]) == ("Datei", "A1", "unsafe_content")
    assert error["message_en"].startswith(f"The file has unsafe content: {reason} (")
    assert revision.indicator_values.count() == 0


@pytest.mark.django_db
def test_the_dry_run_reads_under_the_limits(catalogue, settings, heavy):
    settings.QIPORTAL_PARSE_MEMORY_MB = 5
    report = dry_run_report(content=heavy)
    assert report["status"] == "failed"
    assert [(e["sheet"], e["cell"], e["code"]) for e in report["errors"]] == [("Datei", "A1", "unsafe_content")]
    assert "memory limit" in report["errors"][0]["message_en"]
