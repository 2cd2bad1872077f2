"""A blend: a weighted sum of a few candidates' scores, each normalised per query.

Each component ranks its top ``depth`` tracks for the query; their scores are min-max scaled
within that list (the best gets 1, the last 0; a list of equal scores counts 0), and a track's
blend score is the weighted sum over the components that listed it. The weights are a point of
the simplex (steps of ``grid_step``) chosen on the validation queries for the selection metric.
Weights tuned on the very queries that score them would flatter the blend against candidates
that were not tuned there (by about one standard error on yes_small), so its validation figure
is cross-fitted: the queries fall into ``folds`` folds by playlist, and each fold is ranked
with the weights chosen on the other folds; the model keeps the weights chosen on all of them
(the test split scores those once). Components that read
the play order are left out when the rows are sorted by title. Scaled scores are summed in
float64 and rounded to float32 once, so that the Keras serving model ranks alike.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from pydantic import Field, field_validator

from music_recsys.core.catalog import Query
from music_recsys.core.ranking import Recommender, rank_sparse
from music_recsys.kinds import Kind, Settings

logger = logging.getLogger(__name__)


class BlendSettings(Settings):
    """Which candidates to blend, how deep to read each one's list, how fine the weight grid."""

    components: tuple[str, ...] = Field(min_length=1)
    depth: int = Field(100, ge=1)
    grid_step: float = Field(0.1, gt=0, le=1)
    folds: int = Field(5, ge=2)

    @field_validator("components")
    @classmethod
    def _distinct(cls, components: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(components)) != len(components):
            raise ValueError("blend components must be distinct candidates")
        return components


