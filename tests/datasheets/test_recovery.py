"""Nothing lost (issue 8), in process: attempts per step, the recovery job, a broker
that cannot be reached, re-uploads of stuck and of older revisions. The same paths
with real worker, broker and their failures: tests/integration/test_faults.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from centres.models import LogEntry
from datasheets import services, tasks
from datasheets.choices import ProcessingStep, RevisionStatus
from datasheets.layout import IND_DENOMINATOR, IND_NUMERATOR, layout_for
from datasheets.models import DatasheetRevision
from datasheets.services import (
    datasheet_template_build,
    datasheet_upload,
    revision_attempt_begin,
    revision_confirm,
    revisions_recover,
)
from indicators.models import CatalogueVersion, Evaluation
from tests.datasheets.helpers import consistent_values, edit_workbook

NOW = timezone.now()
STUCK = 300  # QIPORTAL_STUCK_AFTER in these tests (the default)


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.QIPORTAL_STUCK_AFTER = STUCK
    settings.QIPORTAL_PROCESSING_MAX_ATTEMPTS = 3


@pytest.fixture
def layout(catalogue):
    return layout_for(CatalogueVersion.objects.get(pk="KJ2022"))


def _sheet(site, layout, kz20=(15, 20)) -> bytes:
    _n, content = datasheet_template_build(site=site, indicator_year=2022, values=consistent_values(layout))
    return edit_workbook(
        content,
        {
            ("Kennzahlen", layout.indicator_cell("20", IND_NUMERATOR)): kz20[0],
            ("Kennzahlen", layout.indicator_cell("20", IND_DENOMINATOR)): kz20[1],
        },
    )


def _row(site, status, *, age=STUCK + 1, **fields) -> DatasheetRevision:
    """A revision row last touched ``age`` seconds before NOW (no file)."""
    revision = DatasheetRevision.objects.create(
        file="datasheets/x.xlsx",
        original_name="x.xlsx",
        size=1,
        sha256="0" * 64,
        site=site,
        expected_site=site,
        indicator_year=2022,
        catalogue_version_id="KJ2022",
        status=status,
        **fields,
    )
    DatasheetRevision.objects.filter(pk=revision.pk).update(uploaded_at=NOW - timedelta(seconds=age))
    revision.refresh_from_db()
    return revision


@pytest.fixture
def sent(monkeypatch):
    """What the services hand to the broker after commit: (revision id, step)."""
    calls: list[tuple[int, str]] = []
    monkeypatch.setattr(tasks, "revision_send", lambda revision_id, step: calls.append((revision_id, str(step))))
    return calls


def _ago(seconds: float):
    return NOW - timedelta(seconds=seconds)


# ------------------------------------------------------------------ the recovery job


def test_recovery_requeues_exactly_the_revisions_whose_task_was_lost(
    site_a, catalogue, sent, django_capture_on_commit_callbacks
):
    never_sent = _row(site_a, RevisionStatus.PENDING)  # broker was down at upload
    lost = _row(site_a, RevisionStatus.PENDING, queued_at=_ago(STUCK + 1))  # Redis lost the message
    died = _row(site_a, RevisionStatus.PENDING, queued_at=_ago(900), started_at=_ago(STUCK + 5), attempts=1)
    evaluation_lost = _row(
        site_a, RevisionStatus.VALIDATED, confirmed_at=_ago(STUCK + 2), validated_at=_ago(STUCK + 3), attempts=0
    )
    # left alone: recent activity of any kind, a user's turn, final states
    recent_upload = _row(site_a, RevisionStatus.PENDING, age=STUCK - 5)
    recent_send = _row(site_a, RevisionStatus.PENDING, queued_at=_ago(STUCK - 5))
    running = _row(site_a, RevisionStatus.PENDING, queued_at=_ago(900), started_at=_ago(STUCK - 5), attempts=1)
    recent_confirm = _row(site_a, RevisionStatus.VALIDATED, confirmed_at=_ago(STUCK - 5))
    awaiting_user = _row(site_a, RevisionStatus.VALIDATED, validated_at=_ago(900))
    finished = [_row(site_a, s) for s in (RevisionStatus.EVALUATED, RevisionStatus.FAILED, RevisionStatus.DISCARDED)]

    with django_capture_on_commit_callbacks(execute=True):
        counts = revisions_recover(now=NOW)
    assert counts == {"requeued": 4, "aborted": 0}
    assert sorted(sent) == sorted(
        [
            (never_sent.pk, "validate"),
            (lost.pk, "validate"),
            (died.pk, "validate"),
            (evaluation_lost.pk, "evaluate"),
        ]
    )
    untouched = [recent_upload, recent_send, running, recent_confirm, awaiting_user, *finished]
    assert all(DatasheetRevision.objects.get(pk=r.pk).status == r.status for r in untouched)
    entry = LogEntry.objects.filter(action="datasheets.revision.requeued", object_id=str(died.pk)).get()
    assert entry.data == {"step": "validate", "reason": "recovery", "attempts": 1}


def test_recovery_fails_a_revision_whose_attempts_are_used_up_without_blaming_the_file(site_a, catalogue, sent):
    used_up = _row(site_a, RevisionStatus.PENDING, queued_at=_ago(900), started_at=_ago(STUCK + 1), attempts=3)
    one_left = _row(site_a, RevisionStatus.PENDING, queued_at=_ago(900), started_at=_ago(STUCK + 1), attempts=2)
    assert revisions_recover(now=NOW) == {"requeued": 1, "aborted": 1}
    used_up.refresh_from_db()
    assert used_up.status == "failed"
    assert [(e["sheet"], e["cell"], e["code"]) for e in used_up.errors] == [("Datei", "A1", "processing_aborted")]
    assert DatasheetRevision.objects.get(pk=one_left.pk).status == "pending"


def test_recovery_boundary_is_exactly_the_stuck_time(site_a, catalogue, sent, django_capture_on_commit_callbacks):
    at_cutoff = _row(site_a, RevisionStatus.PENDING, age=STUCK)  # activity exactly STUCK seconds ago: not yet
    with django_capture_on_commit_callbacks(execute=True):
        assert revisions_recover(now=NOW) == {"requeued": 0, "aborted": 0}
        assert revisions_recover(now=NOW + timedelta(microseconds=1)) == {"requeued": 1, "aborted": 0}
    assert sent == [(at_cutoff.pk, "validate")]


# ------------------------------------------------------------------ attempts


def test_an_attempt_is_counted_logged_from_the_second_and_refused_after_the_last(site_a, catalogue, coordinator):
    revision = _row(site_a, RevisionStatus.PENDING)
    assert revision_attempt_begin(revision_id=revision.pk, step=ProcessingStep.VALIDATE)
    assert not LogEntry.objects.filter(action="datasheets.revision.retried").exists()
    assert revision_attempt_begin(revision_id=revision.pk, step=ProcessingStep.VALIDATE)
    revision.refresh_from_db()
    assert (revision.attempts, revision.processing_retried) == (2, True)
    assert LogEntry.objects.get(action="datasheets.revision.retried").data == {"step": "validate", "attempt": 2}
    assert not revision_attempt_begin(revision_id=revision.pk, step=ProcessingStep.EVALUATE)  # not its step
    assert revision_attempt_begin(revision_id=revision.pk, step=ProcessingStep.VALIDATE)  # third
    assert not revision_attempt_begin(revision_id=revision.pk, step=ProcessingStep.VALIDATE)  # a fourth: no
    revision.refresh_from_db()
    assert (revision.status, revision.errors[0]["code"], revision.attempts) == ("failed", "processing_aborted", 3)
    assert not revision_attempt_begin(revision_id=987654, step=ProcessingStep.VALIDATE)


@pytest.mark.django_db(transaction=True)
def test_an_evaluation_that_keeps_failing_is_retried_then_aborted_with_its_values_kept(
    layout, site_a, coordinator, monkeypatch
):
    calls: list[int] = []

    def broken(*, revision_id):
        calls.append(revision_id)
        raise RuntimeError("database gone")

    monkeypatch.setattr(services, "revision_evaluate", broken)
    revision = datasheet_upload(content=_sheet(site_a, layout), filename="a.xlsx", acting_user=coordinator)
    revision.refresh_from_db()
    assert calls == [revision.pk] * 3  # three attempts, no more
    assert revision.status == "failed" and revision.attempts == 3
    assert [e["code"] for e in revision.errors] == ["processing_aborted"]
    assert revision.indicator_values.count() == len(layout.indicators)  # kept for the record
    assert not Evaluation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_evaluation_that_fails_once_is_retried_and_ends_evaluated(layout, site_a, coordinator, monkeypatch):
    real = services.revision_evaluate
    calls: list[int] = []

    def flaky(*, revision_id):
        calls.append(revision_id)
        if len(calls) == 1:
            raise RuntimeError("connection reset")
        return real(revision_id=revision_id)

    monkeypatch.setattr(services, "revision_evaluate", flaky)
    revision = datasheet_upload(content=_sheet(site_a, layout), filename="a.xlsx", acting_user=coordinator)
    revision.refresh_from_db()
    assert (revision.status, revision.attempts, len(calls)) == ("evaluated", 2, 2)
    assert Evaluation.objects.filter(site=site_a).count() == len(layout.indicators)


# ------------------------------------------------------------------ broker down


def _broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    tasks.revision_validate_task.app.conf.task_always_eager = False  # as with a broker (reset by _celery_mode)
    monkeypatch.setattr(tasks.revision_validate_task, "apply_async", refuse)
    monkeypatch.setattr(tasks.revision_evaluate_task, "apply_async", refuse)


@pytest.mark.django_db(transaction=True)
def test_a_send_to_an_unreachable_broker_is_logged_and_leaves_the_revision_for_recovery(
    layout, site_a, coordinator, monkeypatch, caplog
):
    _broker_down(monkeypatch)
    revision = datasheet_upload(content=_sheet(site_a, layout), filename="a.xlsx", acting_user=coordinator)
    revision.refresh_from_db()
    assert (revision.status, revision.queued_at, revision.processing_delayed) == ("pending", None, True)
    assert "could not be queued" in caplog.text
    assert tasks.revision_send(revision.pk, ProcessingStep.VALIDATE) is False


@pytest.mark.django_db(transaction=True)
def test_an_upload_while_the_broker_is_down_answers_the_revision_page_with_a_delay_message(
    layout, site_a, coordinator, client, monkeypatch
):
    _broker_down(monkeypatch)
    client.force_login(coordinator)
    response = client.post(
        reverse("datasheets:upload"),
        {"site": site_a.pk, "file": SimpleUploadedFile("kht.xlsx", _sheet(site_a, layout))},
        follow=True,
    )
    revision = DatasheetRevision.objects.get()
    assert response.status_code == 200
    assert response.redirect_chain == [(reverse("datasheets:revision_detail", args=[revision.pk]), 302)]
    page = response.content.decode()
    assert "Verarbeitung verzögert sich" in page  # the flash message
    assert 'data-code="processing_delayed"' in page  # the status panel
    assert revision.status == "pending" and revision.file.name.endswith(f"{revision.sha256}.xlsx")


def test_the_revision_page_says_processing_is_retried(site_a, catalogue, coordinator, client):
    revision = _row(site_a, RevisionStatus.PENDING, queued_at=NOW, attempts=2)
    client.force_login(coordinator)
    page = client.get(reverse("datasheets:revision_detail", args=[revision.pk])).content.decode()
    assert 'data-code="processing_retried"' in page
    assert "Verarbeitung abgebrochen, wird erneut versucht (Versuch 2 von 3)" in page


# ------------------------------------------------------------------ re-uploads


@pytest.mark.django_db(transaction=True)
def test_the_same_bytes_again_requeue_a_stuck_revision(layout, site_a, coordinator, monkeypatch):
    content = _sheet(site_a, layout)
    _broker_down(monkeypatch)
    stuck = datasheet_upload(content=content, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    monkeypatch.undo()  # the broker is back (eager here)
    tasks.revision_validate_task.app.conf.task_always_eager = True
    again = datasheet_upload(content=content, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    assert (again.pk, again.duplicate, again.requeued) == (stuck.pk, True, True)
    again.refresh_from_db()
    assert again.status == "evaluated" and again.is_current
    assert LogEntry.objects.get(action="datasheets.revision.requeued").data == {
        "step": "validate",
        "reason": "reupload",
        "attempts": 0,
    }
    third = datasheet_upload(content=content, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    assert (third.pk, third.duplicate, third.requeued) == (stuck.pk, True, False)  # finished: a plain duplicate


@pytest.mark.django_db(transaction=True)
def test_the_bytes_of_an_older_revision_make_a_new_revision_with_a_preview(layout, site_a, coordinator):
    old_bytes = _sheet(site_a, layout, (15, 20))
    first = datasheet_upload(content=old_bytes, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    second = datasheet_upload(
        content=_sheet(site_a, layout, (5, 20)), filename="b.xlsx", acting_user=coordinator, expected_site=site_a
    )
    revision_confirm(revision=DatasheetRevision.objects.get(pk=second.pk), acting_user=coordinator)
    first.refresh_from_db()
    assert first.status == "evaluated" and not first.is_current
    back = datasheet_upload(content=old_bytes, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    assert back.pk not in (first.pk, second.pk) and back.duplicate is False
    back.refresh_from_db()
    assert back.awaiting_confirmation  # preview first: 5/20 -> 15/20
    assert back.file.name == first.file.name  # the bytes are stored once
    revision_confirm(revision=back, acting_user=coordinator)
    assert Evaluation.objects.get(site=site_a, definition__code="20").numerator == 15


# ------------------------------------------------------------------ by hand


@pytest.mark.django_db(transaction=True)
def test_the_recover_command_processes_what_a_dead_process_left_waiting(layout, site_a, coordinator, monkeypatch):
    import io

    from django.core.management import CommandError, call_command

    monkeypatch.setattr(tasks, "revision_enqueue", lambda revision_id, step: None)  # the process died here
    waiting = datasheet_upload(content=_sheet(site_a, layout), filename="a.xlsx", acting_user=coordinator)
    monkeypatch.undo()
    out = io.StringIO()
    call_command("recover_revisions", stdout=out)  # too recent for the default 300 s
    assert DatasheetRevision.objects.get(pk=waiting.pk).status == "pending"
    assert "requeued: 0" in out.getvalue()
    call_command("recover_revisions", "--older-than", "0", stdout=out)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.is_current) == ("evaluated", True)
    assert "requeued: 1" in out.getvalue()
    with pytest.raises(CommandError, match="must be"):
        call_command("recover_revisions", "--older-than", "-1")


def test_processing_tasks_are_acknowledged_late_and_requeued_when_their_worker_dies(settings):
    for task, soft in (
        (tasks.revision_validate_task, settings.QIPORTAL_PARSE_TIME_LIMIT),
        (tasks.revision_evaluate_task, settings.QIPORTAL_EVALUATE_TIME_LIMIT),
    ):
        assert (task.acks_late, task.reject_on_worker_lost) == (True, True)
        assert (task.soft_time_limit, task.time_limit) == (soft, soft + 30)
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    # Redis re-delivers an unacknowledged message only after the longest hard limit, x3.
    longest = max(settings.QIPORTAL_PARSE_TIME_LIMIT, settings.QIPORTAL_EVALUATE_TIME_LIMIT) + 30
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == 3 * longest == 270
    assert settings.CELERY_BEAT_SCHEDULE["revisions-recover"]["task"] == tasks.revisions_recover_task.name


def test_a_hand_over_is_noted_only_on_a_revision_awaiting_that_step(site_a, catalogue):
    from datasheets.services import revision_mark_queued

    cases = [
        (RevisionStatus.PENDING, None, ProcessingStep.VALIDATE, True),
        (RevisionStatus.PENDING, None, ProcessingStep.EVALUATE, False),
        (RevisionStatus.VALIDATED, NOW, ProcessingStep.EVALUATE, True),
        (RevisionStatus.VALIDATED, None, ProcessingStep.EVALUATE, False),  # the user's turn
        (RevisionStatus.VALIDATED, NOW, ProcessingStep.VALIDATE, False),
        (RevisionStatus.EVALUATED, NOW, ProcessingStep.EVALUATE, False),
    ]
    for status, confirmed_at, step, noted in cases:
        revision = _row(site_a, status, confirmed_at=confirmed_at)
        revision_mark_queued(revision_id=revision.pk, step=step)
        revision.refresh_from_db()
        assert (revision.queued_at is not None) == noted, (status, confirmed_at, step)
