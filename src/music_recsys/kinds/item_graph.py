"""Ranking by a track × track graph: the machinery of co-occurrence and transitions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from music_recsys.core.catalog import Query
from music_recsys.core.ranking import Recommender, rank_sparse, selector


@dataclass
class ItemGraph(Recommender):
    """Scores a track by its weighted links from the query tracks: ``q @ graph``."""

    graph: sp.csr_matrix = None  # [catalog, catalog]

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        product = selector(queries, len(self.index)) @ self.graph
        return product.toarray().astype(np.float32)

    def rank(self, queries: list[Query], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gathers the seeds' rows of the graph and sums them: the cost follows the seeds'
        neighbours, not the catalog (:func:`~.base.rank_sparse` orders them)."""
        product = (selector(queries, len(self.index)) @ self.graph).tocsr()
        return rank_sparse(product, queries, k, self.index.counts.astype(np.float32))

    def rank_cost(self, query: Query) -> int:
        # Each gathered non-zero: its column and value in the product, and their sort.
        degrees = self.graph.indptr[query.indices + 1] - self.graph.indptr[query.indices]
        return 24 * (int(degrees.sum()) + 1)


def graph_from_arrays(cls, index, arrays: dict, name: str) -> ItemGraph:
    """An item graph rebuilt from a package's ``graph_*`` variables."""
    n = len(index)
    graph = sp.csr_matrix(
        (arrays["graph_values"], arrays["graph_indices"], arrays["graph_indptr"]), shape=(n, n)
    )
    return cls(index, name=name, graph=graph)
