"""Views of the indicators app: deviation list/detail with the review steps (SPEC §4)
and the national statistics (SPEC §5, "Bundesweite Auswertung").

Reads go through ``indicators.selectors`` (deviations scoped, 404 out of scope); review
steps call ``indicators.services``; an ``ApplicationError`` becomes a message and a form
error, never a 500. Charts are server-rendered inline SVG (CSP-safe), see
``distribution_chart`` and ``trend_chart``.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Max
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from centres.models import LogEntry
from centres.permissions import Action, user_can
from centres.views import PortalMixin
from qiportal.exceptions import ApplicationError

from . import domain
from .choices import DeviationState
from .filters import DeviationFilterSet
from .forms import DecideForm, JustifyForm, NationalYearForm, ResolveForm
from .models import Deviation, Evaluation, IndicatorDefinition, IndicatorYear
from .selectors import deviation_get, deviation_list, indicator_stats, indicator_trend
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
        entries = LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Deviation), object_id=deviation.pk
        ).select_related("actor")
        return [
            {
                "entry": entry,
                "label": LOG_ACTIONS.get(entry.action, entry.action),
                "actor": (entry.actor.get_full_name() or entry.actor.get_username())
                if entry.actor else _("system"),
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
        raise NotImplementedError

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
        deviation_justify(deviation=self.deviation, text=data["text"], acting_user=self.request.user)


class DeviationDecideView(DeviationStepView):
    form_class = DecideForm
    form_name = "decide_form"
    success_message = gettext_lazy("The decision was saved.")

    def perform(self, data: dict) -> None:
        deviation_decide(
            deviation=self.deviation, decision=data["decision"], comment=data["comment"],
            due_date=data["due_date"], acting_user=self.request.user,
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


def default_national_year() -> int | None:
    """The newest indicator year with evaluations, else the newest mapped year."""
    year = Evaluation.objects.aggregate(year=Max("indicator_year"))["year"]
    if year is None:
        year = IndicatorYear.objects.aggregate(year=Max("year"))["year"]
    return year


class NationalView(NationalMixin, TemplateView):
    """All indicators of one Kennzahlenjahr with the SPEC §5 statistics."""

    template_name = "indicators/national.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = NationalYearForm(self.request.GET or None)
        year = form.cleaned_data["indicator_year"] if form.is_bound and form.is_valid() else None
        if year is None:
            year = default_national_year()
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
        values = list(
            Evaluation.objects.filter(indicator_year=year, definition=definition)
            .values_list("numerator", "denominator")
        )
        is_count = definition.is_count

        def fmt(value):
            return format_value(value, is_count=is_count)

        facts = [
            (_("Sites with a value"), format_count(stats.n_reported)),
            (_("Evaluable sites"), format_count(stats.n_sites)),
            (_("Total") if is_count else _("Pooled rate"),
             format_count(stats.total) if is_count else format_percent(stats.pooled_rate)),
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
        return JsonResponse(payload, encoder=StatsJSONEncoder,
                            json_dumps_params={"ensure_ascii": False, "indent": 2})


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
        if d.corridor_lower is not None or d.corridor_upper is not None else None,
        "statistics": data,
    }


# ------------------------------------------------------------------------------- charts
# Geometry is computed here and printed by the templates as plain strings (never
# localised numbers: "12,5" would break SVG). Colours and strokes live in qiportal.css.

CHART_W, CHART_H = 720, 300
PAD_L, PAD_R, PAD_T, PAD_B = 60, 16, 16, 44


def _f(x: float) -> str:
    return f"{x:.2f}"


def _nice_max(value: float) -> float:
    """A round upper bound of a count axis (1, 2, 2.5, 5 × 10^k)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return value


class _Axis:
    """Maps a value (fraction 0..1 for rates, a number for counts) to an SVG y."""

    def __init__(self, *, is_count: bool, top: float) -> None:
        self.is_count = is_count
        self.top = 1.0 if not is_count else _nice_max(top * 1.05)
        self.plot_h = CHART_H - PAD_T - PAD_B

    def y(self, value) -> float:
        v = min(max(float(value), 0.0), self.top)
        return PAD_T + self.plot_h * (1 - v / self.top)

    def ticks(self) -> list[dict]:
        out = []
        for i in range(5):
            v = self.top * i / 4
            label = format_count(Decimal(str(v))) if self.is_count else format_percent(Decimal(str(v)))
            out.append({"y": _f(self.y(v)), "label": label})
        return out


def _rule_lines(definition: IndicatorDefinition, axis: _Axis, x0: float, x1: float) -> dict:
    """Target line and corridor band (between the strict bounds) of a definition."""
    out: dict = {}
    if definition.target_value is not None and definition.target_op:
        y = axis.y(definition.target_value)
        out["target"] = {"x1": _f(x0), "x2": _f(x1), "y": _f(y), "label_y": _f(y - 4),
                         "label": _("Target %(target)s") % {"target": definition.target_display()}}
    if definition.corridor_lower is not None or definition.corridor_upper is not None:
        low = definition.corridor_lower if definition.corridor_lower is not None else 0
        high = definition.corridor_upper if definition.corridor_upper is not None else axis.top
        y_top, y_bottom = axis.y(high), axis.y(low)
        out["corridor"] = {"x": _f(x0), "width": _f(x1 - x0), "y": _f(y_top),
                           "height": _f(max(y_bottom - y_top, 0.5))}
    return out


