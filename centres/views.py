"""Views of the centres app: the site list.

The site detail page and its revisions partial combine data sheets and deviation
records, so they live in ``datasheets.site_views`` (STYLE §4: ``centres`` imports
neither ``indicators`` nor ``datasheets``); their URL names stay in the ``centres``
namespace (see ``qiportal.urls``). Reads go through selectors (404 out of scope).
"""

from __future__ import annotations

from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from qiportal.portal import PortalMixin

from .filters import SiteFilterSet
from .selectors import site_list
from .tables import SiteTable


class SiteListView(PortalMixin, SingleTableMixin, FilterView):
    """Sites in scope; filter by name/Reg.-Nr., city, country, standalone."""

    template_name = "centres/site_list.html"
    table_class = SiteTable
    filterset_class = SiteFilterSet
    paginate_by = 50
    nav_section = "sites"

    def get_queryset(self):
        return site_list(user=self.request.user)
