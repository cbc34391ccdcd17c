"""Issue 9 in headless Chromium: the review of one deviation through the real UI, and
axe-core on every page the flow and the roles open, at 1366 px and 390 px.

The flow (real clicks and typing; services only in the setup): the coordinator
justifies KJ2022 KeZa 5 with a reason code; the auditor of the site's 2023 audit finds
it in the queue (filtered by site), decides "Abweichung" (corrective action and due date
appear only then), the coordinator answers with a statement and a PDF, the auditor sees
the answer and the evidence link and marks it resolved. After each step the page shows
the new state; at the end the record (state, evidence row, log from → to) is checked.

Every page opened is checked at both widths: axe-core without violations and, at
390 px, no sideways scrolling of the page. Problems are collected per page and reported
together. One server and one browser for the module's single test; each role logs in
once through the login form, in its own browser context. Screenshots:
``test-artifacts/browser/issue9-flow-*.png``.
"""

from __future__ import annotations

import datetime as dt

import pytest

from centres.models import Audit, AuditKind, Role
from centres.selectors import log_entry_list
from centres.services import audit_auditors_set
from indicators.choices import DeviationState
from indicators.models import Evaluation, Evidence, IndicatorDefinition
from indicators.services import deviation_sync
from tests.conftest import BROWSER_ARTIFACTS as ARTIFACTS
from tests.factories import MembershipFactory, UserFactory
from tests.indicators.evidence_samples import pdf_bytes
from tests.test_browser_pages_issue8 import PASSWORD

pytestmark = pytest.mark.browser
WIDTHS = (1366, 390)
YEAR = 2022  # Kennzahlenjahr; the audit of 2023 decides it
DUE = dt.date(2030, 6, 30)
JUSTIFICATION = "Die Studie zur Nachsorge endete 2021; die Folgestudie rekrutiert erst seit 2023."
CORRECTIVE = "Teilnahme an einer offenen Studie beschließen und die Studienquote halbjährlich berichten."
STATEMENT = "Beschluss des Qualitätszirkels liegt bei; die Quote wird seit Juli halbjährlich berichtet."


class Sweep:
    """Checks of each page at both widths, collected: axe-core violations, and at
    390 px whether the page scrolls sideways. A screenshot per page and width."""

    def __init__(self) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.problems: list[str] = []
        self.checked: list[str] = []

    def check(self, page, name: str) -> None:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            where = f"{name} @{width}px ({page.url.split('//', 1)[1].split('/', 1)[1]})"
            self.checked.append(where)
            page.screenshot(path=str(ARTIFACTS / f"issue9-flow-{name}-{width}.png"), full_page=True)
            for v in self.axe.run(page).response["violations"]:
                targets = ", ".join(str(n["target"]) for n in v["nodes"][:3])
                self.problems.append(f"{where}: axe {v['id']} ({v['impact']}): {v['help']} at {targets}")
            if width < 1000:
                scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                if scroll > inner + 1:
                    self.problems.append(f"{where}: page scrolls sideways ({scroll} px > {inner} px)")
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})

    def report(self) -> str:
        return f"{len(self.problems)} problem(s) on {len(self.checked)} page views:\n" + "\n".join(self.problems)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _user(username: str, role: str, site=None, **names):
    user = UserFactory(username=username, **names)
    MembershipFactory(user=user, site=site, role=role)
    return user


