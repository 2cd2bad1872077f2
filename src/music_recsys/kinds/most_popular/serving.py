"""Most popular, served: the most popular tracks that are not seeds."""

from __future__ import annotations

import keras
import tensorflow as tf

from music_recsys.serving.ops import query_seeds, rank_scored


class MostPopularLayer(keras.layers.Layer):
    def __init__(self, recommender, k: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n, self.k = len(recommender.index), k

    def call(self, indices, known, weights, popularity):
        seed_keys, _ = query_seeds(indices, known, weights, self.n)
        none = tf.zeros([0], tf.int64)
        return rank_scored(
            none,
            tf.zeros([0], tf.float32),
            seed_keys,
            indices,
            known,
            popularity,
            self.n,
            self.k,
            fill_with_popularity=True,
        )


def layer(recommender, k: int) -> MostPopularLayer:
    return MostPopularLayer(recommender, k, name="most_popular")
