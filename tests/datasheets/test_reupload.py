"""Deviation records across re-uploads (SPEC §4): lasting, never duplicated, closed with
history when a corrected file clears the flag, reopened when it comes back."""

import pytest

from centres.models import LogEntry
from datasheets.layout import IND_DENOMINATOR, IND_JUSTIFICATION, IND_NUMERATOR, layout_for
from datasheets.models import DatasheetRevision
from datasheets.services import datasheet_template_build, datasheet_upload, revision_confirm
from indicators.models import CatalogueVersion, Deviation, Evaluation
from indicators.services import deviation_decide
from tests.datasheets.helpers import consistent_values, edit_workbook


def _upload(site, user, layout, edits):
    _n, content = datasheet_template_build(
        site=site, indicator_year=2022, values=consistent_values(layout, justify=False)
    )
    revision = datasheet_upload(
        content=edit_workbook(content, edits), filename="ds.xlsx", acting_user=user, expected_site=site
    )
    revision.refresh_from_db()
    if revision.awaiting_confirmation:  # a replacement waits for the preview's confirmation
        revision_confirm(revision=revision, acting_user=user)
        revision.refresh_from_db()
    assert revision.status == "evaluated", revision.errors
    return revision


@pytest.mark.django_db(transaction=True)
def test_corrected_reupload_closes_and_keeps_review(catalogue, site_a, coordinator, auditor):
    layout = layout_for(CatalogueVersion.objects.get(pk="KJ2022"))
    num, den, just = (layout.indicator_cell("20", h) for h in (IND_NUMERATOR, IND_DENOMINATOR, IND_JUSTIFICATION))
    first = _upload(site_a, coordinator, layout, {("Kennzahlen", num): 5, ("Kennzahlen", den): 20})
    deviation = Deviation.objects.get(site=site_a, code="20", flag="implausible_low")
    assert deviation.is_active and deviation.state == "open"
    assert (deviation.numerator, deviation.denominator) == (5, 20)
    deviation_decide(deviation=deviation, decision="note", comment="Bitte beobachten", acting_user=auditor)
    n_before = Deviation.objects.count()

    # Same flag again with a justification: the record stays, nothing duplicated, review kept.
    second = _upload(
        site_a,
        coordinator,
        layout,
        {("Kennzahlen", num): 6, ("Kennzahlen", den): 20, ("Kennzahlen", just): "Personalwechsel"},
    )
    assert Deviation.objects.count() == n_before
    deviation.refresh_from_db()
    assert deviation.is_active and deviation.state == "note" and deviation.numerator == 6
    assert deviation.source_revision_id == second.pk

    # Corrected: the flag disappears -> record closed, history kept, review kept.
    third = _upload(site_a, coordinator, layout, {("Kennzahlen", num): 15, ("Kennzahlen", den): 20})
    deviation.refresh_from_db()
    assert not deviation.is_active and deviation.closed_at is not None and deviation.state == "note"
    assert Deviation.objects.count() == n_before
    assert list(DatasheetRevision.objects.filter(site=site_a, is_current=True)) == [third]
    assert not DatasheetRevision.objects.get(pk=first.pk).is_current
    evaluation = Evaluation.objects.get(site=site_a, indicator_year=2022, definition__code="20")
    assert (evaluation.numerator, evaluation.denominator, evaluation.flags) == (15, 20, [])

    # The flag comes back: the same record reopens.
    _upload(site_a, coordinator, layout, {("Kennzahlen", num): 1, ("Kennzahlen", den): 20})
    deviation.refresh_from_db()
    assert deviation.is_active and deviation.closed_at is None
    actions = list(
        LogEntry.objects.filter(object_id=deviation.pk, content_type__model="deviation").values_list(
            "action", flat=True
        )
    )
    assert actions == [
        "indicators.deviation.opened",
        "indicators.deviation.note",
        "indicators.deviation.closed",
        "indicators.deviation.reopened",
    ]
