"""datasheets/services.py behaviour that the mutation run (issue 7) found untested.

- The template's file name keeps only ``[A-Za-z0-9_-]`` of the Reg.-Nr. (it goes into
  a Content-Disposition header), everything else becomes ``_``.
- The Deckblatt leaves unknown values empty and falls back to the country when a site
  has no federal state.
- ``revision_wait`` (the command line's poll) returns on the awaited status, on a
  terminal one and on a revision awaiting confirmation; otherwise it polls every
  ``interval`` seconds and raises TimeoutError once ``timeout`` has passed. A fake
  clock replaces ``time`` so that no test sleeps.
- Upload and validation write the fields and log entries (actor, action, data) that the
  revision history shows; a checksum or parse-limit failure is one located
  ``unsafe_content`` error naming its cause and the time spent.

Plain ``django_db``: on-commit tasks do not run, so validation is called by hand.
"""

import hashlib

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from centres.models import LogEntry
from datasheets import limits, services
from datasheets.choices import RevisionStatus
from datasheets.layout import IND_JUSTIFICATION, IND_NUMERATOR, layout_for
from datasheets.limits import ParseLimitExceeded
from datasheets.models import BaseDataValue, DatasheetRevision, IndicatorValue
from datasheets.services import (
    datasheet_template_build,
    datasheet_upload,
    revision_abort,
    revision_confirm,
    revision_discard,
    revision_evaluate,
    revision_validate,
    revision_wait,
    site_cover,
)
from indicators.models import CatalogueVersion, Deviation
from tests.datasheets.helpers import consistent_values, edit_workbook
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------- template, Deckblatt


def test_template_filename_replaces_every_character_outside_letters_digits_dash_underscore(catalogue):
    site = SiteFactory(registration_number='KHT/12 "A"_b-3')
    name, _content = datasheet_template_build(site=site, indicator_year=2022)
    # K H T kept, "/" -> _, 1 2 kept, " " -> _, '"' -> _, A kept, '"' -> _, "_" b "-" 3 kept
    assert name == "Datenblatt_KHT_KHT_12__A__b-3_KJ2022.xlsx"


def test_site_cover_leaves_unknown_values_empty_and_falls_back_to_the_country(catalogue):
    site = SiteFactory(
        registration_number="KHT-W01",
        name="AKH Wien",
        city="Wien",
        state="",
        country="AT",
        initial_certification=None,
        contact_name="Dr. Huber",
        contact_email="huber@example.org",
        documentation_system="GTDS",
    )
    cover = site_cover(site, 2024, CatalogueVersion.objects.get(pk="KJ2024"))
    assert cover == {
        "registration_number": "KHT-W01",
        "centre": site.centre.name,
        "site": "AKH Wien, Wien",
        "contact": "Dr. Huber",
        "email": "huber@example.org",
        "created": timezone.localdate().isoformat(),
        "initial_certification": "",  # never certified: empty, not a placeholder
        "indicator_year": 2024,
        "audit_year": 2025,
        "state": "AT",  # no federal state: the country
        "documentation_system": "GTDS",
        "oncobox": "",  # the centre fills it in
        "catalogue_version": "KJ2024",
    }
    site.state = "Wien"
    assert site_cover(site, 2024, CatalogueVersion.objects.get(pk="KJ2024"))["state"] == "Wien"


# ------------------------------------------------------------------- revision_wait


class FakeClock:
    """Stands in for the ``time`` module of datasheets.services: ``sleep`` advances
    ``monotonic`` and records the interval; ``on_sleep`` runs after each sleep."""

    def __init__(self, on_sleep=None, max_sleeps: int = 10):
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep
        self.max_sleeps = max_sleeps

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert len(self.sleeps) < self.max_sleeps, "revision_wait kept polling"
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()


def _revision(site, status, *, confirmed: bool) -> DatasheetRevision:
    return DatasheetRevision.objects.create(
        file="datasheets/x.xlsx",
        original_name="x.xlsx",
        size=10,
        sha256="0" * 64,
        site=site,
        indicator_year=2022,
        status=status,
        confirmed_at=timezone.now() if confirmed else None,
    )


