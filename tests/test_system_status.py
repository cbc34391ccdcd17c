"""The certification system's status page (issue 9): ``qiportal.system.system_figures``
on a hand-built record with a boundary case beside each definition, the page per role,
the home pages of commission and office, and (slow) the demo reproducing the
catalogue's ``system_figures`` for the end of 2023 / audit year 2023."""

import datetime as dt
import json
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from centres.models import Audit, AuditKind, AuditOutcome, Certificate, CertificateStatus, Role
from datasheets.choices import RevisionStatus
from datasheets.models import DatasheetRevision
from indicators.choices import DeviationState, Flag
from indicators.models import Deviation, IndicatorDefinition
from indicators.services import CATALOGUE_FIXTURE
from qiportal.system import CATALOGUE_FIGURES, system_figures
from tests.factories import CentreFactory, DatasheetRevisionFactory, MembershipFactory, SiteFactory, UserFactory

AS_OF = dt.date(2023, 12, 31)
AUDIT_YEAR = 2023
D = dt.date


def _certificate(site, start, end, status=CertificateStatus.VALID):
    return Certificate.objects.create(site=site, valid_from=start, valid_until=end, status=status)


def _audit(site, year=AUDIT_YEAR, *, kind=AuditKind.SURVEILLANCE, date=None, outcome="", reduced=False, auditors=()):
    audit = Audit.objects.create(
        site=site, audit_year=year, kind=kind, date=date, outcome=outcome, reduced_cycle=reduced
    )
    audit.auditors.set(auditors)
    return audit


def _auditor(username, role=Role.AUDITOR):
    user = UserFactory(username=username)
    MembershipFactory(user=user, site=None, role=role)
    return user


def _deviation(site, state, *, year=2022, code="5", due_date=None):
    return Deviation.objects.create(
        site=site,
        indicator_year=year,
        code=code,
        flag=Flag.TARGET_NOT_MET,
        definition=IndicatorDefinition.objects.get(version_id="KJ2022", code=code),
        state=state,
        numerator=1,
        denominator=20,
        due_date=due_date,
    )


def _revision(site, status, *, year=2022, current=False, expected=None):
    return DatasheetRevisionFactory(
        site=site,
        expected_site=expected or site,
        indicator_year=year,
        catalogue_version_id="KJ2022",
        status=status,
        is_current=current,
    )


