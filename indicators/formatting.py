"""Number formatting shared by the tables, charts and pages and by the
``indicator_stats`` command: the one place for percent, counts and rounding.

Numbers follow the active locale (German default: ``95,0 %``, ``1.234``; English
``95.0 %``, ``1,234``). Rates are fractions 0..1 and are shown as percent with one
decimal. Rounding is exact (no float on the way) and half up: ``0.0125`` is ``1,3 %``.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from django.utils import numberformat
from django.utils.formats import number_format

EMPTY = "–"  # no value (None, not evaluable)
NBSP = "\u00a0"  # between a number and its % sign


def _exact(value: Fraction | Decimal | int | float) -> Fraction:
    """``value`` as an exact Fraction; a float by its shortest decimal repr."""
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def round_half_up(value: Fraction | Decimal | int | float, places: int) -> Decimal:
    """``value`` rounded to ``places`` decimals, halves away from zero, exactly:
    ``round_half_up(Fraction(1, 8), 2) == Decimal("0.13")``."""
    exact = _exact(value)
    scaled = abs(exact) * 10**places
    rounded = (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)
    return Decimal(-rounded if exact < 0 else rounded).scaleb(-places)


def format_percent(value: Fraction | Decimal | int | float | None) -> str:
    """A rate 0..1 as percent with one decimal in the active locale, e.g. ``95,0 %``
    (no-break space before ``%``); ``–`` for None (not evaluable)."""
    if value is None:
        return EMPTY
    return f"{number_format(round_half_up(_exact(value) * 100, 1), decimal_pos=1)}{NBSP}%"


def format_count(value: Fraction | Decimal | int | float | None) -> str:
    """A count with digit grouping (``1.234``); a non-integer statistic of counts (a
    median of 4 sites, say) with one decimal (``12,5``); ``–`` for None."""
    if value is None:
        return EMPTY
    exact = _exact(value)
    if exact.denominator == 1:
        return number_format(exact.numerator, force_grouping=True)
    return number_format(round_half_up(exact, 1), decimal_pos=1, force_grouping=True)


# (decimal mark, digit group mark) per language, as Django's de/en locale formats; for
# texts written in both languages at once (datasheets.messages), outside any request
# and even before Django's apps are loaded (the file-check child process).
SEPARATORS = {"de": (",", "."), "en": (".", ",")}


def format_number(value: Decimal | int | float, *, language: str | None = None) -> str:
    """A number as it is, with digit grouping, keeping all its decimals:
    ``1234`` -> ``1.234``, ``12.5`` -> ``12,5``, ``Decimal("95.0")`` -> ``95,0``
    (German; English ``1,234``, ``12.5``, ``95.0``). In the active locale, or in
    ``language`` ("de"/"en") when given (needs no translation machinery). For numbers
    quoted in messages (a typed value, a computed total), where rounding would hide the
    difference; a non-finite float is returned as ``str(value)``."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        value = Decimal(repr(value))
    if language is None:
        return number_format(value, force_grouping=True)
    decimal_sep, thousand_sep = SEPARATORS[language[:2]]
    return numberformat.format(value, decimal_sep, grouping=3, thousand_sep=thousand_sep, force_grouping=True)


def format_value(value: Fraction | Decimal | int | float | None, *, is_count: bool) -> str:
    """A statistic of a rate indicator as percent, of a count indicator as number."""
    return format_count(value) if is_count else format_percent(value)
