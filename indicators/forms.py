"""Forms of the indicators app: review steps of a deviation (SPEC §4), year choice."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import DeviationState, ReasonCode
from .evidence import ACCEPT as EVIDENCE_ACCEPT
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
    reason_code = forms.ChoiceField(
        label=_("Reason"),
        required=False,
        choices=[("", _("– not given –")), *ReasonCode.choices],
    )


class DecideForm(_StepForm):
    """The auditor's decision; a nonconformity needs a due date (checked by the
    service, ``DeviationError.DUE_DATE_REQUIRED``)."""

    prefix_id = "decide"

    decision = forms.ChoiceField(label=_("Decision"), choices=DECISION_CHOICES, widget=forms.RadioSelect)
    corrective_action = forms.CharField(
        label=_("Corrective action"),
        required=False,
        max_length=2000,
        help_text=_("Required for a nonconformity: what the centre must do."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
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


class MultipleFileInput(forms.FileInput):
    """A file input that lets the user choose several files (Django's documented
    ``allow_multiple_selected``)."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several uploaded files; ``cleaned_data`` is a list (empty when none was chosen)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        items = data if isinstance(data, list | tuple) else [data]
        return [cleaned for cleaned in (single(item, initial) for item in items) if cleaned]


class AnswerForm(_StepForm):
    """The centre's statement on an Abweichung, with evidence files (PDF, PNG, JPEG);
    files are checked by ``indicators.evidence``."""

    prefix_id = "answer"

    text = forms.CharField(
        label=_("Statement"),
        max_length=4000,
        help_text=_("What was done about the nonconformity? At most 4,000 characters."),
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    files = MultipleFileField(
        label=_("Evidence files"),
        required=False,
        help_text=_("PDF, PNG or JPEG; several files may be chosen at once."),
        widget=MultipleFileInput(attrs={"accept": EVIDENCE_ACCEPT}),
    )

    MAX_FILES = 10

    def clean_files(self) -> list:
        files = self.cleaned_data["files"]
        if len(files) > self.MAX_FILES:
            raise forms.ValidationError(
                _("At most %(n)d files per answer.") % {"n": self.MAX_FILES}, code="too_many_files"
            )
        return files


class SendBackForm(_StepForm):
    """The auditor does not accept the centre's answer yet; the comment says why."""

    prefix_id = "send_back"

    comment = forms.CharField(
        label=_("Why is the answer not sufficient?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class NationalYearForm(forms.Form):
    """Choose the Kennzahlenjahr of the national statistics."""

    indicator_year = forms.TypedChoiceField(label=_("Indicator year"), coerce=int, choices=())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["indicator_year"].choices = indicator_year_choices()
