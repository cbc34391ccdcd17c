"""The rules of datasheets/validation.py on small hand-made inputs (issue 7: mutation gate).

Pure functions, no workbook and no database: every expected value below is taken from
SPEC §3, the message catalogue (datasheets/messages.py) or a hand calculation in a comment.
"""

import datetime as dt
from fractions import Fraction

import pytest

from datasheets.choices import ErrorCode
from datasheets.layout import (
    IND_DENOMINATOR,
    IND_JUSTIFICATION,
    IND_NUMERATOR,
    IND_RATE,
    BaseBlock,
    BaseField,
    BaseRow,
    IndicatorRow,
    Layout,
    SumCheck,
)
from datasheets.messages import cell_error
from datasheets.parsing import ParsedCell, ParsedDatasheet
from datasheets.validation import (
    CoverFacts,
    Problems,
    _check_derived,
    _check_rate,
    _num,
    _percent,
    count_value,
    cover_validate,
    values_validate,
)
from indicators import domain

BASE = "Basisdaten"
IND = "Kennzahlen"


def _report(problems):
    """(Sheet!Cell, code, German message) of every error, then of every warning."""
    return [(f"{e.sheet}!{e.cell}", str(e.code), e.message_de) for e in (*problems.errors, *problems.warnings)]


def _errors(problems):
    return [(f"{e.sheet}!{e.cell}", str(e.code), e.message_de) for e in problems.errors]


def _warnings(problems):
    return [(f"{e.sheet}!{e.cell}", str(e.code), e.message_de) for e in problems.warnings]


# ---- Problems.add -------------------------------------------------------------------


def test_problems_add_sorts_errors_from_warnings_and_ignores_none():
    problems = Problems()
    problems.add(None)
    cell = ParsedCell(BASE, "C4", " 7 ")
    count_value(cell, problems, required=True)  # a number_as_text warning
    count_value(ParsedCell(BASE, "C5", -1), problems, required=True)  # a negative error
    assert _errors(problems) == [("Basisdaten!C5", "negative", "-1 ist negativ.")]
    assert _warnings(problems) == [
        ("Basisdaten!C4", "number_as_text", "„ 7 “ ist als Text eingetragen und wurde als Zahl 7 übernommen.")
    ]


# ---- count_value (SPEC §3 required, not_integer, negative, too_large) ----------------

NOT_INT = "not_integer"
AS_TEXT = "number_as_text"


@pytest.mark.parametrize(
    ("value", "required", "expected", "problems"),
    [
        # empty: required or nothing
        (None, True, None, [("required", "Pflichtfeld ist leer.")]),
        ("   ", True, None, [("required", "Pflichtfeld ist leer.")]),
        (None, False, None, []),
        ("", False, None, []),
        # numbers
        (0, True, 0, []),
        (12, True, 12, []),
        (12.0, True, 12, []),
        (-0.0, True, 0, []),
        (1_000_000, True, 1_000_000, []),  # the limit itself is allowed
        (1_000_001, True, None, [("too_large", "1.000.001 ist größer als 1.000.000.")]),
        (1_000_001.0, True, None, [("too_large", "1.000.001 ist größer als 1.000.000.")]),
        (-1, True, None, [("negative", "-1 ist negativ.")]),
        (-4.0, True, None, [("negative", "-4 ist negativ.")]),
        # not whole numbers
        (12.5, True, None, [(NOT_INT, "„12,5“ ist keine ganze Zahl.")]),
        (float("inf"), True, None, [(NOT_INT, "„inf“ ist keine ganze Zahl.")]),
        (True, True, None, [(NOT_INT, "„True“ ist keine ganze Zahl.")]),
        (False, True, None, [(NOT_INT, "„False“ ist keine ganze Zahl.")]),
        (dt.date(2022, 3, 1), True, None, [(NOT_INT, "„2022-03-01“ ist keine ganze Zahl.")]),
        (dt.datetime(2022, 3, 1, 8, 0), True, None, [(NOT_INT, "„2022-03-01 08:00:00“ ist keine ganze Zahl.")]),
        (dt.time(8, 30), True, None, [(NOT_INT, "„08:30:00“ ist keine ganze Zahl.")]),
        (dt.timedelta(days=2), True, None, [(NOT_INT, "„2 days, 0:00:00“ ist keine ganze Zahl.")]),
        ("12,5", True, None, [(NOT_INT, "„12,5“ ist keine ganze Zahl.")]),
        ("1.200", True, None, [(NOT_INT, "„1.200“ ist keine ganze Zahl.")]),
        ("#DIV/0!", True, None, [(NOT_INT, "„#DIV/0!“ ist keine ganze Zahl.")]),
        ("zwölf", True, None, [(NOT_INT, "„zwölf“ ist keine ganze Zahl.")]),
        ("-", True, None, [(NOT_INT, "„-“ ist keine ganze Zahl.")]),
        ("12a", True, None, [(NOT_INT, "„12a“ ist keine ganze Zahl.")]),
        ("a12", True, None, [(NOT_INT, "„a12“ ist keine ganze Zahl.")]),
        ("1234567890123456", True, None, [(NOT_INT, "„1234567890123456“ ist keine ganze Zahl.")]),  # 16 digits
        ("--3", True, None, [(NOT_INT, "„--3“ ist keine ganze Zahl.")]),
        # integers typed as text: accepted with a warning; a minus sign is an error
        (" 12 ", True, 12, [(AS_TEXT, "„ 12 “ ist als Text eingetragen und wurde als Zahl 12 übernommen.")]),
        ("007", True, 7, [(AS_TEXT, "„007“ ist als Text eingetragen und wurde als Zahl 7 übernommen.")]),
        ("0", True, 0, [(AS_TEXT, "„0“ ist als Text eingetragen und wurde als Zahl 0 übernommen.")]),
        (
            "123456789012345",  # 15 digits: read, then too large
            True,
            None,
            [
                ("too_large", "123.456.789.012.345 ist größer als 1.000.000."),
                (
                    AS_TEXT,
                    "„123456789012345“ ist als Text eingetragen und wurde als Zahl 123.456.789.012.345 übernommen.",
                ),
            ],
        ),
        (" -3 ", True, None, [("negative", "-3 ist negativ.")]),
        ("-123456789012345", True, None, [("negative", "-123.456.789.012.345 ist negativ.")]),
    ],
)
def test_count_value(value, required, expected, problems):
    found = Problems()
    assert count_value(ParsedCell(BASE, "D7", value), found, required=required) == expected
    assert _report(found) == [("Basisdaten!D7", code, message) for code, message in problems]


