"""The deviation's record (issue 9, SPEC §4): repeat detection through the definition's
series, the log's from → to contents of every transition, the bulk decision.

Expected values are written by hand from the catalogue fixture: KJ2022 KeZa "2"
continues as KJ2024 "2a" (series ``KJ2022:2``) while KJ2024 "2b" continues KJ2022 "2a"
(series ``KJ2022:2a``): the bare code "2a" names two different indicators.
"""

from __future__ import annotations

import datetime as dt

import pytest

from centres.models import LogEntry
from indicators.choices import DeviationError, DeviationState, ReasonCode
from indicators.models import Deviation, IndicatorDefinition
from indicators.services import (
    deviation_decide,
    deviation_justify,
    deviation_resolve,
    deviation_respond,
    deviation_send_back,
    deviation_sync,
    deviations_accept,
)
from qiportal.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

DUE = dt.date(2024, 9, 30)


def _definition(version, code):
    return IndicatorDefinition.objects.get(version_id=version, code=code)


def _flag(site, year, version, code, flags=("target_not_met",)):
    return deviation_sync(
        site=site,
        indicator_year=year,
        definition=_definition(version, code),
        flags=flags,
        numerator=1,
        denominator=10,
    )


def _streak(site, year, code, flag="target_not_met"):
    return Deviation.objects.get(site=site, indicator_year=year, code=code, flag=flag).consecutive_years


# --- repeat detection ------------------------------------------------------------------


def test_series_links_years_across_a_catalogue_change(catalogue, site_a):
    assert _definition("KJ2024", "2a").series == _definition("KJ2022", "2").series == "KJ2022:2"
    _flag(site_a, 2022, "KJ2022", "2")
    _flag(site_a, 2023, "KJ2022", "2")
    (returned,) = _flag(site_a, 2024, "KJ2024", "2a")
    assert [_streak(site_a, 2022, "2"), _streak(site_a, 2023, "2"), _streak(site_a, 2024, "2a")] == [1, 2, 3]
    assert returned.consecutive_years == 3  # the records deviation_sync returns carry the count too


def test_the_same_code_in_another_version_is_not_a_repeat(catalogue, site_a):
    """KJ2022 "2a" flagged in 2022 and 2023; KJ2024 "2a" is the successor of KJ2022 "2",
    which was not flagged: 2024's "2a" is a first year. KJ2024 "2b" continues KJ2022 "2a"."""
    _flag(site_a, 2022, "KJ2022", "2a")
    _flag(site_a, 2023, "KJ2022", "2a")
    _flag(site_a, 2024, "KJ2024", "2a")
    _flag(site_a, 2024, "KJ2024", "2b")
    assert _streak(site_a, 2023, "2a") == 2
    assert _streak(site_a, 2024, "2a") == 1
    assert _streak(site_a, 2024, "2b") == 3


def test_a_gap_year_restarts_the_count_and_other_sites_and_flags_do_not_count(catalogue, site_a, site_b):
    _flag(site_a, 2022, "KJ2022", "5")
    _flag(site_a, 2024, "KJ2024", "5")  # 2023 not flagged
    _flag(site_b, 2023, "KJ2022", "5")  # another site
    _flag(site_a, 2023, "KJ2022", "5", flags=("implausible_high",))  # another flag
    assert _streak(site_a, 2024, "5") == 1
    assert _streak(site_a, 2023, "5", flag="implausible_high") == 1


def test_an_earlier_year_uploaded_later_updates_the_later_count(catalogue, site_a):
    _flag(site_a, 2024, "KJ2024", "5")
    _flag(site_a, 2022, "KJ2022", "5")
    assert _streak(site_a, 2024, "5") == 1
    _flag(site_a, 2023, "KJ2022", "5")  # fills the gap
    assert [_streak(site_a, y, "5") for y in (2022, 2023, 2024)] == [1, 2, 3]


def test_a_closed_flag_breaks_the_chain(catalogue, site_a):
    _flag(site_a, 2022, "KJ2022", "5")
    _flag(site_a, 2023, "KJ2022", "5")
    _flag(site_a, 2024, "KJ2024", "5")
    assert _streak(site_a, 2024, "5") == 3
    _flag(site_a, 2023, "KJ2022", "5", flags=())  # corrected re-upload of 2023
    assert _streak(site_a, 2024, "5") == 1
    _flag(site_a, 2023, "KJ2022", "5")  # the flag comes back
    assert _streak(site_a, 2024, "5") == 3


# --- the log is the record -------------------------------------------------------------


def _entries(deviation):
    return [
        (e.action.rpartition(".")[2], e.actor.username if e.actor else None, e.data)
        for e in LogEntry.objects.filter(object_id=deviation.pk, action__startswith="indicators.deviation.").order_by(
            "pk"
        )
    ]