@pytest.fixture
def record(catalogue):
    """Ten sites in seven centres; the comment beside each row says what it proves."""
    c1, c2, c3, c4, c5, c6, c7 = (CentreFactory() for _ in range(7))
    s = {
        "A": SiteFactory(centre=c1, registration_number="KHT-A", standalone=True),
        "B": SiteFactory(centre=c1, registration_number="KHT-B", country="AT"),
        "C": SiteFactory(centre=c2, registration_number="KHT-C"),
        "D": SiteFactory(centre=c3, registration_number="KHT-D", country="CH"),
        "E": SiteFactory(centre=c4, registration_number="KHT-E"),
        "F": SiteFactory(centre=c5, registration_number="KHT-F"),
        "G": SiteFactory(centre=c6, registration_number="KHT-G"),
        "H": SiteFactory(centre=c7, registration_number="KHT-H"),
        "I": SiteFactory(centre=c7, registration_number="KHT-I"),
        "J": SiteFactory(centre=c6, registration_number="KHT-J"),
    }
    # certified on AS_OF: A (ends that day), B (starts that day; first certificate: new),
    # F (reduced validity), H (first certificate the day before the year: not new)
    _certificate(s["A"], D(2021, 1, 1), AS_OF)
    _certificate(s["A"], D(2018, 1, 1), D(2020, 12, 31))
    _certificate(s["B"], AS_OF, D(2026, 12, 30))
    _certificate(s["F"], D(2022, 1, 1), D(2024, 12, 31), CertificateStatus.REDUCED_VALIDITY)
    _certificate(s["H"], D(2022, 12, 31), D(2025, 12, 30))
    # not certified: C ended the day before AS_OF; D suspended; E ended at its request;
    # G starts the day after (and is not new in 2023); I ended in 2022
    _certificate(s["C"], D(2020, 12, 31), D(2023, 12, 30))
    _certificate(s["D"], D(2022, 1, 1), D(2024, 12, 31), CertificateStatus.SUSPENDED)
    _certificate(s["E"], D(2017, 1, 1), D(2022, 12, 31))
    _certificate(s["E"], D(2023, 1, 1), D(2023, 6, 30), CertificateStatus.ENDED)  # renewed in 2023: not new
    _certificate(s["G"], D(2024, 1, 1), D(2026, 12, 31))
    _certificate(s["I"], D(2016, 1, 1), D(2022, 12, 31), CertificateStatus.ENDED)
    _certificate(s["J"], D(2021, 1, 1), D(2023, 9, 30), CertificateStatus.SUSPENDED)  # suspended then, no audit

    u1, u4 = _auditor("u1"), _auditor("u4")
    u2 = _auditor("u2")  # audits of 2022 only: not active in 2023
    office = _auditor("office_x", Role.OFFICE)  # assigned, but no auditor role
    _audit(s["A"], reduced=True, auditors=[u1])
    _audit(s["B"], kind=AuditKind.INITIAL, reduced=True, auditors=[u1])  # same centre as A: REDZYK once
    _audit(s["C"], outcome=AuditOutcome.ENDED)  # undated, audit year 2023: ended in 2023
    _audit(s["D"], date=D(2023, 6, 1), outcome=AuditOutcome.SUSPENDED)
    _audit(s["E"], date=D(2023, 7, 10), outcome=AuditOutcome.ENDED_AT_REQUEST)
    _audit(s["F"], date=D(2023, 3, 1), auditors=[u4, office])
    _audit(s["F"], kind=AuditKind.REPEAT, date=D(2023, 9, 1), outcome=AuditOutcome.REDUCED_VALIDITY, auditors=[u4])
    _audit(s["H"], reduced=True)
    _audit(s["H"], 2022, reduced=True, outcome=AuditOutcome.REDUCED_VALIDITY, auditors=[u2])  # other audit year
    _audit(s["G"], 2024, date=D(2024, 1, 5), outcome=AuditOutcome.ENDED)  # after AS_OF
    _audit(s["I"], 2022, date=D(2022, 12, 31), outcome=AuditOutcome.ENDED_AT_REQUEST)  # the year before

    # Abweichungen of indicator year 2022: A open + A resolved (had a due date), F open
    _deviation(s["A"], DeviationState.NONCONFORMITY, due_date=D(2024, 3, 1))
    _deviation(s["A"], DeviationState.RESOLVED, code="2a", due_date=D(2024, 3, 1))
    _deviation(s["F"], DeviationState.NONCONFORMITY, due_date=D(2024, 3, 1))
    _deviation(s["F"], DeviationState.RESOLVED, code="2a")  # a resolved Hinweis: no due date
    _deviation(s["H"], DeviationState.NOTE)
    _deviation(s["H"], DeviationState.ACCEPTED, code="2a")
    _deviation(s["H"], DeviationState.NONCONFORMITY, year=2023, due_date=D(2025, 3, 1))  # other year

    # data sheets of Kennzahlenjahr 2022
    _revision(s["A"], RevisionStatus.EVALUATED, current=True)  # submitted
    _revision(s["B"], RevisionStatus.FAILED)
    _revision(None, RevisionStatus.FAILED, expected=s["B"])  # unread: counts for the site chosen
    _revision(s["F"], RevisionStatus.PENDING)  # in progress: not submitted
    _revision(s["F"], RevisionStatus.EVALUATED, current=False)  # superseded: not submitted
    _revision(s["H"], RevisionStatus.EVALUATED, year=2021, current=True)  # other year
    _revision(s["C"], RevisionStatus.FAILED)  # C is not certified: in no list
    return s


def test_certificate_figures(record):
    f = system_figures(as_of=AS_OF, audit_year=AUDIT_YEAR)
    assert f.certified_sites == 4  # A, B, F, H
    assert f.certified_centres == 3  # c1 (A, B), c5, c7
    assert f.sites_abroad == 1  # B (D is abroad but suspended)
    assert f.standalone_sites == 1  # A
    assert f.new_certificates == 1  # B; H began the day before the year, G the day after
    assert f.ended_or_suspended == 4  # C (undated audit), D (audit), E (certificate and audit, once), J


def test_figures_move_with_the_day(record):
    day_before = system_figures(as_of=AS_OF - dt.timedelta(days=1), audit_year=AUDIT_YEAR)
    assert day_before.certified_sites == 4  # A, C, F, H: B not yet, C still
    assert day_before.new_certificates == 0  # B starts on AS_OF
    next_year = system_figures(as_of=D(2024, 1, 1), audit_year=2024)
    assert next_year.certified_sites == 4  # B, F, G, H (A ended on AS_OF)
    assert next_year.new_certificates == 1  # G
    assert next_year.ended_or_suspended == 0  # G's audit of 2024-01-05 lies after the day
    # E's certificate ended on 2023-06-30 (its audit of 2023-07-10 came later)
    assert system_figures(as_of=D(2023, 7, 1), audit_year=AUDIT_YEAR).ended_or_suspended == 3  # C, D, E
    assert system_figures(as_of=D(2023, 6, 29), audit_year=AUDIT_YEAR).ended_or_suspended == 2  # C, D
    assert system_figures(as_of=D(2023, 5, 31), audit_year=AUDIT_YEAR).ended_or_suspended == 1  # C (undated)


