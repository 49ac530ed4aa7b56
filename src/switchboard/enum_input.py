"""Reading a value that must be one of a fixed set (a case type, a queue, a code channel)."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from switchboard.errors import InvalidInput

E = TypeVar("E", bound=Enum)


def member_of(kind: type[E], value: str, what: str) -> E:
    """The member of `kind` whose value is `value`, or InvalidInput listing the choices."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in kind)
        raise InvalidInput(f"{value!r} is not a {what}", hint=f"one of: {allowed}") from None
