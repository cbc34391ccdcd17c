"""Views of the answer to an Abweichung (issue 9): the coordinator's multipart answer
(statement + evidence files, all or nothing), the auditor's send back, the evidence
download (attachment only, out of scope 404) and the answer part of the deviation
page (``{% deviation_answer %}``) per role and state, with the overdue note.

Expected texts are the German UI (the default language); sizes and dates in German
format were computed by hand.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from centres.models import LogEntry, Role
from indicators.choices import DeviationState
from indicators.evidence import evidence_add
from indicators.models import Deviation, Evidence
from indicators.services import deviation_respond, deviation_send_back
from tests.factories import MembershipFactory, UserFactory
from tests.indicators.evidence_samples import image_bytes, make_deviation, pdf_bytes, snapshot, stored_files

PDF_2K = pdf_bytes(pad=2048 - len(pdf_bytes()) - 2)  # exactly 2,048 bytes: "2,0 KB"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def nonconformity(catalogue, site_a, coordinator, auditor):
    return make_deviation(site_a, coordinator=coordinator, auditor=auditor)


@pytest.fixture
def answered(nonconformity, coordinator):
    deviation = deviation_respond(deviation=nonconformity, text="Protokolle liegen bei.", acting_user=coordinator)
    evidence_add(deviation=deviation, filename="Protokoll.pdf", content=PDF_2K, acting_user=coordinator)
    return deviation


@pytest.fixture
def auditor_no_audit(site_a):
    user = UserFactory(username="auditor_idle")
    MembershipFactory(user=user, site=site_a, role=Role.AUDITOR)
    return user


def login(client, user):
    client.force_login(user)
    return client


def page(client, deviation) -> str:
    response = client.get(reverse("indicators:deviation_detail", args=[deviation.pk]))
    assert response.status_code == 200
    return response.content.decode()


def answer_section(html: str) -> str:
    """The part rendered by ``{% deviation_answer %}`` ("" when it shows nothing)."""
    match = re.search(r'<section aria-labelledby="answer-heading".*?</section>', html, re.S)
    return match.group(0) if match else ""


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


# --- the answer POST --------------------------------------------------------------------


def test_answer_with_two_files_is_saved_and_listed(client, nonconformity, coordinator, media):
    login(client, coordinator)
    png = image_bytes("PNG")
    response = client.post(
        reverse("indicators:deviation_answer", args=[nonconformity.pk]),
        {"text": "Protokolle liegen bei.", "files": [upload("Protokoll.pdf", PDF_2K), upload("Foto.png", png)]},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("indicators:deviation_detail", args=[nonconformity.pk])
    stored = Deviation.objects.get(pk=nonconformity.pk)
    assert stored.response == "Protokolle liegen bei." and stored.awaiting_review
    assert list(stored.evidence.order_by("pk").values_list("filename", "size", "content_type")) == [
        ("Protokoll.pdf", 2048, "application/pdf"),
        ("Foto.png", len(png), "image/png"),
    ]
    assert len(stored_files(media)) == 2
    section = answer_section(page(client, stored))
    assert "Protokolle liegen bei." in section
    assert '>Protokoll.pdf</a> <span class="muted">(2,0\xa0KB,' in section  # German size format
    first = stored.evidence.order_by("pk").first()
    assert f'href="{reverse("indicators:evidence_download", args=[first.pk])}"' in section
    assert "wartet auf die Prüfung" in section
    assert 'action="' + reverse("indicators:deviation_answer", args=[stored.pk]) not in section  # answered


def test_answer_with_a_bad_second_file_writes_nothing_and_names_the_file(client, nonconformity, coordinator, media):
    login(client, coordinator)
    before = snapshot(media)
    response = client.post(
        reverse("indicators:deviation_answer", args=[nonconformity.pk]),
        {
            "text": "Protokolle liegen bei.",
            "files": [upload("Protokoll.pdf", PDF_2K), upload("Bild.pdf", image_bytes("PNG"))],
        },
    )
    assert response.status_code == 200
    assert snapshot(media) == before
    html = response.content.decode()
    errors = re.search(r'<ul class="errorlist"[^>]*id="answer_files_error"[^>]*>(.*?)</ul>', html, re.S)
    assert errors is not None, "the error belongs to the file field"
    assert "Bild.pdf: Ein Nachweis muss eine PDF-, PNG- oder JPEG-Datei sein" in errors.group(1)
    assert "Protokoll.pdf" not in errors.group(1)
    # the statement typed stays in the form
    assert "Protokolle liegen bei.</textarea>" in html


def test_answer_with_a_too_large_file_names_it(client, nonconformity, coordinator, media, settings):
    settings.QIPORTAL_EVIDENCE_MAX_BYTES = 1024
    login(client, coordinator)
    before = snapshot(media)
    response = client.post(
        reverse("indicators:deviation_answer", args=[nonconformity.pk]),
        {"text": "Anbei", "files": [upload("Scan.pdf", PDF_2K)]},
    )
    assert response.status_code == 200
    assert snapshot(media) == before
    assert "Scan.pdf: Die Datei ist 2,0\xa0KB groß; erlaubt sind höchstens 1,0\xa0KB." in response.content.decode()


def test_answer_without_files_is_the_statement_only(client, nonconformity, coordinator):
    login(client, coordinator)
    response = client.post(reverse("indicators:deviation_answer", args=[nonconformity.pk]), {"text": "Erledigt."})
    assert response.status_code == 302
    stored = Deviation.objects.get(pk=nonconformity.pk)
    assert stored.response == "Erledigt." and stored.evidence.count() == 0


def test_answer_without_text_writes_nothing(client, nonconformity, coordinator, media):
    login(client, coordinator)
    before = snapshot(media)
    response = client.post(
        reverse("indicators:deviation_answer", args=[nonconformity.pk]), {"files": [upload("a.pdf", PDF_2K)]}
    )
    assert response.status_code == 200
    assert snapshot(media) == before


@pytest.mark.parametrize("role", ["commission", "auditor", "office"])
def test_answer_by_a_role_that_may_only_view_or_decide_is_403(role, request, client, nonconformity, media):
    login(client, request.getfixturevalue(role))
    before = snapshot(media)
    response = client.post(
        reverse("indicators:deviation_answer", args=[nonconformity.pk]),
        {"text": "Erledigt.", "files": [upload("a.pdf", PDF_2K)]},
    )
    assert response.status_code == 403
    assert snapshot(media) == before


def test_answer_in_a_wrong_state_is_a_message_on_the_page(client, answered, auditor, coordinator, media):
    from indicators.services import deviation_resolve

    deviation_resolve(deviation=answered, acting_user=auditor)
    login(client, coordinator)
    before = snapshot(media)
    response = client.post(reverse("indicators:deviation_answer", args=[answered.pk]), {"text": "Nachtrag"})
    assert response.status_code == 200
    assert "Dieser Schritt ist im aktuellen Bearbeitungsstand nicht möglich." in response.content.decode()
    assert snapshot(media) == before


@pytest.mark.parametrize("role", ["coordinator_b", "auditor_no_audit"])
def test_answer_out_of_scope_is_404(role, request, client, nonconformity, media):
    login(client, request.getfixturevalue(role))
    before = snapshot(media)
    response = client.post(
        reverse("indicators:deviation_answer", args=[nonconformity.pk]),
        {"text": "Erledigt.", "files": [upload("a.pdf", PDF_2K)]},
    )
    assert response.status_code == 404
    assert snapshot(media) == before


def test_answer_get_is_not_allowed(client, nonconformity, coordinator):
    login(client, coordinator)
    assert client.get(reverse("indicators:deviation_answer", args=[nonconformity.pk])).status_code == 405


# --- send back --------------------------------------------------------------------------


def test_auditor_sends_the_answer_back_and_the_coordinator_sees_why(client, answered, auditor, coordinator):
    login(client, auditor)
    response = client.post(
        reverse("indicators:deviation_send_back", args=[answered.pk]), {"comment": "Protokoll 3 fehlt."}
    )
    assert response.status_code == 302
    stored = Deviation.objects.get(pk=answered.pk)
    assert stored.state == DeviationState.NONCONFORMITY and not stored.awaiting_review
    assert LogEntry.objects.filter(object_id=stored.pk, action="indicators.deviation.sent_back").count() == 1
    login(client, coordinator)
    section = answer_section(page(client, stored))
    assert "Protokoll 3 fehlt." in section
    assert 'action="' + reverse("indicators:deviation_answer", args=[stored.pk]) in section  # may answer again
    assert "Protokolle liegen bei.</textarea>" in section  # the earlier statement to edit


def test_send_back_without_comment_is_refused(client, answered, auditor, media):
    login(client, auditor)
    before = snapshot(media)
    response = client.post(reverse("indicators:deviation_send_back", args=[answered.pk]), {"comment": ""})
    assert response.status_code == 200
    assert snapshot(media) == before
    assert 'id="send_back_comment_error"' in response.content.decode()


@pytest.mark.parametrize("role", ["coordinator", "commission"])
def test_send_back_by_a_role_that_may_not_decide_is_403(role, request, client, answered, media):
    login(client, request.getfixturevalue(role))
    before = snapshot(media)
    response = client.post(reverse("indicators:deviation_send_back", args=[answered.pk]), {"comment": "selbst"})
    assert response.status_code == 403
    assert snapshot(media) == before


def test_send_back_of_an_unanswered_nonconformity_is_a_message(client, nonconformity, auditor, media):
    login(client, auditor)
    before = snapshot(media)
    response = client.post(reverse("indicators:deviation_send_back", args=[nonconformity.pk]), {"comment": "?"})
    assert response.status_code == 200
    assert "Das Zentrum hat zu dieser Abweichung noch nicht Stellung genommen." in response.content.decode()
    assert snapshot(media) == before


def test_send_back_out_of_scope_is_404(client, answered, coordinator_b, media):
    login(client, coordinator_b)
    before = snapshot(media)
    response = client.post(reverse("indicators:deviation_send_back", args=[answered.pk]), {"comment": "x"})
    assert response.status_code == 404
    assert snapshot(media) == before


# --- download ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "auditor", "commission", "office"])
def test_download_is_an_attachment_with_nosniff(role, request, client, answered):
    evidence = answered.evidence.get()
    login(client, request.getfixturevalue(role))
    response = client.get(reverse("indicators:evidence_download", args=[evidence.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="Protokoll.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"].split("; ")
    assert b"".join(response.streaming_content) == PDF_2K


def test_download_keeps_a_german_file_name(client, answered, coordinator):
    evidence = evidence_add(
        deviation=answered, filename="Ärztebrief.png", content=image_bytes("PNG"), acting_user=coordinator
    )
    login(client, coordinator)
    response = client.get(reverse("indicators:evidence_download", args=[evidence.pk]))
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''%C3%84rztebrief.png"
    assert response["Content-Type"] == "image/png"


@pytest.mark.parametrize("role", ["coordinator_b", "auditor_no_audit"])
def test_download_out_of_scope_is_404(role, request, client, answered):
    evidence = answered.evidence.get()
    login(client, request.getfixturevalue(role))
    assert client.get(reverse("indicators:evidence_download", args=[evidence.pk])).status_code == 404


def test_download_unknown_is_404_and_anonymous_goes_to_login(client, answered, coordinator):
    evidence = answered.evidence.get()
    response = client.get(reverse("indicators:evidence_download", args=[evidence.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    login(client, coordinator)
    assert client.get(reverse("indicators:evidence_download", args=[evidence.pk + 99])).status_code == 404


def test_download_of_a_missing_stored_file_is_404(client, answered, coordinator, media):
    evidence = answered.evidence.get()
    for path in media.rglob("*.pdf"):
        path.unlink()
    login(client, coordinator)
    assert client.get(reverse("indicators:evidence_download", args=[evidence.pk])).status_code == 404


# --- the answer part of the deviation page -------------------------------------------------


def test_coordinator_sees_the_answer_form_and_the_overdue_note(client, nonconformity, coordinator):
    login(client, coordinator)
    section = answer_section(page(client, nonconformity))
    action = reverse("indicators:deviation_answer", args=[nonconformity.pk])
    form = re.search(rf'<form method="post" action="{action}"[^>]*>', section)
    assert form is not None and 'enctype="multipart/form-data"' in form.group(0)
    assert re.search(r'<input type="file" name="files"[^>]*accept="\.pdf,\.png,\.jpg,\.jpeg"[^>]*multiple', section)
    assert '<label for="answer_files">' in section and '<label for="answer_text">' in section
    # due 30.09.2023, so overdue since the next day
    assert "überfällig seit 01.10.2023" in section
    assert 'Frist: <time datetime="2023-09-30">30.09.2023</time>' in section


def test_no_overdue_note_before_the_due_date(client, catalogue, site_a, coordinator, auditor):
    deviation = make_deviation(site_a, coordinator=coordinator, auditor=auditor)
    Deviation.objects.filter(pk=deviation.pk).update(due_date=dt.date.today() + dt.timedelta(days=1))
    login(client, coordinator)
    section = answer_section(page(client, deviation))
    assert section and "überfällig" not in section


def test_auditor_sees_resolve_and_send_back_only_while_the_answer_awaits(client, nonconformity, answered, auditor):
    login(client, auditor)
    section = answer_section(page(client, answered))
    html = page(client, answered)
    assert f'action="{reverse("indicators:deviation_send_back", args=[answered.pk])}"' in section
    assert f'action="{reverse("indicators:deviation_resolve", args=[answered.pk])}"' in html
    assert 'name="files"' not in section
    assert "Protokolle liegen bei." in section and "Protokoll.pdf" in section
    deviation_send_back(deviation=answered, comment="Protokoll 3 fehlt.", acting_user=auditor)
    section = answer_section(page(client, answered))
    assert reverse("indicators:deviation_send_back", args=[answered.pk]) not in section


def test_commission_sees_the_answer_without_forms(client, answered, commission):
    login(client, commission)
    section = answer_section(page(client, answered))
    assert "Protokolle liegen bei." in section and "Protokoll.pdf" in section
    assert "<form" not in section


@pytest.mark.parametrize("state", [DeviationState.JUSTIFIED, DeviationState.ACCEPTED])
def test_no_answer_part_outside_a_nonconformity(state, client, catalogue, site_a, coordinator, auditor):
    deviation = make_deviation(site_a, state=state, coordinator=coordinator, auditor=auditor)
    login(client, coordinator)
    assert answer_section(page(client, deviation)) == ""


def test_evidence_of_a_resolved_deviation_stays_listed(client, answered, auditor, coordinator):
    from indicators.services import deviation_resolve

    deviation_resolve(deviation=answered, acting_user=auditor)
    login(client, coordinator)
    section = answer_section(page(client, answered))
    assert "Protokoll.pdf" in section and "<form" not in section and "überfällig" not in section
    assert Evidence.objects.filter(deviation=answered).count() == 1


def test_the_auditor_resolves_an_answered_abweichung_below_the_answer(client, answered, nonconformity, auditor):
    """One resolve form, after the centre's statement: the auditor reads before deciding.
    Before an answer the page's own resolve step stays (the auditor may resolve on site)."""
    resolve_url = reverse("indicators:deviation_resolve", args=[answered.pk])
    html = page(login(client, auditor), answered)
    assert html.count(f'action="{resolve_url}') == 1
    assert html.index("Protokolle liegen bei.") < html.index(f'action="{resolve_url}')
    assert f'action="{resolve_url}' in answer_section(html)


def test_before_an_answer_the_page_offers_resolve_once(client, nonconformity, auditor):
    resolve_url = reverse("indicators:deviation_resolve", args=[nonconformity.pk])
    html = page(login(client, auditor), nonconformity)
    assert html.count(f'action="{resolve_url}') == 1
    assert f'action="{resolve_url}' not in answer_section(html)
