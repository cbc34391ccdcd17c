"""One date format on every page (issue 9, also-fix): TT.MM.JJJJ, whatever name a
template asks for (``|date``, ``DATE_FORMAT``, ``SHORT_DATE_FORMAT``, a bare date) and
in both UI languages (``qiportal/formats``, ``FORMAT_MODULE_PATH``)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

TEMPLATE = Template(
    '{{ d }}|{{ d|date }}|{{ d|date:"DATE_FORMAT" }}|{{ d|date:"SHORT_DATE_FORMAT" }}'
    '|{{ t|date:"SHORT_DATETIME_FORMAT" }}|{{ t|date:"DATETIME_FORMAT" }}'
)


@pytest.mark.parametrize("language", ["de", "en"])
def test_every_date_format_is_german_day_month_year(language):
    context = Context(
        {"d": dt.date(2023, 12, 31), "t": dt.datetime(2024, 1, 5, 9, 7, tzinfo=ZoneInfo("Europe/Berlin"))}
    )
    with translation.override(language):
        rendered = TEMPLATE.render(context)
    assert rendered.split("|") == ["31.12.2023"] * 4 + ["05.01.2024 09:07"] * 2


def test_german_date_input_still_accepts_both_forms():
    from django import forms

    field = forms.DateField()
    with translation.override("de"):
        assert field.clean("31.12.2023") == field.clean("2023-12-31") == dt.date(2023, 12, 31)
