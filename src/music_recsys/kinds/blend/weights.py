"""The blend's weight search: every point of a simplex grid scored on the validation queries
in one pass over their lists, with each fold's best weights chosen without it."""

from __future__ import annotations

import itertools
import math

import numpy as np

from music_recsys.kinds.blend.model import normalised


def simplex(components: int, step: float) -> list[np.ndarray]:
    """Weight vectors on the simplex in steps of ``step``, every component's own first."""
    units = round(1 / step)
    points = [
        np.array(p, dtype=np.float64) / units
        for p in itertools.product(range(units + 1), repeat=components)
        if sum(p) == units
    ]
    return sorted(points, key=lambda p: (-p.max(), tuple(-p)))


def search_weights(
    lists: list[tuple[np.ndarray, np.ndarray]],
    targets: np.ndarray,
    usable: np.ndarray,
    step: float,
    per_query,
    folds: np.ndarray | None = None,
) -> tuple[np.ndarray, list[dict], list[np.ndarray]]:
    """The grid point with the best mean of ``per_query(ranks)`` (each usable query's metric
    value) over the usable queries (ties: the first in :func:`simplex`'s order, i.e. the one
    nearest a single component), and with ``folds`` (each query's fold, 0 to F - 1) the best
    over the usable queries outside each fold, from the same pass over the grid.

    Ranks are those of the blended lists (the target's position among the tracks with a
    positive blend score, ties to the lower index); tracks only the fill would add are not
    ranked, which changes nothing at K up to the components' depth.

    Returns:
        ``(best, trials, held_out)``: the weights, every grid point with its value, and per
        fold the weights chosen without it (the best overall where no other fold has a usable
        query; empty without ``folds``).
    """
    n_queries = len(targets)
    ids = np.concatenate([top for top, _ in lists], axis=1)
    row_of = np.broadcast_to(np.arange(n_queries)[:, None], ids.shape)
    keep = ids >= 0
    width = int(max(ids.max(initial=0), targets.max(initial=0))) + 1
    keys = row_of[keep].astype(np.int64) * width + ids[keep]
    unique, inverse = np.unique(keys, return_inverse=True)
    key_rows, key_ids = unique // width, unique % width
    scaled = [normalised(top, scores) for top, scores in lists]
    target_keys = np.arange(n_queries, dtype=np.int64) * width + np.maximum(targets, 0)
    where = np.minimum(np.searchsorted(unique, target_keys), len(unique) - 1)
    found = (
        (unique[where] == target_keys) & (targets >= 0)
        if len(unique)
        else np.zeros(n_queries, bool)
    )
    n_folds = int(folds.max(initial=-1)) + 1 if folds is not None else 0
    fold_of = folds[usable] if folds is not None else None
    held, held_value = [None] * n_folds, np.full(n_folds, -np.inf)
    grid = simplex(len(lists), step)
    best, best_value, trials = grid[0], -np.inf, []
    for weights in grid:
        contributions = np.concatenate(
            [s * w for s, w in zip(scaled, weights, strict=True)], axis=1
        )[keep]
        blended = np.bincount(inverse, weights=contributions, minlength=len(unique))
        target_score = np.where(found, blended[where], 0.0)
        scored = found & (target_score > 0)
        ahead = (blended > target_score[key_rows]) | (
            (blended == target_score[key_rows]) & (key_ids < targets[key_rows])
        )
        ahead &= blended > 0
        ranks = np.bincount(key_rows, weights=ahead, minlength=n_queries)
        values = np.asarray(per_query(np.where(scored, ranks, np.inf)[usable]), dtype=np.float64)
        value = float(values.mean()) if len(values) else math.nan
        trials.append({"weights": weights.round(6).tolist(), "value": value})
        if value > best_value:
            best, best_value = weights, value
        if n_folds:
            sums = np.bincount(fold_of, weights=values, minlength=n_folds)
            sizes = np.bincount(fold_of, minlength=n_folds)
            with np.errstate(invalid="ignore", divide="ignore"):
                outside = (sums.sum() - sums) / (sizes.sum() - sizes)
            for fold in np.flatnonzero(outside > held_value):
                held[fold], held_value[fold] = weights, outside[fold]
    return best, trials, [best if w is None else w for w in held]