def test_count_value_messages_in_english():
    found = Problems()
    count_value(ParsedCell(BASE, "D7", "x"), found, required=True)
    count_value(ParsedCell(BASE, "D8", " 5"), found, required=True)
    assert [e.message_en for e in (*found.errors, *found.warnings)] == [
        "'x' is not a whole number.",
        "' 5' was entered as text and read as the number 5.",
    ]


# ---- derived cells: _check_derived, _cached_number, _num ----------------------------


@pytest.mark.parametrize(
    ("value", "expected", "problems"),
    [
        (None, 7, []),  # no cached value (openpyxl writes none)
        ("  ", 7, []),
        (7, 7, []),
        (7.0, 7, []),
        (0, 0, []),
        (8, 7, [("total_mismatch", "Summe 8 weicht von der Summe der Einzelwerte 7 ab.")]),
        (0, 3, [("total_mismatch", "Summe 0 weicht von der Summe der Einzelwerte 3 ab.")]),
        (9.0, 7, [("total_mismatch", "Summe 9 weicht von der Summe der Einzelwerte 7 ab.")]),
        (7.5, 7, [("total_mismatch", "Summe 7,5 weicht von der Summe der Einzelwerte 7 ab.")]),
        (-2, 7, [("total_mismatch", "Summe -2 weicht von der Summe der Einzelwerte 7 ab.")]),
        (True, 1, [(NOT_INT, "„True“ ist keine ganze Zahl.")]),  # a boolean is no number
        (False, 0, [(NOT_INT, "„False“ ist keine ganze Zahl.")]),
        ("7", 7, [(NOT_INT, "„7“ ist keine ganze Zahl.")]),  # text in a formula cell
        ("#REF!", 7, [(NOT_INT, "„#REF!“ ist keine ganze Zahl.")]),
        (dt.date(2022, 1, 1), 7, [(NOT_INT, "„2022-01-01“ ist keine ganze Zahl.")]),
    ],
)
def test_check_derived(value, expected, problems):
    found = Problems()
    _check_derived(ParsedCell(BASE, "I4", value), expected, found, "total_mismatch")
    assert _report(found) == [("Basisdaten!I4", code, message) for code, message in problems]


def test_check_derived_passes_its_parameters_to_the_message():
    found = Problems()
    _check_derived(ParsedCell(IND, "D9", 12.0), 10, found, "denominator_mismatch", code="2a")
    _check_derived(None, 10, found, "denominator_mismatch", code="2b")  # no cell: nothing
    assert _report(found) == [
        ("Kennzahlen!D9", "denominator_mismatch", "KeZa 2a: eingetragen 12, aus den Basisdaten ergibt sich 10.")
    ]
    assert found.errors[0].message_en == "KeZa 2a: entered 12, the Basisdaten give 10."


@pytest.mark.parametrize(
    ("value", "text"),
    [(7, "7"), (-3, "-3"), (7.0, "7"), (-0.0, "0"), (7.5, "7.5"), (float("inf"), "inf"), (float("nan"), "nan")],
)
def test_num_shows_integral_numbers_without_decimals(value, text):
    assert _num(value) == text


# ---- Quote: _check_rate, _percent (cached_value_mismatch warning, SPEC §2) ----------


def _german(percent: str) -> str:
    """The text "50.0 %" (as ``_percent`` writes it) as the German message shows it: "50,0 %"
    with a decimal comma and a no-break space (issue 9)."""
    return percent.replace(".", ",").replace(" ", "\u00a0")


def _mismatch_at(ref, shown, computed):
    shown, computed = _german(shown), _german(computed)
    text = f"Die Datei zeigt {shown}, der Server berechnet {computed} (Formel überschrieben?); es gilt der Serverwert."
    return (ref, "cached_value_mismatch", text)


def _mismatch(shown, computed):
    return [_mismatch_at("Kennzahlen!E9", shown, computed)]


@pytest.mark.parametrize(
    ("value", "numerator", "denominator", "problems"),
    [
        (None, 1, 2, []),  # no cached value
        ("", 1, 2, []),
        ("50 %", 1, 2, []),  # text: display only, nothing to compare
        (True, 1, 1, []),  # a boolean is no number
        (0.5, 1, 2, []),
        (1, 2, 2, []),
        (0.75, 3, 4, []),
        (0.333, 1, 3, []),  # |0.333 - 1/3| = 1/3000 <= 1/2000: rounded display
        # exactly the tolerance 1/2000 apart: 0.5 - 999/2000 = 1/2000, still accepted
        (0.5, 999, 2000, []),
        # 1/1000 apart: 0.5 - 499/1000 = 1/1000 > 1/2000
        (0.5, 499, 1000, _mismatch("50.0 %", "49.9 %")),
        (0.5, 1, 4, _mismatch("50.0 %", "25.0 %")),
        (0.25, 1, 2, _mismatch("25.0 %", "50.0 %")),  # below as well as above
        (1, 1, 2, _mismatch("100.0 %", "50.0 %")),
        (0, 1, 3, _mismatch("0.0 %", "33.3 %")),
        (0.9, 0, 5, _mismatch("90.0 %", "0.0 %")),
        (0.5, 1, 1, _mismatch("50.0 %", "100.0 %")),  # a denominator of 1 is a rate like any
        # no rate without a denominator; a cached inf/nan (#DIV/0! as number) is ignored
        (0.5, 0, 0, []),
        (0.5, 3, 0, []),
        (float("inf"), 1, 2, []),
        (float("-inf"), 1, 2, []),
        (float("nan"), 1, 2, []),
    ],
)
def test_check_rate(value, numerator, denominator, problems):
    found = Problems()
    _check_rate(ParsedCell(IND, "E9", value), numerator, denominator, found)
    assert found.errors == []
    assert _warnings(found) == problems


