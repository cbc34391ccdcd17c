"""Concurrent uploads for one site and year are serialised by a row lock: exactly one
current revision, no deviation duplicated or lost (issue 4). PostgreSQL, real worker."""

import threading
import time

import pytest
from django.db import connection

from datasheets.layout import IND_DENOMINATOR, IND_NUMERATOR, layout_for
from datasheets.models import DatasheetRevision
from datasheets.services import datasheet_template_build, datasheet_upload, revision_confirm
from indicators.models import CatalogueVersion, Deviation, Evaluation
from tests.datasheets.helpers import consistent_values, edit_workbook

pytestmark = pytest.mark.integration


def _in_parallel(fn, items) -> list[Exception]:
    """Run ``fn(item)`` for all items in threads at once; returns what they raised."""
    errors: list[Exception] = []

    def run(item):
        try:
            fn(item)
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_parallel_uploads_and_confirmations_leave_one_current_revision(
    celery_worker_factory, catalogue, site_a, coordinator
):
    celery_worker_factory()
    celery_worker_factory()  # two workers race for the tasks
    layout = layout_for(CatalogueVersion.objects.get(pk="KJ2022"))
    _n, base = datasheet_template_build(
        site=site_a, indicator_year=2022, values=consistent_values(layout, justify=False)
    )
    first = datasheet_upload(content=base, filename="0.xlsx", acting_user=coordinator, expected_site=site_a)
    deadline = time.monotonic() + 60
    while first.status != "evaluated" and time.monotonic() < deadline:
        time.sleep(0.2)
        first.refresh_from_db()
    assert first.status == "evaluated"

    contents = [
        edit_workbook(
            base,
            {
                ("Kennzahlen", layout.indicator_cell("20", IND_NUMERATOR)): n,
                ("Kennzahlen", layout.indicator_cell("20", IND_DENOMINATOR)): 20,
            },
        )
        for n in (1, 2, 3, 4, 5, 6)
    ]
    assert (
        _in_parallel(
            lambda content: datasheet_upload(
                content=content, filename="x.xlsx", acting_user=coordinator, expected_site=site_a
            ),
            contents,
        )
        == []
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and DatasheetRevision.objects.filter(status="pending").exists():
        time.sleep(0.2)
    waiting = list(DatasheetRevision.objects.filter(status="validated", confirmed_at__isnull=True).order_by("pk"))
    assert len(waiting) == 6

    assert _in_parallel(lambda revision: revision_confirm(revision=revision, acting_user=coordinator), waiting) == []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and DatasheetRevision.objects.exclude(status="evaluated").exists():
        time.sleep(0.2)
    assert not DatasheetRevision.objects.exclude(status="evaluated").exists()
    current = DatasheetRevision.objects.filter(site=site_a, indicator_year=2022, is_current=True)
    assert current.count() == 1
    last_confirmed = DatasheetRevision.objects.exclude(pk=first.pk).latest("confirmed_at")
    assert current.get() == last_confirmed
    winner_numerator = last_confirmed.indicator_values.get(definition__code="20").numerator
    assert Evaluation.objects.get(site=site_a, indicator_year=2022, definition__code="20").numerator == winner_numerator
    active = Deviation.objects.filter(site=site_a, indicator_year=2022, code="20", is_active=True)
    assert list(active.values_list("flag", "numerator")) == [("implausible_low", winner_numerator)]
    assert Deviation.objects.filter(site=site_a, indicator_year=2022, code="20").count() == 1
