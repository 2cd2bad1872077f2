"""Playlist-kNN, iALS and the blend, against hand-computed answers and their references."""

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from music_recsys.core.catalog import Query, TrackIndex
from music_recsys.core.evaluation import evaluate
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.ranking import top_k
from music_recsys.core.training_rows import build_track_index, pair_graph
from music_recsys.duckdb_sql import relation
from music_recsys.kinds import (
    blend,
    candidates,
    cooccurrence,
    ials,
    playlist_knn,
    registry,
    transitions,
)

ORDERED = {"next_track_is_meaningful": True}
SORTED = {"next_track_is_meaningful": False}


def rows(*playlists: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            (p, pos, f"X|||{t}")
            for p, names in enumerate(playlists)
            for pos, t in enumerate(names.split())
        ],
        columns=["playlist_id", "position", "track_id"],
    )


# Catalog order (count, then id): a b c d e → indices 0..4.
TINY = rows("a b c", "a d", "b c d", "e")


def knn(**settings):
    train = relation(TINY)
    index = build_track_index(train)
    model, _ = playlist_knn.fit(train, index, ORDERED, playlist_knn.PlaylistKnnSettings(**settings))
    return model


def query(model, *tracks):
    return Query.of(model.index.lookup([f"X|||{t}" for t in tracks]), 1.0)


def test_knn_neighbours_and_votes_by_hand_cosine():
    model = knn(neighbours=2)
    assert model.index.track_ids.tolist() == [f"X|||{t}" for t in "abcde"]
    sims = model.similarities([query(model, "a", "b")]).toarray()[0]
    # overlap 2, 1, 1 with |p| 3, 2, 3 and |q| 2: cosine 2/√6, 1/2, 1/√6; the 2 nearest vote.
    np.testing.assert_allclose(sims, [2 / math.sqrt(6), 0.5, 0, 0], rtol=1e-6)
    top, scores, fell_back = model.rank([query(model, "a", "b")], 3)
    assert top.tolist() == [[2, 3, 4]]  # c (p0 votes), d (p1 votes), then e at 0
    np.testing.assert_allclose(scores[0], [2 / math.sqrt(6), 0.5, 0], rtol=1e-6)
    assert not fell_back[0]
    top, scores, _ = knn(neighbours=3).rank([query(model, "a", "b")], 2)
    np.testing.assert_allclose(scores[0], [3 / math.sqrt(6), 0.5 + 1 / math.sqrt(6)], rtol=1e-6)


def test_knn_jaccard_and_idf_by_hand():
    model = knn(neighbours=2, similarity="jaccard")
    sims = model.similarities([query(model, "a", "b")]).toarray()[0]
    np.testing.assert_allclose(sims, [2 / 3, 1 / 3, 0, 0], rtol=1e-6)
    model = knn(neighbours=1, idf=True)
    # idf: a, b, c, d in 2 of 4 playlists (log 2); e in 1 (log 4). Query [d]: p1 = {a, d} and
    # p2 = {b, c, d} share d; ‖p1‖ = √2·log2 < ‖p2‖ = √3·log2, so p1 is nearest.
    sims = model.similarities([query(model, "d")]).toarray()[0]
    np.testing.assert_allclose(sims[1], 1 / math.sqrt(2), rtol=1e-6)
    assert model.rank([query(model, "d")], 1)[0].tolist() == [[0]]  # a, from p1


def test_knn_sample_keeps_the_highest_priority_candidates():
    model = knn(neighbours=10, sample_size=1, seed=3)
    sims = model.similarities([query(model, "a", "b")]).toarray()[0]
    sharing = np.array([0, 1, 2])  # p0, p1, p2 share a track with the query
    assert np.count_nonzero(sims) == 1
    assert np.flatnonzero(sims)[0] == sharing[np.argmax(model.priority[sharing])]


def test_rank_equals_top_k_of_the_dense_scores_for_knn_and_ials():
    rng = np.random.default_rng(5)
    n, m = 40, 60
    index = TrackIndex(np.array([f"t{i}" for i in range(n)], dtype=object), np.arange(n, 0, -1))
    matrix = sp.csr_matrix((rng.random((m, n)) < 0.12).astype(np.float32))
    factors = rng.standard_normal((n, 4)).astype(np.float32)
    models = [
        playlist_knn.build(index, matrix, playlist_knn.PlaylistKnnSettings(neighbours=7), "k"),
        playlist_knn.build(
            index,
            matrix,
            playlist_knn.PlaylistKnnSettings(neighbours=3, similarity="jaccard", sample_size=9),
            "j",
        ),
        ials.build(index, factors, ials.IalsSettings(factors=4, alpha=3.0), "i"),
    ]
    queries = [
        Query.of(rng.choice(n, size=int(rng.integers(1, 6)), replace=False), 0.5) for _ in range(9)
    ]
    for model in models:
        scores, _ = model.scores(queries)
        top, _, _ = model.rank(queries, 12)
        assert top.tolist() == top_k(scores, 12).tolist(), model.name


