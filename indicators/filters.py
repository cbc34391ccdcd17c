"""Filters of the deviation list (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from centres.selectors import site_list

from .choices import DeviationState, Flag
from .models import Deviation
from .selectors import indicator_year_choices

ACTIVE_CHOICES = [("active", _("active")), ("closed", _("closed"))]


def _scoped_sites(request):
    return site_list(user=request.user) if request is not None else None


class DeviationFilterSet(django_filters.FilterSet):
    """Indicator year, KeZa, flag, review state, site (scoped choices), active/closed.
    The queryset passed in is already scoped by ``deviation_list``."""

    indicator_year = django_filters.ChoiceFilter(label=_("Indicator year"), choices=[], empty_label=_("all"))
    code = django_filters.CharFilter(label=_("KeZa"), method="filter_code")
    flag = django_filters.ChoiceFilter(label=_("Flag"), choices=Flag.choices, empty_label=_("all"))
    state = django_filters.ChoiceFilter(label=_("State"), choices=DeviationState.choices, empty_label=_("all"))
    site = django_filters.ModelChoiceFilter(label=_("Site"), queryset=_scoped_sites, empty_label=_("all"))
    active = django_filters.ChoiceFilter(
        label=_("Active / closed"),
        choices=ACTIVE_CHOICES,
        empty_label=_("all"),
        method="filter_active",
    )

    class Meta:
        model = Deviation
        fields = ["indicator_year", "code", "flag", "state", "site", "active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.filters["indicator_year"].extra["choices"] = indicator_year_choices()

    def filter_code(self, queryset: QuerySet[Deviation], name: str, value: str):
        value = value.strip()
        return queryset.filter(code__iexact=value) if value else queryset

    def filter_active(self, queryset: QuerySet[Deviation], name: str, value: str):
        if value == "active":
            return queryset.filter(is_active=True)
        if value == "closed":
            return queryset.filter(is_active=False)
        return queryset