def distribution_chart(values, definition: IndicatorDefinition, stats) -> dict | None:
    """Bars of the evaluable sites' rates (or counts), sorted ascending and anonymous,
    with the target line, the plausibility corridor band and the median; None when no
    site is evaluable. Bars missing the target or outside the corridor get their own
    class; each bar has a text title."""
    rule = definition.rule()
    is_count = definition.is_count
    points = sorted(
        ((Fraction(n) if is_count else Fraction(n, d)), n, d)
        for n, d in values
        if is_count or d
    )
    if not points:
        return None
    top = max([float(p[0]) for p in points] + [float(definition.target_value or 0),
                                                float(definition.corridor_upper or 0)])
    axis = _Axis(is_count=is_count, top=top)
    x0, x1 = PAD_L, CHART_W - PAD_R
    slot = (x1 - x0) / len(points)
    width = max(slot * 0.8, 0.6)
    bars = []
    for i, (value, n, d) in enumerate(points):
        missed = domain.meets_target(n, d, rule) is False
        outside = domain.corridor_position(n, d, rule) not in (None, 0)
        classes = "bar" + (" bar--missed" if missed else "") + (" bar--outside" if outside else "")
        y = axis.y(value)
        bars.append({
            "x": _f(x0 + i * slot + (slot - width) / 2), "y": _f(y), "width": _f(width),
            "height": _f(max(axis.y(0) - y, 0.5)), "class": classes,
            "title": _("Site %(rank)d of %(n)d: %(value)s") % {
                "rank": i + 1, "n": len(points), "value": format_value(value, is_count=is_count)},
        })
    chart = {
        "width": CHART_W, "height": CHART_H, "bars": bars, "ticks": axis.ticks(),
        "x0": _f(x0), "x1": _f(x1), "y0": _f(axis.y(0)), "label_x": _f(PAD_L - 6),
        "axis_label_x": _f((x0 + x1) / 2), "axis_label_y": _f(CHART_H - 12),
        "n": len(points), "any_missed": any("missed" in b["class"] for b in bars),
        "any_outside": any("outside" in b["class"] for b in bars),
    }
    if stats.median is not None:
        chart["median"] = {"y": _f(axis.y(stats.median)),
                           "label": format_value(stats.median, is_count=is_count)}
    chart.update(_rule_lines(definition, axis, x0, x1))
    return chart


def trend_chart(points, *, is_count: bool) -> dict | None:
    """Pooled rate (rates) or median (counts) per indicator year with the 25th–75th
    percentile range; a new polyline starts where the definition's ``series`` changes
    (SPEC §5). None without points."""
    points = [p for p in points if p.statistics.n_sites]
    if not points:
        return None
    first, last = points[0].indicator_year, points[-1].indicator_year
    n_slots = last - first + 1
    x0, x1 = PAD_L, CHART_W - PAD_R
    slot = (x1 - x0) / n_slots

    def x(year: int) -> float:
        return x0 + (year - first + 0.5) * slot

    def main_value(p):
        return p.statistics.median if is_count else p.statistics.pooled_rate

    top = max(float(p.statistics.p75 or 0) for p in points)
    top = max([top] + [float(main_value(p) or 0) for p in points])
    axis = _Axis(is_count=is_count, top=top)
    segments: list[list] = []
    for p in points:
        if not segments or p.series_break:
            segments.append([])
        segments[-1].append(p)
    lines, breaks, rows = [], [], []
    for seg in segments:
        coords = [(x(p.indicator_year), axis.y(main_value(p))) for p in seg if main_value(p) is not None]
        medians = [(x(p.indicator_year), axis.y(p.statistics.median)) for p in seg
                   if p.statistics.median is not None]
        lines.append({
            "points": " ".join(f"{_f(a)},{_f(b)}" for a, b in coords),
            "dots": [{"cx": _f(a), "cy": _f(b)} for a, b in coords],
            "median": " ".join(f"{_f(a)},{_f(b)}" for a, b in medians) if not is_count else "",
        })
        if seg is not segments[0]:
            d = seg[0].definition
            breaks.append({
                "x": _f(x(seg[0].indicator_year) - slot / 2), "year": seg[0].indicator_year,
                "label": _("from %(year)d: %(version)s KeZa %(code)s") % {
                    "year": seg[0].indicator_year, "version": d.version_id, "code": d.code},
            })
    for p in points:
        s = p.statistics
        rows.append({
            "year": p.indicator_year, "version": p.definition.version_id, "code": p.definition.code,
            "n_sites": s.n_sites, "series_break": p.series_break,
            "main": format_value(main_value(p), is_count=is_count),
            "median": format_value(s.median, is_count=is_count),
            "p25": format_value(s.p25, is_count=is_count), "p75": format_value(s.p75, is_count=is_count),
            "whisker": {"x": _f(x(p.indicator_year)), "y1": _f(axis.y(s.p25)), "y2": _f(axis.y(s.p75))}
            if s.p25 is not None and s.p75 is not None else None,
        })
    return {
        "width": CHART_W, "height": CHART_H, "lines": lines, "breaks": breaks, "rows": rows,
        "ticks": axis.ticks(), "x0": _f(x0), "x1": _f(x1), "y0": _f(axis.y(0)),
        "label_x": _f(PAD_L - 6), "year_y": _f(CHART_H - PAD_B + 18),
        "years": [{"x": _f(x(y)), "label": str(y)} for y in range(first, last + 1)],
        "y_top": _f(PAD_T), "is_count": is_count,
    }
