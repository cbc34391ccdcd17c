"""Files refused as unsafe are kept, but never served back as they were (issue 8).

The download of such a revision answers a German page (HTTP 403) naming the SHA-256 and
the located reasons, the revision page shows no download link; a good file is still
served as an attachment.
"""

import hashlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from datasheets.choices import RevisionStatus
from datasheets.layout import layout_for
from datasheets.models import DatasheetRevision
from datasheets.quarantine import FileRefusal, RefusalReason, revision_file_refusal
from datasheets.services import datasheet_template_build
from indicators.models import CatalogueVersion
from tests.datasheets.helpers import consistent_values
from tests.factories import DatasheetRevisionFactory

BAD = Path(__file__).resolve().parents[1] / "data" / "datasheets" / "bad"
UNSAFE_FILES = {  # bad corpus file -> the place named on the page
    "container_vba_renamed.xlsx": "Datei!xl/vbaProject.bin",  # macros (VBA) in an .xlsx
    "container_macro_content_type.xlsx": "Datei![Content_Types].xml",  # declared macro-enabled
    "container_external_link.xlsx": "Datei!xl/externalLinks",  # link to a file on a share
}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _upload(client, user, site, name: str, content: bytes, capture) -> DatasheetRevision:
    client.force_login(user)
    with capture(execute=True):
        response = client.post(
            reverse("datasheets:upload"), {"site": site.pk, "file": SimpleUploadedFile(name, content)}
        )
    assert response.status_code == 302, response.content[:500]
    return DatasheetRevision.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))


@pytest.mark.parametrize("name", sorted(UNSAFE_FILES))
def test_unsafe_file_is_never_served_back(
    name, client, catalogue, coordinator, office, site_a, media, django_capture_on_commit_callbacks
):
    content = (BAD / name).read_bytes()
    revision = _upload(client, coordinator, site_a, name, content, django_capture_on_commit_callbacks)
    assert revision.status == RevisionStatus.FAILED
    assert any(e["code"] == "unsafe_content" for e in revision.errors)
    # kept for the record, byte for byte
    assert revision.file.read() == content and revision.sha256 == hashlib.sha256(content).hexdigest()

    url = reverse("datasheets:revision_file", args=[revision.pk])
    for user in (coordinator, office):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 403
        assert not response.streaming and "Content-Disposition" not in response
        assert response["Content-Type"].startswith("text/html")
        body = response.content.decode()
        assert content[:4] not in response.content  # no zip bytes
        assert "Datei wird nicht zum Herunterladen angeboten" in body
        assert "als unsicher abgelehnt" in body
        assert revision.sha256 in body
        assert "[unsafe_content]" in body and UNSAFE_FILES[name] in body
        assert 'role="alert"' in body and 'data-code="unsafe"' in body

    page = client.get(reverse("datasheets:revision_detail", args=[revision.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert url not in html
    assert 'data-refusal="unsafe"' in html and revision.sha256[:12] in html


def test_refusal_page_in_english(client, catalogue, coordinator, site_a):
    revision = DatasheetRevisionFactory(
        site=site_a,
        status=RevisionStatus.FAILED,
        errors=[{"sheet": "Datei", "cell": "xl/vbaProject.bin", "code": "unsafe_content", "message_en": "Macros."}],
    )
    client.force_login(coordinator)
    client.cookies["django_language"] = "en"
    response = client.get(reverse("datasheets:revision_file", args=[revision.pk]))
    assert response.status_code == 403
    body = response.content.decode()
    assert "This file was refused as unsafe." in body
    assert "Datei!xl/vbaProject.bin" in body and "Macros." in body


def test_good_file_is_served_as_attachment(
    client, catalogue, coordinator, site_a, media, django_capture_on_commit_callbacks
):
    layout = layout_for(CatalogueVersion.objects.get(pk="KJ2022"))
    filename, content = datasheet_template_build(site=site_a, indicator_year=2022, values=consistent_values(layout))
    revision = _upload(client, coordinator, site_a, filename, content, django_capture_on_commit_callbacks)
    assert revision.status == RevisionStatus.EVALUATED, revision.errors
    url = reverse("datasheets:revision_file", args=[revision.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;") and filename in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == content
    assert url in client.get(reverse("datasheets:revision_detail", args=[revision.pk])).content.decode()


def test_pending_file_is_not_served_before_its_check(client, catalogue, coordinator, site_a, media):
    revision = DatasheetRevisionFactory(site=site_a, uploaded_by=coordinator, status=RevisionStatus.PENDING)
    client.force_login(coordinator)
    response = client.get(reverse("datasheets:revision_file", args=[revision.pk]))
    assert response.status_code == 403
    body = response.content.decode()
    assert 'data-code="unchecked"' in body and "noch nicht geprüft" in body
    assert revision.sha256 in body


def test_other_centres_unsafe_file_answers_404(client, catalogue, coordinator, site_b):
    revision = DatasheetRevisionFactory(
        site=site_b,
        status=RevisionStatus.FAILED,
        errors=[{"sheet": "Datei", "cell": "A1", "code": "unsafe_content"}],
    )
    client.force_login(coordinator)
    assert client.get(reverse("datasheets:revision_file", args=[revision.pk])).status_code == 404


def _rev(status=RevisionStatus.FAILED, errors=()):
    return DatasheetRevision(status=status, errors=list(errors))


@pytest.mark.parametrize(
    ("errors", "refused"),
    [
        ([{"sheet": "Datei", "cell": "xl/externalLinks", "code": "unsafe_content"}], True),
        ([{"sheet": "Kennzahlen", "cell": "XFD1048576", "code": "unsafe_content"}], True),
        ([{"sheet": "Datei", "cell": "A1", "code": "file_type"}], True),
        ([{"sheet": "Deckblatt", "cell": "A1", "code": "file_type"}], True),
        ([{"sheet": "Datei", "cell": "A1", "code": "file_too_large"}], True),
        ([{"sheet": "Datei", "cell": "A1", "code": "processing_aborted"}], True),  # located on the file
        ([{"sheet": "Kennzahlen", "cell": "C12", "code": "required"}], False),
        ([{"sheet": "Deckblatt", "cell": "B3", "code": "site_unknown"}], False),
        ([], False),
    ],
)
def test_refusal_rule(errors, refused):
    result = revision_file_refusal(_rev(errors=errors))
    if refused:
        assert result == FileRefusal(RefusalReason.UNSAFE, tuple(errors))
    else:
        assert result is None


def test_refusal_lists_only_the_file_problems():
    unsafe = {"sheet": "Datei", "cell": "[Content_Types].xml", "code": "unsafe_content"}
    value = {"sheet": "Kennzahlen", "cell": "C12", "code": "required"}
    assert revision_file_refusal(_rev(errors=[value, unsafe])).problems == (unsafe,)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (RevisionStatus.PENDING, FileRefusal(RefusalReason.UNCHECKED)),
        (RevisionStatus.VALIDATED, None),
        (RevisionStatus.EVALUATED, None),
        (RevisionStatus.DISCARDED, None),
    ],
)
def test_refusal_by_status(status, expected):
    assert revision_file_refusal(_rev(status=status)) == expected