@pytest.mark.parametrize(
    ("status", "confirmed"),
    [
        (RevisionStatus.FAILED, True),
        (RevisionStatus.DISCARDED, False),
        (RevisionStatus.VALIDATED, False),  # awaits confirmation: the user must act
    ],
)
def test_wait_returns_at_once_on_a_revision_no_task_will_move(site_a, monkeypatch, status, confirmed):
    clock = FakeClock()
    monkeypatch.setattr(services, "time", clock)
    revision = _revision(site_a, status, confirmed=confirmed)
    result = revision_wait(revision_id=revision.pk, until=(RevisionStatus.EVALUATED,), timeout=5)
    assert (result.pk, result.status, clock.sleeps) == (revision.pk, status, [])


def test_wait_polls_every_fifth_of_a_second_until_the_awaited_status(site_a, monkeypatch):
    revision = _revision(site_a, RevisionStatus.VALIDATED, confirmed=True)  # evaluation queued

    def evaluated():
        DatasheetRevision.objects.filter(pk=revision.pk).update(status=RevisionStatus.EVALUATED)

    clock = FakeClock(on_sleep=evaluated)
    monkeypatch.setattr(services, "time", clock)
    result = revision_wait(revision_id=revision.pk, until=(RevisionStatus.EVALUATED,), timeout=5)
    assert (result.pk, result.status) == (revision.pk, RevisionStatus.EVALUATED)
    assert clock.sleeps == [0.2]  # default interval: one poll, then the status is there


def test_wait_raises_timeout_only_after_the_timeout_has_passed(site_a, monkeypatch):
    revision = _revision(site_a, RevisionStatus.PENDING, confirmed=False)
    clock = FakeClock()
    monkeypatch.setattr(services, "time", clock)
    with pytest.raises(TimeoutError) as info:
        revision_wait(revision_id=revision.pk, until=(RevisionStatus.VALIDATED,), timeout=1.0, interval=0.25)
    # deadline 1001.0; polls at 1000.0, .25, .5, .75 and 1001.0 (not past it yet) sleep;
    # the poll at 1001.25 is past the deadline and raises
    assert clock.sleeps == [0.25] * 5
    assert str(info.value) == f"revision {revision.pk} still pending after 1 s"


# ------------------------------------------------------------------- upload and validation


@pytest.fixture
def layout(catalogue):
    return layout_for(CatalogueVersion.objects.get(pk="KJ2022"))


@pytest.fixture
def sheet(layout, site_a) -> bytes:
    """A complete KJ2022 Datenblatt of site_a; every flagged value justified."""
    return datasheet_template_build(site=site_a, indicator_year=2022, values=consistent_values(layout))[1]


def _stored(site, user, status, *, confirmed: bool = False, **fields) -> DatasheetRevision:
    """A revision row as the services leave it, without a file to parse."""
    fields = {
        "indicator_year": 2022,
        "confirmed_at": timezone.now() if confirmed else None,
        "sha256": "0" * 64,
        "expected_site": site,
        **fields,
    }
    return DatasheetRevision.objects.create(
        uploaded_by=user,
        file="datasheets/x.xlsx",
        original_name="x.xlsx",
        size=10,
        site=site,
        catalogue_version_id="KJ2022",
        status=status,
        **fields,
    )


def _log(revision, action) -> tuple:
    entry = LogEntry.objects.get(object_id=revision.pk, action=action)
    return entry.actor, entry.data


def test_web_upload_is_a_pending_unconfirmed_revision_logged_with_its_checksum(
    sheet, site_a, coordinator, settings, django_capture_on_commit_callbacks
):
    settings.DATASHEET_MAX_BYTES = len(sheet)  # exactly at the limit: allowed
    name = "a" * 100 + "b" * 200 + ".xlsx"  # 305 characters; the last 255 are kept
    with django_capture_on_commit_callbacks() as queued:
        revision = datasheet_upload(content=sheet, filename=name, acting_user=coordinator, expected_site=site_a)
    assert revision.duplicate is False
    sha256 = hashlib.sha256(sheet).hexdigest()
    revision = DatasheetRevision.objects.get(pk=revision.pk)
    assert (revision.status, revision.source, revision.size, revision.sha256) == ("pending", "web", len(sheet), sha256)
    assert revision.original_name == "a" * 50 + "b" * 200 + ".xlsx"
    assert (revision.uploaded_by, revision.expected_site, revision.site) == (coordinator, site_a, site_a)
    assert (revision.confirmed_at, revision.confirmed_by) == (None, None)  # web: preview first
    assert revision.file.name == f"datasheets/{sha256[:2]}/{sha256}.xlsx"
    assert _log(revision, "datasheets.revision.uploaded") == (
        coordinator,
        {"sha256": sha256, "size": len(sheet), "source": "web"},
    )
    assert len(queued) == 1  # the validation task, for this revision (eager here):
    queued[0]()
    validated = DatasheetRevision.objects.get(pk=revision.pk)  # the file at the limit read whole: checksum fine
    assert validated.status == RevisionStatus.VALIDATED, validated.errors


