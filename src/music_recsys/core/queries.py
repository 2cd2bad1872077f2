"""The evaluation queries: one per held-out playlist, the tracks given and the one to find."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from music_recsys.core.catalog import Query, TrackIndex
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.training_rows import rows_by_playlist
from music_recsys.tables import Table

logger = logging.getLogger(__name__)


def build_queries(playlists: Table, protocol: dict, evaluation: EvaluationParams) -> pd.DataFrame:
    """One query per evaluated playlist: the tracks given to the model and the one to find.

    ``next_track`` asks what a client asks — what plays next after the playlist so far: a
    seeded cut point per playlist (with at least one track before it), the query every track
    before it (the last ``max_query_tracks``), the target the track at it. ``continuation``:
    the target is a random track, the query the others (at most ``max_query_tracks``, a random
    subset in their playlist order). Playlists are a seeded sample of at most ``max_queries``
    with two tracks or more; every candidate gets the same queries.

    Returns:
        ``playlist_id``, ``query`` (list of track ids, oldest first) and ``target``.
    """
    ids, offsets, tracks = rows_by_playlist(playlists)
    lengths = np.diff(offsets)
    eligible = np.flatnonzero(lengths >= 2)
    rng = np.random.default_rng(evaluation.seed)
    if len(eligible) > evaluation.max_queries:
        eligible = np.sort(rng.choice(eligible, size=evaluation.max_queries, replace=False))
    rows = []
    for p in eligible.tolist():
        playlist = tracks[offsets[p] : offsets[p + 1]]
        if protocol["protocol"] == "next_track":
            target_at = int(rng.integers(1, len(playlist)))
            query = playlist[max(0, target_at - evaluation.max_query_tracks) : target_at]
        else:
            target_at = int(rng.integers(len(playlist)))
            rest = np.delete(np.arange(len(playlist)), target_at)
            if len(rest) > evaluation.max_query_tracks:
                rest = np.sort(rng.choice(rest, size=evaluation.max_query_tracks, replace=False))
            query = playlist[rest]
        rows.append((int(ids[p]), list(query), playlist[target_at]))
    logger.info("%d %s queries from %d playlists", len(rows), protocol["protocol"], len(lengths))
    return pd.DataFrame(rows, columns=["playlist_id", "query", "target"])


def last_track(queries: pd.DataFrame) -> pd.DataFrame:
    """The same queries asked with their last track alone (what a client that sends only the
    track playing now asks)."""
    return queries.assign(query=[list(query)[-1:] for query in queries["query"]])


def as_queries(
    index: TrackIndex, queries: pd.DataFrame
) -> tuple[list[Query], np.ndarray, np.ndarray]:
    """The queries in catalog indices, with their targets and which of them count.

    Returns:
        ``(queries, targets, counted)``: a :class:`Query` per row (its known tracks, oldest
        first; the recommender that ranks it weighs them by its recency), the target's catalog
        index (``-1`` if not in the catalog) and whether the query counts in the metrics — not
        when its target is already among its tracks (a playlist listing a track twice), which
        no recommender may return: a guaranteed miss.
    """
    found = (index.lookup([target]) for target in queries["target"])
    targets = np.array([i[0] if len(i) else -1 for i in found], dtype=np.int64)
    query_list = [Query.of(index.lookup(list(q))) for q in queries["query"]]
    counted = np.array(
        [
            target not in set(q)
            for q, target in zip(queries["query"], queries["target"], strict=True)
        ],
        dtype=bool,
    )
    return query_list, targets, counted
