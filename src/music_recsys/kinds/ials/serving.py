"""iALS, served: the query folded in — ``(YᵀY + λI + Σ (c − 1) y yᵀ) x = Σ c y`` solved in
float64 TF ops, as the numpy side solves it — then every track scored by ``x · y``."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from music_recsys.kinds.ials import ALPHA, GRAM, ITEM_FACTORS_T
from music_recsys.serving.ops import constant, dense_rank, query_seeds


class IalsLayer(keras.layers.Layer):
    def __init__(self, recommender, k: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n, self.k = len(recommender.index), k
        self.alpha = float(recommender.alpha)
        # Stored once, [factors, catalog] (the scoring's GEMV layout); the seeds' factors are
        # gathered from its columns.
        self.item_factors_t = constant(
            np.ascontiguousarray(recommender.item_vectors.T), ITEM_FACTORS_T
        )
        self.gram = constant(recommender.gram.astype(np.float64), GRAM)
        self.ials_alpha = constant(np.array([self.alpha]), ALPHA)  # for the arrays

    def call(self, indices, known, weights, popularity):
        n = tf.constant(self.n, tf.int64)
        batch = tf.shape(indices, out_type=tf.int64)[0]
        seed_keys, seed_weights = query_seeds(indices, known, weights, self.n)
        rows = seed_keys // n
        factors = tf.transpose(
            tf.cast(tf.gather(self.item_factors_t, seed_keys % n, axis=1), tf.float64)
        )
        confidence = self.alpha * tf.cast(seed_weights, tf.float64)
        # Per row: its seeds' factors padded to [batch, seeds, factors] (padding: weight 0).
        padded = tf.RaggedTensor.from_value_rowids(factors, rows, nrows=batch).to_tensor()
        c = tf.RaggedTensor.from_value_rowids(confidence, rows, nrows=batch).to_tensor()
        # A seed weighted 0 (by its recency) is no entry of the user's row, as in numpy.
        real = tf.RaggedTensor.from_value_rowids(
            tf.cast(confidence > 0, tf.float64), rows, nrows=batch
        ).to_tensor()
        a = self.gram[None] + tf.einsum(
            "bsf,bsg->bfg", padded * ((c - 1.0) * real)[..., None], padded
        )
        b = tf.einsum("bsf,bs->bf", padded, c)
        user = tf.linalg.solve(a, b[..., None])[..., 0]
        scores = tf.matmul(tf.cast(user, tf.float32), self.item_factors_t)
        answerable = tf.reduce_any(known, axis=1)
        return dense_rank(scores, indices, known, answerable, popularity, self.n, self.k)


def layer(recommender, k: int) -> IalsLayer:
    return IalsLayer(recommender, k, name="ials")
