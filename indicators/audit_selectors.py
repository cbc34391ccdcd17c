"""Reads that join audits (``centres``) with the deviations of their indicator year.

``centres`` must not import ``indicators`` (STYLE §4), so the audit list with its
deviation counts is assembled here.
"""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from centres.models import Audit
from centres.selectors import audit_list

from .models import Deviation
from .selectors import SUMMARY_STATES

# The review states counted per audit, in the order they are shown.
COUNTED_STATES = SUMMARY_STATES


def _count(state: str | None) -> Coalesce:
    """Active deviations of the audit's site and indicator year (audit year − 1), in
    ``state`` (None: all states), as a correlated subquery; 0 when there are none."""
    rows = Deviation.objects.filter(
        site_id=OuterRef("site_id"), indicator_year=OuterRef("audit_year") - 1, is_active=True
    )
    if state is not None:
        rows = rows.filter(state=state)
    counted = rows.order_by().values("site_id").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def audit_list_with_deviations(*, user) -> QuerySet[Audit]:
    """``centres.selectors.audit_list`` (the audits the user may see) annotated with the
    number of active deviations of each audit's indicator year: ``dev_total`` and
    ``dev_<state>`` for each state of ``COUNTED_STATES`` (integers). One query for the
    page (the counts are subqueries), plus the prefetched auditors."""
    annotations = {f"dev_{state.value}": _count(state) for state in COUNTED_STATES}
    annotations["dev_total"] = _count(None)
    return audit_list(user=user).annotate(**annotations)
