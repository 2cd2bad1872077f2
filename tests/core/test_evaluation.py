"""Evaluation: every metric of a recommender over the whole catalog, batched, logged."""

import numpy as np
import pandas as pd
import pytest

from music_recsys.core.evaluation import evaluate, rank_targets
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from music_recsys.kinds.cooccurrence import CooccurrenceSettings
from tests.shared import fit, playlists

TRAIN = playlists("a b c", "a b d", "b c", "a b", "e a b")


@pytest.fixture
def track_index() -> pd.DataFrame:
    return build_track_index(relation(TRAIN))


def test_evaluate_reports_every_metric(track_index):
    queries = pd.DataFrame(
        {
            "playlist_id": [0, 1, 2],
            "query": [["X|||a"], ["X|||zzz"], ["X|||e"]],
            "target": ["X|||b", "X|||c", "X|||new"],
        }
    )
    result, _ = evaluate(
        fit("most_popular", TRAIN, index=track_index).recommender,
        queries,
        EvaluationParams(k=(1, 10), selection_metric="hit_rate_at_10"),
    )
    assert result["hit_rate_at_1"] == pytest.approx(1 / 3)  # b is the most popular; a is excluded
    assert result["hit_rate_at_10"] == pytest.approx(2 / 3)  # "new" is not in the catalog
    assert result["unseen_target_rate"] == pytest.approx(1 / 3)
    assert result["fallback_rate"] == pytest.approx(1 / 3)  # "zzz" is unknown
    assert result["queries"] == 3
    assert {
        "coverage_at_10",
        "mrr_at_1",
        "ndcg_at_10",
        "mean_popularity_at_10",
        "hit_rate_at_10_unseen",
    } <= set(result)


def test_queries_are_ranked_in_batches_within_the_memory_budget(track_index, caplog):
    from music_recsys.core.catalog import Query  # noqa: PLC0415
    from music_recsys.core.evaluation import batches  # noqa: PLC0415

    queries = [Query.of(np.array([i % 3])) for i in range(10)]
    parts = list(batches(queries, lambda q: 40, budget_bytes=100))
    assert [p.stop - p.start for p in parts] == [2, 2, 2, 2, 2]
    assert [p.stop - p.start for p in batches(queries, lambda q: 500, 100)] == [1] * 10
    model = fit(
        "cooccurrence", TRAIN, CooccurrenceSettings(window=2), index=track_index
    ).recommender
    frame = pd.DataFrame(
        {"playlist_id": range(6), "query": [["X|||a"], ["X|||b", "X|||c"]] * 3, "target": "X|||d"}
    )
    small = rank_targets(
        model, frame, EvaluationParams(batch_bytes=2**20, k=(3,), selection_metric="hit_rate_at_3")
    )
    whole = rank_targets(model, frame, EvaluationParams(k=(3,), selection_metric="hit_rate_at_3"))
    np.testing.assert_array_equal(small.top, whole.top)


def test_progress_is_logged_with_rate_and_time_left(caplog):
    import logging  # noqa: PLC0415

    from music_recsys.progress import Progress  # noqa: PLC0415

    progress = Progress(logging.getLogger("test"), "cooccurrence", 100, "queries", interval=0)
    with caplog.at_level(logging.INFO, logger="test"):
        progress.advance(40)
        progress.advance(60)  # done: no line
    assert len(caplog.records) == 1
    assert "cooccurrence: 40 of 100 queries" in caplog.text and "s left" in caplog.text


def test_guaranteed_misses_are_counted_and_left_out_and_no_score_is_a_fallback():
    train = playlists(*["a b c", "b c d", "a c e", "d e f", "a f"] * 4)
    cooccurrence = fit("cooccurrence", train, CooccurrenceSettings(window=2)).recommender
    frame = pd.DataFrame(
        {
            "playlist_id": [0, 1, 2],
            "query": [["X|||a", "X|||c"], ["X|||zzz"], ["X|||b", "X|||b"]],
            "target": ["X|||a", "X|||b", "X|||c"],
        }
    )
    metrics, per_query = evaluate(cooccurrence, frame, EvaluationParams())
    assert metrics["guaranteed_misses"] == 1 and metrics["queries"] == 2
    assert per_query["counted"].tolist() == [False, True, True]
    assert metrics["fallback_rate"] == pytest.approx(0.5)  # "zzz" is unknown
    assert {"hit_rate_at_10_se", "ndcg_at_20_se"} <= set(metrics)
