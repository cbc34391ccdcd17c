"""Service-level tests of the deviation life cycle (SPEC §4) and the catalogue loader.

Every transition is tried per role, allowed and forbidden; refusals assert the error
code and that nothing changed; allowed steps assert the fields and the log entry.
Expected values are hand-written from SPEC §4 and the catalogue fixture.
"""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser

from centres.models import LogEntry, Role
from indicators.choices import DeviationError, DeviationState
from indicators.models import CatalogueVersion, Deviation, Evaluation, IndicatorDefinition, IndicatorYear
from indicators.services import (
    catalogue_load,
    deviation_decide,
    deviation_justify,
    deviation_resolve,
    deviation_sync,
    evaluation_record,
)
from qiportal.exceptions import ApplicationError
from tests.factories import MembershipFactory, UserFactory

YEAR = 2022
DUE = dt.date(2023, 9, 30)


@pytest.fixture
def keza5(catalogue):
    """KJ2022 KeZa 5: target ≥ 5 %, corridor upper bound 80 % (catalogue fixture)."""
    return IndicatorDefinition.objects.get(version_id="KJ2022", code="5")


@pytest.fixture
def deviation(site_a, keza5):
    (dev,) = _sync(site_a, keza5)
    return dev


def _sync(site, definition, flags=("target_not_met",), numerator=1, denominator=40, **kw) -> list[Deviation]:
    """deviation_sync for indicator year 2022; by default KeZa 5 at 1/40 (2.5 % < 5 %)."""
    return deviation_sync(
        site=site,
        indicator_year=YEAR,
        definition=definition,
        flags=list(flags),
        numerator=numerator,
        denominator=denominator,
        **kw,
    )


def _actions(obj) -> list[str]:
    return list(
        LogEntry.objects.filter(object_id=obj.pk, action__startswith="indicators.").values_list("action", flat=True)
    )


def _log(obj, action) -> LogEntry:
    return LogEntry.objects.get(object_id=obj.pk, action=action)


@pytest.fixture
def anonymous():
    return AnonymousUser()


@pytest.fixture
def auditor_b(site_b):
    """An auditor of the other centre's site."""
    user = UserFactory(username="auditor_b")
    MembershipFactory(user=user, site=site_b, role=Role.AUDITOR)
    return user


@pytest.fixture
def office_site_user(site_a):
    """An office member bound to site_a only (the office role may decide)."""
    user = UserFactory(username="office_a")
    MembershipFactory(user=user, site=site_a, role=Role.OFFICE)
    return user


# --- deviation_sync ------------------------------------------------------------------


def test_sync_opens_one_record_per_flag_with_values_and_log(site_a, keza5):
    active = _sync(site_a, keza5, flags=["target_not_met", "implausible_high"], source_revision_id=77)
    assert sorted(d.flag for d in active) == ["implausible_high", "target_not_met"]
    rows = Deviation.objects.filter(site=site_a, indicator_year=YEAR, code="5")
    assert rows.count() == 2
    for d in rows:
        assert (d.numerator, d.denominator, d.source_revision_id) == (1, 40, 77)
        assert d.state == DeviationState.OPEN and d.is_active and d.closed_at is None
        assert d.definition_id == keza5.pk
        entry = _log(d, "indicators.deviation.opened")
        assert entry.data == {"to": "open", "numerator": 1, "denominator": 40, "revision": 77}
        assert entry.actor is None


def test_sync_without_flags_writes_nothing(site_a, keza5):
    assert _sync(site_a, keza5, flags=[], numerator=3) == []
    assert Deviation.objects.count() == 0
    assert LogEntry.objects.count() == 0


def test_sync_same_values_again_changes_nothing(deviation, keza5, site_a):
    before = Deviation.objects.get(pk=deviation.pk)
    (again,) = _sync(site_a, keza5)
    assert again.pk == deviation.pk
    assert Deviation.objects.count() == 1
    assert _actions(deviation) == ["indicators.deviation.opened"]
    assert Deviation.objects.get(pk=deviation.pk).numerator == before.numerator == 1


