"""The site page (``centres:site_detail``) and its revisions partial
(``centres:site_revisions``).

The site page brings together what a centre works with: its facts, the Datenblatt
template and upload (for users who may submit), its revisions (status polled by htmx
while one is running) and a summary of its deviation records. It needs data sheets and
deviations, so it lives here and not in ``centres`` (STYLE §4); the URL names stay in
the ``centres`` namespace (``qiportal.urls``). Reads go through selectors (404 out of
scope).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.views.generic import TemplateView

from centres.models import Site
from centres.permissions import Action, user_can
from centres.selectors import site_get
from indicators.selectors import deviation_summary
from qiportal.portal import PortalMixin, url_with_query

from .forms import DatasheetUploadForm, TemplateDownloadForm
from .selectors import revision_list
from .tables import RevisionTable
from .views import revisions_fingerprint

SITE_REVISIONS_SHOWN = 20


class SiteRevisionsMixin:
    """The site's latest revisions and whether the page must keep polling."""

    def revisions_context(self, site: Site) -> dict:
        revisions = list(
            revision_list(user=self.request.user, site=site).select_related("expected_site")[:SITE_REVISIONS_SHOWN]
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

    template_name = "datasheets/site_detail.html"
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
                DatasheetUploadForm(user=user, initial={"site": site.pk}, auto_id="upl_%s") if can_submit else None
            ),
            deviation_summary=deviation_summary(user=user, site=site),
            deviations_url=url_with_query("indicators:deviation_list", site=site.pk),
        )
        return context


class SiteRevisionsView(SiteRevisionsMixin, TemplateView):
    """htmx partial: the site's revisions table; 204 while nothing changed."""

    template_name = "datasheets/_site_revisions.html"

    def get(self, request, *args, **kwargs):
        site = site_get(user=request.user, pk=kwargs["pk"])
        self.context = self.revisions_context(site)
        if request.GET.get("v") == self.context["fingerprint"] and request.htmx:
            return HttpResponse(status=204)
        return self.render_to_response({**self.context, "oob": bool(request.htmx)})