def test_command_line_upload_without_user_is_confirmed_at_once_by_nobody(sheet, site_a):
    revision = datasheet_upload(content=sheet, filename="", source="cli")
    revision = DatasheetRevision.objects.get(pk=revision.pk)
    assert revision.original_name == "datenblatt.xlsx"
    assert (revision.source, revision.uploaded_by, revision.expected_site, revision.site) == ("cli", None, None, None)
    assert revision.confirmed_at is not None and revision.confirmed_by is None
    assert _log(revision, "datasheets.revision.uploaded")[0] is None
    revision = revision_validate(revision_id=revision.pk)
    assert (revision.status, revision.site) == ("validated", site_a)  # the site named on the Deckblatt


def test_web_upload_with_auto_confirm_is_confirmed_by_the_uploader(sheet, site_a, coordinator):
    revision = datasheet_upload(
        content=sheet, filename="a.xlsx", acting_user=coordinator, expected_site=site_a, auto_confirm=True
    )
    revision = DatasheetRevision.objects.get(pk=revision.pk)
    assert revision.confirmed_at is not None and revision.confirmed_by == coordinator
    assert _log(revision, "datasheets.revision.uploaded")[1]["source"] == "web"


def test_same_bytes_look_up_the_five_newest_earlier_uploads(catalogue, site_a):
    """The duplicate look-up is bounded: an earlier revision behind five newer uploads
    that failed outside the file (which do not count) is not found, and the bytes are
    checked again as a new revision."""
    content = b"the same bytes"
    sha256 = hashlib.sha256(content).hexdigest()
    earlier = _stored(site_a, None, RevisionStatus.EVALUATED, sha256=sha256, expected_site=None, is_current=True)
    site_unknown = [{"sheet": "Deckblatt", "cell": "B3", "code": "site_unknown"}]

    def failed_retry():
        _stored(site_a, None, RevisionStatus.FAILED, sha256=sha256, expected_site=None, errors=site_unknown)

    for _ in range(4):
        failed_retry()
    again = datasheet_upload(content=content, filename="a.xlsx", source="cli")
    assert (again.pk, again.duplicate) == (earlier.pk, True)  # fifth newest: found

    failed_retry()
    new = datasheet_upload(content=content, filename="a.xlsx", source="cli")
    assert new.pk != earlier.pk and new.duplicate is False  # sixth newest: not looked at
    assert DatasheetRevision.objects.filter(sha256=sha256).count() == 7