def test_ials_fold_in_equals_implicits_recalculate_user():
    from implicit.cpu.als import AlternatingLeastSquares  # noqa: PLC0415

    rng = np.random.default_rng(0)
    matrix = sp.csr_matrix((rng.random((80, 50)) < 0.1).astype(np.float32))
    reference = AlternatingLeastSquares(
        factors=6, regularization=0.05, alpha=4.0, iterations=3, random_state=0
    )
    reference.fit(matrix, show_progress=False)
    index = TrackIndex(np.array([f"t{i}" for i in range(50)], dtype=object), np.arange(50, 0, -1))
    model = ials.build(
        index,
        reference.item_factors,
        ials.IalsSettings(factors=6, regularization=0.05, alpha=4.0),
        "i",
    )
    for user in range(10):
        seeds = matrix[user].indices
        if not len(seeds):
            continue
        expected = reference.recalculate_user(user, matrix[user])
        got = model.fold_in(Query(seeds.astype(np.int64), np.ones(len(seeds))))
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_sequential_rules_count_a_track_d_places_on_one_over_d():
    train = relation(TINY)
    index = build_track_index(train)
    settings = transitions.TransitionSettings(window=2)
    model, _ = transitions.fit(train, index, ORDERED, settings)
    # After a: b directly (1), c two places on (1/2), d directly in another playlist (1).
    top, scores, _ = model.rank([query(model, "a")], 3)
    assert [model.index.track_ids[i] for i in top[0]] == ["X|||b", "X|||d", "X|||c"]
    np.testing.assert_allclose(scores[0], [1.0, 1.0, 0.5])
    # window 1 is first-order transitions: c no longer follows a.
    first_order, _ = transitions.fit(train, index, ORDERED, transitions.TransitionSettings())
    assert first_order.graph[0].toarray().tolist() == [[0, 1, 0, 1, 0]]


def test_ials_fits_with_implicit_from_the_training_rows():
    train = relation(rows(*["a b c", "b c d", "a c e"] * 5))
    index = build_track_index(train)
    model, stats = ials.fit(train, index, ORDERED, ials.IalsSettings(factors=3, iterations=2))
    assert model.item_vectors.shape == (5, 3) and stats["fit_seconds"] >= 0
    top, _, fell_back = model.rank([query(model, "a")], 2)
    assert query(model, "a").indices[0] not in top[0] and not fell_back[0]


def test_blend_normalises_each_list_and_sums_by_hand():
    top_a = np.array([[3, 1, 2]])
    scores_a = np.array([[10.0, 6.0, 2.0]], dtype=np.float32)  # → 1, 0.5, 0
    top_b = np.array([[1, 4, -1]])
    scores_b = np.array([[4.0, 4.0, 0.0]], dtype=np.float32)  # flat → 0
    blended = blend.combine([(top_a, scores_a), (top_b, scores_b)], np.array([0.6, 0.4]), 6)
    np.testing.assert_allclose(blended.toarray()[0], [0, 0.3, 0, 0.6, 0, 0], rtol=1e-6)


def _fitted_components():
    train = relation(rows(*["a b c", "b c d", "a c e", "d e f", "a f"] * 4))
    index = build_track_index(train)
    co, _ = cooccurrence.fit(train, index, ORDERED, cooccurrence.CooccurrenceSettings(window=2))
    kn, _ = playlist_knn.fit(train, index, ORDERED, playlist_knn.PlaylistKnnSettings(neighbours=3))
    return {"cooccurrence": co, "playlist_knn": kn}


