"""Cross-fitting the blend's validation figure: the validation queries fall into folds by
playlist, and each fold is ranked with the weights chosen on the other folds, so that the
selection never sees weights scored on the queries that tuned them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from music_recsys.core import metrics as m
from music_recsys.core.evaluation import Ranked, rank_targets
from music_recsys.core.queries import as_queries
from music_recsys.core.ranking import Recommender
from music_recsys.kinds.blend.model import Blend


def folds_of(playlist_ids, folds: int) -> np.ndarray:
    """Each query's fold, from a hash of its playlist's id (the same for the same id)."""
    hashed = pd.util.hash_pandas_object(pd.Series(playlist_ids).astype(str), index=False)
    return (hashed.to_numpy() % np.uint64(folds)).astype(np.int64)


def component_lists(models: list[Recommender], queries, evaluation, depth: int, name: str):
    """Each model's ``(top, scores)`` at ``depth`` (at most the catalog) for ``queries``, with
    the targets and which queries count: what the blend combines.

    Ranked in batches within ``evaluation.batch_bytes``, as the evaluation ranks (all queries
    at once would hold every seed's playlists at full size); ``name`` labels the progress log.
    """
    depth = min(depth, len(models[0].index))
    listing = evaluation.cut_at(depth)
    ranked = [rank_targets(m, queries, listing, what=f"{name}: {m.name}") for m in models]
    return [(r.top, r.scores) for r in ranked], ranked[-1].targets, ranked[-1].counted


def cross_fitted(models, depth, lists, held_out, folds, targets, usable, queries, evaluation):
    """The validation queries' answers, each fold's those of the blend of ``models`` with the
    weights chosen without it."""
    index = models[0].index
    query_list = as_queries(index, queries)[0]
    k_max = max(evaluation.k)
    top = np.full((len(query_list), min(k_max, len(index))), -1, dtype=np.int64)
    scores = np.zeros(top.shape, dtype=np.float32)
    fell_back = np.zeros(len(query_list), dtype=bool)
    for fold, weights in enumerate(held_out):
        rows = np.flatnonzero(folds == fold)
        if len(rows):
            fold_blend = Blend(index, components=models, weights=weights, depth=depth)
            top[rows], scores[rows], fell_back[rows] = fold_blend.rank_listed(
                [(t[rows], s[rows]) for t, s in lists], [query_list[i] for i in rows], k_max
            )
    no_score = (scores[:, 0] <= 0) if top.shape[1] else np.ones(len(query_list), dtype=bool)
    return Ranked(top, scores, m.target_ranks(top, targets), targets, fell_back | no_score, usable)
