"""Views: every page answers for an allowed user with a bounded number of queries (the
same for 1 and many rows), scoping shows the other centre's 404, review steps change
state and write log entries, refusals answer with a message (never 500), CSP holds."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser

import pytest
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from centres.models import LogEntry
from datasheets.choices import RevisionStatus
from datasheets.models import DatasheetRevision, IndicatorValue
from indicators.choices import DeviationState, Flag
from indicators.models import Deviation, Evaluation, IndicatorDefinition
from tests.factories import DatasheetRevisionFactory, SiteFactory

YEAR = 2024
MAX_QUERIES = 20


# ------------------------------------------------------------------------- helpers


def definition(code: str = "2a", version: str = "KJ2024") -> IndicatorDefinition:
    return IndicatorDefinition.objects.get(version_id=version, code=code)


def make_deviation(
    site,
    *,
    code="2a",
    flag=Flag.TARGET_NOT_MET,
    state=DeviationState.OPEN,
    year=YEAR,
    numerator=18,
    denominator=20,
    is_active=True,
) -> Deviation:
    return Deviation.objects.create(
        site=site,
        indicator_year=year,
        code=code,
        flag=flag,
        definition=definition(code),
        state=state,
        numerator=numerator,
        denominator=denominator,
        is_active=is_active,
    )


def make_revision(
    site,
    user=None,
    *,
    status=RevisionStatus.EVALUATED,
    errors=None,
    name="Datenblatt.xlsx",
    file="datasheets/test.xlsx",
) -> DatasheetRevision:
    return DatasheetRevisionFactory(
        site=site, uploaded_by=user, file=file, original_name=name, status=status, errors=errors or []
    )


def count_queries(client, url: str, **extra) -> int:
    """Queries of one GET after a warm-up request (caches such as ContentType filled)."""
    client.get(url, **extra)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **extra)
    assert response.status_code == 200, response.status_code
    return len(ctx)


def logged_in(client, user):
    client.force_login(user)
    return client


def in_english(client):
    """Messages in English (the msgids) via the language cookie: stable against
    translation edits."""
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


class _PageParser(HTMLParser):
    """Body rows of each ``<table>``, the ``dd`` texts of each ``<dl>`` and the items of
    each ``<ol>``/``<ul>`` of a page, whitespace collapsed. A badge
    (``<span class="badge badge--CODE">label</span>``) reads as ``[CODE]``: tests match
    the stable code, not the translated label."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.lists: list[list[str]] = []
        self.dls: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_tbody = False
        self._badge_depth = 0
        self._item: list[str] | None = None
        self._dd: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        badge = next((c.removeprefix("badge--") for c in classes if c.startswith("badge--")), None)
        if self._badge_depth:
            self._badge_depth += tag == "span"
            return
        if tag == "br":
            self._text(" ")
        elif tag == "span" and badge:
            self._badge_depth = 1
            self._text(f"[{badge}]")
        elif tag == "table":
            self.tables.append([])
        elif tag == "tbody":
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self._in_tbody:
            self._cell = []
        elif tag in ("ol", "ul"):
            self.lists.append([])
        elif tag == "li" and self.lists:
            self._item = []
        elif tag == "dl":
            self.dls.append([])
        elif tag == "dd" and self.dls:
            self._dd = []

    def handle_endtag(self, tag):
        if self._badge_depth:
            self._badge_depth -= tag == "span"
            return
        if tag == "tbody":
            self._in_tbody = False
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(_collapse(self._cell))
            self._cell = None
        elif tag == "li" and self._item is not None:
            self.lists[-1].append(_collapse(self._item))
            self._item = None
        elif tag == "dd" and self._dd is not None:
            self.dls[-1].append(_collapse(self._dd))
            self._dd = None

    def handle_data(self, data):
        if not self._badge_depth:
            self._text(data)

    def _text(self, text: str) -> None:
        for buffer in (self._cell, self._item, self._dd):
            if buffer is not None:
                buffer.append(text)


def _collapse(parts: list[str]) -> str:
    return " ".join("".join(parts).replace("\u00a0", " ").split())


def page_of(response) -> _PageParser:
    parser = _PageParser()
    parser.feed(response.content.decode())
    return parser


# ------------------------------------------------------------------- anonymous, CSP


