"""Filters of the deviation list, the auditor's queue (django-filter, issue 9)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from centres.permissions import Action, restrict
from centres.selectors import audit_list, site_list

from .choices import DeviationState, Flag
from .models import Deviation
from .selectors import deviation_overdue_q, indicator_year_choices, user_decides_any

ACTIVE_CHOICES = [("active", _("active")), ("closed", _("closed"))]
SCOPE_ALL = "all"
SCOPE_CHOICES = [(SCOPE_ALL, _("also earlier years (read only)"))]
YES_CHOICES = [("yes", _("yes"))]


def _scoped_sites(request):
    return site_list(user=request.user) if request is not None else None


def _scoped_audits(request):
    if request is None:
        return None
    return audit_list(user=request.user).prefetch_related(None).order_by("-audit_year", "site__registration_number")


class AuditChoiceFilter(django_filters.ModelChoiceFilter):
    """An audit stands for its site and indicator year (audit year − 1)."""

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(site_id=value.site_id, indicator_year=value.indicator_year)


class DeviationFilterSet(django_filters.FilterSet):
    """Audit, indicator year, site (scoped choices), KeZa, flag, review state,
    active/closed, repeat (flagged in the year before, too), overdue Abweichung, and the
    queue's scope. The queryset passed in is the user's VIEW scope (``deviation_list``);
    for a user who decides (auditor, office) the filter narrows it to what they may
    DECIDE unless ``scope=all`` widens it to the earlier years (issue 9)."""

    audit = AuditChoiceFilter(label=_("Audit (audit year)"), queryset=_scoped_audits, empty_label=_("all"))
    scope = django_filters.ChoiceFilter(
        label=_("Years"),
        choices=SCOPE_CHOICES,
        empty_label=_("to decide (my audits' indicator years)"),
        method="filter_scope",
    )
    indicator_year = django_filters.ChoiceFilter(label=_("Indicator year"), choices=[], empty_label=_("all"))
    site = django_filters.ModelChoiceFilter(label=_("Site"), queryset=_scoped_sites, empty_label=_("all"))
    code = django_filters.CharFilter(label=_("KeZa"), method="filter_code")
    flag = django_filters.ChoiceFilter(label=_("Flag"), choices=Flag.choices, empty_label=_("all"))
    state = django_filters.ChoiceFilter(label=_("State"), choices=DeviationState.choices, empty_label=_("all"))
    active = django_filters.ChoiceFilter(
        label=_("Active / closed"),
        choices=ACTIVE_CHOICES,
        empty_label=_("all"),
        method="filter_active",
    )
    repeat = django_filters.ChoiceFilter(
        label=_("Repeated (2nd year in a row or more)"),
        choices=YES_CHOICES,
        empty_label=_("all"),
        method="filter_repeat",
    )
    overdue = django_filters.ChoiceFilter(
        label=_("Overdue nonconformity"),
        choices=YES_CHOICES,
        empty_label=_("all"),
        method="filter_overdue",
    )

    class Meta:
        model = Deviation
        fields = ["audit", "scope", "indicator_year", "site", "code", "flag", "state", "active", "repeat", "overdue"]

    def __init__(self, data=None, *args, **kwargs) -> None:
        # Always bound (an empty query too), so the queue's default scope applies.
        super().__init__(QueryDict() if data is None else data, *args, **kwargs)
        self.filters["indicator_year"].extra["choices"] = indicator_year_choices()
        user = getattr(self.request, "user", None)
        self.decides = user is not None and user_decides_any(user)
        if not self.decides:
            # Coordinators and the commission decide nothing: no queue scope to choose.
            del self.filters["scope"]

    def filter_queryset(self, queryset: QuerySet[Deviation]) -> QuerySet[Deviation]:
        """The filters, then the queue's default scope: what the user may DECIDE."""
        queryset = super().filter_queryset(queryset)
        if self.decides and self.form.cleaned_data.get("scope") != SCOPE_ALL:
            queryset = restrict(queryset, self.request.user, Action.DECIDE)
        return queryset

    def filter_scope(self, queryset: QuerySet[Deviation], name: str, value: str):
        return queryset  # applied in filter_queryset (the default needs no value)

    def filter_code(self, queryset: QuerySet[Deviation], name: str, value: str):
        value = value.strip()
        return queryset.filter(code__iexact=value) if value else queryset

    def filter_active(self, queryset: QuerySet[Deviation], name: str, value: str):
        if value == "active":
            return queryset.filter(is_active=True)
        if value == "closed":
            return queryset.filter(is_active=False)
        return queryset

    def filter_repeat(self, queryset: QuerySet[Deviation], name: str, value: str):
        return queryset.filter(consecutive_years__gte=2) if value == "yes" else queryset

    def filter_overdue(self, queryset: QuerySet[Deviation], name: str, value: str):
        return queryset.filter(deviation_overdue_q()) if value == "yes" else queryset


def queue_params(data) -> dict[str, str]:
    """The queue's filter and sort parameters out of a QueryDict (others dropped), for
    the links between the queue and a deviation page: ``{"state": "justified",
    "sort": "-code", ...}``; empty values left out."""
    keys = [*DeviationFilterSet.base_filters, "sort", "page"]
    return {key: data.get(key) for key in keys if data.get(key)}
