"""iALS: implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008), fitted by the
``implicit`` library (a well-kept implementation; Rendle et al. 2021: well-tuned iALS is
competitive with far newer models).

Training playlists are the users. A query is folded in as a new user — the least-squares solve
``implicit``'s ``recalculate_user`` does — and tracks rank by the user's factors · the track's
factors. The solve is written here in numpy (float64, so that the Keras serving model's solve
in TF ops gives the same factors), so ranking needs neither ``implicit`` nor its threads;
tests check it equals ``recalculate_user``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from music_recsys.core.catalog import Query, TrackIndex
from music_recsys.kinds.contract import FitInputs, Fitted, Kind, RecencySettings
from music_recsys.kinds.embedding import Embedding
from music_recsys.kinds.search_space import RECENCY_SPACE, FloatRange, IntRange

logger = logging.getLogger(__name__)

# The serving layer's variables (serving.py), read back by from_arrays: the track factors
# [factors, catalog], YᵀY + λI, and alpha.
ITEM_FACTORS_T, GRAM, ALPHA = "item_factors_t", "gram", "ials_alpha"


class IalsSettings(RecencySettings):
    """``implicit.als.AlternatingLeastSquares`` arguments."""

    factors: int = Field(64, ge=1)
    regularization: float = Field(0.01, ge=0)
    alpha: float = Field(1.0, gt=0, description="confidence of a listed track = alpha")
    iterations: int = Field(15, ge=1)
    seed: int = 0


@dataclass
class Ials(Embedding):
    """Track factors from iALS; a query's factors solved from its tracks (fold-in)."""

    gram: np.ndarray = None  # float64 [factors, factors]: YᵀY + regularization · I
    alpha: float = 1.0
    kind: str = field(default="ials", init=False)

    def query_embedding(self, queries: list[Query]) -> np.ndarray:
        return np.stack([self.fold_in(query) for query in queries]).astype(np.float32)

    def fold_in(self, query: Query) -> np.ndarray:
        """The factors of a new user who listed ``query``'s tracks (weights: its recency
        weights), as ``implicit``'s ``recalculate_user`` solves them:
        ``(YᵀY + λI + Σ (c − 1) y yᵀ) x = Σ c y`` with ``c = alpha · weight``."""
        indices, weights = _merged(query)
        factors = self.item_vectors[indices].astype(np.float64)
        confidence = self.alpha * weights
        a = self.gram + (factors.T * (confidence - 1.0)) @ factors
        b = factors.T @ confidence
        return np.linalg.solve(a, b)


def _merged(query: Query) -> tuple[np.ndarray, np.ndarray]:
    """Distinct seeds (ascending) with their weights added, as a sparse user row holds them; a
    seed its recency weighs 0 is not in the row (confidence 0 is no entry, not a negative one)."""
    indices, inverse = np.unique(query.indices, return_inverse=True)
    weights = np.bincount(inverse, weights=query.weights.astype(np.float64), minlength=len(indices))
    held = weights > 0
    return indices[held], weights[held]


def fit(inputs: FitInputs, settings: IalsSettings) -> Fitted:
    """Fits ``implicit``'s ALS on the binary playlist × track matrix."""
    from implicit.cpu.als import AlternatingLeastSquares  # noqa: PLC0415 - only to fit
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    from music_recsys.core.training_rows import playlist_matrix  # noqa: PLC0415 - DuckDB: to fit only

    started = time.perf_counter()
    _, matrix = playlist_matrix(inputs.playlists, inputs.track_index)
    model = AlternatingLeastSquares(
        factors=settings.factors,
        regularization=settings.regularization,
        alpha=settings.alpha,
        iterations=settings.iterations,
        random_state=settings.seed,
    )
    logger.info(
        "iALS: %d playlists × %d tracks, %d factors, %d iterations",
        *matrix.shape,
        settings.factors,
        settings.iterations,
    )
    # implicit runs its own threads; BLAS threads on top of them slow it down (its warning).
    with threadpool_limits(1, "blas"):
        model.fit(matrix.astype(np.float32), show_progress=False)
    index = TrackIndex.from_frame(inputs.track_index)
    recommender = build(index, model.item_factors, settings, inputs.name)
    recommender.recency = settings.recency_for(inputs)
    return Fitted(
        recommender,
        {
            "fit_seconds": time.perf_counter() - started,
            "factors": settings.factors,
            "iterations": settings.iterations,
        },
    )


def build(index: TrackIndex, item_factors: np.ndarray, settings: IalsSettings, name: str) -> Ials:
    factors = np.ascontiguousarray(item_factors, dtype=np.float32)
    as64 = factors.astype(np.float64)
    gram = as64.T @ as64 + settings.regularization * np.eye(factors.shape[1])
    return _ials(index, factors, gram, settings.alpha, name)


def from_arrays(index: TrackIndex, arrays: dict, name: str, description=None) -> Ials:
    """The recommender rebuilt from a package's variables (see ``serving.py``)."""
    factors = np.ascontiguousarray(np.asarray(arrays[ITEM_FACTORS_T]).T)
    alpha = float(np.asarray(arrays[ALPHA])[0])
    return _ials(index, factors, np.asarray(arrays[GRAM]), alpha, name)


def _ials(index: TrackIndex, factors: np.ndarray, gram: np.ndarray, alpha: float, name: str):
    return Ials(
        index,
        name=name,
        query_vectors=factors,
        item_vectors=factors,
        has_vector=np.ones(len(index), dtype=bool),
        scoring="dot",
        gram=gram,
        alpha=alpha,
    )


KIND = Kind(
    name="ials",
    settings=IalsSettings,
    fit=fit,
    simplicity=4,
    has_track_vectors=True,
    serving_layer="music_recsys.kinds.ials.serving:layer",
    arrays=(ITEM_FACTORS_T, GRAM, ALPHA),
    from_arrays=from_arrays,
    search_space={
        "factors": IntRange(16, 256, log=True),
        "regularization": FloatRange(1e-3, 10.0, log=True),
        "alpha": FloatRange(0.5, 100.0, log=True),
        "iterations": IntRange(4, 30),
    }
    | RECENCY_SPACE,
)
