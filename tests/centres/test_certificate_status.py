"""An expired certificate is never shown as "gültig" (issue 9, also-fix); dates in the
German short format."""

from datetime import date

import pytest
from django.urls import reverse

from centres.models import Certificate, CertificateStatus

DAY = date(2025, 6, 30)


@pytest.mark.parametrize(
    ("status", "valid_from", "valid_until", "expected"),
    [
        (CertificateStatus.VALID, date(2023, 1, 1), date(2025, 6, 30), "gültig"),  # last day still valid
        (CertificateStatus.VALID, date(2022, 1, 1), date(2025, 6, 29), "abgelaufen"),
        (CertificateStatus.REDUCED_VALIDITY, date(2024, 1, 1), date(2025, 1, 31), "abgelaufen"),
        (CertificateStatus.REDUCED_VALIDITY, date(2024, 1, 1), date(2026, 1, 31), "reduzierte Gültigkeit"),
        (CertificateStatus.VALID, date(2025, 7, 1), date(2028, 6, 30), "noch nicht gültig"),
        (CertificateStatus.VALID, date(2025, 6, 30), date(2028, 6, 30), "gültig"),  # first day valid
        (CertificateStatus.ENDED, date(2020, 1, 1), date(2023, 1, 1), "beendet"),
        (CertificateStatus.SUSPENDED, date(2024, 1, 1), date(2027, 1, 1), "ausgesetzt"),
    ],
)
def test_the_state_shown_on_a_day(site_a, status, valid_from, valid_until, expected):
    certificate = Certificate(site=site_a, status=status, valid_from=valid_from, valid_until=valid_until)
    assert certificate.status_on(DAY) == expected


def test_the_site_page_shows_an_expired_certificate_as_expired(site_a, coordinator, client):
    Certificate.objects.create(site=site_a, valid_from=date(2019, 3, 1), valid_until=date(2022, 2, 28))
    client.force_login(coordinator)
    page = client.get(reverse("centres:site_detail", args=[site_a.pk])).content.decode()
    assert "abgelaufen: 01.03.2019 – 28.02.2022" in page
    assert "gültig:" not in page
