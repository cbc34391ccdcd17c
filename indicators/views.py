"""Views of the indicators app: deviation list/detail with the review steps (SPEC §4)
and the national statistics (SPEC §5, "Bundesweite Auswertung").

Reads go through ``indicators.selectors`` (deviations scoped, 404 out of scope); review
steps call ``indicators.services``; an ``ApplicationError`` becomes a message and a form
error, never a 500. Charts are server-rendered inline SVG (CSP-safe), computed by
``indicators.charts``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from fractions import Fraction
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, JsonResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from centres.permissions import Action, user_can
from centres.selectors import log_entry_list, user_display_name
from qiportal.exceptions import ApplicationError
from qiportal.portal import PortalMixin

from .charts import distribution_chart, trend_chart
from .choices import DeviationState, ReasonCode
from .filters import DeviationFilterSet, queue_params
from .forms import DecideForm, JustifyForm, NationalYearForm, ResolveForm
from .models import Deviation, IndicatorDefinition, IndicatorYear
from .selectors import (
    deviation_decidable,
    deviation_earlier,
    deviation_get,
    deviation_list,
    deviation_series_values,
    indicator_site_values,
    indicator_stats,
    indicator_trend,
    national_default_year,
    user_decides_any,
)
from .series_chart import series_chart
from .services import deviation_decide, deviation_justify, deviation_resolve, deviations_accept
from .tables import (
    STATE_LABELS,
    DeviationTable,
    NationalStatsTable,
    active_badge,
    due_date_cell,
    flag_badge,
    format_count,
    format_percent,
    format_value,
    overdue_badge,
    repeat_badge,
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
    "indicators.deviation.answered": gettext_lazy("Centre: statement on the nonconformity"),
    "indicators.deviation.evidence_added": gettext_lazy("Centre: evidence file added"),
    "indicators.deviation.sent_back": gettext_lazy("Auditor: statement sent back"),
    "indicators.deviation.resolved": gettext_lazy("Resolved"),
}
# Texts a log entry's data may carry (services._transition_log), in display order.
LOG_TEXTS = {
    "justification": gettext_lazy("Justification"),
    "reason_code": gettext_lazy("Reason"),
    "comment": gettext_lazy("Comment"),
    "corrective_action": gettext_lazy("Corrective action"),
    "due_date": gettext_lazy("Due date"),
    "response": gettext_lazy("Statement of the centre"),
    "filename": gettext_lazy("File"),
}
OPEN_STATES = (DeviationState.OPEN, DeviationState.JUSTIFIED)
DECIDED_STATES = (DeviationState.NOTE, DeviationState.NONCONFORMITY)
REASON_LABELS = dict(ReasonCode.choices)


def _queue_query(data) -> str:
    """The queue's filter and sort out of a QueryDict as a query string ("" if none)."""
    return urlencode(queue_params(data))


def _with_query(url: str, query: str) -> str:
    return f"{url}?{query}" if query else url


class DeviationListView(PortalMixin, SingleTableMixin, FilterView):
    """The deviation list; for an auditor the queue of their audits' deviations (what
    they may DECIDE unless the filter widens it to earlier years), with the bulk
    decision "accepted" for the selected rows (issue 9). Filter and sort travel with
    the links to the deviation pages."""

    template_name = "indicators/deviation_list.html"
    table_class = DeviationTable
    filterset_class = DeviationFilterSet
    paginate_by = 50
    nav_section = "deviations"

    def get_queryset(self):
        return deviation_list(user=self.request.user)

    def get_table_kwargs(self):
        return {
            "user": self.request.user,
            "selectable": self.filterset.decides,
            "query": _queue_query(self.request.GET),
        }

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            decides=self.filterset.decides,
            bulk_form=BulkAcceptForm(),
            query=_queue_query(self.request.GET),
        )
        return context


