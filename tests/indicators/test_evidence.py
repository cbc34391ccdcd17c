"""Service-level tests of the answer to an Abweichung (issue 9, SPEC §4): the centre's
statement (``deviation_respond``), evidence files (``indicators.evidence``), the
auditor's send back and resolve, per role and per state.

Every refusal asserts its error code and that nothing was written (deviation rows, log
entries, evidence rows, stored files). Expected values are written by hand: the roles
come from ``centres.permissions.ROLE_ACTIONS`` (JUSTIFY: the coordinator of the site only;
DECIDE: the site's auditor through an audit of that indicator year, and office).
"""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings

from centres.models import LogEntry, Role
from indicators.choices import DeviationError, DeviationState
from indicators.evidence import deviation_answer, evidence_add, evidence_check, evidence_filename, sniff
from indicators.models import Deviation, Evidence
from indicators.services import deviation_resolve, deviation_respond, deviation_send_back
from qiportal.exceptions import ApplicationError
from tests.factories import MembershipFactory, UserFactory
from tests.indicators.evidence_samples import (
    HTML,
    image_bytes,
    make_deviation,
    pdf_bytes,
    snapshot,
    stored_files,
    zip_bytes,
)

ROLES = [
    "coordinator",
    "coordinator_b",
    "auditor",
    "auditor_no_audit",
    "auditor_b",
    "commission",
    "office",
    "anonymous",
]
CENTRE_SIDE = {"coordinator"}  # Action.JUSTIFY on site_a (the office may not speak for a centre)
AUDITOR_SIDE = {"auditor", "office"}  # Action.DECIDE on site_a, indicator year 2022
NOT_NONCONFORMITY = [
    DeviationState.OPEN,
    DeviationState.JUSTIFIED,
    DeviationState.ACCEPTED,
    DeviationState.NOTE,
    DeviationState.RESOLVED,
]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def auditor_no_audit(site_a):
    """Holds the auditor role at site_a but is auditor of no audit: no scope (issue 9)."""
    user = UserFactory(username="auditor_idle")
    MembershipFactory(user=user, site=site_a, role=Role.AUDITOR)
    return user


@pytest.fixture
def auditor_b(site_b):
    user = UserFactory(username="auditor_b")
    MembershipFactory(user=user, site=site_b, role=Role.AUDITOR)
    return user


@pytest.fixture
def actor(request):
    def get(role: str):
        return AnonymousUser() if role == "anonymous" else request.getfixturevalue(role)

    return get


@pytest.fixture
def nonconformity(catalogue, site_a, coordinator, auditor):
    return make_deviation(site_a, coordinator=coordinator, auditor=auditor)


@pytest.fixture
def answered(nonconformity, coordinator):
    return deviation_respond(deviation=nonconformity, text="Protokolle liegen bei.", acting_user=coordinator)


def refused(code: DeviationError, media, call) -> None:
    before = snapshot(media)
    with pytest.raises(ApplicationError) as info:
        call()
    assert info.value.code == code.value
    assert snapshot(media) == before


def last_log(deviation) -> LogEntry:
    return LogEntry.objects.filter(object_id=deviation.pk, action__startswith="indicators.").latest("pk")


# --- deviation_respond ---------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_respond_per_role(role, actor, nonconformity, media):
    user = actor(role)
    if role not in CENTRE_SIDE:
        refused(
            DeviationError.FORBIDDEN,
            media,
            lambda: deviation_respond(deviation=nonconformity, text="Erledigt", acting_user=user),
        )
        return
    deviation_respond(deviation=nonconformity, text="  Erledigt  ", acting_user=user)
    stored = Deviation.objects.get(pk=nonconformity.pk)
    assert (stored.state, stored.response, stored.responded_by) == (DeviationState.NONCONFORMITY, "Erledigt", user)
    assert stored.responded_at is not None and stored.awaiting_review
    entry = last_log(stored)
    assert entry.action == "indicators.deviation.answered"
    assert entry.data == {"from": "nonconformity", "to": "nonconformity", "response": "Erledigt"}
    assert entry.actor == user


