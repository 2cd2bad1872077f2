"""The blend, served: each component's serving layer lists its top ``depth``; scores are
min-max scaled per list, weighted and summed in float64, rounded to float32 once (as numpy
does), and ranked like every sparse kind."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from music_recsys.kinds import kind
from music_recsys.kinds.blend.model import component_prefix
from music_recsys.serving.ops import (
    QueryWeights,
    query_seeds,
    rank_scored,
    sum_by_key,
    variable_prefix,
)


class BlendLayer(keras.layers.Layer):
    def __init__(self, recommender, k: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n, self.k = len(recommender.index), k
        self.weights_ = [float(w) for w in recommender.weights]
        self.parts, self.part_weights = [], []
        for position, c in enumerate(recommender.components):
            with variable_prefix(component_prefix(position)):
                self.parts.append(kind(c.kind).serving_layer_for(c, min(recommender.depth, self.n)))
                # Each component weighs the query by its own recency, as in numpy.
                self.part_weights.append(QueryWeights(c.recency, name=f"weights_{position}"))

    def call(self, indices, known, weights, popularity):
        n = tf.constant(self.n, tf.int64)
        keys, values = [], []
        for part, part_weights, weight in zip(
            self.parts, self.part_weights, self.weights_, strict=True
        ):
            listed_values, ids = part(indices, known, part_weights(known), popularity)
            listed = ids >= 0
            v = tf.cast(listed_values, tf.float64)
            high = tf.reduce_max(tf.where(listed, v, -np.inf), axis=1, keepdims=True)
            low = tf.reduce_min(tf.where(listed, v, np.inf), axis=1, keepdims=True)
            spread = high - low
            ok = listed & (spread > 0)
            # Unlisted entries are -inf and an empty row's low is +inf: no NaN where `ok` holds.
            scaled = tf.where(ok, (v - low) / tf.where(ok, spread, 1.0), 0.0) * weight
            keep = listed & (scaled > 0)
            rows = tf.broadcast_to(
                tf.range(tf.shape(ids, out_type=tf.int64)[0])[:, None],
                tf.shape(ids, out_type=tf.int64),
            )
            keys.append(tf.boolean_mask(rows * n + ids, keep))
            values.append(tf.boolean_mask(scaled, keep))
        summed_keys, sums = sum_by_key(tf.concat(keys, 0), tf.concat(values, 0))
        order = tf.argsort(summed_keys)  # rows in order, as rank_scored needs them
        summed_keys, sums = tf.gather(summed_keys, order), tf.gather(sums, order)
        seed_keys, _ = query_seeds(indices, known, weights, self.n)
        return rank_scored(
            summed_keys,
            tf.cast(sums, tf.float32),
            seed_keys,
            indices,
            known,
            popularity,
            self.n,
            self.k,
        )


def layer(recommender, k: int) -> BlendLayer:
    return BlendLayer(recommender, k, name="blend")
