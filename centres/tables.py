"""Tables of the centres app."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from .models import Audit, Site
from .selectors import user_display_name

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


class AuditTable(tables.Table):
    """Audits in scope (``centres.selectors.audit_list``): site, years, kind, date,
    auditors, REDZYK, outcome, links to the dossier and (office only; the view excludes
    the column for others) to the assignment page."""

    region_label = _("Audits")

    site = tables.Column(
        verbose_name=_("Site"),
        accessor="site__registration_number",
        order_by=("site__registration_number",),
        linkify=("centres:site_detail", {"pk": tables.A("site_id")}),
        attrs={"td": {"class": "nowrap"}},
    )
    audit_year = tables.Column(verbose_name=_("Audit year"))
    indicator_year = tables.Column(
        verbose_name=_("Indicator year"), accessor="indicator_year", order_by=("audit_year",)
    )
    kind = tables.Column(verbose_name=_("Kind"))
    date = tables.DateColumn(verbose_name=_("Date"), format="d.m.Y")
    auditors = tables.Column(verbose_name=_("Auditors"), accessor="pk", orderable=False)
    reduced_cycle = tables.Column(verbose_name=_("Reduced cycle (REDZYK)"))
    outcome = tables.Column(verbose_name=_("Outcome"))
    dossier = tables.LinkColumn(
        "audits:audit_dossier",
        args=[tables.A("pk")],
        text=_("Dossier"),
        verbose_name=_("Dossier"),
        accessor="pk",
        orderable=False,
    )
    assign = tables.LinkColumn(
        "audits:audit_assign",
        args=[tables.A("pk")],
        text=_("Edit"),
        verbose_name=_("Assignment"),
        accessor="pk",
        orderable=False,
    )

    class Meta:
        model = Audit
        template_name = TABLE_TEMPLATE
        fields = ("site", "audit_year", "indicator_year", "kind", "date", "auditors", "reduced_cycle", "outcome")
        order_by = ("-audit_year", "site")
        empty_text = _("No audits match the filter.")

    def render_auditors(self, record: Audit) -> str:
        names = [user_display_name(u) for u in record.auditors.all()]
        return ", ".join(sorted(names)) or "–"

    def render_reduced_cycle(self, value: bool) -> str:
        return _("yes") if value else _("no")