def test_audit_figures(record):
    f = system_figures(as_of=AS_OF, audit_year=AUDIT_YEAR)
    assert f.audits == 8  # A, B, C, D, E, F twice, H
    assert f.ended_at_request == 1  # E (I's was in 2022)
    assert f.reduced_validity == 1  # F's repeat audit (H's was in 2022)
    assert f.centres_in_reduced_cycle == 2  # c1 (A and B), c7 (H); H's 2022 audit not counted
    assert f.active_auditors == 2  # u1, u4; u2 audited 2022 only; office_x holds no auditor role
    assert f.nonconformities == 3  # A open, A resolved with a due date, F open
    assert f.audits_with_nonconformities == 2  # A, F
    assert f.indicator_year == 2022


def test_submission_lists(record):
    f = system_figures(as_of=AS_OF, audit_year=AUDIT_YEAR)
    assert f.sites_submitted == 1  # A
    assert [(r.site.registration_number, r.failed) for r in f.failed_only] == [("KHT-B", 2)]
    assert [r.site.registration_number for r in f.not_submitted] == ["KHT-F", "KHT-H"]
    latest = {r.site.registration_number: r.latest for r in f.not_submitted}
    assert latest["KHT-F"].status == RevisionStatus.EVALUATED  # the newest of F's two
    assert latest["KHT-H"] is None


# ------------------------------------------------------------------------- the page


@pytest.mark.parametrize("who, status", [("commission", 200), ("office", 200), ("coordinator", 403), ("auditor", 403)])
def test_page_access_per_role(client, record, request, who, status):
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse("system_status"), {"as_of": "2023-12-31", "audit_year": "2023"})
    assert response.status_code == status
    nav = f'href="{reverse("system_status")}"' in response.content.decode()
    assert nav == (status == 200)  # the navigation offers the page to those who may open it


