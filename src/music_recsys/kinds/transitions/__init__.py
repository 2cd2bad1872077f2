"""Transitions: tracks that followed the query tracks in training.

With ``window: 1`` (the default) first-order transitions: the tracks that directly followed.
With a larger window, session-rec's *sequential rules* (SR; Ludewig & Jannach 2018): a track d
places after a query track counts 1/d, up to ``window`` places on.

It reads the play order and has no order-free form: when the order check finds the rows sorted
by title it is fitted and evaluated for the record, but left out of the selection (a model of
alphabetical neighbours).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from pydantic import Field

from music_recsys.core.catalog import TrackIndex
from music_recsys.kinds import Kind, Settings
from music_recsys.kinds.item_graph import ItemGraph, graph_from_arrays

logger = logging.getLogger(__name__)


class TransitionSettings(Settings):
    """How far on a following track still counts (1/distance; 1: directly followed)."""

    window: int = Field(1, ge=1)


@dataclass
class Transitions(ItemGraph):
    kind: str = field(default="transitions", init=False)


def fit(playlists, track_index, track_order_report: dict, settings: TransitionSettings):
    """Counts (a, b) pairs, b 1 to ``window`` places after a, weighted 1/distance, into a
    directed graph."""
    from music_recsys.core.training_rows import pair_graph  # noqa: PLC0415

    started = time.perf_counter()
    matrix = pair_graph(
        playlists, track_index, settings.window, directed=True, inverse_distance=True
    )
    logger.info(
        "Transition graph (up to %d places on): %d tracks, %d non-zero pairs",
        settings.window,
        matrix.shape[0],
        matrix.nnz,
    )
    model = Transitions(TrackIndex.from_frame(track_index), name="transitions", graph=matrix)
    return model, {"fit_seconds": time.perf_counter() - started, "graph_nonzeros": matrix.nnz}


KIND = Kind(
    name="transitions",
    settings=TransitionSettings,
    fit=fit,
    simplicity=1,
    baseline=True,
    needs_play_order=True,
    from_arrays=lambda index, arrays, name: graph_from_arrays(Transitions, index, arrays, name),
)
