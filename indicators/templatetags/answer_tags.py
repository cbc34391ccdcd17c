"""``{% deviation_answer deviation user %}``: the answer part of a deviation page
(issue 9, SPEC §4) with its own context, so the page's view needs nothing for it.

Shows the centre's statement, the evidence files, the overdue state, the answer form
(coordinator side, Abweichung not yet answered) and, while the answer awaits review,
the auditor's resolve and send-back forms. A bound form with errors from a refused POST
(``answer_form``, ``send_back_form`` in the page context) replaces the empty one.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from centres.permissions import Action, user_can
from centres.selectors import log_entry_list

from ..choices import DeviationState
from ..evidence import evidence_list
from ..forms import AnswerForm, ResolveForm, SendBackForm

register = template.Library()


@register.inclusion_tag("indicators/_deviation_answer.html", takes_context=True)
def deviation_answer(context, deviation, user) -> dict:
    """The context of ``indicators/_deviation_answer.html`` for ``deviation`` as seen by
    ``user`` (who may view it; the page has checked that)."""
    nonconformity = deviation.state == DeviationState.NONCONFORMITY
    files = [
        {
            "name": item.filename,
            "size": filesizeformat(item.size),
            "url": reverse("indicators:evidence_download", args=[item.pk]),
            "uploaded_at": item.uploaded_at,
        }
        for item in evidence_list(deviation=deviation)
    ]
    can_answer = nonconformity and not deviation.awaiting_review and user_can(user, Action.JUSTIFY, deviation)
    can_review = deviation.awaiting_review and user_can(user, Action.DECIDE, deviation)
    sent_back = None
    if nonconformity and deviation.response and not deviation.awaiting_review:
        last = (
            log_entry_list(obj=deviation)
            .filter(action="indicators.deviation.sent_back")
            .order_by("-created_at", "-pk")
            .first()
        )
        sent_back = (last.data or {}).get("comment") if last else None
    overdue = deviation.is_overdue()
    shown = nonconformity or bool(deviation.response) or bool(files)
    return {
        "shown": shown,
        "deviation": deviation,
        "files": files,
        "overdue": overdue,
        "overdue_since": deviation.due_date + dt.timedelta(days=1) if overdue else None,
        "sent_back_comment": sent_back,
        "answer_form": (context.get("answer_form") or AnswerForm(initial={"text": deviation.response}))
        if can_answer
        else None,
        "send_back_form": (context.get("send_back_form") or SendBackForm()) if can_review else None,
        # The page may already show the resolve step (indicators.views); then not twice.
        "resolve_form": ResolveForm() if can_review and not context.get("resolve_form") else None,
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }
