"""What a kind may tune: a small search space over its settings, declared beside them.

A kind's ``search_space`` maps a setting's name to one of these; the tuner (``music_recsys.
tuning``) turns each into Optuna's ``suggest_*`` call. The conf's settings are the starting
point: they are tried first, so a range must hold the default a kind ships with (a test checks
every kind's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IntRange:
    """An integer from ``low`` to ``high`` (both included), on a log scale when ``log``."""

    low: int
    high: int
    log: bool = False

    def holds(self, value: Any) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high


@dataclass(frozen=True)
class FloatRange:
    """A float from ``low`` to ``high``, on a log scale when ``log``."""

    low: float
    high: float
    log: bool = False

    def holds(self, value: Any) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (numbers, strings, booleans or None)."""

    values: tuple

    def holds(self, value: Any) -> bool:
        return value in self.values


Dimension = IntRange | FloatRange | Choice
SearchSpace = Mapping[str, Dimension]


def outside(space: SearchSpace, settings) -> dict[str, Any]:
    """The settings' values that their dimension does not hold (the tuner starts from them all
    the same: a default outside the space is still tried first)."""
    values = settings.model_dump()
    return {name: values[name] for name, dim in space.items() if not dim.holds(values[name])}
