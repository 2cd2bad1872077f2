"""The serving model: a Keras 3 model that ranks exactly as the evaluation did.

It re-implements :mod:`music_recsys.pipelines.data_science.recommenders` in TensorFlow ops, for
every kind of candidate, so the endpoint serves what evaluation chose:

- seed tracks are looked up in the catalog (unknown ids and the empty-string padding are left
  out) and weighted by recency, ``decay ** steps_from_the_end`` among the known ones;
- word2vec: the weighted sum of the seeds' query vectors, L2-normalised, dotted with every
  track's item vector (cosine or in·out, as evaluated); tracks without a vector rank last;
- co-occurrence / transitions: the weighted sum of the seeds' rows of the track graph (a sparse
  matrix in the model's variables); most popular: training counts;
- a request with no known seed falls back to popularity; seeds are never recommended back;
- ``tf.math.top_k`` breaks ties by the lower index — the more popular track — like the
  evaluation's ``top_k``.

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
            self.item_vectors = keras.Variable(
                recommender.item_vectors, trainable=False, name="item_vectors"
            )
            self.has_vector = keras.Variable(
                recommender.has_vector, trainable=False, name="has_vector"
            )
            self.all_have_vectors = bool(recommender.has_vector.all())  # then skip the mask
        elif isinstance(recommender, ItemGraph):
            transposed = (
                recommender.graph.T.tocsr().tocoo()
            )  # row-major order, as SparseTensor wants
            self.graph_indices = keras.Variable(
                np.stack([transposed.row, transposed.col], axis=1).astype(np.int64),
                trainable=False,
                name="graph_indices",
            )
            self.graph_values = keras.Variable(
                transposed.data.astype(np.float32), trainable=False, name="graph_values"
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

    def _scores(
        self, indices: tf.Tensor, known: tf.Tensor, weights: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Scores over the catalog and whether each row had something to score from."""
        batch = tf.shape(indices)[0]
        safe = tf.maximum(indices, 0)
        if self.kind == "word2vec":
            usable = known & tf.gather(self.has_vector, safe)
            weighted = (
                tf.gather(self.query_vectors, safe)
                * (weights * tf.cast(usable, tf.float32))[..., None]
            )
            query = tf.reduce_sum(weighted, axis=1)
            query = query / tf.maximum(tf.norm(query, axis=1, keepdims=True), 1e-12)
            scores = tf.matmul(query, self.item_vectors, transpose_b=True)
            if not self.all_have_vectors:
                has_vector = tf.convert_to_tensor(self.has_vector)[None, :]
                scores = tf.where(has_vector, scores, tf.constant(UNSCORABLE, tf.float32))
        elif self.kind in ("cooccurrence", "transitions"):
            usable = known
            positions = tf.stack(
                [
                    tf.broadcast_to(tf.range(tf.cast(batch, tf.int64))[:, None], tf.shape(safe)),
                    safe,
                ],
                axis=-1,
            )
            selector = tf.scatter_nd(
                tf.reshape(positions, [-1, 2]),
                tf.reshape(weights, [-1]),
                tf.stack([tf.cast(batch, tf.int64), tf.constant(self.n_tracks, tf.int64)]),
            )
            graph = tf.SparseTensor(
                self.graph_indices, self.graph_values, [self.n_tracks, self.n_tracks]
            )
            scores = tf.transpose(tf.sparse.sparse_dense_matmul(graph, selector, adjoint_b=True))
        else:
            usable = known
            scores = tf.broadcast_to(
                tf.convert_to_tensor(self.popularity)[None, :], [batch, self.n_tracks]
            )
        answerable = tf.reduce_any(usable, axis=1)
        popularity = tf.convert_to_tensor(self.popularity)[None, :]
        # The fallback costs a pass over [batch, catalog]: only when some row needs it.
        scores = tf.cond(
            tf.reduce_all(answerable),
            lambda: scores,
            lambda: tf.where(answerable[:, None], scores, popularity),
        )
        return scores, answerable

    def call(self, seed_track_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        indices, known, weights = self._query(seed_track_ids)
        scores, _ = self._scores(indices, known, weights)
        # Seeds are never recommended back. Rather than overwrite them in [batch, catalog], take
        # the top K + n (n seed columns) and drop the seeds: the rest keep their order, ties
        # included, which is the top K of the catalog without the seeds.
        wanted = tf.minimum(self.k + tf.shape(indices)[1], self.n_tracks)
        values, top = tf.math.top_k(scores, k=wanted)
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
        padding = self.k - tf.shape(values)[1]  # a catalog smaller than K + n: pad to K columns
        values = tf.pad(values, [[0, 0], [0, padding]])
        top = tf.pad(top, [[0, 0], [0, padding]])
        real = tf.pad(real, [[0, 0], [0, padding]])
        track_ids = tf.where(real, self.track_id(top + 1), tf.constant(""))
        return {"track_ids": track_ids, "scores": tf.where(real, values, tf.zeros_like(values))}


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
