"""Web flow of issue 4: re-upload -> preview of the changes -> confirm or discard;
identical bytes say so; other centres get 404."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from datasheets.layout import IND_DENOMINATOR, IND_NUMERATOR, layout_for
from datasheets.models import DatasheetRevision
from datasheets.services import datasheet_template_build
from indicators.models import CatalogueVersion
from tests.datasheets.helpers import consistent_values, edit_workbook


def _content(site, n20):
    layout = layout_for(CatalogueVersion.objects.get(pk="KJ2022"))
    _n, content = datasheet_template_build(
        site=site, indicator_year=2022, values=consistent_values(layout, justify=False)
    )
    return edit_workbook(
        content,
        {
            ("Kennzahlen", layout.indicator_cell("20", IND_NUMERATOR)): n20,
            ("Kennzahlen", layout.indicator_cell("20", IND_DENOMINATOR)): 20,
        },
    )


def _upload(client, site, content, name="ds.xlsx"):
    return client.post(
        reverse("datasheets:upload"), {"site": site.pk, "file": SimpleUploadedFile(name, content)}, follow=True
    )


@pytest.mark.django_db(transaction=True)
def test_reupload_shows_preview_and_confirm_replaces(client, catalogue, site_a, coordinator, coordinator_b):
    client.force_login(coordinator)
    first = _upload(client, site_a, _content(site_a, 15))
    assert first.status_code == 200
    response = _upload(client, site_a, _content(site_a, 5))
    assert response.status_code == 200
    second = DatasheetRevision.objects.latest("pk")
    assert second.awaiting_confirmation
    html = response.content.decode()
    assert "Vorschau" in html and "15 → <strong>5</strong>" in html
    assert reverse("datasheets:revision_confirm", args=[second.pk]) in html

    client.force_login(coordinator_b)
    assert client.post(reverse("datasheets:revision_confirm", args=[second.pk])).status_code == 404
    second.refresh_from_db()
    assert second.awaiting_confirmation

    client.force_login(coordinator)
    response = client.post(reverse("datasheets:revision_confirm", args=[second.pk]), follow=True)
    assert response.status_code == 200
    second.refresh_from_db()
    assert second.status == "evaluated" and second.is_current
    # Confirming twice is refused with a message, not an error page.
    response = client.post(reverse("datasheets:revision_confirm", args=[second.pk]), follow=True)
    assert response.status_code == 200 and "wartet nicht auf eine Bestätigung" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_discard_and_duplicate_upload(client, catalogue, site_a, coordinator):
    client.force_login(coordinator)
    _upload(client, site_a, _content(site_a, 15))
    content = _content(site_a, 5)
    _upload(client, site_a, content)
    second = DatasheetRevision.objects.latest("pk")
    response = _upload(client, site_a, content, name="copy.xlsx")
    assert DatasheetRevision.objects.count() == 2
    assert f"#{second.pk}" in response.content.decode() and "keine neue Revision" in response.content.decode()
    client.post(reverse("datasheets:revision_discard", args=[second.pk]))
    second.refresh_from_db()
    assert second.status == "discarded"
    assert DatasheetRevision.objects.get(is_current=True).pk != second.pk
