"""The daily digest mail per person (issue 9): never one mail per event.

``digest_build(user=, day=)`` collects what a person should hear about since their last
digest (the first one: the last 24 hours) and what is due, in sections:

- as coordinator (the sites the user coordinates, ``Action.JUSTIFY`` by membership):
  new flags (deviations opened or reopened), decisions on their deviations (accepted,
  Hinweis, Abweichung, resolved, answer sent back; with comment, corrective action and
  due date), Abweichungen due within ``DUE_SOON_DAYS`` days and overdue ones;
- as auditor (the sites and indicator years of the user's audits,
  ``centres.permissions.audit_years``): deviations justified and Abweichungen answered
  that still wait for a decision.

Everything is read through ``centres.permissions.restrict`` as well, so nobody hears of
a deviation they may not see. A national scope (office, commission, a superuser) adds
nothing: a digest of every site's events would be noise, those roles have their pages.

``digests_send(day=)`` mails one digest per person with something to tell (digest not
switched off, an e-mail address on file) and records each as a ``centres.LogEntry``
``indicators.digest.sent`` on the user, with the end of the period it covered; a second
run for the same day sends nothing more. Links are absolute, built from
``settings.QIPORTAL_BASE_URL``. Texts are German (the portal's default language).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from centres.models import LogEntry
from centres.permissions import Action, audit_years, restrict, site_scope
from centres.selectors import user_display_name
from centres.services import log_entry_create

from .choices import DeviationState, ReasonCode
from .models import Deviation

logger = logging.getLogger(__name__)

SENT_ACTION = "indicators.digest.sent"
DUE_SOON_DAYS = 14  # an Abweichung due within this many days (from the digest's day on)
FIRST_PERIOD = dt.timedelta(hours=24)  # the period of a person's first digest
EXCERPT_CHARS = 300  # justifications and answers are shortened to this many characters

FLAG_ACTIONS = ("indicators.deviation.opened", "indicators.deviation.reopened")
DECISION_ACTIONS = {
    "indicators.deviation.accepted": DeviationState.ACCEPTED,
    "indicators.deviation.note": DeviationState.NOTE,
    "indicators.deviation.nonconformity": DeviationState.NONCONFORMITY,
    "indicators.deviation.resolved": DeviationState.RESOLVED,
    "indicators.deviation.sent_back": None,  # the answer to an Abweichung sent back
}
JUSTIFIED_ACTION = "indicators.deviation.justified"
ANSWERED_ACTION = "indicators.deviation.answered"


@dataclass(frozen=True)
class DigestItem:
    """One line of a digest: ``text`` names the deviation and what happened, ``details``
    are further lines (comment, corrective action, due date, excerpt of a text), ``url``
    the absolute link to the deviation page."""

    text: str
    url: str
    details: tuple[str, ...] = ()
    deviation_id: int | None = None


@dataclass(frozen=True)
class DigestSection:
    """A titled group of items; ``key`` is stable: ``new_flags``, ``decisions``,
    ``due_soon``, ``overdue`` (coordinator), ``justified``, ``answered`` (auditor)."""

    key: str
    title: str
    items: tuple[DigestItem, ...]


@dataclass(frozen=True)
class Digest:
    """What one person is told for ``day``: events in (``since``, ``until``] and the due
    dates as of ``day``; ``sections`` holds only non-empty sections, in a fixed order."""

    user: object
    day: dt.date
    since: dt.datetime
    until: dt.datetime
    sections: tuple[DigestSection, ...] = field(default_factory=tuple)

    def section(self, key: str) -> DigestSection | None:
        """The section with ``key``, None if it is empty (left out)."""
        return next((s for s in self.sections if s.key == key), None)

    def deviation_ids(self, key: str) -> list[int]:
        """The deviation ids of the items of section ``key`` in order ([] if empty)."""
        section = self.section(key)
        return [item.deviation_id for item in section.items] if section else []

    @property
    def item_count(self) -> int:
        return sum(len(s.items) for s in self.sections)

    @property
    def subject(self) -> str:
        return _("QI portal: your daily digest of %(date)s") % {"date": _date(self.day)}

    def as_text(self) -> str:
        """The plain-text body of the mail."""
        lines = [_("Hello %(name)s,") % {"name": user_display_name(self.user)}, "", _intro(), ""]
        for section in self.sections:
            heading = f"{section.title} ({len(section.items)})"
            lines += [heading, "=" * len(heading)]
            for item in section.items:
                lines.append(f"- {item.text}")
                lines += [f"  {detail}" for detail in item.details]
                lines.append(f"  {item.url}")
            lines.append("")
        lines += ["-- ", _footer(), _absolute(reverse("notification_settings"))]
        return "\n".join(lines) + "\n"

    def as_html(self) -> str:
        """The HTML alternative of the mail (escaped, no scripts, no external assets)."""
        return render_to_string(
            "indicators/email/digest.html",
            {
                "digest": self,
                "greeting": _("Hello %(name)s,") % {"name": user_display_name(self.user)},
                "intro": _intro(),
                "footer": _footer(),
                "settings_url": _absolute(reverse("notification_settings")),
            },
        )


def _intro() -> str:
    return _("This is what happened in the QI portal since your last digest, and what is due.")


def _footer() -> str:
    return _("You receive this mail at most once a day, only when there is something to tell. Switch it off here:")


def _date(day: dt.date) -> str:
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def _absolute(path: str) -> str:
    return f"{settings.QIPORTAL_BASE_URL.rstrip('/')}{path}"


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"


def _label(deviation: Deviation) -> str:
    return _("%(site)s, indicator year %(year)s, KeZa %(code)s: %(flag)s") % {
        "site": f"{deviation.site.registration_number} {deviation.site.name}",
        "year": deviation.indicator_year,
        "code": deviation.code,
        "flag": deviation.get_flag_display(),
    }


def _url(deviation: Deviation) -> str:
    return _absolute(reverse("indicators:deviation_detail", args=[deviation.pk]))


def _actor(entry: LogEntry) -> str:
    return user_display_name(entry.actor) if entry.actor else _("the system")


# ------------------------------------------------------------------ scope


def _coordinated(user) -> QuerySet:
    """Deviations of the sites the user coordinates (site-bound JUSTIFY scope)."""
    _all_sites, ids = site_scope(user, Action.JUSTIFY)
    if not ids:
        return Deviation.objects.none()
    return restrict(Deviation.objects.filter(site_id__in=ids), user, Action.JUSTIFY)


def _audited(user) -> QuerySet:
    """Deviations the user decides as an auditor of audits (site × indicator year)."""
    scope = audit_years(user)
    if not scope:
        return Deviation.objects.none()
    condition = Q(pk__in=[])
    for site_id, years in scope.items():
        condition |= Q(site_id=site_id, indicator_year__in=years)
    return restrict(Deviation.objects.filter(condition), user, Action.DECIDE)


def _entries(deviations: QuerySet, actions, since: dt.datetime, until: dt.datetime) -> list[LogEntry]:
    """Log entries with ``actions`` on ``deviations`` in (since, until], oldest first."""
    return list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Deviation),
            object_id__in=deviations.values("pk"),
            action__in=list(actions),
            created_at__gt=since,
            created_at__lte=until,
        )
        .select_related("actor")
        .order_by("created_at", "pk")
    )


def _by_id(deviations: QuerySet, ids) -> dict[int, Deviation]:
    return {d.pk: d for d in deviations.filter(pk__in=set(ids)).select_related("site")}


def _latest_per_deviation(entries: list[LogEntry]) -> list[LogEntry]:
    """The newest entry of each deviation, in the order of those newest entries."""
    latest: dict[int, LogEntry] = {}
    for entry in entries:
        latest.pop(entry.object_id, None)
        latest[entry.object_id] = entry
    return list(latest.values())


# ------------------------------------------------------------------ sections


def _new_flags(deviations: QuerySet, since, until) -> DigestSection:
    entries = _latest_per_deviation(_entries(deviations, FLAG_ACTIONS, since, until))
    found = _by_id(deviations.filter(is_active=True), [e.object_id for e in entries])
    items = []
    for entry in entries:
        deviation = found.get(entry.object_id)
        if deviation is None:  # closed again by a later upload
            continue
        details = (_("flagged again"),) if entry.action.endswith("reopened") else ()
        items.append(DigestItem(_label(deviation), _url(deviation), details, deviation.pk))
    return DigestSection("new_flags", _("New flags"), tuple(items))


def _decision_details(entry: LogEntry) -> tuple[str, ...]:
    data = entry.data or {}
    state = DECISION_ACTIONS[entry.action]
    what = DeviationState(state).label if state else _("answer sent back")
    details = [_("Decision: %(what)s (%(actor)s)") % {"what": what, "actor": _actor(entry)}]
    if data.get("comment"):
        details.append(_("Comment: %(text)s") % {"text": _excerpt(data["comment"])})
    if data.get("corrective_action"):
        details.append(_("Corrective action: %(text)s") % {"text": _excerpt(data["corrective_action"])})
    if data.get("due_date"):
        try:
            due = _date(dt.date.fromisoformat(data["due_date"]))
        except (TypeError, ValueError):
            due = str(data["due_date"])
        details.append(_("Due date: %(date)s") % {"date": due})
    return tuple(details)


def _decisions(deviations: QuerySet, since, until) -> DigestSection:
    entries = _entries(deviations, DECISION_ACTIONS, since, until)
    found = _by_id(deviations, [e.object_id for e in entries])
    items = [
        DigestItem(_label(found[e.object_id]), _url(found[e.object_id]), _decision_details(e), e.object_id)
        for e in entries
        if e.object_id in found
    ]
    return DigestSection("decisions", _("Decisions on your deviations"), tuple(items))


def _due(deviations: QuerySet, day: dt.date) -> tuple[DigestSection, DigestSection]:
    """Open Abweichungen of active deviations: due within ``DUE_SOON_DAYS`` days from
    ``day`` on (``day`` itself included), and overdue (due date before ``day``)."""
    open_ones = deviations.filter(
        is_active=True, state=DeviationState.NONCONFORMITY, due_date__isnull=False
    ).select_related("site")
    soon, overdue = [], []
    for deviation in open_ones.order_by("due_date", "site__registration_number", "code", "flag"):
        details = [_("Due date: %(date)s") % {"date": _date(deviation.due_date)}]
        if deviation.corrective_action:
            details.append(_("Corrective action: %(text)s") % {"text": _excerpt(deviation.corrective_action)})
        if deviation.awaiting_review:
            details.append(_("Answered; the auditor's review is pending."))
        item = DigestItem(_label(deviation), _url(deviation), tuple(details), deviation.pk)
        if deviation.is_overdue(day):
            overdue.append(item)
        elif deviation.due_date <= day + dt.timedelta(days=DUE_SOON_DAYS):
            soon.append(item)
    return (
        DigestSection("due_soon", _("Nonconformities due within %(n)s days") % {"n": DUE_SOON_DAYS}, tuple(soon)),
        DigestSection("overdue", _("Overdue nonconformities"), tuple(overdue)),
    )


def _justified(deviations: QuerySet, since, until) -> DigestSection:
    entries = _latest_per_deviation(_entries(deviations, [JUSTIFIED_ACTION], since, until))
    waiting = deviations.filter(is_active=True, state=DeviationState.JUSTIFIED)
    found = _by_id(waiting, [e.object_id for e in entries])
    items = []
    for entry in entries:
        deviation = found.get(entry.object_id)
        if deviation is None:  # decided meanwhile, or closed
            continue
        details = [_("Justified by %(actor)s") % {"actor": _actor(entry)}]
        if deviation.reason_code:
            details.append(_("Reason: %(reason)s") % {"reason": ReasonCode(deviation.reason_code).label})
        details.append(_("Justification: %(text)s") % {"text": _excerpt(deviation.justification)})
        items.append(DigestItem(_label(deviation), _url(deviation), tuple(details), deviation.pk))
    return DigestSection("justified", _("Justifications awaiting your decision"), tuple(items))


def _answered(deviations: QuerySet, since, until) -> DigestSection:
    entries = _latest_per_deviation(_entries(deviations, [ANSWERED_ACTION], since, until))
    waiting = deviations.filter(is_active=True, state=DeviationState.NONCONFORMITY, responded_at__isnull=False)
    found = _by_id(waiting, [e.object_id for e in entries])
    items = []
    for entry in entries:
        deviation = found.get(entry.object_id)
        if deviation is None:  # resolved or sent back meanwhile
            continue
        details = (
            _("Answered by %(actor)s") % {"actor": _actor(entry)},
            _("Statement: %(text)s") % {"text": _excerpt(deviation.response)},
        )
        items.append(DigestItem(_label(deviation), _url(deviation), details, deviation.pk))
    return DigestSection("answered", _("Answers to nonconformities awaiting your review"), tuple(items))


# ------------------------------------------------------------------ build and send


def _last_sent(user) -> LogEntry | None:
    qs = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(user), object_id=user.pk, action=SENT_ACTION
    )
    return qs.order_by("-created_at", "-pk").first()


def _period_start(user, until: dt.datetime) -> dt.datetime:
    """The end of the period the user's previous digest covered (its ``until``; its
    time of sending for an entry without one), else ``until`` − 24 h."""
    last = _last_sent(user)
    if last is None:
        return until - FIRST_PERIOD
    try:
        return dt.datetime.fromisoformat(last.data["until"])
    except (KeyError, TypeError, ValueError):
        return last.created_at


def digest_build(*, user, day: dt.date, now: dt.datetime | None = None) -> Digest | None:
    """The digest of ``user`` for ``day`` (see the module docstring), events up to
    ``now`` (default: the current time), texts in German. Returns None when there is
    nothing to tell. Reads only; raises nothing for a user without any scope."""
    until = now or timezone.now()
    since = _period_start(user, until)
    with translation.override(settings.LANGUAGE_CODE):
        sections: list[DigestSection] = []
        coordinated = _coordinated(user)
        if coordinated.exists():
            sections += [_new_flags(coordinated, since, until), _decisions(coordinated, since, until)]
            sections += _due(coordinated, day)
        audited = _audited(user)
        if audited.exists():
            sections += [_justified(audited, since, until), _answered(audited, since, until)]
    sections = [s for s in sections if s.items]
    if not sections:
        return None
    return Digest(user=user, day=day, since=since, until=until, sections=tuple(sections))


def _recipients() -> QuerySet:
    """Active users with an e-mail address and a membership who did not switch the
    digest off (no NotificationSetting row = on)."""
    return (
        get_user_model()
        .objects.filter(is_active=True, memberships__isnull=False)
        .exclude(email="")
        .exclude(notification_setting__digest_enabled=False)
        .distinct()
        .order_by("pk")
    )


def _sent_for(user, day: dt.date) -> bool:
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(user),
        object_id=user.pk,
        action=SENT_ACTION,
        data__day=day.isoformat(),
    ).exists()


def digest_send(*, user, day: dt.date) -> bool:
    """Mail ``user`` their digest for ``day`` unless it was sent already or there is
    nothing to tell; records ``indicators.digest.sent`` (data: day, until, item counts
    per section) in the same transaction, so a failed send records nothing. Returns
    whether a mail went out. Mail errors propagate (``digests_send`` logs them)."""
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().get(pk=user.pk)
        if _sent_for(user, day):
            return False
        digest = digest_build(user=user, day=day)
        if digest is None:
            return False
        with translation.override(settings.LANGUAGE_CODE):
            message = EmailMultiAlternatives(subject=digest.subject, body=digest.as_text(), to=[user.email])
            message.attach_alternative(digest.as_html(), "text/html")
        log_entry_create(
            actor=None,
            obj=user,
            action=SENT_ACTION,
            data={
                "day": day.isoformat(),
                "until": digest.until.isoformat(),
                "items": {s.key: len(s.items) for s in digest.sections},
            },
        )
        message.send(using="default")
        return True


def digests_send(*, day: dt.date) -> int:
    """Send the digests of ``day``: one mail per person with something to tell, skipping
    users who switched it off, users without an e-mail address and users whose digest of
    ``day`` went out already (idempotent). A failing mail is logged and the others are
    still sent. Returns the number of mails sent."""
    sent = 0
    for user in _recipients():
        try:
            sent += digest_send(user=user, day=day)
        except Exception:
            logger.exception("digest of %s for %s could not be sent", user.pk, day)
    return sent
