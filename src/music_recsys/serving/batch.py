"""Next tracks for many playlists at once: the one ranking every batch path shares.

``kedro run --pipelines batch`` (DuckDB, or Spark's ``mapInPandas`` under ``--env spark``) and
the SageMaker Batch Transform reader all meet here. A playlist is asked what a client asks —
its last ``max_seeds`` tracks, oldest first (the evaluation's ``max_query_tracks``) — and
ranked with :meth:`music_recsys.core.ranking.Recommender.rank`, the evaluation's own code with
the recommender's recency weights; a batch is ranked in slices whose working memory stays
within ``budget_bytes`` (``evaluation.batch_bytes``), as the evaluation ranks.

The answer is one row per recommendation: :data:`COLUMNS`. ``fallback`` is true for a playlist
with no track the model knows: it gets the most popular tracks.

This module needs numpy and pandas only (no Kedro, DuckDB, Spark or TensorFlow): Spark ships
it to its Python workers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from music_recsys.core.catalog import Query
from music_recsys.core.evaluation import rank_in_batches
from music_recsys.core.ranking import Recommender

SEPARATOR = "|||"  # a track id is "<artist>|||<track>"
COLUMNS = ("playlist_id", "rank", "track_id", "artist", "track", "score", "fallback")


def rank_playlists(
    recommender: Recommender, playlists: pd.DataFrame, k: int, budget_bytes: int
) -> pd.DataFrame:
    """The top ``k`` next tracks of each playlist so far.

    Args:
        recommender: Any fitted recommender (the deployed or the selected one).
        playlists: ``playlist_id`` and ``seeds`` (the track ids to ask with, oldest first).
        k: Recommendations per playlist (fewer where the catalog runs out).
        budget_bytes: Memory for one slice of catalog scores.

    Returns:
        One row per recommendation, :data:`COLUMNS`, best first within a playlist (``rank``
        from 1); ``score`` float32 as the endpoint answers it.
    """
    index = recommender.index
    queries = [Query.of(index.lookup(list(seeds))) for seeds in playlists["seeds"]]
    top, scores, fell_back = rank_in_batches(recommender, queries, k, budget_bytes)
    real = top >= 0
    rows, ranks = np.nonzero(real)
    track_ids = index.track_ids[top[real]].astype(str)
    names = pd.Series(track_ids, dtype=object).str.split(SEPARATOR, n=1, regex=False)
    return pd.DataFrame(
        {
            "playlist_id": playlists["playlist_id"].to_numpy()[rows],
            "rank": (ranks + 1).astype(np.int32),
            "track_id": track_ids.astype(object),
            "artist": names.str[0].to_numpy(dtype=object),
            "track": names.str[1].to_numpy(dtype=object),
            "score": scores[real],
            "fallback": fell_back[rows],
        },
        columns=list(COLUMNS),
    )


def answers_to_rows(
    playlist_ids: list | np.ndarray, predictions: list[dict], fell_back: list[bool] | None = None
) -> pd.DataFrame:
    """The endpoint's answers (``{"track_ids": [...], "scores": [...]}`` per playlist, ``""``
    padding left out) as :data:`COLUMNS` rows: how a Batch Transform's output is read back.

    ``fell_back``: per playlist, whether it had no known track (the endpoint does not say; the
    caller knows from the catalog). Default: False.
    """
    flags = fell_back if fell_back is not None else [False] * len(predictions)
    rows = []
    for playlist_id, answer, fallback in zip(playlist_ids, predictions, flags, strict=True):
        ranked = [
            (track, score)
            for track, score in zip(answer["track_ids"], answer["scores"], strict=True)
            if track
        ]
        for rank, (track, score) in enumerate(ranked, start=1):
            artist, _, title = track.partition(SEPARATOR)
            rows.append((playlist_id, rank, track, artist, title, score, bool(fallback)))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype({"rank": np.int32, "score": np.float32, "fallback": bool})
