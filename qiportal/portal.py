"""Shared view plumbing of every portal page: role-based navigation, ``PortalMixin``
and ``url_with_query``.

Apps import this module, so it imports nothing above ``centres`` (STYLE §4: ``centres``
<- ``indicators`` <- ``datasheets``). Other apps appear here only as URL names, which
are strings, not imports. Pages that combine several apps live in ``qiportal.views``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from centres.models import Role
from centres.permissions import Action, user_can, user_roles


def navigation(request, section: str = "") -> list[dict]:
    """Main navigation entries the user may use; ``section`` marks the current one.

    Returns ``[{"url": str, "label": str, "current": bool}, ...]``; empty for an
    anonymous user."""
    user = request.user
    if not user.is_authenticated:
        return []
    entries = [
        ("home", _("Home"), "home"),
        ("centres:site_list", _("Sites"), "sites"),
        ("datasheets:revision_list", _("Data sheets"), "datasheets"),
        ("indicators:deviation_list", _("Deviations"), "deviations"),
        ("audits:audit_list", _("Audits"), "audits"),
    ]
    if user_can(user, Action.VIEW_NATIONAL):
        entries.append(("indicators:national", _("National results"), "national"))
    if user_roles(user) & {Role.COMMISSION, Role.OFFICE}:
        entries.append(("system_status", _("Certification system"), "system"))
    if user_can(user, Action.MANAGE):
        entries.append(("login_lockout_list", _("Login lock-outs"), "lockouts"))
    if user.is_staff:
        entries.append(("admin:index", _("Administration"), "admin"))
    return [{"url": reverse(name), "label": label, "current": key == section} for name, label, key in entries]


class PortalMixin:
    """Adds the navigation and the user's role names to a page's context."""

    nav_section = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(portal_context(self.request, self.nav_section))
        return context


def portal_context(request, section: str = "") -> dict:
    """``{"nav": navigation(...), "user_role_labels": [...]}`` for any page, also the
    error pages (issue 9: a 403 page keeps the navigation)."""
    labels = dict(Role.choices)
    return {
        "nav": navigation(request, section),
        "user_role_labels": sorted(str(labels.get(r, r)) for r in user_roles(request.user)),
    }


def url_with_query(name: str, *args, **query) -> str:
    """``reverse(name, args)`` plus the non-empty ``query`` parameters, e.g.
    ``url_with_query("indicators:deviation_list", site=3, state="")`` ->
    ``"/indicators/deviations/?site=3"``."""
    url = reverse(name, args=args)
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


class ReadOnlyAdminMixin:
    """Django admin for a record that only the services may write (issue 9: the log is
    the record; a deviation's or a revision's state changes only through its services):
    rows can be looked at, never added, changed or deleted there."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