@pytest.mark.parametrize(
    "name,args",
    [
        ("home", []),
        ("centres:site_list", []),
        ("datasheets:revision_list", []),
        ("indicators:deviation_list", []),
        ("indicators:national", []),
        ("datasheets:upload", []),
    ],
)
def test_anonymous_is_redirected_to_login(client, db, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_is_public_and_sends_csp(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    body = response.content.decode()
    assert 'for="id_username"' in body and 'for="id_password"' in body
    assert 'class="skip-link"' in body


def test_login_with_password_redirects_home(client, coordinator):
    response = client.post(reverse("login"), {"username": "coord_a", "password": "pw-test-12345"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_language_switch_works_without_login(client, db):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "en"
    assert '<html lang="en">' in client.get(reverse("login")).content.decode()


def test_german_is_the_default_language(client, db):
    body = client.get(reverse("login")).content.decode()
    assert '<html lang="de">' in body
    assert 'name="language" value="en"' in body  # the switch works without JavaScript


def test_pages_have_no_inline_script_or_style(client, catalogue, coordinator, site_a):
    make_deviation(site_a)
    make_revision(site_a, coordinator, status=RevisionStatus.PENDING)
    logged_in(client, coordinator)
    for url in [
        reverse("home"),
        reverse("centres:site_detail", args=[site_a.pk]),
        reverse("indicators:deviation_list"),
        reverse("datasheets:revision_list"),
    ]:
        response = client.get(url)
        assert response.status_code == 200
        assert "Content-Security-Policy" in response
        body = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), url
        assert not re.search(r"<style\b", body), url
        assert not re.search(r"\sstyle=", body), url


# ------------------------------------------------------------------------ home, sites


# who: (sites shown, to-do tiles as (state, count), national results offered). Deviations:
# site_a 2a open, 2b justified, 3 open but closed (inactive); site_b 2a and 3 open, 2b
# and 4 justified. Coordinators justify their site's open ones, auditors decide their
# site's justified ones, the office decides everywhere, the commission has no to-do.
HOME_EXPECTED = {
    "coordinator": (["site_a"], [("open", 1)], False),
    "auditor": (["site_a"], [("justified", 1)], True),
    # commission and office see their work instead of site cards (tests/test_system_status.py)
    "commission": ([], [], True),
    "office": ([], [("justified", 3)], True),
}


@pytest.mark.parametrize("who", sorted(HOME_EXPECTED))
def test_home_answers_for_every_role(client, catalogue, site_a, site_b, request, who, django_assert_max_num_queries):
    user = request.getfixturevalue(who)
    make_deviation(site_a)
    make_deviation(site_a, code="2b", state=DeviationState.JUSTIFIED)
    make_deviation(site_a, code="3", is_active=False)
    make_deviation(site_b)
    make_deviation(site_b, code="3")
    make_deviation(site_b, code="2b", state=DeviationState.JUSTIFIED)
    make_deviation(site_b, code="4", state=DeviationState.JUSTIFIED)
    logged_in(client, user)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    sites, tasks, national = HOME_EXPECTED[who]
    site_urls = re.findall(r'class="site-card__title"><a href="([^"]+)">', body)
    assert site_urls == [reverse("centres:site_detail", args=[request.getfixturevalue(s).pk]) for s in sites]
    tiles = re.findall(r'<a href="([^"]+)"><span class="tile__count">(\d+)</span>', body)
    tiles = [t for t in tiles if "state=" in t[0]]  # the review tiles; overdue/failed: test_system_status
    deviations = reverse("indicators:deviation_list")
    assert tiles == [(f"{deviations}?state={state}&amp;active=active", str(n)) for state, n in tasks]
    assert (reverse("indicators:national") in body) == national


def test_home_shows_open_deviations_to_coordinator(client, catalogue, coordinator, site_a, site_b):
    make_deviation(site_a)
    make_deviation(site_b)  # other centre: not counted
    response = logged_in(client, coordinator).get(reverse("home"))
    assert [t["count"] for t in response.context["tasks"]] == [1]


def test_site_list_query_count_is_constant(client, office, site_a, django_assert_max_num_queries):
    logged_in(client, office)
    url = reverse("centres:site_list")
    one = count_queries(client, url)
    SiteFactory.create_batch(30)
    many = count_queries(client, url)
    assert one == many
    assert many <= MAX_QUERIES


def test_site_list_is_scoped_and_filters(client, coordinator, site_a, site_b):
    response = logged_in(client, coordinator).get(reverse("centres:site_list"))
    assert list(response.context["table"].data) == [site_a]
    response = client.get(reverse("centres:site_list"), {"name": "bremen"})
    assert list(response.context["table"].data) == []


def test_site_list_filters_by_city_for_office(client, office, site_a, site_b):
    response = logged_in(client, office).get(reverse("centres:site_list"), {"city": "brem"})
    assert list(response.context["table"].data) == [site_b]


def test_site_detail_for_coordinator_offers_template_and_upload(
    client, catalogue, coordinator, site_a, django_assert_max_num_queries
):
    make_revision(site_a, coordinator)
    make_deviation(site_a)
    logged_in(client, coordinator)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(reverse("centres:site_detail", args=[site_a.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("datasheets:template_download", args=[site_a.pk]) in body
    assert 'accept=".xlsx' in body and 'type="file"' in body
    assert 'for="upl_file"' in body and 'for="tpl_indicator_year"' in body
    assert "hx-trigger" not in body  # every revision finished: no polling
    summary = response.context["deviation_summary"]
    assert summary["years"][0]["year"] == YEAR and summary["years"][0]["cells"][0]["n"] == 1


def test_site_detail_query_count_is_constant(client, catalogue, coordinator, site_a):
    logged_in(client, coordinator)
    url = reverse("centres:site_detail", args=[site_a.pk])
    make_revision(site_a, coordinator)
    make_deviation(site_a)
    one = count_queries(client, url)
    for i in range(10):
        make_revision(site_a, coordinator, name=f"v{i}.xlsx")
    for code in ("2b", "3", "4", "5"):
        make_deviation(site_a, code=code)
    assert count_queries(client, url) == one


def test_site_detail_for_auditor_has_no_template_or_upload(client, catalogue, auditor, coordinator, site_a, site_b):
    revision = make_revision(site_a, coordinator)
    make_revision(site_b, name="Bremen.xlsx")  # other centre: not listed
    make_deviation(site_a)
    make_deviation(site_a, code="2b", state=DeviationState.JUSTIFIED)
    make_deviation(site_a, code="3", state=DeviationState.ACCEPTED, is_active=False)
    make_deviation(site_b)  # other centre: not counted
    response = logged_in(client, auditor).get(reverse("centres:site_detail", args=[site_a.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<h1>Uniklinikum Aachen <span class="muted">KHT-A01</span></h1>' in body
    assert "KHT-B01" not in body and "Bremen" not in body
    # auditors may not SUBMIT: neither the template form nor the upload form
    assert reverse("datasheets:template_download", args=[site_a.pk]) not in body
    assert 'type="file"' not in body and f'action="{reverse("datasheets:upload")}"' not in body
    revisions, summary = page_of(response).tables
    assert [row[0] for row in revisions] == [f"#{revision.pk}"]
    # Indicator year, then per review state: open, justified, accepted, note,
    # nonconformity, resolved, closed (SPEC §4)
    assert summary == [[str(YEAR), "1", "1", "0", "0", "0", "0", "1"]]


def test_coordinator_gets_404_for_other_centres_site(client, coordinator, site_b):
    response = logged_in(client, coordinator).get(reverse("centres:site_detail", args=[site_b.pk]))
    assert response.status_code == 404
    response = client.get(reverse("centres:site_revisions", args=[site_b.pk]))
    assert response.status_code == 404


def test_site_revisions_poll_while_pending_and_stop_when_finished(client, catalogue, coordinator, site_a):
    revision = make_revision(site_a, coordinator, status=RevisionStatus.PENDING)
    logged_in(client, coordinator)
    page = client.get(reverse("centres:site_detail", args=[site_a.pk]))
    assert 'hx-trigger="every 2s"' in page.content.decode()
    partial_url = reverse("centres:site_revisions", args=[site_a.pk])
    fingerprint = page.context["fingerprint"]
    unchanged = client.get(partial_url, {"v": fingerprint}, HTTP_HX_REQUEST="true")
    assert unchanged.status_code == 204
    revision.status = RevisionStatus.EVALUATED
    revision.save()
    changed = client.get(partial_url, {"v": fingerprint}, HTTP_HX_REQUEST="true")
    assert changed.status_code == 200
    body = changed.content.decode()
    assert "hx-trigger" not in body.split('id="revisions-status"')[0]
    assert 'hx-swap-oob="innerHTML"' in body


# --------------------------------------------------------------- template and upload


def test_template_download_returns_xlsx(client, catalogue, coordinator, site_a):
    response = logged_in(client, coordinator).get(
        reverse("datasheets:template_download", args=[site_a.pk]), {"indicator_year": YEAR}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    assert response.content[:2] == b"PK"


def test_template_download_forbidden_for_auditor_404_for_other_site(
    client, catalogue, auditor, coordinator, site_a, site_b
):
    url_a = reverse("datasheets:template_download", args=[site_a.pk])
    assert logged_in(client, auditor).get(url_a, {"indicator_year": YEAR}).status_code == 403
    url_b = reverse("datasheets:template_download", args=[site_b.pk])
    assert logged_in(client, coordinator).get(url_b, {"indicator_year": YEAR}).status_code == 404


def test_template_download_year_outside_the_choices_redirects_with_message(client, catalogue, coordinator, site_a):
    # 1990 has no catalogue version, so the form does not offer it: the form refuses it
    # before any template is built.
    response = in_english(logged_in(client, coordinator)).get(
        reverse("datasheets:template_download", args=[site_a.pk]), {"indicator_year": 1990}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("centres:site_detail", args=[site_a.pk])
    page = client.get(response["Location"])
    assert messages_of(page) == ["Please choose an indicator year."]


def test_template_download_unknown_year_redirects_with_message(client, catalogue, coordinator, site_a, monkeypatch):
    # The view's ApplicationError branch: a year the form offers but for which no catalogue
    # is on record (in production only if the Kennzahlenjahr vanished between the page and
    # the download). The service refuses it with year_mismatch; the view redirects.
    from datasheets import forms

    offered = forms.indicator_year_choices
    monkeypatch.setattr(forms, "indicator_year_choices", lambda: [*offered(), (1990, 1990)])
    response = in_english(logged_in(client, coordinator)).get(
        reverse("datasheets:template_download", args=[site_a.pk]), {"indicator_year": 1990}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("centres:site_detail", args=[site_a.pk])
    page = client.get(response["Location"])
    assert messages_of(page) == ["No indicator catalogue is on record for indicator year 1990."]


def test_upload_page_is_forbidden_without_submit_right(client, catalogue, auditor, site_a):
    assert logged_in(client, auditor).get(reverse("datasheets:upload")).status_code == 403


def test_upload_page_preselects_site(client, catalogue, coordinator, site_a, site_b):
    response = logged_in(client, coordinator).get(reverse("datasheets:upload"), {"site": site_a.pk})
    assert response.status_code == 200
    assert response.context["form"]["site"].value() == site_a.pk
    body = response.content.decode()
    assert 'accept=".xlsx' in body
    # only the coordinator's own site is offered (site_b is out of scope), preselected
    options = re.findall(r'<option value="(\d*)"( selected)?>([^<]*)</option>', body)
    assert options == [(str(site_a.pk), " selected", "KHT-A01 Uniklinikum Aachen")]


def test_upload_without_file_answers_200_with_message(client, catalogue, coordinator, site_a):
    response = in_english(logged_in(client, coordinator)).post(reverse("datasheets:upload"), {"site": site_a.pk})
    assert response.status_code == 200
    assert [e.code for e in response.context["form"].errors.as_data()["file"]] == ["required"]
    assert messages_of(response) == ["The data sheet was not uploaded. Please see below."]
    assert not DatasheetRevision.objects.exists()


def test_upload_for_other_centres_site_is_refused(client, catalogue, coordinator, site_a, site_b):
    upload = ContentFile(b"PK\x03\x04 not really", name="x.xlsx")
    response = logged_in(client, coordinator).post(reverse("datasheets:upload"), {"site": site_b.pk, "file": upload})
    assert response.status_code == 200
    assert "site" in response.context["form"].errors
    assert not DatasheetRevision.objects.exists()


def test_upload_too_large_is_refused(client, catalogue, coordinator, site_a, settings):
    settings.DATASHEET_MAX_BYTES = 10
    upload = ContentFile(b"x" * 100, name="big.xlsx")
    response = logged_in(client, coordinator).post(reverse("datasheets:upload"), {"site": site_a.pk, "file": upload})
    assert response.status_code == 200
    assert response.context["form"].errors.as_data()["file"][0].code == "file_too_large"
    assert not DatasheetRevision.objects.exists()


def test_upload_stores_revision_and_redirects(
    client, catalogue, coordinator, site_a, settings, tmp_path, django_capture_on_commit_callbacks
):
    from datasheets.services import datasheet_template_build

    settings.MEDIA_ROOT = tmp_path
    filename, content = datasheet_template_build(site=site_a, indicator_year=YEAR, acting_user=coordinator)
    logged_in(client, coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("datasheets:upload"), {"site": site_a.pk, "file": ContentFile(content, name=filename)}
        )
    revision = DatasheetRevision.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("datasheets:revision_detail", args=[revision.pk])
    assert revision.uploaded_by == coordinator and revision.expected_site == site_a
    # the empty template fails validation with located errors, shown on the page
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.FAILED
    page = client.get(response["Location"])
    assert page.status_code == 200
    first = page.context["errors"][0]
    assert re.fullmatch(r"\w+![A-Z]+\d+", first["place"]) and first["code"] == "required"
    # the cell's subject beside its address (issue 9): the first empty entered cell
    assert (first["place"], first["subject"]) == ("Basisdaten!B17", "Weitere Angaben · Operative Expertise HNO")
    subject = f'<span class="problems__subject">{first["subject"]}</span>'
    assert f"{first['place']}</span> · {subject}: <code>[required]</code>" in page.content.decode()
    download = client.get(reverse("datasheets:revision_file", args=[revision.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content


# -------------------------------------------------------------------------- revisions


def test_revision_list_query_count_is_constant(client, catalogue, coordinator, site_a, site_b):
    make_revision(site_a, coordinator)
    logged_in(client, coordinator)
    url = reverse("datasheets:revision_list")
    one = count_queries(client, url)
    for i in range(20):
        make_revision(site_a, coordinator, name=f"v{i}.xlsx")
    assert count_queries(client, url) == one
    assert one <= MAX_QUERIES


def test_revision_list_is_scoped_and_filters(client, catalogue, coordinator, site_a, site_b):
    mine = make_revision(site_a, coordinator)
    make_revision(site_b)
    failed = make_revision(site_a, coordinator, status=RevisionStatus.FAILED)
    logged_in(client, coordinator)
    response = client.get(reverse("datasheets:revision_list"))
    assert {r.pk for r in response.context["table"].data} == {mine.pk, failed.pk}
    response = client.get(reverse("datasheets:revision_list"), {"status": "failed"})
    assert [r.pk for r in response.context["table"].data] == [failed.pk]


def test_revision_detail_shows_values_in_german_format(
    client, catalogue, coordinator, site_a, django_assert_max_num_queries
):
    revision = make_revision(site_a, coordinator)
    IndicatorValue.objects.create(
        revision=revision, definition=definition("2a"), numerator=19, denominator=20, flags=[], evaluated=True
    )
    IndicatorValue.objects.create(
        revision=revision,
        definition=definition("2b"),
        numerator=2,
        denominator=3,
        flags=[Flag.TARGET_NOT_MET],
        evaluated=True,
        justification="Kleine Fallzahl",
    )
    logged_in(client, coordinator)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(reverse("datasheets:revision_detail", args=[revision.pk]))
    assert response.status_code == 200
    # KJ2024 2a and 2b: target >= 95 %, no corridor (catalogue); 19/20 = 95,0 % (met,
    # inclusive), 2/3 = 66,7 % (rounded half up)
    (values,) = page_of(response).tables
    assert values == [
        ["2a", "Prätherapeutische Tumorkonferenz", "19", "20", "95,0 %", "≥ 95 %", "–", "[ok]", "–"],
        [
            "2b",
            "Vorstellung maligner Speicheldrüsentumoren in der Tumorkonferenz",
            "2",
            "3",
            "66,7 %",
            "≥ 95 %",
            "–",
            "[target_not_met]",
            "Kleine Fallzahl",
        ],
    ]
    assert "hx-trigger" not in response.content.decode()


def test_revision_detail_lists_located_errors(client, catalogue, coordinator, site_a):
    def error(sheet, cell, code, de, en):
        return {"sheet": sheet, "cell": cell, "code": code, "message": en, "message_de": de, "message_en": en}

    errors = [
        error("Kennzahlen", "C12", "not_integer", "„x“ ist keine ganze Zahl.", "'x' is not a whole number."),
        error("Basisdaten", "D7", "required", "Wert fehlt.", "Value required."),
    ]
    revision = make_revision(site_a, coordinator, status=RevisionStatus.FAILED, errors=errors)
    response = logged_in(client, coordinator).get(reverse("datasheets:revision_detail", args=[revision.pk]))
    body = response.content.decode()
    assert re.search(r'<h2 id="errors-heading">[^<]*\(2\)</h2>', body)
    # every error, in order, as "Sheet!Cell · subject: [code] message" in the UI language;
    # the subject is what the KJ2024 template has there (issue 9)
    items = re.findall(
        r'<li><span class="problems__place">(.*?)</span> · <span class="problems__subject">(.*?)</span>: '
        r"<code>\[(\w+)\]</code> (.*?)</li>",
        body,
    )
    assert items == [
        ("Kennzahlen!C12", "KeZa 6b · Zähler", "not_integer", "„x“ ist keine ganze Zahl."),
        ("Basisdaten!D7", "Oro-/Hypopharynx nicht operativ · Stadium II", "required", "Wert fehlt."),
    ]
    assert "badge--status-failed" in body and "warnings-heading" not in body


def test_revision_detail_polls_while_pending(client, catalogue, coordinator, site_a):
    revision = make_revision(site_a, coordinator, status=RevisionStatus.PENDING)
    url = reverse("datasheets:revision_detail", args=[revision.pk])
    response = logged_in(client, coordinator).get(url)
    body = response.content.decode()
    assert 'hx-trigger="every 2s"' in body and "<progress" in body
    fingerprint = response.context["fingerprint"]
    assert client.get(url, {"v": fingerprint}, HTTP_HX_REQUEST="true").status_code == 204
    revision.status = RevisionStatus.EVALUATED
    revision.save()
    partial = client.get(url, {"v": fingerprint}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert "<html" not in partial.content.decode()
    assert "every 2s" not in partial.content.decode()


def test_coordinator_gets_404_for_other_centres_revision(client, catalogue, coordinator, site_b):
    revision = make_revision(site_b)
    logged_in(client, coordinator)
    for name in ("revision_detail", "revision_file", "revision_report"):
        assert client.get(reverse(f"datasheets:{name}", args=[revision.pk])).status_code == 404


def test_revision_report_is_json(client, catalogue, coordinator, site_a):
    revision = make_revision(site_a, coordinator)
    IndicatorValue.objects.create(
        revision=revision, definition=definition("2a"), numerator=19, denominator=20, flags=[], evaluated=True
    )
    response = logged_in(client, coordinator).get(reverse("datasheets:revision_report", args=[revision.pk]))
    assert response.status_code == 200
    data = json.loads(response.content)
    assert data["revision"] == revision.pk and data["status"] == "evaluated"
    assert data["indicators"][0]["code"] == "2a" and data["indicators"][0]["numerator"] == 19


def test_revision_file_missing_answers_404(client, catalogue, coordinator, site_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    revision = make_revision(site_a, coordinator, file="datasheets/missing.xlsx")
    response = logged_in(client, coordinator).get(reverse("datasheets:revision_file", args=[revision.pk]))
    assert response.status_code == 404


# ------------------------------------------------------------------------- deviations


def test_deviation_list_query_count_is_constant(client, catalogue, office, site_a):
    make_deviation(site_a)
    logged_in(client, office)
    url = reverse("indicators:deviation_list")
    one = count_queries(client, url)
    for code in ("2b", "3", "4", "5", "7", "8", "12", "13", "20"):
        make_deviation(SiteFactory(), code=code)
    assert count_queries(client, url) == one
    assert one <= MAX_QUERIES


def test_deviation_list_is_scoped_filtered_and_sortable(client, catalogue, coordinator, site_a, site_b):
    open_a = make_deviation(site_a)
    accepted_a = make_deviation(site_a, code="2b", state=DeviationState.ACCEPTED)
    make_deviation(site_b)
    logged_in(client, coordinator)
    response = client.get(reverse("indicators:deviation_list"))
    assert {d.pk for d in response.context["table"].data} == {open_a.pk, accepted_a.pk}
    response = client.get(reverse("indicators:deviation_list"), {"state": "accepted", "sort": "-code"})
    assert [d.pk for d in response.context["table"].data] == [accepted_a.pk]
    response = client.get(reverse("indicators:deviation_list"), {"code": "2A", "active": "active"})
    assert [d.pk for d in response.context["table"].data] == [open_a.pk]


def test_deviation_detail_shows_value_and_history(
    client, catalogue, coordinator, site_a, site_b, django_assert_max_num_queries
):
    deviation = make_deviation(site_a)  # KJ2024 2a, 18/20, target_not_met, open
    other = make_deviation(site_b)
    kind = ContentType.objects.get_for_model(Deviation)
    for dev in (deviation, other):
        LogEntry.objects.create(
            actor=None, action="indicators.deviation.opened", content_type=kind, object_id=dev.pk, data={}
        )
    logged_in(client, coordinator)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(reverse("indicators:deviation_detail", args=[deviation.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    # the badges under the heading (the series table below repeats the flag of the year)
    badges = re.search(r'<p class="badges">(.*?)</p>', body, re.S).group(1)
    assert re.findall(r'class="badge badge--([\w-]+)"', badges) == ["target_not_met", "state-open", "active"]
    value, review = page_of(response).dls
    assert value == [
        "KHT-A01 Uniklinikum Aachen",
        "2024 (KJ2024)",
        "18 Prätherapeutische Pat., die in der Tumorkonferenz vorgestellt wurden",
        "20 Primärfälle",
        "90,0 %",  # 18/20
        "≥ 95 %",
        "–",
    ]
    assert review == ["–", "–"]  # no justification, no decision yet
    # the history holds this deviation's one entry, not the other centre's
    assert len(re.findall(r"<time datetime=", body)) == 1
    # coordinators may justify an open deviation, never decide or resolve
    assert f'action="{reverse("indicators:deviation_justify", args=[deviation.pk])}"' in body
    assert reverse("indicators:deviation_decide", args=[deviation.pk]) not in body
    assert reverse("indicators:deviation_resolve", args=[deviation.pk]) not in body


def test_coordinator_gets_404_for_other_centres_deviation(client, catalogue, coordinator, site_b):
    deviation = make_deviation(site_b)
    logged_in(client, coordinator)
    assert client.get(reverse("indicators:deviation_detail", args=[deviation.pk])).status_code == 404
    response = client.post(reverse("indicators:deviation_justify", args=[deviation.pk]), {"text": "x"})
    assert response.status_code == 404
    deviation.refresh_from_db()
    assert deviation.state == DeviationState.OPEN


def _log_actions(deviation) -> list[str]:
    return list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Deviation), object_id=deviation.pk
        ).values_list("action", flat=True)
    )


def test_coordinator_justifies_deviation(client, catalogue, coordinator, site_a):
    deviation = make_deviation(site_a)
    response = logged_in(client, coordinator).post(
        reverse("indicators:deviation_justify", args=[deviation.pk]), {"text": "Zwei Patienten verstorben."}
    )
    assert response.status_code == 302
    deviation.refresh_from_db()
    assert deviation.state == DeviationState.JUSTIFIED
    assert deviation.justification == "Zwei Patienten verstorben."
    assert deviation.justified_by == coordinator
    assert _log_actions(deviation) == ["indicators.deviation.justified"]


def test_justify_with_empty_text_answers_200(client, catalogue, coordinator, site_a):
    deviation = make_deviation(site_a)
    response = logged_in(client, coordinator).post(
        reverse("indicators:deviation_justify", args=[deviation.pk]), {"text": ""}
    )
    assert response.status_code == 200
    assert response.context["justify_form"].errors
    assert messages_of(response)
    deviation.refresh_from_db()
    assert deviation.state == DeviationState.OPEN and _log_actions(deviation) == []


def test_justify_in_wrong_state_answers_200_with_message(client, catalogue, coordinator, site_a):
    deviation = make_deviation(site_a, state=DeviationState.ACCEPTED)
    response = in_english(logged_in(client, coordinator)).post(
        reverse("indicators:deviation_justify", args=[deviation.pk]), {"text": "Zu spät."}
    )
    assert response.status_code == 200
    assert messages_of(response) == ["This step is not possible in the current state."]  # wrong_state
    deviation.refresh_from_db()
    assert deviation.state == DeviationState.ACCEPTED and _log_actions(deviation) == []


def test_auditor_decides_nonconformity_with_due_date(client, catalogue, auditor, site_a):
    deviation = make_deviation(site_a, state=DeviationState.JUSTIFIED)
    response = logged_in(client, auditor).post(
        reverse("indicators:deviation_decide", args=[deviation.pk]),
        {
            "decision": "nonconformity",
            "due_date": "2025-12-31",
            "corrective_action": "Maßnahmenplan vorlegen.",
            "comment": "Studienquote zu niedrig.",
        },
    )
    assert response.status_code == 302
    deviation.refresh_from_db()
    assert deviation.state == DeviationState.NONCONFORMITY
    assert deviation.due_date == dt.date(2025, 12, 31) and deviation.decided_by == auditor
    assert deviation.corrective_action == "Maßnahmenplan vorlegen."
    assert deviation.decision_comment == "Studienquote zu niedrig."
    assert _log_actions(deviation) == ["indicators.deviation.nonconformity"]
    # then resolved
    response = client.post(reverse("indicators:deviation_resolve", args=[deviation.pk]), {"comment": "Erledigt."})
    assert response.status_code == 302
    deviation.refresh_from_db()
    assert deviation.state == DeviationState.RESOLVED
    assert _log_actions(deviation)[-1] == "indicators.deviation.resolved"


def test_nonconformity_without_due_date_answers_200_with_message(client, catalogue, auditor, site_a):
    deviation = make_deviation(site_a, state=DeviationState.JUSTIFIED)
    response = in_english(logged_in(client, auditor)).post(
        reverse("indicators:deviation_decide", args=[deviation.pk]), {"decision": "nonconformity"}
    )
    assert response.status_code == 200
    assert messages_of(response) == ["A nonconformity needs a due date."]  # due_date_required
    assert response.context["decide_form"].non_field_errors() == ["A nonconformity needs a due date."]
    deviation.refresh_from_db()
    assert deviation.state == DeviationState.JUSTIFIED and _log_actions(deviation) == []


def test_coordinator_cannot_decide(client, catalogue, coordinator, site_a):
    deviation = make_deviation(site_a, state=DeviationState.JUSTIFIED)
    response = in_english(logged_in(client, coordinator)).post(
        reverse("indicators:deviation_decide", args=[deviation.pk]), {"decision": "accepted"}
    )
    assert response.status_code == 403  # a role refusal of the step (issue 9 URL rules)
    deviation.refresh_from_db()
    assert deviation.state == DeviationState.JUSTIFIED


def test_step_views_refuse_get(client, catalogue, auditor, site_a):
    deviation = make_deviation(site_a)
    response = logged_in(client, auditor).get(reverse("indicators:deviation_decide", args=[deviation.pk]))
    assert response.status_code == 405


# --------------------------------------------------------------------------- national


def _national_data(n_sites: int, year: int = YEAR) -> None:
    sites = SiteFactory.create_batch(n_sites)
    defs = list(IndicatorDefinition.objects.filter(version__years__year=year))
    rows = []
    for i, site in enumerate(sites):
        for d in defs:
            denominator = None if d.is_count else 20
            rows.append(
                Evaluation(
                    site=site,
                    indicator_year=year,
                    definition=d,
                    numerator=80 + i if d.is_count else 15 + (i % 6),
                    denominator=denominator,
                )
            )
    Evaluation.objects.bulk_create(rows)


def test_commission_gets_national_page_coordinator_does_not(client, catalogue, commission, coordinator):
    _national_data(3)  # rates 15/20, 16/20, 17/20; counts 80, 81, 82
    url = reverse("indicators:national")
    response = logged_in(client, commission).get(url, {"indicator_year": YEAR})
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("indicators:national_indicator", args=[YEAR, "2a"]) in body
    rows = {row[0]: row for row in page_of(response).tables[0]}
    # KeZa, title, sites, pooled/total, median, min, P5, P25, P75, P95, max, target,
    # meeting, corridor, inside, numerator 0 (SPEC §5; type-7 percentiles by hand)
    assert rows["2a"] == [
        "2a",
        "Prätherapeutische Tumorkonferenz",
        "3",
        "80,0 %",  # 48 / 60
        "80,0 %",
        "75,0 %",
        "75,5 %",  # 75 + 0.1 * 5
        "77,5 %",
        "82,5 %",
        "84,5 %",  # 80 + 0.9 * 5
        "85,0 %",
        "≥ 95 %",
        "0 (0,0 %)",
        "–",
        "–",
        "0",
    ]
    assert rows["1a"] == [
        "1a",
        "Anzahl Primärfälle",
        "3",
        "243",  # 80 + 81 + 82
        "81",
        "80",
        "80,1",
        "80,5",
        "81,5",
        "81,9",
        "82",
        "≥ 75",
        "3 (100,0 %)",
        "–",
        "–",
        "0",
    ]
    assert logged_in(client, coordinator).get(url).status_code == 403
    assert client.get(reverse("indicators:national_indicator", args=[YEAR, "2a"])).status_code == 403
    assert client.get(reverse("indicators:national_json", args=[YEAR])).status_code == 403


def test_national_page_query_count_is_constant(client, catalogue, commission):
    _national_data(1)
    logged_in(client, commission)
    url = reverse("indicators:national") + f"?indicator_year={YEAR}"
    one = count_queries(client, url)
    _national_data(20)
    assert count_queries(client, url) == one
    assert one <= MAX_QUERIES


def test_national_statistics_in_german_format(client, catalogue, commission):
    site_rows = [(19, 20), (17, 20)]  # 95 % and 85 %: pooled 90,0 %
    for numerator, denominator in site_rows:
        Evaluation.objects.create(
            site=SiteFactory(),
            indicator_year=YEAR,
            definition=definition("2a"),
            numerator=numerator,
            denominator=denominator,
        )
    response = logged_in(client, commission).get(reverse("indicators:national"), {"indicator_year": YEAR})
    rows = {row[0]: row for row in page_of(response).tables[0]}
    # 95 % meets ">= 95 %" (inclusive), 85 % does not: 1 of 2 sites
    assert rows["2a"][2:13] == [
        "2",
        "90,0 %",
        "90,0 %",
        "85,0 %",
        "85,5 %",
        "87,5 %",
        "92,5 %",
        "94,5 %",
        "95,0 %",
        "≥ 95 %",
        "1 (50,0 %)",
    ]


def test_national_indicator_page_with_charts(client, catalogue, commission, django_assert_max_num_queries):
    _national_data(5)
    _national_data(4, year=2022)
    logged_in(client, commission)
    url = reverse("indicators:national_indicator", args=[YEAR, "20"])
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("<svg") == 2
    assert response.context["distribution"]["n"] == 5
    trend = response.context["trend"]
    assert [r["year"] for r in trend["rows"]] == [2022, YEAR]
    assert len(trend["lines"]) == 2 and len(trend["breaks"]) == 1  # KeZa 20 changed in KJ2024
    assert 'class="chart__note"' in body
    # SVG coordinates are never localised
    assert not re.search(r'(x|y|width|height)="\d+,\d+"', body)


def test_national_indicator_unknown_code_is_404(client, catalogue, commission):
    response = logged_in(client, commission).get(reverse("indicators:national_indicator", args=[YEAR, "99"]))
    assert response.status_code == 404


def test_national_json(client, catalogue, commission):
    Evaluation.objects.create(
        site=SiteFactory(), indicator_year=YEAR, definition=definition("2a"), numerator=19, denominator=20
    )
    response = logged_in(client, commission).get(reverse("indicators:national_json", args=[YEAR]), {"code": "2a"})
    assert response.status_code == 200
    data = json.loads(response.content)
    (row,) = data["indicators"]
    assert row["code"] == "2a" and row["statistics"]["pooled_rate"] == 0.95
    assert row["statistics"]["n_sites"] == 1 and row["target"]["op"] == ">="


def test_auditor_sees_national_page(client, catalogue, auditor, site_a, site_b):
    # an auditor bound to site_a sees the national figures of all sites (site_b too)
    for site, numerator in ((site_a, 19), (site_b, 17)):
        Evaluation.objects.create(
            site=site, indicator_year=YEAR, definition=definition("2a"), numerator=numerator, denominator=20
        )
    response = logged_in(client, auditor).get(reverse("indicators:national"), {"indicator_year": YEAR})
    assert response.status_code == 200
    rows = {row[0]: row for row in page_of(response).tables[0]}
    assert rows["2a"][2:4] == ["2", "90,0 %"]  # (19 + 17) / 40
    assert rows["2b"][2:4] == ["0", "–"]  # no values: not evaluable
    body = response.content.decode()
    assert "KHT-A01" not in body and "KHT-B01" not in body  # national figures are anonymous
