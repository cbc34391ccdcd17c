"""Project-level pages that bring several apps together: the home page and the
certification system's status page (issue 9).

The project package may import every app; the apps themselves import only the shared
plumbing in ``qiportal.portal`` (STYLE §4). Reads go through the apps' selectors.
"""

from __future__ import annotations

import datetime as dt

import django_tables2 as tables
from django import forms
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.generic import TemplateView
from django_tables2 import RequestConfig

from centres.models import Role
from centres.permissions import Action, restrict, user_can, user_roles
from centres.selectors import site_list
from datasheets.choices import RevisionStatus
from datasheets.selectors import revision_list
from datasheets.tables import RevisionTable, status_badge
from indicators.choices import DeviationState
from indicators.selectors import deviation_list, deviation_overdue_q, user_decides_any
from indicators.tables import EMPTY, TABLE_TEMPLATE

from .portal import PortalMixin, portal_context, url_with_query
from .system import SiteSubmission, submission_status, system_figures

# Roles that see the whole certification system (status page, office home page).
SYSTEM_ROLES = frozenset({Role.COMMISSION, Role.OFFICE})


def sees_system(user) -> bool:
    """True for commission members and the certification office (a superuser counts as
    office): they see the certification system's status page. Auditors, who may view
    national results, do not."""
    return bool(user_roles(user) & SYSTEM_ROLES)


class HomeView(PortalMixin, TemplateView):
    """Start page: what waits for the user. Coordinators and auditors see their sites
    and tasks; commission and office (``sees_system``) see their work instead of a
    sample of sites: the current Kennzahlenjahr's submissions, overdue Fristen and failed
    uploads (issue 9)."""

    template_name = "home.html"
    nav_section = "home"
    sites_shown = 12
    failed_days = 30  # failed uploads of the last 30 days count on the office's home page
    failed_shown = 5

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        system = sees_system(user)
        sites = site_list(user=user)
        submit_ids = set(site_list(user=user, action=Action.SUBMIT).values_list("pk", flat=True))
        context.update(
            system=system,
            recent_revisions=RevisionTable(
                list(revision_list(user=user).select_related("expected_site")[:5]),
                orderable=False,
            ),
            can_view_national=user_can(user, Action.VIEW_NATIONAL),
        )
        tasks = []
        if system:
            context.update(self._system_work(user, tasks))
        else:
            shown = list(sites[: self.sites_shown])
            context.update(
                sites=[{"site": s, "can_submit": s.pk in submit_ids} for s in shown],
                n_sites=sites.count() if len(shown) == self.sites_shown else len(shown),
            )
        # The user's own uploads whose preview waits for their decision (issue 9).
        waiting = revision_list(user=user).filter(
            uploaded_by=user, status=RevisionStatus.VALIDATED, confirmed_at__isnull=True, site__in=submit_ids
        )
        n_waiting = waiting.count() if submit_ids else 0
        if n_waiting:
            tasks.append(
                {
                    "count": n_waiting,
                    "label": ngettext(
                        "data sheet waits for your confirmation (preview)",
                        "data sheets wait for your confirmation (preview)",
                        n_waiting,
                    ),
                    "url": reverse("datasheets:revision_detail", args=[waiting.values_list("pk", flat=True)[0]])
                    if n_waiting == 1
                    else url_with_query("datasheets:revision_list", status=RevisionStatus.VALIDATED),
                }
            )
        if site_list(user=user, action=Action.JUSTIFY).exists():
            n_open = deviation_list(user=user, state=DeviationState.OPEN, is_active=True).count()
            tasks.append(
                {
                    "count": n_open,
                    "label": ngettext(
                        "open deviation needs a justification (Begründung)",
                        "open deviations need a justification (Begründung)",
                        n_open,
                    ),
                    "url": url_with_query("indicators:deviation_list", state="open", active="active"),
                }
            )
        if user_decides_any(user):
            # Only what the user may decide: an auditor's earlier years are read-only.
            decidable = restrict(deviation_list(user=user, is_active=True), user, Action.DECIDE)
            n_justified = decidable.filter(state=DeviationState.JUSTIFIED).count()
            tasks.append(
                {
                    "count": n_justified,
                    "label": ngettext(
                        "justified deviation awaits your decision",
                        "justified deviations await your decision",
                        n_justified,
                    ),
                    "url": url_with_query("indicators:deviation_list", state="justified", active="active"),
                }
            )
            n_answered = decidable.filter(state=DeviationState.NONCONFORMITY, responded_at__isnull=False).count()
            if n_answered:
                tasks.append(
                    {
                        "count": n_answered,
                        "label": ngettext(
                            "answered nonconformity awaits your review",
                            "answered nonconformities await your review",
                            n_answered,
                        ),
                        "url": url_with_query("indicators:deviation_list", state="nonconformity", active="active"),
                    }
                )
        context["tasks"] = tasks
        return context

    def _system_work(self, user, tasks: list[dict]) -> dict:
        """The commission's and office's home: submission status of the current
        Kennzahlenjahr (audit year = this year), overdue Fristen, failed uploads."""
        today = timezone.localdate()
        status = submission_status(as_of=today, indicator_year=today.year - 1)
        n_overdue = deviation_list(user=user).filter(deviation_overdue_q(today)).count()
        tasks.append(
            {
                "count": n_overdue,
                "label": ngettext(
                    "nonconformity is past its due date (Frist)",
                    "nonconformities are past their due date (Frist)",
                    n_overdue,
                ),
                "url": url_with_query("indicators:deviation_list", overdue="yes"),
            }
        )
        since = timezone.now() - dt.timedelta(days=self.failed_days)
        failed = revision_list(user=user).filter(status=RevisionStatus.FAILED, uploaded_at__gte=since)
        n_failed = failed.count()
        tasks.append(
            {
                "count": n_failed,
                "label": ngettext(
                    "upload failed in the last 30 days",
                    "uploads failed in the last 30 days",
                    n_failed,
                ),
                "url": url_with_query("datasheets:revision_list", status=RevisionStatus.FAILED),
            }
        )
        return {
            "submissions": status,
            "failed_revisions": RevisionTable(
                list(failed.select_related("expected_site")[: self.failed_shown]), orderable=False
            )
            if n_failed
            else None,
        }


