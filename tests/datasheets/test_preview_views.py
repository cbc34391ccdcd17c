"""Web flow of issue 4: re-upload -> preview of the changes -> confirm or discard;
identical bytes say so; other centres get 404. The page is matched by stable codes
(KeZa ``data-code``, flag badge classes, message ``data-code``), never by its prose."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from datasheets.layout import IND_DENOMINATOR, IND_NUMERATOR, layout_for
from datasheets.models import DatasheetRevision
from datasheets.services import datasheet_template_build
from indicators.models import CatalogueVersion
from tests.datasheets.helpers import consistent_values, edit_workbook

KJ2022_INDICATORS = 18  # 1a 1b 2 2a 3 4 5 6a 6b 7 8 9 10 11 12 13 14 20 (catalogue KJ2022)
PREVIEW = re.compile(r'<section aria-labelledby="preview-heading"[^>]*data-changed="(\d+)" data-unchanged="(\d+)"')
BADGE = re.compile(r'<span class="badge badge--([\w-]+)">.*?</span>', re.S)


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


def _preview_rows(html: str) -> dict[str, list[str]]:
    """The preview table by KeZa code (``data-code``): cell texts, a flag badge as
    ``[flag]``, no markup."""
    rows = {}
    for code, row in re.findall(r'<tr data-code="([^"]+)">(.*?)</tr>', html, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows[code] = [" ".join(re.sub(r"<[^>]+>", "", BADGE.sub(r"[\1]", c)).split()) for c in cells]
    return rows


def _message_codes(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.extra_tags) for m in response.context["messages"]]


@pytest.mark.django_db(transaction=True)
def test_reupload_shows_preview_and_confirm_replaces(client, catalogue, site_a, coordinator, coordinator_b):
    client.force_login(coordinator)
    first = _upload(client, site_a, _content(site_a, 15))
    assert first.status_code == 200
    assert PREVIEW.search(first.content.decode()) is None  # nothing to replace yet
    response = _upload(client, site_a, _content(site_a, 5))
    assert response.status_code == 200
    second = DatasheetRevision.objects.latest("pk")
    assert response.redirect_chain[-1][0] == reverse("datasheets:revision_detail", args=[second.pk])
    assert second.awaiting_confirmation
    html = response.content.decode()
    # KJ2022 KeZa 20 (no target, plausible from 60 %): 15/20 = 75 % was fine, 5/20 = 25 %
    # is implausible_low; every other indicator stays as it is (SPEC §4)
    assert PREVIEW.search(html).groups() == ("1", str(KJ2022_INDICATORS - 1))
    assert _preview_rows(html) == {
        "20": ["20", "Dauer der Strahlentherapie bei Larynxkarzinom", "15 → 5", "20 → 20", "[implausible_low]", "–"]
    }
    assert reverse("datasheets:revision_confirm", args=[second.pk]) in html
    assert reverse("datasheets:revision_discard", args=[second.pk]) in html

    client.force_login(coordinator_b)
    assert client.post(reverse("datasheets:revision_confirm", args=[second.pk])).status_code == 404
    second.refresh_from_db()
    assert second.awaiting_confirmation

    client.force_login(coordinator)
    response = client.post(reverse("datasheets:revision_confirm", args=[second.pk]), follow=True)
    assert response.status_code == 200
    assert [level for level, _code in _message_codes(response)] == ["success"]
    second.refresh_from_db()
    assert second.status == "evaluated" and second.is_current
    # Confirming twice is refused with a coded message, not an error page.
    response = client.post(reverse("datasheets:revision_confirm", args=[second.pk]), follow=True)
    assert response.status_code == 200
    assert _message_codes(response) == [("error", "wrong_state")]
    assert 'role="alert" data-code="wrong_state"' in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_discard_and_duplicate_upload(client, catalogue, site_a, coordinator):
    client.force_login(coordinator)
    _upload(client, site_a, _content(site_a, 15))
    current = DatasheetRevision.objects.get(is_current=True)
    content = _content(site_a, 5)
    _upload(client, site_a, content)
    second = DatasheetRevision.objects.latest("pk")
    response = _upload(client, site_a, content, name="copy.xlsx")
    # the same bytes again: no new revision, the existing one's page, an info message
    assert DatasheetRevision.objects.count() == 2
    assert response.redirect_chain == [(reverse("datasheets:revision_detail", args=[second.pk]), 302)]
    (message,) = response.context["messages"]
    assert message.level_tag == "info" and f"#{second.pk}" in str(message)
    client.post(reverse("datasheets:revision_discard", args=[second.pk]))
    second.refresh_from_db()
    assert second.status == "discarded"
    assert DatasheetRevision.objects.get(is_current=True).pk == current.pk
