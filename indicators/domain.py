"""Evaluation of one indicator value: pure Python, no Django (SPEC §4).

Inputs are integers (counts). Rates are exact ``Fraction`` values 0..1, never floats.
Every comparison is done with integer cross-multiplication, e.g. ``≥ 95 %`` is
``numerator * 100 >= 95 * denominator``; target boundaries are inclusive as written,
corridor bounds are strict (a rate *below* the lower / *above* the upper bound is
implausible).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction


class Flag(StrEnum):
    """Flags of an evaluated value (SPEC §4); values are stable codes."""

    NOT_EVALUABLE = "not_evaluable"
    TARGET_NOT_MET = "target_not_met"
    IMPLAUSIBLE_LOW = "implausible_low"
    IMPLAUSIBLE_HIGH = "implausible_high"


class Kind(StrEnum):
    RATE = "rate"  # numerator / denominator
    COUNT = "count"  # one number, no denominator


OPERATORS = (">=", "<=", ">", "<")


@dataclass(frozen=True)
class Rule:
    """Target and corridor of one indicator definition (one catalogue version).

    ``target_value``, ``corridor_lower``, ``corridor_upper`` are fractions 0..1 for
    rate indicators and absolute numbers for count indicators; None = none.
    """

    kind: Kind = Kind.RATE
    target_op: str | None = None
    target_value: Fraction | None = None
    corridor_lower: Fraction | None = None
    corridor_upper: Fraction | None = None

    def __post_init__(self) -> None:
        if self.target_op is not None and self.target_op not in OPERATORS:
            raise ValueError(f"unknown target operator {self.target_op!r}")
        if (self.target_op is None) != (self.target_value is None):
            raise ValueError("target_op and target_value go together")


def rate(numerator: int, denominator: int | None) -> Fraction | None:
    """numerator / denominator as an exact Fraction; None when the denominator is 0
    or absent (SPEC §4 ``not_evaluable``). Raises ValueError for negative input."""
    if denominator is None or denominator == 0:
        return None
    if numerator < 0 or denominator < 0:
        raise ValueError("counts must not be negative")
    return Fraction(numerator, denominator)


def _compare(num: int, den: int, op: str, bound: Fraction) -> bool:
    """Is num/den <op> bound? Integer arithmetic only (den > 0). Raises ValueError for
    an operator outside ``OPERATORS``."""
    left = num * bound.denominator
    right = bound.numerator * den
    if op == ">=":
        return left >= right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    if op == "<":
        return left < right
    raise ValueError(f"unknown operator {op!r}")


def meets_target(numerator: int, denominator: int | None, rule: Rule) -> bool | None:
    """True/False whether the value meets the target; None if there is no target or
    the rate is not evaluable. Count indicators compare the numerator (the count)."""
    if rule.target_op is None or rule.target_value is None:
        return None
    if rule.kind == Kind.COUNT:
        return _compare(numerator, 1, rule.target_op, Fraction(rule.target_value))
    if not denominator:
        return None
    return _compare(numerator, denominator, rule.target_op, Fraction(rule.target_value))


def corridor_position(numerator: int, denominator: int | None, rule: Rule) -> int | None:
    """-1 below the corridor, +1 above it, 0 inside; None if not evaluable or no corridor."""
    if rule.corridor_lower is None and rule.corridor_upper is None:
        return None
    num, den = (numerator, 1) if rule.kind == Kind.COUNT else (numerator, denominator)
    if not den:
        return None
    if rule.corridor_lower is not None and _compare(num, den, "<", Fraction(rule.corridor_lower)):
        return -1
    if rule.corridor_upper is not None and _compare(num, den, ">", Fraction(rule.corridor_upper)):
        return 1
    return 0


def evaluate(numerator: int, denominator: int | None, rule: Rule) -> tuple[Flag, ...]:
    """Flags of one value (SPEC §4); an empty tuple means the value is fine.

    numerator, denominator: non-negative integers; for count indicators the count is the
    numerator and the denominator is ignored. A rate with denominator 0 or None is only
    ``not_evaluable``. Raises ValueError for negative counts.
    """
    if numerator < 0 or (denominator is not None and denominator < 0):
        raise ValueError("counts must not be negative")
    if rule.kind == Kind.RATE and not denominator:
        return (Flag.NOT_EVALUABLE,)
    flags: list[Flag] = []
    if meets_target(numerator, denominator, rule) is False:
        flags.append(Flag.TARGET_NOT_MET)
    position = corridor_position(numerator, denominator, rule)
    if position == -1:
        flags.append(Flag.IMPLAUSIBLE_LOW)
    elif position == 1:
        flags.append(Flag.IMPLAUSIBLE_HIGH)
    return tuple(flags)
