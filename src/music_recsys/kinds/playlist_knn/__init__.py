"""Playlist-kNN (session-rec's SKNN): tracks of the training playlists most like the query.

The query's tracks are compared with every training playlist that shares one (cosine between
the two track sets by default, Jaccard as an option); the ``neighbours`` most similar
playlists vote for their tracks with their similarity, and tracks rank by the sum of their
votes (Ludewig & Jannach 2018: on hand-made playlists this tops every method compared, neural
ones included). Options:

- ``idf``: a track counts ``log(playlists / playlists with the track)`` in both vectors of the
  cosine, so a shared rare track says more than a shared hit;
- ``sample_size``: only that many of the playlists sharing a track are compared, chosen by a
  seeded random priority (the same in evaluation and serving), for speed at scale;
- ``vote_exponent``: a neighbour votes with its similarity to this power (1: SKNN; above 1 the
  nearest neighbours count for more — on yes_small, 500 neighbours with exponent 3 led 100 with
  exponent 1 on validation, benchmarks/README.md);
- the query's recency weights (``evaluation.query_decay``) weight its tracks in the cosine:
  V-SKNN's position weights, meaningful under the next-track protocol only.

The cost of a query follows its tracks' playlists and its neighbours' tracks, not the catalog.
Similarities and votes are summed in float64 and rounded to float32 once, so that the Keras
serving model, summing in another order, ranks alike.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from music_recsys.core.catalog import Query, TrackIndex
from music_recsys.core.ranking import Recommender, rank_sparse, selector
from music_recsys.kinds.contract import FitInputs, Fitted, Kind, Settings
from music_recsys.kinds.search_space import Choice, FloatRange, IntRange

logger = logging.getLogger(__name__)

# The serving layer's variables (serving.py), read back by from_arrays.
TRACK_INDPTR, TRACK_PLAYLISTS = "track_indptr", "track_playlists"
PLAYLIST_INDPTR, PLAYLIST_TRACKS = "playlist_indptr", "playlist_tracks"
TRACK_WEIGHT, PLAYLIST_NORM, PRIORITY, KNN_SETTINGS = (
    "track_weight",
    "playlist_norm",
    "priority",
    "knn_settings",
)
ARRAYS = (
    TRACK_INDPTR,
    TRACK_PLAYLISTS,
    PLAYLIST_INDPTR,
    PLAYLIST_TRACKS,
    TRACK_WEIGHT,
    PLAYLIST_NORM,
    KNN_SETTINGS,
)  # and PRIORITY, with a sample_size


class PlaylistKnnSettings(Settings):
    """Playlist-kNN: see the module doc."""

    neighbours: int = Field(100, ge=1, description="most similar training playlists that vote")
    similarity: Literal["cosine", "jaccard"] = "cosine"
    idf: bool = False
    sample_size: int | None = Field(None, ge=1, description="playlists compared per query")
    vote_exponent: float = Field(1.0, gt=0, description="a neighbour votes similarity ** this")
    seed: int = 0


@dataclass
class PlaylistKnn(Recommender):
    """Scores tracks by the summed similarity of the most similar training playlists."""

    playlists: sp.csr_matrix = None  # float64 [playlists, catalog], binary
    by_track: sp.csr_matrix = None  # float64 [catalog, playlists]: the transpose
    track_weight: np.ndarray = None  # float64 [catalog]: idf, or 1
    playlist_norm: np.ndarray = None  # float64 [playlists]: cosine: ‖x_p‖; jaccard: |p|
    priority: np.ndarray | None = None  # int64 [playlists]: sample order (higher first)
    neighbours: int = 100
    similarity: str = "cosine"
    sample_size: int | None = None
    vote_exponent: float = 1.0
    kind: str = field(default="playlist_knn", init=False)

    def similarities(self, queries: list[Query]) -> sp.csr_matrix:
        """``[queries, playlists]``: each query's similarity to its ``neighbours`` nearest
        playlists (ties to the lower playlist index), float64 values rounded to float32."""
        seeds = selector(queries, len(self.index)).astype(np.float64)
        seeds.sum_duplicates()
        # One product over the seeds' playlists: for cosine the dot products (the query's
        # vector holds weight · idf per track, a playlist's idf per track), for Jaccard the
        # counts of shared tracks.
        terms = seeds.copy()
        if self.similarity == "cosine":
            seeds.data *= self.track_weight[seeds.indices]
            terms.data = seeds.data * self.track_weight[seeds.indices]
        else:
            terms.data[:] = 1.0
        shared = (terms @ self.by_track).tocsr()
        shared.sort_indices()
        rows, cols, values = [], [], []
        for row in range(len(queries)):
            start, end = shared.indptr[row], shared.indptr[row + 1]
            playlists, overlap = shared.indices[start:end], shared.data[start:end]
            if self.similarity == "cosine":
                weights = seeds.data[seeds.indptr[row] : seeds.indptr[row + 1]]
                norm = np.sqrt(np.sum(weights * weights))
                sims = overlap / (norm * self.playlist_norm[playlists])
            else:
                size = seeds.indptr[row + 1] - seeds.indptr[row]
                sims = overlap / (size + self.playlist_norm[playlists] - overlap)
            sims = sims.astype(np.float32)
            if self.sample_size is not None and len(playlists) > self.sample_size:
                keep = np.argsort(-self.priority[playlists], kind="stable")[: self.sample_size]
                keep = np.sort(keep)
                playlists, sims = playlists[keep], sims[keep]
            order = np.lexsort((playlists, -sims.astype(np.float64)))[: self.neighbours]
            order = order[sims[order] > 0]
            chosen = np.sort(playlists[order])
            rows.append(np.full(len(chosen), row))
            cols.append(chosen)
            values.append(sims[np.searchsorted(playlists, chosen)] if len(chosen) else sims[:0])
        return sp.csr_matrix(
            (
                np.concatenate(values or [np.empty(0, np.float32)]).astype(np.float64),
                (
                    np.concatenate(rows or [np.empty(0, np.int64)]),
                    np.concatenate(cols or [np.empty(0, np.int64)]),
                ),
            ),
            shape=(len(queries), self.playlists.shape[0]),
        )

    def _votes(self, queries: list[Query]) -> sp.csr_matrix:
        weights = self.similarities(queries)
        if self.vote_exponent != 1.0:
            weights.data = weights.data**self.vote_exponent
        votes = (weights @ self.playlists).tocsr()
        votes.data = votes.data.astype(np.float32)
        return votes

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        return self._votes(queries).toarray().astype(np.float32)

    def rank(self, queries: list[Query], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return rank_sparse(self._votes(queries), queries, k, self.index.counts.astype(np.float32))

    def rank_cost(self, query: Query) -> int:
        degrees = self.by_track.indptr[query.indices + 1] - self.by_track.indptr[query.indices]
        mean_length = self.playlists.nnz / max(self.playlists.shape[0], 1)
        return 48 * (int(degrees.sum()) + 1) + int(24 * self.neighbours * mean_length)


def build(index: TrackIndex, matrix: sp.csr_matrix, settings: PlaylistKnnSettings, name: str):
    """The recommender over a binary ``[playlists, catalog]`` matrix."""
    playlists = matrix.astype(np.float64).tocsr()
    playlists.sort_indices()
    by_track = playlists.T.tocsr()
    by_track.sort_indices()
    lengths = np.diff(playlists.indptr).astype(np.float64)
    if settings.idf:
        frequency = np.maximum(np.diff(by_track.indptr), 1).astype(np.float64)
        track_weight = np.log(playlists.shape[0] / frequency)
    else:
        track_weight = np.ones(len(index), dtype=np.float64)
    if settings.similarity == "cosine":
        squared = playlists.copy()
        squared.data = track_weight[squared.indices] ** 2
        playlist_norm = np.sqrt(np.asarray(squared.sum(axis=1)).ravel())
    else:
        playlist_norm = lengths
    priority = None
    if settings.sample_size is not None:
        priority = np.random.default_rng(settings.seed).permutation(playlists.shape[0])
    return PlaylistKnn(
        index,
        name=name,
        playlists=playlists,
        by_track=by_track,
        track_weight=track_weight,
        playlist_norm=playlist_norm,
        priority=priority,
        neighbours=settings.neighbours,
        similarity=settings.similarity,
        sample_size=settings.sample_size,
        vote_exponent=settings.vote_exponent,
    )


def fit(inputs: FitInputs, settings: PlaylistKnnSettings) -> Fitted:
    """Keeps the training playlists as a sparse matrix (and its transpose)."""
    from music_recsys.core.training_rows import playlist_matrix  # noqa: PLC0415 - DuckDB: to fit only

    started = time.perf_counter()
    _, matrix = playlist_matrix(inputs.playlists, inputs.track_index)
    model = build(TrackIndex.from_frame(inputs.track_index), matrix, settings, inputs.name)
    logger.info(
        "Playlist-kNN: %d training playlists, %d entries; %d neighbours by %s%s",
        matrix.shape[0],
        matrix.nnz,
        settings.neighbours,
        settings.similarity,
        ", idf" if settings.idf else "",
    )
    return Fitted(
        model,
        {
            "fit_seconds": time.perf_counter() - started,
            "playlists": matrix.shape[0],
            "entries": matrix.nnz,
        },
    )


SIMILARITIES = ("cosine", "jaccard")


def settings_array(model: PlaylistKnn) -> np.ndarray:
    """neighbours, similarity, sample size (-1: none) and vote exponent as one float64 array."""
    sample = -1 if model.sample_size is None else model.sample_size
    return np.array(
        [model.neighbours, SIMILARITIES.index(model.similarity), sample, model.vote_exponent],
        dtype=np.float64,
    )


def from_arrays(index: TrackIndex, arrays: dict, name: str, description=None) -> PlaylistKnn:
    """The recommender rebuilt from a package's variables (:data:`ARRAYS`; see ``serving.py``)."""
    neighbours, similarity, sample, exponent = np.asarray(arrays[KNN_SETTINGS]).tolist()
    indptr = np.asarray(arrays[PLAYLIST_INDPTR])
    n, m = len(index), len(indptr) - 1
    tracks = np.asarray(arrays[PLAYLIST_TRACKS])
    playlists_of = np.asarray(arrays[TRACK_PLAYLISTS])
    playlists = sp.csr_matrix((np.ones(len(tracks)), tracks, indptr), shape=(m, n))
    by_track = sp.csr_matrix(
        (np.ones(len(playlists_of)), playlists_of, np.asarray(arrays[TRACK_INDPTR])), shape=(n, m)
    )
    return PlaylistKnn(
        index,
        name=name,
        playlists=playlists,
        by_track=by_track,
        track_weight=np.asarray(arrays[TRACK_WEIGHT]),
        playlist_norm=np.asarray(arrays[PLAYLIST_NORM]),
        priority=np.asarray(arrays[PRIORITY]) if PRIORITY in arrays else None,
        neighbours=int(neighbours),
        similarity=SIMILARITIES[int(similarity)],
        sample_size=None if sample < 0 else int(sample),
        vote_exponent=float(exponent),
    )


KIND = Kind(
    name="playlist_knn",
    settings=PlaylistKnnSettings,
    fit=fit,
    simplicity=3,
    serving_layer="music_recsys.kinds.playlist_knn.serving:layer",
    arrays=ARRAYS,
    from_arrays=from_arrays,
    # sample_size is left out: a cost knob whose effect depends on the data's size, which a
    # trial on a sample of the playlists cannot judge.
    search_space={
        "neighbours": IntRange(20, 1000, log=True),
        "similarity": Choice(SIMILARITIES),
        "idf": Choice((False, True)),
        "vote_exponent": FloatRange(0.5, 4.0),
    },
)
