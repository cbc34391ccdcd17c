"""Shared fixtures: the catalogue, two centres with a site each, and a user per role.

``site_a`` / ``site_b`` belong to different centres; ``coordinator`` and ``auditor`` are
bound to ``site_a`` only, so every scoping test can show the other centre's 404.
"""

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from centres.models import Audit, AuditKind, Role
from tests.factories import MembershipFactory, SiteFactory, UserFactory

os.environ.setdefault("QIPORTAL_ALLOW_INSECURE_KEY", "1")

# The mutation run (scripts/mutation.sh) runs each test many times: fewer, reproducible
# examples there; the normal suite keeps Hypothesis' defaults.
hypothesis_settings.register_profile("mutation", max_examples=12, derandomize=True, database=None, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def catalogue(db):
    from indicators.services import catalogue_load

    catalogue_load()


@pytest.fixture
def site_a(db):
    return SiteFactory(registration_number="KHT-A01", name="Uniklinikum Aachen", city="Aachen")


@pytest.fixture
def site_b(db):
    return SiteFactory(registration_number="KHT-B01", name="Klinikum Bremen", city="Bremen")


def _user(username, role, site):
    user = UserFactory(username=username)
    MembershipFactory(user=user, site=site, role=role)
    return user


@pytest.fixture
def coordinator(site_a):
    return _user("coord_a", Role.COORDINATOR, site_a)


@pytest.fixture
def coordinator_b(site_b):
    return _user("coord_b", Role.COORDINATOR, site_b)


AUDITED_YEARS = range(2019, 2027)  # indicator years of auditor_a's audits of site_a


@pytest.fixture
def auditor(site_a):
    """An auditor of site_a's audits for the indicator years 2019–2026 (scope comes from
    audits, issue 9)."""
    user = _user("auditor_a", Role.AUDITOR, site_a)
    for year in AUDITED_YEARS:
        audit = Audit.objects.create(site=site_a, audit_year=year + 1, kind=AuditKind.SURVEILLANCE)
        audit.auditors.add(user)
    return user


@pytest.fixture
def commission(db):
    return _user("commission", Role.COMMISSION, None)


@pytest.fixture
def office(db):
    return _user("office", Role.OFFICE, None)


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip when a service is missing locally; under CI=true fail instead (never skip
    silently in CI)."""
    if condition:
        return
    if _ci():
        pytest.fail(f"required for CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the default language (German): a request through
    LocaleMiddleware leaves its language active in the thread, which would otherwise
    leak into the next test (order-dependent failures in the mutation run)."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _celery_mode(request):
    """Unit tests run tasks eagerly after commit; ``integration`` tests use the
    configured broker and a real worker process."""
    from qiportal.celery import app

    eager = request.node.get_closest_marker("integration") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


def pytest_collection_modifyitems(config, items):
    """Inside a mutation run (pytest started by mutmut in ``mutants/``, where its
    ``mutmut-stats.json`` lies), run the fastest tests first: with ``-x`` a killed mutant
    then costs its cheapest failing test instead of whatever came first."""
    import json
    from pathlib import Path

    stats = Path("mutmut-stats.json")
    if not stats.exists():
        return
    durations = json.loads(stats.read_text(encoding="utf-8")).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))


# ------------------------------------------------------------------ browser tests
# Headless Debian chromium driven by Playwright (tests marked ``browser``); screenshots
# go to ``test-artifacts/browser/``.
BROWSER_ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def site_server(transactional_db):
    """A live server for this test only: stopped (and its database connections closed)
    before the test database is flushed or dropped."""
    from django.db import connections
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("localhost")
    yield server
    server.stop()  # the browser (which depends on this fixture) is closed by then
    for conn in connections.all():
        conn.close()


@pytest.fixture
def browser_page(site_server, monkeypatch):
    require(Path(CHROMIUM).exists(), "Debian chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        require(False, "playwright (pip install -r requirements-test.txt)")
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are
    # still synchronous and safe. monkeypatch restores the environment, also on failure.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    BROWSER_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="de-DE")
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.console_errors = errors
        try:
            yield page
        finally:
            # ORM calls made while Playwright's loop runs may open their own connection.
            from django.db import connections

            connections.close_all()
            browser.close()
