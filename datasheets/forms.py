"""Forms of the datasheets app: upload, template download, revision filter."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from centres.permissions import Action
from centres.selectors import site_list
from indicators.selectors import indicator_year_choices

from .choices import RevisionStatus
from .models import DatasheetRevision

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def default_indicator_year(years: list[int]) -> int | None:
    """The year usually submitted now: last calendar year (audit year = this year), or
    the newest year not in the future."""
    wanted = dt.date.today().year - 1
    if wanted in years:
        return wanted
    past = [y for y in years if y <= wanted]
    return max(past) if past else (max(years) if years else None)


class DatasheetUploadForm(forms.Form):
    """One Datenblatt (.xlsx) for a site the user may submit for.

    The size guard here only spares reading a huge file; ``datasheet_upload`` checks
    content and size again (SPEC §2, §3).
    """

    site = forms.ModelChoiceField(label=_("Site"), queryset=None, empty_label=None)
    file = forms.FileField(
        label=_("Data sheet (.xlsx)"),
        widget=forms.FileInput(attrs={"accept": f".xlsx,{XLSX_CONTENT_TYPE}"}),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = site_list(user=user, action=Action.SUBMIT)
        self.fields["file"].help_text = _("Excel workbook made from the portal template, at most %(size)s.") % {
            "size": filesizeformat(settings.DATASHEET_MAX_BYTES)
        }

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.DATASHEET_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is %(size)s; at most %(limit)s is allowed."),
                code="file_too_large",
                params={
                    "size": filesizeformat(upload.size),
                    "limit": filesizeformat(settings.DATASHEET_MAX_BYTES),
                },
            )
        if not upload.name.lower().endswith(".xlsx"):
            raise forms.ValidationError(_("Please choose an Excel workbook (.xlsx)."), code="file_type")
        return upload


class TemplateDownloadForm(forms.Form):
    """Choose the Kennzahlenjahr of the empty Datenblatt template."""

    indicator_year = forms.TypedChoiceField(label=_("Indicator year"), coerce=int, choices=())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = indicator_year_choices()
        self.fields["indicator_year"].choices = choices
        self.fields["indicator_year"].initial = default_indicator_year([y for y, _l in choices])


class RevisionFilterSet(django_filters.FilterSet):
    """Filter of the revision list: status, indicator year, site (scoped choices)."""

    status = django_filters.ChoiceFilter(label=_("Status"), choices=RevisionStatus.choices, empty_label=_("all"))
    indicator_year = django_filters.ChoiceFilter(label=_("Indicator year"), choices=[], empty_label=_("all"))
    site = django_filters.ModelChoiceFilter(
        label=_("Site"),
        empty_label=_("all"),
        queryset=lambda request: site_list(user=request.user) if request else None,
    )

    class Meta:
        model = DatasheetRevision
        fields = ["status", "indicator_year", "site"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.filters["indicator_year"].extra["choices"] = indicator_year_choices()
