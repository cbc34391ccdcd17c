"""Views of the centres app: the site list and the office's login lock-outs (issue 8).

The site detail page and its revisions partial combine data sheets and deviation
records, so they live in ``datasheets.site_views`` (STYLE §4: ``centres`` imports
neither ``indicators`` nor ``datasheets``); their URL names stay in the ``centres``
namespace (see ``qiportal.urls``). Reads go through selectors (404 out of scope).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import FormView, TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from qiportal.exceptions import ApplicationError
from qiportal.login import cooloff_minutes
from qiportal.portal import PortalMixin

from .filters import SiteFilterSet
from .forms import AuditAssignForm
from .lockouts import LockoutKind, login_lockout_list, login_lockout_reset
from .models import AuditOutcome
from .permissions import Action, user_can
from .selectors import audit_get_for_office, log_entry_list, site_list
from .services import audit_auditors_set, audit_update
from .tables import SiteTable


class SiteListView(PortalMixin, SingleTableMixin, FilterView):
    """Sites in scope; filter by name/Reg.-Nr., city, country, standalone."""

    template_name = "centres/site_list.html"
    table_class = SiteTable
    filterset_class = SiteFilterSet
    paginate_by = 50
    nav_section = "sites"

    def get_queryset(self):
        return site_list(user=self.request.user)


class OfficeOnlyMixin:
    """The whole page type is the certification office's (``Action.MANAGE``): any other
    role gets 403, like the national pages for roles without ``VIEW_NATIONAL``."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not user_can(request.user, Action.MANAGE):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class LoginLockoutListView(OfficeOnlyMixin, PortalMixin, TemplateView):
    """Current login lock-outs (issue 8) with an "Entsperren" button per row."""

    template_name = "centres/login_lockout_list.html"
    nav_section = "lockouts"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            lockouts=login_lockout_list(),
            failure_limit=settings.AXES_FAILURE_LIMIT,
            cooloff_minutes=cooloff_minutes(),
        )
        return context


class LoginLockoutResetView(OfficeOnlyMixin, View):
    """POST ``kind`` + ``value``: lift one lock-out (``login_lockout_reset``); back to
    the list with a message, a refusal becomes a message too."""

    def post(self, request):
        kind, value = request.POST.get("kind", ""), request.POST.get("value", "")
        try:
            lockout = login_lockout_reset(kind=kind, value=value, acting_user=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message, extra_tags=exc.code)  # the stable code: data-code
        else:
            if lockout.kind == LockoutKind.USERNAME:
                text = _("Unlocked: the user name %(value)s can log in again.")
            else:
                text = _("Unlocked: logins from the address %(value)s are possible again.")
            messages.success(request, text % {"value": value})
        return redirect("login_lockout_list")


class AuditAssignView(OfficeOnlyMixin, PortalMixin, FormView):
    """The office's page for one audit (issue 9): its auditors (checkboxes, users with
    an auditor membership only), REDZYK and outcome, through ``audit_auditors_set`` and
    ``audit_update`` in one transaction; other roles 403, an audit out of the office's
    scope 404. A refusal (e.g. a user without the auditor role) is shown as a form error
    and nothing is written."""

    template_name = "centres/audit_assign.html"
    form_class = AuditAssignForm
    nav_section = "audits"

    def get_audit(self):
        if not hasattr(self, "_audit"):
            self._audit = audit_get_for_office(user=self.request.user, pk=self.kwargs["pk"])
        return self._audit

    def get_initial(self):
        audit = self.get_audit()
        return {"auditors": list(audit.auditors.all()), "reduced_cycle": audit.reduced_cycle, "outcome": audit.outcome}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(audit=self.get_audit(), history=audit_history(self.get_audit()))
        return context

    def form_valid(self, form):
        audit = self.get_audit()
        try:
            with transaction.atomic():
                audit_auditors_set(audit=audit, auditors=form.cleaned_data["auditors"], acting_user=self.request.user)
                audit_update(
                    audit=audit,
                    reduced_cycle=form.cleaned_data["reduced_cycle"],
                    outcome=form.cleaned_data["outcome"],
                    acting_user=self.request.user,
                )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return self.form_invalid(form)
        messages.success(self.request, _("The audit %(audit)s was saved.") % {"audit": audit})
        return redirect("audits:audit_list")


AUDIT_ACTIONS = {
    "centres.audit.auditors_set": gettext_lazy("Auditors"),
    "centres.audit.updated": gettext_lazy("REDZYK / outcome"),
}


def _audit_state_text(value) -> str:
    """A logged "from"/"to" of an audit as text: a list of user names, or a dict of
    ``reduced_cycle`` / ``outcome``."""
    if isinstance(value, list):
        return ", ".join(value) or "–"
    if isinstance(value, dict):
        parts = []
        if "reduced_cycle" in value:
            parts.append(f"{_('Reduced cycle (REDZYK)')}: {_('yes') if value['reduced_cycle'] else _('no')}")
        if "outcome" in value:
            outcome = dict(AuditOutcome.choices).get(value["outcome"], "–")
            parts.append(f"{_('Outcome')}: {outcome}")
        return "; ".join(parts)
    return "–" if value in (None, "") else str(value)


def audit_history(audit) -> list[dict]:
    """The audit's log entries as rows ``{"time", "actor", "change", "before", "after"}``
    (texts), oldest first."""
    return [
        {
            "time": entry.created_at,
            "actor": entry.actor,
            "change": AUDIT_ACTIONS.get(entry.action, entry.action),
            "before": _audit_state_text(entry.data.get("from")),
            "after": _audit_state_text(entry.data.get("to")),
        }
        for entry in log_entry_list(obj=audit)
    ]
