"""Tables of the indicators app and the display helpers shared by all tables.

Formatting lives in ``render_<column>`` (django-tables2) with the number helpers of
``indicators.formatting`` (re-exported here for the other apps' tables): numbers follow
the active locale (German default: ``95,0 %``, ``1.234``); rates are Fractions 0..1,
shown as percent with one decimal, rounded half up.
"""

from __future__ import annotations

import django_tables2 as tables
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from centres.permissions import Action, user_can

from .choices import DeviationState, Flag
from .formatting import EMPTY, format_count, format_percent, format_value
from .models import Deviation

TABLE_TEMPLATE = "django_tables2/qiportal.html"
NUM_ATTRS = {"td": {"class": "num"}, "th": {"class": "num"}}

FLAG_LABELS = dict(Flag.choices)
STATE_LABELS = dict(DeviationState.choices)


def flag_badge(flag: str) -> str:
    """One flag as a coloured badge that also carries its text (never colour alone)."""
    return format_html('<span class="badge badge--{}">{}</span>', flag, FLAG_LABELS.get(flag, flag))


def flag_badges(flags: list[str] | None, *, evaluated: bool = True) -> str:
    """All flags of a value; an evaluated value without flags shows ``ok``."""
    if not flags:
        if not evaluated:
            return EMPTY
        return format_html('<span class="badge badge--ok">{}</span>', _("ok"))
    return format_html_join(" ", "{}", ((flag_badge(f),) for f in flags))


def state_badge(state: str) -> str:
    """A review state (SPEC §4) as a badge with text."""
    return format_html('<span class="badge badge--state-{}">{}</span>', state, STATE_LABELS.get(state, state))


def active_badge(is_active: bool) -> str:
    if is_active:
        return format_html('<span class="badge badge--active">{}</span>', _("active"))
    return format_html('<span class="badge badge--closed">{}</span>', _("closed"))


JUSTIFICATION_SHORT = 80
"""Characters of the Begründung shown in the queue; the full text is in the title."""

DECIDABLE_STATES = (DeviationState.OPEN, DeviationState.JUSTIFIED)


def overdue_badge() -> str:
    """The visible mark of an overdue Abweichung: a badge with text and a sign, never
    colour alone (issue 9)."""
    return format_html('<span class="badge badge--overdue">{}</span>', _("overdue"))


def due_date_cell(deviation: Deviation) -> str:
    """Frist of a deviation: the due date (German short date) and, when overdue, the
    overdue badge; "–" without a due date."""
    if deviation.due_date is None:
        return EMPTY
    text = date_format(deviation.due_date, "SHORT_DATE_FORMAT")
    if deviation.overdue:
        return format_html('<span class="nowrap">{}</span> {}', text, overdue_badge())
    return format_html('<span class="nowrap">{}</span>', text)


def repeat_badge(consecutive_years: int) -> str:
    """ "3. Jahr in Folge" for a deviation flagged in the two years before, too; "" for
    the first year (issue 9)."""
    if not consecutive_years or consecutive_years < 2:
        return ""
    return format_html(
        '<span class="badge badge--repeat">{}</span>', _("%(n)d. year in a row") % {"n": consecutive_years}
    )


