"""The audit list (issue 9) with the deviation counts of each audit's indicator year.

It lives in ``indicators`` because the counts read deviations, which ``centres`` must
not import (STYLE §4); the table and filter are ``centres``'s, extended by a column.
The URL name is ``audits:audit_list`` (``qiportal.audit_urls``).
"""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from centres.filters import AuditFilterSet
from centres.permissions import Action, user_can
from centres.tables import AuditTable
from qiportal.portal import PortalMixin

from .audit_selectors import COUNTED_STATES, audit_list_with_deviations


class AuditDeviationTable(AuditTable):
    """``AuditTable`` plus the active deviations of the audit's indicator year per
    review state (non-zero states only; sorted by the total)."""

    deviations = tables.Column(verbose_name=_("Deviations"), accessor="dev_total", order_by=("dev_total",))

    class Meta(AuditTable.Meta):
        sequence = (
            "site",
            "audit_year",
            "indicator_year",
            "kind",
            "date",
            "auditors",
            "reduced_cycle",
            "outcome",
            "deviations",
            "dossier",
            "assign",
        )

    def render_deviations(self, record) -> str:
        parts = [
            (getattr(record, f"dev_{state.value}"), state.label)
            for state in COUNTED_STATES
            if getattr(record, f"dev_{state.value}")
        ]
        if not parts:
            return "0"
        return format_html_join(", ", "{} {}", parts)


class AuditListView(PortalMixin, SingleTableMixin, FilterView):
    """Audits in scope (office and commission: all; coordinators: their sites'; an
    auditor: their own), filterable by year, site, kind, REDZYK, outcome and auditor.
    The assignment column is shown to the office only."""

    template_name = "indicators/audit_list.html"
    table_class = AuditDeviationTable
    filterset_class = AuditFilterSet
    paginate_by = 50
    nav_section = "audits"

    def get_queryset(self):
        return audit_list_with_deviations(user=self.request.user)

    def get_table_kwargs(self):
        if user_can(self.request.user, Action.MANAGE):
            return {}
        return {"exclude": ("assign",)}