@pytest.mark.parametrize("state", NOT_NONCONFORMITY)
def test_respond_outside_a_nonconformity_is_wrong_state(state, catalogue, site_a, coordinator, auditor, media):
    deviation = make_deviation(site_a, state=state, coordinator=coordinator, auditor=auditor)
    refused(
        DeviationError.WRONG_STATE,
        media,
        lambda: deviation_respond(deviation=deviation, text="Erledigt", acting_user=coordinator),
    )


def test_respond_needs_a_text(nonconformity, coordinator, media):
    refused(
        DeviationError.TEXT_REQUIRED,
        media,
        lambda: deviation_respond(deviation=nonconformity, text=" \n ", acting_user=coordinator),
    )


# --- deviation_send_back -------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_send_back_per_role(role, actor, answered, media):
    user = actor(role)
    if role not in AUDITOR_SIDE:
        refused(
            DeviationError.FORBIDDEN,
            media,
            lambda: deviation_send_back(deviation=answered, comment="Fehlt: Protokoll 3", acting_user=user),
        )
        return
    deviation_send_back(deviation=answered, comment="Fehlt: Protokoll 3", acting_user=user)
    stored = Deviation.objects.get(pk=answered.pk)
    assert stored.state == DeviationState.NONCONFORMITY and not stored.awaiting_review
    assert stored.responded_at is None
    assert stored.response == "Protokolle liegen bei."  # the answer stays readable
    entry = last_log(stored)
    assert entry.action == "indicators.deviation.sent_back"
    assert entry.data == {"from": "nonconformity", "to": "nonconformity", "comment": "Fehlt: Protokoll 3"}


def test_send_back_of_an_unanswered_nonconformity_is_refused(nonconformity, auditor, media):
    refused(
        DeviationError.NOT_ANSWERED,
        media,
        lambda: deviation_send_back(deviation=nonconformity, comment="?", acting_user=auditor),
    )


@pytest.mark.parametrize("state", NOT_NONCONFORMITY)
def test_send_back_outside_a_nonconformity_is_refused(state, catalogue, site_a, coordinator, auditor, media):
    deviation = make_deviation(site_a, state=state, coordinator=coordinator, auditor=auditor)
    refused(
        DeviationError.NOT_ANSWERED,
        media,
        lambda: deviation_send_back(deviation=deviation, comment="?", acting_user=auditor),
    )


def test_send_back_needs_a_comment(answered, auditor, media):
    refused(
        DeviationError.TEXT_REQUIRED,
        media,
        lambda: deviation_send_back(deviation=answered, comment="  ", acting_user=auditor),
    )


def test_after_send_back_the_centre_answers_again(answered, auditor, coordinator):
    deviation_send_back(deviation=answered, comment="Fehlt: Protokoll 3", acting_user=auditor)
    deviation_respond(deviation=answered, text="Protokoll 3 anbei.", acting_user=coordinator)
    stored = Deviation.objects.get(pk=answered.pk)
    assert stored.awaiting_review and stored.response == "Protokoll 3 anbei."
    answers = LogEntry.objects.filter(object_id=answered.pk, action="indicators.deviation.answered").order_by("pk")
    assert [e.data["response"] for e in answers] == ["Protokolle liegen bei.", "Protokoll 3 anbei."]


# --- deviation_resolve ---------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_resolve_an_answered_nonconformity_per_role(role, actor, answered, media):
    user = actor(role)
    if role not in AUDITOR_SIDE:
        refused(
            DeviationError.FORBIDDEN,
            media,
            lambda: deviation_resolve(deviation=answered, comment="Belegt", acting_user=user),
        )
        return
    deviation_resolve(deviation=answered, comment="Belegt", acting_user=user)
    stored = Deviation.objects.get(pk=answered.pk)
    assert stored.state == DeviationState.RESOLVED and not stored.awaiting_review
    entry = last_log(stored)
    assert entry.action == "indicators.deviation.resolved"
    assert entry.data == {"from": "nonconformity", "to": "resolved", "comment": "Belegt"}


