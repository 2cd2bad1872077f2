"""The serving model: a Keras 3 model that ranks exactly as the evaluation did.

It re-implements :mod:`music_recsys.pipelines.data_science.recommenders` in TensorFlow ops, for
every kind of candidate, so the endpoint serves what evaluation chose:

- seed tracks are looked up in the catalog (unknown ids and the empty-string padding are left
  out) and weighted by recency, ``decay ** steps_from_the_end`` among the known ones;
- word2vec: the weighted sum of the seeds' query vectors, L2-normalised, dotted with every
  track's item vector (cosine or in·out, as evaluated); tracks without a vector rank last;
- co-occurrence / transitions: the seeds' rows of the track graph (CSR arrays in the model's
  variables) are gathered, weighted and summed — the cost follows the seeds' neighbours, not
  the graph — and the tracks with a positive score come first; the rest of the K are the most
  popular tracks that are neither seeds nor scored (score 0), as in the evaluation's ``rank``;
- most popular: the most popular tracks that are not seeds, read off the catalog's order;
- a request with no known seed falls back to popularity; seeds are never recommended back;
- ``tf.math.top_k`` breaks ties by the lower index — the more popular track — like the
  evaluation's ``top_k``; graph scores are summed in the evaluation's order (seeds by catalog
  index), so they are equal, not merely close.

The serving signature is the contract: input ``seed_track_ids``, a ``[batch, n]`` string tensor
of ``<artist>|||<track>`` ids padded with ``""``; outputs ``track_ids`` (``[batch, K]``
strings) and ``scores`` (``[batch, K]`` float32), best first. When fewer than K tracks can be
recommended (a tiny catalog), the remaining slots hold the id ``""`` and the score 0.
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from music_recsys.pipelines.data_science.recommenders import (  # noqa: E402
    TOP_K_SAMPLE_STRIDE,
    UNSCORABLE,
    Embedding,
    ItemGraph,
    MostPopular,
    Recommender,
)

INPUT_NAME = "seed_track_ids"
INPUT_SIGNATURE = [tf.TensorSpec([None, None], tf.string, name=INPUT_NAME)]


class RecommenderServingModel(keras.Model):
    """Seed track ids in, the top ``k`` track ids and scores out (see the module doc)."""

    def __init__(
        self, recommender: Recommender, k: int, query_decay: float = 1.0, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        index = recommender.index
        self.n_tracks = len(index)
        self.k = int(min(k, self.n_tracks))
        self.kind = recommender.kind
        self.query_decay = float(query_decay)
        vocabulary = index.track_ids.tolist()
        self.lookup = keras.layers.StringLookup(
            vocabulary=vocabulary, num_oov_indices=1, name="track_index"
        )
        self.track_id = keras.layers.StringLookup(
            vocabulary=vocabulary, num_oov_indices=1, invert=True, name="track_id"
        )
        self.popularity = keras.Variable(
            index.counts.astype(np.float32), trainable=False, name="popularity"
        )
        if isinstance(recommender, Embedding):
            self.query_vectors = keras.Variable(
                recommender.query_vectors, trainable=False, name="query_vectors"
            )
            # Stored [dim, catalog]: the product with a query is then a row-major GEMV, 30 %
            # faster than multiplying by the transpose of [catalog, dim].
            self.item_vectors_t = keras.Variable(
                np.ascontiguousarray(recommender.item_vectors.T),
                trainable=False,
                name="item_vectors_t",
            )
            self.has_vector = keras.Variable(
                recommender.has_vector, trainable=False, name="has_vector"
            )
            self.all_have_vectors = bool(recommender.has_vector.all())  # then skip the mask
        elif isinstance(recommender, ItemGraph):
            graph = recommender.graph.tocsr()
            graph.sort_indices()
            self.graph_indptr = keras.Variable(
                graph.indptr.astype(np.int64), trainable=False, name="graph_indptr"
            )
            self.graph_indices = keras.Variable(
                graph.indices.astype(np.int32), trainable=False, name="graph_indices"
            )
            self.graph_values = keras.Variable(
                graph.data.astype(np.float32), trainable=False, name="graph_values"
            )
        elif not isinstance(recommender, MostPopular):
            raise TypeError(f"No serving implementation for {type(recommender).__name__}")

    def _query(self, seed_track_ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Catalog indices (-1: unknown or padding), known mask and recency weights."""
        indices = tf.cast(self.lookup(seed_track_ids), tf.int64) - 1
        known = indices >= 0
        known_count = tf.cast(known, tf.int64)
        steps_from_end = tf.reduce_sum(known_count, axis=1, keepdims=True) - tf.cumsum(
            known_count, axis=1
        )
        weights = tf.pow(
            tf.constant(self.query_decay, tf.float64), tf.cast(steps_from_end, tf.float64)
        )
        weights = tf.cast(weights, tf.float32) * tf.cast(known, tf.float32)
        return indices, known, weights

    def _embedding_top_k(
        self, indices: tf.Tensor, known: tf.Tensor, weights: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """word2vec: dense scores over the catalog, then the top K without the seeds."""
        safe = tf.maximum(indices, 0)
        usable = known & tf.gather(self.has_vector, safe)
        weighted = (
            tf.gather(self.query_vectors, safe) * (weights * tf.cast(usable, tf.float32))[..., None]
        )
        query = tf.reduce_sum(weighted, axis=1)
        query = query / tf.maximum(tf.norm(query, axis=1, keepdims=True), 1e-12)
        scores = tf.matmul(query, self.item_vectors_t)
        if not self.all_have_vectors:
            has_vector = tf.convert_to_tensor(self.has_vector)[None, :]
            scores = tf.where(has_vector, scores, tf.constant(UNSCORABLE, tf.float32))
        answerable = tf.reduce_any(usable, axis=1)
        popularity = tf.convert_to_tensor(self.popularity)[None, :]
        # The fallback costs a pass over [batch, catalog]: only when some row needs it.
        scores = tf.cond(
            tf.reduce_all(answerable),
            lambda: scores,
            lambda: tf.where(answerable[:, None], scores, popularity),
        )
        # Seeds are never recommended back. Rather than overwrite them in [batch, catalog], take
        # the top K + n (n seed columns) and drop the seeds: the rest keep their order, ties
        # included, which is the top K of the catalog without the seeds.
        wanted = tf.minimum(self.k + tf.shape(indices)[1], self.n_tracks)
        values, top = _top_k(scores, wanted)
        # Which of those are seeds: looked up in a [batch, catalog] mask, so that memory does
        # not grow with the number of seeds times K (a request may list thousands of seeds).
        batch = tf.shape(indices)[0]
        rows = tf.broadcast_to(tf.range(tf.cast(batch, tf.int64))[:, None], tf.shape(indices))
        seeds = tf.boolean_mask(tf.stack([rows, indices], axis=-1), known)
        seed_mask = tf.scatter_nd(
            seeds,
            tf.ones([tf.shape(seeds)[0]], tf.int32),
            tf.stack([tf.cast(batch, tf.int64), tf.constant(self.n_tracks, tf.int64)]),
        )
        is_seed = tf.gather(seed_mask, top, batch_dims=1) > 0
        # Stable compaction per row: the non-seeds first, in order; then the first K of them.
        order = tf.argsort(tf.cast(is_seed, tf.int32), axis=1, stable=True)[:, : self.k]
        values = tf.gather(values, order, batch_dims=1)
        top = tf.gather(top, order, batch_dims=1)
        real = ~tf.gather(is_seed, order, batch_dims=1)
        return tf.where(real, values, -np.inf), tf.where(real, top, -1)

    def _sparse_top_k(
        self, indices: tf.Tensor, known: tf.Tensor, weights: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Graph kinds and popularity: work in proportion to the seeds' rows of the graph."""
        n = tf.constant(self.n_tracks, tf.int64)
        batch = tf.shape(indices, out_type=tf.int64)[0]
        width = tf.shape(indices, out_type=tf.int64)[1]
        rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(indices, out_type=tf.int64))
        # Each row's distinct seeds as keys row * n + seed, in catalog order, with the weights
        # of repeated seeds added first: the order in which the evaluation sums.
        seed_keys, which = tf.unique(tf.boolean_mask(rows * n + indices, known))
        seed_weights = tf.math.unsorted_segment_sum(
            tf.boolean_mask(weights, known), which, tf.size(seed_keys)
        )
        order = tf.argsort(seed_keys)
        seed_keys, seed_weights = tf.gather(seed_keys, order), tf.gather(seed_weights, order)
        if self.kind == "most_popular":
            top_values = tf.zeros([batch, 0], tf.float32)
            top_ids = tf.zeros([batch, 0], tf.int64)
            scored_rows = scored_ids = tf.zeros([0], tf.int64)
        else:
            seed_ids = seed_keys % n
            positions = tf.ragged.range(
                tf.gather(self.graph_indptr, seed_ids), tf.gather(self.graph_indptr, seed_ids + 1)
            )
            owner = positions.value_rowids()
            columns = tf.cast(tf.gather(self.graph_indices, positions.flat_values), tf.int64)
            values = tf.gather(self.graph_values, positions.flat_values) * tf.gather(
                seed_weights, owner
            )
            # Keys row * n + track, in seed order: rows never decrease along them, and tf.unique
            # keeps first occurrences in order, so each key's terms are summed in seed order
            # (as the evaluation sums) and no sort of the gathered terms is needed.
            keys = tf.gather(seed_keys // n, owner) * n + columns
            unique_keys, segment = tf.unique(keys)
            sums = tf.math.unsorted_segment_sum(values, segment, tf.size(unique_keys))
            keep = (sums > 0) & ~_is_member(unique_keys, seed_keys)
            scored_keys, scored = tf.boolean_mask(unique_keys, keep), tf.boolean_mask(sums, keep)
            scored_rows, scored_ids = scored_keys // n, scored_keys % n
            # Score down, then index up, as one int64: a positive float32's bits order like
            # its value, so one top_k per row ranks exactly, ties included.
            rank = tf.bitwise.left_shift(tf.cast(tf.bitcast(scored, tf.int32), tf.int64), 32) | (
                n - 1 - scored_ids
            )
            dense = tf.RaggedTensor.from_value_rowids(rank, scored_rows, nrows=batch).to_tensor(
                default_value=-1
            )
            wanted = tf.minimum(tf.cast(self.k, tf.int64), tf.shape(dense, out_type=tf.int64)[1])
            best, _ = tf.math.top_k(dense, k=tf.cast(wanted, tf.int32))
            found = best >= 0
            top_values = tf.where(
                found,
                tf.bitcast(tf.cast(tf.bitwise.right_shift(best, 32), tf.int32), tf.float32),
                -np.inf,
            )
            top_ids = tf.where(found, n - 1 - tf.bitwise.bitwise_and(best, 0xFFFFFFFF), -1)
        # The rest of the K: the most popular tracks that are neither seeds nor scored, at
        # score 0 (popularity for a row without a known seed, and for the popularity kind).
        pool = tf.range(tf.minimum(2 * tf.cast(self.k, tf.int64) + width, n))
        pool_keys = rows[:, :1] * n + pool[None, :]
        in_pool = scored_ids < tf.size(pool, out_type=tf.int64)
        scored_in_pool = tf.scatter_nd(
            tf.stack(
                [tf.boolean_mask(scored_rows, in_pool), tf.boolean_mask(scored_ids, in_pool)], 1
            ),
            tf.ones([tf.reduce_sum(tf.cast(in_pool, tf.int32))], tf.int32),
            tf.shape(pool_keys, out_type=tf.int64),
        )
        taken = _is_member(pool_keys, seed_keys) | (scored_in_pool > 0)
        popular = tf.gather(self.popularity, pool)[None, :]
        if self.kind == "most_popular":
            fill = tf.broadcast_to(popular, tf.shape(pool_keys))
        else:
            fallback = ~tf.reduce_any(known, axis=1)[:, None]
            fill = tf.where(fallback, popular, tf.zeros_like(popular))
        fill = tf.where(taken, -np.inf, fill)
        values = tf.concat([top_values, fill], axis=1)
        ids = tf.concat([top_ids, tf.broadcast_to(pool[None, :], tf.shape(pool_keys))], axis=1)
        wanted = tf.minimum(self.k, tf.shape(values)[1])
        values, where = tf.math.top_k(values, k=wanted)
        ids = tf.gather(ids, where, batch_dims=1)
        return values, tf.where(values > -np.inf, ids, -1)

    def call(self, seed_track_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        indices, known, weights = self._query(seed_track_ids)
        if self.kind == "word2vec":
            values, top = self._embedding_top_k(indices, known, weights)
        else:
            values, top = self._sparse_top_k(indices, known, weights)
        real = top >= 0
        padding = self.k - tf.shape(values)[1]  # a catalog smaller than K + n: pad to K columns
        values = tf.pad(tf.where(real, values, 0.0), [[0, 0], [0, padding]])
        real = tf.pad(real, [[0, 0], [0, padding]])
        top = tf.pad(tf.maximum(top, 0), [[0, 0], [0, padding]])
        track_ids = tf.where(real, self.track_id(top + 1), tf.constant(""))
        return {"track_ids": track_ids, "scores": values}


def _top_k(scores: tf.Tensor, k: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``tf.math.top_k`` of each row, ties to the lower index, computed as the evaluation's
    ``top_k`` does: the k-th best of a strided sample is a threshold no row's top k is below,
    so only the entries at or above it are ranked (3x faster on a million tracks)."""
    sample = scores[:, ::TOP_K_SAMPLE_STRIDE]

    def thresholded() -> tuple[tf.Tensor, tf.Tensor]:
        threshold = tf.math.top_k(sample, k=k).values[:, -1:]
        where = tf.where(scores >= threshold)  # row-major: each row's columns ascending
        rows = where[:, 0]
        values = tf.RaggedTensor.from_value_rowids(
            tf.gather_nd(scores, where), rows, nrows=tf.shape(scores, out_type=tf.int64)[0]
        ).to_tensor(default_value=-np.inf)
        columns = tf.RaggedTensor.from_value_rowids(
            where[:, 1], rows, nrows=tf.shape(scores, out_type=tf.int64)[0]
        ).to_tensor(default_value=0)
        best, position = tf.math.top_k(values, k=k)
        return best, tf.cast(tf.gather(columns, position, batch_dims=1), tf.int32)

    def plain() -> tuple[tf.Tensor, tf.Tensor]:
        best, position = tf.math.top_k(scores, k=k)
        return best, position

    return tf.cond(tf.shape(sample)[1] >= 4 * k, thresholded, plain)


def _is_member(values: tf.Tensor, sorted_keys: tf.Tensor) -> tf.Tensor:
    """Whether each of ``values`` (any shape) is in the ascending 1-D ``sorted_keys``."""
    flat = tf.reshape(values, [-1])
    position = tf.searchsorted(sorted_keys, flat)  # 0 .. len(sorted_keys)
    padded = tf.concat([sorted_keys, tf.constant([-1], tf.int64)], axis=0)  # -1: never a key
    return tf.reshape(tf.equal(tf.gather(padded, position), flat), tf.shape(values))


def build_serving_model(
    recommender: Recommender, k: int, query_decay: float
) -> RecommenderServingModel:
    """The serving model of a fitted recommender, traced once so that it can be exported."""
    if k > len(recommender.index):
        logging.getLogger(__name__).warning(
            "deployment.k is %d but the catalog has %d tracks: the model returns %d",
            k,
            len(recommender.index),
            len(recommender.index),
        )
    model = RecommenderServingModel(recommender, k=k, query_decay=query_decay)
    model(tf.constant([[""]]))  # build
    return model
