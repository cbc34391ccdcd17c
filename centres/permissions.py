"""The only reader of roles: who may do what with which site (STYLE §1, NetBox scoping).

``restrict(qs, user, action)`` filters a queryset to what the user may see; rows out of
scope vanish and views answer 404. ``user_can(user, action, obj)`` answers for one object.
Objects are a ``Site`` or anything with a ``site`` attribute / ``site_id``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.db.models import Q, QuerySet

from .models import Membership, Role, Site


class Action(StrEnum):
    VIEW = "view"  # see a site's data sheets, values and deviations
    SUBMIT = "submit"  # upload a Datenblatt for a site
    JUSTIFY = "justify"  # give a Begründung for a deviation
    DECIDE = "decide"  # auditor decision on a deviation
    VIEW_NATIONAL = "view_national"  # national statistics (Jahresbericht)
    MANAGE = "manage"  # office: everything


# Which roles allow which action; site-bound memberships apply to their site only.
ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.COORDINATOR: frozenset({Action.VIEW, Action.SUBMIT, Action.JUSTIFY}),
    Role.AUDITOR: frozenset({Action.VIEW, Action.DECIDE, Action.VIEW_NATIONAL}),
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


def _roles_for(action: Action) -> set[str]:
    return {role for role, actions in ROLE_ACTIONS.items() if action in actions}


def site_scope(user, action: Action) -> tuple[bool, set[int]]:
    """Return (all_sites, site_ids) the user may perform ``action`` on."""
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
    return site_id is not None and site_id in ids


def restrict(qs: QuerySet, user, action: Action = Action.VIEW, site_field: str = "site") -> QuerySet:
    """Filter ``qs`` to rows whose site the user may ``action``; ``site_field`` is the
    lookup path to the site ("" when ``qs`` is a Site queryset)."""
    all_sites, ids = site_scope(user, action)
    if all_sites:
        return qs
    lookup = f"{site_field}__in" if site_field else "pk__in"
    if not ids:
        return qs.none()
    return qs.filter(Q(**{lookup: ids}))


def user_roles(user) -> set[str]:
    """The set of role values the user holds anywhere (for navigation only)."""
    roles = {role for _site, role in _memberships(user)}
    if getattr(user, "is_superuser", False):
        roles.add(Role.OFFICE)
    return roles
