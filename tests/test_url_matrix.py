"""Every URL pattern of the resolver × every role × an in-scope and an out-of-scope
object, GET and POST: the status code, and that nothing was written (issue 9).

The URL list comes from the resolver, so a URL added tomorrow fails here until it has a
row in ``SPECS``. Expected codes come from the hand-written permission table
``SCOPE`` (who may do what where, centres/permissions.py's rules written out) and the
page rules of the issue: anonymous → login; a role refused a whole page type → 403; an
object out of scope → 404, never 403 or 200; an allowed empty POST is refused as
invalid (200 with the form, or a redirect with a message) and writes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from centres.models import Audit, AuditKind, Role
from datasheets.choices import RevisionStatus
from indicators.models import Deviation, Evidence, IndicatorDefinition
from tests.factories import DatasheetRevisionFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "coordinator", "auditor", "auditor_without_audit", "commission", "office")
YEAR = 2024  # indicator year of the objects; auditor_a's audits cover it

# Who may do what, by hand: "a" = site_a (the in-scope object's site) only, "all" = every
# site. Auditors' VIEW/DECIDE come from their audits of site_a (tests/conftest.py).
# "system": the status page of the certification system (office and commission).
SCOPE: dict[str, dict[str, str]] = {
    "anonymous": {},
    "coordinator": {"view": "a", "submit": "a", "justify": "a"},
    "auditor": {"view": "a", "decide": "a", "view_national": "all"},
    "auditor_without_audit": {"view_national": "all"},
    "commission": {"view": "all", "view_national": "all", "system": "all"},
    # the office does everything but justify: a Begründung is the centre's word
    "office": {a: "all" for a in ("view", "submit", "decide", "view_national", "manage", "system")},
}


@dataclasses.dataclass(frozen=True)
class Spec:
    """How a URL is reached and what it answers.

    ``obj``: the kind of object its ``pk`` names (None: no object). ``page``: the action a
    role needs for the page type at all (403 without it; None = any logged-in user).
    ``need_get`` / ``need_post``: the action on the object (404 when the role cannot even
    VIEW it, 403 when it can view but not do this). ``get`` / ``post``: the status of an
    allowed request (405 = method not offered: Django answers it before the view looks
    anything up, so it says nothing about the object; ``lookup_first`` views find their
    object in ``dispatch`` and answer 404 out of scope whatever the method; ``role_first``
    views refuse a role the page type (403) before looking at the method). ``public``: no login needed. ``signed_in``: the
    status for any logged-in user (the login page sends them on). ``post_writes``: an
    allowed empty POST is a complete request that changes something (resolving needs no
    comment; an unticked box switches the digest off); every other request writes nothing.
    """

    obj: str | None = None
    page: str | None = None
    need_get: str | None = "view"
    need_post: str | None = "view"
    get: int = 200
    post: int = 405
    public: bool = False
    signed_in: int | None = None
    lookup_first: bool = False
    role_first: bool = False
    post_writes: bool = False
    kwargs: tuple = ()


SPECS: dict[str, Spec] = {
    "home": Spec(),
    "login": Spec(public=True, get=200, post=200, signed_in=302),
    "logout": Spec(get=405, post=302),
    "set_language": Spec(public=True, get=302, post=302),
    "login_lockout_list": Spec(role_first=True, page="manage"),
    "login_lockout_reset": Spec(page="manage", get=405, post=302, role_first=True),
    "notification_settings": Spec(get=200, post=302, post_writes=True),
    "centres:site_list": Spec(),
    "centres:site_detail": Spec(obj="site"),
    "centres:site_revisions": Spec(obj="site"),
    "datasheets:revision_list": Spec(),
    "datasheets:upload": Spec(page="submit", post=200),
    "datasheets:template_download": Spec(obj="site", need_get="submit", get=302),
    "datasheets:revision_detail": Spec(obj="revision"),
    "datasheets:revision_file": Spec(obj="revision"),
    "datasheets:revision_confirm": Spec(obj="revision", get=405, post=302),
    "datasheets:revision_discard": Spec(obj="revision", get=405, post=302),
    "datasheets:revision_report": Spec(obj="revision"),
    "indicators:deviation_list": Spec(post=405),
    "indicators:deviation_bulk_accept": Spec(page="decide", get=405, post=302),
    "system_status": Spec(role_first=True, page="system"),
    "indicators:deviation_detail": Spec(obj="deviation", lookup_first=True),
    "indicators:deviation_justify": Spec(obj="deviation", lookup_first=True, need_post="justify", get=405, post=200),
    "indicators:deviation_decide": Spec(obj="deviation", lookup_first=True, need_post="decide", get=405, post=200),
    "indicators:deviation_resolve": Spec(
        obj="deviation", lookup_first=True, need_post="decide", get=405, post=302, post_writes=True
    ),
    "indicators:deviation_answer": Spec(obj="deviation", lookup_first=True, need_post="justify", get=405, post=200),
    "indicators:deviation_send_back": Spec(obj="deviation", lookup_first=True, need_post="decide", get=405, post=200),
    "indicators:evidence_download": Spec(obj="evidence"),
    "audits:audit_list": Spec(),
    "audits:audit_assign": Spec(obj="audit", page="manage", post=302, post_writes=True),
    "audits:audit_dossier": Spec(obj="audit"),
    "audits:audit_dossier_xlsx": Spec(obj="audit"),
    "audits:audit_dossier_pdf": Spec(obj="audit"),
    "indicators:national": Spec(role_first=True, page="view_national"),
    "indicators:national_json": Spec(role_first=True, page="view_national", kwargs=(("year", YEAR),)),
    "indicators:national_indicator": Spec(
        role_first=True, page="view_national", kwargs=(("year", YEAR), ("code", "5"))
    ),
}


def url_names() -> list[str]:
    """Every named URL pattern of the project's resolver (admin apart, see below)."""
    names = []

    def walk(patterns, namespace):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace or namespace
                if ns == "admin":
                    continue
                walk(p.url_patterns, f"{namespace}:{p.namespace}" if namespace and p.namespace else ns)
            elif isinstance(p, URLPattern) and p.name:
                names.append(f"{namespace}:{p.name}" if namespace else p.name)

    walk(get_resolver().url_patterns, None)
    return sorted(set(names))


