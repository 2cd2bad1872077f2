"""Evaluation: every candidate ranks the whole catalog for the same queries.

The rules that make its numbers trustworthy:

- the whole catalog is ranked for every query (no sampled negatives; Krichene & Rendle 2020);
- playlists are held out whole (the split of data_processing), the same queries for everyone;
- a query whose target is among its own tracks can never be hit (recommenders never return a
  query track): such guaranteed misses are counted and left out of the metrics;
- every metric comes with its standard error, and each query's target rank is kept, so that
  the selection can compare candidates query by query (paired standard errors).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import pandas as pd

from music_recsys.core import metrics as m
from music_recsys.core.catalog import Query
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.queries import as_queries
from music_recsys.core.ranking import Recommender
from music_recsys.progress import Progress

logger = logging.getLogger(__name__)


class Ranked(NamedTuple):
    """What a recommender answered for a set of queries (see :func:`rank_targets`)."""

    top: np.ndarray  # int64 [queries, K]: catalog indices, best first; -1 where none is left
    scores: np.ndarray  # float32 [queries, K]
    ranks: np.ndarray  # float [queries]: 0-based rank of the target in top, inf if absent
    targets: np.ndarray  # int64 [queries]: catalog index of the target, -1 if not in the catalog
    fell_back: np.ndarray  # bool [queries]: no known query track, or no positive score
    counted: np.ndarray  # bool [queries]: False for a guaranteed miss (target in the query)


class Answers(NamedTuple):
    """A recommender's answers on a set of queries, ranked already (a blend's cross-fitted
    validation answers), and what ranking them took: :func:`summarise` scores them."""

    ranked: Ranked
    seconds: float


def batches(queries: list[Query], cost, budget_bytes: int) -> Iterator[slice]:
    """Consecutive slices of ``queries`` whose summed ``cost(query)`` stays within the budget
    (a slice holds at least one query, however costly)."""
    start, used = 0, 0
    for i, query in enumerate(queries):
        need = cost(query)
        if i > start and used + need > budget_bytes:
            yield slice(start, i)
            start, used = i, 0
        used += need
    if start < len(queries):
        yield slice(start, len(queries))


def rank_in_batches(
    recommender: Recommender,
    queries: list[Query],
    k: int,
    budget_bytes: int,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`Recommender.rank` of every query, in slices whose working memory stays within
    ``budget_bytes`` (by the recommender's own estimate): ``(top, scores, fell_back)`` with
    ``min(k, catalog)`` columns. ``progress`` is advanced slice by slice."""
    width = min(k, len(recommender.index))
    top = np.full((len(queries), width), -1, dtype=np.int64)
    scores = np.zeros((len(queries), width), dtype=np.float32)
    fell_back = np.zeros(len(queries), dtype=bool)
    for part in batches(queries, recommender.rank_cost, budget_bytes):
        top[part], scores[part], fell_back[part] = recommender.rank(queries[part], k)
        if progress is not None:
            progress.advance(part.stop - part.start)
    return top, scores, fell_back


def rank_targets(
    recommender: Recommender, queries: pd.DataFrame, evaluation: EvaluationParams, what: str = ""
) -> Ranked:
    """Top-K lists, their scores, target ranks and fallbacks of a recommender on a set of queries.

    Queries are ranked in batches whose working memory stays within ``evaluation.batch_bytes``
    (by the recommender's own estimate), and progress is logged every 30 s.
    """
    index = recommender.index
    k_max = max(evaluation.k)
    if k_max > len(index):
        logger.warning(
            "evaluation.k goes up to %d but the catalog has %d tracks: lists are cut at %d, so "
            "metrics at larger K equal those at %d",
            k_max,
            len(index),
            len(index),
            len(index),
        )
    query_list, targets, counted = as_queries(index, queries)
    progress = Progress(logger, what or recommender.name, len(query_list), "queries")
    top, scores, fell_back = rank_in_batches(
        recommender, query_list, k_max, evaluation.batch_bytes, progress
    )
    no_score = (scores[:, 0] <= 0) if top.shape[1] else np.ones(len(query_list), dtype=bool)
    return Ranked(top, scores, m.target_ranks(top, targets), targets, fell_back | no_score, counted)