@pytest.mark.parametrize(
    "state", [DeviationState.OPEN, DeviationState.JUSTIFIED, DeviationState.ACCEPTED, DeviationState.RESOLVED]
)
def test_resolve_outside_note_or_nonconformity_is_wrong_state(state, catalogue, site_a, coordinator, auditor, media):
    deviation = make_deviation(site_a, state=state, coordinator=coordinator, auditor=auditor)
    refused(
        DeviationError.WRONG_STATE,
        media,
        lambda: deviation_resolve(deviation=deviation, acting_user=auditor),
    )


# --- evidence_add: roles and states --------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_evidence_add_per_role(role, actor, nonconformity, media):
    user = actor(role)
    content = pdf_bytes()
    if role not in CENTRE_SIDE:
        refused(
            DeviationError.FORBIDDEN,
            media,
            lambda: evidence_add(deviation=nonconformity, filename="nachweis.pdf", content=content, acting_user=user),
        )
        return
    evidence = evidence_add(deviation=nonconformity, filename="nachweis.pdf", content=content, acting_user=user)
    sha = hashlib.sha256(content).hexdigest()
    assert (evidence.filename, evidence.sha256, evidence.size, evidence.content_type) == (
        "nachweis.pdf",
        sha,
        len(content),
        "application/pdf",
    )
    assert evidence.uploaded_by == user and evidence.deviation_id == nonconformity.pk
    assert stored_files(media) == [f"evidence/{sha[:2]}/{sha}.pdf"]
    assert (media / "evidence" / sha[:2] / f"{sha}.pdf").read_bytes() == content
    entry = last_log(nonconformity)
    assert entry.action == "indicators.deviation.evidence_added"
    assert entry.data == {"filename": "nachweis.pdf", "sha256": sha, "size": len(content)}
    assert entry.actor == user


@pytest.mark.parametrize("state", NOT_NONCONFORMITY)
def test_evidence_add_outside_a_nonconformity_is_wrong_state(state, catalogue, site_a, coordinator, auditor, media):
    deviation = make_deviation(site_a, state=state, coordinator=coordinator, auditor=auditor)
    refused(
        DeviationError.WRONG_STATE,
        media,
        lambda: evidence_add(deviation=deviation, filename="n.pdf", content=pdf_bytes(), acting_user=coordinator),
    )


def test_evidence_may_be_added_while_the_answer_awaits_review(answered, coordinator):
    evidence_add(deviation=answered, filename="nachtrag.png", content=image_bytes("PNG"), acting_user=coordinator)
    assert list(answered.evidence.values_list("filename", flat=True)) == ["nachtrag.png"]


def test_forbidden_comes_before_the_file_check(nonconformity, commission, media):
    refused(
        DeviationError.FORBIDDEN,
        media,
        lambda: evidence_add(deviation=nonconformity, filename="x.pdf", content=HTML, acting_user=commission),
    )


# --- evidence_add: the content decides the type ----------------------------------------


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        pytest.param("nachweis.pdf", HTML, id="html-named-pdf"),
        pytest.param("nachweis.pdf", zip_bytes(), id="zip-named-pdf"),
        pytest.param("nachweis.pdf", image_bytes("PNG"), id="png-named-pdf"),
        pytest.param("nachweis.png", image_bytes("JPEG"), id="jpeg-named-png"),
        pytest.param("nachweis.jpg", image_bytes("PNG"), id="png-named-jpg"),
        pytest.param("nachweis.png", pdf_bytes(), id="pdf-named-png"),
        pytest.param("nachweis.html", pdf_bytes(), id="pdf-named-html"),
        pytest.param("nachweis", pdf_bytes(), id="no-extension"),
        pytest.param("nachweis.jpg", image_bytes("JPEG")[:-2], id="jpeg-without-end-marker"),
        pytest.param("nachweis.jpg", image_bytes("JPEG")[:300], id="jpeg-cut-in-half"),
        pytest.param("nachweis.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, id="jpeg-magic-only"),
        pytest.param("nachweis.png", image_bytes("PNG")[:-2], id="png-without-iend-crc"),
        pytest.param("nachweis.png", image_bytes("PNG")[:60], id="png-cut"),
        pytest.param("nachweis.pdf", pdf_bytes().replace(b"%%EOF", b"%%EO_"), id="pdf-without-eof"),
        pytest.param("nachweis.pdf", b"", id="empty"),
    ],
)
def test_evidence_type_is_checked_by_content(filename, content, nonconformity, coordinator, media):
    refused(
        DeviationError.EVIDENCE_TYPE,
        media,
        lambda: evidence_add(deviation=nonconformity, filename=filename, content=content, acting_user=coordinator),
    )


