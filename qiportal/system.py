"""The certification office's view of the whole certification system (issue 9).

``system_figures(as_of=..., audit_year=...)`` counts, from the records only (sites,
certificates, audits, deviations, data sheet revisions), what the SEED004 report gives
as ``system_figures`` in the catalogue: certified centres and sites, abroad, standalone,
new and ended certificates, audits, Abweichungen, REDZYK and active auditors, and which
certified sites have not submitted for the current Kennzahlenjahr (= audit year − 1,
GLOSSARY). It lives in ``qiportal`` because it reads all three apps.

Definitions (one per figure; each is also on the field of ``SystemFigures``):

- A site is *certified on a day* when one of its certificates has
  ``valid_from <= day <= valid_until`` and status ``valid`` or ``reduced_validity``
  (a suspended or ended certificate certifies nothing).
- Calendar figures (new, ended/suspended) count the year of ``as_of`` up to ``as_of``
  (1 January .. ``as_of``); audit figures count the audits of ``audit_year``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Exists, Min, OuterRef, Q

from centres.models import Audit, AuditOutcome, Certificate, CertificateStatus, Role, Site
from datasheets.choices import RevisionStatus
from datasheets.models import DatasheetRevision
from indicators.choices import DeviationState
from indicators.models import Deviation

CERTIFYING = (CertificateStatus.VALID, CertificateStatus.REDUCED_VALIDITY)
ENDING_OUTCOMES = (AuditOutcome.SUSPENDED, AuditOutcome.ENDED, AuditOutcome.ENDED_AT_REQUEST)

# SystemFigures field -> the figure's name in the catalogue's ``system_figures`` (SEED004).
CATALOGUE_FIGURES = {
    "certified_centres": "certified_centres",
    "certified_sites": "certified_sites",
    "sites_abroad": "centres_or_sites_abroad",
    "standalone_sites": "standalone_centres",
    "new_certificates": "new_certificates",
    "ended_or_suspended": "certificates_suspended_or_ended",
    "ended_at_request": "certificates_ended_at_centre_request",
    "reduced_validity": "certificates_reduced_validity_after_repeat_audit",
    "audits": "audits",
    "nonconformities": "deviations_issued",
    "audits_with_nonconformities": "audits_with_deviations",
    "centres_in_reduced_cycle": "centres_in_reduced_audit_cycle",
    "active_auditors": "active_auditors",
}


@dataclass(frozen=True)
class SiteSubmission:
    """A certified site without an evaluated data sheet for the Kennzahlenjahr:
    ``latest`` is its newest revision for that year (None: nothing uploaded),
    ``failed`` the number of its failed revisions for that year."""

    site: Site
    latest: DatasheetRevision | None
    failed: int


@dataclass(frozen=True)
class SystemFigures:
    """The certification system on ``as_of`` / in ``audit_year`` (all counts are ints).

    - ``certified_sites``: sites certified on ``as_of``; ``certified_centres`` their
      distinct centres.
    - ``sites_abroad``: certified sites with ``country`` other than "DE".
    - ``standalone_sites``: certified sites marked standalone (a KHT without an
      Onkologisches Zentrum at the site; each is its own centre in practice).
    - ``new_certificates``: sites whose first certificate (earliest ``valid_from``,
      the initial certification) starts between 1 January of ``as_of``'s year and
      ``as_of``.
    - ``ended_or_suspended``: sites whose certificate ended or was suspended in that
      span: a certificate with status ``ended``/``suspended`` whose ``valid_until`` (its
      last day) lies in the span, or an audit dated in the span (undated: of audit year
      ``as_of.year``) with outcome suspended, ended or ended at the centre's request;
      each site once.
    - ``ended_at_request``: sites with an audit of ``audit_year`` whose outcome is
      "ended at the centre's request".
    - ``reduced_validity``: sites with an audit of ``audit_year`` whose outcome is
      "reduced validity" (in SEED004 the one case followed a repeat audit).
    - ``audits``: audits of ``audit_year`` (every audit counts, a repeat audit too).
    - ``nonconformities``: Abweichungen issued on the deviations of indicator year
      ``audit_year − 1``: state ``nonconformity``, or ``resolved`` with a due date (only an
      Abweichung keeps a due date, ``indicators.services.deviation_decide``).
      ``audits_with_nonconformities``: the distinct sites they belong to (each site's
      Abweichungen are decided in its audit of ``audit_year``).
    - ``centres_in_reduced_cycle``: distinct centres with an audit of ``audit_year``
      flagged REDZYK (``reduced_cycle``).
    - ``active_auditors``: distinct users holding the auditor role who are assigned to
      at least one audit of ``audit_year``.
    - ``indicator_year``: the current Kennzahlenjahr, ``audit_year − 1``.
      ``sites_submitted``: certified sites with an evaluated current revision for it;
      ``not_submitted``: the other certified sites without a failed revision for it;
      ``failed_only``: certified sites whose revisions for it include failed ones but
      none evaluated (``SiteSubmission`` rows, by Reg.-Nr.). A revision counts for the
      site it was read for, or, unread, the site chosen at upload.
    """

    as_of: dt.date
    audit_year: int
    indicator_year: int
    certified_centres: int
    certified_sites: int
    sites_abroad: int
    standalone_sites: int
    new_certificates: int
    ended_or_suspended: int
    ended_at_request: int
    reduced_validity: int
    audits: int
    nonconformities: int
    audits_with_nonconformities: int
    centres_in_reduced_cycle: int
    active_auditors: int
    sites_submitted: int
    not_submitted: list[SiteSubmission] = field(default_factory=list)
    failed_only: list[SiteSubmission] = field(default_factory=list)


def certified_sites(day: dt.date):
    """Sites certified on ``day`` (a certificate valid or of reduced validity with
    ``valid_from <= day <= valid_until``), as a queryset ordered by Reg.-Nr."""
    valid = Certificate.objects.filter(
        site=OuterRef("pk"), valid_from__lte=day, valid_until__gte=day, status__in=CERTIFYING
    )
    return Site.objects.filter(Exists(valid)).order_by("registration_number")


def nonconformity_q() -> Q:
    """Q of the deviations that were made an Abweichung: still one, or resolved with the
    due date that only an Abweichung keeps."""
    return Q(state=DeviationState.NONCONFORMITY) | Q(state=DeviationState.RESOLVED, due_date__isnull=False)


@dataclass(frozen=True)
class SubmissionStatus:
    """Data sheets of the sites certified on a day for one Kennzahlenjahr: ``certified``
    sites in all, ``submitted`` of them with an evaluated current revision, the others
    split into ``not_submitted`` and ``failed_only`` (see ``SystemFigures``)."""

    indicator_year: int
    certified: int
    submitted: int
    not_submitted: list[SiteSubmission]
    failed_only: list[SiteSubmission]


def submission_status(*, as_of: dt.date, indicator_year: int) -> SubmissionStatus:
    """Which sites certified on ``as_of`` have submitted for ``indicator_year`` (three
    queries; the home page of commission and office). Definitions on ``SystemFigures``."""
    sites = list(certified_sites(as_of).select_related("centre"))
    submitted, not_submitted, failed_only = _submissions(sites, indicator_year)
    return SubmissionStatus(indicator_year, len(sites), submitted, not_submitted, failed_only)


def _submissions(sites: list[Site], indicator_year: int) -> tuple[int, list[SiteSubmission], list[SiteSubmission]]:
    """(submitted count, not submitted, only failed) of ``sites`` for one Kennzahlenjahr."""
    ids = [s.pk for s in sites]
    submitted = set(
        DatasheetRevision.objects.filter(
            site_id__in=ids, indicator_year=indicator_year, status=RevisionStatus.EVALUATED, is_current=True
        ).values_list("site_id", flat=True)
    )
    revisions = DatasheetRevision.objects.filter(
        Q(site_id__in=ids) | Q(site__isnull=True, expected_site_id__in=ids), indicator_year=indicator_year
    ).order_by("-uploaded_at", "-pk")
    latest: dict[int, DatasheetRevision] = {}
    failed: dict[int, int] = {}
    for revision in revisions:
        site_id = revision.site_id or revision.expected_site_id
        latest.setdefault(site_id, revision)
        if revision.status == RevisionStatus.FAILED:
            failed[site_id] = failed.get(site_id, 0) + 1
    not_submitted, failed_only = [], []
    for site in sites:
        if site.pk in submitted:
            continue
        row = SiteSubmission(site=site, latest=latest.get(site.pk), failed=failed.get(site.pk, 0))
        (failed_only if row.failed else not_submitted).append(row)
    return len(submitted), not_submitted, failed_only


def system_figures(*, as_of: dt.date, audit_year: int) -> SystemFigures:
    """The certification system's figures on ``as_of`` (a date) and in ``audit_year``;
    the definitions are on ``SystemFigures``. Reads only; no errors raised."""
    year_start = dt.date(as_of.year, 1, 1)
    sites = list(certified_sites(as_of).select_related("centre"))
    first_certificates = (
        Certificate.objects.values("site_id")
        .annotate(first=Min("valid_from"))
        .filter(first__gte=year_start, first__lte=as_of)
    )
    ended = set(
        Certificate.objects.filter(
            status__in=(CertificateStatus.ENDED, CertificateStatus.SUSPENDED),
            valid_until__gte=year_start,
            valid_until__lte=as_of,
        ).values_list("site_id", flat=True)
    )
    ended |= set(
        Audit.objects.filter(outcome__in=ENDING_OUTCOMES)
        .filter(Q(date__gte=year_start, date__lte=as_of) | Q(date__isnull=True, audit_year=as_of.year))
        .values_list("site_id", flat=True)
    )
    audits = Audit.objects.filter(audit_year=audit_year)
    indicator_year = audit_year - 1
    nonconformities = Deviation.objects.filter(nonconformity_q(), indicator_year=indicator_year)
    auditors = (
        get_user_model()
        .objects.filter(audits__audit_year=audit_year, memberships__role=Role.AUDITOR)
        .distinct()
        .count()
    )
    submitted, not_submitted, failed_only = _submissions(sites, indicator_year)
    return SystemFigures(
        as_of=as_of,
        audit_year=audit_year,
        indicator_year=indicator_year,
        certified_centres=len({s.centre_id for s in sites}),
        certified_sites=len(sites),
        sites_abroad=sum(s.abroad for s in sites),
        standalone_sites=sum(s.standalone for s in sites),
        new_certificates=first_certificates.count(),
        ended_or_suspended=len(ended),
        ended_at_request=audits.filter(outcome=AuditOutcome.ENDED_AT_REQUEST).values("site").distinct().count(),
        reduced_validity=audits.filter(outcome=AuditOutcome.REDUCED_VALIDITY).values("site").distinct().count(),
        audits=audits.count(),
        nonconformities=nonconformities.count(),
        audits_with_nonconformities=nonconformities.values("site").distinct().count(),
        centres_in_reduced_cycle=audits.filter(reduced_cycle=True).values("site__centre").distinct().count(),
        active_auditors=auditors,
        sites_submitted=submitted,
        not_submitted=not_submitted,
        failed_only=failed_only,
    )
