"""Co-occurrence, served: the seeds' rows of the graph gathered and summed (see
:class:`music_recsys.kinds.item_graph_serving.GraphLayer`)."""

from __future__ import annotations

from music_recsys.kinds.item_graph_serving import GraphLayer


def layer(recommender, k: int) -> GraphLayer:
    return GraphLayer(recommender, k, name="cooccurrence")
