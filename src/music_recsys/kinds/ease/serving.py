"""EASE, served: the query's modelled seeds' rows of ``B``, weighted and summed in float64 and
rounded to float32 once (as the numpy side sums), then the whole catalog ranked — the tracks
EASE does not model after every modelled one, as in the evaluation."""

from __future__ import annotations

import keras
import tensorflow as tf

from music_recsys.core.ranking import UNSCORABLE
from music_recsys.kinds.ease import EASE_WEIGHTS
from music_recsys.serving.ops import constant, dense_rank, query_seeds


class EaseLayer(keras.layers.Layer):
    def __init__(self, recommender, k: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n, self.k, self.m = len(recommender.index), k, recommender.modelled
        self.ease_weights = constant(recommender.weights, EASE_WEIGHTS)

    def call(self, indices, known, weights, popularity):
        batch = tf.shape(indices, out_type=tf.int64)[0]
        modelled = known & (indices < self.m)
        seed_keys, seed_weights = query_seeds(indices, modelled, weights, self.n)
        rows = tf.gather(self.ease_weights, seed_keys % self.n)  # [seeds, modelled]
        summed = tf.math.unsorted_segment_sum(
            tf.cast(rows, tf.float64) * tf.cast(seed_weights, tf.float64)[:, None],
            seed_keys // self.n,
            batch,
        )
        unmodelled = tf.fill(tf.stack([batch, tf.constant(self.n - self.m, tf.int64)]), UNSCORABLE)
        scores = tf.concat([tf.cast(summed, tf.float32), unmodelled], axis=1)
        answerable = tf.reduce_any(modelled, axis=1)
        return dense_rank(scores, indices, known, answerable, popularity, self.n, self.k)


def layer(recommender, k: int) -> EaseLayer:
    return EaseLayer(recommender, k, name="ease")
