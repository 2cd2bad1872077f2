"""Ranking metrics, one function each, all over the whole catalog.

Every query has one target track. ``ranks`` holds, per query, the 0-based position of the target
in the model's ranking of the whole catalog, or ``inf`` when it is not among the ranked top
(ranks beyond the largest K evaluated are not needed by any metric at K).

:data:`METRICS` names each ranking metric once: the evaluation computes those that
``evaluation.metrics`` lists, and the parameters' validation, the results table, MLflow, the
report and the plots read their names, labels and direction from it. Adding a metric is one
per-query function registered here and its name in ``evaluation.metrics``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

MISS = np.inf


def target_ranks(top: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Position of each target in its row of ``top`` (``inf`` where absent or unknown).

    Args:
        top: ``[queries, k]`` catalog indices, best first (``-1`` for empty slots).
        targets: ``[queries]`` catalog index of each target (``-1`` for a track not in the
            catalog, which no model can recommend).
    """
    hits = (top == targets[:, None]) & (targets[:, None] >= 0)
    ranks = np.full(len(targets), MISS)
    rows, positions = np.nonzero(hits)
    ranks[rows] = positions
    return ranks


@dataclass(frozen=True)
class Metric:
    """A ranking metric at K: each query's value from its target rank (the evaluation reports
    their mean and its standard error), the label figures give it, and which way is better
    (the selection picks the candidate that maximises its metric)."""

    per_query: Callable[[np.ndarray, int], np.ndarray]  # (ranks, k) → one value per query
    label: str
    higher_is_better: bool = True


def _hit_rate(ranks: np.ndarray, k: int) -> np.ndarray:
    """1 when the target is in the top ``k``."""
    return (ranks < k).astype(np.float64)


def _mrr(ranks: np.ndarray, k: int) -> np.ndarray:
    """1 / (rank + 1) inside the top ``k`` (reciprocal rank, cut at ``k``)."""
    return np.where(ranks < k, 1.0 / (np.minimum(ranks, k) + 1.0), 0.0)


def _ndcg(ranks: np.ndarray, k: int) -> np.ndarray:
    """1 / log2(rank + 2) inside the top ``k`` (one relevant track: its DCG is its NDCG)."""
    return np.where(ranks < k, 1.0 / np.log2(np.minimum(ranks, k) + 2.0), 0.0)


# Every ranking metric by name, in the order tables and figures show them.
METRICS: dict[str, Metric] = {
    "hit_rate": Metric(_hit_rate, "hit rate"),
    "mrr": Metric(_mrr, "MRR"),
    "ndcg": Metric(_ndcg, "NDCG"),
}
# The metric of the figures that read one only: hit rate by popularity, coverage against it,
# and the report's hit rate at 1 and at the largest K.
HIT_RATE = "hit_rate"


def per_query(ranks: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Each query's own value of ``metric`` (a name in :data:`METRICS`) at ``k``: the terms
    whose mean the metric is (what the evaluation reports), from which standard errors are
    computed."""
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}")
    return METRICS[metric].per_query(ranks, k)


def mean(values: np.ndarray) -> float:
    """The mean of per-query values (NaN for none)."""
    return float(values.mean()) if len(values) else float("nan")


def standard_error(values: np.ndarray) -> float:
    """Standard error of the mean of ``values`` (NaN for fewer than two)."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def parse_metric(name: str) -> tuple[str, int]:
    """``"hit_rate_at_10"`` → ``("hit_rate", 10)``."""
    metric, _, k = name.rpartition("_at_")
    return metric, int(k)


def evaluated(columns: Iterable[str]) -> dict[str, list[int]]:
    """The registered metrics among ``columns`` and the K each is there at, in
    :data:`METRICS`' order: ``["hit_rate_at_10", "hit_rate_at_10_se", "mrr_at_1"]`` →
    ``{"hit_rate": [10], "mrr": [1]}`` (what a results table holds, read back)."""
    found: dict[str, set[int]] = {}
    for column in columns:
        metric, _, k = str(column).rpartition("_at_")
        if metric in METRICS and k.isdigit():
            found.setdefault(metric, set()).add(int(k))
    return {metric: sorted(found[metric]) for metric in METRICS if metric in found}


def coverage(top: np.ndarray, k: int, n_tracks: int) -> float:
    """Share of the catalog that appears in at least one top-``k`` list. Range [0, 1]."""
    shown = top[:, :k]
    return float(len(np.unique(shown[shown >= 0])) / n_tracks) if n_tracks else float("nan")


def mean_popularity(top: np.ndarray, k: int, counts: np.ndarray) -> float:
    """Mean training popularity (rows) of the recommended tracks in the top ``k``. Range ≥ 0."""
    shown = top[:, :k]
    shown = shown[shown >= 0]
    return float(counts[shown].mean()) if len(shown) else float("nan")


def popularity_buckets(
    counts: np.ndarray, shares: tuple[float, float] = (1 / 3, 2 / 3)
) -> np.ndarray:
    """``head``, ``torso`` or ``tail`` per catalog track (indexed most popular first).

    The head is the most popular tracks that together make the first ``shares[0]`` of training
    rows, the torso the next ones up to ``shares[1]``, the tail the rest.
    """
    cumulative = np.cumsum(counts) / max(counts.sum(), 1)
    before = np.concatenate([[0.0], cumulative[:-1]])
    return np.where(before < shares[0], "head", np.where(before < shares[1], "torso", "tail"))


def hit_rate_by_bucket(ranks: np.ndarray, targets: np.ndarray, buckets: np.ndarray, k: int) -> dict:
    """Hit rate at ``k`` and number of queries, per popularity bucket of the target.

    Targets outside the catalog form the ``unseen`` bucket (their hit rate is 0 by necessity).
    """
    labels = np.where(targets >= 0, buckets[np.maximum(targets, 0)], "unseen")
    return {
        bucket: {
            HIT_RATE: mean(per_query(ranks[labels == bucket], HIT_RATE, k)),
            "queries": int((labels == bucket).sum()),
        }
        for bucket in ("head", "torso", "tail", "unseen")
    }
