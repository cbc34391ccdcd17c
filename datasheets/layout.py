"""The only cell map of the Datenblatt (SPEC §1): sheets, labels and rows per catalogue
version. The template generator writes these addresses; the parser finds the same
things by sheet name, label and KeZa code, so a re-saved or re-formatted file still
imports. Nothing else in the project names a cell address.

``Layout`` is plain data (no ORM) built by ``layout_for(version)`` from a
``CatalogueVersion`` and its definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openpyxl.utils import get_column_letter

from indicators import domain

SHEET_COVER = "Deckblatt"
SHEET_BASE = "Basisdaten"
SHEET_INDICATORS = "Kennzahlen"
SHEET_NOTES = "Hinweise"
SHEETS = (SHEET_COVER, SHEET_BASE, SHEET_INDICATORS, SHEET_NOTES)
TEMPLATE_NAME = "QIP_TEMPLATE"

# Deckblatt labels (SPEC §2) and the keys used in code.
COVER_FIELDS: tuple[tuple[str, str], ...] = (
    ("registration_number", "Reg.-Nr."),
    ("centre", "Zentrum"),
    ("site", "Standort"),
    ("contact", "Ansprechpartner"),
    ("email", "E-Mail"),
    ("created", "Erstelldatum"),
    ("initial_certification", "Datum Erstzertifizierung"),
    ("indicator_year", "Kennzahlenjahr"),
    ("audit_year", "Auditjahr"),
    ("state", "Bundesland / Land"),
    ("documentation_system", "Tumordokumentationssystem"),
    ("oncobox", "XML-OncoBox"),
    ("catalogue_version", "Katalogversion"),
)
COVER_LABEL_COLUMN = 1  # A
COVER_VALUE_COLUMN = 2  # B
COVER_FIRST_ROW = 3

# Kennzahlen header labels (SPEC §2) in template order.
IND_CODE = "KeZa"
IND_TITLE = "Kennzahl"
IND_NUMERATOR = "Zähler"
IND_DENOMINATOR = "Nenner"
IND_RATE = "Quote"
IND_TARGET = "Sollvorgabe"
IND_CORRIDOR = "Plausibilitätskorridor"
IND_ASSESSMENT = "Bewertung"
IND_JUSTIFICATION = "Begründung"
IND_HEADERS = (
    IND_CODE,
    IND_TITLE,
    IND_NUMERATOR,
    IND_DENOMINATOR,
    IND_RATE,
    IND_TARGET,
    IND_CORRIDOR,
    IND_ASSESSMENT,
    IND_JUSTIFICATION,
)
IND_HEADER_ROW = 3
BASE_HEADER_ROW = 3
BASE_LABEL_HEADER = "Primärfälle"

# Bounds of what the parser reads (a sheet is never iterated beyond these).
MAX_ROWS = 300
MAX_COLS = 30
MAX_COUNT = 1_000_000  # SPEC §3 too_large
MAX_TEXT = 2_000  # SPEC §2 Begründung


def normalise_label(value: object) -> str:
    """Labels are compared after trimming, folding white space and case (SPEC §2)."""
    if value is None:
        return ""
    return " ".join(str(value).split()).casefold()


def normalise_code(value: object) -> str:
    """A KeZa code as text: ``5``, ``5.0`` and `` 5 `` all give ``"5"``; ``2A`` -> ``2a``."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().casefold()


@dataclass(frozen=True)
class BaseRow:
    key: str  # e.g. "oral_cavity.operated"
    label_de: str
    label_en: str


@dataclass(frozen=True)
class BaseField:
    key: str  # e.g. "recurrences", "reconstruction.0"
    label_de: str
    label_en: str
    required: bool = True


@dataclass(frozen=True)
class BaseBlock:
    key: str
    title_de: str
    title_en: str
    fields: tuple[BaseField, ...]


@dataclass(frozen=True)
class SumCheck:
    """``total`` (``primary_cases`` or a field key) must equal the sum of ``parts``."""

    code: str
    total: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class IndicatorRow:
    """One Kennzahlen row: what the centre enters and how the server derives the rest.

    ``numerator_source`` / ``denominator_source`` are None (entered) or Basisdaten cell
    keys whose sum derives the value. Count indicators have no denominator.
    """

    code: str
    title_de: str
    kind: str
    rule: domain.Rule
    target_display: str
    corridor_display: str
    numerator_source: tuple[str, ...] | None
    denominator_source: tuple[str, ...] | None
    counts_events: bool

    @property
    def is_count(self) -> bool:
        return self.kind == domain.Kind.COUNT

    @property
    def numerator_entered(self) -> bool:
        return self.numerator_source is None

    @property
    def denominator_entered(self) -> bool:
        return not self.is_count and self.denominator_source is None


