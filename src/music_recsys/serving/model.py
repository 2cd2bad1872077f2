"""The serving model: a Keras 3 model that ranks exactly as the evaluation did.

It wraps the serving half of the selected candidate's kind (``music_recsys.kinds.<kind>.
serving``), which re-implements that kind's numpy ranking in TensorFlow ops, so the endpoint
serves what evaluation chose. What every kind shares lives here:

- seed tracks are looked up in the catalog (unknown ids and the empty-string padding are left
  out) and weighted by the recommender's recency among the known ones
  (:mod:`music_recsys.core.recency`; a blend weighs them for each component);
- a request with no known seed falls back to popularity; seeds are never recommended back;
- ties go to the lower index — the more popular track — like the evaluation's ``top_k``.

The serving signature is the contract: input ``seed_track_ids``, a ``[batch, n]`` string tensor
of ``<artist>|||<track>`` ids padded with ``""`` (any ``n``, 0 included: a row without a known
id gets the most popular tracks); outputs ``track_ids`` (``[batch, K]``
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

from music_recsys.core.ranking import Recommender  # noqa: E402
from music_recsys.kinds import kind as kind_named  # noqa: E402
from music_recsys.serving.ops import QueryWeights  # noqa: E402

INPUT_NAME = "seed_track_ids"
INPUT_SIGNATURE = [tf.TensorSpec([None, None], tf.string, name=INPUT_NAME)]


class RecommenderServingModel(keras.Model):
    """Seed track ids in, the top ``k`` track ids and scores out (see the module doc)."""

    def __init__(self, recommender: Recommender, k: int, **kwargs) -> None:
        super().__init__(**kwargs)
        index = recommender.index
        self.n_tracks = len(index)
        self.k = int(min(k, self.n_tracks))
        self.kind = recommender.kind
        self.query_weights = QueryWeights(recommender.recency, name="query_weights")
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
        self.scorer = kind_named(recommender.kind).serving_layer_for(recommender, self.k)

    def _query(self, seed_track_ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Catalog indices (-1: unknown or padding), known mask and recency weights."""
        indices = tf.cast(self.lookup(seed_track_ids), tf.int64) - 1
        known = indices >= 0
        return indices, known, self.query_weights(known)

    def call(self, seed_track_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        # A [batch, 0] request (empty playlists) is a valid tensor: one padding column makes
        # it the all-padding request every kind answers with the most popular tracks.
        width = tf.shape(seed_track_ids)[1]
        seed_track_ids = tf.pad(seed_track_ids, [[0, 0], [0, tf.maximum(1 - width, 0)]])
        indices, known, weights = self._query(seed_track_ids)
        values, top = self.scorer(indices, known, weights, tf.convert_to_tensor(self.popularity))
        real = top >= 0
        padding = self.k - tf.shape(values)[1]  # a catalog smaller than K + n: pad to K columns
        values = tf.pad(tf.where(real, values, 0.0), [[0, 0], [0, padding]])
        real = tf.pad(real, [[0, 0], [0, padding]])
        top = tf.pad(tf.maximum(top, 0), [[0, 0], [0, padding]])
        track_ids = tf.where(real, self.track_id(top + 1), tf.constant(""))
        return {"track_ids": track_ids, "scores": values}


def build_serving_model(recommender: Recommender, k: int) -> RecommenderServingModel:
    """The serving model of a fitted recommender, traced once so that it can be exported."""
    if k > len(recommender.index):
        logging.getLogger(__name__).warning(
            "deployment.k is %d but the catalog has %d tracks: the model returns %d",
            k,
            len(recommender.index),
            len(recommender.index),
        )
    model = RecommenderServingModel(recommender, k=k)
    model(tf.constant([[""]]))  # build
    return model
