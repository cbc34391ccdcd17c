"""Filters of the site and audit lists (django-filter)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from .models import Audit, AuditKind, AuditOutcome, Site
from .selectors import auditor_candidates

NOT_DECIDED = "none"  # the outcome filter's value for "not decided yet"
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


class AuditFilterSet(django_filters.FilterSet):
    """Audit year, site, kind, REDZYK, outcome and auditor; the queryset passed in is
    already scoped to the user (``audit_list``), and the year and site choices come
    from it."""

    audit_year = django_filters.ChoiceFilter(label=_("Audit year"), choices=[], empty_label=_("all"))
    site = django_filters.ChoiceFilter(label=_("Site"), choices=[], empty_label=_("all"))
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=AuditKind.choices, empty_label=_("all"))
    reduced_cycle = django_filters.BooleanFilter(
        label=_("Reduced cycle (REDZYK)"), widget=forms.Select(choices=YES_NO_ALL)
    )
    outcome = django_filters.ChoiceFilter(
        label=_("Outcome"),
        choices=[(NOT_DECIDED, _("not decided yet")), *AuditOutcome.choices],
        empty_label=_("all"),
        method="filter_outcome",
    )
    auditor = django_filters.ChoiceFilter(label=_("Auditor"), choices=[], empty_label=_("all"), method="filter_auditor")

    class Meta:
        model = Audit
        fields = ["audit_year", "site", "kind", "reduced_cycle", "outcome", "auditor"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        qs = self.queryset.order_by() if self.queryset is not None else Audit.objects.none()
        years = sorted(set(qs.values_list("audit_year", flat=True)), reverse=True)
        self.filters["audit_year"].extra["choices"] = [(y, y) for y in years]
        sites = Site.objects.filter(pk__in=qs.values("site_id")).order_by("registration_number")
        self.filters["site"].extra["choices"] = [(s.pk, str(s)) for s in sites]
        self.filters["auditor"].extra["choices"] = [
            (u.pk, f"{u.get_full_name()} ({u.username})" if u.get_full_name() else u.username)
            for u in auditor_candidates()
        ]

    def filter_outcome(self, queryset: QuerySet[Audit], name: str, value: str) -> QuerySet[Audit]:
        return queryset.filter(outcome="" if value == NOT_DECIDED else value)

    def filter_auditor(self, queryset: QuerySet[Audit], name: str, value: str) -> QuerySet[Audit]:
        return queryset.filter(pk__in=Audit.objects.filter(auditors__pk=value).values("pk"))