def test_check_rate_without_a_cell_and_in_english():
    found = Problems()
    _check_rate(None, 1, 2, found)
    assert found.warnings == []
    _check_rate(ParsedCell(IND, "E9", 0.5), 1, 4, found)
    assert [w.message_en for w in found.warnings] == [
        "The file shows 50.0\u00a0%; the server computes 25.0\u00a0% (formula overwritten?); the server's value counts."
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0.0 %"), (1, "100.0 %"), (0.5, "50.0 %"), (Fraction(1, 3), "33.3 %"), (Fraction(2, 3), "66.7 %")],
)
def test_percent(value, text):
    assert _percent(value) == text


# ---- Deckblatt: cover_validate (SPEC §2, §3 structure codes) -------------------------

COVER_REFS = {"registration_number": "B3", "indicator_year": "B10", "audit_year": "B11", "catalogue_version": "B15"}
GOOD_COVER = {
    "registration_number": "KHT-A01",
    "indicator_year": 2022,
    "audit_year": 2023,
    "catalogue_version": "KJ2022",
}
DROP = object()  # leave the label out of the cover
TODAY = dt.date(2025, 6, 1)
VERSIONS = {2022: "KJ2022", 2023: "KJ2022", 2024: "KJ2024", 2025: "KJ2024", 2026: "KJ2024"}
SITES = {"KHT-A01": None, "12345": None, "KHT-B01": ("site_forbidden", {})}


def _cover_check(template_id="KHT/KJ2022/1", cover=None, **kw):
    values = GOOD_COVER | (cover or {})
    cells = {k: ParsedCell("Deckblatt", COVER_REFS[k], v) for k, v in values.items() if v is not DROP}
    problems = Problems()
    kw = {
        "known_templates": {"KJ2022": 1, "KJ2024": 2},  # catalogue version -> layout revision
        "version_for_year": VERSIONS.get,
        "site_access": lambda number: SITES.get(number, ("site_unknown", {})),
        "today": TODAY,
    } | kw
    facts = cover_validate(cells, template_id, problems, **kw)
    return facts, problems


def _unknown(template, ref="A1"):
    text = f"Unbekannte Vorlage „{template}“: bitte die Vorlage aus dem Portal verwenden."
    return ("Deckblatt!" + ref, "template_unknown", text)


def _year(value, detail, ref="B10"):
    return ("Deckblatt!" + ref, "year_mismatch", f"Kennzahlenjahr „{value}“: {detail}")


def _catalogue(ref="B15", found="KJ2024", year=2022, expected="KJ2022"):
    text = f"Die Vorlage gehört zur Katalogversion {found}; für Kennzahlenjahr {year} gilt {expected}."
    return ("Deckblatt!" + ref, "catalogue_mismatch", text)


NO_CATALOGUE = "für dieses Jahr ist kein Kennzahlenkatalog hinterlegt."
CURRENT_YEAR = "Daten eines laufenden oder künftigen Jahres können nicht eingereicht werden."
FORBIDDEN = "Für die Reg.-Nr. „{}“ dürfen Sie hier kein Datenblatt einreichen."
UNKNOWN_SITE = "Die Reg.-Nr. „{}“ ist keinem Standort zugeordnet."
GOOD_FACTS = ("KHT-A01", 2022, "KJ2022")


