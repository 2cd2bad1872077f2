"""TensorFlow building blocks of the kinds' serving halves (imported by deployment only).

Every serving layer takes a batch of queries as catalog ``indices`` (``-1``: unknown or
padding), a ``known`` mask and recency ``weights`` (``[batch, n]`` each), and the catalog's
``popularity``; it returns the top K as ``(values, ids)`` (``[batch, ≤K]``; ``-inf`` and
``-1`` where nothing is left), ranked exactly as its kind's ``rank`` in numpy:

- :func:`rank_scored` is :func:`music_recsys.core.ranking.rank_sparse` in TF ops: the tracks
  with a positive score first (score down, index up), then the most popular tracks that are
  neither seeds nor scored;
- :func:`dense_rank` is the dense kinds' ranking (word2vec, iALS): the whole catalog scored,
  the seeds dropped, ties to the lower index like ``tf.math.top_k``.

Sparse scores are keyed ``row * n + track`` (int64), so one flat tensor holds a batch.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from music_recsys.core.ranking import TOP_K_SAMPLE_STRIDE, UNSCORABLE  # noqa: E402
from music_recsys.core.recency import (  # noqa: E402
    LINEAR_STEP,
    LOG_SHIFT,
    RECENCY_ARRAY,
    Recency,
)

_PREFIX = contextvars.ContextVar("variable_prefix", default="")


@contextlib.contextmanager
def variable_prefix(prefix: str):
    """Names the variables :func:`constant` makes inside this block ``<prefix><name>``: a blend
    builds its components' layers in one each, so that two graph kinds' ``graph_*`` arrays
    keep apart in the package (and in the arrays ``music-recsys recommend`` caches)."""
    token = _PREFIX.set(_PREFIX.get() + prefix)
    try:
        yield
    finally:
        _PREFIX.reset(token)


def constant(values: np.ndarray, name: str) -> keras.Variable:
    """A model variable that never trains (saved with the SavedModel)."""
    return keras.Variable(values, trainable=False, name=_PREFIX.get() + name)


def steps_from_end(known: tf.Tensor) -> tf.Tensor:
    """int64 ``[batch, n]``: each known seed's distance from the row's last known seed (0: the
    last), as the numpy side counts positions among the tracks the catalog knows."""
    known_count = tf.cast(known, tf.int64)
    return tf.reduce_sum(known_count, axis=1, keepdims=True) - tf.cumsum(known_count, axis=1)


def recency_weights(steps: tf.Tensor, weighting: str, decay: float) -> tf.Tensor:
    """:func:`music_recsys.core.recency.weights_of` in TF ops: the same float64 formulas,
    rounded to float32 once."""
    s = tf.cast(steps, tf.float64)
    if weighting == "same":
        w = tf.ones_like(s)
    elif weighting == "linear":
        w = tf.maximum(1.0 - LINEAR_STEP * s, 0.0)
    elif weighting == "div":
        w = 1.0 / (s + 1.0)
    elif weighting == "quadratic":
        w = 1.0 / ((s + 1.0) * (s + 1.0))
    elif weighting == "log":
        w = math.log(1.0 + LOG_SHIFT) / tf.math.log(s + 1.0 + LOG_SHIFT)
    elif weighting == "geometric":
        w = tf.where(tf.equal(s, 0.0), tf.ones_like(s), tf.pow(tf.constant(decay, tf.float64), s))
    else:
        raise ValueError(f"Unknown recency weighting {weighting!r}")
    return tf.cast(w, tf.float32)


class QueryWeights(keras.layers.Layer):
    """A recommender's recency weights of a batch of queries (0 where not ``known``); holds its
    recency as a variable too (``recency``), so that a package's arrays rebuild it."""

    def __init__(self, recency: Recency, **kwargs) -> None:
        super().__init__(**kwargs)
        self.weighting, self.decay = recency.weighting, float(recency.decay)
        self.recency = constant(recency.as_array(), RECENCY_ARRAY)

    def call(self, known):
        weights = recency_weights(steps_from_end(known), self.weighting, self.decay)
        return weights * tf.cast(known, tf.float32)


