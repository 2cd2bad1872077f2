"""Playlist-kNN (session-rec's SKNN, with V-SKNN's, STAN's and VSTAN's weights): tracks of the
training playlists most like the query.

The query's tracks are compared with every training playlist that shares one (cosine between
the two track sets by default, Jaccard as an option); the ``neighbours`` most similar
playlists vote for their tracks with their similarity, and tracks rank by the sum of their
votes (Ludewig & Jannach 2018: on hand-made playlists this tops every method compared, neural
ones included). Options:

- ``idf``: a track counts ``log(playlists / playlists with the track)`` in both vectors of the
  cosine, so a shared rare track says more than a shared hit;
- ``asymmetry``: Aiolli's asymmetric cosine (RecSys Challenge 2013, the Million Song Dataset
  winner), ``q·p / (‖q‖^(2α) ‖p‖^(2(1−α)))``; 0.5 is the cosine. Above it, long playlists are
  penalised less: with a single query track every neighbour shares exactly that track, and
  the cosine ranks them by shortness alone;
- ``sample_size``: only that many of the playlists sharing a track are compared, chosen by a
  seeded random priority (the same in evaluation and serving), for speed at scale;
- ``vote_exponent``: a neighbour votes with its similarity to this power (1: SKNN; above 1 the
  nearest neighbours count for more);
- ``idf_vote``: a track's votes count ``1 + idf_vote · idf`` times (VSTAN's λ_idf, Ludewig,
  Latifi & Jannach 2021): rarer tracks are pushed up.

What the playlist so far says by its order (the next-track protocol on rows in play order;
switched off elsewhere, like every kind's recency):

- ``recency``: the query's tracks weigh by their distance from the end in the cosine — V-SKNN's
  position weights (Ludewig & Jannach 2018), STAN's λ_spw as ``geometric`` (Garg et al., SIGIR
  2019, "Sequence and Time Aware Neighborhood for Session-based Recommendations");
- ``match_recency``: a neighbour's votes weigh by how recent the latest query track it shares
  is — V-SKNN's score weighting, VSTAN's λ_ipw;
- ``position_decay``: within a neighbour, a track Δ places from that shared track votes
  ``position_decay ** Δ`` — STAN's λ_inh (``exp(−Δ/λ)``): the tracks played near the moment
  the neighbour matches the listener say most of what comes next. The fit keeps each track's
  (last) place in its playlist for this.

STAN's session recency (λ_snh) needs timestamps, which playlists do not have. The cost of a
query follows its tracks' playlists and its neighbours' tracks, not the catalog. Similarities
and votes are summed in float64 and rounded to float32 once, so that the Keras serving model,
summing in another order, ranks alike.
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
from music_recsys.core.recency import NO_RECENCY, WEIGHTINGS, Recency, Weighting, effective
from music_recsys.kinds.contract import FitInputs, Fitted, Kind, RecencySettings
from music_recsys.kinds.search_space import RECENCY_SPACE, Choice, FloatRange, IntRange

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
VOTE_WEIGHT, PLAYLIST_POSITIONS = "vote_weight", "playlist_positions"
ARRAYS = (
    TRACK_INDPTR,
    TRACK_PLAYLISTS,
    PLAYLIST_INDPTR,
    PLAYLIST_TRACKS,
    TRACK_WEIGHT,
    PLAYLIST_NORM,
    KNN_SETTINGS,
)  # and PRIORITY with a sample_size, VOTE_WEIGHT with idf_vote, PLAYLIST_POSITIONS with a
#      position_decay below 1


class PlaylistKnnSettings(RecencySettings):
    """Playlist-kNN: see the module doc."""

    neighbours: int = Field(100, ge=1, description="most similar training playlists that vote")
    similarity: Literal["cosine", "jaccard"] = "cosine"
    idf: bool = False
    sample_size: int | None = Field(None, ge=1, description="playlists compared per query")
    vote_exponent: float = Field(1.0, gt=0, description="a neighbour votes similarity ** this")
    asymmetry: float = Field(
        0.5, ge=0.0, le=1.0, description="cosine: q·p / (‖q‖^(2α) ‖p‖^(2(1−α))); 0.5: cosine"
    )
    idf_vote: float = Field(0.0, ge=0, description="a track's votes count 1 + idf_vote · idf")
    match_recency: Weighting = "same"
    match_recency_decay: float = Field(
        0.8, ge=0.0, le=1.0, description="match_recency geometric: decay ** steps from the end"
    )
    position_decay: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="a neighbour's track Δ places from the match votes decay ** Δ",
    )
    seed: int = 0

    def match_recency_for(self, inputs: FitInputs) -> Recency:
        return effective(self.match_recency, self.match_recency_decay, inputs.reads_order)

    def position_decay_for(self, inputs: FitInputs) -> float:
        return self.position_decay if inputs.reads_order else 1.0


@dataclass
class PlaylistKnn(Recommender):
    """Scores tracks by the summed similarity of the most similar training playlists."""

    playlists: sp.csr_matrix = None  # float64 [playlists, catalog], binary
    by_track: sp.csr_matrix = None  # float64 [catalog, playlists]: the transpose
    track_weight: np.ndarray = None  # float64 [catalog]: idf, or 1
    playlist_norm: np.ndarray = None  # float64 [playlists]: cosine ‖x_p‖^(2(1−α)); jaccard |p|
    priority: np.ndarray | None = None  # int64 [playlists]: sample order (higher first)
    neighbours: int = 100
    similarity: str = "cosine"
    sample_size: int | None = None
    vote_exponent: float = 1.0
    asymmetry: float = 0.5  # α of the asymmetric cosine (0.5: the cosine)
    vote_weight: np.ndarray | None = None  # float64 [catalog]: 1 + idf_vote · idf; None: 1
    match_recency: Recency = NO_RECENCY
    position_decay: float = 1.0
    positions: np.ndarray | None = None  # float64, aligned with playlists.data: 1-based places
    kind: str = field(default="playlist_knn", init=False)

    @property
    def reads_matches(self) -> bool:
        """Whether votes depend on which query track a neighbour matched (V-SKNN / STAN)."""
        return not self.match_recency.flat or self.position_decay != 1.0

    def similarities(self, queries: list[Query]) -> sp.csr_matrix:
        """``[queries, playlists]``: each query's similarity to its ``neighbours`` nearest
        playlists (ties to the lower playlist index), float64 values rounded to float32."""
        return self._neighbours(queries)[0]

    def _neighbours(self, queries: list[Query]) -> tuple[sp.csr_matrix, list[np.ndarray]]:
        """:meth:`similarities`, and per query row the latest match of each neighbour (in the
        matrix's order): the steps from the query's end of the most recent query track the
        neighbour shares, times the catalog size, plus that track (computed only when the
        votes read it, :attr:`reads_matches`)."""
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
        rows, cols, values, matches = [], [], [], []
        for row in range(len(queries)):
            start, end = shared.indptr[row], shared.indptr[row + 1]
            playlists, overlap = shared.indices[start:end], shared.data[start:end]
            if self.similarity == "cosine":
                weights = seeds.data[seeds.indptr[row] : seeds.indptr[row + 1]]
                norm = np.sqrt(np.sum(weights * weights))
                sims = overlap / (norm ** (2.0 * self.asymmetry) * self.playlist_norm[playlists])
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
            if self.reads_matches:
                matches.append(self._latest_matches(queries[row], chosen))
        similarities = sp.csr_matrix(
            (
                np.concatenate(values or [np.empty(0, np.float32)]).astype(np.float64),
                (
                    np.concatenate(rows or [np.empty(0, np.int64)]),
                    np.concatenate(cols or [np.empty(0, np.int64)]),
                ),
            ),
            shape=(len(queries), self.playlists.shape[0]),
        )
        return similarities, matches

    def _latest_matches(self, query: Query, chosen: np.ndarray) -> np.ndarray:
        """For each of the ``chosen`` playlists (ascending), ``steps · n + track`` of the most
        recent query track it holds (steps from the query's end; seeds weighted 0 left out)."""
        n = len(self.index)
        steps = np.arange(len(query.indices) - 1, -1, -1)
        held = query.weights > 0
        encoded = steps[held].astype(np.int64) * n + query.indices[held]
        starts = self.by_track.indptr[query.indices[held]]
        ends = self.by_track.indptr[query.indices[held] + 1]
        owner = np.repeat(np.arange(len(encoded)), ends - starts)
        entries = _ranges(starts, ends)
        playlists = self.by_track.indices[entries]
        best = np.full(len(chosen), np.iinfo(np.int64).max, dtype=np.int64)
        if len(chosen):
            at = np.minimum(np.searchsorted(chosen, playlists), len(chosen) - 1)
            inside = chosen[at] == playlists
            np.minimum.at(best, at[inside], encoded[owner][inside])
        return best

    def _votes(self, queries: list[Query]) -> sp.csr_matrix:
        weights, matches = self._neighbours(queries)
        if self.vote_exponent != 1.0:
            weights.data = weights.data**self.vote_exponent
        if self.reads_matches:
            votes = self._matched_votes(weights, matches)
        else:
            votes = (weights @ self.playlists).tocsr()
        if self.vote_weight is not None:
            votes = sp.csr_matrix(votes.multiply(self.vote_weight[None, :]))
        votes.data = votes.data.astype(np.float32)
        return votes

    def _matched_votes(self, weights: sp.csr_matrix, matches: list[np.ndarray]) -> sp.csr_matrix:
        """Votes that read each neighbour's match: its similarity weight times the match's
        recency weight, and each of its tracks times ``position_decay ** |Δ places|`` from the
        matched track (float64, summed per track)."""
        n = len(self.index)
        encoded = np.concatenate(matches or [np.empty(0, np.int64)])
        steps, matched = encoded // n, encoded % n
        neighbour_rows = np.repeat(np.arange(weights.shape[0]), np.diff(weights.indptr))
        neighbour_weights = weights.data * self.match_recency.at(steps).astype(np.float64)
        starts = self.playlists.indptr[weights.indices]
        ends = self.playlists.indptr[weights.indices + 1]
        owner = np.repeat(np.arange(len(starts)), ends - starts)
        entries = _ranges(starts, ends)
        tracks = self.playlists.indices[entries]
        values = neighbour_weights[owner]
        if self.position_decay != 1.0:
            places = self.positions[entries]
            at_match = np.zeros(len(starts), dtype=np.float64)
            hit = tracks == matched[owner]
            at_match[owner[hit]] = places[hit]
            values = values * np.power(self.position_decay, np.abs(places - at_match[owner]))
        votes = sp.csr_matrix(
            (values, (neighbour_rows[owner], tracks)), shape=(weights.shape[0], n)
        )
        votes.sum_duplicates()
        return votes

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        return self._votes(queries).toarray().astype(np.float32)

    def _rank(self, queries: list[Query], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return rank_sparse(self._votes(queries), queries, k, self.index.counts.astype(np.float32))

    def rank_cost(self, query: Query) -> int:
        degrees = self.by_track.indptr[query.indices + 1] - self.by_track.indptr[query.indices]
        mean_length = self.playlists.nnz / max(self.playlists.shape[0], 1)
        return 48 * (int(degrees.sum()) + 1) + int(24 * self.neighbours * mean_length)


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenated ``range(start, end)`` of each pair (CSR rows' entry positions)."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total, dtype=np.int64) - offsets + np.repeat(starts, lengths)


def build(
    index: TrackIndex,
    matrix: sp.csr_matrix,
    settings: PlaylistKnnSettings,
    name: str,
    inputs: FitInputs | None = None,
):
    """The recommender over a ``[playlists, catalog]`` matrix whose cells hold each track's
    (1-based) place in its playlist (any positive values where no position is read), with
    the order-reading settings ``inputs`` allows (none without inputs)."""
    playlists = matrix.astype(np.float64).tocsr()
    playlists.sort_indices()
    places = playlists.data.copy()
    playlists.data[:] = 1.0
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
        playlist_norm = playlist_norm ** (2.0 * (1.0 - settings.asymmetry))
    else:
        playlist_norm = lengths
    priority = None
    if settings.sample_size is not None:
        priority = np.random.default_rng(settings.seed).permutation(playlists.shape[0])
    vote_weight = None
    if settings.idf_vote > 0:
        frequency = np.maximum(np.diff(by_track.indptr), 1).astype(np.float64)
        vote_weight = 1.0 + settings.idf_vote * np.log(playlists.shape[0] / frequency)
    reads = inputs is not None
    position_decay = settings.position_decay_for(inputs) if reads else 1.0
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
        asymmetry=settings.asymmetry,
        vote_weight=vote_weight,
        recency=settings.recency_for(inputs) if reads else NO_RECENCY,
        match_recency=settings.match_recency_for(inputs) if reads else NO_RECENCY,
        position_decay=position_decay,
        positions=places if position_decay != 1.0 else None,
    )


def fit(inputs: FitInputs, settings: PlaylistKnnSettings) -> Fitted:
    """Keeps the training playlists as a sparse matrix (and its transpose)."""
    from music_recsys.core.training_rows import playlist_matrix  # noqa: PLC0415 - DuckDB: to fit only

    started = time.perf_counter()
    placed = settings.position_decay_for(inputs) != 1.0
    _, matrix = playlist_matrix(inputs.playlists, inputs.track_index, positions=placed)
    model = build(TrackIndex.from_frame(inputs.track_index), matrix, settings, inputs.name, inputs)
    logger.info(
        "Playlist-kNN: %d training playlists, %d entries; %d neighbours by %s%s; recency %s, "
        "match recency %s, position decay %g",
        matrix.shape[0],
        matrix.nnz,
        settings.neighbours,
        settings.similarity,
        ", idf" if settings.idf else "",
        model.recency.describe(),
        model.match_recency.describe(),
        model.position_decay,
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
    """neighbours, similarity, sample size (-1: none), vote exponent, match recency (its
    weighting's position in WEIGHTINGS and its decay), position decay and the cosine's
    asymmetry, as one float64 array."""
    sample = -1 if model.sample_size is None else model.sample_size
    return np.array(
        [
            model.neighbours,
            SIMILARITIES.index(model.similarity),
            sample,
            model.vote_exponent,
            *model.match_recency.as_array().tolist(),
            model.position_decay,
            model.asymmetry,
        ],
        dtype=np.float64,
    )


def from_arrays(index: TrackIndex, arrays: dict, name: str, description=None) -> PlaylistKnn:
    """The recommender rebuilt from a package's variables (:data:`ARRAYS`; see ``serving.py``)."""
    values = np.asarray(arrays[KNN_SETTINGS]).tolist()
    neighbours, similarity, sample, exponent = values[:4]
    match = Recency.from_array(values[4:6]) if len(values) > 4 else NO_RECENCY
    position_decay = float(values[6]) if len(values) > 6 else 1.0
    asymmetry = float(values[7]) if len(values) > 7 else 0.5
    indptr = np.asarray(arrays[PLAYLIST_INDPTR])
    n, m = len(index), len(indptr) - 1
    tracks = np.asarray(arrays[PLAYLIST_TRACKS])
    playlists_of = np.asarray(arrays[TRACK_PLAYLISTS])
    playlists = sp.csr_matrix((np.ones(len(tracks)), tracks, indptr), shape=(m, n))
    by_track = sp.csr_matrix(
        (np.ones(len(playlists_of)), playlists_of, np.asarray(arrays[TRACK_INDPTR])), shape=(n, m)
    )
    positions = arrays.get(PLAYLIST_POSITIONS)
    vote_weight = arrays.get(VOTE_WEIGHT)
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
        asymmetry=asymmetry,
        vote_weight=None if vote_weight is None else np.asarray(vote_weight, dtype=np.float64),
        match_recency=match,
        position_decay=position_decay,
        positions=None if positions is None else np.asarray(positions, dtype=np.float64),
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
        "asymmetry": FloatRange(0.5, 1.0),
        "idf_vote": FloatRange(0.0, 4.0),
        "match_recency": Choice(WEIGHTINGS, reads_order=True),
        "match_recency_decay": FloatRange(0.0, 1.0, reads_order=True),
        "position_decay": FloatRange(0.5, 1.0, reads_order=True),
    }
    | RECENCY_SPACE,
)
