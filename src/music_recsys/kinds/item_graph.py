"""Ranking by a track × track graph: the machinery of co-occurrence and sequential rules (its
serving half: :mod:`music_recsys.kinds.item_graph_serving`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from music_recsys.core.catalog import Query
from music_recsys.core.ranking import Recommender, rank_sparse, selector

# The graph as CSR arrays: the serving layer's variables, read back by graph_from_arrays.
GRAPH_INDPTR, GRAPH_INDICES, GRAPH_VALUES = "graph_indptr", "graph_indices", "graph_values"
GRAPH_ARRAYS = (GRAPH_INDPTR, GRAPH_INDICES, GRAPH_VALUES)


@dataclass
class ItemGraph(Recommender):
    """Scores a track by its weighted links from the query tracks: ``q @ graph``."""

    graph: sp.csr_matrix = None  # [catalog, catalog]

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        product = selector(queries, len(self.index)) @ self.graph
        return product.toarray().astype(np.float32)

    def _rank(self, queries: list[Query], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gathers the seeds' rows of the graph and sums them: the cost follows the seeds'
        neighbours, not the catalog (:func:`~music_recsys.core.ranking.rank_sparse` orders
        them)."""
        product = (selector(queries, len(self.index)) @ self.graph).tocsr()
        return rank_sparse(product, queries, k, self.index.counts.astype(np.float32))

    def rank_cost(self, query: Query) -> int:
        # Each gathered non-zero: its column and value in the product, and their sort.
        degrees = self.graph.indptr[query.indices + 1] - self.graph.indptr[query.indices]
        return 24 * (int(degrees.sum()) + 1)


def graph_from_arrays(cls, index, arrays: dict, name: str) -> ItemGraph:
    """An item graph rebuilt from a package's :data:`GRAPH_ARRAYS`."""
    n = len(index)
    graph = sp.csr_matrix(
        (arrays[GRAPH_VALUES], arrays[GRAPH_INDICES], arrays[GRAPH_INDPTR]), shape=(n, n)
    )
    return cls(index, name=name, graph=graph)
