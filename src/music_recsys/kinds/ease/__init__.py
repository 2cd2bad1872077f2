"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): an item × item
weight matrix in closed form, ``B = I − P · diag(1 / diag(P))`` with ``P = (XᵀX + λI)⁻¹`` and
a zero diagonal; a query scores the tracks by ``Σ weight · B[seed]``.

The solve is a Cholesky factorisation and inverse (LAPACK's ``potrf`` / ``potri`` through
``scipy.linalg.lapack``; ``XᵀX + λI`` is symmetric positive definite) of an N × N matrix, dense:
N² float64s several times over. So EASE models the ``max_tracks`` most popular tracks of the
catalog — the size guard: 5,000 tracks hold 200 MB a matrix, the settings refuse more than
20,000 (3.2 GB a matrix) — and the rest of the catalog ranks after every modelled track, by
popularity, like word2vec's tracks without a vector; a query with no modelled seed falls back
to popularity. Scores are summed in float64 and rounded to float32 once, as the serving layer
does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from music_recsys.core.catalog import Query, TrackIndex
from music_recsys.core.ranking import (
    EXCLUDED,
    UNSCORABLE,
    Recommender,
    first_free,
    most_popular,
    top_k,
)
from music_recsys.kinds.contract import FitInputs, Fitted, Kind, RecencySettings
from music_recsys.kinds.search_space import RECENCY_SPACE, FloatRange

logger = logging.getLogger(__name__)

# The serving layer's variable (serving.py), read back by from_arrays: B, [modelled, modelled].
EASE_WEIGHTS = "ease_weights"
MAX_TRACKS = 20_000


class EaseSettings(RecencySettings):
    """``regularization``: λ on the Gram matrix's diagonal (Steck: a few hundred on large
    sets); ``max_tracks``: how many of the most popular tracks are modelled (the size guard)."""

    regularization: float = Field(250.0, gt=0)
    max_tracks: int = Field(
        5_000,
        ge=2,
        le=MAX_TRACKS,
        description="EASE solves a dense N×N system: N² float64s several times (20,000: 3.2 GB each)",
    )


