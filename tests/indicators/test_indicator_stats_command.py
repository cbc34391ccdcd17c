"""``manage.py indicator_stats``: German table, JSON document, clear errors (SPEC §5)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from indicators.domain import evaluate
from indicators.models import IndicatorDefinition
from indicators.services import evaluation_record
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def record(site, code, numerator, denominator=None, year=2022, version="KJ2022"):
    definition = IndicatorDefinition.objects.get(version_id=version, code=code)
    evaluation_record(
        site=site,
        indicator_year=year,
        definition=definition,
        numerator=numerator,
        denominator=denominator,
        flags=evaluate(numerator, denominator, definition.rule()),
        source_revision_id=None,
    )


@pytest.fixture
def year_2022(catalogue, site_a, site_b):
    site_c = SiteFactory()
    # KeZa 5 (study rate, >= 5 %, implausible above 80 %); numerators count events
    record(site_a, "5", 0, 40)
    record(site_b, "5", 10, 40)
    record(site_c, "5", 1, 3)
    # KeZa 1a: primary cases, count >= 75
    record(site_a, "1a", 80)
    record(site_b, "1a", 74)
    record(site_c, "1a", 121)
    # KeZa 2a: salivary tumour board, no target; site_c not evaluable
    record(site_a, "2a", 4, 4)
    record(site_b, "2a", 2, 3)
    record(site_c, "2a", 0, 0)


def run(*args: str) -> str:
    out = StringIO()
    call_command("indicator_stats", *args, stdout=out)
    return out.getvalue()


def test_json_document_for_one_code(year_2022):
    (doc,) = json.loads(run("--year", "2022", "--code", "5", "--json"))
    assert doc["code"] == "5"
    assert doc["kind"] == "rate"
    assert doc["catalogue_version"] == "KJ2022"
    assert doc["title"].startswith("Anteil Studienpatienten")
    assert (doc["n_sites"], doc["n_reported"], doc["n_not_evaluable"]) == (3, 3, 0)
    # pooled: (0 + 10 + 1) / (40 + 40 + 3) = 11/83
    assert doc["pooled_rate_fraction"] == "11/83"
    assert doc["pooled_rate"] == round(11 / 83, 6) == 0.13253
    # site rates 0, 1/4, 1/3: median 1/4; P5 = 0.1 * 1/4; P95 = 1/4 + 0.9 * (1/3 - 1/4)
    assert doc["median"] == 0.25
    assert (doc["minimum"], doc["maximum"]) == (0.0, 0.333333)
    assert doc["p5"] == 0.025
    assert doc["p25"] == 0.125
    assert doc["p75"] == round(1 / 4 + 1 / 2 * (1 / 3 - 1 / 4), 6) == 0.291667
    assert doc["p95"] == round(1 / 4 + 9 / 10 * (1 / 3 - 1 / 4), 6) == 0.325
    assert (doc["sites_meeting_target"], doc["share_meeting_target"]) == (2, 0.666667)
    assert doc["sites_inside_corridor"] == 3
    assert doc["sites_with_zero_numerator"] == 1
    assert doc["sites_at_100_percent"] == 0
    assert doc["total"] is None


def test_json_document_for_the_whole_year(year_2022):
    docs = json.loads(run("--year", "2022", "--json"))
    assert [d["code"] for d in docs][:4] == ["1a", "1b", "2", "2a"]
    assert len(docs) == IndicatorDefinition.objects.filter(version_id="KJ2022").count()
    by_code = {d["code"]: d for d in docs}

    cases = by_code["1a"]
    assert cases["kind"] == "count"
    assert (cases["total"], cases["pooled_rate"], cases["pooled_rate_fraction"]) == (
        275,
        None,
        None,
    )
    assert (cases["median"], cases["minimum"], cases["maximum"]) == (80, 74, 121)
    assert cases["sites_meeting_target"] == 2
    assert cases["sites_at_100_percent"] is None

    board = by_code["2a"]
    assert (board["n_sites"], board["n_not_evaluable"]) == (2, 1)
    assert board["pooled_rate_fraction"] == "6/7"
    assert board["sites_at_100_percent"] == 1
    assert board["sites_meeting_target"] is None and board["share_meeting_target"] is None

    assert by_code["20"]["n_sites"] == 0 and by_code["20"]["median"] is None


def test_rates_are_fractions_never_percent(year_2022):
    for doc in json.loads(run("--year", "2022", "--json")):
        if doc["kind"] != "rate":
            continue
        for key in (
            "pooled_rate",
            "median",
            "minimum",
            "p5",
            "p25",
            "p75",
            "p95",
            "share_meeting_target",
            "share_inside_corridor",
        ):
            assert doc[key] is None or 0 <= doc[key] <= 1, (doc["code"], key)


def test_german_table(year_2022):
    out = run("--year", "2022")
    lines = out.splitlines()
    assert lines[0] == "Kennzahlenjahr 2022 (Katalog KJ2022)"
    header = lines[1]
    for label in (
        "KeZa",
        "Kennzahl",
        "Standorte",
        "Gesamtquote",
        "Median",
        "P95",
        "Soll erfüllt n (%)",
        "im Korridor",
        "Zähler 0",
        "100 %",
    ):
        assert label in header
    row_5 = next(line for line in lines if line.startswith("5 "))
    assert "13,3 %" in row_5  # pooled 11/83 = 13.25 %
    assert "25,0 %" in row_5  # median
    assert "2 (66,7 %)" in row_5
    row_1a = next(line for line in lines if line.startswith("1a "))
    assert "Σ 275" in row_1a
    assert " 121" in row_1a and "%" not in row_1a.split("Σ 275")[1].split("(")[0]
    row_2a = next(line for line in lines if line.startswith("2a "))
    assert "2 (+1 n. a.)" in row_2a
    assert "85,7 %" in row_2a  # 6/7


def test_table_for_one_code(year_2022):
    lines = run("--year", "2022", "--code", "1a").splitlines()
    assert len(lines) == 4  # title, header, rule, one row


def test_unknown_year_is_a_command_error(catalogue):
    with pytest.raises(CommandError, match="Unbekanntes Kennzahlenjahr 1999"):
        run("--year", "1999", "--json")


def test_unknown_code_is_a_command_error(catalogue):
    with pytest.raises(CommandError, match="Kennzahl 'OH-1' gibt es im Kennzahlenjahr 2022 nicht"):
        run("--year", "2022", "--code", "OH-1")


def test_empty_database_is_a_command_error(db):
    with pytest.raises(CommandError, match="Katalog"):
        run("--year", "2022")
