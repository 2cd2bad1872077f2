"""What a kind may tune: a small search space over its settings, declared beside them.

A kind's ``search_space`` maps a setting's name to one of these; the tuner (``music_recsys.
tuning``) turns each into Optuna's ``suggest_*`` call. The conf's settings are the starting
point: they are tried first, so a range must hold the default a kind ships with (a test checks
every kind's). A dimension that ``reads_order`` is searched only where the play order can be
read (the next-track protocol on rows in play order); elsewhere its fit switches it off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from music_recsys.core.recency import WEIGHTINGS


@dataclass(frozen=True)
class IntRange:
    """An integer from ``low`` to ``high`` (both included), on a log scale when ``log``."""

    low: int
    high: int
    log: bool = False
    reads_order: bool = False

    def holds(self, value: Any) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high


@dataclass(frozen=True)
class FloatRange:
    """A float from ``low`` to ``high``, on a log scale when ``log``."""

    low: float
    high: float
    log: bool = False
    reads_order: bool = False

    def holds(self, value: Any) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (numbers, strings, booleans or None)."""

    values: tuple
    reads_order: bool = False

    def holds(self, value: Any) -> bool:
        return value in self.values


Dimension = IntRange | FloatRange | Choice
SearchSpace = Mapping[str, Dimension]

# Every kind with RecencySettings searches these (music_recsys.core.recency).
RECENCY_SPACE: dict[str, Dimension] = {
    "recency": Choice(WEIGHTINGS, reads_order=True),
    "recency_decay": FloatRange(0.0, 1.0, reads_order=True),
}


def searched(space: SearchSpace, reads_order: bool) -> dict[str, Dimension]:
    """The dimensions a study searches: those that read the order only where it can be read."""
    return {name: dim for name, dim in space.items() if reads_order or not dim.reads_order}


def outside(space: SearchSpace, settings) -> dict[str, Any]:
    """The settings' values that their dimension does not hold (the tuner starts from them all
    the same: a default outside the space is still tried first)."""
    values = settings.model_dump()
    return {name: values[name] for name, dim in space.items() if not dim.holds(values[name])}