class BulkAcceptForm(forms.Form):
    """One comment for the bulk decision "accepted" (the ids come as ``deviation``)."""

    comment = forms.CharField(
        label=gettext_lazy("Comment for all selected deviations"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "bulk_%s")
        super().__init__(*args, **kwargs)


class DeviationBulkAcceptView(View):
    """POST: decide the selected deviations "accepted" with one comment
    (``deviations_accept``, all or nothing), then back to the queue with its filter.
    A user who decides nothing gets 403; an id outside the user's DECIDE scope (or
    unknown) 404 and nothing is written; a refusal (wrong state) a message."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        if not user_decides_any(request.user):
            raise PermissionDenied
        target = _with_query(
            reverse("indicators:deviation_list"), _queue_query(QueryDict(request.POST.get("query", "")))
        )
        raw = request.POST.getlist("deviation")
        if not raw:
            messages.error(request, _("Please select at least one deviation."))
            return redirect(target)
        if not all(value.isdigit() for value in raw):
            raise Http404("unknown deviation")
        ids = {int(value) for value in raw}
        deviations = list(deviation_decidable(user=request.user, ids=ids))
        if len(deviations) != len(ids):
            raise Http404("deviation out of scope")
        form = BulkAcceptForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("The comment is too long (at most 2,000 characters)."))
            return redirect(target)
        try:
            deviations_accept(deviations=deviations, comment=form.cleaned_data["comment"], acting_user=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                ngettext("%(n)d deviation was accepted.", "%(n)d deviations were accepted.", len(deviations))
                % {"n": len(deviations)},
            )
        return redirect(target)


def queue_neighbours(request, deviation: Deviation, query: str) -> dict:
    """Position of ``deviation`` in the queue filtered and sorted by ``query`` (the
    list's query string): ``{"previous": url | None, "next": url | None, "position":
    int, "total": int}`` with the neighbours' URLs carrying the same query; ``{}`` when
    the deviation is not in that queue. Same filterset, same table ordering (with the
    primary key last) as the list. One query for the ids, plus the filter's own."""
    data = QueryDict(query)
    filterset = DeviationFilterSet(data, queryset=deviation_list(user=request.user), request=request)
    if not filterset.is_valid():
        return {}
    table = DeviationTable(filterset.qs)
    if data.get("sort"):
        table.order_by = data["sort"]
    pks = list(table.data.data.values_list("pk", flat=True))
    try:
        index = pks.index(deviation.pk)
    except ValueError:
        return {}

    def url(pk):
        return _with_query(reverse("indicators:deviation_detail", args=[pk]), query)

    return {
        "previous": url(pks[index - 1]) if index > 0 else None,
        "next": url(pks[index + 1]) if index + 1 < len(pks) else None,
        "position": index + 1,
        "total": len(pks),
    }


class DeviationDetailView(PortalMixin, TemplateView):
    """One deviation record (404 out of scope) in its context: the site's values of the
    indicator series over the years with the national median and the target, the
    earlier deviations of the series and their decisions, the log with from → to and
    texts, next / previous in the queue (the queue's filter in the query string), and
    the review step forms the user may use in its state (issue 9)."""

    template_name = "indicators/deviation_detail.html"
    nav_section = "deviations"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.deviation = deviation_get(user=request.user, pk=kwargs["pk"])
            self.query = _queue_query(request.GET)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        deviation, user = self.deviation, self.request.user
        definition = deviation.definition
        can_justify = user_can(user, Action.JUSTIFY, deviation) and deviation.state in OPEN_STATES
        can_decide = user_can(user, Action.DECIDE, deviation)
        english = (translation.get_language() or "de")[:2] == "en"
        with_median = user_can(user, Action.VIEW_NATIONAL)
        points = deviation_series_values(user=user, deviation=deviation, with_median=with_median)
        context.update(
            deviation=deviation,
            definition=definition,
            flag_badge=flag_badge(deviation.flag),
            state_badge=state_badge(deviation.state),
            active_badge=active_badge(deviation.is_active),
            overdue_badge=overdue_badge() if deviation.overdue else "",
            repeat_badge=repeat_badge(deviation.consecutive_years),
            due_date=due_date_cell(deviation),
            rate=format_percent(deviation.rate) if not definition.is_count else None,
            numerator=format_count(deviation.numerator),
            denominator=format_count(deviation.denominator),
            numerator_text=(definition.numerator_en if english else "") or definition.numerator_de,
            denominator_text=(definition.denominator_en if english else "") or definition.denominator_de,
            log_entries=self.log_entries(deviation),
            series=series_chart(points, definition=definition, current_year=deviation.indicator_year),
            with_median=with_median,
            earlier=self.earlier(deviation),
            query=self.query,
            queue_url=_with_query(reverse("indicators:deviation_list"), self.query),
            neighbours=queue_neighbours(self.request, deviation, self.query),
        )
        # A form is shown only for a step the user may take now; a bound form (after a
        # refused POST) replaces the empty one.
        steps = {
            "justify_form": (
                can_justify,
                lambda: JustifyForm(initial={"text": deviation.justification, "reason_code": deviation.reason_code}),
            ),
            "decide_form": (can_decide and deviation.state in OPEN_STATES, DecideForm),
            # An answered Abweichung is resolved below the centre's answer (the answer
            # include), so the auditor reads the statement before the button.
            "resolve_form": (
                can_decide and deviation.state in DECIDED_STATES and not deviation.awaiting_review,
                ResolveForm,
            ),
        }
        for name, (allowed, empty) in steps.items():
            context[name] = (kwargs.get(name) or empty()) if allowed else None
        for name in ("justify", "decide", "resolve"):
            context[f"{name}_url"] = _with_query(
                reverse(f"indicators:deviation_{name}", args=[deviation.pk]), self.query
            )
        return context

    def earlier(self, deviation: Deviation) -> list[dict]:
        """The earlier deviations of the site's series with their decision, as rows."""
        return [
            {
                "deviation": d,
                "url": reverse("indicators:deviation_detail", args=[d.pk]),
                "flag": flag_badge(d.flag),
                "state": state_badge(d.state),
                "closed": "" if d.is_active else active_badge(False),
                "repeat": repeat_badge(d.consecutive_years),
                "due_date": due_date_cell(d),
            }
            for d in deviation_earlier(user=self.request.user, deviation=deviation)
        ]

    @staticmethod
    def log_entries(deviation: Deviation) -> list[dict]:
        """The deviation's log, oldest first: label, actor, from → to state labels and
        the texts stored with the entry (justification, reason, comment, corrective
        action, due date as a German date, statement)."""
        entries = log_entry_list(obj=deviation)
        items = []
        for entry in entries:
            data = entry.data or {}
            texts = []
            for key, label in LOG_TEXTS.items():
                value = data.get(key)
                if not value:
                    continue
                if key == "reason_code":
                    value = REASON_LABELS.get(value, value)
                elif key == "due_date":
                    value = _date_text(value)
                texts.append({"label": label, "value": value})
            items.append(
                {
                    "entry": entry,
                    "label": LOG_ACTIONS.get(entry.action, entry.action),
                    "actor": user_display_name(entry.actor) if entry.actor else _("system"),
                    "revision": data.get("revision"),
                    "from": STATE_LABELS.get(data.get("from"), data.get("from")) if data.get("from") else "",
                    "to": STATE_LABELS.get(data.get("to"), data.get("to")) if data.get("to") else "",
                    "texts": texts,
                }
            )
        return items


def _date_text(value: str) -> str:
    """An ISO date of a log entry in the German short format; other text unchanged."""
    try:
        return date_format(dt.date.fromisoformat(value), "SHORT_DATE_FORMAT")
    except (TypeError, ValueError):
        return str(value)


class DeviationStepView(DeviationDetailView):
    """POST of one review step; success redirects to the record (with the queue's
    filter), a refusal (invalid form or ApplicationError) answers 200 with the record
    page and the message. A user who may view the record but whose role does not allow
    ``required_action`` on it gets 403 (a role refusal of the step, issue 9's URL
    rules); out of scope stays 404 (``dispatch``)."""

    http_method_names = ["post"]
    form_class: type = JustifyForm
    form_name = "justify_form"
    success_message = ""
    required_action: Action | None = None

    def perform(self, data: dict) -> None:
        """The service call of the step; each subclass defines it."""
        raise ImproperlyConfigured(f"{type(self).__name__} must define perform()")

    def check_role(self) -> None:
        """403 (PermissionDenied) unless the user may ``required_action`` this record."""
        if self.required_action and not user_can(self.request.user, self.required_action, self.deviation):
            raise PermissionDenied

    def post(self, request, *args, **kwargs):
        self.check_role()
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                self.perform(form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
                messages.error(request, exc.message)
            else:
                messages.success(request, self.success_message)
                return redirect(
                    _with_query(reverse("indicators:deviation_detail", args=[self.deviation.pk]), self.query)
                )
        else:
            messages.error(request, _("The change was not saved. Please see below."))
        self.deviation.refresh_from_db()
        return self.render_to_response(self.get_context_data(**{self.form_name: form}))


class DeviationJustifyView(DeviationStepView):
    required_action = Action.JUSTIFY
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
    required_action = Action.DECIDE
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
    required_action = Action.DECIDE
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
