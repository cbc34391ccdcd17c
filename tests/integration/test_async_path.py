"""The asynchronous path with the real services (issue 3): PostgreSQL, Redis and a
``celery worker`` subprocess. The web upload returns at once with a pending revision;
the worker validates and evaluates it; the deviation records appear."""

import io
import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from datasheets.layout import IND_DENOMINATOR, IND_NUMERATOR, layout_for
from datasheets.models import DatasheetRevision
from datasheets.services import datasheet_template_build
from indicators.models import CatalogueVersion, Deviation, Evaluation
from tests.datasheets.helpers import consistent_values, edit_workbook

pytestmark = pytest.mark.integration


def _poll(client, url, until, timeout=60):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        report = client.get(url).json()
        if not seen or seen[-1] != report["status"]:
            seen.append(report["status"])
        if report["status"] in until:
            return report, seen
        time.sleep(0.2)
    pytest.fail(f"revision still {seen[-1] if seen else '?'} after {timeout} s")


def test_web_upload_is_validated_and_evaluated_by_a_real_worker(
    celery_worker_process, catalogue, site_a, coordinator, client
):
    layout = layout_for(CatalogueVersion.objects.get(pk="KJ2022"))
    _name, content = datasheet_template_build(
        site=site_a, indicator_year=2022, values=consistent_values(layout, justify=False)
    )
    content = edit_workbook(
        content,
        {
            ("Kennzahlen", layout.indicator_cell("20", IND_NUMERATOR)): 3,
            ("Kennzahlen", layout.indicator_cell("20", IND_DENOMINATOR)): 10,
        },
    )
    client.force_login(coordinator)
    response = client.post(
        reverse("datasheets:upload"),
        {"site": site_a.pk, "file": SimpleUploadedFile("kht.xlsx", content)},
    )
    assert response.status_code == 302
    revision = DatasheetRevision.objects.get()
    assert response["Location"] == reverse("datasheets:revision_detail", args=[revision.pk])
    report, seen = _poll(client, reverse("datasheets:revision_report", args=[revision.pk]), {"evaluated", "failed"})
    assert report["status"] == "evaluated", report["errors"]
    assert seen[-1] == "evaluated"
    by_code = {v["code"]: v for v in report["indicators"]}
    assert by_code["20"]["numerator"] == 3 and by_code["20"]["denominator"] == 10
    assert by_code["20"]["flags"] == ["implausible_low"]
    expected = {(code, flag) for code, v in by_code.items() for flag in v["flags"]}
    assert set(Deviation.objects.filter(site=site_a, indicator_year=2022).values_list("code", "flag")) == expected
    assert (
        Deviation.objects.filter(site=site_a, code="20", flag="implausible_low", state="open", is_active=True).count()
        == 1
    )
    assert Evaluation.objects.filter(site=site_a, indicator_year=2022).count() == len(layout.indicators)
    # The worker really ran it (not this process).
    assert "revision_evaluate_task" in celery_worker_process.log_path.read_text()


def test_command_line_import_waits_for_the_worker(celery_worker_process, catalogue, site_a, tmp_path, capsys):
    layout = layout_for(CatalogueVersion.objects.get(pk="KJ2022"))
    _name, content = datasheet_template_build(site=site_a, indicator_year=2022, values=consistent_values(layout))
    path = tmp_path / "kht.xlsx"
    path.write_bytes(content)
    out = io.StringIO()
    call_command("import_datasheet", str(path), "--wait", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["status"] == "evaluated"
    assert report["site"] == site_a.registration_number
    assert len(report["indicators"]) == len(layout.indicators)
    assert "revision_validate_task" in celery_worker_process.log_path.read_text()
