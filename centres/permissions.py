"""The only reader of roles: who may do what with which site (STYLE §1, NetBox scoping).

``restrict(qs, user, action)`` filters a queryset to what the user may see; rows out of
scope vanish and views answer 404. ``user_can(user, action, obj)`` answers for one object.
Objects are a ``Site`` or anything with a ``site`` attribute / ``site_id`` (and, where it
matters, an ``indicator_year``).

Auditors (Fachexperten) get their scope from audits only (issue 9), never from a
site-bound membership: a user holding the auditor role who is one of an ``Audit``'s
``auditors`` may DECIDE the deviations of that site for the audit's indicator year
(audit year − 1) and VIEW that site's data for that year and the earlier years.
An auditor membership without an audit sees and decides nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet

from .models import Audit, Membership, Role, Site


class Action(StrEnum):
    VIEW = "view"  # see a site's data sheets, values and deviations
    SUBMIT = "submit"  # upload a Datenblatt for a site
    JUSTIFY = "justify"  # give a Begründung for a deviation
    DECIDE = "decide"  # auditor decision on a deviation
    VIEW_NATIONAL = "view_national"  # national statistics (Jahresbericht)
    MANAGE = "manage"  # office: everything


# Which roles allow which action; site-bound memberships apply to their site only.
# The auditor's VIEW and DECIDE come from audits (AUDIT_ACTIONS), not from memberships.
ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.COORDINATOR: frozenset({Action.VIEW, Action.SUBMIT, Action.JUSTIFY}),
    Role.AUDITOR: frozenset({Action.VIEW_NATIONAL}),
    Role.COMMISSION: frozenset({Action.VIEW, Action.VIEW_NATIONAL}),
    Role.OFFICE: frozenset({Action.VIEW, Action.SUBMIT, Action.DECIDE, Action.VIEW_NATIONAL, Action.MANAGE}),
}


def _memberships(user) -> list[tuple[int | None, str]]:
    if not getattr(user, "is_authenticated", False):
        return []
    cache = getattr(user, "_qip_memberships", None)
    if cache is None:
        cache = list(Membership.objects.filter(user=user).values_list("site_id", "role"))
        user._qip_memberships = cache
    return cache


# Actions an audit grants its auditors; VIEW reaches back to earlier years, DECIDE not.
AUDIT_ACTIONS = frozenset({Action.VIEW, Action.DECIDE})


def audit_years(user) -> dict[int, set[int]]:
    """Site id -> the indicator years of the audits the user is an auditor of (empty
    unless the user holds the auditor role). Cached on the user object."""
    if not getattr(user, "is_authenticated", False):
        return {}
    cache = getattr(user, "_qip_audit_years", None)
    if cache is None:
        cache = {}
        if any(role == Role.AUDITOR for _site, role in _memberships(user)):
            for site_id, audit_year in Audit.objects.filter(auditors=user).values_list("site_id", "audit_year"):
                cache.setdefault(site_id, set()).add(audit_year - 1)
        user._qip_audit_years = cache
    return cache


def forget(user) -> None:
    """Drop the cached memberships and audit scope of ``user`` after they changed."""
    for attr in ("_qip_memberships", "_qip_audit_years"):
        if hasattr(user, attr):
            delattr(user, attr)


def _year_allowed(action: Action, years: set[int], year: int | None) -> bool:
    """An audit's years allow ``year``: DECIDE exactly, VIEW that year or earlier; for
    an object without a year (a Site, a revision not yet read) any audit of the site
    answers (there is something to view or decide at that site)."""
    if year is None:
        return True
    if action == Action.DECIDE:
        return year in years
    return year <= max(years)


def _roles_for(action: Action) -> set[str]:
    return {role for role, actions in ROLE_ACTIONS.items() if action in actions}


def site_scope(user, action: Action) -> tuple[bool, set[int]]:
    """Return (all_sites, site_ids) the user may perform ``action`` on, by membership
    only; audit-based auditor scope is added by ``user_can`` and ``restrict``."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return True, set()
    roles = _roles_for(action)
    all_sites = False
    ids: set[int] = set()
    for site_id, role in _memberships(user):
        if role not in roles:
            continue
        if site_id is None:
            all_sites = True
        else:
            ids.add(site_id)
    return all_sites, ids


def user_can(user, action: Action, obj: Any = None) -> bool:
    """True if ``user`` may perform ``action`` on ``obj`` (a Site, an object with a site,
    or None for site-independent actions such as VIEW_NATIONAL)."""
    all_sites, ids = site_scope(user, action)
    if all_sites:
        return True
    if obj is None:
        return bool(ids) and action == Action.VIEW_NATIONAL
    site_id = obj.pk if isinstance(obj, Site) else getattr(obj, "site_id", None)
    if site_id is None:
        return False
    if site_id in ids:
        return True
    if action not in AUDIT_ACTIONS:
        return False
    years = audit_years(user).get(site_id)
    year = None if isinstance(obj, Site) else getattr(obj, "indicator_year", None)
    return bool(years) and _year_allowed(action, years, year)


def restrict(
    qs: QuerySet,
    user,
    action: Action = Action.VIEW,
    site_field: str = "site",
    year_field: str | None = "indicator_year",
) -> QuerySet:
    """Filter ``qs`` to rows whose site the user may ``action``; ``site_field`` is the
    lookup path to the site ("" when ``qs`` is a Site queryset), ``year_field`` the
    indicator year's (None when the rows have none; rows with an empty year are then
    visible by site only). Audit-based auditor scope is limited by year as in
    ``user_can``."""
    all_sites, ids = site_scope(user, action)
    if all_sites:
        return qs
    lookup = f"{site_field}__in" if site_field else "pk__in"
    site_key = f"{site_field}_id" if site_field else "pk"
    if year_field and not _has_field(qs.model, year_field):
        year_field = None
    condition = Q(**{lookup: ids}) if ids else Q(pk__in=[])
    if action in AUDIT_ACTIONS:
        for site_id, years in audit_years(user).items():
            if site_id in ids:
                continue
            site_q = Q(**{site_key: site_id})
            if not site_field or year_field is None:
                condition |= site_q
                continue
            if action == Action.DECIDE:
                year_q = Q(**{f"{year_field}__in": years})
            else:
                year_q = Q(**{f"{year_field}__lte": max(years)})
            condition |= site_q & (year_q | Q(**{f"{year_field}__isnull": True}))
    return qs.filter(condition)


def _has_field(model, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def user_roles(user) -> set[str]:
    """The set of role values the user holds anywhere (for navigation only)."""
    roles = {role for _site, role in _memberships(user)}
    if getattr(user, "is_superuser", False):
        roles.add(Role.OFFICE)
    return roles