def test_blend_weights_are_chosen_on_validation_reproducibly():
    components = _fitted_components()
    validation = pd.DataFrame(
        {
            "playlist_id": range(4),
            "query": [["X|||a", "X|||b"], ["X|||d"], ["X|||a"], ["X|||e", "X|||b"]],
            "target": ["X|||c", "X|||e", "X|||f", "X|||b"],  # the last: a guaranteed miss
        }
    )
    settings = blend.BlendSettings(components=("cooccurrence", "playlist_knn"), grid_step=0.25)
    evaluation = EvaluationParams(k=(1, 10), selection_metric="hit_rate_at_1")
    first, stats, _ = blend.fit_blend(validation, evaluation, ORDERED, settings, **components)
    second, again, _ = blend.fit_blend(validation, evaluation, ORDERED, settings, **components)
    assert stats["weights"] == again["weights"] and stats["weight_trials"] == 5
    assert stats["fold_weights"] == again["fold_weights"]
    assert sum(stats["weights"].values()) == pytest.approx(1.0)
    np.testing.assert_array_equal(first.weights, second.weights)
    # The chosen weights score, in the real evaluation, what the search said they would.
    metrics, _ = evaluate(first, validation, evaluation)
    assert metrics["guaranteed_misses"] == 1 and metrics["queries"] == 3
    best = max(
        blend.search_weights(
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
    settings = blend.BlendSettings(
        components=("cooccurrence", "playlist_knn"), grid_step=0.25, folds=3
    )
    evaluation = EvaluationParams(k=(1, 3), selection_metric="hit_rate_at_3")
    model, stats, cross_fitted = blend.fit_blend(
        validation, evaluation, ORDERED, settings, **components
    )
    folds = blend.folds_of(validation["playlist_id"], 3)
    assert sorted(set(folds)) == [0, 1, 2]
    np.testing.assert_array_equal(folds, blend.folds_of(validation["playlist_id"], 3))
    lists = [
        c.rank(*_as(model.index, validation, evaluation), 100)[:2] for c in components.values()
    ]
    targets, counted = _targets(model.index, validation, evaluation)
    metrics, ranks = blend.evaluate_cross_fitted(model, cross_fitted, validation, evaluation)
    for fold, chosen in enumerate(stats["fold_weights"]):
        # Each fold's weights are the best on the other folds' queries...
        weights, _, _ = blend.search_weights(
            lists, targets, counted & (folds != fold), 0.25, lambda r: (r < 3).astype(float)
        )
        assert list(chosen.values()) == weights.tolist()
        # ...and its queries are answered exactly as the blend with those weights answers them.
        with_them = blend.Blend(model.index, components=list(components.values()), weights=weights)
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
    settings = blend.BlendSettings(components=("cooccurrence", "playlist_knn"), grid_step=1.0)
    evaluation = EvaluationParams(k=(1, 10), selection_metric="hit_rate_at_1")
    model, stats, _ = blend.fit_blend(validation, evaluation, ORDERED, settings, **components)
    (kept,) = (name for name, weight in stats["weights"].items() if weight > 0)
    assert stats["weighted_zero"] == [c for c in components if c != kept]
    assert [c.name for c in model.components] == [kept] and model.weights.tolist() == [1.0]
    # Exactly what the blend with the zero-weighted component in it ranks.
    whole = blend.Blend(
        model.index,
        components=list(components.values()),
        weights=np.array([stats["weights"][c] for c in components]),
    )
    queries = _as(model.index, validation, evaluation)[0]
    for got, want in zip(model.rank(queries, 5), whole.rank(queries, 5), strict=True):
        np.testing.assert_array_equal(got, want)


def _as(index, frame, evaluation):
    from music_recsys.core.queries import as_queries  # noqa: PLC0415

    return (as_queries(index, frame, evaluation)[0],)


def _targets(index, frame, evaluation):
    from music_recsys.core.queries import as_queries  # noqa: PLC0415

    _, targets, counted = as_queries(index, frame, evaluation)
    return targets, counted


def test_guaranteed_misses_are_counted_and_left_out_and_no_score_is_a_fallback():
    components = _fitted_components()
    frame = pd.DataFrame(
        {
            "playlist_id": [0, 1, 2],
            "query": [["X|||a", "X|||c"], ["X|||zzz"], ["X|||b", "X|||b"]],
            "target": ["X|||a", "X|||b", "X|||c"],
        }
    )
    metrics, per_query = evaluate(components["cooccurrence"], frame, EvaluationParams())
    assert metrics["guaranteed_misses"] == 1 and metrics["queries"] == 2
    assert per_query["counted"].tolist() == [False, True, True]
    assert metrics["fallback_rate"] == pytest.approx(0.5)  # "zzz" is unknown
    assert {"hit_rate_at_10_se", "ndcg_at_20_se"} <= set(metrics)


def test_co_occurrence_reads_a_seeded_random_order_when_rows_are_sorted_by_title():
    train = relation(rows(*["a b c d e f", "b c d e f a", "c a e b d f"] * 3))
    index = build_track_index(train)
    settings = cooccurrence.CooccurrenceSettings(window=1)
    ordered, stats = cooccurrence.fit(train, index, ORDERED, settings)
    shuffled, shuffled_stats = cooccurrence.fit(train, index, SORTED, settings)
    assert "order" not in stats and "random order" in shuffled_stats["order"]
    assert (ordered.graph != shuffled.graph).nnz > 0
    assert ordered.graph.sum() == shuffled.graph.sum()  # as many pairs, other partners
    again = pair_graph(train, index, 1, directed=False, shuffled=True)
    assert (again != shuffled.graph).nnz == 0  # the same order every run


def test_every_kind_is_registered_and_candidates_are_read_from_conf_blocks():
    kinds = registry()
    assert {
        "most_popular",
        "cooccurrence",
        "transitions",
        "word2vec",
        "playlist_knn",
        "ials",
        "blend",
    } <= set(kinds)
    assert [k.name for k in kinds.values() if k.needs_play_order] == ["transitions"]
    found = candidates(
        {
            "knn_500": {"playlist_knn": {"neighbours": 500}},
            "evaluation": {"k": [10]},
            "blend": {"blend": {"components": ["knn_500"]}},
        }
    )
    assert sorted(found) == ["blend", "knn_500"]
    assert found["knn_500"].validated().neighbours == 500


def test_the_kinds_and_recommends_fast_path_import_neither_pandas_nor_tensorflow():
    """`music-recsys recommend` answers from cached arrays in about a second; pandas alone
    would add half of that (the kinds import numpy, scipy and pydantic only at the top)."""
    code = (
        "import sys, music_recsys.serving.recommend, music_recsys.kinds as k; k.registry(); "
        "print([m for m in ('pandas', 'tensorflow', 'kedro') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