def test_validation_writes_values_and_logs_layout_and_warning_count(
    layout, sheet, site_a, coordinator, django_capture_on_commit_callbacks
):
    # KeZa 20 (corridor >= 60 %) at 5/20 = 25 %: implausible_low, and its Begründung left
    # empty: one justification_missing warning; every other value as the helper made it.
    reason_cell = layout.indicator_cell("20", IND_JUSTIFICATION)
    content = edit_workbook(
        sheet,
        {("Kennzahlen", layout.indicator_cell("20", IND_NUMERATOR)): 5, ("Kennzahlen", reason_cell): None},
    )
    revision = datasheet_upload(content=content, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    with django_capture_on_commit_callbacks() as queued:
        revision_validate(revision_id=revision.pk)
    revision = DatasheetRevision.objects.get(pk=revision.pk)
    assert (revision.status, revision.errors) == ("validated", [])
    assert [(w["sheet"], w["cell"], w["code"]) for w in revision.warnings] == [
        ("Kennzahlen", reason_cell, "justification_missing")
    ]
    assert (revision.site, revision.indicator_year, revision.catalogue_version_id) == (site_a, 2022, "KJ2022")
    assert revision.cover["registration_number"] == "KHT-A01"
    # The first revision of site and year replaces nothing: confirmed without a preview.
    assert revision.validated_at is not None
    assert (revision.confirmed_at, revision.confirmed_by) == (revision.validated_at, coordinator)
    assert len(queued) == 1  # the evaluation task, for this revision:
    queued[0]()
    assert DatasheetRevision.objects.get(pk=revision.pk).status == "evaluated"
    base = dict(BaseDataValue.objects.filter(revision=revision).values_list("key", "value"))
    assert base == consistent_values(layout).base  # every Basisdaten cell as entered
    kz20 = IndicatorValue.objects.get(revision=revision, definition__code="20")
    assert (kz20.numerator, kz20.denominator, kz20.justification, kz20.flags) == (5, 20, "", ["implausible_low"])
    assert IndicatorValue.objects.filter(revision=revision).count() == len(layout.indicators)
    assert _log(revision, "datasheets.revision.validated") == (coordinator, {"layout": "KHT/KJ2022/1", "warnings": 1})


def test_failed_validation_logs_each_error_code_once_in_order(layout, sheet, site_a, coordinator):
    content = edit_workbook(
        sheet,
        {
            ("Kennzahlen", layout.indicator_cell("20", IND_NUMERATOR)): "zwanzig",
            ("Kennzahlen", layout.indicator_cell("12", IND_NUMERATOR)): "zwölf",
            ("Kennzahlen", layout.indicator_cell("13", IND_NUMERATOR)): -1,
        },
    )
    revision = datasheet_upload(content=content, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    revision_validate(revision_id=revision.pk)
    revision = DatasheetRevision.objects.get(pk=revision.pk)
    assert revision.status == "failed" and not revision.is_current and revision.validated_at is not None
    assert sorted(e["code"] for e in revision.errors) == ["negative", "not_integer", "not_integer"]
    assert not IndicatorValue.objects.filter(revision=revision).exists()
    assert _log(revision, "datasheets.revision.failed") == (coordinator, {"codes": ["negative", "not_integer"]})


def _unsafe(detail: str) -> dict:
    return {
        "sheet": "Datei",
        "cell": "A1",
        "code": "unsafe_content",
        "message_de": f"Die Datei enthält unzulässige Inhalte: {detail}.",
        "message_en": f"The file has unsafe content: {detail}.",
    }


def _errors(revision) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "message"} for e in revision.errors]


