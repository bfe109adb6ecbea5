"""Kubernetes label selectors: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.

The grammar is the Kubernetes one for label selectors (equality- and set-based); anything
else (`>`, `<`, stray characters, an empty requirement) is refused with
InvalidParameterError naming the parameter, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gputel.collector.errors import InvalidParameterError

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = rf"(?:[a-z0-9](?:[-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}"
_VALUE = rf"(?:{_NAME})?"
_EXISTS = re.compile(rf"^(!?)\s*({_KEY})$")
_EQUALITY = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s*\((.*)\)$")
_SET_VALUE = re.compile(rf"^{_VALUE}$")


@dataclass(frozen=True, slots=True)
class Requirement:
    """One requirement: `op` is exists, !exists, =, !=, in or notin."""

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether `labels` satisfy this requirement (Kubernetes semantics: `!=` and `notin`
        also match when the key is absent)."""
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values


@dataclass(frozen=True, slots=True)
class Selector:
    """Every requirement must hold (an empty selector matches everything)."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether `labels` satisfy the selector."""
        return all(r.matches(labels) for r in self.requirements)


def parse_selector(text: str | None, parameter: str = "labels") -> Selector:
    """Parse a Kubernetes label selector. Raises InvalidParameterError naming `parameter`."""
    if text is None or not text.strip():
        return Selector()
    if len(text) > 4096:
        raise InvalidParameterError(parameter, "the selector is longer than 4096 characters")
    return Selector(tuple(_requirement(part.strip(), parameter) for part in _split(text,
                                                                                    parameter)))


def _split(text: str, parameter: str) -> list[str]:
    """Requirements are separated by commas outside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth not in (0, 1):
            raise InvalidParameterError(parameter, "unbalanced parentheses in the selector")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth:
        raise InvalidParameterError(parameter, "unbalanced parentheses in the selector")
    return [*parts, "".join(current)]


def _requirement(part: str, parameter: str) -> Requirement:
    if match := _EXISTS.match(part):
        return Requirement(match[2], "!exists" if match[1] else "exists")
    if match := _EQUALITY.match(part):
        op = "=" if match[2] in ("=", "==") else "!="
        return Requirement(match[1], op, frozenset({match[3]}))
    if match := _SET.match(part):
        values = [v.strip() for v in match[3].split(",")]
        if not values or not all(_SET_VALUE.match(v) for v in values) or values == [""]:
            raise InvalidParameterError(parameter, f"bad value list in {part[:80]!r}")
        return Requirement(match[1], match[2], frozenset(values))
    raise InvalidParameterError(
        parameter, f"{part[:80]!r} is not a label requirement; use key=value, key!=value, "
        "key in (a,b), key notin (a,b), key or !key, separated by commas")
