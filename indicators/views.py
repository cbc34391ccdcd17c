"""Views of the indicators app: deviation list/detail with the review steps (SPEC §4)
and the national statistics (SPEC §5, "Bundesweite Auswertung").

Reads go through ``indicators.selectors`` (deviations scoped, 404 out of scope); review
steps call ``indicators.services``; an ``ApplicationError`` becomes a message and a form
error, never a 500. Charts are server-rendered inline SVG (CSP-safe), computed by
``indicators.charts``.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from centres.permissions import Action, user_can
from centres.selectors import log_entry_list
from qiportal.exceptions import ApplicationError
from qiportal.portal import PortalMixin

from .charts import distribution_chart, trend_chart
from .choices import DeviationState
from .filters import DeviationFilterSet
from .forms import DecideForm, JustifyForm, NationalYearForm, ResolveForm
from .models import Deviation, IndicatorDefinition, IndicatorYear
from .selectors import (
    deviation_get,
    deviation_list,
    indicator_site_values,
    indicator_stats,
    indicator_trend,
    national_default_year,
)
from .services import deviation_decide, deviation_justify, deviation_resolve
from .tables import (
    DeviationTable,
    NationalStatsTable,
    active_badge,
    flag_badge,
    format_count,
    format_percent,
    format_value,
    state_badge,
)

# --------------------------------------------------------------------------- deviations

LOG_ACTIONS = {
    "indicators.deviation.opened": gettext_lazy("Flag raised by a data sheet"),
    "indicators.deviation.reopened": gettext_lazy("Reopened: the flag came back"),
    "indicators.deviation.closed": gettext_lazy("Closed: a corrected data sheet cleared the flag"),
    "indicators.deviation.justified": gettext_lazy("Justification (Begründung) given"),
    "indicators.deviation.accepted": gettext_lazy("Auditor: accepted"),
    "indicators.deviation.note": gettext_lazy("Auditor: note (Hinweis)"),
    "indicators.deviation.nonconformity": gettext_lazy("Auditor: nonconformity (Abweichung)"),
    "indicators.deviation.resolved": gettext_lazy("Resolved"),
}
OPEN_STATES = (DeviationState.OPEN, DeviationState.JUSTIFIED)
DECIDED_STATES = (DeviationState.NOTE, DeviationState.NONCONFORMITY)


class DeviationListView(PortalMixin, SingleTableMixin, FilterView):
    """Scoped deviation records; filter and sort."""

    template_name = "indicators/deviation_list.html"
    table_class = DeviationTable
    filterset_class = DeviationFilterSet
    paginate_by = 50
    nav_section = "deviations"

    def get_queryset(self):
        return deviation_list(user=self.request.user)


class DeviationDetailView(PortalMixin, TemplateView):
    """One deviation record (404 out of scope), its log and the review step forms the
    user may use in its state."""

    template_name = "indicators/deviation_detail.html"
    nav_section = "deviations"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.deviation = deviation_get(user=request.user, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        deviation, user = self.deviation, self.request.user
        definition = deviation.definition
        can_justify = user_can(user, Action.JUSTIFY, deviation) and deviation.state in OPEN_STATES
        can_decide = user_can(user, Action.DECIDE, deviation)
        english = (translation.get_language() or "de")[:2] == "en"
        context.update(
            deviation=deviation,
            definition=definition,
            flag_badge=flag_badge(deviation.flag),
            state_badge=state_badge(deviation.state),
            active_badge=active_badge(deviation.is_active),
            rate=format_percent(deviation.rate) if not definition.is_count else None,
            numerator=format_count(deviation.numerator),
            denominator=format_count(deviation.denominator),
            numerator_text=(definition.numerator_en if english else "") or definition.numerator_de,
            denominator_text=(definition.denominator_en if english else "") or definition.denominator_de,
            log_entries=self.log_entries(deviation),
        )
        # A form is shown only for a step the user may take now; a bound form (after a
        # refused POST) replaces the empty one.
        steps = {
            "justify_form": (can_justify, lambda: JustifyForm(initial={"text": deviation.justification})),
            "decide_form": (can_decide and deviation.state in OPEN_STATES, DecideForm),
            "resolve_form": (can_decide and deviation.state in DECIDED_STATES, ResolveForm),
        }
        for name, (allowed, empty) in steps.items():
            context[name] = (kwargs.get(name) or empty()) if allowed else None
        return context

    @staticmethod
    def log_entries(deviation: Deviation) -> list[dict]:
        entries = log_entry_list(obj=deviation)
        return [
            {
                "entry": entry,
                "label": LOG_ACTIONS.get(entry.action, entry.action),
                "actor": (entry.actor.get_full_name() or entry.actor.get_username()) if entry.actor else _("system"),
                "revision": (entry.data or {}).get("revision"),
                "due_date": (entry.data or {}).get("due_date"),
            }
            for entry in entries
        ]


class DeviationStepView(DeviationDetailView):
    """POST of one review step; success redirects to the record, a refusal (invalid
    form or ApplicationError) answers 200 with the record page and the message."""

    http_method_names = ["post"]
    form_class: type = JustifyForm
    form_name = "justify_form"
    success_message = ""

    def perform(self, data: dict) -> None:
        """The service call of the step; each subclass defines it."""
        raise ImproperlyConfigured(f"{type(self).__name__} must define perform()")

    def post(self, request, *args, **kwargs):
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                self.perform(form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
                messages.error(request, exc.message)
            else:
                messages.success(request, self.success_message)
                return redirect("indicators:deviation_detail", pk=self.deviation.pk)
        else:
            messages.error(request, _("The change was not saved. Please see below."))
        self.deviation.refresh_from_db()
        return self.render_to_response(self.get_context_data(**{self.form_name: form}))


class DeviationJustifyView(DeviationStepView):
    form_class = JustifyForm
    form_name = "justify_form"
    success_message = gettext_lazy("The justification was saved.")

    def perform(self, data: dict) -> None:
        deviation_justify(
            deviation=self.deviation,
            text=data["text"],
            reason_code=data["reason_code"],
            acting_user=self.request.user,
        )


class DeviationDecideView(DeviationStepView):
    form_class = DecideForm
    form_name = "decide_form"
    success_message = gettext_lazy("The decision was saved.")

    def perform(self, data: dict) -> None:
        deviation_decide(
            deviation=self.deviation,
            decision=data["decision"],
            comment=data["comment"],
            due_date=data["due_date"],
            corrective_action=data["corrective_action"],
            acting_user=self.request.user,
        )


class DeviationResolveView(DeviationStepView):
    form_class = ResolveForm
    form_name = "resolve_form"
    success_message = gettext_lazy("The deviation was marked as resolved.")

    def perform(self, data: dict) -> None:
        deviation_resolve(deviation=self.deviation, comment=data["comment"], acting_user=self.request.user)


# ----------------------------------------------------------------------------- national


class NationalMixin(PortalMixin):
    """Only for users with ``Action.VIEW_NATIONAL`` (commission, auditors, office)."""

    nav_section = "national"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not user_can(request.user, Action.VIEW_NATIONAL):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class NationalView(NationalMixin, TemplateView):
    """All indicators of one Kennzahlenjahr with the SPEC §5 statistics."""

    template_name = "indicators/national.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = NationalYearForm(self.request.GET or None)
        year = form.cleaned_data["indicator_year"] if form.is_bound and form.is_valid() else None
        if year is None:
            year = national_default_year()
            form = NationalYearForm(initial={"indicator_year": year})
        rows = []
        if year is not None:
            try:
                rows = indicator_stats(indicator_year=year)
            except IndicatorYear.DoesNotExist:
                messages.warning(self.request, _("No indicator catalogue for this year."))
        context.update(
            form=form,
            indicator_year=year,
            version=rows[0].definition.version if rows else None,
            table=NationalStatsTable(rows, indicator_year=year or 0),
            n_reporting=max((r.statistics.n_reported for r in rows), default=0),
        )
        return context


class NationalIndicatorView(NationalMixin, TemplateView):
    """One indicator: statistics, distribution of the site rates, trend over years."""

    template_name = "indicators/national_indicator.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        year, code = kwargs["year"], kwargs["code"]
        try:
            (row,) = indicator_stats(indicator_year=year, code=code)
            trend = indicator_trend(code=code, up_to_year=year)
        except (IndicatorYear.DoesNotExist, IndicatorDefinition.DoesNotExist) as exc:
            raise Http404(str(exc)) from exc
        definition, stats = row.definition, row.statistics
        values = indicator_site_values(indicator_year=year, definition=definition)
        is_count = definition.is_count

        def fmt(value):
            return format_value(value, is_count=is_count)

        facts = [
            (_("Sites with a value"), format_count(stats.n_reported)),
            (_("Evaluable sites"), format_count(stats.n_sites)),
            (
                _("Total") if is_count else _("Pooled rate"),
                format_count(stats.total) if is_count else format_percent(stats.pooled_rate),
            ),
            (_("Median"), fmt(stats.median)),
            (_("Minimum – maximum"), f"{fmt(stats.minimum)} – {fmt(stats.maximum)}"),
            (_("5th / 95th percentile"), f"{fmt(stats.p5)} / {fmt(stats.p95)}"),
            (_("25th / 75th percentile"), f"{fmt(stats.p25)} / {fmt(stats.p75)}"),
            (_("Target"), definition.target_display() or "–"),
            (_("Sites meeting the target"), _count_share(stats.sites_meeting_target, stats.share_meeting_target)),
            (_("Plausibility corridor"), definition.corridor_display() or "–"),
            (_("Sites inside the corridor"), _count_share(stats.sites_inside_corridor, stats.share_inside_corridor)),
            (_("Sites with numerator 0"), format_count(stats.sites_with_zero_numerator)),
        ]
        if not is_count:
            facts.append((_("Sites at 100 %"), format_count(stats.sites_at_100_percent)))
        context.update(
            indicator_year=year,
            definition=definition,
            facts=facts,
            distribution=distribution_chart(values, definition, stats),
            trend=trend_chart(trend, is_count=is_count),
            json_url=reverse("indicators:national_json", args=[year]) + f"?code={code}",
        )
        return context


def _count_share(count: int | None, share: Fraction | None) -> str:
    if count is None:
        return "–"
    return f"{format_count(count)} ({format_percent(share)})"


class StatsJSONEncoder(DjangoJSONEncoder):
    """Fractions (rates 0..1) as floats rounded to 6 places; Decimals as floats."""

    def default(self, o):
        if isinstance(o, Fraction):
            return round(float(o), 6)
        if isinstance(o, Decimal):
            return float(o)
        return super().default(o)


class NationalJSONView(NationalMixin, TemplateView):
    """``indicator_stats`` of one year (``?code=`` for one KeZa) as JSON: per indicator
    its definition facts and statistics; rates are fractions 0..1, counts integers."""

    def get(self, request, *args, **kwargs):
        year, code = kwargs["year"], request.GET.get("code") or None
        try:
            rows = indicator_stats(indicator_year=year, code=code)
        except (IndicatorYear.DoesNotExist, IndicatorDefinition.DoesNotExist) as exc:
            raise Http404(str(exc)) from exc
        payload = {"indicator_year": year, "indicators": [_row_json(r) for r in rows]}
        return JsonResponse(payload, encoder=StatsJSONEncoder, json_dumps_params={"ensure_ascii": False, "indent": 2})


def _row_json(row) -> dict:
    d, stats = row.definition, row.statistics
    data = dataclasses.asdict(stats)
    data["share_inside_corridor"] = stats.share_inside_corridor
    return {
        "code": d.code,
        "catalogue_version": d.version_id,
        "series": d.series,
        "title_de": d.title_de,
        "title_en": d.title_en,
        "kind": d.kind,
        "target": {"op": d.target_op, "value": d.target_value} if d.target_op else None,
        "corridor": {"lower": d.corridor_lower, "upper": d.corridor_upper}
        if d.corridor_lower is not None or d.corridor_upper is not None
        else None,
        "statistics": data,
    }
