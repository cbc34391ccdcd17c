"""Headless-Chromium smoke test (issue 3): login -> download the template -> fill it ->
upload -> evaluated -> deviation list. Debian's chromium, driven by Playwright; a
screenshot of each step goes to ``test-artifacts/browser/``."""

import pytest

from datasheets.layout import IND_DENOMINATOR, IND_NUMERATOR, SHEET_INDICATORS, layout_for
from indicators.models import CatalogueVersion, Deviation
from tests.conftest import BROWSER_ARTIFACTS as ARTIFACTS
from tests.datasheets.helpers import consistent_values, edit_workbook, value_edits

pytestmark = pytest.mark.browser
LOW_LABEL = "Plausibilität unklar (zu niedrig)"  # SPEC §4 implausible_low, German UI


def table_rows(page, selector: str) -> list[list[str]]:
    """The body rows of the table at ``selector`` as lists of cell texts (non-breaking
    spaces as spaces)."""
    rows = page.eval_on_selector_all(
        f"{selector} tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))"
    )
    return [[cell.replace("\u00a0", " ") for cell in row] for row in rows]


def test_login_upload_and_deviation_list(browser_page, site_server, catalogue, site_a, coordinator, tmp_path):
    page = browser_page
    page.goto(f"{site_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", coordinator.username)
    page.fill("#id_password", "pw-test-12345")
    page.click("main button[type=submit]")
    page.wait_for_url(lambda u: "/login/" not in u)
    page.screenshot(path=str(ARTIFACTS / "1-home.png"), full_page=True)

    page.click(f"a[href='/sites/{site_a.pk}/']")
    page.wait_for_url(f"**/sites/{site_a.pk}/")
    page.select_option("select[name=indicator_year]", "2022")
    with page.expect_download() as download_info:
        page.click(f"form[action*='/datasheets/template/{site_a.pk}/'] button[type=submit]")
    template = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(template)
    assert template.name.endswith("_KJ2022.xlsx")

    layout = layout_for(CatalogueVersion.objects.get(pk="KJ2022"))
    edits = value_edits(layout, consistent_values(layout, justify=False))
    edits[(SHEET_INDICATORS, layout.indicator_cell("20", IND_NUMERATOR))] = 2
    edits[(SHEET_INDICATORS, layout.indicator_cell("20", IND_DENOMINATOR))] = 10
    filled = tmp_path / "filled.xlsx"
    filled.write_bytes(edit_workbook(template.read_bytes(), edits))

    page.set_input_files("input[type=file]", str(filled))
    page.screenshot(path=str(ARTIFACTS / "2-site-upload.png"), full_page=True)
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    page.wait_for_url("**/datasheets/*/")
    page.wait_for_selector("#revision-body table", timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "3-revision.png"), full_page=True)
    assert page.locator("#revision-body .badge--status-evaluated").count() == 1
    # KJ2022 KeZa 20: no target, plausible from 60 % (catalogue corridor lower 0.6);
    # 2 / 10 = 20,0 % lies below it: implausible_low only (SPEC §4).
    values = {row[0]: row for row in table_rows(page, "#revision-body table")}
    assert values["20"] == [
        "20",
        "Dauer der Strahlentherapie bei Larynxkarzinom",
        "2",
        "10",
        "20,0 %",
        "–",
        "≥ 60 %",
        LOW_LABEL,
        "–",
    ]
    row_20 = page.locator("#revision-body table tbody tr:has(td:first-child:text-is('20'))")
    assert row_20.locator(".badge").evaluate_all("bs => bs.map(b => b.className)") == ["badge badge--implausible_low"]

    deviation = Deviation.objects.get(site=site_a, indicator_year=2022, code="20", flag="implausible_low")
    assert deviation.state == "open"
    assert not Deviation.objects.filter(site=site_a, indicator_year=2022, code="20").exclude(pk=deviation.pk).exists()
    page.goto(f"{site_server.url}/indicators/deviations/?indicator_year=2022&code=20")
    page.wait_for_selector("table")
    page.screenshot(path=str(ARTIFACTS / "4-deviations.png"), full_page=True)
    # exactly one row: the filter keeps only KeZa 20 of 2022, which has one flag
    assert table_rows(page, "main table") == [
        [
            "KHT-A01 Uniklinikum Aachen",
            "2022",
            "20",
            "Dauer der Strahlentherapie bei Larynxkarzinom",
            LOW_LABEL,
            "offen",
            "–",  # Begründung
            "–",  # Grund
            "–",  # Frist
            "",  # Wiederholung: first year
            "2",
            "10",
            "20,0 %",
            "aktiv",
        ]
    ]
    assert page.locator("main table tbody .badge--implausible_low").count() == 1
    # the KeZa link keeps the queue's filter for next / previous (issue 9)
    link = page.locator(f"main table tbody a[href^='/indicators/deviations/{deviation.pk}/']")
    assert link.inner_text() == "20"
    assert "code=20" in link.get_attribute("href")
    assert page.console_errors == []
    from django.db import connections

    connections.close_all()  # this connection belongs to Playwright's context; don't leave it open
