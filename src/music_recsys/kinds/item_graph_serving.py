"""Item-graph kinds, served: the seeds' rows of the graph gathered, weighted and summed."""

from __future__ import annotations

import keras
import numpy as np

from music_recsys.kinds.item_graph import GRAPH_INDICES, GRAPH_INDPTR, GRAPH_VALUES
from music_recsys.serving.ops import constant, gather_rows, query_seeds, rank_scored, sum_by_key


class GraphLayer(keras.layers.Layer):
    """Item-graph kinds (co-occurrence, sequential rules): the seeds' rows of the graph, weighted
    and summed in the evaluation's order (seeds by catalog index)."""

    def __init__(self, recommender, k: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n, self.k = len(recommender.index), k
        graph = recommender.graph.tocsr()
        graph.sort_indices()
        self.graph_indptr = constant(graph.indptr.astype(np.int64), GRAPH_INDPTR)
        self.graph_indices = constant(graph.indices.astype(np.int32), GRAPH_INDICES)
        self.graph_values = constant(graph.data.astype(np.float32), GRAPH_VALUES)

    def call(self, indices, known, weights, popularity):
        seed_keys, seed_weights = query_seeds(indices, known, weights, self.n)
        # Keys row * n + track, in seed order: tf.unique keeps first occurrences in order, so
        # each key's terms are summed in seed order, as the evaluation sums.
        keys, values = gather_rows(
            self.graph_indptr,
            self.graph_indices,
            self.graph_values,
            seed_keys,
            seed_weights,
            self.n,
            self.n,
        )
        keys, sums = sum_by_key(keys, values)
        return rank_scored(keys, sums, seed_keys, indices, known, popularity, self.n, self.k)
