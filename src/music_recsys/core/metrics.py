"""Ranking metrics, one function each, all over the whole catalog.

Every query has one target track. ``ranks`` holds, per query, the 0-based position of the target
in the model's ranking of the whole catalog, or ``inf`` when it is not among the ranked top
(ranks beyond the largest K evaluated are not needed by any metric at K).
"""

from __future__ import annotations

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


def per_query(ranks: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Each query's own value of ``metric`` at ``k``: the terms whose mean the metric is (what
    the evaluation reports), from which standard errors are computed. Each is in [0, 1]:

    - ``hit_rate``: 1 when the target is in the top ``k``;
    - ``mrr``: 1 / (rank + 1) inside the top ``k`` (reciprocal rank, cut at ``k``);
    - ``ndcg``: 1 / log2(rank + 2) inside the top ``k`` (one relevant track: its DCG is its
      NDCG).
    """
    capped = np.minimum(ranks, k)
    inside = ranks < k
    if metric == "hit_rate":
        return inside.astype(np.float64)
    if metric == "mrr":
        return np.where(inside, 1.0 / (capped + 1.0), 0.0)
    if metric == "ndcg":
        return np.where(inside, 1.0 / np.log2(capped + 2.0), 0.0)
    raise ValueError(f"Unknown metric {metric!r}")


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
            "hit_rate": mean(per_query(ranks[labels == bucket], "hit_rate", k)),
            "queries": int((labels == bucket).sum()),
        }
        for bucket in ("head", "torso", "tail", "unseen")
    }
