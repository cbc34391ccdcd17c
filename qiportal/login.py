"""Sign-in plumbing for django-axes (issue 8): the lock-out answer and the client address.

``settings.AXES_LOCKOUT_CALLABLE`` and ``settings.AXES_CLIENT_IP_CALLABLE`` point here. A
locked-out login answers the login page itself (HTTP 429) with a German message (English
via gettext), never a bare error page; the office lifts a lock-out on the page
``login_lockout_list`` (``centres.lockouts``).
"""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext


def cooloff_minutes() -> int:
    """The cool-off of a lock-out in whole minutes (rounded up), from
    ``settings.AXES_COOLOFF_TIME`` (``QIPORTAL_LOGIN_COOLOFF_MINUTES``)."""
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_message() -> str:
    """The text a locked-out user reads on the login page (active language)."""
    minutes = cooloff_minutes()
    return ngettext(
        "Too many failed login attempts: logins with this user name or from this address are locked "
        "for %(minutes)d minute after the last failed attempt, even with the right password. Please try "
        "again later or ask the certification office to unlock your login.",
        "Too many failed login attempts: logins with this user name or from this address are locked "
        "for %(minutes)d minutes after the last failed attempt, even with the right password. Please try "
        "again later or ask the certification office to unlock your login.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """django-axes' lock-out answer: the login page with the lock-out message, the user
    name kept, the password field empty, HTTP ``settings.AXES_HTTP_RESPONSE_CODE`` (429).

    Called by ``axes.middleware.AxesMiddleware`` for every login refused because of a
    lock-out (also the attempt that reaches the limit)."""
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    context = {"form": form, "next": next_url, "lockout_message": lockout_message()}
    return render(request, "registration/login.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)


def client_ip_address(request: HttpRequest) -> str | None:
    """The client's address for the per-address lock-out.

    ``REMOTE_ADDR`` when no proxy is configured (``QIPORTAL_PROXY_COUNT`` = 0). Behind
    ``n`` reverse proxies that each append the address they saw to ``X-Forwarded-For``,
    the ``n``-th entry from the right: the address the outermost proxy saw (entries a
    client wrote itself stand further left and are ignored). Fewer entries than proxies:
    ``REMOTE_ADDR``. Returns None only when the request has no address at all (test
    requests)."""
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.QIPORTAL_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if len(forwarded) >= count:
        return forwarded[-count]
    return remote
