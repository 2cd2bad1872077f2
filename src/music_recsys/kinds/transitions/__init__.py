"""First-order transitions: tracks that directly followed the query tracks in training.

It reads the play order and has no order-free form: when the order check finds the rows sorted
by title it is fitted and evaluated for the record, but left out of the selection (a model of
alphabetical neighbours).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from music_recsys.kinds import Kind, Settings
from music_recsys.kinds.base import TrackIndex
from music_recsys.kinds.item_graph import ItemGraph, graph_from_arrays

logger = logging.getLogger(__name__)


class TransitionSettings(Settings):
    """First-order transitions: track a directly followed by track b. No settings."""


@dataclass
class Transitions(ItemGraph):
    kind: str = field(default="transitions", init=False)


def fit(playlists, track_index, track_order_report: dict, settings: TransitionSettings):
    """Counts (a, b) pairs of consecutive tracks into a directed graph."""
    from music_recsys.kinds.training_rows import pair_graph  # noqa: PLC0415

    started = time.perf_counter()
    matrix = pair_graph(playlists, track_index, 1, directed=True)
    logger.info("Transition graph: %d tracks, %d non-zero pairs", matrix.shape[0], matrix.nnz)
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
