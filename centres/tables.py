"""Tables of the centres app."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from .models import Site

TABLE_TEMPLATE = "django_tables2/qiportal.html"


class SiteTable(tables.Table):
    """Sites in scope with their centre (selected by ``centres.selectors.site_list``)."""

    region_label = _("Sites")

    registration_number = tables.Column(
        verbose_name=_("Reg.-Nr."),
        linkify=("centres:site_detail", {"pk": tables.A("pk")}),
        attrs={"td": {"class": "nowrap"}},
    )
    name = tables.Column(verbose_name=_("Site"), linkify=("centres:site_detail", {"pk": tables.A("pk")}))
    centre = tables.Column(verbose_name=_("Centre"), accessor="centre__name", order_by=("centre__name",))
    city = tables.Column(verbose_name=_("City"))
    country = tables.Column(verbose_name=_("Country"))
    standalone = tables.Column(verbose_name=_("Standalone centre"))

    class Meta:
        model = Site
        template_name = TABLE_TEMPLATE
        fields = ("registration_number", "name", "centre", "city", "country", "standalone")
        order_by = ("registration_number",)
        empty_text = _("No sites match the filter.")

    def render_standalone(self, value: bool) -> str:
        return _("yes") if value else _("no")
