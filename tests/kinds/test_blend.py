"""The blend: normalised lists, weights chosen on validation, cross-fitted figures."""

import numpy as np
import pandas as pd
import pytest

from music_recsys.core.evaluation import evaluate, summarise
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.queries import as_queries
from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from music_recsys.kinds.blend import BlendSettings
from music_recsys.kinds.blend.cross_fitting import folds_of
from music_recsys.kinds.blend.model import Blend, combine
from music_recsys.kinds.blend.weights import search_weights
from music_recsys.kinds.cooccurrence import CooccurrenceSettings
from music_recsys.kinds.playlist_knn import PlaylistKnnSettings
from tests.shared import ORDERED, fit, playlists

TRAIN = playlists(*["a b c", "b c d", "a c e", "d e f", "a f"] * 4)


def _fitted_components():
    train = relation(TRAIN)
    index = build_track_index(train)
    co = fit("cooccurrence", train, CooccurrenceSettings(window=2), index=index).recommender
    kn = fit("playlist_knn", train, PlaylistKnnSettings(neighbours=3), index=index).recommender
    return {"cooccurrence": co, "playlist_knn": kn}


def fit_blend(validation, evaluation, settings, components):
    """The blend fitted through its contract: (model, stats, cross-fitted answers)."""
    fitted = fit(
        "blend",
        TRAIN,
        settings,
        ORDERED,
        validation_queries=validation,
        evaluation=evaluation,
        components=components,
    )
    return fitted.recommender, fitted.stats, fitted.validation


def _as(index, frame, evaluation):
    return (as_queries(index, frame)[0],)


def _targets(index, frame, evaluation):
    _, targets, counted = as_queries(index, frame)
    return targets, counted


def test_blend_normalises_each_list_and_sums_by_hand():
    top_a = np.array([[3, 1, 2]])
    scores_a = np.array([[10.0, 6.0, 2.0]], dtype=np.float32)  # → 1, 0.5, 0
    top_b = np.array([[1, 4, -1]])
    scores_b = np.array([[4.0, 4.0, 0.0]], dtype=np.float32)  # flat → 0
    blended = combine([(top_a, scores_a), (top_b, scores_b)], np.array([0.6, 0.4]), 6)
    np.testing.assert_allclose(blended.toarray()[0], [0, 0.3, 0, 0.6, 0, 0], rtol=1e-6)


def test_blend_weights_are_chosen_on_validation_reproducibly():
    components = _fitted_components()
    validation = pd.DataFrame(
        {
            "playlist_id": range(4),
            "query": [["X|||a", "X|||b"], ["X|||d"], ["X|||a"], ["X|||e", "X|||b"]],
            "target": ["X|||c", "X|||e", "X|||f", "X|||b"],  # the last: a guaranteed miss
        }
    )
    settings = BlendSettings(components=("cooccurrence", "playlist_knn"), grid_step=0.25)
    evaluation = EvaluationParams(k=(1, 10), selection_metric="hit_rate_at_1")
    first, stats, _ = fit_blend(validation, evaluation, settings, components)
    second, again, _ = fit_blend(validation, evaluation, settings, components)
    assert stats["weights"] == again["weights"] and stats["weight_trials"] == 5
    assert stats["fold_weights"] == again["fold_weights"]
    assert sum(stats["weights"].values()) == pytest.approx(1.0)
    np.testing.assert_array_equal(first.weights, second.weights)
    # The chosen weights score, in the real evaluation, what the search said they would.
    metrics, _ = evaluate(first, validation, evaluation)
    assert metrics["guaranteed_misses"] == 1 and metrics["queries"] == 3
    best = max(
        search_weights(
            [
                c.rank(*_as(first.index, validation, evaluation), 100)[:2]
                for c in components.values()
            ],
            *_targets(first.index, validation, evaluation),
            0.25,
            lambda r: (r < 1).astype(float),
        )[1],
        key=lambda t: t["value"],
    )
    assert metrics["hit_rate_at_1"] == pytest.approx(best["value"])
    assert stats["tuned_validation_value"] == pytest.approx(best["value"])


def test_a_blends_validation_figure_is_cross_fitted_fold_by_fold():
    components = _fitted_components()
    tracks = "abcdef"
    validation = pd.DataFrame(
        {
            "playlist_id": range(12),
            "query": [[f"X|||{tracks[i % 6]}", f"X|||{tracks[(i + 2) % 6]}"] for i in range(12)],
            "target": [f"X|||{tracks[(i * 5 + 1) % 6]}" for i in range(12)],
        }
    )
    settings = BlendSettings(components=("cooccurrence", "playlist_knn"), grid_step=0.25, folds=3)
    evaluation = EvaluationParams(k=(1, 3), selection_metric="hit_rate_at_3")
    model, stats, answers = fit_blend(validation, evaluation, settings, components)
    folds = folds_of(validation["playlist_id"], 3)
    assert sorted(set(folds)) == [0, 1, 2]
    np.testing.assert_array_equal(folds, folds_of(validation["playlist_id"], 3))
    lists = [
        c.rank(*_as(model.index, validation, evaluation), 100)[:2] for c in components.values()
    ]
    targets, counted = _targets(model.index, validation, evaluation)
    metrics, ranks = summarise(model, answers.ranked, validation, evaluation, answers.seconds)
    for fold, chosen in enumerate(stats["fold_weights"]):
        # Each fold's weights are the best on the other folds' queries...
        weights, _, _ = search_weights(
            lists, targets, counted & (folds != fold), 0.25, lambda r: (r < 3).astype(float)
        )
        assert list(chosen.values()) == weights.tolist()
        # ...and its queries are answered exactly as the blend with those weights answers them.
        with_them = Blend(model.index, components=list(components.values()), weights=weights)
        part = validation[folds == fold]
        _, want = evaluate(with_them, part, evaluation)
        got = ranks[folds == fold].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want.reset_index(drop=True))
    assert metrics["queries"] == int(counted.sum())
    assert metrics["hit_rate_at_3"] == pytest.approx(
        float(np.mean(ranks["rank"][ranks["counted"]] < 3))
    )


def test_a_blend_leaves_out_the_components_it_weights_zero():
    components = _fitted_components()
    validation = pd.DataFrame(
        {"playlist_id": range(2), "query": [["X|||a"], ["X|||d"]], "target": ["X|||c", "X|||e"]}
    )
    # Steps of 1: every weighting is one component alone, so the other is weighted 0.
    settings = BlendSettings(components=("cooccurrence", "playlist_knn"), grid_step=1.0)
    evaluation = EvaluationParams(k=(1, 10), selection_metric="hit_rate_at_1")
    model, stats, _ = fit_blend(validation, evaluation, settings, components)
    (kept,) = (name for name, weight in stats["weights"].items() if weight > 0)
    assert stats["weighted_zero"] == [c for c in components if c != kept]
    assert [c.name for c in model.components] == [kept] and model.weights.tolist() == [1.0]
    # Exactly what the blend with the zero-weighted component in it ranks.
    whole = Blend(
        model.index,
        components=list(components.values()),
        weights=np.array([stats["weights"][c] for c in components]),
    )
    queries = _as(model.index, validation, evaluation)[0]
    for got, want in zip(model.rank(queries, 5), whole.rank(queries, 5), strict=True):
        np.testing.assert_array_equal(got, want)
