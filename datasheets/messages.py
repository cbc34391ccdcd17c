"""Located, coded problems of a Datenblatt (SPEC §3) with German and English text.

Messages live here, in both languages, so that every report carries both regardless of
the active locale; ``CellError.message`` is the one for the active language.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation

from .choices import WARNING_CODES, ErrorCode

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


def cell_error(sheet: str, cell: str, error_code: ErrorCode, /, **params: object) -> CellError:
    """Build a CellError with both texts from ``MESSAGES[error_code]`` and ``params``."""
    de, en = MESSAGES[error_code]
    values = _Default({k: _fmt(v) for k, v in params.items()})
    return CellError(sheet, cell, ErrorCode(error_code), de.format_map(values), en.format_map(values))


def _fmt(value: object) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "…"