def evaluate(
    recommender: Recommender, queries: pd.DataFrame, evaluation: EvaluationParams, name: str = ""
) -> tuple[dict, pd.DataFrame]:
    """Every metric of one recommender on one set of queries, ranking the whole catalog.

    ``name`` is what the log calls it (its candidate's name; by default the recommender's own,
    which is its kind's until selection or deployment names it after its candidate).

    Returns:
        The metrics — ``<metric>_at_K`` for each of ``evaluation.metrics`` (each with its
        standard error, ``<metric>_at_K_se``) and ``coverage_at_K`` for each K,
        ``mean_popularity_at_10``, ``hit_rate_at_10_<bucket>`` for head / torso / tail / unseen targets (and their query
        counts), ``fallback_rate`` (no known query track, or no positive score),
        ``unseen_target_rate``, ``queries`` (counted), ``guaranteed_misses`` (left out) and
        ``evaluation_seconds`` — and each query's target rank (``playlist_id``, ``rank``,
        ``counted``), for paired comparisons.
    """
    started = time.perf_counter()
    ranked = rank_targets(recommender, queries, evaluation, what=name)
    seconds = time.perf_counter() - started
    return summarise(recommender, ranked, queries, evaluation, seconds, name=name)


def summarise(
    recommender: Recommender,
    ranked: Ranked,
    queries: pd.DataFrame,
    evaluation: EvaluationParams,
    seconds: float,
    name: str = "",
) -> tuple[dict, pd.DataFrame]:
    """:func:`evaluate`'s figures from what ``recommender`` answered for ``queries``
    (``seconds``: what answering took; ``name``: as in :func:`evaluate`)."""
    counted = ranked.counted
    top, ranks, targets = ranked.top[counted], ranked.ranks[counted], ranked.targets[counted]
    counts = recommender.index.counts
    result: dict[str, float] = {}
    for k in evaluation.k:
        for metric in evaluation.metrics:
            values = m.per_query(ranks, metric, k)
            result[f"{metric}_at_{k}"] = m.mean(values)
            result[f"{metric}_at_{k}_se"] = m.standard_error(values)
        result[f"coverage_at_{k}"] = m.coverage(top, k, len(counts))
    k_report = m.parse_metric(evaluation.selection_metric)[1]  # the K the report reads
    result[f"mean_popularity_at_{k_report}"] = m.mean_popularity(top, k_report, counts)
    by_bucket = m.hit_rate_by_bucket(ranks, targets, m.popularity_buckets(counts), k_report)
    for bucket, values in by_bucket.items():
        result[f"{m.HIT_RATE}_at_{k_report}_{bucket}"] = values[m.HIT_RATE]
        result[f"queries_{bucket}"] = values["queries"]
    fell_back = ranked.fell_back[counted]
    result["fallback_rate"] = float(fell_back.mean()) if len(fell_back) else math.nan
    result["unseen_target_rate"] = float((targets < 0).mean()) if len(targets) else math.nan
    result["queries"] = int(counted.sum())
    result["guaranteed_misses"] = int((~counted).sum())
    result["evaluation_seconds"] = seconds
    figures = ", ".join(
        f"{metric}@{k_report} {result[f'{metric}_at_{k_report}']:.4f} ± "
        f"{result[f'{metric}_at_{k_report}_se']:.4f}"
        for metric in evaluation.metrics
    )
    logger.info(
        "%s: %s, fallback %.1f%% on %d queries (%d guaranteed misses left out; %.1f s)",
        name or recommender.name,
        figures,
        100 * result["fallback_rate"],
        result["queries"],
        result["guaranteed_misses"],
        result["evaluation_seconds"],
    )
    per_query = pd.DataFrame(
        {"playlist_id": queries["playlist_id"].to_numpy(), "rank": ranked.ranks, "counted": counted}
    )
    return result, per_query
