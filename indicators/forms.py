"""Forms of the indicators app: review steps of a deviation (SPEC §4), year choice."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import DeviationState
from .selectors import indicator_year_choices

DECISION_CHOICES = [
    (DeviationState.ACCEPTED.value, _("Accepted: explained, no finding")),
    (DeviationState.NOTE.value, _("Note (Hinweis)")),
    (DeviationState.NONCONFORMITY.value, _("Nonconformity (Abweichung), with a due date")),
]


class _StepForm(forms.Form):
    """A review step form; ids carry the step name, so several forms fit one page."""

    prefix_id = "step"

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"{self.prefix_id}_%s")
        super().__init__(*args, **kwargs)


class JustifyForm(_StepForm):
    """The centre's Begründung of a flagged value (max. 2,000 characters)."""

    prefix_id = "justify"

    text = forms.CharField(
        label=_("Justification (Begründung)"),
        max_length=2000,
        help_text=_("Why does the value deviate? At most 2,000 characters."),
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class DecideForm(_StepForm):
    """The auditor's decision; a nonconformity needs a due date (checked by the
    service, ``DeviationError.DUE_DATE_REQUIRED``)."""

    prefix_id = "decide"

    decision = forms.ChoiceField(label=_("Decision"), choices=DECISION_CHOICES, widget=forms.RadioSelect)
    due_date = forms.DateField(
        label=_("Due date"),
        required=False,
        help_text=_("Required for a nonconformity."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ResolveForm(_StepForm):
    """The auditor confirms the correction of a note or nonconformity."""

    prefix_id = "resolve"

    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class NationalYearForm(forms.Form):
    """Choose the Kennzahlenjahr of the national statistics."""

    indicator_year = forms.TypedChoiceField(label=_("Indicator year"), coerce=int, choices=())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["indicator_year"].choices = indicator_year_choices()