def _figures_shown(body: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="(\w+)"><strong>(\d+)</strong>', body))


def test_page_shows_the_figures_and_lists(client, record, office):
    client.force_login(office)
    response = client.get(reverse("system_status"), {"as_of": "31.12.2023", "audit_year": "2023"})
    body = response.content.decode()
    assert _figures_shown(body) == {
        "certified_centres": "3",
        "certified_sites": "4",
        "sites_abroad": "1",
        "standalone_sites": "1",
        "new_certificates": "1",
        "ended_or_suspended": "4",
        "audits": "8",
        "nonconformities": "3",
        "audits_with_nonconformities": "2",
        "ended_at_request": "1",
        "reduced_validity": "1",
        "centres_in_reduced_cycle": "2",
        "active_auditors": "2",
    }
    assert "Zertifizierungssystem" in body
    assert "1 von 4 zertifizierten Standorten" in body
    not_submitted = body.split('id="not-submitted-heading"')[1].split('id="failed-heading"')[0]
    failed = body.split('id="failed-heading"')[1]
    assert re.findall(r">(KHT-\w)</a>", not_submitted) == ["KHT-F", "KHT-H"]
    assert re.findall(r">(KHT-\w)</a>", failed) == ["KHT-B"]


def test_page_defaults_and_bad_input(client, record, commission):
    client.force_login(commission)
    response = client.get(reverse("system_status"))
    assert response.status_code == 200
    assert response.context["figures"].as_of == timezone.localdate()
    assert response.context["figures"].audit_year == timezone.localdate().year
    response = client.get(reverse("system_status"), {"as_of": "2023-12-31"})
    assert response.context["figures"].audit_year == 2023  # the day's year
    for bad in ({"as_of": "gestern"}, {"audit_year": "1"}, {"audit_year": "x" * 50}):
        response = client.get(reverse("system_status"), bad)
        assert response.status_code == 200
        assert response.context["form"].errors
        assert response.context["figures"].as_of == timezone.localdate()
    response = client.get(reverse("system_status"), {"as_of": "2023-12-31", "ns-sort": "-failed"})
    assert response.status_code == 200


def test_page_sorts_the_lists(client, record, office):
    client.force_login(office)
    params = {"as_of": "2023-12-31", "audit_year": "2023", "ns-sort": "-registration_number"}
    body = client.get(reverse("system_status"), params).content.decode()
    not_submitted = body.split('id="not-submitted-heading"')[1].split('id="failed-heading"')[0]
    assert re.findall(r">(KHT-\w)</a>", not_submitted) == ["KHT-H", "KHT-F"]


# -------------------------------------------------------------------- home pages


@pytest.fixture
def this_year(catalogue, site_a, site_b):
    """site_a and site_b certified today; site_a has submitted last year's data sheet."""
    today = timezone.localdate()
    for site in (site_a, site_b):
        _certificate(site, today - dt.timedelta(days=400), today + dt.timedelta(days=400))
    DatasheetRevisionFactory(site=site_a, indicator_year=today.year - 1, catalogue_version_id=None, is_current=True)
    return today


def _tiles(body: str) -> dict[str, str]:
    return {
        url.replace("&amp;", "&"): n
        for url, n in re.findall(r'<a href="([^"]+)"><span class="tile__count">(\d+)</span>', body)
    }


@pytest.mark.parametrize("who", ["commission", "office"])
def test_home_of_commission_and_office_shows_their_work(client, this_year, site_a, site_b, request, who):
    today = this_year
    overdue = _deviation(site_b, DeviationState.NONCONFORMITY, due_date=today - dt.timedelta(days=1))
    _deviation(site_a, DeviationState.NONCONFORMITY, code="2a", due_date=today)  # due today: not overdue
    old = _revision(site_b, RevisionStatus.FAILED, year=today.year - 1)
    DatasheetRevision.objects.filter(pk=old.pk).update(uploaded_at=timezone.now() - dt.timedelta(days=31))
    recent = _revision(site_b, RevisionStatus.FAILED, year=today.year - 1)
    client.force_login(request.getfixturevalue(who))
    body = client.get(reverse("home")).content.decode()
    assert 'class="site-card__title"' not in body  # no sample of sites
    assert f"Datenblätter des Kennzahlenjahres {today.year - 1}" in body
    assert "1 von 2 zertifizierten Standorten haben ein ausgewertetes Datenblatt" in body
    assert "nicht eingereicht: 0, nur fehlgeschlagene Uploads: 1" in body
    assert reverse("system_status") in body
    tiles = _tiles(body)
    assert tiles[reverse("indicators:deviation_list") + "?overdue=yes"] == "1"
    assert tiles[reverse("datasheets:revision_list") + "?status=failed"] == "1"  # the old one is 31 days ago
    failed = body.split('id="failed-heading"')[1].split('id="revisions-heading"')[0]
    assert reverse("datasheets:revision_detail", args=[recent.pk]) in failed
    assert reverse("datasheets:revision_detail", args=[old.pk]) not in failed
    assert overdue.is_overdue()


def test_home_of_coordinator_keeps_the_sites(client, this_year, coordinator, site_a):
    client.force_login(coordinator)
    body = client.get(reverse("home")).content.decode()
    assert re.findall(r'class="site-card__title"><a href="([^"]+)">', body) == [
        reverse("centres:site_detail", args=[site_a.pk])
    ]
    assert "?overdue=yes" not in body
    assert reverse("system_status") not in body


def test_home_of_auditor_counts_only_what_they_decide(client, catalogue, auditor, site_a, site_b):
    # auditor_a audits site_a for indicator years 2019-2026; drop 2021 so that year is view-only
    Audit.objects.filter(site=site_a, audit_year=2022).delete()
    _deviation(site_a, DeviationState.JUSTIFIED, year=2022)  # decides: counted
    _deviation(site_a, DeviationState.JUSTIFIED, year=2021)  # earlier year, read-only: not counted
    _deviation(site_b, DeviationState.JUSTIFIED, year=2022)  # other site: not counted
    answered = _deviation(site_a, DeviationState.NONCONFORMITY, code="2a", year=2022, due_date=D(2030, 1, 1))
    Deviation.objects.filter(pk=answered.pk).update(responded_at=timezone.now(), response="erledigt")
    client.force_login(auditor)
    tiles = _tiles(client.get(reverse("home")).content.decode())
    deviations = reverse("indicators:deviation_list")
    assert tiles[f"{deviations}?state=justified&active=active"] == "1"
    assert tiles[f"{deviations}?state=nonconformity&active=active"] == "1"


# ----------------------------------------------------------- the demo (slow)


def _catalogue_figures() -> dict[str, int]:
    """The catalogue's system_figures for the end of 2023 / audit year 2023, by
    ``SystemFigures`` field; a figure first reported in 2024 (standalone centres on
    2024-02-22, active auditors on 2024-03-20) is taken from its first report."""
    rows = json.loads(CATALOGUE_FIXTURE.read_text(encoding="utf-8"))["system_figures"]
    wanted = {}
    for field, name in CATALOGUE_FIGURES.items():
        reports = [r for r in rows if r["figure"] == name]
        of_2023 = [r for r in reports if "2023" in r["as_of"]]
        wanted[field] = (of_2023 or reports)[0]["value"]
    return wanted


@pytest.mark.slow
def test_demo_shows_the_catalogue_figures_for_2023(transactional_db):
    call_command("demo_data", "--years", "2022", "--no-progress", "--password", "pw-demo-test")
    figures = system_figures(as_of=AS_OF, audit_year=AUDIT_YEAR)
    wanted = _catalogue_figures()
    assert wanted == {
        "certified_centres": 79,
        "certified_sites": 81,
        "sites_abroad": 7,
        "standalone_sites": 8,
        "new_certificates": 3,
        "ended_or_suspended": 1,
        "ended_at_request": 1,
        "reduced_validity": 1,
        "audits": 68,
        "nonconformities": 8,
        "audits_with_nonconformities": 7,
        "centres_in_reduced_cycle": 20,
        "active_auditors": 28,
    }
    assert {field: getattr(figures, field) for field in wanted} == wanted
    # 80 of the 81 certified sites submitted for 2022 (sites_in_annual_report, SEED004)
    assert figures.sites_submitted == 80
    assert [r.site.registration_number for r in figures.not_submitted] == ["KHT-1081"]
    # every Abweichung was decided by an auditor of the site's 2023 audit, with a due date
    # and a corrective action, and is on the record
    for deviation in Deviation.objects.filter(state=DeviationState.NONCONFORMITY, indicator_year=2022):
        assert deviation.due_date and deviation.corrective_action
        assert deviation.decided_by.audits.filter(site=deviation.site, audit_year=2023).exists()
    # the demo login "fachexperte" audits the 12 "audited" sites every year
    fachexperte = Audit.objects.filter(auditors__username="fachexperte")
    assert fachexperte.filter(audit_year=2023).values("site").distinct().count() == 12
    assert fachexperte.filter(audit_year=2025).values("site").distinct().count() == 12


@pytest.mark.parametrize("seed", [2022, 1, 99])
def test_demo_plan_gives_the_figures_without_a_database(seed):
    """The pure plan (fixtures.demo.certification) already holds the certificate and
    audit figures for any seed; the Abweichungen need the imported deviations (slow test)."""
    from fixtures.demo import demo_sites
    from fixtures.demo.certification import AUDITORS, demo_certification, former_site

    sites = demo_sites(seed)
    plans = demo_certification(sites, seed)
    assert demo_certification(demo_sites(seed), seed) == plans
    info = {s.registration_number: s for s in [*sites, former_site()]}
    certified = [
        reg
        for reg, plan in plans.items()
        if any(c.valid_from <= AS_OF <= c.valid_until and c.status != "ended" for c in plan.certificates)
    ]
    audits = [(reg, a) for reg, plan in plans.items() for a in plan.audits if a.audit_year == AUDIT_YEAR]
    wanted = _catalogue_figures()
    assert len(certified) == wanted["certified_sites"]
    assert len({info[r].centre_name for r in certified}) == wanted["certified_centres"]
    assert sum(info[r].country != "DE" for r in certified) == wanted["sites_abroad"]
    assert sum(info[r].standalone for r in certified) == wanted["standalone_sites"]
    assert sum(p.certificates[0].valid_from.year == AUDIT_YEAR for p in plans.values()) == wanted["new_certificates"]
    assert len(audits) == wanted["audits"]
    assert len({info[r].centre_name for r, a in audits if a.reduced_cycle}) == wanted["centres_in_reduced_cycle"]
    assert {u for _r, a in audits for u in a.auditors} == set(AUDITORS)
    assert len(AUDITORS) == wanted["active_auditors"]
    assert [a.outcome for _r, a in audits].count("reduced_validity") == wanted["reduced_validity"]
    assert [a.outcome for _r, a in audits].count("ended_at_request") == wanted["ended_at_request"]
    # the first 12 sites: "fachexperte" on every audit, each year up to 2025
    for reg in sorted(info)[:12]:
        years = [a.audit_year for a in plans[reg].audits if "fachexperte" in a.auditors]
        assert years == list(range(info[reg].initial_certification, 2026))
    # the planned initial certification is the first certificate's start
    assert all(p.initial_certification == p.certificates[0].valid_from for p in plans.values())
