"""A blend: a weighted sum of a few candidates' scores, each normalised per query.

Each component ranks its top ``depth`` tracks for the query; their scores are min-max scaled
within that list (the best gets 1, the last 0; a list of equal scores counts 0), and a track's
blend score is the weighted sum over the components that listed it. The weights are a point of
the simplex (steps of ``grid_step``) chosen on the validation queries for the selection metric
(:mod:`.weights`).
Weights tuned on the very queries that score them would flatter the blend against candidates
that were not tuned there (by about one standard error on yes_small), so its validation figure
is cross-fitted (:mod:`.cross_fitting`): the queries fall into ``folds`` folds by playlist, and each fold is ranked
with the weights chosen on the other folds; the model keeps the weights chosen on all of them
(the test split scores those once). Components that read
the play order are left out when the rows are sorted by title. Scaled scores are summed in
float64 and rounded to float32 once, so that the Keras serving model ranks alike.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from pydantic import Field, field_validator

from music_recsys.core import metrics as m
from music_recsys.core.catalog import TrackIndex
from music_recsys.core.protocol import sits_out
from music_recsys.kinds import kind, registry
from music_recsys.kinds.blend.model import Blend, component_prefix
from music_recsys.kinds.contract import FitInputs, Fitted, Kind, Settings

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


def fit(inputs: FitInputs, settings: BlendSettings) -> Fitted:
    """Chooses the weights on the validation queries for the selection metric, and ranks each
    fold of them with the weights chosen on the others (the module doc says why).

    Returns:
        The blend; its training statistics (``fit_seconds``: the weight search; the weights,
        each fold's, and the value they reach on the queries they were tuned on); and its
        cross-fitted answers on the validation queries, which the evaluation scores (their
        seconds: the components' lists and the blending, what evaluating any candidate times).
    """
    from music_recsys.core.evaluation import Answers  # noqa: PLC0415 - pandas: to fit only

    from .cross_fitting import component_lists, cross_fitted, folds_of  # noqa: PLC0415
    from .weights import search_weights  # noqa: PLC0415

    name, components = inputs.name or "blend", inputs.components
    queries, evaluation = inputs.validation_queries, inputs.evaluation
    kinds = registry()
    used = [c for c in settings.components if c in components]
    left_out = [
        c
        for c in used
        if sits_out(kinds[components[c].kind].needs_play_order, inputs.track_order_report)
    ]
    used = [c for c in used if c not in left_out]
    if left_out:
        logger.info(
            "%s: left out %s (reads the play order; rows are sorted by title)",
            name,
            ", ".join(left_out),
        )
    if not used:
        raise ValueError(f"{name}: no component left to blend (components: {settings.components})")
    models = [components[c] for c in used]
    for candidate, model in zip(used, models, strict=True):
        model.name = candidate  # the refit for deployment looks components up by name
    started = time.perf_counter()
    lists, targets, usable = component_lists(models, queries, evaluation, settings.depth, name)
    listed_seconds = time.perf_counter() - started
    started = time.perf_counter()
    metric, k = m.parse_metric(evaluation.selection_metric)
    folds = folds_of(queries["playlist_id"], settings.folds)
    weights, trials, held_out = search_weights(
        lists, targets, usable, settings.grid_step, lambda r: m.per_query(r, metric, k), folds
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
    ranked = cross_fitted(
        models, settings.depth, lists, held_out, folds, targets, usable, queries, evaluation
    )
    answers = Answers(ranked, listed_seconds + time.perf_counter() - started)
    # A component weighted 0 adds nothing to any score: the model leaves it out, so that
    # evaluating, refitting and serving the blend never rank (or refit, or ship) it.
    kept = np.flatnonzero(weights > 0)
    dropped = [used[i] for i in np.flatnonzero(weights <= 0)]
    if dropped:
        logger.info("%s: weight 0 for %s: left out of the model", name, ", ".join(dropped))
    model = Blend(
        models[0].index,
        name=name,
        components=[models[i] for i in kept],
        weights=weights[kept],
        depth=settings.depth,
    )
    stats = {
        "fit_seconds": fit_seconds,
        "weights": dict(zip(used, weights.tolist(), strict=True)),
        "left_out": left_out,
        "weighted_zero": dropped,
        "weight_trials": len(trials),
        "tuned_validation_value": tuned_value,
        "folds": settings.folds,
        "fold_weights": [dict(zip(used, w.tolist(), strict=True)) for w in held_out],
    }
    return Fitted(model, stats, answers)


def refit(inputs: FitInputs, settings: BlendSettings, evaluated) -> Blend:
    """Refits each component the evaluated blend kept (``inputs.refit_component``) and keeps
    its weights."""
    chosen = evaluated()
    models = [inputs.refit_component(component.name) for component in chosen.components]
    return Blend(
        TrackIndex.from_frame(inputs.track_index),
        name=chosen.name,
        components=models,
        weights=np.asarray(chosen.weights, dtype=np.float64),
        depth=settings.depth,
    )


def describe(model: Blend) -> dict:
    """What the package records of the blend beside its variables: components (by candidate,
    with their kinds, weights and own descriptions) and depth."""
    parts = []
    for position, (component, weight) in enumerate(
        zip(model.components, model.weights, strict=True)
    ):
        part = {
            "candidate": component.name,
            "kind": component.kind,
            "weight": float(weight),
            "recency": component.recency.describe(),
        }
        part["prefix"] = component_prefix(position)
        parts.append(part | kind(component.kind).recorded(component))
    return {"depth": model.depth, "components": parts}


def from_arrays(index, arrays: dict, name: str, description: dict | None = None) -> Blend:
    """The blend rebuilt from a package's variables and its :func:`describe` record: each
    component by its kind's own ``from_arrays``, from the variables under its prefix."""
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
    refit=refit,
    simplicity=6,
    reads_validation=True,
    components=lambda settings: settings.components,
    serving_layer="music_recsys.kinds.blend.serving:layer",
    arrays=(),  # its components', under component_prefix
    from_arrays=from_arrays,
    describe=describe,
)
