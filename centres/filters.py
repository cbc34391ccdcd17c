"""Filters of the site list (django-filter)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from .models import Site

YES_NO_ALL = [("", _("all")), ("true", _("yes")), ("false", _("no"))]


class SiteFilterSet(django_filters.FilterSet):
    """Name (also Reg.-Nr. and centre), city, country and standalone; the queryset
    passed in is already scoped to the user."""

    name = django_filters.CharFilter(
        label=_("Name or Reg.-Nr."),
        method="filter_name",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    city = django_filters.CharFilter(label=_("City"), lookup_expr="icontains")
    country = django_filters.ChoiceFilter(label=_("Country"), choices=[], empty_label=_("all"))
    standalone = django_filters.BooleanFilter(label=_("Standalone centre"), widget=forms.Select(choices=YES_NO_ALL))

    class Meta:
        model = Site
        fields = ["name", "city", "country", "standalone"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        countries = (
            self.queryset.order_by("country").values_list("country", flat=True).distinct()
            if self.queryset is not None
            else []
        )
        self.filters["country"].extra["choices"] = [(c, c) for c in countries]

    def filter_name(self, queryset: QuerySet[Site], name: str, value: str) -> QuerySet[Site]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(registration_number__icontains=value) | Q(centre__name__icontains=value)
        )