def shorten(text: str, limit: int = JUSTIFICATION_SHORT) -> str:
    """``text`` as one line of at most ``limit`` characters, cut at a word with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + "…"


class DeviationTable(tables.Table):
    """Scoped deviation records, the auditor's queue (issue 9); sortable; site and
    definition come selected, so the rows cost no query.

    ``user``: a "select" column with a labelled checkbox for the bulk decision
    "accepted" on every row the user may DECIDE in state open or justified (the column
    is left out for a user who decides nothing: pass ``selectable=False``).
    ``query``: the queue's filter and sort as a query string, carried by the links to
    the deviation pages (their next / previous keep the filter). Ordering always ends
    with the primary key, so equal sort keys have one stable order.
    """

    region_label = _("Deviations")

    select = tables.Column(
        verbose_name=_("Selection"), empty_values=(), orderable=False, attrs={"td": {"class": "select"}}
    )
    site = tables.Column(
        verbose_name=_("Site"),
        order_by=("site__registration_number",),
        linkify=("centres:site_detail", {"pk": tables.A("site_id")}),
    )
    indicator_year = tables.Column(verbose_name=_("Indicator year"), localize=False)
    code = tables.Column(verbose_name=_("KeZa"), attrs={"td": {"class": "nowrap"}})
    title = tables.Column(verbose_name=_("Indicator"), accessor="definition__title", orderable=False)
    flag = tables.Column(verbose_name=_("Flag"))
    numerator = tables.Column(verbose_name=_("Numerator"), attrs=NUM_ATTRS)
    denominator = tables.Column(verbose_name=_("Denominator"), attrs=NUM_ATTRS, default=EMPTY)
    rate = tables.Column(verbose_name=_("Rate"), orderable=False, empty_values=(), attrs=NUM_ATTRS)
    state = tables.Column(verbose_name=_("State"))
    is_active = tables.Column(verbose_name=_("Active"))
    justification = tables.Column(verbose_name=_("Justification"), orderable=False, empty_values=())
    reason_code = tables.Column(verbose_name=_("Reason"), empty_values=())
    due_date = tables.Column(verbose_name=_("Due date"), empty_values=())
    consecutive_years = tables.Column(verbose_name=_("Repeat"), empty_values=())

    class Meta:
        model = Deviation
        template_name = TABLE_TEMPLATE
        fields = (
            "select",
            "site",
            "indicator_year",
            "code",
            "title",
            "flag",
            # what the auditor decides on comes first, so it is in view at 1366 px
            "state",
            "justification",
            "reason_code",
            "due_date",
            "consecutive_years",
            "numerator",
            "denominator",
            "rate",
            "is_active",
        )
        order_by = ("site", "-indicator_year", "code")
        empty_text = _("No deviations match the filter.")

    def __init__(self, *args, user=None, selectable: bool = False, query: str = "", **kwargs) -> None:
        self.user = user
        self.query = query
        if not selectable:
            kwargs["exclude"] = (*kwargs.get("exclude", ()), "select")
        super().__init__(*args, **kwargs)

    @tables.Table.order_by.setter
    def order_by(self, value):
        tables.Table.order_by.fset(self, value)
        data = getattr(self.data, "data", None)
        if isinstance(data, QuerySet):
            self.data.data = data.order_by(*(data.query.order_by or data.model._meta.ordering), "pk")

    def may_select(self, record: Deviation) -> bool:
        """The row gets a checkbox: open or justified and in the user's DECIDE scope."""
        return record.state in DECIDABLE_STATES and user_can(self.user, Action.DECIDE, record)

    def render_select(self, record: Deviation) -> str:
        if self.user is None or not self.may_select(record):
            return ""
        label = _("Select: %(site)s KeZa %(code)s, %(year)s, %(flag)s") % {
            "site": record.site.registration_number,
            "code": record.code,
            "year": record.indicator_year,
            "flag": FLAG_LABELS.get(record.flag, record.flag),
        }
        return format_html(
            '<input type="checkbox" name="deviation" value="{pk}" id="select-{pk}" form="bulk-accept">'
            '<label class="visually-hidden" for="select-{pk}">{label}</label>',
            pk=record.pk,
            label=label,
        )

    def render_site(self, record: Deviation) -> str:
        return str(record.site)

    def render_code(self, record: Deviation) -> str:
        url = reverse("indicators:deviation_detail", args=[record.pk])
        if self.query:
            url = f"{url}?{self.query}"
        return format_html('<a href="{}">{}</a>', url, record.code)

    def render_flag(self, value: str, record: Deviation) -> str:
        return flag_badge(record.flag)

    def render_numerator(self, value: int) -> str:
        return format_count(value)

    def render_denominator(self, value: int) -> str:
        return format_count(value)

    def render_rate(self, record: Deviation) -> str:
        return format_percent(record.rate) if record.denominator is not None else EMPTY

    def render_state(self, record: Deviation) -> str:
        return state_badge(record.state)

    def render_is_active(self, record: Deviation) -> str:
        return active_badge(record.is_active)

    def render_justification(self, record: Deviation) -> str:
        if not record.justification:
            return EMPTY
        short = shorten(record.justification)
        if short == record.justification:
            return short
        return format_html('<span title="{}">{}</span>', record.justification, short)

    def render_reason_code(self, record: Deviation) -> str:
        return record.get_reason_code_display() if record.reason_code else EMPTY

    def render_due_date(self, record: Deviation) -> str:
        return due_date_cell(record)

    def render_consecutive_years(self, record: Deviation) -> str:
        return repeat_badge(record.consecutive_years)