@dataclass
class Blend(Recommender):
    """Weighted sum of its components' per-query normalised scores (see the module doc)."""

    components: list[Recommender] = None
    weights: np.ndarray = None  # float64 [components]
    depth: int = 100
    kind: str = field(default="blend", init=False)

    def _blended(self, queries: list[Query]) -> sp.csr_matrix:
        lists = [c.rank(queries, self.depth)[:2] for c in self.components]
        return combine(lists, self.weights, len(self.index))

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        return self._blended(queries).toarray().astype(np.float32)

    def rank(self, queries: list[Query], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._ranked(self._blended(queries), queries, k)

    def rank_listed(self, lists, queries: list[Query], k: int):
        """:meth:`rank` from the components' ``(top, scores)`` at ``depth`` for ``queries``,
        already ranked (the cross-fitted validation ranks the lists once for every fold)."""
        return self._ranked(combine(lists, self.weights, len(self.index)), queries, k)

    def _ranked(self, product: sp.csr_matrix, queries: list[Query], k: int):
        return rank_sparse(product, queries, k, self.index.counts.astype(np.float32))

    def rank_cost(self, query: Query) -> int:
        return sum(c.rank_cost(query) for c in self.components) + 64 * self.depth


def normalised(top: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Min-max scaling of each row's listed scores (float64; 0 where not listed or flat)."""
    listed = top >= 0
    values = scores.astype(np.float64)
    high = np.where(listed, values, -np.inf).max(axis=1, initial=-np.inf)[:, None]
    low = np.where(listed, values, np.inf).min(axis=1, initial=np.inf)[:, None]
    spread = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(listed & (spread > 0), (values - low) / spread, 0.0)
    return scaled


def combine(lists: list[tuple[np.ndarray, np.ndarray]], weights: np.ndarray, n: int):
    """The blend's scores as a sparse ``[queries, n]`` float32 matrix, from each component's
    ``(top, scores)``."""
    rows, cols, values = [], [], []
    for (top, scores), weight in zip(lists, weights, strict=True):
        scaled = normalised(top, scores) * weight
        listed = (top >= 0) & (scaled > 0)
        rows.append(np.nonzero(listed)[0])
        cols.append(top[listed])
        values.append(scaled[listed])
    queries = lists[0][0].shape[0] if lists else 0
    blended = sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(queries, n),
        dtype=np.float64,
    )
    blended.sum_duplicates()
    blended.data = blended.data.astype(np.float32)
    return blended


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


def folds_of(playlist_ids, folds: int) -> np.ndarray:
    """Each query's fold, from a hash of its playlist's id (the same for the same id)."""
    import pandas as pd  # noqa: PLC0415 - kinds import numpy, scipy and pydantic only at the top

    hashed = pd.util.hash_pandas_object(pd.Series(playlist_ids).astype(str), index=False)
    return (hashed.to_numpy() % np.uint64(folds)).astype(np.int64)


def fit(playlists, track_index, track_order_report: dict, settings: BlendSettings):
    raise NotImplementedError("A blend is fitted from its components: see fit_blend")


def fit_blend(
    validation_queries,
    evaluation,
    track_order_report: dict,
    blend: BlendSettings,
    name: str = "blend",
    **components: Recommender,
) -> tuple[Blend, dict, dict]:
    """Chooses the weights on the validation queries for the selection metric, and ranks each
    fold of them with the weights chosen on the others (the module doc says why).

    Args:
        validation_queries: The validation split's queries (``playlist_id``, ``query``,
            ``target``).
        evaluation: How candidates are evaluated (the selection metric, the query decay).
        track_order_report: data_processing's order check.
        blend: The blend's settings.
        name: The candidate's name.
        **components: The fitted components, by candidate name.

    Returns:
        The blend, its training statistics (``fit_seconds``: the weight search; the weights,
        each fold's, and the value they reach on the queries they were tuned on), and the
        cross-fitted answers for :func:`evaluate_cross_fitted` (``ranked``, ``seconds``: the
        components' lists and the blending, what evaluating any candidate times).
    """
    from music_recsys.core import metrics as m  # noqa: PLC0415
    from music_recsys.core.training_rows import in_play_order  # noqa: PLC0415
    from music_recsys.kinds import registry  # noqa: PLC0415

    kinds = registry()
    used = [c for c in blend.components if c in components]
    left_out = []
    if not in_play_order(track_order_report):
        left_out = [c for c in used if kinds[components[c].kind].needs_play_order]
        used = [c for c in used if c not in left_out]
        if left_out:
            logger.info(
                "%s: left out %s (reads the play order; rows are sorted by title)",
                name,
                ", ".join(left_out),
            )
    if not used:
        raise ValueError(f"{name}: no component left to blend (components: {blend.components})")
    models = [components[c] for c in used]
    for candidate, model in zip(used, models, strict=True):
        model.name = candidate  # the refit for deployment looks components up by name
    index = models[0].index
    started = time.perf_counter()
    lists, targets, usable = component_lists(
        models, validation_queries, evaluation, blend.depth, name
    )
    listed_seconds = time.perf_counter() - started
    started = time.perf_counter()
    kind_name, k = m.parse_metric(evaluation.selection_metric)
    folds = folds_of(validation_queries["playlist_id"], blend.folds)
    weights, trials, held_out = search_weights(
        lists, targets, usable, blend.grid_step, lambda r: m.per_query(r, kind_name, k), folds
    )
    fit_seconds = time.perf_counter() - started
    tuned_value = max((t["value"] for t in trials), default=math.nan)
    logger.info(
        "%s: weights %s for %s (validation %s %.4f over %d weightings, tuned on those queries)",
        name,
        dict(zip(used, weights.round(3).tolist(), strict=True)),
        ", ".join(used),
        evaluation.selection_metric,
        tuned_value,
        len(trials),
    )
    started = time.perf_counter()
    ranked = _cross_fitted(
        models, blend.depth, lists, held_out, folds, targets, usable, validation_queries, evaluation
    )
    cross_fitted = {"ranked": ranked, "seconds": listed_seconds + time.perf_counter() - started}
    # A component weighted 0 adds nothing to any score: the model leaves it out, so that
    # evaluating, refitting and serving the blend never rank (or refit, or ship) it.
    kept = np.flatnonzero(weights > 0)
    dropped = [used[i] for i in np.flatnonzero(weights <= 0)]
    if dropped:
        logger.info("%s: weight 0 for %s: left out of the model", name, ", ".join(dropped))
    model = Blend(
        index,
        name=name,
        components=[models[i] for i in kept],
        weights=weights[kept],
        depth=blend.depth,
    )
    return (
        model,
        {
            "fit_seconds": fit_seconds,
            "weights": dict(zip(used, weights.tolist(), strict=True)),
            "left_out": left_out,
            "weighted_zero": dropped,
            "weight_trials": len(trials),
            "tuned_validation_value": tuned_value,
            "folds": blend.folds,
            "fold_weights": [dict(zip(used, w.tolist(), strict=True)) for w in held_out],
        },
        cross_fitted,
    )


def component_lists(models: list[Recommender], queries, evaluation, depth: int, name: str):
    """Each model's ``(top, scores)`` at ``depth`` (at most the catalog) for ``queries``, with
    the targets and which queries count: what the blend combines.

    Ranked in batches within ``evaluation.batch_bytes``, as the evaluation ranks (all queries
    at once would hold every seed's playlists at full size); ``name`` labels the progress log.
    """
    from music_recsys.core.evaluation import rank_targets  # noqa: PLC0415

    depth = min(depth, len(models[0].index))
    listing = evaluation.model_copy(
        update={"k": (depth,), "selection_metric": f"hit_rate_at_{depth}"}
    )
    ranked = [rank_targets(m, queries, listing, what=f"{name}: {m.name}") for m in models]
    return [(r.top, r.scores) for r in ranked], ranked[-1].targets, ranked[-1].counted


def _cross_fitted(models, depth, lists, held_out, folds, targets, usable, queries, evaluation):
    """The validation queries' answers, each fold's those of the blend of ``models`` with the
    weights chosen without it."""
    from music_recsys.core import metrics as m  # noqa: PLC0415
    from music_recsys.core.evaluation import Ranked  # noqa: PLC0415
    from music_recsys.core.queries import as_queries  # noqa: PLC0415

    index = models[0].index
    query_list = as_queries(index, queries, evaluation)[0]
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


def evaluate_cross_fitted(recommender: Blend, cross_fitted: dict, validation_queries, evaluation):
    """The blend's validation figures, as :func:`~music_recsys.pipelines.data_science.
    evaluation.evaluate` gives every candidate's, from its cross-fitted answers."""
    from music_recsys.core.evaluation import summarise  # noqa: PLC0415

    return summarise(
        recommender,
        cross_fitted["ranked"],
        validation_queries,
        evaluation,
        cross_fitted["seconds"],
    )


def nodes(candidate, candidates):
    """The blend's fit node (its components' fitted models and the validation queries in) and
    its evaluation node, which scores the fit's cross-fitted answers instead of ranking again."""
    from kedro.pipeline import Node  # noqa: PLC0415

    from music_recsys.pipelines.data_science.pipeline import partial_named  # noqa: PLC0415

    settings = candidate.validated()
    missing = [c for c in settings.components if c not in candidates]
    if missing:
        raise ValueError(
            f"Blend '{candidate.name}' names components that are not candidates: {missing}"
        )
    inputs = {
        "validation_queries": "validation_queries",
        "evaluation": "params:evaluation",
        "track_order_report": "track_order_report",
        "blend": "params:blend",
    } | {c: f"{c}.recommender@model" for c in settings.components}
    fit_node = Node(
        partial_named(fit_blend, name=candidate.name),
        inputs,
        ["recommender@model", "training_metrics", "cross_fitted_validation"],
        name="fit_node",
        tags="training",
    )
    evaluate_node = Node(
        evaluate_cross_fitted,
        ["recommender@model", "cross_fitted_validation", "validation_queries", "params:evaluation"],
        ["validation_metrics", "validation_ranks"],
        name="evaluate_validation_node",
        tags="evaluation",
    )
    components = {f"{c}.recommender@model": f"{c}.recommender@model" for c in settings.components}
    return [fit_node, evaluate_node], components


def refit(rows, index, track_order_report, settings: BlendSettings, evaluated, candidates):
    """Refits each component on ``rows`` and keeps the evaluated weights."""
    from music_recsys.core.catalog import TrackIndex  # noqa: PLC0415

    chosen = evaluated()
    weights = dict(zip(_names(chosen), chosen.weights, strict=True))
    models = []
    for name in weights:
        component = candidates[name]
        model, _ = component.kind.fit(rows, index, track_order_report, component.validated())
        model.name = name
        models.append(model)
    return Blend(
        TrackIndex.from_frame(index),
        name=chosen.name,
        components=models,
        weights=np.array(list(weights.values())),
        depth=settings.depth,
    )


def _names(blend: Blend) -> list[str]:
    return [c.name for c in blend.components]


def component_prefix(position: int) -> str:
    """How the variables of the blend's component at ``position`` are named in the package:
    ``component<position>__<variable>``."""
    return f"component{position}__"


def describe(model: Blend) -> dict:
    """What the package records of the blend beside its variables: components (by candidate,
    with their kinds, weights and own descriptions) and depth."""
    from music_recsys.kinds import kind  # noqa: PLC0415

    parts = []
    for position, (component, weight) in enumerate(
        zip(model.components, model.weights, strict=True)
    ):
        part = {"candidate": component.name, "kind": component.kind, "weight": float(weight)}
        part["prefix"] = component_prefix(position)
        parts.append(part | kind(component.kind).recorded(component))
    return {"depth": model.depth, "components": parts}


def from_arrays(index, arrays: dict, name: str, description: dict) -> Blend:
    """The blend rebuilt from a package's variables and its :func:`describe` record: each
    component by its kind's own ``from_arrays``, from the variables under its prefix."""
    from music_recsys.kinds import kind  # noqa: PLC0415

    components = []
    for part in description["components"]:
        prefix = part["prefix"]
        own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        own["popularity"] = arrays["popularity"]
        component = kind(part["kind"]).rebuild(
            index, own, part["candidate"], part.get("recommender")
        )
        components.append(component)
    weights = np.array([part["weight"] for part in description["components"]], dtype=np.float64)
    return Blend(
        index, name=name, components=components, weights=weights, depth=description["depth"]
    )


KIND = Kind(
    name="blend",
    settings=BlendSettings,
    fit=fit,
    simplicity=6,
    nodes=nodes,
    refit=refit,
    from_arrays=from_arrays,
    describe=describe,
)
