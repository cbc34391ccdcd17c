"""Project-level pages that bring several apps together: the home page.

The project package may import every app; the apps themselves import only the shared
plumbing in ``qiportal.portal`` (STYLE §4). Reads go through the apps' selectors.
"""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import ngettext
from django.views.generic import TemplateView

from centres.permissions import Action, user_can
from centres.selectors import site_list
from datasheets.choices import RevisionStatus
from datasheets.selectors import revision_list
from datasheets.tables import RevisionTable
from indicators.choices import DeviationState
from indicators.selectors import deviation_list

from .portal import PortalMixin, portal_context, url_with_query


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
        if site_list(user=user, action=Action.DECIDE).exists():
            n_justified = deviation_list(user=user, state=DeviationState.JUSTIFIED, is_active=True).count()
            tasks.append(
                {
                    "count": n_justified,
                    "label": ngettext(
                        "justified deviation awaits an auditor decision",
                        "justified deviations await an auditor decision",
                        n_justified,
                    ),
                    "url": url_with_query("indicators:deviation_list", state="justified", active="active"),
                }
            )
        context["tasks"] = tasks
        return context


def permission_denied(request, exception=None):
    """403 with the portal's navigation (``handler403``; issue 9)."""
    return render(request, "403.html", portal_context(request), status=403)


def page_not_found(request, exception=None):
    """404 with the portal's navigation (``handler404``)."""
    return render(request, "404.html", portal_context(request), status=404)