def admin_urls() -> list[str]:
    """The admin's pages for the project's models (changelists and add pages)."""
    urls = ["admin:index"]
    for model in admin.site._registry:
        if model._meta.app_label in {"centres", "indicators", "datasheets"}:
            for suffix in ("changelist", "add"):
                urls.append(f"admin:{model._meta.app_label}_{model._meta.model_name}_{suffix}")
    return urls


def test_every_url_has_a_spec():
    missing = [name for name in url_names() if name not in SPECS]
    assert missing == [], f"add these URL names to SPECS in {__file__}"
    assert len(SPECS) >= 29


# ----------------------------------------------------------------------------- fixtures


def _stored(name: str, content: bytes) -> str:
    return default_storage.save(name, ContentFile(content))


@pytest.fixture
def world(catalogue, site_a, site_b, coordinator, auditor, commission, office):
    """Users of every role and, per site, a revision, a deviation (an Abweichung with an
    answer and one evidence file) and an audit; site_a is in the coordinator's and
    auditor's scope, site_b in neither."""
    no_audit = UserFactory(username="auditor_no_audit")
    MembershipFactory(user=no_audit, site=site_a, role=Role.AUDITOR)
    users = {
        "anonymous": None,
        "coordinator": coordinator,
        "auditor": auditor,
        "auditor_without_audit": no_audit,
        "commission": commission,
        "office": office,
    }
    definition = IndicatorDefinition.objects.get(version_id="KJ2024", code="5")
    objects = {}
    for key, site in (("in", site_a), ("out", site_b)):
        content = f"xlsx of {site.registration_number}".encode()
        revision = DatasheetRevisionFactory(
            site=site,
            indicator_year=YEAR,
            status=RevisionStatus.EVALUATED,
            is_current=True,
            sha256=hashlib.sha256(content).hexdigest(),
            file=_stored(f"datasheets/matrix-{key}.xlsx", content),
        )
        deviation = Deviation.objects.create(
            site=site,
            indicator_year=YEAR,
            code="5",
            flag="target_not_met",
            definition=definition,
            numerator=1,
            denominator=40,
            state="nonconformity",
            corrective_action="Plan",
            due_date=dt.date(2025, 6, 30),
            response="Stellungnahme",
            responded_at=dt.datetime(2025, 5, 1, tzinfo=dt.UTC),
        )
        pdf = b"%PDF-1.4\n% matrix\n"
        evidence = Evidence.objects.create(
            deviation=deviation,
            sha256=hashlib.sha256(pdf + key.encode()).hexdigest(),
            filename="nachweis.pdf",
            content_type="application/pdf",
            size=len(pdf),
        )
        _stored(f"evidence/{evidence.sha256[:2]}/{evidence.sha256}.pdf", pdf)
        audit = Audit.objects.filter(site=site, audit_year=YEAR + 1).first() or Audit.objects.create(
            site=site, audit_year=YEAR + 1, kind=AuditKind.SURVEILLANCE
        )
        objects[key] = {
            "site": site,
            "revision": revision,
            "deviation": deviation,
            "evidence": evidence,
            "audit": audit,
        }
    return users, objects


