"""Revisions (issue 4): identical bytes create no new revision; a replacement waits for
its preview to be confirmed or discarded; the last confirmed revision wins."""

import io
import json

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from centres.models import LogEntry
from datasheets.layout import IND_DENOMINATOR, IND_NUMERATOR, layout_for
from datasheets.models import DatasheetRevision, IndicatorValue
from datasheets.reports import revision_diff
from datasheets.services import (
    datasheet_template_build,
    datasheet_upload,
    revision_confirm,
    revision_discard,
    revision_evaluate,
)
from indicators.models import CatalogueVersion, Deviation, Evaluation
from qiportal.exceptions import ApplicationError
from tests.datasheets.helpers import consistent_values, edit_workbook


@pytest.fixture
def layout(catalogue):
    return layout_for(CatalogueVersion.objects.get(pk="KJ2022"))


def _sheet(site, layout, kz20=(15, 20)):
    _n, content = datasheet_template_build(
        site=site, indicator_year=2022, values=consistent_values(layout, justify=False)
    )
    return edit_workbook(
        content,
        {
            ("Kennzahlen", layout.indicator_cell("20", IND_NUMERATOR)): kz20[0],
            ("Kennzahlen", layout.indicator_cell("20", IND_DENOMINATOR)): kz20[1],
        },
    )


