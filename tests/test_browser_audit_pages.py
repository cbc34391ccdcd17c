"""The audit pages of issue 9 in headless Chromium at 1366 and 390 px, checked with
axe-core: the audit list (office), the office's assignment page, the dossier
(auditor). Nothing scrolls sideways except inside a table container. Screenshots go
to ``test-artifacts/browser/``."""

from __future__ import annotations

import pytest

from centres.models import Audit
from tests.conftest import BROWSER_ARTIFACTS as ARTIFACTS
from tests.test_browser_pages_issue8 import _axe_violations, _login

pytestmark = pytest.mark.browser


def _page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("width", [1366, 390])
def test_audit_list_assignment_and_dossier(browser_page, site_server, catalogue, site_a, auditor, office, width):
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    audit = Audit.objects.get(site=site_a, audit_year=2025)
    pages = [
        (office, "/audits/", "audits"),
        (office, f"/audits/{audit.pk}/assign/", "audit-assign"),
        (auditor, f"/audits/{audit.pk}/dossier/", "audit-dossier"),
    ]
    for user, path, name in pages:
        page.context.clear_cookies()
        _login(page, site_server, user)
        page.goto(f"{site_server.url}{path}")
        assert page.locator("h1").count() == 1, path
        page.screenshot(path=str(ARTIFACTS / f"issue9-{name}-{width}.png"), full_page=True)
        assert _page_width(page) <= width, (path, _page_width(page))
        assert _axe_violations(page) == [], path
    # the assignment form works by keyboard: tab to the first checkbox, tick it with space
    page.context.clear_cookies()
    _login(page, site_server, office)
    page.goto(f"{site_server.url}/audits/{audit.pk}/assign/")
    page.focus("input[name=auditors]")
    page.keyboard.press("Space")
    assert page.is_checked("input[name=auditors]") is False  # auditor_a was ticked: now off