NUM = {"td": {"class": "num"}, "th": {"class": "num"}}


class _StatColumn(tables.Column):
    """A statistic of ``IndicatorStatRow.statistics``: percent for rates, number for
    counts."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("attrs", NUM)
        kwargs.setdefault("empty_values", ())
        super().__init__(*args, **kwargs)

    def render(self, value, record) -> str:
        return format_value(value, is_count=record.definition.is_count)


class NationalStatsTable(tables.Table):
    """One row per indicator of an indicator year with the SPEC §5 statistics. Rows are
    ``indicators.selectors.IndicatorStatRow`` objects."""

    region_label = _("National statistics")

    code = tables.Column(
        verbose_name=_("KeZa"), accessor="definition__code", orderable=False, attrs={"td": {"class": "nowrap"}}
    )
    title = tables.Column(verbose_name=_("Indicator"), accessor="definition__title", orderable=False)
    n_sites = tables.Column(verbose_name=_("Sites"), accessor="statistics__n_sites", orderable=False, attrs=NUM)
    pooled = _StatColumn(verbose_name=_("Pooled rate / total"), accessor="statistics__pooled_rate")
    median = _StatColumn(verbose_name=_("Median"), accessor="statistics__median")
    minimum = _StatColumn(verbose_name=_("Min."), accessor="statistics__minimum")
    p5 = _StatColumn(verbose_name=_("P5"), accessor="statistics__p5")
    p25 = _StatColumn(verbose_name=_("P25"), accessor="statistics__p25")
    p75 = _StatColumn(verbose_name=_("P75"), accessor="statistics__p75")
    p95 = _StatColumn(verbose_name=_("P95"), accessor="statistics__p95")
    maximum = _StatColumn(verbose_name=_("Max."), accessor="statistics__maximum")
    target = tables.Column(
        verbose_name=_("Target"),
        accessor="definition__target_display",
        orderable=False,
        empty_values=(),
        attrs={"td": {"class": "nowrap"}},
    )
    meeting = tables.Column(
        verbose_name=_("Sites meeting target"),
        accessor="statistics__sites_meeting_target",
        orderable=False,
        empty_values=(),
        attrs=NUM,
    )
    corridor = tables.Column(
        verbose_name=_("Plausibility corridor"),
        accessor="definition__corridor_display",
        orderable=False,
        empty_values=(),
        attrs={"td": {"class": "nowrap"}},
    )
    inside = tables.Column(
        verbose_name=_("Sites inside corridor"),
        accessor="statistics__sites_inside_corridor",
        orderable=False,
        empty_values=(),
        attrs=NUM,
    )
    zero = tables.Column(
        verbose_name=_("Sites with numerator 0"),
        accessor="statistics__sites_with_zero_numerator",
        orderable=False,
        attrs=NUM,
    )

    class Meta:
        template_name = TABLE_TEMPLATE
        orderable = False
        attrs = {"class": "table table--compact"}
        empty_text = _("No indicators in this catalogue version.")

    def __init__(self, *args, indicator_year: int, **kwargs) -> None:
        self.indicator_year = indicator_year
        super().__init__(*args, **kwargs)

    def render_code(self, record) -> str:
        url = reverse("indicators:national_indicator", args=[self.indicator_year, record.definition.code])
        return format_html('<a href="{}">{}</a>', url, record.definition.code)

    def render_pooled(self, record) -> str:
        stats = record.statistics
        if record.definition.is_count:
            return format_count(stats.total)
        return format_percent(stats.pooled_rate)

    def render_target(self, record) -> str:
        return record.definition.target_display() or EMPTY

    def render_corridor(self, record) -> str:
        return record.definition.corridor_display() or EMPTY

    def render_meeting(self, record) -> str:
        stats = record.statistics
        if stats.sites_meeting_target is None:
            return EMPTY
        share = format_percent(stats.share_meeting_target)
        return f"{stats.sites_meeting_target} ({share})"

    def render_inside(self, record) -> str:
        stats = record.statistics
        if stats.sites_inside_corridor is None:
            return EMPTY
        return f"{stats.sites_inside_corridor} ({format_percent(stats.share_inside_corridor)})"