def test_a_stored_file_that_does_not_match_its_checksum_fails(sheet, site_a, coordinator):
    revision = datasheet_upload(content=sheet, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    DatasheetRevision.objects.filter(pk=revision.pk).update(sha256="0" * 64)  # file changed on disk
    revision_validate(revision_id=revision.pk)
    revision = DatasheetRevision.objects.get(pk=revision.pk)
    assert revision.status == "failed"
    assert _errors(revision) == [_unsafe("Prüfsumme / checksum")]
    assert _log(revision, "datasheets.revision.failed") == (coordinator, {"codes": ["unsafe_content"]})


def test_a_stored_file_is_read_no_further_than_one_byte_past_the_limit(sheet, site_a, coordinator, settings):
    revision = datasheet_upload(content=sheet, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    settings.DATASHEET_MAX_BYTES = len(sheet) - 2  # lowered while the revision was pending
    revision_validate(revision_id=revision.pk)
    revision = DatasheetRevision.objects.get(pk=revision.pk)
    # Read: limit + 1 = len - 1 bytes, not the whole file, so they do not match its checksum.
    assert _errors(revision) == [_unsafe("Prüfsumme / checksum")]


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (MemoryError(), "Speichergrenze / memory limit"),
        (ParseLimitExceeded("memory"), "Speichergrenze / memory limit"),
        (SoftTimeLimitExceeded(), "Zeitgrenze / time limit"),
        (RecursionError(), "Zeitgrenze / time limit"),
    ],
)
def test_a_parse_over_its_limits_fails_with_the_limit_and_the_seconds_spent(
    sheet, site_a, coordinator, monkeypatch, exc, reason
):
    revision = datasheet_upload(content=sheet, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    clock = FakeClock()

    def parse_that_gives_up(**kwargs):
        clock.now += 2.5  # seconds spent parsing
        raise exc

    monkeypatch.setattr(limits, "time", clock)
    monkeypatch.setattr(limits, "datasheet_check", parse_that_gives_up)
    revision_validate(revision_id=revision.pk)
    revision = DatasheetRevision.objects.get(pk=revision.pk)
    assert revision.status == "failed"
    assert _errors(revision) == [_unsafe(f"{reason} (2.5 s)")]


def test_every_caller_parses_under_the_parse_limits(sheet, site_a, coordinator, monkeypatch, settings):
    """Issue 8: eager callers (no broker, command line, demo) read the file in a child
    process under the memory cap and the wall-clock limit; the worker task parses in
    its own process under the memory cap (its soft time limit is Celery's)."""
    from contextlib import nullcontext

    from datasheets import isolation

    settings.QIPORTAL_PARSE_MEMORY_MB = 40
    settings.QIPORTAL_PARSE_TIME_LIMIT = 7.5
    calls: list[tuple] = []

    def recording_limits(*, memory_mb):
        calls.append(("in process", memory_mb))
        return nullcontext()

    def recording_child(content, *, time_limit, memory_mb):
        calls.append(("child", memory_mb, time_limit))
        return isolation.file_read(content)

    monkeypatch.setattr(limits, "parse_limits", recording_limits)
    monkeypatch.setattr(limits, "file_read_limited", recording_child)
    one = datasheet_upload(content=sheet, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    revision_validate(revision_id=one.pk)  # eager callers
    other = edit_workbook(sheet, {("Kennzahlen", "A1"): "Kennzahlen"})  # other bytes, same values
    two = datasheet_upload(content=other, filename="b.xlsx", acting_user=coordinator, expected_site=site_a)
    revision_validate(revision_id=two.pk, limited=True)  # the worker task
    assert calls == [("child", 40, 7.5), ("in process", 40)]
    assert {r.status for r in DatasheetRevision.objects.filter(pk__in=[one.pk, two.pk])} == {"validated"}


def test_validating_an_unknown_revision_returns_none():
    assert revision_validate(revision_id=987654) is None


# ------------------------------------------------------------------- after validation


def test_abort_fails_a_revision_awaiting_processing_without_blaming_the_file(catalogue, site_a, coordinator):
    pending = _stored(site_a, coordinator, RevisionStatus.PENDING, attempts=3)
    assert revision_abort(revision_id=pending.pk).status == "failed"
    pending.refresh_from_db()
    assert [(e["sheet"], e["cell"], e["code"]) for e in pending.errors] == [("Datei", "A1", "processing_aborted")]
    assert "nach 3 Versuchen" in pending.errors[0]["message_de"]
    assert "not the file" in pending.errors[0]["message_en"]
    assert _log(pending, "datasheets.revision.failed") == (coordinator, {"codes": ["processing_aborted"]})

    confirmed = _stored(site_a, coordinator, RevisionStatus.VALIDATED, confirmed=True, warnings=[{"code": "w"}])
    assert revision_abort(revision_id=confirmed.pk).status == "failed"  # its evaluation cannot finish
    confirmed.refresh_from_db()
    assert confirmed.warnings == [{"code": "w"}]  # kept for the record
    awaiting_user = _stored(site_a, coordinator, RevisionStatus.VALIDATED)  # awaits the user's confirmation
    assert revision_abort(revision_id=awaiting_user.pk).status == "validated"
    assert revision_abort(revision_id=987654) is None


def test_a_validation_over_the_hard_time_limit_blames_the_time_the_file_took(catalogue, site_a, coordinator):
    pending = _stored(site_a, coordinator, RevisionStatus.PENDING, attempts=1)
    revision_abort(revision_id=pending.pk, reason=services.AbortReason.TIME_LIMIT)
    pending.refresh_from_db()
    assert _errors(pending) == [_unsafe("Zeitgrenze / time limit")]
    # An evaluation has no file to blame: the same reason gives processing_aborted.
    confirmed = _stored(site_a, coordinator, RevisionStatus.VALIDATED, confirmed=True, attempts=1)
    revision_abort(revision_id=confirmed.pk, reason=services.AbortReason.TIME_LIMIT)
    confirmed.refresh_from_db()
    assert [e["code"] for e in confirmed.errors] == ["processing_aborted"]


def test_confirm_records_who_confirmed_and_queues_the_evaluation(
    catalogue, site_a, coordinator, django_capture_on_commit_callbacks
):
    revision = _stored(site_a, None, RevisionStatus.VALIDATED)  # e.g. uploaded by a colleague since gone
    with django_capture_on_commit_callbacks() as queued:
        revision_confirm(revision=revision, acting_user=coordinator)
    revision.refresh_from_db()
    assert revision.confirmed_at is not None and revision.confirmed_by == coordinator
    assert _log(revision, "datasheets.revision.confirmed") == (coordinator, {})
    assert len(queued) == 1


def test_discard_is_logged_with_the_user_who_discarded(catalogue, site_a, coordinator):
    revision = _stored(site_a, None, RevisionStatus.VALIDATED)
    revision_discard(revision=revision, acting_user=coordinator)
    revision.refresh_from_db()
    assert (revision.status, revision.confirmed_at) == ("discarded", None)
    assert _log(revision, "datasheets.revision.discarded") == (coordinator, {})


def test_evaluate_leaves_a_revision_awaiting_confirmation_alone(catalogue, site_a, coordinator):
    revision = _stored(site_a, coordinator, RevisionStatus.VALIDATED, confirmed=False)
    assert revision_evaluate(revision_id=revision.pk).status == "validated"
    revision.refresh_from_db()
    assert (revision.status, revision.is_current, revision.evaluated_at) == ("validated", False, None)
    assert not LogEntry.objects.filter(object_id=revision.pk).exists()
    assert revision_evaluate(revision_id=987654) is None


def test_evaluate_without_the_uploaders_right_names_the_registration_number(catalogue, site_a, coordinator_b):
    revision = _stored(site_a, coordinator_b, RevisionStatus.VALIDATED, confirmed=True)
    revision_evaluate(revision_id=revision.pk)
    revision.refresh_from_db()
    assert revision.status == "failed"
    assert _errors(revision) == [
        {
            "sheet": "Deckblatt",
            "cell": "B3",
            "code": "site_forbidden",
            "message_de": "Für die Reg.-Nr. „KHT-A01“ dürfen Sie hier kein Datenblatt einreichen.",
            "message_en": "You may not submit a data sheet for registration number 'KHT-A01' here.",
        }
    ]


def test_evaluate_replaces_the_current_revision_of_its_site_and_year_only(catalogue, site_a, site_b, coordinator):
    confirmed = timezone.now()
    # The current revision was confirmed at the same instant: the later evaluation wins.
    old = _stored(site_a, coordinator, RevisionStatus.EVALUATED, confirmed_at=confirmed, is_current=True)
    other_year = _stored(site_a, coordinator, RevisionStatus.EVALUATED, indicator_year=2023, is_current=True)
    other_site = _stored(site_b, None, RevisionStatus.EVALUATED, is_current=True)
    revision = _stored(site_a, coordinator, RevisionStatus.VALIDATED, confirmed_at=confirmed)
    kz20 = IndicatorValue.objects.create(
        revision=revision,
        definition=CatalogueVersion.objects.get(pk="KJ2022").definitions.get(code="20"),
        numerator=5,  # 5/20 = 25 % < corridor 60 %: implausible_low
        denominator=20,
    )

    with CaptureQueriesContext(connection) as queries:
        revision_evaluate(revision_id=revision.pk)
    # definitions come with their values in one join, not one query per value (N+1)
    assert not [q for q in queries.captured_queries if 'FROM "indicators_indicatordefinition"' in q["sql"]]
    revision.refresh_from_db()
    kz20.refresh_from_db()
    assert (revision.status, revision.is_current) == ("evaluated", True)
    assert revision.evaluated_at is not None
    assert (kz20.flags, kz20.evaluated) == (["implausible_low"], True)
    current = DatasheetRevision.objects.filter(is_current=True)
    assert set(current) == {revision, other_year, other_site} and old not in current
    deviation = Deviation.objects.get(site=site_a, indicator_year=2022, code="20")
    assert (deviation.flag, deviation.source_revision_id) == ("implausible_low", revision.pk)
    assert _log(deviation, "indicators.deviation.opened") == (
        coordinator,
        {"to": "open", "numerator": 5, "denominator": 20, "revision": revision.pk},
    )
    assert _log(revision, "datasheets.revision.evaluated") == (coordinator, {"flagged": 1, "current": True})
