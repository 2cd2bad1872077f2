"""Recommenders: given the tracks of a playlist so far, score every track of the catalog.

All candidates, learned or baseline, share one contract so that they are evaluated (and later
served) the same way:

- The catalog is every track of the training playlists, indexed most popular first
  (:class:`TrackIndex`). Ties in score are broken by the lower index, i.e. the more popular
  track — the rule ``tf.math.top_k`` also follows, so a served model can rank exactly alike.
- ``scores(queries)`` returns one row of scores per query over the whole catalog. Query tracks
  are weighted by recency (``decay ** steps_from_the_end``).
- Query tracks are never recommended back. A query with no track the model knows falls back to
  popularity (and is counted as a fallback).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

EXCLUDED = -np.inf  # query tracks: never returned
UNSCORABLE = np.float32(-3.0e38)  # tracks a model has no score for: after every scored track


@dataclass
class TrackIndex:
    """The catalog: track ids, most popular first, with their training popularity."""

    track_ids: np.ndarray  # object array of str, position = index
    counts: np.ndarray  # int64: rows in training playlists

    def __post_init__(self) -> None:
        self._position = {track: i for i, track in enumerate(self.track_ids.tolist())}

    def __len__(self) -> int:
        return len(self.track_ids)

    def __getstate__(self) -> dict:
        return {"track_ids": self.track_ids, "counts": self.counts}

    def __setstate__(self, state: dict) -> None:
        self.track_ids, self.counts = state["track_ids"], state["counts"]
        self.__post_init__()

    def lookup(self, tracks: list[str]) -> np.ndarray:
        """Indices of the known tracks among ``tracks`` (unknown ones are left out), in order."""
        found = [self._position.get(track, -1) for track in tracks]
        return np.array([i for i in found if i >= 0], dtype=np.int64)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> TrackIndex:
        """From a frame with ``track_id`` and ``count``, already in index order."""
        return cls(
            frame["track_id"].to_numpy(dtype=object), frame["count"].to_numpy(dtype=np.int64)
        )


@dataclass
class Query:
    """A playlist so far: catalog indices of its tracks, oldest first, and their weights."""

    indices: np.ndarray
    weights: np.ndarray

    @classmethod
    def of(cls, indices: np.ndarray, decay: float) -> Query:
        steps_from_end = np.arange(len(indices) - 1, -1, -1)
        return cls(indices, decay**steps_from_end)


@dataclass
class Recommender:
    """Base class: scores the catalog for a batch of queries."""

    index: TrackIndex
    name: str = ""
    kind: str = field(default="", init=False)

    def known(self, query: Query) -> Query:
        """The part of ``query`` this model has a representation for."""
        return query

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        raise NotImplementedError

    def scores(self, queries: list[Query]) -> tuple[np.ndarray, np.ndarray]:
        """Scores of every catalog track for each query, and which queries fell back.

        Returns:
            ``(scores, fell_back)``: float32 ``[len(queries), len(catalog)]`` (query tracks
            ``-inf``), and a bool per query, True where no query track was known.
        """
        known = [self.known(query) for query in queries]
        fell_back = np.array([len(query.indices) == 0 for query in known], dtype=bool)
        scores = np.empty((len(queries), len(self.index)), dtype=np.float32)
        answerable = [i for i, fallback in enumerate(fell_back) if not fallback]
        if answerable:
            scores[answerable] = self.raw_scores([known[i] for i in answerable])
        scores[fell_back] = self.index.counts.astype(np.float32)
        for row, query in enumerate(queries):
            scores[row, query.indices] = EXCLUDED
        return scores, fell_back


@dataclass
class MostPopular(Recommender):
    """The same list for everyone: tracks by number of training rows."""

    kind: str = field(default="most_popular", init=False)

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        return np.broadcast_to(
            self.index.counts.astype(np.float32), (len(queries), len(self.index))
        )


@dataclass
class ItemGraph(Recommender):
    """Scores a track by its weighted links from the query tracks: ``q @ graph``.

    Used for co-occurrence (symmetric counts of tracks near each other) and for first-order
    transitions (counts of track a followed by track b).
    """

    graph: sp.csr_matrix = None  # [catalog, catalog]

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        rows = np.repeat(np.arange(len(queries)), [len(q.indices) for q in queries])
        cols = np.concatenate([q.indices for q in queries])
        weights = np.concatenate([q.weights for q in queries]).astype(np.float32)
        selector = sp.csr_matrix((weights, (rows, cols)), shape=(len(queries), len(self.index)))
        return (selector @ self.graph).toarray().astype(np.float32)


@dataclass
class Cooccurrence(ItemGraph):
    kind: str = field(default="cooccurrence", init=False)


@dataclass
class Transitions(ItemGraph):
    kind: str = field(default="transitions", init=False)


@dataclass
class Embedding(Recommender):
    """Scores tracks by the dot product of a query vector with each track's item vector.

    The query vector is the recency-weighted sum of the query tracks' vectors, L2-normalised.
    Two scorings, set per word2vec variant:

    - ``cosine``: query and item vectors are the same L2-normalised word vectors, so the score is
      the cosine similarity (what the original tutorial evaluated).
    - ``in_out``: item vectors are word2vec's output (context) vectors, unnormalised, so the
      score is what skip-gram / CBOW were trained to predict — which track appears next to the
      query tracks — including the popularity that the output vectors' norms carry (Nalisnick et
      al. 2016, "A Dual Embedding Space Model").

    Tracks without a vector (under word2vec's ``min_count``) are unscorable and rank last.
    """

    query_vectors: np.ndarray = None  # float32 [catalog, dim]; rows of unknown tracks are 0
    item_vectors: np.ndarray = None  # float32 [catalog, dim]
    has_vector: np.ndarray = None  # bool [catalog]
    scoring: str = "cosine"
    kind: str = field(default="word2vec", init=False)

    def known(self, query: Query) -> Query:
        keep = self.has_vector[query.indices]
        return Query(query.indices[keep], query.weights[keep])

    def query_embedding(self, queries: list[Query]) -> np.ndarray:
        vectors = np.stack(
            [q.weights.astype(np.float32) @ self.query_vectors[q.indices] for q in queries]
        )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        scores = self.query_embedding(queries) @ self.item_vectors.T
        scores[:, ~self.has_vector] = UNSCORABLE
        return scores


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best tracks per row, best first; ties go to the lower index.

    Excluded tracks (``-inf``) are never returned, so a row may hold fewer than ``k`` real
    entries; the rest are ``-1``.
    """
    n_rows, n_items = scores.shape
    k = min(k, n_items)
    result = np.full((n_rows, k), -1, dtype=np.int64)
    if k == 0:
        return result
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
    for row in range(n_rows):
        values = scores[row]
        threshold = kth[row]
        above = np.flatnonzero(values > threshold)
        tied = np.flatnonzero(values == threshold)[: k - len(above)]
        chosen = np.concatenate([above, tied])
        chosen = chosen[np.lexsort((chosen, -values[chosen].astype(np.float64)))]
        chosen = chosen[values[chosen] != EXCLUDED]
        result[row, : len(chosen)] = chosen
    return result