def test_sync_keeps_review_and_updates_values_and_revision(deviation, keza5, site_a, coordinator):
    deviation_justify(deviation=deviation, text="Kleine Fallzahl", acting_user=coordinator)
    (same,) = _sync(site_a, keza5, denominator=50, source_revision_id=9)
    stored = Deviation.objects.get(pk=deviation.pk)
    assert same.pk == deviation.pk
    assert (stored.numerator, stored.denominator, stored.source_revision_id) == (1, 50, 9)
    assert stored.state == DeviationState.JUSTIFIED and stored.justification == "Kleine Fallzahl"


@pytest.mark.parametrize(("numerator", "denominator"), [(2, 40), (1, 41)])
def test_sync_updates_changed_values_under_the_same_revision(deviation, keza5, site_a, numerator, denominator):
    _sync(site_a, keza5, numerator=numerator, denominator=denominator)
    stored = Deviation.objects.get(pk=deviation.pk)
    assert (stored.numerator, stored.denominator) == (numerator, denominator)


def test_sync_reopens_under_the_same_revision(deviation, keza5, site_a):
    _sync(site_a, keza5, flags=[])
    _sync(site_a, keza5)
    stored = Deviation.objects.get(pk=deviation.pk)
    assert stored.is_active and stored.closed_at is None


def test_sync_only_a_new_revision_updates_the_source(deviation, keza5, site_a):
    _sync(site_a, keza5, source_revision_id=12)
    assert Deviation.objects.get(pk=deviation.pk).source_revision_id == 12


def test_sync_moves_a_record_to_the_new_definition(deviation, site_a, catalogue):
    other = IndicatorDefinition.objects.get(version_id="KJ2024", code="5")
    _sync(site_a, other)
    assert Deviation.objects.get(pk=deviation.pk).definition_id == other.pk


def test_sync_closes_a_vanished_flag_and_reopens_it(deviation, keza5, site_a):
    assert _sync(site_a, keza5, flags=[], numerator=4, source_revision_id=5) == []
    closed = Deviation.objects.get(pk=deviation.pk)
    assert not closed.is_active and closed.closed_at is not None
    assert closed.source_revision_id == 5
    assert _log(closed, "indicators.deviation.closed").data == {"revision": 5}

    (back,) = _sync(site_a, keza5, source_revision_id=6)
    reopened = Deviation.objects.get(pk=deviation.pk)
    assert back.pk == deviation.pk
    assert reopened.is_active and reopened.closed_at is None and reopened.source_revision_id == 6
    assert _log(reopened, "indicators.deviation.reopened").data == {"revision": 6}
    assert _actions(deviation) == [
        "indicators.deviation.opened",
        "indicators.deviation.closed",
        "indicators.deviation.reopened",
    ]


def test_sync_leaves_other_sites_years_and_codes_alone(deviation, keza5, site_a, site_b):
    _sync(site_b, keza5, flags=[], numerator=4)
    deviation_sync(site=site_a, indicator_year=YEAR + 1, definition=keza5, flags=[], numerator=4, denominator=40)
    keza8 = IndicatorDefinition.objects.get(version_id="KJ2022", code="8")
    _sync(site_a, keza8, flags=[], numerator=4, denominator=4)
    assert Deviation.objects.get(pk=deviation.pk).is_active


def test_sync_with_justification_from_the_datasheet(site_a, keza5, coordinator):
    long_text = "x" * 2500
    (dev,) = _sync(site_a, keza5, source_revision_id=3, justification=long_text, acting_user=coordinator)
    stored = Deviation.objects.get(pk=dev.pk)
    assert stored.state == DeviationState.JUSTIFIED
    assert stored.justification == "x" * 2000
    assert stored.justified_by == coordinator and stored.justified_at is not None
    entry = _log(stored, "indicators.deviation.justified")
    assert entry.data == {
        "from": "open",
        "to": "justified",
        "justification": "x" * 2000,
        "via": "datasheet",
        "revision": 3,
    }
    assert entry.actor == coordinator


