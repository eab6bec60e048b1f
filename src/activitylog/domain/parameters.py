"""Service parameters a service type declares: what create and scale bodies may carry in
``serviceParameters``, checked at submission and published in /openapi.json from the same
declaration, so that the document allows exactly what the server takes.

PSM clients send every value as a string (``"size":"2"``, ``"allServiceHosts":"true"``), so an
integer parameter takes a JSON integer or a string of digits, and a boolean one ``true``,
``false`` or those words as strings. Keys nobody declared pass through unchecked.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

ParameterKind = Literal["string", "integer", "boolean"]
KINDS: tuple[ParameterKind, ...] = ("string", "integer", "boolean")
PARAMETER_OPERATIONS = ("CREATE_SERVICE", "SCALE_SERVICE")
"""The operations whose bodies carry ``serviceParameters``."""
_BOOLEAN_WORDS = {"true": True, "false": False}
# int() refuses, with ValueError, text of over 4300 digits: never try one that long.
_MAX_DIGITS = 4000


@dataclasses.dataclass(frozen=True, slots=True)
class DeclaredParameter:
    name: str
    kind: ParameterKind = "string"
    description: str = ""
    required_for: frozenset[str] = frozenset()
    """Operations (of PARAMETER_OPERATIONS) whose body must carry it."""
    enum: tuple[str, ...] = ()
    """string: the only values taken, when set."""
    pattern: str | None = None
    """string: a regular expression the whole value must match."""
    max_length: int | None = None
    minimum: int = 0
    """integer: the smallest value (0 or more: a string of digits has no sign)."""
    maximum: int | None = None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not taken, or None."""
        if self.kind == "integer":
            number = whole_number(value)
            if number is not None and self.minimum <= number and not self._above_maximum(number):
                return None
            return f"expected a whole number {self._range()}, as a number or a string of digits"
        if self.kind == "boolean":
            if isinstance(value, bool) or value in _BOOLEAN_WORDS:
                return None
            return 'expected true or false, or "true" or "false"'
        return self._string_problem(value)

    def _string_problem(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return "expected a string"
        if self.enum and value not in self.enum:
            return f"expected one of {', '.join(self.enum)}"
        if self.max_length is not None and len(value) > self.max_length:
            return f"expected at most {self.max_length} characters"
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return f"expected a match for {self.pattern}"
        return None

    def _above_maximum(self, number: int) -> bool:
        return self.maximum is not None and number > self.maximum

    def _range(self) -> str:
        if self.maximum is None:
            return f"from {self.minimum}"
        return f"from {self.minimum} to {self.maximum}"

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any]
        if self.kind == "integer":
            number: dict[str, Any] = {"type": "integer", "minimum": self.minimum}
            text = {"type": "string", "pattern": digits_pattern(self.minimum, self.maximum)}
            if self.maximum is not None:
                number["maximum"] = self.maximum
            schema = {"anyOf": [number, text]}
        elif self.kind == "boolean":
            schema = {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}]}
        else:
            schema = {"type": "string"}
            if self.enum:
                schema["enum"] = list(self.enum)
            if self.pattern is not None:
                schema["pattern"] = f"^(?:{self.pattern})$"
            if self.max_length is not None:
                schema["maxLength"] = self.max_length
        if self.description:
            schema["description"] = self.description
        return schema


def whole_number(value: Any) -> int | None:
    """An integer parameter's value as an int: a JSON integer (1.0 is one too, as JSON Schema
    has it) or a string of ASCII digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        digits = value.lstrip("0") or "0"
        return int(digits) if len(digits) <= _MAX_DIGITS else None
    return None


def check_parameters(
    declared: Iterable[DeclaredParameter], operation_type: str, parameters: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The parameters, whole-number floats as ints, and the problems found (one per key)."""
    cleaned = dict(parameters)
    issues = []
    for parameter in declared:
        if parameter.name not in parameters:
            if operation_type in parameter.required_for:
                issues.append(f"serviceParameters.{parameter.name}: required")
            continue
        value = parameters[parameter.name]
        problem = parameter.problem(value)
        if problem is not None:
            issues.append(f"serviceParameters.{parameter.name}: {problem}")
        elif isinstance(value, float):
            cleaned[parameter.name] = int(value)
    return cleaned, issues


def digits_pattern(minimum: int, maximum: int | None) -> str:
    """A regular expression for the strings of digits (leading zeros allowed) that read as a
    number from ``minimum`` to ``maximum`` (no upper bound when None; never below minimum)."""
    low = str(minimum)
    if maximum is None:
        alternatives = [*_between(low, "9" * len(low)), f"[1-9][0-9]{{{len(low)},}}"]
    else:
        high = str(maximum)
        alternatives = []
        for length in range(len(low), len(high) + 1):
            start = low if length == len(low) else "1" + "0" * (length - 1)
            end = high if length == len(high) else "9" * length
            alternatives += _between(start, end)
    return f"^0*({'|'.join(alternatives)})$"


def _between(low: str, high: str) -> list[str]:
    """Alternatives matching the numbers from ``low`` to ``high``, both of one length."""
    if low == high:
        return [low]
    if set(low) == {"0"} and set(high) == {"9"}:
        return [f"[0-9]{{{len(low)}}}"] if len(low) > 1 else ["[0-9]"]
    if len(low) == 1:
        return [f"[{low}-{high}]"]
    rest = len(low) - 1
    if low[0] == high[0]:
        return [f"{low[0]}({'|'.join(_between(low[1:], high[1:]))})"]
    parts = [f"{low[0]}({'|'.join(_between(low[1:], '9' * rest))})"]
    if int(high[0]) - int(low[0]) > 1:
        parts.append(f"[{int(low[0]) + 1}-{int(high[0]) - 1}][0-9]{{{rest}}}")
    parts.append(f"{high[0]}({'|'.join(_between('0' * rest, high[1:]))})")
    return parts
