"""Pages of issue 8 in headless Chromium, looked at and checked with axe-core: the
revision page while processing is retried and while it is delayed (broker down), the
login page of a locked-out user and the office's lock-out list. Screenshots go to
``test-artifacts/browser/``."""

from __future__ import annotations

import pytest
from django.utils import timezone

from datasheets.choices import RevisionStatus
from tests.conftest import BROWSER_ARTIFACTS as ARTIFACTS
from tests.factories import DatasheetRevisionFactory

pytestmark = pytest.mark.browser
PASSWORD = "pw-test-12345"


def _login(page, server, user, password=PASSWORD) -> None:
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")


def _axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in results.response["violations"]]


@pytest.mark.parametrize("width", [1366, 390])
def test_revision_page_says_retried_and_delayed_readably(
    browser_page, site_server, catalogue, site_a, coordinator, width
):
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    retried = DatasheetRevisionFactory(
        site=site_a, status=RevisionStatus.PENDING, attempts=2, queued_at=timezone.now(), uploaded_by=coordinator
    )
    delayed = DatasheetRevisionFactory(site=site_a, status=RevisionStatus.PENDING, queued_at=None, sha256="1" * 64)
    _login(page, site_server, coordinator)
    page.wait_for_url(lambda u: "/login/" not in u)

    page.goto(f"{site_server.url}/datasheets/{retried.pk}/")
    banner = page.locator("[data-code=processing_retried]")
    assert banner.inner_text() == "Verarbeitung abgebrochen, wird erneut versucht (Versuch 2 von 3)."
    assert banner.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
    page.screenshot(path=str(ARTIFACTS / f"issue8-revision-retried-{width}.png"), full_page=True)
    assert _axe_violations(page) == []

    page.goto(f"{site_server.url}/datasheets/{delayed.pk}/")
    assert page.locator("[data-code=processing_delayed]").inner_text().startswith("Empfangen und gespeichert")
    page.screenshot(path=str(ARTIFACTS / f"issue8-revision-delayed-{width}.png"), full_page=True)
    assert _axe_violations(page) == []
    assert page.console_errors == []


def test_locked_out_login_and_the_office_unlock_page(browser_page, site_server, catalogue, site_a, coordinator, office):
    page = browser_page
    for _ in range(5):
        _login(page, site_server, coordinator, password="wrong-password")
    _login(page, site_server, coordinator)  # the right one, too late
    assert "/login/" in page.url
    message = page.locator("main").inner_text()
    assert "gesperrt" in message
    page.screenshot(path=str(ARTIFACTS / "issue8-login-locked.png"), full_page=True)
    assert _axe_violations(page) == []

    # The office signs in elsewhere (this address is locked too): its session cookie.
    page.context.clear_cookies()
    page.context.add_cookies([_session_cookie(office, site_server)])
    page.goto(f"{site_server.url}/login-lockouts/")
    table = page.locator("main table")
    assert table.get_attribute("data-lockouts") == "2"  # the user name and the address
    assert coordinator.username in table.inner_text()
    page.screenshot(path=str(ARTIFACTS / "issue8-lockouts.png"), full_page=True)
    assert _axe_violations(page) == []
    while page.locator("main table button[type=submit]").count():  # keyboard only: focus, Enter
        page.locator("main table button[type=submit]").first.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
    page.screenshot(path=str(ARTIFACTS / "issue8-lockouts-unlocked.png"), full_page=True)
    assert "Zurzeit ist keine Anmeldung gesperrt" in page.locator("main").inner_text()

    page.context.clear_cookies()
    _login(page, site_server, coordinator)
    page.wait_for_url(lambda u: "/login/" not in u)  # unlocked: the right password works again


def _session_cookie(user, server) -> dict:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": server.url,
    }