@pytest.mark.parametrize(
    ("filename", "content", "content_type", "extension"),
    [
        ("Protokoll.PDF", pdf_bytes(), "application/pdf", "pdf"),
        ("foto.png", image_bytes("PNG"), "image/png", "png"),
        ("foto.jpg", image_bytes("JPEG"), "image/jpeg", "jpg"),
        ("foto.JPEG", image_bytes("JPEG", colour=(0, 90, 0)), "image/jpeg", "jpg"),
    ],
)
def test_valid_files_are_accepted_with_their_sniffed_type(
    filename, content, content_type, extension, nonconformity, coordinator, media
):
    evidence = evidence_add(deviation=nonconformity, filename=filename, content=content, acting_user=coordinator)
    sha = hashlib.sha256(content).hexdigest()
    assert (evidence.content_type, evidence.filename) == (content_type, filename)
    assert stored_files(media) == [f"evidence/{sha[:2]}/{sha}.{extension}"]


def test_sniff_reads_the_magic_bytes():
    assert sniff(b"%PDF-1.7 ...") == "pdf"
    assert sniff(b"\x89PNG\r\n\x1a\n....") == "png"
    assert sniff(b"\xff\xd8\xff\xdb....") == "jpeg"
    assert sniff(b"\x89PNG\r\n") is None  # shorter than the signature
    assert sniff(b" %PDF-1.7") is None  # not at the start
    assert sniff(b"\xff\xd8\x00") is None


# --- evidence_add: size, storage, names ------------------------------------------------


def test_size_limit_is_the_setting(nonconformity, coordinator, media):
    content = pdf_bytes(pad=200)
    with override_settings(QIPORTAL_EVIDENCE_MAX_BYTES=len(content) - 1):
        refused(
            DeviationError.EVIDENCE_SIZE,
            media,
            lambda: evidence_add(deviation=nonconformity, filename="n.pdf", content=content, acting_user=coordinator),
        )
    with override_settings(QIPORTAL_EVIDENCE_MAX_BYTES=len(content)):
        evidence = evidence_add(deviation=nonconformity, filename="n.pdf", content=content, acting_user=coordinator)
    assert evidence.size == len(content)


def test_default_size_limit_is_ten_megabytes(settings):
    assert settings.QIPORTAL_EVIDENCE_MAX_BYTES == 10 * 1024 * 1024


def test_size_error_names_the_file_and_the_limit(settings):
    settings.QIPORTAL_EVIDENCE_MAX_BYTES = 1024
    with pytest.raises(ApplicationError) as info:
        evidence_check(filename="scan.pdf", content=pdf_bytes(pad=2000))
    assert info.value.code == "evidence_size"
    assert info.value.extra == {"filename": "scan.pdf"}
    assert info.value.message.startswith("scan.pdf: ")
    assert "2,2\xa0KB" in info.value.message and "1,0\xa0KB" in info.value.message  # German format


