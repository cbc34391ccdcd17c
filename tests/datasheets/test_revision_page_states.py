"""What the revision page says after an upload (issue 9, "also fix"): a rejected file
gets no green "wird geprüft" beside its red result and a button to upload the corrected
file; a revision waiting on its preview says "wartet auf Ihre Bestätigung" without a
busy marker; an upload evaluated at once says so."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from datasheets.layout import IND_DENOMINATOR, IND_NUMERATOR, layout_for
from datasheets.models import DatasheetRevision
from datasheets.services import datasheet_template_build
from indicators.models import CatalogueVersion
from tests.datasheets.helpers import consistent_values, edit_workbook

CHECKING = "wird geprüft"


@pytest.fixture
def layout(catalogue):
    return layout_for(CatalogueVersion.objects.get(pk="KJ2022"))


def _sheet(site, layout, numerator=15) -> bytes:
    _n, content = datasheet_template_build(site=site, indicator_year=2022, values=consistent_values(layout))
    return edit_workbook(
        content,
        {
            ("Kennzahlen", layout.indicator_cell("20", IND_NUMERATOR)): numerator,
            ("Kennzahlen", layout.indicator_cell("20", IND_DENOMINATOR)): 20,
        },
    )


def _upload(client, site, content):
    return client.post(
        reverse("datasheets:upload"), {"site": site.pk, "file": SimpleUploadedFile("kht.xlsx", content)}, follow=True
    )


@pytest.mark.django_db(transaction=True)
def test_a_rejected_upload_offers_the_corrected_upload_and_no_green_message(layout, site_a, coordinator, client):
    client.force_login(coordinator)
    page = _upload(client, site_a, _sheet(site_a, layout, numerator="zwölf")).content.decode()
    assert DatasheetRevision.objects.get().status == "failed"
    assert CHECKING not in page and "message--success" not in page
    assert "message--error" in page
    upload_again = f'data-action="upload-corrected" href="{reverse("datasheets:upload")}?site={site_a.pk}"'
    assert upload_again in page
    assert "Korrigierte Datei hochladen" in page


@pytest.mark.django_db(transaction=True)
def test_an_upload_evaluated_at_once_says_so(layout, site_a, coordinator, client):
    client.force_login(coordinator)
    page = _upload(client, site_a, _sheet(site_a, layout)).content.decode()
    assert "Das Datenblatt wurde hochgeladen und ausgewertet." in page
    assert CHECKING not in page


@pytest.mark.django_db(transaction=True)
def test_a_revision_waiting_on_its_preview_waits_for_the_user_not_for_the_server(layout, site_a, coordinator, client):
    client.force_login(coordinator)
    _upload(client, site_a, _sheet(site_a, layout, numerator=15))
    response = _upload(client, site_a, _sheet(site_a, layout, numerator=5))
    waiting = DatasheetRevision.objects.order_by("-pk").first()
    assert waiting.awaiting_confirmation
    page = response.content.decode()
    assert '<span class="badge badge--status-awaiting">wartet auf Ihre Bestätigung</span>' in page
    assert "badge--busy" not in page
    assert "Bitte prüfen Sie die Vorschau" in page
    listing = client.get(reverse("datasheets:revision_list")).content.decode()
    assert "wartet auf Ihre Bestätigung" in listing


@pytest.mark.django_db(transaction=True)
def test_a_file_of_another_own_site_is_named_and_filed_under_neither(layout, site_a, coordinator, client):
    from centres.models import Role
    from tests.factories import MembershipFactory, SiteFactory

    other = SiteFactory(registration_number="KHT-1013")
    MembershipFactory(user=coordinator, site=other, role=Role.COORDINATOR)
    client.force_login(coordinator)
    page = _upload(client, site_a, _sheet(other, layout)).content.decode()  # chose site_a, file of KHT-1013
    revision = DatasheetRevision.objects.get()
    assert revision.status == "failed" and revision.site is None and revision.expected_site == site_a
    assert [(e["sheet"], e["cell"], e["code"]) for e in revision.errors] == [("Deckblatt", "B3", "site_mismatch")]
    assert revision.errors[0]["message_de"] == (
        "Die Datei ist für KHT-1013, ausgewählt haben Sie KHT-A01: bitte den Standort KHT-1013 wählen "
        "oder die Datei von KHT-A01 hochladen."
    )
    assert "Die Datei ist für KHT-1013, ausgewählt haben Sie KHT-A01" in page
    assert not other.revisions.exists() and not site_a.revisions.exists()
    assert revision.pk in {r.pk for r in client.get(reverse("datasheets:revision_list")).context["table"].data}


@pytest.mark.django_db(transaction=True)
def test_the_home_page_lists_previews_waiting_for_the_uploader(layout, site_a, coordinator, office, client):
    client.force_login(coordinator)
    home = client.get(reverse("home")).content.decode()
    assert "wartet auf Ihre Bestätigung (Vorschau)" not in home
    _upload(client, site_a, _sheet(site_a, layout, numerator=15))
    _upload(client, site_a, _sheet(site_a, layout, numerator=5))
    waiting = DatasheetRevision.objects.order_by("-pk").first()
    home = client.get(reverse("home")).content.decode()
    tile = f'<a href="{reverse("datasheets:revision_detail", args=[waiting.pk])}"><span class="tile__count">1</span>'
    assert tile in home
    assert "Datenblatt wartet auf Ihre Bestätigung (Vorschau)" in home
    client.force_login(office)  # not the office's upload: not its to-do
    assert "wartet auf Ihre Bestätigung (Vorschau)" not in client.get(reverse("home")).content.decode()