def test_sync_justification_does_not_touch_a_decided_record(deviation, keza5, site_a, auditor):
    deviation_decide(deviation=deviation, decision="accepted", acting_user=auditor)
    _sync(site_a, keza5, justification="neu")
    stored = Deviation.objects.get(pk=deviation.pk)
    assert stored.state == DeviationState.ACCEPTED and stored.justification == ""


def test_evaluation_record_writes_one_row_and_updates_it(site_a, keza5):
    first = evaluation_record(
        site=site_a,
        indicator_year=YEAR,
        definition=keza5,
        numerator=1,
        denominator=40,
        flags=["target_not_met"],
        source_revision_id=1,
    )
    evaluation_record(
        site=site_a,
        indicator_year=YEAR,
        definition=keza5,
        numerator=3,
        denominator=40,
        flags=[],
        source_revision_id=2,
    )
    row = Evaluation.objects.get()
    assert row.pk == first.pk
    assert (row.numerator, row.denominator, row.flags, row.source_revision_id) == (3, 40, [], 2)
    assert not Deviation.objects.get().is_active  # 3/40 = 7.5 % >= 5 %: the flag is gone


# --- deviation_justify -----------------------------------------------------------------


def test_coordinator_justifies_open_deviation(deviation, coordinator):
    result = deviation_justify(deviation=deviation, text="  Patientenablehnung  ", acting_user=coordinator)
    stored = Deviation.objects.get(pk=deviation.pk)
    assert result.state == stored.state == DeviationState.JUSTIFIED
    assert stored.justification == "Patientenablehnung"
    assert stored.justified_by == coordinator and stored.justified_at is not None
    assert _log(stored, "indicators.deviation.justified").actor == coordinator


def test_coordinator_may_change_a_justification_before_the_decision(deviation, coordinator):
    deviation_justify(deviation=deviation, text="erste", acting_user=coordinator)
    deviation_justify(deviation=deviation, text="zweite", acting_user=coordinator)
    assert Deviation.objects.get(pk=deviation.pk).justification == "zweite"


def test_justification_is_cut_at_2000_characters(deviation, coordinator):
    deviation_justify(deviation=deviation, text="y" * 2001, acting_user=coordinator)
    assert len(Deviation.objects.get(pk=deviation.pk).justification) == 2000


@pytest.mark.parametrize("who", ["auditor", "commission", "coordinator_b", "anonymous"])
def test_justify_is_forbidden_for_roles_without_the_right(deviation, who, request):
    user = request.getfixturevalue(who)
    with pytest.raises(ApplicationError) as info:
        deviation_justify(deviation=deviation, text="nein", acting_user=user)
    assert info.value.code == DeviationError.FORBIDDEN
    stored = Deviation.objects.get(pk=deviation.pk)
    assert stored.state == DeviationState.OPEN and stored.justification == ""
    assert _actions(deviation) == ["indicators.deviation.opened"]


def test_justify_after_the_decision_is_wrong_state(deviation, coordinator, auditor):
    deviation_decide(deviation=deviation, decision="note", comment="Hinweis", acting_user=auditor)
    with pytest.raises(ApplicationError) as info:
        deviation_justify(deviation=deviation, text="zu spät", acting_user=coordinator)
    assert info.value.code == DeviationError.WRONG_STATE
    assert Deviation.objects.get(pk=deviation.pk).state == DeviationState.NOTE


# --- deviation_decide ------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["accepted", "note"])
def test_auditor_decides_without_due_date(deviation, auditor, decision):
    deviation_decide(deviation=deviation, decision=decision, comment=" ok ", due_date=DUE, acting_user=auditor)
    stored = Deviation.objects.get(pk=deviation.pk)
    assert stored.state == decision
    assert stored.decision_comment == "ok"
    assert stored.due_date is None  # a due date belongs only to an Abweichung
    assert stored.decided_by == auditor and stored.decided_at is not None
    entry = _log(stored, f"indicators.deviation.{decision}")
    # from -> to and the comment; the due date given is not kept for a non-Abweichung
    assert entry.actor == auditor and entry.data == {"from": "open", "to": decision, "comment": "ok"}


