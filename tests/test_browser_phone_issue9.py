"""Issue 9 (also-fix) in headless Chromium at 390 px (a phone) and 1366 px: the
revision page of a rejected upload, the deviation list with its filter form and the
national indicator page with its two charts. On each: no sideways scrolling of the page
(tables scroll inside their own container), every chart text rendered at least 11 px
high, axe-core without violations. Screenshots go to ``test-artifacts/browser/``."""

from __future__ import annotations

import pytest

from datasheets.choices import ErrorCode, RevisionStatus
from datasheets.messages import cell_error
from indicators.choices import DeviationState, Flag
from indicators.models import Deviation, Evaluation, IndicatorDefinition
from tests.conftest import BROWSER_ARTIFACTS as ARTIFACTS
from tests.factories import DatasheetRevisionFactory, SiteFactory
from tests.test_browser_pages_issue8 import _axe_violations, _session_cookie

pytestmark = pytest.mark.browser
WIDTHS = [390, 1366]
MIN_TEXT_PX = 11

# Per svg text: its font size as rendered (computed size in user units × the scale the
# svg is drawn at, from its screen transform: rendered width / viewBox width, or the
# height ratio where max-height limits it) and the height of its box on the screen.
SVG_TEXTS = """() => [...document.querySelectorAll('svg text')].map(t => {
  const scale = t.getScreenCTM().a;  // user units -> CSS px, as drawn
  return {text: t.textContent, rendered: parseFloat(getComputedStyle(t).fontSize) * scale,
          height: t.getBoundingClientRect().height};
})"""


def _open(page, server, user, path: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.context.clear_cookies()
    page.context.add_cookies([_session_cookie(user, server)])
    page.goto(f"{server.url}{path}")


def _check_page(page, width: int, name: str) -> None:
    """No sideways page scroll, legible chart text, axe-core clean; a screenshot."""
    page.screenshot(path=str(ARTIFACTS / f"issue9-{name}-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
    small = [t for t in page.evaluate(SVG_TEXTS) if t["rendered"] < MIN_TEXT_PX or t["height"] < MIN_TEXT_PX]
    assert small == []
    assert _axe_violations(page) == []
    assert page.console_errors == []


def _table_scroll(page) -> list[dict]:
    """Per table container: does it scroll sideways, is its table wider than it, and
    does it show an edge shadow (the background gradients of the issue-9 CSS block;
    a scrollbar is no hint on phones, where scrollbars overlay and fade)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.table-container')].map(el => {
            const style = getComputedStyle(el);
            return {scrolls: ['auto', 'scroll'].includes(style.overflowX),
                    wider: el.scrollWidth > el.clientWidth,
                    shadow: style.backgroundImage.includes('radial-gradient')};
        })"""
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_rejected_upload_page_on_a_phone_and_a_desktop(
    browser_page, site_server, catalogue, site_a, coordinator, width
):
    errors = [
        cell_error("Kennzahlen", "C10", ErrorCode.NUMERATOR_GT_DENOMINATOR, code="5", numerator=1234, denominator=20),
        cell_error("Basisdaten", "I14", ErrorCode.TOTAL_MISMATCH, value="12345", expected=12346),
        cell_error("Basisdaten", "B19", ErrorCode.REQUIRED),
        cell_error("Deckblatt", "B10", ErrorCode.NEGATIVE, value=-2022),
    ]
    revision = DatasheetRevisionFactory(
        site=site_a,
        catalogue_version_id="KJ2022",
        indicator_year=2022,
        status=RevisionStatus.FAILED,
        errors=[e.as_dict() for e in errors],
        uploaded_by=coordinator,
        original_name="Datenblatt_KHT_mit_einem_sehr_langen_Dateinamen_ohne_Leerzeichen_2022.xlsx",
    )
    page = browser_page
    _open(page, site_server, coordinator, f"/datasheets/{revision.pk}/", width)
    subjects = page.locator(".problems--error .problems__subject").all_inner_texts()
    assert subjects == [
        "KeZa 5 · Zähler",
        "Primärfälle gesamt",
        "Weitere Angaben · Patienten mit neuaufgetretenem Rezidiv und/oder Fernmetastasen",
        "Kennzahlenjahr",
    ]
    first = page.locator(".problems--error li").first.inner_text()
    assert (
        first
        == "Kennzahlen!C10 · KeZa 5 · Zähler: [numerator_gt_denominator] KeZa 5: Zähler 1.234 ist größer als Nenner 20."
    )
    assert page.locator("[data-action=upload-corrected]").is_visible()
    _check_page(page, width, "revision-failed")


def _deviations(site, n: int) -> None:
    definitions = list(IndicatorDefinition.objects.filter(version_id="KJ2024").order_by("position"))[:n]
    for i, d in enumerate(definitions):
        Deviation.objects.create(
            site=site,
            indicator_year=2024,
            code=d.code,
            definition=d,
            flag=Flag.TARGET_NOT_MET,
            numerator=10 + i,
            denominator=None if d.is_count else 1200,
            state=DeviationState.JUSTIFIED if i % 2 else DeviationState.OPEN,
            justification="Begründung: Patientinnen und Patienten lehnten die Vorstellung ab." if i % 2 else "",
        )


@pytest.mark.parametrize("width", WIDTHS)
def test_deviation_list_with_its_filter_form(browser_page, site_server, catalogue, site_a, auditor, width):
    _deviations(site_a, 8)
    page = browser_page
    _open(page, site_server, auditor, "/indicators/deviations/", width)
    assert page.locator("main table tbody tr").count() == 8
    form = page.locator("form.filter-form")
    box = form.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width  # the filter form fits
    tables = _table_scroll(page)
    assert tables and all(t["scrolls"] and t["shadow"] for t in tables)
    if width == 390:
        assert all(t["wider"] for t in tables)  # on a phone the table scrolls inside its container
    _check_page(page, width, "deviation-list")


def _national(n_sites: int, year: int) -> None:
    definitions = list(IndicatorDefinition.objects.filter(version__years__year=year))
    rows = []
    for i, site in enumerate(SiteFactory.create_batch(n_sites)):
        for d in definitions:
            rows.append(
                Evaluation(
                    site=site,
                    indicator_year=year,
                    definition=d,
                    numerator=800 + 37 * i if d.is_count else 12 + (i % 9),
                    denominator=None if d.is_count else 20,
                )
            )
    Evaluation.objects.bulk_create(rows)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("code", ["2a", "1a"])  # a rate with a target and a count
def test_national_indicator_charts_stay_legible(browser_page, site_server, catalogue, commission, width, code):
    for year, n in ((2021, 12), (2022, 20), (2023, 25), (2024, 30)):
        _national(n, year)
    page = browser_page
    _open(page, site_server, commission, f"/indicators/national/2024/{code}/", width)
    assert page.locator("svg.chart__svg").count() == 2
    assert len(page.evaluate(SVG_TEXTS)) > 10
    _check_page(page, width, f"national-{code}")