@pytest.mark.parametrize(
    ("template_id", "cover", "kw", "facts", "problems"),
    [
        ("KHT/KJ2022/1", {}, {}, GOOD_FACTS, []),
        # template identity: the defined name QIP_TEMPLATE, else the Katalogversion label
        (" KHT/KJ2022/1 ", {}, {}, GOOD_FACTS, []),
        ("KHT/KJ2022/2", {}, {}, ("KHT-A01", 2022, None), [_unknown("KHT/KJ2022/2")]),  # wrong layout revision
        ("KHT/KJ2099/1", {}, {}, ("KHT-A01", 2022, None), [_unknown("KHT/KJ2099/1")]),
        ("KHT/KJ2022/1/2", {}, {}, ("KHT-A01", 2022, None), [_unknown("KHT/KJ2022/1/2")]),
        ("xKHT/KJ2022/1", {}, {}, ("KHT-A01", 2022, None), [_unknown("xKHT/KJ2022/1")]),
        ("KHT/KJ2022/", {}, {}, ("KHT-A01", 2022, None), [_unknown("KHT/KJ2022/")]),
        (
            "KHT/KJ2024/1",
            {"indicator_year": 2024, "audit_year": 2025},
            {},
            ("KHT-A01", 2024, None),
            [_unknown("KHT/KJ2024/1")],
        ),
        # the defined name wins over the label
        ("KHT/KJ2024/2", {"indicator_year": 2024, "audit_year": 2025}, {}, ("KHT-A01", 2024, "KJ2024"), []),
        (None, {}, {}, GOOD_FACTS, []),
        ("", {"catalogue_version": " KJ2022 "}, {}, GOOD_FACTS, []),
        (None, {"catalogue_version": "KJ2099"}, {}, ("KHT-A01", 2022, None), [_unknown("KJ2099", "B15")]),
        (None, {"catalogue_version": "  "}, {}, ("KHT-A01", 2022, None), [_unknown("—", "B15")]),
        (None, {"catalogue_version": DROP}, {}, ("KHT-A01", 2022, None), [_unknown("—")]),
        # Reg.-Nr.
        (
            "KHT/KJ2022/1",
            {"registration_number": ""},
            {},
            (None, 2022, "KJ2022"),
            [("Deckblatt!B3", "required", "Pflichtfeld ist leer.")],
        ),
        ("KHT/KJ2022/1", {"registration_number": DROP}, {}, (None, 2022, "KJ2022"), []),
        ("KHT/KJ2022/1", {"registration_number": " KHT-A01 "}, {}, GOOD_FACTS, []),
        ("KHT/KJ2022/1", {"registration_number": 12345.0}, {}, ("12345", 2022, "KJ2022"), []),
        ("KHT/KJ2022/1", {"registration_number": 12345}, {}, ("12345", 2022, "KJ2022"), []),
        (
            "KHT/KJ2022/1",
            {"registration_number": 12345.5},
            {},
            (None, 2022, "KJ2022"),
            [("Deckblatt!B3", "site_unknown", UNKNOWN_SITE.format("12345.5"))],
        ),
        (
            "KHT/KJ2022/1",
            {"registration_number": "KHT-B01"},
            {},
            ("KHT-B01", 2022, "KJ2022"),
            [("Deckblatt!B3", "site_forbidden", FORBIDDEN.format("KHT-B01"))],
        ),
        (
            "KHT/KJ2022/1",
            {"registration_number": "KHT-X99 "},
            {},
            (None, 2022, "KJ2022"),
            [("Deckblatt!B3", "site_unknown", UNKNOWN_SITE.format("KHT-X99"))],
        ),
        # Kennzahlenjahr: a count cell; a year without catalogue, current or future, or
        # not the one asked for is refused; no year, no catalogue check
        (
            "KHT/KJ2022/1",
            {"indicator_year": ""},
            {},
            ("KHT-A01", None, "KJ2022"),
            [("Deckblatt!B10", "required", "Pflichtfeld ist leer.")],
        ),
        ("KHT/KJ2022/1", {"indicator_year": DROP}, {}, ("KHT-A01", None, "KJ2022"), []),
        (
            "KHT/KJ2022/1",
            {"indicator_year": "zwanzig"},
            {},
            ("KHT-A01", None, "KJ2022"),
            [("Deckblatt!B10", NOT_INT, "„zwanzig“ ist keine ganze Zahl.")],
        ),
        (
            "KHT/KJ2022/1",
            {"indicator_year": -2022},
            {},
            ("KHT-A01", None, "KJ2022"),
            [("Deckblatt!B10", "negative", "-2022 ist negativ.")],
        ),
        ("KHT/KJ2022/1", {"indicator_year": " 2022 ", "audit_year": " 2023 "}, {}, GOOD_FACTS, []),  # text: no warning
        ("KHT/KJ2022/1", {"indicator_year": 2022.0}, {}, GOOD_FACTS, []),
        ("KHT/KJ2022/1", {"indicator_year": 2021}, {}, ("KHT-A01", None, "KJ2022"), [_year(2021, NO_CATALOGUE)]),
        ("KHT/KJ2024/2", {"indicator_year": 2025}, {}, ("KHT-A01", None, "KJ2024"), [_year(2025, CURRENT_YEAR)]),
        ("KHT/KJ2024/2", {"indicator_year": 2026}, {}, ("KHT-A01", None, "KJ2024"), [_year(2026, CURRENT_YEAR)]),
        (
            "KHT/KJ2024/2",
            {"indicator_year": 2024, "audit_year": 2025},
            {"today": dt.date(2025, 1, 1)},
            (
                "KHT-A01",
                2024,
                "KJ2024",
            ),
            [],
        ),
        (
            "KHT/KJ2022/1",
            {},
            {"expected_year": 2023},
            ("KHT-A01", None, "KJ2022"),
            [_year(2022, "erwartet wurde 2023.")],
        ),
        ("KHT/KJ2022/1", {}, {"expected_year": 2022}, GOOD_FACTS, []),
        # Auditjahr = Kennzahlenjahr + 1, checked only with a valid Kennzahlenjahr
        (
            "KHT/KJ2022/1",
            {"audit_year": 2024},
            {},
            GOOD_FACTS,
            [_year(2022, "Auditjahr 2024 passt nicht (erwartet 2023).", "B11")],
        ),
        (
            "KHT/KJ2022/1",
            {"audit_year": 2022},
            {},
            GOOD_FACTS,
            [_year(2022, "Auditjahr 2022 passt nicht (erwartet 2023).", "B11")],
        ),
        ("KHT/KJ2022/1", {"audit_year": ""}, {}, GOOD_FACTS, []),
        ("KHT/KJ2022/1", {"audit_year": DROP}, {}, GOOD_FACTS, []),
        (
            "KHT/KJ2022/1",
            {"audit_year": "2023a"},
            {},
            GOOD_FACTS,
            [("Deckblatt!B11", NOT_INT, "„2023a“ ist keine ganze Zahl.")],
        ),
        ("KHT/KJ2022/1", {"audit_year": -1}, {}, GOOD_FACTS, [("Deckblatt!B11", "negative", "-1 ist negativ.")]),
        (
            "KHT/KJ2022/1",
            {"indicator_year": 2021, "audit_year": 2030},
            {},
            ("KHT-A01", None, "KJ2022"),
            [_year(2021, NO_CATALOGUE)],
        ),
        (
            "KHT/KJ2022/1",
            {"indicator_year": "x", "audit_year": "y"},
            {},
            ("KHT-A01", None, "KJ2022"),
            [("Deckblatt!B10", NOT_INT, "„x“ ist keine ganze Zahl.")],
        ),
        # catalogue version of the template vs. the one in force for the Kennzahlenjahr
        ("KHT/KJ2024/2", {}, {}, ("KHT-A01", 2022, None), [_catalogue()]),
        ("KHT/KJ2024/2", {"catalogue_version": DROP}, {}, ("KHT-A01", 2022, None), [_catalogue("A1")]),
        (None, {"catalogue_version": "KJ2024"}, {}, ("KHT-A01", 2022, None), [_catalogue()]),
        (
            "KHT/KJ2022/1",
            {"indicator_year": 2024, "audit_year": 2025},
            {},
            ("KHT-A01", 2024, None),
            [_catalogue(found="KJ2022", year=2024, expected="KJ2024")],
        ),
    ],
)
def test_cover_validate(template_id, cover, kw, facts, problems):
    found_facts, found = _cover_check(template_id, cover, **kw)
    assert found_facts == CoverFacts(*facts)
    assert found.warnings == []
    assert _errors(found) == problems


