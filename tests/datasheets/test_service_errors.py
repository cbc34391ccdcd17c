"""Refusals of the datasheets services (issue 7): every ApplicationError carries an enum
code and a translated message (English msgid, German default); the 5 MB limit has one
definition (``settings.DATASHEET_MAX_BYTES``) used by the form, the service and the
pre-checks; the Deckblatt values cover exactly the layout's cover fields."""

import datetime as dt

import pytest
from django.utils import timezone, translation

from datasheets import safety
from datasheets.choices import ErrorCode, RevisionError, RevisionStatus
from datasheets.forms import DatasheetUploadForm
from datasheets.layout import COVER_FIELDS
from datasheets.models import DatasheetRevision
from datasheets.services import (
    datasheet_template_build,
    datasheet_upload,
    revision_confirm,
    revision_discard,
    site_cover,
)
from indicators.models import CatalogueVersion
from qiportal.exceptions import ApplicationError
from tests.factories import DatasheetRevisionFactory

pytestmark = pytest.mark.django_db


def refusal(language: str, call) -> ApplicationError:
    """The ApplicationError ``call()`` raises with ``language`` active; its message
    (lazy for an enum label) read in that language."""
    with translation.override(language):
        with pytest.raises(ApplicationError) as info:
            call()
        info.value.message = str(info.value.message)
    return info.value


def test_template_for_a_site_out_of_scope_is_refused_in_both_languages(catalogue, coordinator, site_b):
    def call():
        return datasheet_template_build(site=site_b, indicator_year=2022, acting_user=coordinator)

    english, german = refusal("en", call), refusal("de", call)
    assert english.code == german.code == ErrorCode.SITE_FORBIDDEN.value == "site_forbidden"
    assert english.message == "You may not download a template for this site."
    assert german.message == "Für diesen Standort dürfen Sie keine Vorlage abrufen."


def test_template_for_a_year_without_catalogue_is_refused(catalogue, site_a):
    def call():
        return datasheet_template_build(site=site_a, indicator_year=1999)

    english, german = refusal("en", call), refusal("de", call)
    assert english.code == ErrorCode.YEAR_MISMATCH == "year_mismatch"
    assert english.message == "No indicator catalogue is on record for indicator year 1999."
    assert german.message == "Für Kennzahlenjahr 1999 ist kein Kennzahlenkatalog hinterlegt."


def test_upload_for_a_site_out_of_scope_is_refused(catalogue, coordinator, site_b):
    def call():
        return datasheet_upload(content=b"PK", filename="x.xlsx", acting_user=coordinator, expected_site=site_b)

    english, german = refusal("en", call), refusal("de", call)
    assert english.code == ErrorCode.SITE_FORBIDDEN
    assert english.message == "You may not submit a data sheet for this site."
    assert german.message == "Für diesen Standort dürfen Sie kein Datenblatt einreichen."
    assert not DatasheetRevision.objects.exists()


def _waiting_revision(site, user, status=RevisionStatus.VALIDATED) -> DatasheetRevision:
    return DatasheetRevisionFactory(
        site=site,
        uploaded_by=user,
        file="datasheets/x.xlsx",
        original_name="x.xlsx",
        size=10,
        indicator_year=2022,
        catalogue_version_id="KJ2022",
        status=status,
    )


@pytest.mark.parametrize("service", [revision_confirm, revision_discard])
def test_confirming_a_revision_not_waiting_is_wrong_state(catalogue, coordinator, site_a, service):
    revision = _waiting_revision(site_a, coordinator, RevisionStatus.EVALUATED)
    english = refusal("en", lambda: service(revision=revision, acting_user=coordinator))
    german = refusal("de", lambda: service(revision=revision, acting_user=coordinator))
    assert english.code == RevisionError.WRONG_STATE.value == "wrong_state"
    assert english.message == "This revision is not awaiting confirmation."
    assert german.message == "Diese Revision wartet nicht auf eine Bestätigung."
    revision.refresh_from_db()
    assert (revision.status, revision.confirmed_at) == (RevisionStatus.EVALUATED, None)


@pytest.mark.parametrize("service", [revision_confirm, revision_discard])
def test_confirming_without_submit_right_is_refused(catalogue, coordinator, auditor, site_a, service):
    revision = _waiting_revision(site_a, coordinator)
    english = refusal("en", lambda: service(revision=revision, acting_user=auditor))
    german = refusal("de", lambda: service(revision=revision, acting_user=auditor))
    assert english.code == ErrorCode.SITE_FORBIDDEN
    assert english.message == "You may not confirm or discard data sheets for this site."
    assert german.message == "Für diesen Standort dürfen Sie keine Datenblätter bestätigen oder verwerfen."
    revision.refresh_from_db()
    assert (revision.status, revision.confirmed_at) == (RevisionStatus.VALIDATED, None)


# ------------------------------------------------------------------- the size limit


def test_the_size_limit_is_five_megabytes(settings):
    assert settings.DATASHEET_MAX_BYTES == 5 * 1024 * 1024  # SPEC §2
    assert not hasattr(safety, "MAX_BYTES")  # no second definition


def test_one_size_limit_for_form_service_and_prechecks(catalogue, coordinator, site_a, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATASHEET_MAX_BYTES = 1000
    too_big = b"x" * 1001

    form = DatasheetUploadForm(
        data={"site": site_a.pk}, files={"file": SimpleUploadedFile("x.xlsx", too_big)}, user=coordinator
    )
    assert not form.is_valid()
    assert form.errors.as_data()["file"][0].code == "file_too_large"

    english = refusal("en", lambda: datasheet_upload(content=too_big, filename="x.xlsx", acting_user=coordinator))
    german = refusal("de", lambda: datasheet_upload(content=too_big, filename="x.xlsx", acting_user=coordinator))
    assert english.code == ErrorCode.FILE_TOO_LARGE == "file_too_large"
    assert english.message == "The file is 1001\xa0bytes; at most 1000\xa0bytes is allowed."
    assert german.message == "Die Datei ist 1001\xa0Bytes groß; erlaubt sind höchstens 1000\xa0Bytes."
    assert not DatasheetRevision.objects.exists()

    assert [(e.cell, e.code) for e in safety.precheck(too_big)] == [("A1", ErrorCode.FILE_TOO_LARGE)]
    at_limit = safety.precheck(too_big[:1000])  # not too large, just not a workbook
    assert [e.code for e in at_limit] == [ErrorCode.FILE_TYPE]


# ------------------------------------------------------------------- the Deckblatt


def test_site_cover_fills_exactly_the_cover_fields(catalogue, site_a):
    site_a.initial_certification = dt.date(2015, 3, 1)
    version = CatalogueVersion.objects.get(pk="KJ2022")
    cover = site_cover(site_a, 2022, version)
    assert list(cover) == [key for key, _label in COVER_FIELDS]  # same keys, template order
    assert cover["registration_number"] == "KHT-A01"
    assert cover["site"] == "Uniklinikum Aachen, Aachen"
    assert (cover["indicator_year"], cover["audit_year"]) == (2022, 2023)
    assert cover["initial_certification"] == "2015-03-01"
    assert cover["created"] == timezone.localdate().isoformat()
    assert cover["catalogue_version"] == "KJ2022"
