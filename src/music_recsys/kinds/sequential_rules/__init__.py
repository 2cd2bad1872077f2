"""Sequential rules (SR; session-rec, Ludewig & Jannach 2018): tracks that followed the query
tracks in training, a track d places after a query track counting 1/d, up to ``window`` places
on; ``window: 1`` is first-order transitions (the tracks that directly followed).

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
from music_recsys.kinds.contract import FitInputs, Fitted, Kind, RecencySettings
from music_recsys.kinds.item_graph import GRAPH_ARRAYS, ItemGraph, graph_from_arrays
from music_recsys.kinds.search_space import RECENCY_SPACE, IntRange

logger = logging.getLogger(__name__)


class SequentialRulesSettings(RecencySettings):
    """How far on a following track still counts (1/distance; 1: directly followed); how a
    query track weighs by its distance from the end (``recency``: session-rec's sequential rules
    over the session's last items, with their decay)."""

    window: int = Field(1, ge=1)


@dataclass
class SequentialRules(ItemGraph):
    kind: str = field(default="sequential_rules", init=False)


def fit(inputs: FitInputs, settings: SequentialRulesSettings) -> Fitted:
    """Counts (a, b) pairs, b 1 to ``window`` places after a, weighted 1/distance, into a
    directed graph."""
    from music_recsys.core.training_rows import pair_graph  # noqa: PLC0415 - DuckDB: to fit only

    started = time.perf_counter()
    matrix = pair_graph(
        inputs.playlists,
        inputs.track_index,
        settings.window,
        directed=True,
        inverse_distance=True,
    )
    logger.info(
        "Sequential rules (up to %d places on): %d tracks, %d non-zero pairs",
        settings.window,
        matrix.shape[0],
        matrix.nnz,
    )
    model = SequentialRules(
        TrackIndex.from_frame(inputs.track_index),
        name=inputs.name,
        graph=matrix,
        recency=settings.recency_for(inputs),
    )
    return Fitted(
        model, {"fit_seconds": time.perf_counter() - started, "graph_nonzeros": matrix.nnz}
    )


def from_arrays(index: TrackIndex, arrays: dict, name: str, description=None) -> SequentialRules:
    return graph_from_arrays(SequentialRules, index, arrays, name)


KIND = Kind(
    name="sequential_rules",
    settings=SequentialRulesSettings,
    fit=fit,
    simplicity=1,
    baseline=True,
    needs_play_order=True,
    serving_layer="music_recsys.kinds.sequential_rules.serving:layer",
    arrays=GRAPH_ARRAYS,
    from_arrays=from_arrays,
    search_space={"window": IntRange(1, 10)} | RECENCY_SPACE,
)