def test_every_transition_records_who_from_to_and_its_text(catalogue, site_a, coordinator, auditor):
    (deviation,) = _flag(site_a, 2023, "KJ2022", "5")
    deviation_justify(
        deviation=deviation,
        text=" Drei Patienten lehnten ab. ",
        reason_code=ReasonCode.PATIENT_REFUSAL,
        acting_user=coordinator,
    )
    deviation_decide(
        deviation=deviation,
        decision="nonconformity",
        comment="Quote unter Soll",
        corrective_action="Aufklärungsgespräch dokumentieren",
        due_date=DUE,
        acting_user=auditor,
    )
    deviation_respond(deviation=deviation, text="Gesprächsbogen eingeführt", acting_user=coordinator)
    deviation_send_back(deviation=deviation, comment="Nachweis fehlt", acting_user=auditor)
    sent_back = Deviation.objects.get(pk=deviation.pk)
    assert not sent_back.awaiting_review and sent_back.state == DeviationState.NONCONFORMITY
    deviation_respond(deviation=deviation, text="Nachweis beigefügt", acting_user=coordinator)
    deviation_resolve(deviation=deviation, comment="erledigt", acting_user=auditor)
    assert _entries(deviation) == [
        ("opened", None, {"to": "open", "numerator": 1, "denominator": 10, "revision": None}),
        (
            "justified",
            "coord_a",
            {
                "from": "open",
                "to": "justified",
                "justification": "Drei Patienten lehnten ab.",
                "reason_code": "patient_refusal",
            },
        ),
        (
            "nonconformity",
            "auditor_a",
            {
                "from": "justified",
                "to": "nonconformity",
                "comment": "Quote unter Soll",
                "corrective_action": "Aufklärungsgespräch dokumentieren",
                "due_date": "2024-09-30",
            },
        ),
        (
            "answered",
            "coord_a",
            {"from": "nonconformity", "to": "nonconformity", "response": "Gesprächsbogen eingeführt"},
        ),
        ("sent_back", "auditor_a", {"from": "nonconformity", "to": "nonconformity", "comment": "Nachweis fehlt"}),
        ("answered", "coord_a", {"from": "nonconformity", "to": "nonconformity", "response": "Nachweis beigefügt"}),
        ("resolved", "auditor_a", {"from": "nonconformity", "to": "resolved", "comment": "erledigt"}),
    ]
    stored = Deviation.objects.get(pk=deviation.pk)
    assert stored.reason_code == "patient_refusal"
    assert stored.corrective_action == "Aufklärungsgespräch dokumentieren"
    assert stored.response == "Nachweis beigefügt" and stored.responded_by == coordinator


def test_send_back_needs_an_answer_and_a_reason(catalogue, site_a, coordinator, auditor):
    (deviation,) = _flag(site_a, 2023, "KJ2022", "5")
    deviation_decide(
        deviation=deviation,
        decision="nonconformity",
        corrective_action="Plan",
        due_date=DUE,
        acting_user=auditor,
    )
    with pytest.raises(ApplicationError) as info:
        deviation_send_back(deviation=deviation, comment="zu früh", acting_user=auditor)
    assert info.value.code == DeviationError.NOT_ANSWERED
    deviation_respond(deviation=deviation, text="Plan umgesetzt", acting_user=coordinator)
    with pytest.raises(ApplicationError) as info:
        deviation_send_back(deviation=deviation, comment="  ", acting_user=auditor)
    assert info.value.code == DeviationError.TEXT_REQUIRED
    assert Deviation.objects.get(pk=deviation.pk).awaiting_review


def test_a_nonconformity_needs_a_corrective_action_and_writes_nothing_without(catalogue, site_a, auditor):
    (deviation,) = _flag(site_a, 2023, "KJ2022", "5")
    with pytest.raises(ApplicationError) as info:
        deviation_decide(deviation=deviation, decision="nonconformity", due_date=DUE, acting_user=auditor)
    assert info.value.code == DeviationError.CORRECTIVE_ACTION_REQUIRED
    stored = Deviation.objects.get(pk=deviation.pk)
    assert stored.state == DeviationState.OPEN and stored.due_date is None
    assert [a for a, _u, _d in _entries(deviation)] == ["opened"]


def test_an_empty_justification_or_unknown_reason_is_refused(catalogue, site_a, coordinator):
    (deviation,) = _flag(site_a, 2023, "KJ2022", "5")
    with pytest.raises(ApplicationError) as info:
        deviation_justify(deviation=deviation, text="   ", acting_user=coordinator)
    assert info.value.code == DeviationError.TEXT_REQUIRED
    with pytest.raises(ApplicationError):
        deviation_justify(deviation=deviation, text="ok", reason_code="weather", acting_user=coordinator)
    assert Deviation.objects.get(pk=deviation.pk).state == DeviationState.OPEN


