"""The page where a person switches their daily digest mail off or on (issue 9),
``/account/notifications/``: every logged-in person, for themselves only."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView

from qiportal.portal import PortalMixin

from .models import NotificationSetting
from .services import notification_setting_set


class NotificationSettingsForm(forms.Form):
    """One checkbox: the daily digest by e-mail."""

    digest_enabled = forms.BooleanField(
        label=gettext_lazy("Send me a daily digest by e-mail"),
        required=False,
        help_text=gettext_lazy(
            "At most one mail a day, only when there is something to tell: new flags, decisions, "
            "due dates and overdue nonconformities of your sites; justifications and answers "
            "awaiting your decision as an auditor."
        ),
    )


def digest_enabled(user) -> bool:
    """The user's choice; no NotificationSetting row means the digest is on."""
    value = NotificationSetting.objects.filter(user=user).values_list("digest_enabled", flat=True).first()
    return True if value is None else value


class NotificationSettingsView(PortalMixin, FormView):
    """GET: the current choice and the address the digest goes to; POST: save it
    (``notification_setting_set``) and come back with a message."""

    template_name = "centres/notification_settings.html"
    form_class = NotificationSettingsForm

    def get_initial(self):
        return {"digest_enabled": digest_enabled(self.request.user)}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["email"] = self.request.user.email
        context["digest_on"] = digest_enabled(self.request.user)
        return context

    def form_valid(self, form):
        enabled = form.cleaned_data["digest_enabled"]
        notification_setting_set(user=self.request.user, digest_enabled=enabled)
        if enabled:
            messages.success(self.request, _("The daily digest is switched on."))
        else:
            messages.success(self.request, _("The daily digest is switched off."))
        return redirect("notification_settings")
