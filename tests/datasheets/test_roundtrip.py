"""Template -> fill -> import round trip for every catalogue version (issue 3)."""

import pytest

from centres.models import LogEntry
from datasheets.choices import RevisionStatus
from datasheets.layout import layout_for
from datasheets.models import BaseDataValue, DatasheetRevision, IndicatorValue
from datasheets.services import datasheet_template_build, datasheet_upload, revision_report
from indicators.models import CatalogueVersion, Deviation, Evaluation
from tests.datasheets.helpers import consistent_values

YEARS = {"C2.1": 2015, "KJ2022": 2022, "KJ2024": 2024}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("version_id", sorted(YEARS))
def test_filled_template_imports_and_evaluates(version_id, catalogue, site_a, coordinator):
    version = CatalogueVersion.objects.get(pk=version_id)
    layout = layout_for(version)
    values = consistent_values(layout)
    _name, content = datasheet_template_build(
        site=site_a, indicator_year=YEARS[version_id], acting_user=coordinator, values=values
    )
    revision = datasheet_upload(content=content, filename="ds.xlsx", acting_user=coordinator, expected_site=site_a)
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.EVALUATED, revision.errors
    assert revision.errors == []
    assert revision.catalogue_version_id == version_id
    assert revision.is_current
    report = revision_report(revision)
    assert [v["code"] for v in report["indicators"]] == [i.code for i in layout.indicators]
    primary = layout.primary_cases(values.base)
    by_code = {v["code"]: v for v in report["indicators"]}
    for ind in layout.indicators:
        entry = by_code[ind.code]
        if ind.numerator_source:
            assert entry["numerator"] == layout.derive(ind.numerator_source, values.base)
        else:
            assert entry["numerator"] == values.indicators[ind.code][0]
        if ind.denominator_source:
            assert entry["denominator"] == layout.derive(ind.denominator_source, values.base)
    first = layout.indicators[0]
    assert first.is_count and by_code[first.code]["numerator"] == primary
    assert BaseDataValue.objects.filter(revision=revision).count() == len(values.base)
    assert IndicatorValue.objects.filter(revision=revision).count() == len(layout.indicators)
    assert Evaluation.objects.filter(site=site_a, indicator_year=YEARS[version_id]).count() == len(layout.indicators)
    flagged = {(v["code"], f) for v in report["indicators"] for f in v["flags"]}
    assert set(Deviation.objects.values_list("code", "flag")) == flagged
    # Every flagged value carried a Begründung, so every deviation starts justified.
    assert set(Deviation.objects.values_list("state", flat=True)) <= {"justified"}
    actions = set(LogEntry.objects.values_list("action", flat=True))
    assert {"datasheets.revision.uploaded", "datasheets.revision.validated", "datasheets.revision.evaluated"} <= actions


@pytest.mark.django_db(transaction=True)
def test_running_tasks_twice_changes_nothing(catalogue, site_a, coordinator):
    from datasheets.services import revision_evaluate, revision_validate

    layout = layout_for(CatalogueVersion.objects.get(pk="KJ2022"))
    _n, content = datasheet_template_build(
        site=site_a, indicator_year=2022, values=consistent_values(layout, justify=False)
    )
    revision = datasheet_upload(content=content, filename="a.xlsx", acting_user=coordinator, expected_site=site_a)
    counts = (
        IndicatorValue.objects.count(),
        Deviation.objects.count(),
        Evaluation.objects.count(),
        LogEntry.objects.count(),
    )
    revision_validate(revision_id=revision.pk)
    revision_evaluate(revision_id=revision.pk)
    assert (
        IndicatorValue.objects.count(),
        Deviation.objects.count(),
        Evaluation.objects.count(),
        LogEntry.objects.count(),
    ) == counts
    assert DatasheetRevision.objects.get(pk=revision.pk).status == RevisionStatus.EVALUATED