@pytest.mark.parametrize(
    ("state", "due_date", "day", "overdue"),
    [
        ("nonconformity", dt.date(2024, 9, 30), dt.date(2024, 10, 1), True),
        ("nonconformity", dt.date(2024, 9, 30), dt.date(2024, 9, 30), False),  # due today: not yet
        ("resolved", dt.date(2024, 9, 30), dt.date(2024, 10, 1), False),
        ("note", None, dt.date(2024, 10, 1), False),
    ],
)
def test_overdue_is_an_unresolved_abweichung_past_its_due_date(state, due_date, day, overdue):
    assert Deviation(state=state, due_date=due_date).is_overdue(day) is overdue


@pytest.mark.parametrize("decision", ["accepted", "note"])
def test_corrective_action_and_due_date_belong_to_an_abweichung_only(catalogue, site_a, auditor, decision):
    (deviation,) = _flag(site_a, 2023, "KJ2022", "5")
    deviation_decide(
        deviation=deviation, decision=decision, corrective_action="Plan", due_date=DUE, acting_user=auditor
    )
    stored = Deviation.objects.get(pk=deviation.pk)
    assert (stored.corrective_action, stored.due_date) == ("", None)
    assert _entries(deviation)[-1][2] == {"from": "open", "to": decision}


# --- bulk decision ---------------------------------------------------------------------


def test_bulk_accept_decides_each_with_one_comment(catalogue, site_a, auditor):
    rows = [_flag(site_a, 2023, "KJ2022", code)[0] for code in ("4", "5")]
    deviations_accept(deviations=rows, comment="plausibel erklärt", acting_user=auditor)
    for row in rows:
        stored = Deviation.objects.get(pk=row.pk)
        assert stored.state == DeviationState.ACCEPTED and stored.decision_comment == "plausibel erklärt"
        assert _entries(row)[-1] == (
            "accepted",
            "auditor_a",
            {"from": "open", "to": "accepted", "comment": "plausibel erklärt"},
        )


def test_bulk_accept_is_all_or_nothing(catalogue, site_a, site_b, auditor):
    mine = _flag(site_a, 2023, "KJ2022", "5")[0]
    foreign = _flag(site_b, 2023, "KJ2022", "5")[0]
    with pytest.raises(ApplicationError) as info:
        deviations_accept(deviations=[mine, foreign], comment="ok", acting_user=auditor)
    assert info.value.code == DeviationError.FORBIDDEN
    assert Deviation.objects.get(pk=mine.pk).state == DeviationState.OPEN
    assert not LogEntry.objects.filter(action="indicators.deviation.accepted").exists()


# --- re-upload: close and reopen keep the review ---------------------------------------


def test_close_and_reopen_by_reupload_keep_the_whole_review(catalogue, site_a, coordinator, auditor):
    """A corrected data sheet closes the record, the flag's return reopens it: the
    justification, reason, decision, corrective action, due date, the centre's answer
    and its evidence stay attached throughout (SPEC §4, issue 9)."""
    from indicators.models import Evidence

    (deviation,) = _flag(site_a, 2023, "KJ2022", "5")
    deviation_justify(deviation=deviation, text="Studie geschlossen", reason_code="other", acting_user=coordinator)
    deviation_decide(
        deviation=deviation,
        decision="nonconformity",
        comment="Quote",
        corrective_action="Neue Studie öffnen",
        due_date=DUE,
        acting_user=auditor,
    )
    deviation_respond(deviation=deviation, text="Studie beantragt", acting_user=coordinator)
    Evidence.objects.create(
        deviation=deviation, sha256="a" * 64, filename="antrag.pdf", content_type="application/pdf", size=9
    )
    review = ("state", "justification", "reason_code", "decision_comment", "corrective_action", "due_date", "response")

    def snapshot():
        stored = Deviation.objects.get(pk=deviation.pk)
        return {f: getattr(stored, f) for f in review}, stored.is_active, stored.evidence.count()

    kept = {
        "state": "nonconformity",
        "justification": "Studie geschlossen",
        "reason_code": "other",
        "decision_comment": "Quote",
        "corrective_action": "Neue Studie öffnen",
        "due_date": DUE,
        "response": "Studie beantragt",
    }
    assert snapshot() == (kept, True, 1)
    _flag(site_a, 2023, "KJ2022", "5", flags=())  # corrected re-upload: closed
    assert snapshot() == (kept, False, 1)
    _flag(site_a, 2023, "KJ2022", "5")  # the flag comes back: the same record reopens
    assert snapshot() == (kept, True, 1)
    assert Deviation.objects.filter(site=site_a, indicator_year=2023, code="5").count() == 1
    # and the data sheet's Begründung does not overwrite a record under review
    _flag(site_a, 2023, "KJ2022", "5")
    deviation_sync(
        site=site_a,
        indicator_year=2023,
        definition=_definition("KJ2022", "5"),
        flags=["target_not_met"],
        numerator=1,
        denominator=10,
        justification="neuer Text aus dem Datenblatt",
    )
    assert snapshot() == (kept, True, 1)
