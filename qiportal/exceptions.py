"""Application errors raised by services and turned into messages by views."""

from __future__ import annotations

from enum import Enum


class ApplicationError(Exception):
    """A refused operation with a stable code (a TextChoices member) and a message.

    Services raise it for a wrong state or missing permission; views show the message,
    never a 500.
    """

    def __init__(self, code: Enum | str, message: str = "", **extra: object) -> None:
        self.code = code.value if isinstance(code, Enum) else str(code)
        self.message = message or getattr(code, "label", str(code))
        self.extra = extra
        super().__init__(f"[{self.code}] {self.message}")
