"""Recency: how much a query track counts by its distance from the end of the playlist so far.

A client sends the playlist so far, oldest first, and asks what plays next: its last track says
most, and the session-based recommenders built for this question weigh the others less the
further back they are. The weightings here are the family of Ludewig, Latifi & Jannach (2021,
"Empirical analysis of session-based recommendation algorithms", the session-rec framework:
sequential rules' and V-SKNN's decay functions) and STAN's exponential position weight (Garg et
al., SIGIR 2019). Each is written here as a function of ``d``, the distance from the end (1:
the last track), scaled so that the last track weighs 1:

- ``same``: 1 (every track alike);
- ``linear``: ``1 − (d − 1) / 10``, and 0 from the 11th track back;
- ``div``: ``1 / d``;
- ``quadratic``: ``1 / d²``;
- ``log``: ``log(2.7) / log(d + 1.7)`` (``1 / log10(d + 1.7)``, scaled);
- ``geometric``: ``decay ** (d − 1)`` — STAN's ``exp(−(d − 1) / λ)`` with ``decay = exp(−1/λ)``;
  ``decay`` 0 keeps the last track alone, 1 is ``same``.

Weights are computed in float64 and rounded to float32 once, by :func:`weights_of` here and by
the Keras serving layer (:mod:`music_recsys.serving.ops`) from the same formulas, so the served
ranking is the evaluated one. Positions count the tracks the catalog knows (unknown ids are
left out before they are weighted, in evaluation and serving alike).

Recency reads the play order: under playlist continuation (rows sorted by title, or a target
drawn from anywhere in the playlist) a track's position says nothing of what comes next, so
fits switch it off there (:func:`effective`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Weighting = Literal["same", "linear", "div", "quadratic", "log", "geometric"]
WEIGHTINGS: tuple[str, ...] = ("same", "linear", "div", "quadratic", "log", "geometric")
RECENCY_ARRAY = "recency"  # the package variable that holds a recommender's recency (as_array)
LINEAR_STEP = 0.1  # linear: what a track weighs less than the one after it
LOG_SHIFT = 1.7  # log: 1 / log10(d + 1.7), as session-rec's decay functions have it


def weights_of(steps_from_end: np.ndarray, weighting: str, decay: float = 1.0) -> np.ndarray:
    """The float32 weight of each query track, by its ``steps_from_end`` (0: the last track).

    Every formula is the float64 arithmetic the serving layer repeats (``ops.recency_weights``).
    """
    s = np.asarray(steps_from_end, dtype=np.float64)
    if weighting == "same":
        w = np.ones_like(s)
    elif weighting == "linear":
        w = np.maximum(1.0 - LINEAR_STEP * s, 0.0)
    elif weighting == "div":
        w = 1.0 / (s + 1.0)
    elif weighting == "quadratic":
        w = 1.0 / ((s + 1.0) * (s + 1.0))
    elif weighting == "log":
        w = np.log(1.0 + LOG_SHIFT) / np.log(s + 1.0 + LOG_SHIFT)
    elif weighting == "geometric":
        w = np.where(s == 0, 1.0, np.power(float(decay), s))
    else:
        raise ValueError(f"Unknown recency weighting {weighting!r}; known: {', '.join(WEIGHTINGS)}")
    return w.astype(np.float32)


@dataclass(frozen=True)
class Recency:
    """A recommender's query weighting (see the module doc); ``decay`` is read by ``geometric``
    only."""

    weighting: str = "same"
    decay: float = 1.0

    def __post_init__(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise ValueError(
                f"Unknown recency weighting {self.weighting!r}; known: {', '.join(WEIGHTINGS)}"
            )
        if not 0.0 <= self.decay <= 1.0:
            raise ValueError(f"recency decay must be in [0, 1], got {self.decay}")

    @property
    def flat(self) -> bool:
        """Whether every track weighs the same (no recency at all)."""
        return self.weighting == "same" or (self.weighting == "geometric" and self.decay == 1.0)

    def at(self, steps_from_end: np.ndarray) -> np.ndarray:
        """float32 weights of tracks ``steps_from_end`` from the query's end (0: the last)."""
        return weights_of(steps_from_end, self.weighting, self.decay)

    def weights(self, n: int) -> np.ndarray:
        """float32 weights of a query of ``n`` tracks, oldest first (the last weighs 1)."""
        return self.at(np.arange(n - 1, -1, -1))

    def as_array(self) -> np.ndarray:
        """``[weighting's position in WEIGHTINGS, decay]``: how a package stores it."""
        return np.array([WEIGHTINGS.index(self.weighting), self.decay], dtype=np.float64)

    @classmethod
    def from_array(cls, values) -> Recency:
        code, decay = np.asarray(values, dtype=np.float64).tolist()
        return cls(WEIGHTINGS[int(code)], float(decay))

    def describe(self) -> str:
        if self.flat:
            return "none"
        return f"geometric {self.decay:g}" if self.weighting == "geometric" else self.weighting


NO_RECENCY = Recency()


def effective(weighting: str, decay: float, reads_order: bool) -> Recency:
    """The recency a fit uses: the setting's where the play order can be read (the next-track
    protocol on rows in play order), none elsewhere."""
    return Recency(weighting, decay) if reads_order else NO_RECENCY
