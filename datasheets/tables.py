"""Tables of the datasheets app: revisions and the values of one revision."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from centres.selectors import user_display_name
from indicators.tables import EMPTY, TABLE_TEMPLATE, flag_badges, format_count, format_percent

from .choices import RevisionStatus
from .models import DatasheetRevision, IndicatorValue

NUM = {"td": {"class": "num"}, "th": {"class": "num"}}
STATUS_LABELS = dict(RevisionStatus.choices)


def status_badge(status: str, *, awaiting_confirmation: bool = False) -> str:
    """A revision status as a badge with text; running states get a busy marker. A
    validated revision that waits for the uploader's confirmation is no running state:
    "wartet auf Ihre Bestätigung", without the busy marker (issue 9)."""
    if awaiting_confirmation:
        return format_html('<span class="badge badge--status-awaiting">{}</span>', _("awaiting your confirmation"))
    busy = status in (RevisionStatus.PENDING, RevisionStatus.VALIDATED)
    return format_html(
        '<span class="badge badge--status-{}{}">{}</span>',
        status,
        " badge--busy" if busy else "",
        STATUS_LABELS.get(status, status),
    )


class RevisionTable(tables.Table):
    """Uploaded Datenblatt revisions (site, uploader, expected site selected)."""

    region_label = _("Data sheets")

    pk = tables.Column(
        verbose_name=_("No."),
        linkify=("datasheets:revision_detail", {"pk": tables.A("pk")}),
        attrs={"td": {"class": "nowrap"}},
    )
    uploaded_at = tables.Column(verbose_name=_("Uploaded at"), attrs={"td": {"class": "nowrap"}})
    original_name = tables.Column(
        verbose_name=_("File"), linkify=("datasheets:revision_detail", {"pk": tables.A("pk")})
    )
    site = tables.Column(verbose_name=_("Site"), order_by=("site__registration_number",), empty_values=())
    indicator_year = tables.Column(verbose_name=_("Indicator year"), localize=False, default=EMPTY)
    status = tables.Column(verbose_name=_("Status"))
    problems = tables.Column(verbose_name=_("Errors / warnings"), empty_values=(), orderable=False)
    uploaded_by = tables.Column(verbose_name=_("Uploaded by"), order_by=("uploaded_by__username",), default=EMPTY)

    class Meta:
        model = DatasheetRevision
        template_name = TABLE_TEMPLATE
        fields = ("pk", "uploaded_at", "original_name", "site", "indicator_year", "status", "problems", "uploaded_by")
        order_by = ("-uploaded_at",)
        empty_text = _("No data sheets uploaded yet.")

    def render_pk(self, value: int) -> str:
        return f"#{value}"

    def render_uploaded_at(self, value) -> str:
        return date_format(localtime(value), "SHORT_DATETIME_FORMAT")

    def render_site(self, record: DatasheetRevision) -> str:
        if record.site_id:
            return record.site.registration_number
        if record.expected_site_id:
            return format_html(
                '{} <span class="muted">({})</span>',
                record.expected_site.registration_number,
                _("expected"),
            )
        return EMPTY

    def render_status(self, value: str, record: DatasheetRevision) -> str:
        return status_badge(record.status, awaiting_confirmation=record.awaiting_confirmation)

    def render_problems(self, record: DatasheetRevision) -> str:
        n_err, n_warn = len(record.errors or []), len(record.warnings or [])
        if not n_err and not n_warn:
            return EMPTY
        parts = []
        if n_err:
            parts.append(ngettext("%(n)d error", "%(n)d errors", n_err) % {"n": n_err})
        if n_warn:
            parts.append(ngettext("%(n)d warning", "%(n)d warnings", n_warn) % {"n": n_warn})
        return ", ".join(parts)

    def render_uploaded_by(self, value) -> str:
        return user_display_name(value)


class IndicatorValueTable(tables.Table):
    """The Kennzahlen of one revision in catalogue order (definition selected)."""

    region_label = _("Indicators")

    code = tables.Column(verbose_name=_("KeZa"), accessor="definition__code", attrs={"td": {"class": "nowrap"}})
    title = tables.Column(verbose_name=_("Indicator"), accessor="definition__title")
    numerator = tables.Column(verbose_name=_("Numerator"), attrs=NUM)
    denominator = tables.Column(verbose_name=_("Denominator"), attrs=NUM, default=EMPTY)
    rate = tables.Column(verbose_name=_("Rate"), empty_values=(), attrs=NUM)
    target = tables.Column(
        verbose_name=_("Target"),
        accessor="definition__target_display",
        empty_values=(),
        attrs={"td": {"class": "nowrap"}},
    )
    corridor = tables.Column(
        verbose_name=_("Plausibility corridor"),
        accessor="definition__corridor_display",
        empty_values=(),
        attrs={"td": {"class": "nowrap"}},
    )
    flags = tables.Column(verbose_name=_("Result"), empty_values=())
    justification = tables.Column(verbose_name=_("Justification"), empty_values=(), attrs={"td": {"class": "prose"}})

    class Meta:
        model = IndicatorValue
        template_name = TABLE_TEMPLATE
        orderable = False
        fields = ("code", "title", "numerator", "denominator", "rate", "target", "corridor", "flags", "justification")
        empty_text = _("No values.")

    def render_numerator(self, value: int) -> str:
        return format_count(value)

    def render_denominator(self, value: int | None) -> str:
        return format_count(value)

    def render_rate(self, record: IndicatorValue) -> str:
        if record.definition.is_count:
            return EMPTY
        return format_percent(record.rate)

    def render_target(self, record: IndicatorValue) -> str:
        return record.definition.target_display() or EMPTY

    def render_corridor(self, record: IndicatorValue) -> str:
        return record.definition.corridor_display() or EMPTY

    def render_flags(self, record: IndicatorValue) -> str:
        return flag_badges(record.flags, evaluated=record.evaluated)

    def render_justification(self, record: IndicatorValue) -> str:
        return record.justification or EMPTY
