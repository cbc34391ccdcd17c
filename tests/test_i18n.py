"""German user interface: key pages are German by default and English after the language
switch (``set_language`` sets the ``django_language`` cookie, read by LocaleMiddleware);
the German catalogue ``locale/de`` translates every msgid, keeps its placeholders and
wins over Django's own catalogue ("History" is "Verlauf", not "Geschichte")."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from indicators.choices import DeviationState, Flag
from indicators.models import Deviation, Evaluation, IndicatorDefinition
from tests.factories import DatasheetRevisionFactory, SiteFactory

YEAR = 2024
LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES"


# ------------------------------------------------------------------ the catalogue


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)


def po_entries(path: Path) -> list[dict]:
    """Entries of a .po file as dicts: ``msgid``, optional ``msgid_plural``, ``msgstr``
    (a str) or ``msgstr[0]``, ``msgstr[1]``, and ``flags`` (set). The header is the
    entry with ``msgid == ""``. Obsolete (``#~``) entries are left out."""
    entries, current, key = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if current is not None:
                entries.append(current)
            current, key = None, None
            continue
        if line.startswith("#~"):
            continue
        current = current if current is not None else {"flags": set()}
        if line.startswith("#,"):
            current["flags"].update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            current[key] += _unescape(line[1:-1])
        else:
            key, _, value = line.partition(" ")
            current[key] = _unescape(value.strip()[1:-1])
    return entries


PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")


def placeholders(text: str) -> list[str]:
    return sorted(m.group(0) for m in PLACEHOLDER.finditer(text))


@pytest.fixture(scope="module")
def entries():
    all_entries = po_entries(LOCALE_DIR / "django.po")
    header = [e for e in all_entries if e["msgid"] == ""]
    assert len(header) == 1
    return header[0], [e for e in all_entries if e["msgid"] != ""]


def test_po_header_declares_german_plural_forms(entries):
    header, _ = entries
    assert "fuzzy" not in header["flags"]
    assert "Language: de\n" in header["msgstr"]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header["msgstr"]


def test_every_msgid_is_translated_and_none_is_fuzzy(entries):
    _, items = entries
    assert len(items) > 300
    untranslated = [e["msgid"] for e in items if not (e.get("msgstr") or (e.get("msgstr[0]") and e.get("msgstr[1]")))]
    assert untranslated == []
    assert [e["msgid"] for e in items if "fuzzy" in e["flags"]] == []


# Language-neutral msgids whose German is the same text.
SAME_IN_GERMAN = {
    "Reg.-Nr.",
    "KeZa",
    "KeZa %(code)s",
    "KeZa %(code)s, %(year)s",
    "Median",
    "Min.",
    "Max.",
    "P5",
    "P25",
    "P75",
    "P95",
    "ok",
    "Status",
    "Audits",
}


def test_no_msgid_is_copied_as_its_translation(entries):
    _, items = entries
    copied = [e["msgid"] for e in items if e.get("msgstr") == e["msgid"]]
    assert sorted(set(copied) - SAME_IN_GERMAN) == []


def test_placeholders_are_kept(entries):
    _, items = entries
    wrong = []
    for e in items:
        if "msgid_plural" in e:
            if placeholders(e["msgstr[1]"]) != placeholders(e["msgid_plural"]):
                wrong.append(e["msgid_plural"])
            allowed = set(placeholders(e["msgid"]) + placeholders(e["msgid_plural"]))
            if not set(placeholders(e["msgstr[0]"])) <= allowed:
                wrong.append(e["msgid"])
        elif placeholders(e["msgstr"]) != placeholders(e["msgid"]):
            wrong.append(e["msgid"])
    assert wrong == []


def test_compiled_mo_matches_the_po(entries):
    """The committed .mo is compiled from the current .po (a fresh machine needs no
    gettext tools)."""
    _, items = entries
    with (LOCALE_DIR / "django.mo").open("rb") as handle:
        mo = gettext.GNUTranslations(handle)
    stale = []
    for e in items:
        if "msgid_plural" in e:
            got = (mo.ngettext(e["msgid"], e["msgid_plural"], 1), mo.ngettext(e["msgid"], e["msgid_plural"], 2))
            if got != (e["msgstr[0]"], e["msgstr[1]"]):
                stale.append(e["msgid"])
        elif mo.gettext(e["msgid"]) != e["msgstr"]:
            stale.append(e["msgid"])
    assert stale == []


def test_our_catalogue_wins_over_djangos(entries):
    """Every msgid resolves to our German, also where Django's catalogue has the same
    msgid with another meaning ("History" -> "Geschichte" in the admin)."""
    _, items = entries
    with translation.override("de"):
        assert translation.gettext("History") == "Verlauf"
        assert translation.gettext("Home") == "Start"
        overridden = []
        for e in items:
            if "msgid_plural" in e:
                if translation.ngettext(e["msgid"], e["msgid_plural"], 2) != e["msgstr[1]"]:
                    overridden.append(e["msgid"])
            elif translation.gettext(e["msgid"]) != e["msgstr"]:
                overridden.append(e["msgid"])
    assert overridden == []


def test_german_plural_forms(db):
    with translation.override("de"):
        one = translation.ngettext("%(n)d error", "%(n)d errors", 1) % {"n": 1}
        two = translation.ngettext("%(n)d warning", "%(n)d warnings", 2) % {"n": 2}
    assert (one, two) == ("1 Fehler", "2 Warnungen")


# ---------------------------------------------------------------------- the pages


def _definition(code: str) -> IndicatorDefinition:
    return IndicatorDefinition.objects.get(version_id="KJ2024", code=code)


def _deviation(site) -> Deviation:
    return Deviation.objects.create(
        site=site,
        indicator_year=YEAR,
        code="2a",
        flag=Flag.TARGET_NOT_MET,
        definition=_definition("2a"),
        state=DeviationState.OPEN,
        numerator=18,
        denominator=20,
        is_active=True,
    )


def _national_values() -> None:
    for numerator in (0, 15, 19):
        Evaluation.objects.create(
            site=SiteFactory(), indicator_year=YEAR, definition=_definition("2a"), numerator=numerator, denominator=20
        )


def _english(client) -> None:
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.cookies["django_language"].value == "en"


# page -> (user fixture or None, URL builder, German labels, English labels); each label
# must appear in its language and not in the other.
PAGES = {
    "login": (
        None,
        lambda ctx: reverse("login"),
        ["Anmelden", "Datenblätter einreichen, Auffälligkeiten bearbeiten"],
        ["Log in", "Submit data sheets, review deviations"],
    ),
    "home": (
        "coordinator",
        lambda ctx: reverse("home"),
        [
            "Standorte",
            "Datenblätter",
            "Auffälligkeiten",
            "Willkommen",
            "Zentrumskoordinator/in",
            "offene Auffälligkeit braucht eine Begründung",
        ],
        ["Sites", "Data sheets", "Deviations", "Welcome", "Centre coordinator", "open deviation needs a justification"],
    ),
    "site detail": (
        "coordinator",
        lambda ctx: reverse("centres:site_detail", args=[ctx["site"].pk]),
        [
            "Kennzahlenjahr",
            "Vorlage herunterladen",
            "Datenblatt hochladen",
            "Erstzertifizierung",
            "Datenblätter dieses Standorts",
            "begründet",
            "erledigt",
        ],
        [
            "Indicator year",
            "Download data sheet template",
            "Upload data sheet",
            "Initial certification",
            "Data sheets of this site",
            "justified",
            "resolved",
        ],
    ),
    "deviation list": (
        "coordinator",
        lambda ctx: reverse("indicators:deviation_list"),
        [
            "Auffälligkeiten",
            "Kennzahlenjahr",
            "Sollvorgabe nicht erfüllt",
            "Aktiv / geschlossen",
            "Zähler",
            "Nenner",
            "Quote",
        ],
        ["Deviations", "Indicator year", "target not met", "Active / closed", "Numerator", "Denominator"],
    ),
    "deviation detail": (
        "coordinator",
        lambda ctx: reverse("indicators:deviation_detail", args=[ctx["deviation"].pk]),
        ["Verlauf", "Begründung angeben", "Plausibilitätskorridor", "Sollvorgabe"],
        ["History", "Give a justification", "Plausibility corridor", "Target"],
    ),
    "national": (
        "commission",
        lambda ctx: reverse("indicators:national") + f"?indicator_year={YEAR}",
        ["Bundesweite Auswertung", "Kennzahlenjahr", "Gesamtquote / Summe", "Katalogversion"],
        ["National results", "Indicator year", "Pooled rate / total", "Catalogue version"],
    ),
    "national indicator": (
        "commission",
        lambda ctx: reverse("indicators:national_indicator", args=[YEAR, "2a"]),
        [
            "Bundesweite Auswertung",
            "Verteilung über die Standorte",
            "Gesamtquote",
            "25. / 75. Perzentil",
            "Ein Standort hat den Wert 0",
        ],
        [
            "National results",
            "Distribution of the sites",
            "Pooled rate",
            "25th / 75th percentile",
            "One site has the value 0",
        ],
    ),
}


@pytest.fixture
def page_context(catalogue, site_a):
    _national_values()
    return {"site": site_a, "deviation": _deviation(site_a)}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_is_german_by_default_and_english_after_the_switch(page, client, page_context, request):
    who, url_of, german, english = PAGES[page]
    if who:
        client.force_login(request.getfixturevalue(who))
    url = url_of(page_context)

    body = client.get(url).content.decode()
    assert '<html lang="de">' in body
    assert [label for label in german if label not in body] == []
    assert [label for label in english if label in body] == []

    _english(client)
    body = client.get(url).content.decode()
    assert '<html lang="en">' in body
    assert [label for label in english if label not in body] == []
    assert [label for label in german if label in body] == []


@pytest.mark.django_db
def test_german_first_even_for_an_english_browser(client, coordinator):
    client.force_login(coordinator)
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "de"
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="de").headers["Content-Language"] == "en"


# ------------------------------------------------------------ service refusals (issue 7)


@pytest.mark.parametrize(
    ("who", "status", "german", "english"),
    [
        (
            "coordinator",
            "evaluated",
            "Diese Revision wartet nicht auf eine Bestätigung.",
            "This revision is not awaiting confirmation.",
        ),
        (
            "auditor",
            "validated",
            "Für diesen Standort dürfen Sie keine Datenblätter bestätigen oder verwerfen.",
            "You may not confirm or discard data sheets for this site.",
        ),
    ],
)
def test_refused_confirmation_is_german_by_default_and_english_after_the_switch(
    client, catalogue, site_a, who, status, german, english, request
):
    user = request.getfixturevalue(who)
    revision = DatasheetRevisionFactory(site=site_a, uploaded_by=request.getfixturevalue("coordinator"), status=status)
    client.force_login(user)
    url = reverse("datasheets:revision_confirm", args=[revision.pk])

    body = client.post(url, follow=True).content.decode()
    assert german in body and english not in body

    _english(client)
    body = client.post(url, follow=True).content.decode()
    assert english in body and german not in body
    revision.refresh_from_db()
    assert (revision.status, revision.confirmed_at) == (status, None)  # nothing changed