def test_auditor_records_nonconformity_with_due_date(deviation, auditor, coordinator):
    deviation_justify(deviation=deviation, text="Begründung", acting_user=coordinator)
    deviation_decide(
        deviation=deviation,
        decision="nonconformity",
        comment="Studienquote unter Soll",
        corrective_action=" Studienzugang mit dem Studienzentrum vereinbaren ",
        due_date=DUE,
        acting_user=auditor,
    )
    stored = Deviation.objects.get(pk=deviation.pk)
    assert stored.state == DeviationState.NONCONFORMITY and stored.due_date == DUE
    assert stored.corrective_action == "Studienzugang mit dem Studienzentrum vereinbaren"
    assert _log(stored, "indicators.deviation.nonconformity").data == {
        "from": "justified",
        "to": "nonconformity",
        "comment": "Studienquote unter Soll",
        "corrective_action": "Studienzugang mit dem Studienzentrum vereinbaren",
        "due_date": "2023-09-30",
    }


def test_nonconformity_without_due_date_is_refused(deviation, auditor):
    with pytest.raises(ApplicationError) as info:
        deviation_decide(deviation=deviation, decision="nonconformity", acting_user=auditor)
    assert info.value.code == DeviationError.DUE_DATE_REQUIRED
    assert Deviation.objects.get(pk=deviation.pk).state == DeviationState.OPEN


def test_decision_without_texts_logs_only_from_and_to(deviation, office):
    deviation_decide(deviation=deviation, decision="accepted", acting_user=office)
    assert _log(deviation, "indicators.deviation.accepted").data == {"from": "open", "to": "accepted"}


@pytest.mark.parametrize("decision", ["open", "justified", "resolved", "bogus"])
def test_unknown_or_non_decision_states_are_refused(deviation, auditor, decision):
    with pytest.raises(ApplicationError) as info:
        deviation_decide(deviation=deviation, decision=decision, due_date=DUE, acting_user=auditor)
    assert info.value.code == DeviationError.WRONG_STATE
    assert Deviation.objects.get(pk=deviation.pk).state == DeviationState.OPEN


def test_a_decided_deviation_cannot_be_decided_again(deviation, auditor):
    deviation_decide(deviation=deviation, decision="accepted", acting_user=auditor)
    with pytest.raises(ApplicationError) as info:
        deviation_decide(deviation=deviation, decision="note", acting_user=auditor)
    assert info.value.code == DeviationError.WRONG_STATE
    assert Deviation.objects.get(pk=deviation.pk).state == DeviationState.ACCEPTED


@pytest.mark.parametrize("who", ["office", "office_site_user"])
def test_office_may_decide(deviation, who, request):
    user = request.getfixturevalue(who)
    deviation_decide(deviation=deviation, decision="note", acting_user=user)
    assert Deviation.objects.get(pk=deviation.pk).state == DeviationState.NOTE


@pytest.mark.parametrize("who", ["coordinator", "commission", "coordinator_b", "auditor_b", "anonymous"])
def test_decide_is_forbidden_for_roles_without_the_right(deviation, who, request):
    user = request.getfixturevalue(who)
    with pytest.raises(ApplicationError) as info:
        deviation_decide(deviation=deviation, decision="accepted", acting_user=user)
    assert info.value.code == DeviationError.FORBIDDEN
    stored = Deviation.objects.get(pk=deviation.pk)
    assert stored.state == DeviationState.OPEN and stored.decided_by is None
    assert _actions(deviation) == ["indicators.deviation.opened"]


# --- deviation_resolve -----------------------------------------------------------------


@pytest.mark.parametrize("decision", ["note", "nonconformity"])
def test_auditor_resolves_note_or_nonconformity(deviation, auditor, decision):
    deviation_decide(
        deviation=deviation,
        decision=decision,
        comment="Befund",
        due_date=DUE,
        corrective_action="Plan",
        acting_user=auditor,
    )
    deviation_resolve(deviation=deviation, comment=" behoben ", acting_user=auditor)
    stored = Deviation.objects.get(pk=deviation.pk)
    assert stored.state == DeviationState.RESOLVED
    assert stored.decision_comment == "Befund\nbehoben"
    assert _log(stored, "indicators.deviation.resolved").actor == auditor