def test_same_bytes_are_stored_once(nonconformity, coordinator, media):
    content = image_bytes("PNG")
    first = evidence_add(deviation=nonconformity, filename="a.png", content=content, acting_user=coordinator)
    second = evidence_add(deviation=nonconformity, filename="b.png", content=content, acting_user=coordinator)
    sha = hashlib.sha256(content).hexdigest()
    assert first.pk != second.pk and first.sha256 == second.sha256 == sha
    assert stored_files(media) == [f"evidence/{sha[:2]}/{sha}.png"]
    assert Evidence.objects.filter(sha256=sha).count() == 2


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/nachweis.pdf", "nachweis.pdf"),
        ("C:\\Users\\qm\\Desktop\\Protokoll 3.pdf", "Protokoll 3.pdf"),
        ("Pro\x00to\x1bkoll\n.pdf", "Protokoll.pdf"),
        ("rechnung\u202efdp.exe.pdf", "rechnungfdp.exe.pdf"),  # right-to-left override removed
        ("  Bericht.pdf  ", "Bericht.pdf"),
        ("Ärztebrief – Kopf-Hals.pdf", "Ärztebrief – Kopf-Hals.pdf"),
        ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
        ("", ""),
    ],
)
def test_filename_is_sanitised(given, kept):
    assert evidence_filename(given) == kept
    assert len(evidence_filename(given)) <= 255


def test_stored_filename_is_the_sanitised_one(nonconformity, coordinator):
    evidence = evidence_add(
        deviation=nonconformity, filename="../x/\x07Bericht.pdf", content=pdf_bytes(), acting_user=coordinator
    )
    assert Evidence.objects.get(pk=evidence.pk).filename == "Bericht.pdf"


# --- deviation_answer: statement and files, all or nothing ------------------------------


def test_answer_with_files_writes_statement_evidence_and_log(nonconformity, coordinator, media):
    pdf, png = pdf_bytes(), image_bytes("PNG")
    deviation_answer(
        deviation=nonconformity,
        text="Protokolle anbei.",
        files=[("protokoll.pdf", pdf), ("foto.png", png)],
        acting_user=coordinator,
    )
    stored = Deviation.objects.get(pk=nonconformity.pk)
    assert stored.response == "Protokolle anbei." and stored.awaiting_review
    assert list(stored.evidence.order_by("pk").values_list("filename", "size")) == [
        ("protokoll.pdf", len(pdf)),
        ("foto.png", len(png)),
    ]
    actions = list(LogEntry.objects.filter(object_id=stored.pk).order_by("pk").values_list("action", flat=True))[-3:]
    assert actions == [
        "indicators.deviation.answered",
        "indicators.deviation.evidence_added",
        "indicators.deviation.evidence_added",
    ]
    assert len(stored_files(media)) == 2


def test_answer_with_a_bad_second_file_writes_nothing(nonconformity, coordinator, media):
    before = snapshot(media)
    with pytest.raises(ApplicationError) as info:
        deviation_answer(
            deviation=nonconformity,
            text="Protokolle anbei.",
            files=[("protokoll.pdf", pdf_bytes()), ("bild.pdf", image_bytes("PNG"))],
            acting_user=coordinator,
        )
    assert info.value.code == "evidence_type"
    assert info.value.extra == {"filename": "bild.pdf"}
    assert "bild.pdf" in info.value.message
    assert snapshot(media) == before


def test_answer_without_text_is_refused_before_the_files(nonconformity, coordinator, media):
    refused(
        DeviationError.TEXT_REQUIRED,
        media,
        lambda: deviation_answer(deviation=nonconformity, text=" ", files=[("x.pdf", HTML)], acting_user=coordinator),
    )


@pytest.mark.parametrize("role", ["coordinator_b", "auditor", "commission", "anonymous"])
def test_answer_by_another_role_is_forbidden(role, actor, nonconformity, media):
    user = actor(role)
    refused(
        DeviationError.FORBIDDEN,
        media,
        lambda: deviation_answer(
            deviation=nonconformity, text="Erledigt", files=[("n.pdf", pdf_bytes())], acting_user=user
        ),
    )


@pytest.mark.parametrize("state", NOT_NONCONFORMITY)
def test_answer_outside_a_nonconformity_is_wrong_state(state, catalogue, site_a, coordinator, auditor, media):
    deviation = make_deviation(site_a, state=state, coordinator=coordinator, auditor=auditor)
    refused(
        DeviationError.WRONG_STATE,
        media,
        lambda: deviation_answer(deviation=deviation, text="Erledigt", files=[], acting_user=coordinator),
    )