def test_cover_year_messages_in_english():
    messages = []
    for template_id, cover, kw in [
        ("KHT/KJ2022/1", {"indicator_year": 2021}, {}),
        ("KHT/KJ2024/2", {"indicator_year": 2025}, {}),
        ("KHT/KJ2022/1", {}, {"expected_year": 2023}),
        ("KHT/KJ2022/1", {"audit_year": 2024}, {}),
        ("KHT/KJ2024/2", {}, {}),
    ]:
        _facts, found = _cover_check(template_id, cover, **kw)
        messages += [e.message_en for e in found.errors]
    assert messages == [
        "Indicator year '2021': no catalogue is in force for this year.",
        "Indicator year '2025': data of a current or future year cannot be submitted.",
        "Indicator year '2022': 2023 was expected.",
        "Indicator year '2022': audit year 2024 does not fit (expected 2023).",
        "The template is catalogue version KJ2024; indicator year 2022 uses KJ2022.",
    ]


def test_cover_validate_takes_todays_date_by_default():
    this_year = dt.date.today().year
    every_year = {"version_for_year": lambda year: "KJ2024", "today": None}
    cover = {"indicator_year": this_year, "audit_year": this_year + 1}
    facts, found = _cover_check("KHT/KJ2024/2", cover, **every_year)
    assert (facts, _errors(found)) == (CoverFacts("KHT-A01", None, "KJ2024"), [_year(this_year, CURRENT_YEAR)])
    cover = {"indicator_year": this_year - 1, "audit_year": this_year}
    facts, found = _cover_check("KHT/KJ2024/2", cover, **every_year)
    assert (facts, _errors(found)) == (CoverFacts("KHT-A01", this_year - 1, "KJ2024"), [])


# ---- Basisdaten and Kennzahlen: values_validate (SPEC §3 value codes) ---------------
#
# A small hand-made layout: two entity rows x two UICC stages, a reconstruction block
# checked against the primary cases, a study block checked against a field, and one
# indicator per way of getting numerator and denominator. Template addresses (layout.py):
# Basisdaten rows 4 (oral.op), 5 (oral.no), 6 (total); columns B (I), C (II), D (Gesamt);
# fields B9, B10 (recon.0/1), B13, B14, B15 (studies.all/own/sent). The file is a
# re-formatted one (the parser finds labels and KeZa codes, not addresses): its fields sit
# two rows lower, B11, B12, B15, B16, B17; its Kennzahlen rows ten rows lower, KeZa 1..7
# in rows 14..20; C Zähler, D Nenner, E Quote, I Begründung.

PERCENT = Fraction(1, 100)
COUNT = domain.Kind.COUNT
SOURCES = {
    "all": ("oral.op.I", "oral.op.II", "oral.no.I", "oral.no.II"),
    "op": ("oral.op.I", "oral.op.II"),
    "no": ("oral.no.I", "oral.no.II"),
}


def _indicator(code, kind=domain.Kind.RATE, rule=None, num=None, den=None, events=False):
    rule = rule or domain.Rule(kind=kind)
    return IndicatorRow(code, f"KeZa {code}", kind, rule, "", "", num, den, events)


LAYOUT = Layout(
    version_id="KJT",
    template_id="KHT/KJT/1",
    stage_columns=("I", "II"),
    total_column="Gesamt",
    rows=(BaseRow("oral.op", "Mundhöhle operiert", "oral, operated"), BaseRow("oral.no", "nicht operiert", "not")),
    total_row=BaseRow("total", "Primärfälle gesamt", "Primary cases"),
    blocks=(
        BaseBlock(
            "recon",
            "Rekonstruktion",
            "Reconstruction",
            (BaseField("recon.0", "0", "0"), BaseField("recon.1", "1", "1")),
        ),
        BaseBlock(
            "studies",
            "Studien",
            "Studies",
            (
                BaseField("studies.all", "alle", "all", required=False),
                BaseField("studies.own", "eigene", "own"),
                BaseField("studies.sent", "zugewiesen", "sent", required=False),
            ),
        ),
    ),
    checks=(
        SumCheck("total_mismatch", "studies.all", ("studies.own", "studies.sent")),
        SumCheck("reconstruction_sum", "primary_cases", ("recon.0", "recon.1")),
    ),
    indicators=(
        # 1: count of primary cases, derived; target >= 10 cases
        _indicator("1", COUNT, domain.Rule(COUNT, ">=", Fraction(10)), num=SOURCES["all"]),
        # 2: entered numerator over the operated cases; target >= 95 %
        _indicator("2", rule=domain.Rule(target_op=">=", target_value=95 * PERCENT), den=SOURCES["op"]),
        # 3: both entered; target >= 50 %, corridor 10 %..90 %
        _indicator("3", rule=domain.Rule(domain.Kind.RATE, ">=", 50 * PERCENT, 10 * PERCENT, 90 * PERCENT)),
        # 4: entered count; target >= 1, corridor up to 100
        _indicator("4", COUNT, domain.Rule(COUNT, ">=", Fraction(1), None, Fraction(100))),
        # 5: study inclusions count events: may exceed the primary cases
        _indicator("5", den=SOURCES["all"], events=True),
        # 6: derived numerator over an entered denominator
        _indicator("6", num=SOURCES["no"]),
        # 7: both derived (from single fields)
        _indicator("7", num=("studies.sent",), den=("studies.own",)),
    ),
)
GOOD_BASE = {
    "oral.op.I": 10,
    "oral.op.II": 6,
    "oral.no.I": 3,
    "oral.no.II": 1,
    "recon.0": 12,
    "recon.1": 8,
    "studies.all": 3,
    "studies.own": 2,
    "studies.sent": 1,
}
# the cached formula results a spreadsheet shows: 10+6, 3+1, 10+3, 6+1, 20 primary cases
GOOD_TOTALS = {"oral.op.Gesamt": 16, "oral.no.Gesamt": 4, "total.I": 13, "total.II": 7, "total.Gesamt": 20}
Z, N, Q, B = IND_NUMERATOR, IND_DENOMINATOR, IND_RATE, IND_JUSTIFICATION
GOOD_INDICATORS = {
    "1": {Z: 20, B: None},
    "2": {Z: 16, N: 16, Q: 1.0, B: None},
    "3": {Z: 3, N: 6, Q: 0.5, B: None},
    "4": {Z: 5, N: None, Q: None, B: None},
    "5": {Z: 25, N: 20, Q: 1.25, B: None},
    "6": {Z: 4, N: 10, Q: 0.4, B: None},
    "7": {Z: 1, N: 2, Q: 0.5, B: None},
}
# (numerator, denominator, justification, flags) of the good sheet
GOOD_ENTRIES = {
    "1": (20, None, "", ()),
    "2": (16, 16, "", ()),
    "3": (3, 6, "", ()),
    "4": (5, None, "", ()),
    "5": (25, 20, "", ()),
    "6": (4, 10, "", ()),
    "7": (1, 2, "", ()),
}