def test_resolve_without_comment_keeps_the_decision_comment(deviation, auditor):
    deviation_decide(deviation=deviation, decision="note", comment="Befund", acting_user=auditor)
    deviation_resolve(deviation=deviation, acting_user=auditor)
    assert Deviation.objects.get(pk=deviation.pk).decision_comment == "Befund"


@pytest.mark.parametrize("state", ["open", "justified", "accepted", "resolved"])
def test_resolve_from_other_states_is_wrong_state(deviation, auditor, coordinator, state):
    if state == "justified":
        deviation_justify(deviation=deviation, text="b", acting_user=coordinator)
    elif state == "accepted":
        deviation_decide(deviation=deviation, decision="accepted", acting_user=auditor)
    elif state == "resolved":
        deviation_decide(deviation=deviation, decision="note", acting_user=auditor)
        deviation_resolve(deviation=deviation, acting_user=auditor)
    with pytest.raises(ApplicationError) as info:
        deviation_resolve(deviation=deviation, comment="x", acting_user=auditor)
    assert info.value.code == DeviationError.WRONG_STATE
    assert Deviation.objects.get(pk=deviation.pk).state == state


@pytest.mark.parametrize("who", ["coordinator", "commission", "coordinator_b", "anonymous"])
def test_resolve_is_forbidden_for_roles_without_the_right(deviation, auditor, who, request):
    deviation_decide(
        deviation=deviation, decision="nonconformity", due_date=DUE, corrective_action="Plan", acting_user=auditor
    )
    user = request.getfixturevalue(who)
    with pytest.raises(ApplicationError) as info:
        deviation_resolve(deviation=deviation, comment="selbst erledigt", acting_user=user)
    assert info.value.code == DeviationError.FORBIDDEN
    stored = Deviation.objects.get(pk=deviation.pk)
    assert stored.state == DeviationState.NONCONFORMITY
    assert "selbst erledigt" not in stored.decision_comment
    assert "indicators.deviation.resolved" not in _actions(deviation)


# --- catalogue_load --------------------------------------------------------------------


def test_catalogue_load_counts_and_is_idempotent(db):
    from indicators.services import CATALOGUE_FIXTURE

    data = json.loads(CATALOGUE_FIXTURE.read_text(encoding="utf-8"))
    n_defs = sum(len(v["definitions"]) for v in data["versions"])
    first = catalogue_load()
    second = catalogue_load()
    # C2.1 has 15 definitions, KJ2022 18, KJ2024 24 (catalogue fixture); 2015–2026 mapped.
    assert first == second == {"versions": 3, "definitions": 15 + 18 + 24, "years": 12}
    assert n_defs == 57
    assert IndicatorDefinition.objects.count() == 57 and CatalogueVersion.objects.count() == 3
    assert IndicatorYear.objects.get(year=2018).catalogue_version_id == "C2.1"
    assert IndicatorYear.objects.get(year=2019).catalogue_version_id == "KJ2022"
    assert IndicatorYear.objects.get(year=2024).catalogue_version_id == "KJ2024"


def test_catalogue_load_stores_targets_corridors_and_predecessors(catalogue):
    k8_22 = IndicatorDefinition.objects.get(version_id="KJ2022", code="8")
    k8_24 = IndicatorDefinition.objects.get(version_id="KJ2024", code="8")
    # KeZa 8 raised from >= 80 % to >= 90 % in KJ2024 (catalogue).
    assert (k8_22.target_op, k8_22.target_value) == (">=", Decimal("0.8"))
    assert (k8_24.target_op, k8_24.target_value) == (">=", Decimal("0.9"))
    assert k8_24.predecessor == k8_22
    k5 = IndicatorDefinition.objects.get(version_id="KJ2022", code="5")
    assert (k5.corridor_lower, k5.corridor_upper) == (None, Decimal("0.8"))
    assert k5.predecessor == IndicatorDefinition.objects.get(version_id="C2.1", code="5")
    k1b = IndicatorDefinition.objects.get(version_id="KJ2022", code="1b")
    assert k1b.predecessor is None and k1b.target_value is None
    assert IndicatorDefinition.objects.get(version_id="KJ2022", code="4").corridor_lower == Decimal("0.0001")
    version = CatalogueVersion.objects.get(id="KJ2024")
    assert (version.indicator_year, version.audit_year) == (2024, 2025)