@dataclass
class Ease(Recommender):
    """Scores the modelled tracks (the first ``len(weights)`` of the catalog, the most popular)
    by the query's weighted rows of ``weights``; the others after them."""

    weights: np.ndarray = None  # float32 [modelled, modelled]: B, zero diagonal
    kind: str = field(default="ease", init=False)

    @property
    def modelled(self) -> int:
        return self.weights.shape[0]

    def known(self, query: Query) -> Query:
        keep = query.indices < self.modelled
        return Query(query.indices[keep], query.weights[keep])

    def _modelled_scores(self, queries: list[Query]) -> np.ndarray:
        """``[queries, modelled]``: each (known) query's weighted sum of its seeds' rows,
        summed in float64 and rounded to float32 once."""
        scores = np.empty((len(queries), self.modelled), dtype=np.float32)
        for row, query in enumerate(queries):
            rows = self.weights[query.indices].astype(np.float64)
            scores[row] = (query.weights.astype(np.float64) @ rows).astype(np.float32)
        return scores

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        scores = np.full((len(queries), len(self.index)), UNSCORABLE, dtype=np.float32)
        scores[:, : self.modelled] = self._modelled_scores(queries)
        return scores

    def _rank(self, queries: list[Query], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The modelled tracks ranked (seeds excluded), then the rest of the K by index, as the
        dense scores rank them; popularity for a query without a modelled seed."""
        n = len(self.index)
        known = [self.known(query) for query in queries]
        fell_back = np.array([len(query.indices) == 0 for query in known], dtype=bool)
        top = np.full((len(queries), min(k, n)), -1, dtype=np.int64)
        top_scores = np.zeros(top.shape, dtype=np.float32)
        answerable = np.flatnonzero(~fell_back)
        if len(answerable):
            scores = self._modelled_scores([known[i] for i in answerable])
            for row, i in enumerate(answerable):
                scores[row, queries[i].indices[queries[i].indices < self.modelled]] = EXCLUDED
            compact = top_k(scores, top.shape[1])
            for row, i in enumerate(answerable):
                chosen = compact[row][compact[row] >= 0]
                values = scores[row, chosen]
                missing = top.shape[1] - len(chosen)
                if missing:  # every modelled track is a seed or listed: the rest by index
                    taken = np.concatenate([queries[i].indices, np.arange(self.modelled)])
                    filler = first_free(n, taken, missing)
                    filler = filler[filler >= 0]
                    chosen = np.concatenate([chosen, filler])
                    values = np.concatenate([values, np.full(len(filler), UNSCORABLE)])
                top[i, : len(chosen)] = chosen
                top_scores[i, : len(chosen)] = values
        counts = self.index.counts.astype(np.float32)
        for i in np.flatnonzero(fell_back):
            top[i], top_scores[i] = most_popular(counts, queries[i].indices, top.shape[1])
        return top, top_scores, fell_back

    def rank_cost(self, query: Query) -> int:
        return 4 * self.modelled


def closed_form(gram: np.ndarray, regularization: float) -> np.ndarray:
    """EASE's ``B`` from the Gram matrix ``XᵀX`` (float64 [N, N]): ``P = (XᵀX + λI)⁻¹`` from
    its Cholesky factor (LAPACK ``potrf`` then ``potri``: N³ flops in all, half what solving
    for the identity costs), ``B = −P / diag(P)`` column by column, zero diagonal."""
    from scipy.linalg.lapack import dpotrf, dpotri  # noqa: PLC0415 - to fit only

    n = gram.shape[0]
    regularised = gram + regularization * np.eye(n)
    factor, info = dpotrf(regularised, lower=1, clean=0, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: XᵀX + λI is not positive definite (potrf {info})")
    lower, info = dpotri(factor, lower=1, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: XᵀX + λI could not be inverted (potri {info})")
    precision = np.tril(lower) + np.tril(lower, -1).T
    weights = -precision / np.diag(precision)[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights


def fit(inputs: FitInputs, settings: EaseSettings) -> Fitted:
    """The closed form on the Gram matrix of the ``max_tracks`` most popular tracks."""
    from music_recsys.core.training_rows import playlist_matrix  # noqa: PLC0415 - DuckDB: to fit only

    started = time.perf_counter()
    index = TrackIndex.from_frame(inputs.track_index)
    modelled = min(settings.max_tracks, len(index))
    _, matrix = playlist_matrix(inputs.playlists, inputs.track_index)
    head = matrix[:, :modelled].astype(np.float64)
    gram = (head.T @ head).toarray()
    weights = closed_form(gram, settings.regularization).astype(np.float32)
    logger.info(
        "EASE: %d of %d tracks modelled (%d playlists), λ %.0f",
        modelled,
        len(index),
        matrix.shape[0],
        settings.regularization,
    )
    model = Ease(index, name=inputs.name, weights=weights, recency=settings.recency_for(inputs))
    return Fitted(
        model,
        {
            "fit_seconds": time.perf_counter() - started,
            "tracks_modelled": modelled,
            "catalog_share_modelled": modelled / max(len(index), 1),
        },
    )


def from_arrays(index: TrackIndex, arrays: dict, name: str, description=None) -> Ease:
    return Ease(index, name=name, weights=np.asarray(arrays[EASE_WEIGHTS]))


KIND = Kind(
    name="ease",
    settings=EaseSettings,
    fit=fit,
    simplicity=4,
    serving_layer="music_recsys.kinds.ease.serving:layer",
    arrays=(EASE_WEIGHTS,),
    from_arrays=from_arrays,
    search_space={"regularization": FloatRange(10.0, 10_000.0, log=True)} | RECENCY_SPACE,
)