def _base_ref(key):
    row, _, stage = key.rpartition(".")
    if key in GOOD_TOTALS:
        return LAYOUT.base_cell(row, None if stage == "Gesamt" else stage)
    if stage in LAYOUT.stage_columns:
        return LAYOUT.base_cell(row, stage)
    column, row = LAYOUT.field_cell(key)[0], int(LAYOUT.field_cell(key)[1:])
    return f"{column}{row + 2}"


def _ind_ref(code, header):
    column, row = LAYOUT.indicator_cell(code, header)[0], LAYOUT.indicator_row_number(code)
    return f"{column}{row + 10}"


def _datasheet(edits, errors=()):
    """The good sheet with ``edits``: {base or total key: value, (code, header): value,
    code: DROP}; DROP leaves a cell (or a whole Kennzahlen row) out."""
    base, totals = dict(GOOD_BASE), dict(GOOD_TOTALS)
    indicators = {code: dict(cells) for code, cells in GOOD_INDICATORS.items()}
    for key, value in edits.items():
        if isinstance(key, tuple):
            indicators[key[0]][key[1]] = value
        elif key in indicators:
            indicators[key] = value
        else:
            (totals if key in totals else base)[key] = value
    return ParsedDatasheet(
        template_id=LAYOUT.template_id,
        cover={},
        base={k: ParsedCell(BASE, _base_ref(k), v) for k, v in base.items() if v is not DROP},
        base_totals={k: ParsedCell(BASE, _base_ref(k), v) for k, v in totals.items() if v is not DROP},
        indicators={
            code: {h: ParsedCell(IND, _ind_ref(code, h), v) for h, v in cells.items() if v is not DROP}
            for code, cells in indicators.items()
            if cells is not DROP
        },
        errors=tuple(errors),
    )


def _entries(result):
    assert all(code == entry.code for code, entry in result.indicators.items())
    return {code: (e.numerator, e.denominator, e.justification, e.flags) for code, e in result.indicators.items()}


def _flagged(code, ref, flags):
    return (ref, "justification_missing", f"KeZa {code} ist auffällig ({flags}); bitte eine Begründung angeben.")


def _total(ref, value, expected):
    return (ref, "total_mismatch", f"Summe {value} weicht von der Summe der Einzelwerte {expected} ab.")


def _derived(code, ref, value, expected):
    return (
        ref,
        "denominator_mismatch",
        f"KeZa {code}: eingetragen {value}, aus den Basisdaten ergibt sich {expected}.",
    )


def _gt(code, ref, numerator, denominator):
    text = f"KeZa {code}: Zähler {numerator} ist größer als Nenner {denominator}."
    return (ref, "numerator_gt_denominator", text)


def _as_text(ref, text, number):
    return (ref, AS_TEXT, f"„{text}“ ist als Text eingetragen und wurde als Zahl {number} übernommen.")


ONLY_ENTERED = {code: None for code in ("1", "2", "5", "6", "7")}  # derived from a broken Basisdaten
TARGET = "Sollvorgabe nicht erfüllt"