def test_catalogue_load_updates_a_changed_definition(catalogue, tmp_path):
    from indicators.services import CATALOGUE_FIXTURE

    data = json.loads(CATALOGUE_FIXTURE.read_text(encoding="utf-8"))
    for v in data["versions"]:
        for d in v["definitions"]:
            if v["id"] == "KJ2022" and d["code"] == "8":
                d["target_value"] = 0.85
                d["title_de"] = "Geänderter Titel"
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    catalogue_load(path=path)
    k8 = IndicatorDefinition.objects.get(version_id="KJ2022", code="8")
    assert k8.target_value == Decimal("0.85") and k8.title_de == "Geänderter Titel"
    assert IndicatorDefinition.objects.filter(version_id="KJ2022", code="8").count() == 1


def test_catalogue_load_in_bulk_and_in_place_store_the_same_rows(db):
    """The first load inserts in bulk, later ones update in place: the same rows either
    way, predecessors included (a predecessor lost in the database comes back)."""

    def rows():
        return sorted(IndicatorDefinition.objects.values_list(), key=str), sorted(
            IndicatorYear.objects.values_list(), key=str
        )

    catalogue_load()
    fresh = rows()
    k8_24 = IndicatorDefinition.objects.get(version_id="KJ2024", code="8")
    IndicatorDefinition.objects.filter(pk=k8_24.pk).update(predecessor=None, series="x")
    IndicatorYear.objects.filter(year=2024).update(catalogue_version_id="C2.1")
    catalogue_load()
    assert rows() == fresh
    assert IndicatorDefinition.objects.get(pk=k8_24.pk).predecessor.code == "8"


# --- who is on the record -------------------------------------------------------------


def test_every_sync_log_entry_names_the_acting_user(site_a, keza5, coordinator):
    (dev,) = _sync(site_a, keza5, acting_user=coordinator)
    _sync(site_a, keza5, flags=[], numerator=4, acting_user=coordinator)
    _sync(site_a, keza5, acting_user=coordinator)
    actors = dict(LogEntry.objects.filter(object_id=dev.pk).values_list("action", "actor"))
    assert actors == {
        "indicators.deviation.opened": coordinator.pk,
        "indicators.deviation.closed": coordinator.pk,
        "indicators.deviation.reopened": coordinator.pk,
    }


def test_evaluation_record_passes_the_acting_user_and_no_justification_by_default(site_a, keza5, coordinator):
    evaluation_record(
        site=site_a,
        indicator_year=YEAR,
        definition=keza5,
        numerator=1,
        denominator=40,
        flags=["target_not_met"],
        source_revision_id=1,
        acting_user=coordinator,
    )
    dev = Deviation.objects.get()
    assert dev.state == DeviationState.OPEN and dev.justification == ""
    assert _log(dev, "indicators.deviation.opened").actor == coordinator


@pytest.mark.parametrize("system", [None, "anonymous"])
def test_a_justification_from_a_system_import_has_no_author(site_a, keza5, system):
    acting_user = AnonymousUser() if system else None
    (dev,) = _sync(site_a, keza5, justification="aus dem Datenblatt", acting_user=acting_user)
    stored = Deviation.objects.get(pk=dev.pk)
    assert stored.state == DeviationState.JUSTIFIED and stored.justification == "aus dem Datenblatt"
    assert stored.justified_by is None and stored.justified_at is not None
    assert _log(stored, "indicators.deviation.justified").actor is None


def test_a_decision_without_comment_stores_none(deviation, auditor):
    deviation_decide(deviation=deviation, decision="accepted", acting_user=auditor)
    assert Deviation.objects.get(pk=deviation.pk).decision_comment == ""