@pytest.mark.django_db(transaction=True)
def test_same_bytes_create_no_new_revision(layout, site_a, coordinator):
    content = _sheet(site_a, layout)
    first = datasheet_upload(content=content, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    again = datasheet_upload(content=content, filename="renamed.xlsx", acting_user=coordinator, expected_site=site_a)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.pk == first.pk and DatasheetRevision.objects.count() == 1
    assert first.file.name == f"datasheets/{first.sha256[:2]}/{first.sha256}.xlsx"
    with default_storage.open(first.file.name, "rb") as handle:
        assert handle.read() == content


@pytest.mark.django_db(transaction=True)
def test_replacement_waits_for_confirmation_with_a_preview(layout, site_a, coordinator):
    first = datasheet_upload(
        content=_sheet(site_a, layout, (15, 20)), filename="a.xlsx", acting_user=coordinator, expected_site=site_a
    )
    second = datasheet_upload(
        content=_sheet(site_a, layout, (5, 20)), filename="b.xlsx", acting_user=coordinator, expected_site=site_a
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "evaluated" and first.is_current
    assert second.status == "validated" and second.awaiting_confirmation and not second.is_current
    # Nothing national changed yet.
    assert Evaluation.objects.get(site=site_a, definition__code="20").numerator == 15
    assert not Deviation.objects.filter(code="20").exists()

    changes = [r for r in revision_diff(second) if r.changed]
    assert [
        (r.code, r.old_numerator, r.new_numerator, r.old_denominator, r.new_denominator, r.flags_added, r.flags_removed)
        for r in changes
    ] == [
        ("20", 15, 5, 20, 20, ("implausible_low",), ()),
    ]

    revision_confirm(revision=second, acting_user=coordinator)
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.status == "evaluated" and second.is_current and not first.is_current
    assert Evaluation.objects.get(site=site_a, definition__code="20").numerator == 5
    assert Deviation.objects.filter(code="20", flag="implausible_low", is_active=True).count() == 1
    assert LogEntry.objects.filter(action="datasheets.revision.confirmed", object_id=second.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_discard_keeps_the_current_revision(layout, site_a, coordinator, coordinator_b):
    first = datasheet_upload(
        content=_sheet(site_a, layout, (15, 20)), filename="a.xlsx", acting_user=coordinator, expected_site=site_a
    )
    second = datasheet_upload(
        content=_sheet(site_a, layout, (5, 20)), filename="b.xlsx", acting_user=coordinator, expected_site=site_a
    )
    second.refresh_from_db()
    with pytest.raises(ApplicationError) as forbidden:
        revision_confirm(revision=second, acting_user=coordinator_b)
    assert forbidden.value.code == "site_forbidden"
    revision_discard(revision=second, acting_user=coordinator)
    second.refresh_from_db()
    assert second.status == "discarded"
    assert DatasheetRevision.objects.get(is_current=True) == first
    assert IndicatorValue.objects.filter(revision=second).exists()  # kept for the record
    with pytest.raises(ApplicationError) as wrong_state:
        revision_confirm(revision=second, acting_user=coordinator)
    assert wrong_state.value.code == "wrong_state"
    # Discarded bytes may be uploaded again as a new revision.
    third = datasheet_upload(
        content=_sheet(site_a, layout, (5, 20)), filename="b.xlsx", acting_user=coordinator, expected_site=site_a
    )
    assert third.pk != second.pk and not third.duplicate


@pytest.mark.django_db(transaction=True)
def test_last_confirmed_revision_wins_whatever_order_the_tasks_run(layout, site_a, coordinator, monkeypatch):
    from datasheets import tasks

    datasheet_upload(
        content=_sheet(site_a, layout, (15, 20)), filename="a.xlsx", acting_user=coordinator, expected_site=site_a
    )
    b = datasheet_upload(
        content=_sheet(site_a, layout, (5, 20)), filename="b.xlsx", acting_user=coordinator, expected_site=site_a
    )
    c = datasheet_upload(
        content=_sheet(site_a, layout, (12, 20)), filename="c.xlsx", acting_user=coordinator, expected_site=site_a
    )
    queued: list[int] = []
    monkeypatch.setattr(tasks, "revision_enqueue", lambda revision_id, step: queued.append(revision_id))
    revision_confirm(revision=b, acting_user=coordinator)
    revision_confirm(revision=c, acting_user=coordinator)
    assert queued == [b.pk, c.pk]
    # The worker runs c's evaluation first, then b's (confirmed earlier).
    revision_evaluate(revision_id=c.pk)
    revision_evaluate(revision_id=b.pk)
    b.refresh_from_db()
    c.refresh_from_db()
    assert (b.status, c.status) == ("evaluated", "evaluated")
    assert c.is_current and not b.is_current
    assert list(DatasheetRevision.objects.filter(site=site_a, indicator_year=2022, is_current=True)) == [c]
    assert Evaluation.objects.get(site=site_a, definition__code="20").numerator == 12
    assert not Deviation.objects.filter(code="20", is_active=True).exists()


@pytest.mark.django_db(transaction=True)
def test_command_line_dry_run_writes_nothing_and_shows_changes(layout, site_a, coordinator, tmp_path):
    datasheet_upload(
        content=_sheet(site_a, layout, (15, 20)), filename="a.xlsx", acting_user=coordinator, expected_site=site_a
    )
    path = tmp_path / "b.xlsx"
    path.write_bytes(_sheet(site_a, layout, (5, 20)))
    counts = (DatasheetRevision.objects.count(), IndicatorValue.objects.count(), LogEntry.objects.count())
    out = io.StringIO()
    call_command("import_datasheet", str(path), "--dry-run", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert (DatasheetRevision.objects.count(), IndicatorValue.objects.count(), LogEntry.objects.count()) == counts
    assert report["revision"] is None and report["status"] == "valid"
    assert [(c["code"], c["old_numerator"], c["new_numerator"], c["flags_added"]) for c in report["changes"]] == [
        ("20", 15, 5, ["implausible_low"])
    ]


@pytest.mark.django_db(transaction=True)
def test_validation_task_returns_the_structured_report(layout, site_a, coordinator, monkeypatch):
    from datasheets import tasks

    monkeypatch.setattr(tasks, "revision_enqueue", lambda revision_id, step: None)
    bad = edit_workbook(_sheet(site_a, layout), {("Kennzahlen", layout.indicator_cell("12", IND_NUMERATOR)): "zwölf"})
    revision = datasheet_upload(content=bad, filename="bad.xlsx", acting_user=coordinator, expected_site=site_a)
    assert DatasheetRevision.objects.get(pk=revision.pk).status == "pending"
    result = tasks.revision_validate_task.apply((revision.pk,)).get()
    assert result["revision"] == revision.pk and result["status"] == "failed"
    assert [(e["sheet"], e["cell"], e["code"]) for e in result["errors"]] == [
        ("Kennzahlen", layout.indicator_cell("12", IND_NUMERATOR), "not_integer")
    ]
    assert json.loads(json.dumps(result)) == result


@pytest.mark.django_db(transaction=True)
def test_a_validation_killed_at_its_hard_time_limit_fails_its_revision_instead_of_pending_for_ever(
    layout, site_a, coordinator, monkeypatch
):
    from celery.exceptions import TimeLimitExceeded

    from datasheets import tasks

    sent: list[dict] = []
    monkeypatch.setattr(
        tasks.revision_validate_task, "apply_async", lambda args, **options: sent.append({"args": args, **options})
    )
    tasks.revision_validate_task.app.conf.task_always_eager = False  # as with a broker (reset by _celery_mode)
    revision = datasheet_upload(
        content=_sheet(site_a, layout), filename="a.xlsx", acting_user=coordinator, expected_site=site_a
    )
    assert sent == [{"args": (revision.pk,), "time_limit": None, "soft_time_limit": None}]  # the worker's own limits
    revision.refresh_from_db()
    assert revision.queued_at is not None and revision.status == "pending"

    # What the worker's main process runs when the pool killed the child at the hard limit:
    tasks.revision_validate_task.on_failure(TimeLimitExceeded(60), "task-id", (revision.pk,), {}, None)
    revision.refresh_from_db()
    assert revision.status == "failed"
    assert [(e["code"], "time limit" in e["message_en"]) for e in revision.errors] == [("unsafe_content", True)]
    assert IndicatorValue.objects.filter(revision=revision).count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_hard_time_limit_leaves_a_finished_revision_and_an_evaluation_alone(layout, site_a, coordinator):
    from celery.exceptions import TimeLimitExceeded

    from datasheets.tasks import revision_evaluate_task, revision_validate_task

    revision = datasheet_upload(
        content=_sheet(site_a, layout), filename="a.xlsx", acting_user=coordinator, expected_site=site_a
    )
    revision.refresh_from_db()
    assert revision.status == "evaluated"
    revision_validate_task.on_failure(TimeLimitExceeded(60), "t", (revision.pk,), {}, None)
    revision.refresh_from_db()
    assert revision.status == "evaluated" and revision.is_current
    confirmed = DatasheetRevision.objects.create(
        file=revision.file,
        original_name="b.xlsx",
        size=1,
        sha256="1" * 64,
        site=site_a,
        status="validated",
        confirmed_at=revision.confirmed_at,
        attempts=1,
    )
    revision_evaluate_task.on_failure(TimeLimitExceeded(90), "t", (confirmed.pk,), {}, None)
    confirmed.refresh_from_db()
    assert confirmed.status == "validated"  # the recovery job retries the evaluation


@pytest.mark.django_db(transaction=True)
def test_same_bytes_are_checked_again_when_the_failure_was_outside_the_file(layout, site_a, office):
    from tests.factories import SiteFactory

    _n, content = datasheet_template_build(site=site_a, indicator_year=2022, values=consistent_values(layout))
    content = edit_workbook(content, {("Deckblatt", "B3"): "KHT-NEU"})  # a site not registered yet
    first = datasheet_upload(content=content, filename="a.xlsx", acting_user=office)
    first.refresh_from_db()
    assert [e["code"] for e in first.errors] == ["site_unknown"]
    SiteFactory(registration_number="KHT-NEU")
    second = datasheet_upload(content=content, filename="a.xlsx", acting_user=office)
    second.refresh_from_db()
    assert second.pk != first.pk and not second.duplicate
    assert second.status == "evaluated", second.errors
    # A failure in the file itself stays deduplicated.
    bad = edit_workbook(content, {("Kennzahlen", layout.indicator_cell("12", IND_NUMERATOR)): "x"})
    one = datasheet_upload(content=bad, filename="b.xlsx", acting_user=office)
    two = datasheet_upload(content=bad, filename="b.xlsx", acting_user=office)
    assert two.pk == one.pk and two.duplicate