@pytest.mark.parametrize(
    ("edits", "errors", "warnings", "entries"),
    [
        ({}, [], [], {}),
        # typed totals: row sums, stage column sums, Primärfälle gesamt
        ({"oral.op.Gesamt": 15}, [_total("Basisdaten!D4", 15, 16)], [], {}),
        ({"oral.no.Gesamt": 5}, [_total("Basisdaten!D5", 5, 4)], [], {}),
        ({"total.I": 12, "total.II": 8}, [_total("Basisdaten!B6", 12, 13), _total("Basisdaten!C6", 8, 7)], [], {}),
        ({"total.Gesamt": 21}, [_total("Basisdaten!D6", 21, 20)], [], {}),
        ({k: None for k in GOOD_TOTALS}, [], [], {}),  # no cached values (openpyxl)
        ({k: DROP for k in GOOD_TOTALS}, [], [], {}),
        # an empty or missing stage cell is no case: 0 in every sum (3 + 0, 6 + 0, 19 cases)
        *(
            (
                {
                    "oral.no.II": empty,
                    "oral.no.Gesamt": 3,
                    "total.II": 6,
                    "total.Gesamt": 19,
                    "recon.1": 7,
                    ("1", Z): 19,
                    ("5", N): 19,
                    ("5", Q): 25 / 19,
                    ("6", Z): 3,
                    ("6", Q): 0.3,
                },
                [],
                [],
                {"1": (19, None, "", ()), "5": (25, 19, "", ()), "6": (3, 10, "", ())},
            )
            for empty in (None, " ", DROP)
        ),
        # a count typed as text is read, but a spreadsheet's SUM skips it: the cached
        # results built on it (here 6, 3, 10 cases, 16/6, 25/10) are not compared
        (
            {
                "oral.op.I": " 10 ",
                "oral.op.Gesamt": 6,
                "total.I": 3,
                "total.Gesamt": 10,
                ("1", Z): 10,
                ("2", N): 6,
                ("2", Q): 16 / 6,
                ("5", N): 10,
                ("5", Q): 2.5,
            },
            [],
            [_as_text("Basisdaten!B4", " 10 ", 10)],
            {},
        ),
        # ... while the sums without it still are
        (
            {"oral.op.I": "10", "oral.op.Gesamt": 6, "oral.no.Gesamt": 5, "total.II": 8, ("6", Z): 5},
            [_total("Basisdaten!D5", 5, 4), _total("Basisdaten!C6", 8, 7), _derived("6", "Kennzahlen!C19", 5, 4)],
            [_as_text("Basisdaten!B4", "10", 10)],
            {},
        ),
        # only the Quote of an indicator built on the text cell is left alone
        (
            {"oral.no.I": " 3", ("6", Q): 0.9, ("3", Q): 0.4},
            [],
            [
                _as_text("Basisdaten!B5", " 3", 3),
                _mismatch_at("Kennzahlen!E16", "40.0 %", "50.0 %"),
            ],
            {},
        ),
        # value errors in Basisdaten: nothing derived from it is judged, entered values are
        (
            {"oral.op.I": "zehn", "oral.no.Gesamt": 5, "recon.0": 1},
            [("Basisdaten!B4", NOT_INT, "„zehn“ ist keine ganze Zahl.")],
            [],
            ONLY_ENTERED,
        ),
        (
            {"recon.1": None, "oral.no.Gesamt": 5},
            [("Basisdaten!B12", "required", "Pflichtfeld ist leer.")],
            [],
            ONLY_ENTERED,
        ),
        ({"oral.no.I": -3}, [("Basisdaten!B5", "negative", "-3 ist negativ.")], [], ONLY_ENTERED),
        # sum checks of the catalogue version
        (
            {"recon.0": 11},
            [
                (
                    "Basisdaten!B11",
                    "reconstruction_sum",
                    "Rekonstruktionskategorien 0–3 ergeben 19, Primärfälle gesamt sind 20.",
                )
            ],
            [],
            {},
        ),
        (
            {"studies.all": 4},
            [("Basisdaten!B16", "total_mismatch", "Summe 3 weicht von der Summe der Einzelwerte 4 ab.")],
            [],
            {},
        ),
        # an optional part empty or missing: no check (3 != 2 + nothing), the next check
        # still runs; it counts 0 for KeZa 7
        *(({"studies.sent": empty, ("7", Z): 0, ("7", Q): 0}, [], [], {"7": (0, 2, "", ())}) for empty in (None, DROP)),
        (
            {"studies.sent": None, ("7", Z): 0, ("7", Q): 0, "recon.1": 9},
            [
                (
                    "Basisdaten!B11",
                    "reconstruction_sum",
                    "Rekonstruktionskategorien 0–3 ergeben 21, Primärfälle gesamt sind 20.",
                )
            ],
            [],
            {"7": (0, 2, "", ())},
        ),
        # an empty optional total is 0
        (
            {"studies.all": None, "studies.own": 0, "studies.sent": 0, ("7", Z): 0, ("7", N): 0, ("7", Q): None},
            [],
            [_flagged("7", "Kennzahlen!I20", "nicht bewertbar")],
            {"7": (0, 0, "", ("not_evaluable",))},
        ),
        (
            {"studies.all": None},
            [("Basisdaten!B16", "total_mismatch", "Summe 3 weicht von der Summe der Einzelwerte 0 ab.")],
            [],
            {},
        ),
        # derived Zähler / Nenner: the server's value counts, a different cached one is an error
        ({("2", N): 15}, [_derived("2", "Kennzahlen!D15", 15, 16)], [], {}),
        ({("2", N): 16.0, ("1", Z): 20.0}, [], [], {}),
        ({("1", Z): 19}, [_derived("1", "Kennzahlen!C14", 19, 20)], [], {}),
        ({("2", N): None, ("1", Z): DROP}, [], [], {}),
        ({("2", N): "16"}, [("Kennzahlen!D15", NOT_INT, "„16“ ist keine ganze Zahl.")], [], {}),
        # entered Zähler / Nenner
        ({("2", Z): None}, [("Kennzahlen!C15", "required", "Pflichtfeld ist leer.")], [], {"2": None}),
        ({("2", Z): DROP}, [], [], {"2": None}),
        ({("3", N): "x"}, [("Kennzahlen!D16", NOT_INT, "„x“ ist keine ganze Zahl.")], [], {"3": None}),
        ({("3", N): None}, [("Kennzahlen!D16", "required", "Pflichtfeld ist leer.")], [], {"3": None}),
        ({("3", Z): 1.5}, [("Kennzahlen!C16", NOT_INT, "„1,5“ ist keine ganze Zahl.")], [], {"3": None}),
        ({"3": DROP}, [], [], {"3": None}),
        ({("3", Z): " 3 "}, [], [_as_text("Kennzahlen!C16", " 3 ", 3)], {}),
        ({("4", N): "x", ("4", Q): "y"}, [], [], {}),  # a count indicator has no Nenner
        # numerator > denominator, located at the entered cell, else at the Nenner
        ({("2", Z): 17}, [_gt("2", "Kennzahlen!C15", 17, 16)], [], {"2": None}),
        ({("3", Z): 7}, [_gt("3", "Kennzahlen!C16", 7, 6)], [], {"3": None}),
        ({("6", N): 3}, [_gt("6", "Kennzahlen!D19", 4, 3)], [], {"6": None}),
        ({"studies.sent": 3, "studies.all": 5, ("7", Z): 3}, [_gt("7", "Kennzahlen!D20", 3, 2)], [], {"7": None}),
        (
            {"studies.sent": 3, "studies.all": 5, ("7", Z): 3, ("7", N): DROP},
            [_gt("7", "Kennzahlen!C20", 3, 2)],
            [],
            {"7": None},
        ),
        (  # neither cell in the file: the template's address
            {"studies.sent": 3, "studies.all": 5, ("7", Z): DROP, ("7", N): DROP},
            [_gt("7", "Kennzahlen!C10", 3, 2)],
            [],
            {"7": None},
        ),
        (
            {("3", Z): 6, ("3", Q): 1},
            [],
            [_flagged("3", "Kennzahlen!I16", "Plausibilität unklar (hoch)")],
            {"3": (6, 6, "", ("implausible_high",))},
        ),
        ({("5", Z): 21, ("5", Q): 1.05}, [], [], {"5": (21, 20, "", ())}),  # counts events
        # Quote: display only; another number there is a warning
        ({("3", Q): 0.4}, [], [_mismatch_at("Kennzahlen!E16", "40.0 %", "50.0 %")], {}),
        ({("6", Q): 0.5, ("2", Q): DROP}, [], [_mismatch_at("Kennzahlen!E19", "50.0 %", "40.0 %")], {}),
        ({("5", Q): 1.0}, [], [_mismatch_at("Kennzahlen!E18", "100.0 %", "125.0 %")], {}),
        ({("4", Q): 0.3}, [], [], {}),
        # flags and Begründung
        (
            {("2", Z): 15, ("2", Q): None},
            [],
            [_flagged("2", "Kennzahlen!I15", TARGET)],
            {"2": (15, 16, "", ("target_not_met",))},
        ),
        (
            {("2", Z): 15, ("2", Q): None, ("2", B): "  Personalmangel \n"},
            [],
            [],
            {"2": (15, 16, "Personalmangel", ("target_not_met",))},
        ),
        ({("2", Z): 15, ("2", Q): None, ("2", B): DROP}, [], [], {"2": (15, 16, "", ("target_not_met",))}),
        ({("2", Z): 15, ("2", Q): None, ("2", B): 42}, [], [], {"2": (15, 16, "42", ("target_not_met",))}),
        ({("2", B): "Alles gut"}, [], [], {"2": (16, 16, "Alles gut", ())}),
        ({("2", B): " " + "x" * 2000 + " "}, [], [], {"2": (16, 16, "x" * 2000, ())}),
        (
            {("2", B): "x" * 2001},
            [("Kennzahlen!I15", "text_too_long", "Text mit 2.001 Zeichen; erlaubt sind höchstens 2.000.")],
            [],
            {"2": None},
        ),
        (
            {("3", Z): 0, ("3", Q): 0},
            [],
            [_flagged("3", "Kennzahlen!I16", TARGET + ", Plausibilität unklar (niedrig)")],
            {"3": (0, 6, "", ("target_not_met", "implausible_low"))},
        ),
        (
            {("3", Z): 0, ("3", N): 0, ("3", Q): None},
            [],
            [_flagged("3", "Kennzahlen!I16", "nicht bewertbar")],
            {"3": (0, 0, "", ("not_evaluable",))},
        ),
        ({("4", Z): 0}, [], [_flagged("4", "Kennzahlen!I17", TARGET)], {"4": (0, None, "", ("target_not_met",))}),
        (
            {("4", Z): 101},
            [],
            [_flagged("4", "Kennzahlen!I17", "Plausibilität unklar (hoch)")],
            {"4": (101, None, "", ("implausible_high",))},
        ),
        ({("4", Z): 100}, [], [], {"4": (100, None, "", ())}),
    ],
)
def test_values_validate(edits, errors, warnings, entries):
    problems = Problems()
    result = values_validate(_datasheet(edits), LAYOUT, problems)
    assert _errors(problems) == errors
    assert _warnings(problems) == warnings
    expected = {code: entry for code, entry in (GOOD_ENTRIES | entries).items() if entry is not None}
    assert _entries(result) == expected


