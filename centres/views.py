"""Views of the centres app: home page, site list, site detail.

``PortalMixin`` gives every page its role-based navigation. The site page brings
together what a centre works with: its facts, the Datenblatt template and upload (for
users who may submit), its revisions (status polled by htmx while one is running) and a
summary of its deviation records. Reads go through selectors (404 out of scope).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from urllib.parse import urlencode

from django.db.models import Count
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from datasheets.forms import DatasheetUploadForm, TemplateDownloadForm
from datasheets.selectors import revision_list
from datasheets.tables import RevisionTable
from indicators.choices import DeviationState
from indicators.selectors import deviation_list

from .filters import SiteFilterSet
from .models import Role
from .permissions import Action, user_can, user_roles
from .selectors import site_get, site_list
from .tables import SiteTable

SITE_REVISIONS_SHOWN = 20


def navigation(request, section: str = "") -> list[dict]:
    """Main navigation entries the user may use; ``section`` marks the current one."""
    user = request.user
    if not user.is_authenticated:
        return []
    entries = [
        ("home", _("Home"), "home"),
        ("centres:site_list", _("Sites"), "sites"),
        ("datasheets:revision_list", _("Data sheets"), "datasheets"),
        ("indicators:deviation_list", _("Deviations"), "deviations"),
    ]
    if user_can(user, Action.VIEW_NATIONAL):
        entries.append(("indicators:national", _("National results"), "national"))
    if user.is_staff:
        entries.append(("admin:index", _("Administration"), "admin"))
    return [
        {"url": reverse(name), "label": label, "current": key == section}
        for name, label, key in entries
    ]


class PortalMixin:
    """Adds the navigation and the user's role names to a page's context."""

    nav_section = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        labels = dict(Role.choices)
        context["nav"] = navigation(self.request, self.nav_section)
        context["user_role_labels"] = sorted(
            str(labels.get(r, r)) for r in user_roles(self.request.user)
        )
        return context


def revisions_fingerprint(revisions) -> str:
    """Short hash of (pk, status) of the revisions shown; a poll answers 204 (htmx
    leaves the page alone) while it is unchanged."""
    raw = ",".join(f"{r.pk}:{r.status}" for r in revisions)
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def url_with_query(name: str, *args, **query) -> str:
    """``reverse(name, args)`` plus the non-empty ``query`` parameters."""
    url = reverse(name, args=args)
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


class HomeView(PortalMixin, TemplateView):
    """Start page: the user's sites, what waits for them, recent data sheets."""

    template_name = "home.html"
    nav_section = "home"
    sites_shown = 12

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        sites = site_list(user=user)
        submit_ids = set(site_list(user=user, action=Action.SUBMIT).values_list("pk", flat=True))
        shown = list(sites[: self.sites_shown])
        deviations = url_with_query("indicators:deviation_list")
        context.update(
            sites=[{"site": s, "can_submit": s.pk in submit_ids} for s in shown],
            n_sites=sites.count() if len(shown) == self.sites_shown else len(shown),
            recent_revisions=RevisionTable(
                list(revision_list(user=user).select_related("expected_site")[:5]),
                orderable=False,
            ),
            can_view_national=user_can(user, Action.VIEW_NATIONAL),
        )
        tasks = []
        if site_list(user=user, action=Action.JUSTIFY).exists():
            n_open = deviation_list(user=user, state=DeviationState.OPEN, is_active=True).count()
            tasks.append({
                "count": n_open,
                "label": ngettext(
                    "open deviation needs a justification (Begründung)",
                    "open deviations need a justification (Begründung)", n_open,
                ),
                "url": deviations + "?" + urlencode({"state": "open", "active": "active"}),
            })
        if site_list(user=user, action=Action.DECIDE).exists():
            n_justified = deviation_list(
                user=user, state=DeviationState.JUSTIFIED, is_active=True
            ).count()
            tasks.append({
                "count": n_justified,
                "label": ngettext(
                    "justified deviation awaits an auditor decision",
                    "justified deviations await an auditor decision", n_justified,
                ),
                "url": deviations + "?" + urlencode({"state": "justified", "active": "active"}),
            })
        context["tasks"] = tasks
        return context


