"""The seeded national demo (fixtures/demo/): determinism, structure (system_figures),
the exact 2022 figures of the Jahresbericht 2024 (published_results, SEED004) and the
internal consistency every import validates (SPEC §3). No database needed."""

import dataclasses
import json
from fractions import Fraction

import pytest

from fixtures.demo import (
    YEARS,
    DemoSheet,
    definition_rule,
    demo_sites,
    demo_year,
    load_catalogue,
    published_check,
    sheet_value,
)
from indicators import domain

MAX_COUNT = 1_000_000


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="module")
def sites():
    return demo_sites()


@pytest.fixture(scope="module")
def all_years(sites, catalogue):
    return {year: demo_year(year, sites, catalogue) for year in YEARS}


def _serialise(sites, years) -> str:
    return json.dumps(
        {
            "sites": [dataclasses.asdict(s) for s in sites],
            "years": {y: {r: dataclasses.asdict(s) for r, s in sheets.items()} for y, sheets in years.items()},
        },
        sort_keys=True,
        default=str,
    )


def _version(catalogue, year):
    vid = catalogue["years"][str(year)]
    return next(v for v in catalogue["versions"] if v["id"] == vid)


def test_same_seed_gives_identical_output(catalogue, sites, all_years):
    again_sites = demo_sites(2022)
    again = {y: demo_year(y, again_sites, catalogue, seed=2022) for y in YEARS}
    assert _serialise(again_sites, again) == _serialise(sites, all_years)


def test_other_seed_gives_other_output(catalogue, sites, all_years):
    other_sites = demo_sites(7)
    other = {y: demo_year(y, other_sites, catalogue, seed=7) for y in YEARS}
    assert _serialise(other_sites, other) != _serialise(sites, all_years)


def test_sites_match_system_figures(sites):
    assert len(sites) == 81
    assert len({s.registration_number for s in sites}) == 81
    assert all(s.registration_number.startswith("KHT-") for s in sites)
    assert len({s.centre_name for s in sites}) == 79
    per_centre = {}
    for s in sites:
        per_centre.setdefault(s.centre_name, []).append(s)
    assert sorted(len(v) for v in per_centre.values()) == [1] * 77 + [2, 2]
    abroad = [s for s in sites if s.country != "DE"]
    assert len(abroad) == 7
    assert {s.country for s in abroad} <= {"AT", "CH", "IT", "LU", "LI", "BE"}
    assert all(s.state for s in sites)
    assert sum(s.standalone for s in sites) == 8
    assert all(s.contact_email.endswith(".example.org") or s.contact_email.endswith("@example.org") for s in sites)
    assert all(s.initial_certification_date.year == s.initial_certification for s in sites)
    assert [s.initial_certification for s in sites].count(2023) == 1
    assert max(s.initial_certification for s in sites) == 2023


def test_reporting_sites_per_year(sites, all_years):
    assert len(all_years[2022]) == 80
    assert len(all_years[2024]) == 81
    for year, sheets in all_years.items():
        assert sorted(sheets) == sorted(s.registration_number for s in sites if s.initial_certification <= year)
        assert all(isinstance(s, DemoSheet) and s.indicator_year == year for s in sheets.values())
    sizes = [len(all_years[y]) for y in YEARS]
    assert sizes == sorted(sizes)


@pytest.mark.parametrize("seed", [2022, 1, 99])
def test_published_2022_figures_reproduced_exactly(catalogue, seed):
    sites = demo_sites(seed)
    sheets = demo_year(2022, sites, catalogue, seed=seed)
    figures = published_check(sheets, catalogue)
    assert figures["sites"] == 80
    assert figures["keza1a_sum"] == 11577
    # KeZa 5 study rate
    assert figures["keza5_median_rounded"] == 0.218
    assert Fraction(2175, 10000) < figures["keza5_median"] < Fraction(2185, 10000)
    assert figures["keza5_sites_meeting_target"] == 73
    assert figures["keza5_share_meeting_target"] == Fraction(9125, 10000)
    assert figures["keza5_zero_numerator"] == 6
    # KeZa 2a salivary-gland tumour board (KJ2022)
    assert figures["salivary_code"] == "2a"
    assert figures["salivary_evaluable_sites"] == 80
    assert figures["salivary_pooled_rate_rounded"] == 0.965
    assert Fraction(9645, 10000) < figures["salivary_pooled_rate"] < Fraction(9655, 10000)
    assert figures["salivary_sites_at_100"] == 63
    # KeZa 20: "only a third" inside the corridor
    assert figures["keza20_evaluable_sites"] == 80
    assert figures["keza20_inside_corridor"] == 27
    # centre cases: "knapp 80 %" first diagnoses
    assert Fraction(78, 100) < figures["first_diagnosis_share"] < Fraction(80, 100)
    assert figures["first_diagnosis_share_rounded"] == 0.79


