"""Recompute the plain-arithmetic formulas of one sheet (issue 8); no Django, no ORM.

An entered cell (a count the centre types) that holds a formula is confirmed by
recomputing it: ``SheetFormulas(sheet, grid, formulas).value(row, col)``. Supported are
numbers, ``+ - * /``, unary ``+``/``-``, parentheses, references to single cells of the
same sheet (``B4``, ``$B$4``, ``Basisdaten!B4`` from Basisdaten itself) and ``SUM`` over
such cells, areas (``B4:H4``) and expressions. A referenced cell is empty (0), a number,
or a formula recomputed the same way (at most ``MAX_DEPTH`` levels deep, cycles
refused). Anything else — other functions, other sheets, names, text, logical values,
dates, array formulas, ``%`` and ``^``, cells outside the bounded grid — raises
``FormulaUnsupported``. Division by zero gives Excel's ``#DIV/0!``, which propagates.
Tokens come from openpyxl's own ``openpyxl.formula.Tokenizer``; arithmetic is exact
(``Fraction``), so ``=10/3*3`` is 10.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from fractions import Fraction

from openpyxl.formula import Tokenizer
from openpyxl.formula.tokenizer import Token
from openpyxl.utils import column_index_from_string

from .layout import MAX_COLS, MAX_ROWS

MAX_LENGTH = 8_192  # Excel's own limit of a formula's length
MAX_DEPTH = 8  # levels of referenced formula cells
MAX_NESTING = 64  # parentheses, SUM( and signs, across the formulas being recomputed
MAX_VISITS = 100_000  # cells read per sheet (each formula cell is recomputed once)
DIV_ZERO = "#DIV/0!"
REFERENCE = re.compile(
    r"(?:(?P<sheet>'(?:[^']|'')+'|[^'!:]+)!)?"
    r"\$?(?P<c1>[A-Za-z]{1,3})\$?(?P<r1>[0-9]{1,7})(?::\$?(?P<c2>[A-Za-z]{1,3})\$?(?P<r2>[0-9]{1,7}))?"
)

Value = Fraction | str  # a number, or an Excel error text such as "#DIV/0!"


class FormulaUnsupported(Exception):
    """The formula is not plain arithmetic over this sheet; the message says why."""


class _TooDeep(FormulaUnsupported):
    """Over MAX_DEPTH or MAX_NESTING: depends on where the recomputation started, so
    it is not remembered for the cell."""


class SheetFormulas:
    """Recomputes formula cells of one sheet from its bounded grid.

    ``grid``: (row, col) -> cached or typed value (``parsing.Grid``); ``formulas``:
    (row, col) -> formula text (``"=B4+B5"``). Results are remembered, so each formula
    cell is recomputed at most once, and at most ``MAX_VISITS`` cells are read in all.
    """

    def __init__(self, sheet: str, grid: dict, formulas: dict[tuple[int, int], str]) -> None:
        self.sheet = sheet
        self.grid = grid
        self.formulas = formulas
        self.visits = 0
        self.nesting = 0
        self._done: dict[tuple[int, int], Value | FormulaUnsupported] = {}
        self._active: set[tuple[int, int]] = set()

    def value(self, row: int, col: int) -> Value:
        """The recomputed value of the formula at (row, col): a Fraction or an Excel
        error text. Raises FormulaUnsupported (also if the cell holds no formula)."""
        return self._formula_value((row, col), depth=0)

    # ---- cells -------------------------------------------------------------------
    def _formula_value(self, key: tuple[int, int], depth: int) -> Value:
        done = self._done.get(key)
        if isinstance(done, FormulaUnsupported):
            raise done
        if done is not None:
            return done
        if key in self._active:
            raise FormulaUnsupported("Zirkelbezug / circular reference")
        if depth > MAX_DEPTH:
            raise _TooDeep("zu tief verschachtelt / nested too deeply")
        text = self.formulas.get(key)
        if text is None:
            raise FormulaUnsupported("keine Formel / no formula")
        self._active.add(key)
        try:
            result = _Expression(self, text, depth).result()
        except _TooDeep:
            raise
        except FormulaUnsupported as exc:
            self._done[key] = exc
            raise
        finally:
            self._active.discard(key)
        self._done[key] = result
        return result

    def cell(self, row: int, col: int, depth: int) -> Value:
        """A referenced cell's value: 0 if empty, its number, or its formula's value."""
        self.visits += 1
        if self.visits > MAX_VISITS:
            raise FormulaUnsupported("zu viele Zellen / too many cells")
        if row > MAX_ROWS or col > MAX_COLS:
            raise FormulaUnsupported("außerhalb der gelesenen Zellen / outside the cells read")
        if (row, col) in self.formulas:
            return self._formula_value((row, col), depth + 1)
        return number(self.grid.get((row, col)))


def number(value: object) -> Fraction:
    """A constant cell's value in arithmetic: None (empty) is 0, int and finite float
    are exact; anything else (text, bool, date, error) raises FormulaUnsupported."""
    if value is None:
        return Fraction(0)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FormulaUnsupported("keine Zahl / not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise FormulaUnsupported("keine Zahl / not a number")
    return Fraction(value)


class _Expression:
    """Recursive descent over the tokens of one formula:
    expr := term (("+" | "-") term)*; term := unary (("*" | "/") unary)*;
    unary := ("+" | "-") unary | number | cell | "(" expr ")" | SUM( arg ("," arg)* )."""

    def __init__(self, sheets: SheetFormulas, text: str, depth: int) -> None:
        if len(text) > MAX_LENGTH or not text.startswith("="):
            raise FormulaUnsupported("keine einfache Formel / not a plain formula")
        try:
            tokens = Tokenizer(text).items
        except Exception as exc:  # the tokenizer's own errors on malformed text
            raise FormulaUnsupported("nicht lesbar / unreadable") from exc
        self.tokens = [t for t in tokens if t.type != Token.WSPACE]
        self.pos = 0
        self.sheets = sheets
        self.depth = depth

    def result(self) -> Value:
        if not self.tokens:
            raise FormulaUnsupported("leer / empty")
        value = self._expr()
        if self.pos != len(self.tokens):
            raise FormulaUnsupported(f"„{self.tokens[self.pos].value}“")
        return value

    # ---- tokens --------------------------------------------------------------------
    def _peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> Token:
        token = self._peek()
        if token is None:
            raise FormulaUnsupported("unvollständig / incomplete")
        self.pos += 1
        return token

    def _is(self, token: Token | None, kind: str, subtype: str | None = None, value: str | None = None) -> bool:
        return (
            token is not None
            and token.type == kind
            and (subtype is None or token.subtype == subtype)
            and (value is None or token.value == value)
        )

    # ---- grammar -------------------------------------------------------------------
    def _expr(self) -> Value:
        value = self._term()
        while self._is(self._peek(), Token.OP_IN) and self._peek().value in "+-":
            op = self._take().value
            value = _apply(op, value, self._term())
        return value

    def _term(self) -> Value:
        value = self._unary()
        while self._is(self._peek(), Token.OP_IN) and self._peek().value in "*/":
            op = self._take().value
            value = _apply(op, value, self._unary())
        return value

    def _unary(self) -> Value:
        token = self._take()
        if self._is(token, Token.OP_PRE) and token.value in "+-":
            with self._nested():
                value = self._unary()
            return -value if token.value == "-" and not isinstance(value, str) else value
        if self._is(token, Token.OPERAND, Token.NUMBER):
            try:
                return Fraction(token.value)
            except (ValueError, ZeroDivisionError) as exc:
                raise FormulaUnsupported(f"„{token.value}“") from exc
        if self._is(token, Token.OPERAND, Token.RANGE):
            cells = self._cells(token.value)
            if len(cells) != 1:
                raise FormulaUnsupported(f"Bereich / range {token.value}")
            return self.sheets.cell(*cells[0], self.depth)
        if self._is(token, Token.PAREN, Token.OPEN):
            with self._nested():
                value = self._expr()
            if not self._is(self._take(), Token.PAREN, Token.CLOSE):
                raise FormulaUnsupported("Klammer / parenthesis")
            return value
        if self._is(token, Token.FUNC, Token.OPEN) and token.value.upper() == "SUM(":
            with self._nested():
                return self._sum()
        raise FormulaUnsupported(f"„{token.value}“")

    def _sum(self) -> Value:
        total: Value = Fraction(0)
        while True:
            token = self._peek()
            nxt = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
            ends = self._is(nxt, Token.SEP, Token.ARG) or self._is(nxt, Token.FUNC, Token.CLOSE)
            if self._is(token, Token.OPERAND, Token.RANGE) and ends:
                self._take()
                for cell in self._cells(token.value):
                    total = _apply("+", total, self.sheets.cell(*cell, self.depth))
            else:
                total = _apply("+", total, self._expr())
            token = self._take()
            if self._is(token, Token.FUNC, Token.CLOSE):
                return total
            if not self._is(token, Token.SEP, Token.ARG):
                raise FormulaUnsupported(f"„{token.value}“")

    def _cells(self, text: str) -> list[tuple[int, int]]:
        """(row, col) of a reference or area on this sheet, rows then columns."""
        match = REFERENCE.fullmatch(text)
        if match is None:
            raise FormulaUnsupported(f"„{text}“")  # a name, a whole column, another book
        sheet = match["sheet"]
        if sheet is not None:
            sheet = sheet[1:-1].replace("''", "'") if sheet.startswith("'") else sheet
            if sheet.casefold() != self.sheets.sheet.casefold():
                raise FormulaUnsupported(f"anderes Blatt / other sheet {sheet}")
        r1, c1 = int(match["r1"]), column_index_from_string(match["c1"].upper())
        r2 = int(match["r2"]) if match["r2"] else r1
        c2 = column_index_from_string(match["c2"].upper()) if match["c2"] else c1
        (r1, r2), (c1, c2) = sorted((r1, r2)), sorted((c1, c2))
        if r2 > MAX_ROWS or c2 > MAX_COLS or r1 < 1:
            raise FormulaUnsupported("außerhalb der gelesenen Zellen / outside the cells read")
        return [(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)]

    @contextmanager
    def _nested(self):
        """One more level of parentheses, SUM( or sign, counted across the referenced
        formulas being recomputed: the recursion stays far below Python's limit."""
        self.sheets.nesting += 1
        try:
            if self.sheets.nesting > MAX_NESTING:
                raise _TooDeep("zu tief verschachtelt / nested too deeply")
            yield
        finally:
            self.sheets.nesting -= 1


def _apply(op: str, left: Value, right: Value) -> Value:
    """Excel arithmetic on exact numbers; an error operand (left first) propagates."""
    if isinstance(left, str):
        return left
    if isinstance(right, str):
        return right
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    return DIV_ZERO if right == 0 else left / right
