"""Cooccurrence, served: the seeds' rows of the graph gathered and summed (see
:class:`music_recsys.serving.ops.GraphLayer`)."""

from __future__ import annotations

from music_recsys.serving.ops import GraphLayer


def layer(recommender, k: int) -> GraphLayer:
    return GraphLayer(recommender, k, name="cooccurrence")