class SiteListView(PortalMixin, SingleTableMixin, FilterView):
    """Sites in scope; filter by name/Reg.-Nr., city, country, standalone."""

    template_name = "centres/site_list.html"
    table_class = SiteTable
    filterset_class = SiteFilterSet
    paginate_by = 50
    nav_section = "sites"

    def get_queryset(self):
        return site_list(user=self.request.user)


class SiteRevisionsMixin:
    """The site's latest revisions and whether the page must keep polling."""

    def revisions_context(self, site) -> dict:
        revisions = list(
            revision_list(user=self.request.user, site=site)
            .select_related("expected_site")[:SITE_REVISIONS_SHOWN]
        )
        running = sum(1 for r in revisions if not r.is_finished)
        return {
            "site": site,
            "revisions_table": RevisionTable(revisions, orderable=False, exclude=("site",)),
            "revisions_count": len(revisions),
            "revisions_running": running,
            "polling": running > 0,
            "fingerprint": revisions_fingerprint(revisions),
            "revisions_all_url": url_with_query("datasheets:revision_list", site=site.pk),
        }


class SiteDetailView(PortalMixin, SiteRevisionsMixin, TemplateView):
    """One site in scope (404 otherwise)."""

    template_name = "centres/site_detail.html"
    nav_section = "sites"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        site = site_get(user=user, pk=kwargs["pk"])
        can_submit = user_can(user, Action.SUBMIT, site)
        context.update(self.revisions_context(site))
        context.update(
            site=site,
            certificates=list(site.certificates.all()[:3]),
            can_submit=can_submit,
            template_form=TemplateDownloadForm(auto_id="tpl_%s") if can_submit else None,
            upload_form=(
                DatasheetUploadForm(user=user, initial={"site": site.pk}, auto_id="upl_%s")
                if can_submit else None
            ),
            deviation_summary=deviation_summary(user, site),
            deviations_url=url_with_query("indicators:deviation_list", site=site.pk),
        )
        return context


SUMMARY_STATES = [
    DeviationState.OPEN, DeviationState.JUSTIFIED, DeviationState.ACCEPTED,
    DeviationState.NOTE, DeviationState.NONCONFORMITY, DeviationState.RESOLVED,
]


def deviation_summary(user, site) -> dict:
    """Active deviation records of a site per indicator year × review state, plus the
    closed ones; every count links to the filtered deviation list. One query."""
    rows = (
        deviation_list(user=user, site_id=site.pk)
        .order_by()
        .values("indicator_year", "state", "is_active")
        .annotate(n=Count("pk"))
    )
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        key = row["state"] if row["is_active"] else "closed"
        counts[row["indicator_year"]][key] += row["n"]
    years = []
    for year in sorted(counts, reverse=True):
        cells = []
        for state in SUMMARY_STATES:
            n = counts[year][state]
            cells.append({
                "n": n,
                "url": url_with_query("indicators:deviation_list", site=site.pk,
                                      indicator_year=year, state=state.value, active="active"),
            })
        n_closed = counts[year]["closed"]
        cells.append({
            "n": n_closed,
            "url": url_with_query("indicators:deviation_list", site=site.pk,
                                  indicator_year=year, active="closed"),
        })
        years.append({"year": year, "cells": cells})
    headers = [s.label for s in SUMMARY_STATES] + [_("closed")]
    return {"headers": headers, "years": years}


class SiteRevisionsView(SiteRevisionsMixin, TemplateView):
    """htmx partial: the site's revisions table; 204 while nothing changed."""

    template_name = "centres/_site_revisions.html"

    def get(self, request, *args, **kwargs):
        site = site_get(user=request.user, pk=kwargs["pk"])
        self.context = self.revisions_context(site)
        if request.GET.get("v") == self.context["fingerprint"] and request.htmx:
            return HttpResponse(status=204)
        return self.render_to_response({**self.context, "oob": bool(request.htmx)})
