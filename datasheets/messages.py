"""Located, coded problems of a Datenblatt (SPEC §3) with German and English text.

Messages live here, in both languages, so that every report carries both regardless of
the active locale; ``CellError.message`` is the one for the active language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.utils import translation
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string
from openpyxl.utils.exceptions import CellCoordinatesException

from indicators.formatting import NBSP, format_number

from .choices import WARNING_CODES, ErrorCode
from .layout import (
    BASE_HEADER_ROW,
    COVER_FIELDS,
    COVER_FIRST_ROW,
    IND_HEADERS,
    SHEET_BASE,
    SHEET_COVER,
    SHEET_INDICATORS,
    Layout,
    normalise_label,
)

# code -> (German, English); str.format fields are filled from the error's params.
MESSAGES: dict[str, tuple[str, str]] = {
    ErrorCode.FILE_TYPE: (
        "Die Datei ist keine Excel-Arbeitsmappe (.xlsx){detail}.",
        "The file is not an Excel workbook (.xlsx){detail}.",
    ),
    ErrorCode.FILE_TOO_LARGE: (
        "Die Datei ist {size} groß; erlaubt sind höchstens {limit}.",
        "The file is {size}; at most {limit} is allowed.",
    ),
    ErrorCode.UNSAFE_CONTENT: (
        "Die Datei enthält unzulässige Inhalte: {detail}.",
        "The file has unsafe content: {detail}.",
    ),
    ErrorCode.SHEET_MISSING: (
        "Das Tabellenblatt „{sheet}“ fehlt.",
        "The sheet '{sheet}' is missing.",
    ),
    ErrorCode.LABEL_MISSING: (
        "Die Beschriftung „{label}“ wurde nicht gefunden.",
        "The label '{label}' was not found.",
    ),
    ErrorCode.TEMPLATE_UNKNOWN: (
        "Unbekannte Vorlage „{template}“: bitte die Vorlage aus dem Portal verwenden.",
        "Unknown template '{template}': please use the template from the portal.",
    ),
    ErrorCode.CATALOGUE_MISMATCH: (
        "Die Vorlage gehört zur Katalogversion {found}; für Kennzahlenjahr {year} gilt {expected}.",
        "The template is catalogue version {found}; indicator year {year} uses {expected}.",
    ),
    ErrorCode.SITE_UNKNOWN: (
        "Die Reg.-Nr. „{value}“ ist keinem Standort zugeordnet.",
        "Registration number '{value}' belongs to no site.",
    ),
    ErrorCode.SITE_FORBIDDEN: (
        "Für die Reg.-Nr. „{value}“ dürfen Sie hier kein Datenblatt einreichen.",
        "You may not submit a data sheet for registration number '{value}' here.",
    ),
    ErrorCode.SITE_MISMATCH: (
        "Die Datei ist für {value}, ausgewählt haben Sie {chosen}: bitte den Standort {value} wählen "
        "oder die Datei von {chosen} hochladen.",
        "The file is for {value}, you chose {chosen}: please choose site {value} or upload the file of {chosen}.",
    ),
    ErrorCode.YEAR_MISMATCH: (
        "Kennzahlenjahr „{value}“: {detail_de}",
        "Indicator year '{value}': {detail_en}",
    ),
    ErrorCode.REQUIRED: ("Pflichtfeld ist leer.", "Required value is empty."),
    ErrorCode.NOT_INTEGER: (
        "„{value}“ ist keine ganze Zahl.",
        "'{value}' is not a whole number.",
    ),
    ErrorCode.NEGATIVE: ("{value} ist negativ.", "{value} is negative."),
    ErrorCode.TOO_LARGE: (
        "{value} ist größer als 1.000.000.",
        "{value} is larger than 1,000,000.",
    ),
    ErrorCode.NUMERATOR_GT_DENOMINATOR: (
        "KeZa {code}: Zähler {numerator} ist größer als Nenner {denominator}.",
        "KeZa {code}: numerator {numerator} is greater than denominator {denominator}.",
    ),
    ErrorCode.DENOMINATOR_MISMATCH: (
        "KeZa {code}: eingetragen {value}, aus den Basisdaten ergibt sich {expected}.",
        "KeZa {code}: entered {value}, the Basisdaten give {expected}.",
    ),
    ErrorCode.TOTAL_MISMATCH: (
        "Summe {value} weicht von der Summe der Einzelwerte {expected} ab.",
        "Total {value} differs from the sum of its parts {expected}.",
    ),
    ErrorCode.RECONSTRUCTION_SUM: (
        "Rekonstruktionskategorien 0–3 ergeben {value}, Primärfälle gesamt sind {expected}.",
        "Reconstruction categories 0-3 add up to {value}; primary cases total {expected}.",
    ),
    ErrorCode.TEXT_TOO_LONG: (
        "Text mit {length} Zeichen; erlaubt sind höchstens {limit}.",
        "Text of {length} characters; at most {limit} are allowed.",
    ),
    ErrorCode.SHEET_HIDDEN: (
        "Das ausgeblendete Tabellenblatt „{sheet}“ trägt den Namen eines Vorlagenblatts; bitte löschen.",
        "The hidden sheet '{sheet}' is named like a template sheet; please delete it.",
    ),
    ErrorCode.SHEET_DUPLICATE: (
        "Die Tabellenblätter „{sheet}“ und „{other}“ tragen denselben Namen.",
        "The sheets '{sheet}' and '{other}' have the same name.",
    ),
    ErrorCode.FORMULA_UNSUPPORTED: (
        "In diese Zelle gehört eine Zahl; die Formel „{formula}“ kann der Server nicht nachrechnen.",
        "This cell takes a number; the server cannot recompute the formula '{formula}'.",
    ),
    ErrorCode.FORMULA_MISMATCH: (
        "Die Formel „{formula}“ ergibt {expected}, die Datei zeigt {value}; bitte in Excel neu berechnen.",
        "The formula '{formula}' gives {expected}, the file shows {value}; please recalculate in Excel.",
    ),
    ErrorCode.PROCESSING_ABORTED: (
        "Die Verarbeitung wurde nach {attempts} Versuchen abgebrochen (Serverfehler, nicht die Datei); "
        "bitte später erneut hochladen oder die Geschäftsstelle informieren.",
        "Processing was aborted after {attempts} attempts (a server fault, not the file); "
        "please upload again later or tell the certification office.",
    ),
    ErrorCode.JUSTIFICATION_MISSING: (
        "KeZa {code} ist auffällig ({flags}); bitte eine Begründung angeben.",
        "KeZa {code} is flagged ({flags}); please give a justification.",
    ),
    ErrorCode.NUMBER_AS_TEXT: (
        "„{value}“ ist als Text eingetragen und wurde als Zahl {number} übernommen.",
        "'{value}' was entered as text and read as the number {number}.",
    ),
    ErrorCode.CACHED_VALUE_MISMATCH: (
        "Die Datei zeigt {value}, der Server berechnet {expected} (Formel überschrieben?); es gilt der Serverwert.",
        "The file shows {value}; the server computes {expected} (formula overwritten?); the server's value counts.",
    ),
}


@dataclass(frozen=True)
class CellError:
    """One located problem: ``Sheet!Cell: [code] message`` (SPEC §3)."""

    sheet: str
    cell: str
    code: ErrorCode
    message_de: str
    message_en: str

    @property
    def message(self) -> str:
        """The message in the active language (German default)."""
        return self.message_en if (translation.get_language() or "de")[:2] == "en" else self.message_de

    @property
    def is_warning(self) -> bool:
        return self.code in WARNING_CODES

    def __str__(self) -> str:
        return f"{self.sheet}!{self.cell}: [{self.code}] {self.message}"

    def as_dict(self) -> dict[str, str]:
        """JSON shape of the report: sheet, cell, code, message (active language),
        message_de, message_en."""
        return {
            "sheet": self.sheet,
            "cell": self.cell,
            "code": str(self.code),
            "message": self.message,
            "message_de": self.message_de,
            "message_en": self.message_en,
        }


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return ""


# Parameters the checks pass as text although they are numbers the server wrote
# (``validation._num``: "1234", ``_percent``: "95.0 %"): shown in the message's
# number format too. A value the centre typed as text is quoted as typed.
NUMBER_TEXT_PARAMS: dict[str, frozenset[str]] = {
    ErrorCode.DENOMINATOR_MISMATCH: frozenset({"value", "expected"}),
    ErrorCode.TOTAL_MISMATCH: frozenset({"value", "expected"}),
    ErrorCode.RECONSTRUCTION_SUM: frozenset({"value", "expected"}),
    ErrorCode.FORMULA_MISMATCH: frozenset({"value", "expected"}),
    ErrorCode.CACHED_VALUE_MISMATCH: frozenset({"value", "expected"}),
}
# Numbers that are names, not quantities: never grouped ("2023", not "2.023").
PLAIN_PARAMS = frozenset({"year", "attempts", "code"})
PLAIN_CODES = frozenset({ErrorCode.YEAR_MISMATCH})  # "value" is the year
_NUMBER_TEXT = re.compile(r"(-?\d+(?:\.\d+)?)(\s*%)?")


def cell_error(sheet: str, cell: str, error_code: ErrorCode, /, **params: object) -> CellError:
    """Build a CellError with both texts from ``MESSAGES[error_code]`` and ``params``.

    Numbers in the parameters are written in each text's own format (German
    ``1.000.001``, ``95,0 %``; English ``1,000,001``, ``95.0 %``, via
    ``indicators.formatting.format_number``), except years and other numbers that
    name something (``PLAIN_PARAMS``, ``PLAIN_CODES``, any cell of the Deckblatt)."""
    de, en = MESSAGES[error_code]
    plain = normalise_label(sheet) == normalise_label(SHEET_COVER)
    texts = []
    for template, language in ((de, "de"), (en, "en")):
        values = _Default({k: _fmt(v, error_code, k, language, plain=plain) for k, v in params.items()})
        texts.append(template.format_map(values))
    return CellError(sheet, cell, ErrorCode(error_code), texts[0], texts[1])


def _fmt(value: object, error_code: str, key: str, language: str, *, plain: bool = False) -> str:
    """One parameter as text in ``language``, cut to 80 characters."""
    text = str(value)
    if not plain and error_code not in PLAIN_CODES and key not in PLAIN_PARAMS:
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            text = format_number(value, language=language)
        elif isinstance(value, str) and key in NUMBER_TEXT_PARAMS.get(error_code, ()):
            match = _NUMBER_TEXT.fullmatch(value.strip())
            if match:
                text = format_number(Decimal(match.group(1)), language=language) + (
                    f"{NBSP}%" if match.group(2) else ""
                )
    return text if len(text) <= 80 else text[:77] + "…"


# ---- what a cell is (issue 9): "KeZa 5 · Zähler" beside "Kennzahlen!C10" -------------

_HEADER_EN = {
    "KeZa": "KeZa",
    "Kennzahl": "indicator",
    "Zähler": "numerator",
    "Nenner": "denominator",
    "Quote": "rate",
    "Sollvorgabe": "target",
    "Plausibilitätskorridor": "plausibility corridor",
    "Bewertung": "assessment",
    "Begründung": "justification",
}
_COVER_EN = {
    "registration_number": "registration number",
    "centre": "centre",
    "site": "site",
    "contact": "contact person",
    "email": "e-mail",
    "created": "date created",
    "initial_certification": "date of initial certification",
    "indicator_year": "indicator year",
    "audit_year": "audit year",
    "state": "federal state / country",
    "documentation_system": "tumour documentation system",
    "oncobox": "XML OncoBox",
    "catalogue_version": "catalogue version",
}
SEP = " · "


def cell_subject(layout: Layout, sheet: str, cell: str, *, language: str = "de") -> str | None:
    """What the template cell ``sheet!cell`` of ``layout`` holds, in German or English
    (``language`` "de"/"en"), for a located error (issue 9):

    - Kennzahlen: the KeZa and the column, ``"KeZa 5 · Zähler"`` (``"KeZa 5 ·
      numerator"``); the KeZa column alone gives ``"KeZa 5"``;
    - Basisdaten: the row label and the stage (UICC) column, ``"Mundhöhle operativ ·
      Stadium II"``, its ``Gesamt`` column, the total row ``"Primärfälle gesamt"``, a
      block field ``"Weitere Angaben · Operative Expertise HNO"``, a header cell;
    - Deckblatt: the field label, ``"Reg.-Nr."``.

    Sheets match like the parser's (trimmed, case-folded). None for the Hinweise
    sheet, the file itself (``Datei``), a part name, an address outside the layout or
    a header row of Kennzahlen. The addresses are the template's (``Layout``); a file
    whose rows were moved still reports its own cell, so the subject names what the
    template has there."""
    try:
        column_letters, row = coordinate_from_string(cell)
        column = column_index_from_string(column_letters)
    except (CellCoordinatesException, ValueError, TypeError):
        return None
    en = language[:2] == "en"
    name = normalise_label(sheet)
    if name == normalise_label(SHEET_INDICATORS):
        return _indicator_subject(layout, row, column, en)
    if name == normalise_label(SHEET_BASE):
        return _base_subject(layout, row, column, en)
    if name == normalise_label(SHEET_COVER) and column in (1, 2):
        index = row - COVER_FIRST_ROW
        if 0 <= index < len(COVER_FIELDS):
            key, label = COVER_FIELDS[index]
            return _COVER_EN[key] if en else label
    return None


def _indicator_subject(layout: Layout, row: int, column: int, en: bool) -> str | None:
    codes = [i.code for i in layout.indicators]
    index = row - layout.indicator_row_number(codes[0]) if codes else -1
    if not 0 <= index < len(codes):
        return None
    keza = f"KeZa {codes[index]}"
    if column == 1 or column > len(IND_HEADERS):
        return keza
    header = IND_HEADERS[column - 1]
    return keza + SEP + (_HEADER_EN[header] if en else header)


def _base_subject(layout: Layout, row: int, column: int, en: bool) -> str | None:
    stages = len(layout.stage_columns)

    def column_label() -> str | None:
        if 2 <= column < 2 + stages:
            stage = layout.stage_columns[column - 2]
            return f"stage {stage}" if en else f"Stadium {stage}"
        if column == layout.base_total_column_number:
            return "total" if en else layout.total_column
        return None

    if row == BASE_HEADER_ROW:
        return column_label()
    for base_row in (*layout.rows, layout.total_row):
        if layout.base_row_number(base_row.key) == row:
            label = base_row.label_en if en else base_row.label_de
            if column == 1 or (base_row.key == layout.total_row.key and column == layout.base_total_column_number):
                return label
            part = column_label()
            return None if part is None else label + SEP + part
    for block, title_row, fields in layout.block_positions():
        title = block.title_en if en else block.title_de
        if row == title_row:
            return title
        for f, field_row in fields:
            if row == field_row:
                return title + SEP + (f.label_en if en else f.label_de)
    return None
