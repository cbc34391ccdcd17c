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
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from qiportal.exceptions import ApplicationError
from qiportal.login import cooloff_minutes
from qiportal.portal import PortalMixin

from .filters import SiteFilterSet
from .lockouts import LockoutKind, login_lockout_list, login_lockout_reset
from .permissions import Action, user_can
from .selectors import site_list
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
