"""Forms of the centres app: the office's audit page (auditors, REDZYK, outcome)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import AuditError, AuditOutcome
from .selectors import auditor_candidates


class AuditorChoiceField(forms.ModelMultipleChoiceField):
    """Checkboxes labelled "Full Name (username)"; a user without the auditor role is
    refused with ``AuditError.NOT_AUDITOR``'s message."""

    def label_from_instance(self, obj) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.username})" if name else obj.username


class AuditAssignForm(forms.Form):
    """Auditors (users with an auditor membership, as a keyboard-usable checkbox list),
    the reduced audit cycle (REDZYK) and the outcome of one audit; the view hands the
    cleaned data to ``audit_auditors_set`` and ``audit_update``."""

    auditors = AuditorChoiceField(
        label=_("Auditors (Fachexperten)"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": AuditError.NOT_AUDITOR.label},
    )
    reduced_cycle = forms.BooleanField(label=_("Reduced audit cycle (REDZYK)"), required=False)
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[("", _("not decided yet")), *AuditOutcome.choices],
        required=False,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["auditors"].queryset = auditor_candidates()