def query_seeds(indices: tf.Tensor, known: tf.Tensor, weights: tf.Tensor, n: int):
    """Each row's distinct known seeds as keys ``row * n + seed``, ascending, with the weights
    of repeated seeds added: the order in which the numpy side sums."""
    n = tf.constant(n, tf.int64)
    rows = tf.broadcast_to(
        tf.range(tf.shape(indices, out_type=tf.int64)[0])[:, None],
        tf.shape(indices, out_type=tf.int64),
    )
    seed_keys, which = tf.unique(tf.boolean_mask(rows * n + indices, known))
    seed_weights = tf.math.unsorted_segment_sum(
        tf.boolean_mask(weights, known), which, tf.size(seed_keys)
    )
    order = tf.argsort(seed_keys)
    return tf.gather(seed_keys, order), tf.gather(seed_weights, order)


def gather_rows(indptr, columns, values, keys, weights, n_in: int, n_out: int):
    """The rows ``keys % n_in`` of a CSR matrix, each scaled by its weight, as keys
    ``(keys // n_in) * n_out + column`` and values, in the order of ``keys`` then columns.
    ``values=None``: a binary matrix (every stored value 1)."""
    ids = keys % n_in
    positions = tf.ragged.range(tf.gather(indptr, ids), tf.gather(indptr, ids + 1))
    owner = positions.value_rowids()
    gathered = tf.cast(tf.gather(columns, positions.flat_values), tf.int64)
    scaled = tf.gather(weights, owner)
    if values is not None:
        scaled = tf.cast(tf.gather(values, positions.flat_values), weights.dtype) * scaled
    return tf.gather(keys // n_in, owner) * n_out + gathered, scaled


def sum_by_key(keys: tf.Tensor, values: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Distinct keys (in order of first appearance) and their summed values."""
    unique_keys, segment = tf.unique(keys)
    return unique_keys, tf.math.unsorted_segment_sum(values, segment, tf.size(unique_keys))


def top_by_key(keys: tf.Tensor, values: tf.Tensor, batch, n: int, k) -> tuple[tf.Tensor, tf.Tensor]:
    """Per row, the ``k`` best positive float32 ``values`` (ties to the lower id), as
    ``(values, ids)`` padded with ``-inf`` / ``-1``."""
    n = tf.constant(n, tf.int64)
    rows, ids = keys // n, keys % n
    # Score down, then index up, as one int64: a positive float32's bits order like its value,
    # so one top_k per row ranks exactly, ties included.
    rank = tf.bitwise.left_shift(tf.cast(tf.bitcast(values, tf.int32), tf.int64), 32) | (
        n - 1 - ids
    )
    dense = tf.RaggedTensor.from_value_rowids(rank, rows, nrows=batch).to_tensor(default_value=-1)
    wanted = tf.minimum(tf.cast(k, tf.int64), tf.shape(dense, out_type=tf.int64)[1])
    best, _ = tf.math.top_k(dense, k=tf.cast(wanted, tf.int32))
    found = best >= 0
    top_values = tf.where(
        found, tf.bitcast(tf.cast(tf.bitwise.right_shift(best, 32), tf.int32), tf.float32), -np.inf
    )
    top_ids = tf.where(found, n - 1 - tf.bitwise.bitwise_and(best, 0xFFFFFFFF), -1)
    return top_values, top_ids


def rank_scored(
    keys: tf.Tensor,
    values: tf.Tensor,
    seed_keys: tf.Tensor,
    indices: tf.Tensor,
    known: tf.Tensor,
    popularity: tf.Tensor,
    n: int,
    k: int,
    fill_with_popularity: bool = False,
) -> tuple[tf.Tensor, tf.Tensor]:
    """:func:`music_recsys.core.ranking.rank_sparse` in TF: ``keys`` / float32 ``values`` are
    summed scores (any order); non-positive ones and seeds are dropped."""
    batch = tf.shape(indices, out_type=tf.int64)[0]
    width = tf.shape(indices, out_type=tf.int64)[1]
    n64 = tf.constant(n, tf.int64)
    keep = (values > 0) & ~is_member(keys, seed_keys)
    scored_keys, scored = tf.boolean_mask(keys, keep), tf.boolean_mask(values, keep)
    scored_rows, scored_ids = scored_keys // n64, scored_keys % n64
    top_values, top_ids = top_by_key(scored_keys, scored, batch, n, k)
    # The rest of the K: the most popular tracks that are neither seeds nor scored, at score 0
    # (popularity for a row without a known seed, and for the popularity kind).
    rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(indices, out_type=tf.int64))
    pool = tf.range(tf.minimum(2 * tf.constant(k, tf.int64) + width, n64))
    pool_keys = rows[:, :1] * n64 + pool[None, :]
    in_pool = scored_ids < tf.size(pool, out_type=tf.int64)
    scored_in_pool = tf.scatter_nd(
        tf.stack([tf.boolean_mask(scored_rows, in_pool), tf.boolean_mask(scored_ids, in_pool)], 1),
        tf.ones([tf.reduce_sum(tf.cast(in_pool, tf.int32))], tf.int32),
        tf.shape(pool_keys, out_type=tf.int64),
    )
    taken = is_member(pool_keys, seed_keys) | (scored_in_pool > 0)
    popular = tf.gather(popularity, pool)[None, :]
    if fill_with_popularity:
        fill = tf.broadcast_to(popular, tf.shape(pool_keys))
    else:
        fallback = ~tf.reduce_any(known, axis=1)[:, None]
        fill = tf.where(fallback, popular, tf.zeros_like(popular))
    fill = tf.where(taken, -np.inf, fill)
    values = tf.concat([top_values, fill], axis=1)
    ids = tf.concat([top_ids, tf.broadcast_to(pool[None, :], tf.shape(pool_keys))], axis=1)
    # Scored tracks first (already best first), then the fill in catalog order, whatever their
    # values (a blend's fallback row has scores below the popularity it is filled with).
    order = tf.argsort(tf.cast(values == -np.inf, tf.int32), axis=1, stable=True)[:, :k]
    values = tf.gather(values, order, batch_dims=1)
    ids = tf.gather(ids, order, batch_dims=1)
    return values, tf.where(values > -np.inf, ids, -1)


def dense_rank(
    scores: tf.Tensor,
    indices: tf.Tensor,
    known: tf.Tensor,
    answerable: tf.Tensor,
    popularity: tf.Tensor,
    n: int,
    k: int,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Top K of ``[batch, catalog]`` scores without the seeds; popularity for the rows that
    are not ``answerable``."""
    popular = tf.convert_to_tensor(popularity)[None, :]
    # The fallback costs a pass over [batch, catalog]: only when some row needs it.
    scores = tf.cond(
        tf.reduce_all(answerable),
        lambda: scores,
        lambda: tf.where(answerable[:, None], scores, popular),
    )
    # Seeds are never recommended back. Rather than overwrite them in [batch, catalog], take
    # the top K + n (n seed columns) and drop the seeds: the rest keep their order, ties
    # included, which is the top K of the catalog without the seeds.
    wanted = tf.minimum(k + tf.shape(indices)[1], n)
    values, top = _top_k(scores, wanted)
    # Which of those are seeds: looked up in a [batch, catalog] mask, so that memory does
    # not grow with the number of seeds times K (a request may list thousands of seeds).
    batch = tf.shape(indices)[0]
    rows = tf.broadcast_to(tf.range(tf.cast(batch, tf.int64))[:, None], tf.shape(indices))
    seeds = tf.boolean_mask(tf.stack([rows, indices], axis=-1), known)
    seed_mask = tf.scatter_nd(
        seeds,
        tf.ones([tf.shape(seeds)[0]], tf.int32),
        tf.stack([tf.cast(batch, tf.int64), tf.constant(n, tf.int64)]),
    )
    is_seed = tf.gather(seed_mask, top, batch_dims=1) > 0
    # Stable compaction per row: the non-seeds first, in order; then the first K of them.
    order = tf.argsort(tf.cast(is_seed, tf.int32), axis=1, stable=True)[:, :k]
    values = tf.gather(values, order, batch_dims=1)
    top = tf.gather(top, order, batch_dims=1)
    real = ~tf.gather(is_seed, order, batch_dims=1)
    return tf.where(real, values, -np.inf), tf.where(real, tf.cast(top, tf.int64), -1)


def mask_unscorable(scores: tf.Tensor, has_vector: tf.Tensor) -> tf.Tensor:
    return tf.where(has_vector[None, :], scores, tf.constant(UNSCORABLE, tf.float32))


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


def is_member(values: tf.Tensor, sorted_keys: tf.Tensor) -> tf.Tensor:
    """Whether each of ``values`` (any shape) is in the ascending 1-D ``sorted_keys``."""
    flat = tf.reshape(values, [-1])
    position = tf.searchsorted(sorted_keys, flat)  # 0 .. len(sorted_keys)
    padded = tf.concat([sorted_keys, tf.constant([-1], tf.int64)], axis=0)  # -1: never a key
    return tf.reshape(tf.equal(tf.gather(padded, position), flat), tf.shape(values))