def fingerprint() -> dict:
    """Everything a request could write: row counts and contents of the project's
    models and the users (sessions and login attempts apart)."""
    state = {}
    for model in apps.get_models():
        if model._meta.app_label in {"centres", "indicators", "datasheets"}:
            state[model._meta.label] = sorted(map(str, model.objects.values_list()))
    state["users"] = sorted(map(str, get_user_model().objects.values_list("pk", "is_active", "password")))
    return state


def expected(spec: Spec, role: str, where: str, method: str) -> int:
    """The status code the rules give (see the module docstring)."""
    allowed = spec.get if method == "GET" else spec.post
    if role == "anonymous":
        return allowed if spec.public else 302
    if spec.signed_in is not None:
        return spec.signed_in
    if spec.public:
        return allowed
    scope = SCOPE[role]
    if allowed == 405 and not (spec.role_first or spec.lookup_first):
        return 405
    if spec.page and spec.page not in scope:
        return 403
    if spec.obj is None or (allowed == 405 and not spec.lookup_first):
        return allowed
    covers = {"a": where == "in", "all": True}
    if not covers.get(scope.get("view"), False):
        return 404
    if allowed == 405:
        return 405
    need = spec.need_get if method == "GET" else spec.need_post
    if need and not covers.get(scope.get(need), False):
        return 403
    return allowed


def _url(name: str, spec: Spec, objects: dict, where: str) -> str:
    kwargs = dict(spec.kwargs)
    if spec.obj:
        obj = objects[where][spec.obj]
        key = "site_pk" if name == "datasheets:template_download" else "pk"
        kwargs[key] = obj.pk
    return reverse(name, kwargs=kwargs)


class Rollback(Exception):
    """Leaves a role's savepoint, undoing what its allowed requests wrote."""


@pytest.mark.parametrize("name", sorted(SPECS))
def test_url_role_matrix(client, world, name):
    """Each role in a savepoint of its own, rolled back after: an allowed write of one
    role (resolving, switching the digest off) does not change what the next finds."""
    users, objects = world
    spec = SPECS[name]
    places = ("in", "out") if spec.obj else ("in",)
    for role in ROLES:
        try:
            with transaction.atomic():
                _check_role(client, users, objects, name, spec, role, places)
                raise Rollback
        except Rollback:
            pass


def _check_role(client, users, objects, name, spec, role, places):
    # A request that may write is checked on its own; all others of the role together
    # (a write would still be there at the end), which keeps the matrix fast.
    before = fingerprint()
    for where in places:
        url = _url(name, spec, objects, where)
        for method in ("GET", "POST"):
            client.logout()
            if users[role] is not None:
                client.force_login(users[role])
            want = expected(spec, role, where, method)
            may_write = method == "POST" and spec.post_writes and want == spec.post and role != "anonymous"
            if may_write:
                assert fingerprint() == before, (name, role, where, "wrote something before")
            response = client.get(url) if method == "GET" else client.post(url, {})
            assert response.status_code == want, (name, role, where, method, response.status_code)
            if role == "anonymous" and want == 302 and not spec.public:
                assert response["Location"].startswith(reverse("login"))
            if may_write:
                before = fingerprint()
    assert fingerprint() == before, (name, role, "wrote something")


@pytest.mark.parametrize("role", ROLES)
def test_admin_pages_need_staff(client, world, role):
    """The admin is for staff only: every role here (none is staff) is sent to the admin
    login, GET and POST, and nothing is written."""
    users, _objects = world
    before = fingerprint()
    for name in admin_urls():
        url = reverse(name)
        for method in ("GET", "POST"):
            client.logout()
            if users[role] is not None:
                client.force_login(users[role])
            response = client.get(url) if method == "GET" else client.post(url, {})
            assert response.status_code == 302, (name, role, method)
            assert "/admin/login/" in response["Location"] or response["Location"].startswith(reverse("login"))
    assert fingerprint() == before
