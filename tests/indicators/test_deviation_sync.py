"""``deviation_sync`` is safe on its own (issue 7): called outside any transaction it
locks, writes and logs, and a failure half-way writes nothing."""

import pytest

from centres.models import LogEntry
from indicators import services
from indicators.choices import Flag
from indicators.models import Deviation, IndicatorDefinition
from indicators.services import deviation_sync

pytestmark = pytest.mark.django_db(transaction=True)  # no test-wide transaction around the call


@pytest.fixture
def definition(catalogue):
    return IndicatorDefinition.objects.get(version_id="KJ2022", code="5")


def _sync(site, definition, flags, numerator):
    return deviation_sync(
        site=site, indicator_year=2022, definition=definition, flags=flags, numerator=numerator, denominator=40
    )


def _actions(site) -> list[tuple[str, str]]:
    flags = dict(Deviation.objects.filter(site=site).values_list("pk", "flag"))
    return [(e.action, flags[e.object_id]) for e in LogEntry.objects.filter(action__startswith="indicators.deviation.")]


def test_sync_outside_a_transaction_opens_closes_and_logs(definition, site_a, site_b):
    active = _sync(site_a, definition, [Flag.TARGET_NOT_MET], 1)
    assert [(d.flag, d.numerator, d.is_active) for d in active] == [(Flag.TARGET_NOT_MET, 1, True)]

    active = _sync(site_a, definition, [Flag.IMPLAUSIBLE_HIGH], 39)
    assert [d.flag for d in active] == [Flag.IMPLAUSIBLE_HIGH]
    rows = Deviation.objects.filter(site=site_a).order_by("flag")
    assert [(d.flag, d.is_active, d.numerator, d.closed_at is not None) for d in rows] == [
        (Flag.IMPLAUSIBLE_HIGH, True, 39, False),
        (Flag.TARGET_NOT_MET, False, 1, True),  # closed, never deleted
    ]
    assert _actions(site_a) == [
        ("indicators.deviation.opened", Flag.TARGET_NOT_MET),
        ("indicators.deviation.opened", Flag.IMPLAUSIBLE_HIGH),
        ("indicators.deviation.closed", Flag.TARGET_NOT_MET),
    ]
    assert not Deviation.objects.filter(site=site_b).exists()


def test_sync_runs_in_one_transaction_of_its_own(definition, site_a, monkeypatch):
    """A failure after the first write (here: the log entry of the closed record)
    rolls every change of the call back, the earlier sync stays."""
    _sync(site_a, definition, [Flag.TARGET_NOT_MET], 1)
    real = services.log_entry_create

    def failing_on_close(**kwargs):
        if kwargs["action"] == "indicators.deviation.closed":
            raise RuntimeError("log store down")
        return real(**kwargs)

    monkeypatch.setattr(services, "log_entry_create", failing_on_close)
    with pytest.raises(RuntimeError):
        _sync(site_a, definition, [Flag.IMPLAUSIBLE_HIGH], 39)

    rows = Deviation.objects.filter(site=site_a)
    assert [(d.flag, d.is_active, d.numerator) for d in rows] == [(Flag.TARGET_NOT_MET, True, 1)]
    assert _actions(site_a) == [("indicators.deviation.opened", Flag.TARGET_NOT_MET)]