def test_published_figures_are_independent_of_the_helper(catalogue, all_years):
    """Recount the 2022 figures directly from the sheets with integer arithmetic."""
    sheets = all_years[2022]
    v = _version(catalogue, 2022)
    defs = {d["code"]: d for d in v["definitions"]}
    primary_keys = defs["1a"]["numerator_source"]
    primary = {r: sum(s.base[k] for k in primary_keys) for r, s in sheets.items()}
    assert sum(primary.values()) == 11577
    study = {r: s.indicators["5"][0] for r, s in sheets.items()}
    assert sum(study[r] * 100 >= 5 * primary[r] for r in sheets) == 73
    assert sum(study[r] == 0 for r in sheets) == 6
    rates = sorted(Fraction(study[r], primary[r]) for r in sheets)
    assert round((rates[39] + rates[40]) / 2, 3) == Fraction(218, 1000)
    sal_keys = defs["2a"]["denominator_source"]
    sal_den = {r: sum(s.base[k] for k in sal_keys) for r, s in sheets.items()}
    sal_num = {r: s.indicators["2a"][0] for r, s in sheets.items()}
    assert all(d > 0 for d in sal_den.values())
    assert sum(sal_num[r] == sal_den[r] for r in sheets) == 63
    assert round(Fraction(sum(sal_num.values()), sum(sal_den.values())), 3) == Fraction(965, 1000)
    k20 = [s.indicators["20"] for s in sheets.values()]
    assert all(den > 0 for _n, den, _t in k20)
    assert sum(num * 10 >= 6 * den for num, den, _t in k20) == 27
    assert sum(primary[r] < 75 for r in sheets) in range(1, 11)
    assert all(p >= 60 for p in primary.values())


@pytest.mark.parametrize("year", YEARS)
def test_every_sheet_is_internally_consistent(catalogue, all_years, year):
    version = _version(catalogue, year)
    layout = version["layout"]
    stage_keys = [f"{r['key']}.{s}" for r in layout["rows"] for s in layout["stage_columns"]]
    fields = {f["key"]: f for b in layout["blocks"] for f in b["fields"]}
    codes = sorted(d["code"] for d in version["definitions"])
    for reg, sheet in all_years[year].items():
        assert sheet.catalogue_version == version["id"]
        assert sorted(sheet.base) == sorted([*stage_keys, *fields]), reg
        for key, value in sheet.base.items():
            if value is None:
                assert key in fields and not fields[key]["required"], (reg, key)
                continue
            assert type(value) is int and 0 <= value <= MAX_COUNT, (reg, key, value)
        primary = sum(sheet.base[k] for k in stage_keys)
        assert primary >= 60
        assert sorted(sheet.indicators) == codes
        for d in version["definitions"]:
            num, den, text = sheet.indicators[d["code"]]
            assert isinstance(text, str) and len(text) <= 2000
            if d["numerator_source"] is None:
                assert type(num) is int and 0 <= num <= MAX_COUNT, (reg, d["code"])
            else:
                assert num is None, (reg, d["code"])
            if d["kind"] == "rate" and d["denominator_source"] is None:
                assert type(den) is int and 0 <= den <= MAX_COUNT, (reg, d["code"])
            else:
                assert den is None, (reg, d["code"])
            value, denominator = sheet_value(sheet, d)
            assert 0 <= value <= MAX_COUNT
            if d["kind"] == "rate" and not d["counts_events"]:
                assert value <= denominator, (reg, year, d["code"], value, denominator)
        for check in layout["checks"]:
            assert check["code"] == "reconstruction_sum"
            assert sum(sheet.base[k] for k in check["parts"]) == primary, reg
        if version["id"] == "KJ2024":
            parts = [sheet.base[f"reconstruction.{i}"] for i in range(4)]
            assert sum(parts) == primary
            study = [sheet.base[f"study.{k}"] for k in ("own", "sent", "received")]
            assert all(v is None for v in study) or sum(study) == sheet.indicators["5"][0]


def test_kj2024_study_split_is_filled_for_a_few_sites(all_years):
    filled = [s for s in all_years[2024].values() if s.base["study.own"] is not None]
    assert 0 < len(filled) < len(all_years[2024]) // 2


def _flag_table(catalogue, sheets, year):
    version = _version(catalogue, year)
    rows = []
    for sheet in sheets.values():
        for d in version["definitions"]:
            num, den = sheet_value(sheet, d)
            flags = [f for f in domain.evaluate(num, den, definition_rule(d)) if f != domain.Flag.NOT_EVALUABLE]
            rows.append((d["code"], flags, sheet.indicators[d["code"]][2]))
    return rows


def test_2022_has_a_minority_of_flagged_values_mostly_justified(catalogue, all_years):
    rows = _flag_table(catalogue, all_years[2022], 2022)
    flagged = [r for r in rows if r[1]]
    assert 0 < len(flagged) < len(rows) // 4
    justified = [r for r in flagged if r[2]]
    assert 0 < len(justified) < len(flagged)  # some flagged values lack a Begründung
    assert 0.5 <= len(justified) / len(flagged) <= 0.9
    assert all(not text for _c, flags, text in rows if not flags)  # only flagged values are explained
    codes = {c for c, _f, _t in flagged}
    assert {"1a", "5", "20"} <= codes  # small sites, study rate, larynx RT


def test_2024_targets_drift(catalogue, all_years):
    sheets = all_years[2024]
    v = _version(catalogue, 2024)
    defs = {d["code"]: d for d in v["definitions"]}
    below_13 = sum(
        domain.meets_target(*sheet_value(s, defs["13"]), definition_rule(defs["13"])) is False for s in sheets.values()
    )
    assert 0.05 * len(sheets) <= below_13 <= 0.3 * len(sheets)
    medians = {}
    for year in YEARS:
        d5 = {d["code"]: d for d in _version(catalogue, year)["definitions"]}["5"]
        rates = sorted(Fraction(*sheet_value(s, d5)) for s in all_years[year].values())
        medians[year] = rates[len(rates) // 2]
    assert medians[2024] > medians[2019]
