"""The shared inputs of every candidate: the catalog, the protocol and the evaluation queries."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from music_recsys.kinds.base import Query, TrackIndex
from music_recsys.kinds.training_rows import rows_by_playlist
from music_recsys.tables import Table, sql, to_pandas

from .params import EvaluationParams

logger = logging.getLogger(__name__)


def build_track_index(playlists_train: Table) -> pd.DataFrame:
    """The catalog: every track of the training playlists, most popular first.

    Args:
        playlists_train: Training rows (``playlist_id``, ``position``, ``track_id``).

    Returns:
        ``track_id``, ``count`` (training rows) and ``n_playlists``; the row number is the
        track's index in every model.
    """
    return to_pandas(
        sql(
            """
            SELECT track_id, count(*) AS count, count(DISTINCT playlist_id) AS n_playlists
            FROM {train} GROUP BY track_id ORDER BY count DESC, track_id
            """,
            train=playlists_train,
        )
    )


def choose_protocol(track_order_report: dict, evaluation: EvaluationParams) -> dict:
    """Next-track or playlist continuation: from the parameters, or from the data's order.

    ``auto`` follows data_processing's order check: when playlists list their tracks sorted by
    title, "the next track" is the next title A-Z, so the model is asked to complete the
    playlist instead; otherwise the rows are in play order and the next track is the target.

    Raises:
        ValueError: If ``query_decay`` would weight a query's tracks by position while the rows
            are sorted by title (position weights read an order the file does not have).
    """
    if evaluation.query_decay != 1.0 and not track_order_report["next_track_is_meaningful"]:
        raise ValueError(
            f"evaluation.query_decay is {evaluation.query_decay}: it weights a query's tracks by "
            "their position, but the order check found the rows sorted by title, so positions "
            "are alphabetical. Set evaluation.query_decay: 1.0 for this file."
        )
    if evaluation.protocol != "auto":
        protocol = evaluation.protocol
        reason = f"set in parameters (evaluation.protocol: {protocol})"
    elif track_order_report["next_track_is_meaningful"]:
        protocol = "next_track"
        reason = f"auto: rows are in play order — {track_order_report['explanation']}"
    else:
        protocol = "continuation"
        reason = f"auto: rows are sorted by title — {track_order_report['explanation']}"
    logger.info("Evaluation protocol: %s (%s)", protocol, reason)
    return {"protocol": protocol, "reason": reason}


def build_queries(playlists: Table, protocol: dict, evaluation: EvaluationParams) -> pd.DataFrame:
    """One query per evaluated playlist: the tracks given to the model and the one to find.

    ``next_track``: the target is the last track, the query the ``query_length`` tracks before
    it. ``continuation``: the target is a random track, the query the others (at most
    ``max_query_tracks``, a random subset in their playlist order). Playlists are a seeded sample
    of at most ``max_queries`` with two tracks or more; every candidate gets the same queries.

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
            target_at = len(playlist) - 1
            query = playlist[max(0, target_at - evaluation.query_length) : target_at]
        else:
            target_at = int(rng.integers(len(playlist)))
            rest = np.delete(np.arange(len(playlist)), target_at)
            if len(rest) > evaluation.max_query_tracks:
                rest = np.sort(rng.choice(rest, size=evaluation.max_query_tracks, replace=False))
            query = playlist[rest]
        rows.append((int(ids[p]), list(query), playlist[target_at]))
    logger.info("%d %s queries from %d playlists", len(rows), protocol["protocol"], len(lengths))
    return pd.DataFrame(rows, columns=["playlist_id", "query", "target"])


def as_queries(
    index: TrackIndex, queries: pd.DataFrame, evaluation: EvaluationParams
) -> tuple[list[Query], np.ndarray, np.ndarray]:
    """The queries in catalog indices, with their targets and which of them count.

    Returns:
        ``(queries, targets, counted)``: a :class:`Query` per row (its known tracks, weighted
        by recency), the target's catalog index (``-1`` if not in the catalog) and whether the
        query counts in the metrics — not when its target is already among its tracks (a
        playlist listing a track twice), which no recommender may return: a guaranteed miss.
    """
    found = (index.lookup([target]) for target in queries["target"])
    targets = np.array([i[0] if len(i) else -1 for i in found], dtype=np.int64)
    query_list = [Query.of(index.lookup(list(q)), evaluation.query_decay) for q in queries["query"]]
    counted = np.array(
        [
            target not in set(q)
            for q, target in zip(queries["query"], queries["target"], strict=True)
        ],
        dtype=bool,
    )
    return query_list, targets, counted