class SystemForm(forms.Form):
    """The status page's choice: a day (Stichtag) and an audit year; both optional."""

    as_of = forms.DateField(
        label=_("Reference date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    audit_year = forms.IntegerField(label=_("Audit year"), required=False, min_value=2000, max_value=2100)


def _latest_upload(record: SiteSubmission) -> str:
    revision = record.latest
    if revision is None:
        return EMPTY
    return format_html(
        '<a href="{}">{}</a> {}',
        reverse("datasheets:revision_detail", args=[revision.pk]),
        date_format(localtime(revision.uploaded_at), "SHORT_DATE_FORMAT"),
        status_badge(revision.status),
    )


class SubmissionTable(tables.Table):
    """Certified sites without an evaluated data sheet for the Kennzahlenjahr
    (``qiportal.system.SiteSubmission`` rows): site, centre, country, the latest upload
    and the number of failed uploads."""

    region_label = _("Sites")

    registration_number = tables.Column(
        verbose_name=_("Reg.-Nr."),
        accessor="site__registration_number",
        linkify=lambda record: reverse("centres:site_detail", args=[record.site.pk]),
        attrs={"td": {"class": "nowrap"}},
    )
    name = tables.Column(verbose_name=_("Site"), accessor="site__name")
    centre = tables.Column(verbose_name=_("Centre"), accessor="site__centre__name")
    country = tables.Column(verbose_name=_("Country"), accessor="site__country")
    latest = tables.Column(verbose_name=_("Latest upload"), empty_values=(), orderable=False)
    failed = tables.Column(verbose_name=_("Failed uploads"), attrs={"td": {"class": "num"}, "th": {"class": "num"}})

    class Meta:
        template_name = TABLE_TEMPLATE
        empty_text = _("None.")

    def render_latest(self, record: SiteSubmission) -> str:
        return _latest_upload(record)


class SystemStatusView(PortalMixin, TemplateView):
    """Zertifizierungssystem (issue 9): the figures of ``qiportal.system.system_figures``
    for a chosen day and audit year (GET ``as_of``, ``audit_year``; defaults: today, and
    the chosen day's year; an invalid choice is shown with its error and the defaults
    used), and
    the certified sites that have not submitted or only failed for the Kennzahlenjahr.
    Commission and office only; everyone else gets 403 (a whole page type)."""

    template_name = "system_status.html"
    nav_section = "system"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not sees_system(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = SystemForm(self.request.GET or None)
        chosen = form.cleaned_data if form.is_bound and form.is_valid() else {}
        as_of = chosen.get("as_of") or timezone.localdate()
        audit_year = chosen.get("audit_year") or as_of.year
        if not form.is_bound:
            form = SystemForm(initial={"as_of": as_of, "audit_year": audit_year})
        figures = system_figures(as_of=as_of, audit_year=audit_year)
        not_submitted = SubmissionTable(figures.not_submitted, prefix="ns-", order_by="registration_number")
        failed_only = SubmissionTable(figures.failed_only, prefix="fo-", order_by="registration_number")
        # Two tables of sites: each region is named by its heading (unique landmarks).
        not_submitted.region_labelledby, failed_only.region_labelledby = "not-submitted-heading", "failed-heading"
        config = RequestConfig(self.request, paginate=False)
        config.configure(not_submitted)
        config.configure(failed_only)
        context.update(
            form=form,
            figures=figures,
            n_certified=figures.certified_sites,
            not_submitted_table=not_submitted,
            failed_only_table=failed_only,
        )
        return context


def permission_denied(request, exception=None):
    """403 with the portal's navigation (``handler403``; issue 9)."""
    return render(request, "403.html", portal_context(request), status=403)


def page_not_found(request, exception=None):
    """404 with the portal's navigation (``handler404``)."""
    return render(request, "404.html", portal_context(request), status=404)
