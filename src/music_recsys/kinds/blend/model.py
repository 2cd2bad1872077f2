"""The blend as a recommender: a weighted sum of its components' per-query min-max scaled
scores (float64, rounded to float32 once, so that the serving model ranks alike)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from music_recsys.core.catalog import Query
from music_recsys.core.ranking import Recommender, rank_sparse


@dataclass
class Blend(Recommender):
    """Weighted sum of its components' per-query normalised scores (see the module doc)."""

    components: list[Recommender] = None
    weights: np.ndarray = None  # float64 [components]
    depth: int = 100
    kind: str = field(default="blend", init=False)

    def _blended(self, queries: list[Query]) -> sp.csr_matrix:
        lists = [c.rank(queries, self.depth)[:2] for c in self.components]
        return combine(lists, self.weights, len(self.index))

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        return self._blended(queries).toarray().astype(np.float32)

    def _rank(self, queries: list[Query], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._ranked(self._blended(queries), queries, k)

    def rank_listed(self, lists, queries: list[Query], k: int):
        """:meth:`rank` from the components' ``(top, scores)`` at ``depth`` for ``queries``,
        already ranked (the cross-fitted validation ranks the lists once for every fold)."""
        return self._ranked(combine(lists, self.weights, len(self.index)), queries, k)

    def _ranked(self, product: sp.csr_matrix, queries: list[Query], k: int):
        return rank_sparse(product, queries, k, self.index.counts.astype(np.float32))

    def rank_cost(self, query: Query) -> int:
        return sum(c.rank_cost(query) for c in self.components) + 64 * self.depth


def normalised(top: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Min-max scaling of each row's listed scores (float64; 0 where not listed or flat)."""
    listed = top >= 0
    values = scores.astype(np.float64)
    high = np.where(listed, values, -np.inf).max(axis=1, initial=-np.inf)[:, None]
    low = np.where(listed, values, np.inf).min(axis=1, initial=np.inf)[:, None]
    spread = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(listed & (spread > 0), (values - low) / spread, 0.0)
    return scaled


def combine(lists: list[tuple[np.ndarray, np.ndarray]], weights: np.ndarray, n: int):
    """The blend's scores as a sparse ``[queries, n]`` float32 matrix, from each component's
    ``(top, scores)``."""
    rows, cols, values = [], [], []
    for (top, scores), weight in zip(lists, weights, strict=True):
        scaled = normalised(top, scores) * weight
        listed = (top >= 0) & (scaled > 0)
        rows.append(np.nonzero(listed)[0])
        cols.append(top[listed])
        values.append(scaled[listed])
    queries = lists[0][0].shape[0] if lists else 0
    blended = sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(queries, n),
        dtype=np.float64,
    )
    blended.sum_duplicates()
    blended.data = blended.data.astype(np.float32)
    return blended


def component_prefix(position: int) -> str:
    """How the variables of the blend's component at ``position`` are named in the package:
    ``component<position>__<variable>``."""
    return f"component{position}__"