def _setup(catalogue, site_a, site_b, office):
    """Two sites, each with an open deviation of KJ2022 KeZa 5, study patients (1/40 and
    3/30, below the target of at least 5 %) and the site's values of that indicator in 2021 and 2022; one auditor
    assigned by the office to both sites' 2023 audits (indicator year 2022)."""
    coordinator = _user("koord_aachen", Role.COORDINATOR, site_a, first_name="Klara", last_name="Koordinatorin")
    auditor = _user("fachexperte", Role.AUDITOR, None, first_name="Fritz", last_name="Fachexperte")
    commission = _user("kommission", Role.COMMISSION)
    definition = IndicatorDefinition.objects.get(version_id="KJ2022", code="5")
    deviations = {}
    for site, numerator, denominator in ((site_a, 1, 40), (site_b, 3, 30)):
        audit = Audit.objects.create(site=site, audit_year=YEAR + 1, kind=AuditKind.SURVEILLANCE)
        audit_auditors_set(audit=audit, auditors=[auditor], acting_user=office)
        for year, num, flags in ((YEAR - 1, numerator + 20, []), (YEAR, numerator, ["target_not_met"])):
            Evaluation.objects.create(
                site=site,
                indicator_year=year,
                definition=definition,
                numerator=num,
                denominator=denominator,
                flags=flags,
            )
        (deviations[site.pk],) = deviation_sync(
            site=site,
            indicator_year=YEAR,
            definition=definition,
            flags=["target_not_met"],
            numerator=numerator,
            denominator=denominator,
        )
    return coordinator, auditor, commission, deviations[site_a.pk]


def _login(browser, server, user):
    """A browser context of its own for ``user``, logged in through the login form."""
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900}, locale="de-DE", accept_downloads=True)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda u: "/login/" not in u)
    return page


def _message(page) -> str:
    return page.locator("main .messages").inner_text().strip()


def _state(page) -> str:
    return page.locator("main p.badges .badge[class*=badge--state-]").inner_text().strip()


def _facts(page, section: str) -> dict[str, str]:
    """The <dt>/<dd> pairs of the deviation page's ``section`` card (value / review)."""
    return page.evaluate(
        """(id) => { const out = {};
            document.querySelectorAll(`section[aria-labelledby=${id}] dl.facts > dt`).forEach(dt => {
              out[dt.innerText.trim()] = dt.nextElementSibling.innerText.trim(); });
            return out; }""",
        f"{section}-heading",
    )