def test_values_validate_returns_the_basisdaten_counts():
    problems = Problems()
    result = values_validate(_datasheet({}), LAYOUT, problems)
    assert result.base == GOOD_BASE
    edits = {"oral.no.II": DROP, "oral.op.II": None, "studies.sent": " ", "studies.own": DROP, "recon.0": " 12"}
    result = values_validate(_datasheet(edits), LAYOUT, problems)
    assert result.base == GOOD_BASE | {
        "oral.no.II": None,
        "oral.op.II": None,
        "studies.sent": None,
        "studies.own": None,
    }


PARSE_ERROR = cell_error(" BASISDATEN", "A30", ErrorCode.LABEL_MISSING, label="Rekonstruktion")  # a re-cased sheet
OTHER_PARSE_ERROR = cell_error(IND, "A1", ErrorCode.LABEL_MISSING, label="Quote")
COVER_ERROR = cell_error("Deckblatt", "B3", ErrorCode.REQUIRED)


@pytest.mark.parametrize(
    ("parse_errors", "earlier", "base_judged"),
    [
        ((), [], True),
        ((OTHER_PARSE_ERROR,), [COVER_ERROR], True),
        ((PARSE_ERROR,), [], False),
        ((), [PARSE_ERROR], False),
        ((OTHER_PARSE_ERROR, PARSE_ERROR), [COVER_ERROR], False),
    ],
)
def test_values_from_a_broken_basisdaten_sheet_are_not_judged(parse_errors, earlier, base_judged):
    problems = Problems(errors=list(earlier))
    edits = {"oral.no.Gesamt": 5, "recon.0": 1, ("2", N): 15, ("3", Q): 0.4}
    result = values_validate(_datasheet(edits, parse_errors), LAYOUT, problems)
    judged = [
        _total("Basisdaten!D5", 5, 4),
        (
            "Basisdaten!B11",
            "reconstruction_sum",
            "Rekonstruktionskategorien 0–3 ergeben 9, Primärfälle gesamt sind 20.",
        ),
        _derived("2", "Kennzahlen!D15", 15, 16),
    ]
    assert problems.errors[: len(earlier)] == earlier
    assert _errors(problems)[len(earlier) :] == (judged if base_judged else [])
    assert _warnings(problems) == [_mismatch_at("Kennzahlen!E16", "40.0 %", "50.0 %")]  # entered: still judged
    expected = GOOD_ENTRIES if base_judged else {c: e for c, e in GOOD_ENTRIES.items() if c in ("3", "4")}
    assert _entries(result) == expected