@dataclass(frozen=True)
class Layout:
    """Layout of one catalogue version (SPEC §1, §2)."""

    version_id: str
    template_id: str  # value of QIP_TEMPLATE, e.g. "KHT/KJ2022/1"
    stage_columns: tuple[str, ...]
    total_column: str
    rows: tuple[BaseRow, ...]
    total_row: BaseRow
    blocks: tuple[BaseBlock, ...]
    checks: tuple[SumCheck, ...]
    indicators: tuple[IndicatorRow, ...]
    _row_index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    # ---- keys -------------------------------------------------------------------
    def stage_keys(self, row_key: str) -> list[str]:
        return [f"{row_key}.{stage}" for stage in self.stage_columns]

    @property
    def stage_cell_keys(self) -> list[str]:
        """Every entered stage cell key, row by row."""
        return [k for row in self.rows for k in self.stage_keys(row.key)]

    @property
    def block_fields(self) -> list[BaseField]:
        return [f for block in self.blocks for f in block.fields]

    # ---- template addresses ---------------------------------------------------------
    def base_row_number(self, row_key: str) -> int:
        """Template row of a Basisdaten entity row or of the total row ("total")."""
        if row_key == self.total_row.key:
            return BASE_HEADER_ROW + len(self.rows) + 1
        return BASE_HEADER_ROW + 1 + [r.key for r in self.rows].index(row_key)

    def stage_column_number(self, stage: str) -> int:
        return 2 + self.stage_columns.index(stage)

    @property
    def base_total_column_number(self) -> int:
        return 2 + len(self.stage_columns)

    def base_cell(self, row_key: str, stage: str | None = None) -> str:
        """Template address of a stage cell, or of the row's Gesamt cell (stage None)."""
        col = self.base_total_column_number if stage is None else self.stage_column_number(stage)
        return f"{get_column_letter(col)}{self.base_row_number(row_key)}"

    def block_positions(self) -> list[tuple[BaseBlock, int, list[tuple[BaseField, int]]]]:
        """(block, title row, [(field, row)]) in template order below the total row."""
        row = self.base_row_number(self.total_row.key) + 2
        out = []
        for block in self.blocks:
            title_row = row
            fields = [(f, title_row + 1 + i) for i, f in enumerate(block.fields)]
            out.append((block, title_row, fields))
            row = title_row + len(block.fields) + 2
        return out

    def field_cell(self, key: str) -> str:
        for _block, _title, fields in self.block_positions():
            for f, r in fields:
                if f.key == key:
                    return f"B{r}"
        raise KeyError(key)

    def indicator_row_number(self, code: str) -> int:
        return IND_HEADER_ROW + 1 + [i.code for i in self.indicators].index(code)

    @staticmethod
    def indicator_column_number(header: str) -> int:
        return 1 + IND_HEADERS.index(header)

    def indicator_cell(self, code: str, header: str) -> str:
        col = get_column_letter(self.indicator_column_number(header))
        return f"{col}{self.indicator_row_number(code)}"

    @staticmethod
    def cover_row_number(key: str) -> int:
        return COVER_FIRST_ROW + [k for k, _label in COVER_FIELDS].index(key)

    # ---- derivation -----------------------------------------------------------------
    def derive(self, keys: tuple[str, ...] | None, values: dict[str, int | None]) -> int | None:
        """Sum of the Basisdaten cells ``keys`` (empty cells count 0); None if ``keys`` is."""
        if keys is None:
            return None
        return sum(values.get(k) or 0 for k in keys)

    def primary_cases(self, values: dict[str, int | None]) -> int:
        """Primärfälle gesamt recomputed from the stage cells (never a typed total)."""
        return sum(values.get(k) or 0 for k in self.stage_cell_keys)

    def formula_terms(self, keys: tuple[str, ...]) -> str:
        """An Excel formula summing Basisdaten cells, e.g. ``=SUM(Basisdaten!B4:H4)+...``;
        whole rows collapse to their Gesamt cell."""
        keys_left = list(keys)
        terms: list[str] = []
        for row in (*self.rows,):
            row_keys = self.stage_keys(row.key)
            if all(k in keys_left for k in row_keys):
                terms.append(f"{SHEET_BASE}!{self.base_cell(row.key)}")
                keys_left = [k for k in keys_left if k not in row_keys]
        for key in keys_left:
            row_key, _, stage = key.rpartition(".")
            if stage in self.stage_columns and row_key in {r.key for r in self.rows}:
                terms.append(f"{SHEET_BASE}!{self.base_cell(row_key, stage)}")
            else:
                terms.append(f"{SHEET_BASE}!{self.field_cell(key)}")
        return "=" + "+".join(terms) if terms else "=0"


def layout_from_data(version_id: str, layout_revision: int, layout: dict, definitions) -> Layout:
    """Build a Layout from the version's ``layout`` JSON and an iterable of definition
    objects (``IndicatorDefinition`` or anything with the same attributes)."""
    rows = tuple(BaseRow(r["key"], r["label_de"], r.get("label_en", r["label_de"])) for r in layout["rows"])
    t = layout["total_row"]
    blocks = tuple(
        BaseBlock(
            b["key"],
            b["title_de"],
            b.get("title_en", b["title_de"]),
            tuple(
                BaseField(f["key"], f["label_de"], f.get("label_en", f["label_de"]), f.get("required", True))
                for f in b["fields"]
            ),
        )
        for b in layout.get("blocks", [])
    )
    checks = tuple(SumCheck(c["code"], c["total"], tuple(c["parts"])) for c in layout.get("checks", []))
    indicators = tuple(
        IndicatorRow(
            code=d.code,
            title_de=d.title_de,
            kind=d.kind,
            rule=d.rule(),
            target_display=d.target_display(),
            corridor_display=d.corridor_display(),
            numerator_source=tuple(d.numerator_source) if d.numerator_source else None,
            denominator_source=tuple(d.denominator_source) if d.denominator_source else None,
            counts_events=d.counts_events,
        )
        for d in definitions
    )
    return Layout(
        version_id=version_id,
        template_id=f"KHT/{version_id}/{layout_revision}",
        stage_columns=tuple(layout["stage_columns"]),
        total_column=layout.get("total_column", "Gesamt"),
        rows=rows,
        total_row=BaseRow(t["key"], t["label_de"], t.get("label_en", t["label_de"])),
        blocks=blocks,
        checks=checks,
        indicators=indicators,
    )


def layout_for(version) -> Layout:
    """The Layout of a ``CatalogueVersion`` (reads its definitions in position order)."""
    definitions = version.definitions.order_by("position")
    return layout_from_data(version.id, version.layout_revision, version.layout, definitions)