def test_review_flow_through_the_ui_axe_clean_at_both_widths(
    browser_page, site_server, catalogue, site_a, site_b, office, media, tmp_path
):
    coordinator, auditor, commission, deviation = _setup(catalogue, site_a, site_b, office)
    detail = f"/indicators/deviations/{deviation.pk}/"
    browser = browser_page.context.browser
    sweep = Sweep()
    url = site_server.url

    # --- 1. the coordinator justifies, with a reason code --------------------------
    coord = _login(browser, site_server, coordinator)
    sweep.check(coord, "coordinator-home")
    coord.goto(f"{url}/indicators/deviations/")
    sweep.check(coord, "coordinator-deviation-list")
    coord.click(f"main table a[href='{detail}']")
    coord.wait_for_url(f"**{detail}")
    assert _state(coord) == "offen"
    sweep.check(coord, "1-coordinator-open")
    coord.fill("#justify_text", JUSTIFICATION)
    coord.select_option("#justify_reason_code", "small_numbers")
    coord.click("form[action*='/justify/'] button[type=submit]")
    coord.wait_for_load_state()
    assert _message(coord) == "Die Begründung wurde gespeichert."
    assert _state(coord) == "begründet"
    review = _facts(coord, "review")
    assert review["Begründung"].startswith(JUSTIFICATION)
    assert review["Grund"] == "kleine Fallzahlen"
    sweep.check(coord, "1-coordinator-justified")

    # --- 2. the auditor finds it in the queue and issues an Abweichung ------------
    aud = _login(browser, site_server, auditor)
    sweep.check(aud, "auditor-home")
    aud.goto(f"{url}/indicators/deviations/")
    assert aud.locator("main table tbody tr").count() == 2  # both sites' KeZa 5
    aud.select_option("#id_site", str(site_a.pk))
    aud.click("form.filter-form button[type=submit]")
    aud.wait_for_url(f"**site={site_a.pk}**")
    rows = aud.locator("main table tbody tr")
    assert rows.count() == 1
    assert "KHT-A01" in rows.first.inner_text()
    sweep.check(aud, "2-auditor-queue-filtered")
    rows.first.locator(f"a[href^='{detail}']").click()
    aud.wait_for_url(f"**{detail}**")
    assert _state(aud) == "begründet"
    corrective, due = aud.locator("#decide_corrective_action"), aud.locator("#decide_due_date")
    assert not corrective.is_visible() and not due.is_visible()  # only for an Abweichung
    aud.check("input[name=decision][value=accepted]")
    assert not corrective.is_visible() and not due.is_visible()
    sweep.check(aud, "2-auditor-justified")
    aud.check("input[name=decision][value=nonconformity]")
    assert corrective.is_visible() and due.is_visible()
    corrective.fill(CORRECTIVE)
    due.fill(DUE.isoformat())
    aud.fill("#decide_comment", "Quote deutlich unter der Sollvorgabe.")
    aud.click("form[data-decision-form] button[type=submit]")
    aud.wait_for_load_state()
    assert _message(aud) == "Die Entscheidung wurde gespeichert."
    assert _state(aud) == "Abweichung"
    review = _facts(aud, "review")
    assert review["Korrekturmaßnahme"] == CORRECTIVE
    assert review["Frist"].startswith("30.06.2030")
    sweep.check(aud, "2-auditor-nonconformity")

    # --- 3. the coordinator answers with a statement and a PDF --------------------
    evidence_file = tmp_path / "Protokolle_Tumorboard.pdf"
    evidence_file.write_bytes(pdf_bytes())
    coord.goto(f"{url}{detail}")
    assert _state(coord) == "Abweichung"
    sweep.check(coord, "3-coordinator-nonconformity")
    coord.fill("#answer_text", STATEMENT)
    coord.set_input_files("#answer_files", str(evidence_file))
    coord.click("form[action$='/answer/'] button[type=submit]")
    coord.wait_for_load_state()
    assert _message(coord) == "Ihre Antwort wurde zur Prüfung gesendet."
    answer = coord.locator("section.deviation-answer")
    assert answer.locator("[data-response]").inner_text() == STATEMENT
    assert answer.locator(".badge--state-justified").inner_text() == "wartet auf die Prüfung"
    assert answer.locator(".evidence-list a").all_inner_texts() == ["Protokolle_Tumorboard.pdf"]
    assert coord.locator("form[action$='/answer/']").count() == 0  # answered: no second form
    sweep.check(coord, "3-coordinator-answered")

    # --- 4. the auditor sees the answer and the evidence, and resolves ------------
    aud.goto(f"{url}{detail}")
    answer = aud.locator("section.deviation-answer")
    assert answer.locator("[data-response]").inner_text() == STATEMENT
    link = answer.locator(".evidence-list a")
    assert link.inner_text() == "Protokolle_Tumorboard.pdf"
    with aud.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "Protokolle_Tumorboard.pdf"
    assert open(download.value.path(), "rb").read() == evidence_file.read_bytes()
    assert answer.locator("form[action$='/send-back/']").count() == 1
    sweep.check(aud, "4-auditor-answered")
    aud.fill("#resolve_comment", "Nachweise vollständig.")
    aud.click("form[action*='/resolve/'] button[type=submit]")
    aud.wait_for_load_state()
    assert _message(aud) == "Die Auffälligkeit wurde als erledigt markiert."
    assert _state(aud) == "erledigt"
    assert aud.locator("form[action*='/resolve/'], form[data-decision-form]").count() == 0
    sweep.check(aud, "4-auditor-resolved")
    coord.goto(f"{url}{detail}")
    assert _state(coord) == "erledigt"
    history = coord.locator("section[aria-labelledby=log-heading] ol.timeline > li strong").all_inner_texts()
    assert history == [
        "Auffälligkeit durch ein Datenblatt festgestellt",
        "Begründung abgegeben",
        "Fachexperte/Fachexpertin: Abweichung",
        "Zentrum: Stellungnahme zur Abweichung",
        "Zentrum: Nachweisdatei hinzugefügt",
        "Erledigt",
    ]
    transitions = coord.locator("section[aria-labelledby=log-heading] .log-transition").all_inner_texts()
    assert transitions == ["(offen → begründet)", "(begründet → Abweichung)", "(Abweichung → erledigt)"]
    sweep.check(coord, "4-coordinator-resolved")

    # --- the record ----------------------------------------------------------------
    deviation.refresh_from_db()
    assert (deviation.state, deviation.reason_code, deviation.corrective_action, deviation.due_date) == (
        DeviationState.RESOLVED,
        "small_numbers",
        CORRECTIVE,
        DUE,
    )
    assert (deviation.justified_by, deviation.decided_by, deviation.responded_by) == (
        coordinator,
        auditor,
        coordinator,
    )
    evidence = Evidence.objects.get(deviation=deviation)
    assert (evidence.filename, evidence.content_type, evidence.size, evidence.uploaded_by) == (
        "Protokolle_Tumorboard.pdf",
        "application/pdf",
        len(pdf_bytes()),
        coordinator,
    )
    log = [
        (e.action.rsplit(".", 1)[1], e.actor, (e.data or {}).get("from"), (e.data or {}).get("to"))
        for e in log_entry_list(obj=deviation).select_related("actor").order_by("created_at", "pk")
    ]
    assert log == [
        ("opened", None, None, "open"),
        ("justified", coordinator, "open", "justified"),
        ("nonconformity", auditor, "justified", "nonconformity"),
        ("answered", coordinator, "nonconformity", "nonconformity"),
        ("evidence_added", coordinator, None, None),
        ("resolved", auditor, "nonconformity", "resolved"),
    ]

    # --- the other pages of each role (the heading shows the right page opened) -------
    audit = Audit.objects.get(site=site_a, audit_year=YEAR + 1)
    dossier = f"/audits/{audit.pk}/dossier/"
    commission_page, office_page = _login(browser, site_server, commission), _login(browser, site_server, office)
    pages = [
        (coord, "coordinator", "/audits/", "Audits"),
        (coord, "coordinator", "/account/notifications/", "Benachrichtigungen"),
        (aud, "auditor", "/audits/", "Audits"),
        (aud, "auditor", dossier, "Auditdossier KHT-A01 Uniklinikum Aachen, Auditjahr 2023"),
        (commission_page, "commission", "/", "Willkommen, kommission"),
        (commission_page, "commission", "/system/", "Zertifizierungssystem"),
        (commission_page, "commission", "/audits/", "Audits"),
        (office_page, "office", "/", "Willkommen, office"),
        (office_page, "office", "/system/", "Zertifizierungssystem"),
        (office_page, "office", "/indicators/deviations/", "Arbeitsliste"),
        (office_page, "office", "/audits/", "Audits"),
        (office_page, "office", dossier, "Auditdossier KHT-A01 Uniklinikum Aachen, Auditjahr 2023"),
        (office_page, "office", f"/audits/{audit.pk}/assign/", "Audit bearbeiten KHT-A01 Uniklinikum Aachen, 2023"),
        (office_page, "office", "/account/notifications/", "Benachrichtigungen"),
    ]
    for page, role, path, heading in pages:
        page.goto(f"{url}{path}")
        assert " ".join(page.locator("main h1").inner_text().split()) == heading
        name = path.strip("/").replace("/", "-").replace(f"{audit.pk}-", "") or "home"
        sweep.check(page, f"{role}-{name}")
    assert commission_page.console_errors == [] and office_page.console_errors == []
    assert coord.console_errors == [] and aud.console_errors == []
    assert sweep.problems == [], sweep.report()
