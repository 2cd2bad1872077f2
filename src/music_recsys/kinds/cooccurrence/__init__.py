"""Item co-occurrence: tracks that appear near the query tracks in the training playlists.

Pairs of tracks at most ``window`` positions apart are counted (``window: null``: anywhere in
the playlist — unnormalised, such counts are dominated by long playlists, n² pairs each). When
the order check finds the rows sorted by title, positions are read in a seeded random order
instead: a window then samples a playlist's companions, rather than its alphabetical
neighbours.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from music_recsys.core.catalog import TrackIndex
from music_recsys.kinds.contract import FitInputs, Fitted, Kind, RecencySettings
from music_recsys.kinds.item_graph import GRAPH_ARRAYS, ItemGraph, graph_from_arrays
from music_recsys.kinds.search_space import RECENCY_SPACE, Choice

logger = logging.getLogger(__name__)


NORMALISATIONS = ("none", "cosine")


class CooccurrenceSettings(RecencySettings):
    """Tracks within ``window`` positions of each other count as co-occurring (null: anywhere
    in the same playlist). ``normalisation``: ``none`` scores a pair by its count; ``cosine``
    by its count / √(each track's co-occurrences), so that a popular track's many pairs weigh
    no more than a rare one's few. ``recency``: how a query track weighs by its distance from
    the end (:mod:`music_recsys.core.recency`)."""

    window: int | None = Field(5, ge=1)
    normalisation: Literal["none", "cosine"] = "none"


@dataclass
class Cooccurrence(ItemGraph):
    kind: str = field(default="cooccurrence", init=False)


def fit(inputs: FitInputs, settings: CooccurrenceSettings) -> Fitted:
    """Counts the pairs into a symmetric graph (:func:`~music_recsys.core.training_rows.pair_graph`)."""
    from music_recsys.core.training_rows import pair_graph  # noqa: PLC0415 - DuckDB: to fit only

    started = time.perf_counter()
    shuffled = settings.window is not None and not inputs.in_play_order
    if shuffled:
        logger.info(
            "Co-occurrence: rows are sorted by title, so the ±%d window reads each playlist in "
            "a seeded random order (companions, not alphabetical neighbours)",
            settings.window,
        )
    matrix = pair_graph(
        inputs.playlists, inputs.track_index, settings.window, directed=False, shuffled=shuffled
    )
    if settings.normalisation == "cosine":
        matrix = cosine_normalised(matrix)
    logger.info("Co-occurrence graph: %d tracks, %d non-zero pairs", matrix.shape[0], matrix.nnz)
    model = Cooccurrence(
        TrackIndex.from_frame(inputs.track_index),
        name=inputs.name,
        graph=matrix,
        recency=settings.recency_for(inputs),
    )
    stats = {"fit_seconds": time.perf_counter() - started, "graph_nonzeros": matrix.nnz}
    if shuffled:
        stats["order"] = "window over a seeded random order (rows sorted by title)"
    return Fitted(model, stats)


def cosine_normalised(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """``D^-½ · matrix · D^-½``, D the rows' sums: each count over the geometric mean of its
    two tracks' co-occurrences (float32, as the serving model holds it)."""
    degrees = np.asarray(matrix.sum(axis=1)).ravel()
    scale = sp.diags(1.0 / np.sqrt(np.maximum(degrees, 1.0)))
    return (scale @ matrix @ scale).tocsr().astype(np.float32)


def from_arrays(index: TrackIndex, arrays: dict, name: str, description=None) -> Cooccurrence:
    return graph_from_arrays(Cooccurrence, index, arrays, name)


KIND = Kind(
    name="cooccurrence",
    settings=CooccurrenceSettings,
    fit=fit,
    simplicity=2,
    baseline=True,
    serving_layer="music_recsys.kinds.cooccurrence.serving:layer",
    arrays=GRAPH_ARRAYS,
    from_arrays=from_arrays,
    search_space={
        "window": Choice((1, 2, 3, 5, 10, 20, None)),
        "normalisation": Choice(NORMALISATIONS),
    }
    | RECENCY_SPACE,
)
